"""Invariants of grouping: one output row per input row, order- and thread-independent results."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgdip.grouper import group_cases

INPUT_COLUMNS = ["case_id", "gender", "age", "age_days", "birth_weight", "dx", "proc"]
RESULT = ["case_id", "status", "mdc", "adrg", "drg"]


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[RESULT].astype(str).reset_index(drop=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(0, 400))
def test_output_rows_equal_input_rows_and_shuffling_permutes_results(national_scheme, public_corpus,
                                                                      seed, size):
    rng = np.random.default_rng(seed)
    sample = public_corpus.iloc[rng.integers(0, len(public_corpus), size)][INPUT_COLUMNS]
    sample = sample.assign(case_id=[f"k{i}" for i in range(size)]).reset_index(drop=True)
    grouped = _as_text(group_cases(sample, national_scheme))
    assert len(grouped) == size
    assert grouped["case_id"].tolist() == sample["case_id"].tolist()
    order = rng.permutation(size)
    shuffled = _as_text(group_cases(sample.iloc[order].reset_index(drop=True), national_scheme))
    pd.testing.assert_frame_equal(shuffled, grouped.iloc[order].reset_index(drop=True))


@settings(max_examples=20, deadline=None)
@given(dx=st.lists(st.sampled_from(["K35.800", "I21.000", "E11.900", "J18.900", "N18.500",
                                    "S06.000", "S72.000", "", "k35.800", "O80.000", "P07.000"]),
                   min_size=0, max_size=6),
       proc=st.lists(st.sampled_from(["47.0100", "36.0600", "81.5400", "39.9500", "", "00.000"]),
                     max_size=4),
       gender=st.sampled_from(["1", "2", "男", "M", ""]), age=st.sampled_from(["0", "1", "45", "", "x"]),
       age_days=st.sampled_from(["", "3", "40"]), weight=st.sampled_from(["", "0", "1400", "3000"]))
def test_arbitrary_cases_get_a_status_and_never_abort(national_scheme, dx, proc, gender, age,
                                                      age_days, weight):
    case = {"case_id": "h", "gender": gender, "age": age, "age_days": age_days,
            "birth_weight": weight, "dx": "|".join(dx), "proc": "|".join(proc)}
    result = group_cases(pd.DataFrame([case]), national_scheme).iloc[0]
    if result["status"] == "ok":
        assert result["drg"][:3] == result["adrg"] and result["mdc"] == "MDC" + result["drg"][0]
    else:
        assert (result["mdc"], result["adrg"], result["drg"]) == ("0000", "00", "0000")


def test_one_thread_and_all_threads_agree(national_scheme, public_corpus):
    cases = public_corpus[INPUT_COLUMNS]
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = _as_text(group_cases(cases, national_scheme))
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        parallel = _as_text(group_cases(cases, national_scheme))
    finally:
        numba.set_num_threads(before)
    pd.testing.assert_frame_equal(single, parallel)


def test_batch_size_does_not_change_results(national_scheme, public_corpus):
    cases = public_corpus[INPUT_COLUMNS]
    whole = _as_text(group_cases(cases, national_scheme))
    batched = _as_text(group_cases(cases, national_scheme, batch_rows=7_001))
    pd.testing.assert_frame_equal(whole, batched)
