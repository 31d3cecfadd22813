"""Every row of every version's public corpus gets exactly the reference grouper's status, mdc, adrg
and drg: the national CHS-DRG 1.1 and 1.0 and every city version found under ../shared."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drgdip.grouper import group_cases
from tests.conftest import PUBLIC_CORPUS, VERSION_DIRS, VERSION_IDS

FIELDS = ("status", "mdc", "adrg", "drg")


def _mismatch_report(expected, got) -> str:
    bad = np.zeros(len(expected), dtype=bool)
    for field in FIELDS:
        bad |= got[field].astype(str).to_numpy() != expected[f"exp_{field}"].to_numpy()
    if not bad.any():
        return ""
    rows = expected[bad].assign(**{f"got_{f}": got[f].astype(str).to_numpy()[bad] for f in FIELDS})
    kind_class = rows["kind"].str.split(":").str[0]
    by_class = rows.groupby([kind_class, "exp_status"]).size().sort_values(ascending=False)
    examples = rows[["case_id", "gender", "age", "age_days", "birth_weight", "los", "dx", "proc", "kind",
                     "exp_status", "exp_drg", "got_status", "got_drg"]].head(12)
    return (f"{int(bad.sum())} of {len(expected)} rows differ\n"
            f"mismatches by case class and expected status:\n{by_class.to_string()}\n"
            f"examples:\n{examples.to_string()}")


def _corpus(directory) -> pd.DataFrame:
    return pd.read_csv(directory / "cases_public.csv", dtype=str, keep_default_na=False)


def test_every_version_folder_is_found():
    assert PUBLIC_CORPUS.parent in VERSION_DIRS
    assert {"chs-drg-1.1", "chs-drg-1.0"} <= set(VERSION_IDS)
    assert any(name.startswith("regional/") for name in VERSION_IDS)


@pytest.mark.parametrize("directory", VERSION_DIRS, ids=VERSION_IDS)
def test_every_public_row_matches_the_reference(directory, version_schemes):
    expected = _corpus(directory)
    got = group_cases(directory / "cases_public.csv", version_schemes(directory))
    assert len(got) == len(expected) > 0
    assert got["case_id"].tolist() == expected["case_id"].tolist()
    report = _mismatch_report(expected, got)
    assert not report, report


def test_national_corpus_is_complete(public_corpus):
    assert len(public_corpus) == 60_000


def test_dataframe_input_matches_file_input(national_scheme, public_corpus):
    cases = public_corpus.drop(columns=[c for c in public_corpus if c.startswith("exp_")])
    got = group_cases(cases, national_scheme)
    report = _mismatch_report(public_corpus, got)
    assert not report, report


@pytest.mark.parametrize("directory", VERSION_DIRS, ids=VERSION_IDS)
def test_parquet_input_with_typed_columns(directory, version_schemes, tmp_path):
    expected = _corpus(directory)
    cases = expected.drop(columns=[c for c in expected if c.startswith("exp_")])
    # Integer-typed columns where every value is an integer, as an agency's Parquet would have.
    typed = cases.copy()
    for column in ("birth_weight", "los"):
        numeric = pd.to_numeric(typed[column].replace("", None), errors="coerce")
        if numeric.notna().sum() == (typed[column] != "").sum():
            typed[column] = numeric.astype("Int64")
    assert str(typed["birth_weight"].dtype) == "Int64"
    path = tmp_path / "cases.parquet"
    typed.to_parquet(path, index=False)
    got = group_cases(path, version_schemes(directory))
    report = _mismatch_report(expected, got)
    assert not report, report
