"""The HTML report of a settlement (``pytest benchmarks/bench_report.py --benchmark-only``): the
50,000-stay demo province settled and written once, then the report built from its folder, and a
1,000-hospital version of its tables.

For a province of millions of stays, ``DRGDIP_REPORT_FOLDER=DIR`` times the report of an existing
``drgdip settle`` output folder instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
POLICY = REPO / "data" / "policies" / "panzhihua_drg_day_care_2025.yaml"


@pytest.fixture(scope="module")
def settled_folder(tmp_path_factory):
    given = os.environ.get("DRGDIP_REPORT_FOLDER")
    if given:
        return Path(given)
    from drgdip.budget import load_policy, settle_province, write_settlement
    from drgdip.synth import generate_province

    province = generate_province(REPO / "data" / "demo" / "scheme", cases=50_000, hospitals=20, regions=4, seed=20231)
    folder = tmp_path_factory.mktemp("settled")
    write_settlement(settle_province(province, load_policy(POLICY)), folder, excel=False)
    return folder


@pytest.fixture(scope="module")
def thousand_hospitals(settled_folder, tmp_path_factory):
    """The demo tables with every hospital copied 50 times (1,000 hospitals)."""
    folder = tmp_path_factory.mktemp("thousand")
    for path in settled_folder.glob("*.parquet"):
        frame = pd.read_parquet(path)
        if "hospital_id" in frame.columns and path.stem not in ("clearing", "cases"):
            frame = pd.concat([frame.assign(hospital_id=frame["hospital_id"].astype(str) + f"-{copy:02d}")
                               for copy in range(50)], ignore_index=True)
        frame.to_parquet(folder / path.name)
    return folder


@pytest.mark.parametrize("which", ["demo", "thousand_hospitals"])
def test_build_report(benchmark, request, which, tmp_path):
    from drgdip.report import write_report

    folder = request.getfixturevalue("settled_folder" if which == "demo" else "thousand_hospitals")
    written = benchmark.pedantic(write_report, args=(folder, tmp_path / "report.html"), rounds=3, iterations=1)
    benchmark.extra_info["bytes"] = written.size
    assert 0 < written.size < 5_000_000
