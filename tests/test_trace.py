"""The trace agrees with batch grouping and names the codes behind each decision."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from drgdip.grouper import explain_case, group_cases
from tests.conftest import NATIONAL_SCHEME_DIR, SHARED_DIR, VERSION_DIRS, VERSION_IDS

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


# ---------------------------------------------------------------- the other scheme versions

VERSION_INPUT_COLUMNS = INPUT_COLUMNS + ["los"]
# Corpus kinds that probe the rule atoms and columns the versions add to 1.1 (RULES-ADDENDUM.md).
ADDENDUM_KINDS = ("nearmiss:any_dx_secondary", "nearmiss:any_proc_position", "nearmiss:secondary_dx1_position",
                  "nearmiss:age_split_boundary", "nearmiss:los_boundary", "nearmiss:qy_valid_proc",
                  "nearmiss:main_proc_validity", "nearmiss:gender_text_mdc", "messy:age_text_int",
                  "messy:gender_text")


def _addendum_sample(corpus: pd.DataFrame, per_kind: int = 3, random: int = 8) -> pd.DataFrame:
    """Rows of every addendum kind, ambiguous groups and ADRG-only results, plus a few random rows."""
    special = [corpus[corpus["kind"] == kind].head(per_kind) for kind in ADDENDUM_KINDS]
    special.append(corpus[corpus["exp_status"] == "ambiguous"].head(per_kind))
    special.append(corpus[(corpus["exp_status"] == "ok") & (corpus["exp_drg"].str.len() == 3)].head(per_kind))
    special.append(corpus[corpus["kind"].str.startswith("targeted")].sample(random, random_state=5))
    return pd.concat(special).drop_duplicates("case_id")


@pytest.mark.parametrize("directory", [d for d in VERSION_DIRS if d != NATIONAL_SCHEME_DIR],
                         ids=[i for d, i in zip(VERSION_DIRS, VERSION_IDS) if d != NATIONAL_SCHEME_DIR])
def test_trace_result_equals_batch_result_on_every_version(directory, version_schemes):
    scheme = version_schemes(directory)
    corpus = pd.read_csv(directory / "cases_public.csv", dtype=str, keep_default_na=False)
    sample = _addendum_sample(corpus)
    for row in sample.itertuples(index=False):
        trace = explain_case({c: getattr(row, c) for c in VERSION_INPUT_COLUMNS}, scheme)
        assert (trace.status, trace.mdc, trace.adrg, trace.drg) == (
            row.exp_status, row.exp_mdc, row.exp_adrg, row.exp_drg), row.case_id
        if trace.status == "ok":
            assert [s.code for s in trace.steps if s.kind == "drg" and s.passed] == [trace.drg]
            assert [s.code for s in trace.steps if s.kind == "adrg" and s.passed] == [trace.adrg]
        if trace.status == "ambiguous":
            assert trace.steps[-1].kind == "ambiguous" and trace.steps[-1].code == trace.drg


def _first_case(directory, condition) -> dict:
    corpus = pd.read_csv(directory / "cases_public.csv", dtype=str, keep_default_na=False)
    row = corpus[condition(corpus)].iloc[0]
    return row[VERSION_INPUT_COLUMNS].to_dict()


def test_trace_names_the_length_of_stay_split_and_the_adrg_only_result(version_schemes):
    directory = SHARED_DIR / "regional" / "beijing-2022"
    scheme = version_schemes(directory)
    case = _first_case(directory, lambda c: (c["exp_adrg"] == "RC1") & (c["exp_drg"] == "RC1"))
    trace = explain_case(case, scheme)
    assert trace.drg == "RC1"
    text = trace.to_text()
    assert "split rule los_range (los >= 13) does not hold" in text
    assert "no DRG of RC1 applies: the result is the ADRG code RC1" in text
    taken = explain_case({**case, "los": "13"}, scheme)
    assert taken.drg == "RC12" and "split rule los_range (los >= 13) holds" in taken.to_text()


def test_trace_names_variant_rules_and_secondary_diagnosis_lists(version_schemes):
    directory = SHARED_DIR / "regional" / "beijing-2022"
    scheme = version_schemes(directory)
    case = _first_case(directory, lambda c: (c["exp_adrg"] == "OR1"))
    trace = explain_case(case, scheme)
    matched = [s for s in trace.steps if s.kind == "adrg" and s.passed]
    assert matched[0].detail["rule"] == "secondary_dx1"
    assert re.search(r"secondary_dx1 on diagnosis \S+.* \(position \d+\)", trace.to_text())
    case = _first_case(directory, lambda c: (c["exp_adrg"] == "AH1") & c["kind"].str.startswith("targeted"))
    variants = [s.detail.get("variant") for s in explain_case(case, scheme).steps if s.kind == "adrg"]
    assert [v for v in variants if v] and all(v in ("1", "2", "3") for v in variants if v)


def test_trace_names_the_secondary_diagnosis_that_enters_an_any_dx_mdc(version_schemes):
    directory = SHARED_DIR / "chs-drg-1.0"
    scheme = version_schemes(directory)
    case = _first_case(directory, lambda c: (c["kind"] == "nearmiss:any_dx_secondary") & (c["exp_mdc"] == "MDCY"))
    trace = explain_case(case, scheme)
    entered = [s for s in trace.steps if s.kind == "mdc" and s.passed]
    assert entered[0].code == "MDCY" and entered[0].detail["rule"] == "any_dx"
    assert re.search(r"diagnosis \S+.* \(position \d+\) is in its list", entered[0].text)


def test_trace_of_text_gender_under_text_typing(version_schemes):
    scheme = version_schemes(SHARED_DIR / "regional" / "yinchuan-2023")
    trace = explain_case({"gender": "01", "age": "40", "dx": "K35.800", "proc": ""}, scheme)
    assert trace.status == "invalid_input:gender_invalid"
    assert "gender is not the text 1 or 2" in trace.to_text()
