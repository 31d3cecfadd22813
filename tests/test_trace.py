"""The trace agrees with batch grouping and names the codes behind each decision."""

from __future__ import annotations

import numpy as np

from drgdip.grouper import explain_case, group_cases

INPUT_COLUMNS = ["case_id", "gender", "age", "age_days", "birth_weight", "dx", "proc"]


def test_trace_result_equals_batch_result_on_a_corpus_sample(national_scheme, public_corpus):
    sample = public_corpus.sample(800, random_state=11)
    for _, row in sample.iterrows():
        trace = explain_case(row[INPUT_COLUMNS], national_scheme)
        assert (trace.status, trace.mdc, trace.adrg, trace.drg) == (
            row.exp_status, row.exp_mdc, row.exp_adrg, row.exp_drg), row.case_id
        if trace.status == "ok":
            taken = [s for s in trace.steps if s.kind == "drg" and s.passed]
            assert [s.code for s in taken] == [trace.drg]
            assert [s.code for s in trace.steps if s.kind == "adrg" and s.passed] == [trace.adrg]


def test_trace_shows_excluded_complications(national_scheme, public_corpus):
    # A case whose DRG changes because the principal's exclusion table removes its complications.
    tables = national_scheme.tables
    excl = dict(zip(tables["cc_exclusion"]["principal_dx"], tables["cc_exclusion"]["exclusion_table"]))
    cc_table = dict(zip(tables["cc"]["code"], tables["cc"]["exclusion_table"]))
    for _, row in public_corpus[public_corpus["exp_drg"].str.endswith("5")].iterrows():
        codes = row.dx.split("|")
        if any(cc_table.get(c) is not None and cc_table.get(c) == excl.get(codes[0]) for c in codes[1:]):
            break
    trace = explain_case(row[INPUT_COLUMNS], national_scheme)
    excluded = [s for s in trace.steps if s.kind == "complication" and s.detail["excluded"]]
    assert excluded and all(not s.passed for s in excluded)
    assert "excluded by the principal diagnosis" in trace.to_text()


def test_trace_of_invalid_case_stops_at_validation(national_scheme):
    trace = explain_case({"gender": "", "age": "40", "dx": "K35.800", "proc": ""}, national_scheme)
    assert trace.status == "invalid_input:gender_missing"
    assert [s.kind for s in trace.steps] == ["validation"]
    assert "gender is empty" in trace.to_text()


def test_trace_records_fall_through_from_mdca(national_scheme, public_corpus):
    row = public_corpus[public_corpus["case_id"] == "P000004"].iloc[0]
    trace = explain_case(row[INPUT_COLUMNS], national_scheme)
    kinds = [(s.kind, s.code) for s in trace.steps if s.kind in ("mdc", "fallthrough") and s.passed
             or s.kind == "fallthrough"]
    assert ("mdc", "MDCA") in kinds and ("fallthrough", "MDCA") in kinds
    assert trace.drg == "WJ19"
    np.testing.assert_array_equal(
        group_cases(row[INPUT_COLUMNS].to_frame().T, national_scheme)["drg"].astype(str), ["WJ19"])
