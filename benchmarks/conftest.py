"""Benchmark inputs: cases resampled from the public corpora (national, and of every scheme version)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
NATIONAL_SCHEME_DIR = REPO.parent / "shared" / "chs-drg-1.1"
SHARED_DIR = REPO.parent / "shared"
# Every scheme version folder beside the repository (national ones, then regional/*).
VERSION_DIRS = (sorted(p.parent for p in SHARED_DIR.glob("*/mdc.csv"))
                + sorted(p.parent for p in SHARED_DIR.glob("regional/*/mdc.csv")))
VERSION_IDS = [d.relative_to(SHARED_DIR).as_posix() for d in VERSION_DIRS]
CASE_COLUMNS = ["case_id", "gender", "age", "age_days", "birth_weight", "dept", "los",
                "leaving_type", "dx", "proc"]


def resample_corpus(n: int, seed: int = 0, scheme_dir: Path = NATIONAL_SCHEME_DIR) -> pd.DataFrame:
    """``n`` cases drawn with replacement from a version's cases_public.csv, with fresh case ids."""
    corpus = pd.read_csv(scheme_dir / "cases_public.csv", dtype=str, keep_default_na=False)
    rows = np.random.default_rng(seed).integers(0, len(corpus), n)
    cases = corpus.iloc[rows][CASE_COLUMNS].reset_index(drop=True)
    cases["case_id"] = "C" + pd.Series(np.arange(n)).astype(str).str.zfill(9)
    return cases


@pytest.fixture(scope="session")
def national_scheme():
    from drgdip.grouper import load_scheme

    return load_scheme(NATIONAL_SCHEME_DIR)


@pytest.fixture(scope="session")
def million_case_files(tmp_path_factory):
    """The same 1M cases as Parquet and as CSV."""
    directory = tmp_path_factory.mktemp("cases")
    cases = resample_corpus(1_000_000)
    parquet, csv = directory / "cases.parquet", directory / "cases.csv"
    cases.to_parquet(parquet, index=False)
    cases.to_csv(csv, index=False)
    return {"parquet": parquet, "csv": csv, "n": len(cases)}


@pytest.fixture(scope="session")
def version_case_files(tmp_path_factory):
    """``version_case_files(directory)``: 1M cases resampled from that version's corpus, as Parquet."""
    root = tmp_path_factory.mktemp("version_cases")
    written = {}

    def parquet(directory: Path) -> Path:
        if directory not in written:
            path = root / f"{directory.name}.parquet"
            resample_corpus(1_000_000, scheme_dir=directory).to_parquet(path, index=False)
            written[directory] = path
        return written[directory]

    return parquet
