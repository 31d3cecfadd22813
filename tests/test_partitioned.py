"""Grouping through Dask gives the same rows as grouping in one piece."""

from __future__ import annotations

import dask.dataframe as dd
import pandas as pd

from drgdip.grouper import group_cases
from drgdip.grouper.partitioned import group_dask

INPUT_COLUMNS = ["case_id", "gender", "age", "age_days", "birth_weight", "dx", "proc"]


def test_dask_partitions_match_single_pass(national_scheme, public_corpus):
    cases = public_corpus[INPUT_COLUMNS].head(20_000)
    lazy = group_dask(dd.from_pandas(cases, npartitions=7), national_scheme)
    got = lazy.compute(scheduler="threads").reset_index(drop=True)
    whole = group_cases(cases, national_scheme)
    assert len(got) == len(cases)
    pd.testing.assert_frame_equal(got.astype(str), whole.astype(str))
    assert got["drg"].astype(str).tolist() == public_corpus["exp_drg"].head(20_000).tolist()
