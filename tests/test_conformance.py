"""Every row of the public corpus gets exactly the reference grouper's status, mdc, adrg and drg."""

from __future__ import annotations

import numpy as np

from drgdip.grouper import group_cases
from tests.conftest import PUBLIC_CORPUS

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
    examples = rows[["case_id", "gender", "age", "age_days", "birth_weight", "dx", "proc", "kind",
                     "exp_status", "exp_drg", "got_status", "got_drg"]].head(12)
    return (f"{int(bad.sum())} of {len(expected)} rows differ\n"
            f"mismatches by case class and expected status:\n{by_class.to_string()}\n"
            f"examples:\n{examples.to_string()}")


def test_every_public_row_matches_the_reference(national_scheme, public_corpus):
    got = group_cases(PUBLIC_CORPUS, national_scheme)
    assert len(got) == len(public_corpus) == 60_000
    assert got["case_id"].tolist() == public_corpus["case_id"].tolist()
    report = _mismatch_report(public_corpus, got)
    assert not report, report


def test_dataframe_input_matches_file_input(national_scheme, public_corpus):
    cases = public_corpus.drop(columns=[c for c in public_corpus if c.startswith("exp_")])
    got = group_cases(cases, national_scheme)
    report = _mismatch_report(public_corpus, got)
    assert not report, report


def test_parquet_input_with_typed_columns(national_scheme, public_corpus, tmp_path):
    import pandas as pd

    cases = public_corpus.drop(columns=[c for c in public_corpus if c.startswith("exp_")])
    # Integer-typed columns where every value is an integer, as an agency's Parquet would have.
    typed = cases.copy()
    numeric = pd.to_numeric(typed["birth_weight"].replace("", None), errors="coerce")
    typed["birth_weight"] = numeric.astype("Int64")
    path = tmp_path / "cases.parquet"
    typed.to_parquet(path, index=False)
    got = group_cases(path, national_scheme)
    report = _mismatch_report(public_corpus, got)
    assert not report, report
