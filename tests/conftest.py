"""Shared fixtures: the national CHS-DRG 1.1 tables (beside the repository) and the demo scheme."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the property tests on a fixed sequence of examples, so a red CI is reproducible;
# local runs keep drawing new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
NATIONAL_SCHEME_DIR = REPO.parent / "shared" / "chs-drg-1.1"
PUBLIC_CORPUS = NATIONAL_SCHEME_DIR / "cases_public.csv"
DEMO_SCHEME_DIR = REPO / "data" / "demo" / "scheme"
SHARED_DIR = REPO.parent / "shared"
# Every scheme version folder beside the repository: the national ones and regional/*, each with
# its tables and a public corpus labelled by the reference grouper.
VERSION_DIRS = (sorted(p.parent for p in SHARED_DIR.glob("*/mdc.csv"))
                + sorted(p.parent for p in SHARED_DIR.glob("regional/*/mdc.csv")))
VERSION_IDS = [d.relative_to(SHARED_DIR).as_posix() for d in VERSION_DIRS]


@pytest.fixture(scope="session")
def national_scheme():
    from drgdip.grouper import load_scheme

    if not NATIONAL_SCHEME_DIR.is_dir():
        raise FileNotFoundError(
            f"the national CHS-DRG 1.1 tables are expected in {NATIONAL_SCHEME_DIR} "
            "(the shared/ folder beside the repository)")
    return load_scheme(NATIONAL_SCHEME_DIR)


@pytest.fixture(scope="session")
def version_schemes():
    """Loads each version folder once per session: ``version_schemes(directory)``."""
    from drgdip.grouper import load_scheme

    loaded = {}

    def load(directory: Path):
        if directory not in loaded:
            loaded[directory] = load_scheme(directory)
        return loaded[directory]

    return load


@pytest.fixture(scope="session")
def public_corpus():
    import pandas as pd

    return pd.read_csv(PUBLIC_CORPUS, dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def demo_province_dir(tmp_path_factory):
    """The province ``drgdip demo --output`` writes (its size and seed), as Parquet."""
    from drgdip.core.province import write_province
    from drgdip.demo import DEMO_CASES, DEMO_HOSPITALS, DEMO_REGIONS, DEMO_SEED
    from drgdip.synth.province import generate_province

    province = generate_province(DEMO_SCHEME_DIR, cases=DEMO_CASES, hospitals=DEMO_HOSPITALS, regions=DEMO_REGIONS,
                                 seed=DEMO_SEED)
    directory = tmp_path_factory.mktemp("demo_province")
    write_province(province, directory)
    return directory


REPORT_SCENARIOS = """\
scenarios:
  - name: level3_up
    set: {points.hospital_coef.by_level.3: 1.10}
sweeps:
  - key: points.hospital_coef.by_level.2
    values: [0.90, 1.00, 1.10]
monte_carlo:
  draws: 6
  seed: 7
  vary:
    budget.growth_rate: {dist: normal, mean: 0.04, sd: 0.01}
    volume_growth: {dist: uniform, low: -0.02, high: 0.05, per: hospital}
"""


@pytest.fixture(scope="session")
def report_outputs(demo_province_dir, tmp_path_factory):
    """The demo province settled (Parquet) and simulated (CSV: a scenario, a sweep, a small Monte Carlo),
    each with ``--report``: (settle folder, simulate folder)."""
    from drgdip.cli import main

    root = tmp_path_factory.mktemp("report_outputs")
    settled, simulated = root / "settled", root / "simulated"
    policy = str(REPO / "data" / "policies" / "panzhihua_drg_day_care_2025.yaml")
    assert main(["settle", "--policy", policy, "--input", str(demo_province_dir), "--output", str(settled),
                 "--no-excel", "--report"]) == 0
    scenarios = root / "scenarios.yaml"
    scenarios.write_text(REPORT_SCENARIOS, encoding="utf-8")
    assert main(["simulate", "--policy", policy, "--scenarios", str(scenarios), "--input", str(demo_province_dir),
                 "--output", str(simulated), "--no-progress", "--report"]) == 0
    return settled, simulated


@pytest.fixture(scope="module")
def scheduler():
    """The address of a local Dask cluster of two thread workers (reached as a remote cluster is)."""
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address
