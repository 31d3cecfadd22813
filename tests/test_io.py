"""Field typing, validation and code-list encoding (RULES.md §1.1-§2) on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from drgdip.core.errors import UsageError
from drgdip.grouper import group_cases
from drgdip.grouper.io import split_codes, type_field
from drgdip.grouper.scheme import NOT_GIVEN

BASE = {"case_id": "c", "gender": "1", "age": "40", "age_days": "", "birth_weight": "",
        "dx": "K35.800", "proc": ""}


def _status(national_scheme, **fields):
    row = {**BASE, **fields}
    return group_cases(pd.DataFrame([row]), national_scheme)["status"].iloc[0]


def test_typing_of_text_fields():
    typed = type_field(pa.array(["", "12", "-3", " 5", "3.5", "abc", "0", "99999999999999999999999"]),
                       8, "age")
    assert typed.present.tolist() == [False, True, True, True, True, True, True, True]
    assert typed.is_integer.tolist() == [False, True, True, False, False, False, True, True]
    # Python int() accepts surrounding spaces, so " 5" converts; "3.5" and "abc" do not.
    assert typed.int_ok.tolist() == [False, True, True, True, False, False, True, True]
    assert typed.value[:4].tolist() == [NOT_GIVEN, 12, -3, 5]
    assert typed.value[6] == 0 and typed.value[7] == np.iinfo(np.int64).max


def test_typing_of_numeric_columns():
    typed = type_field(pa.array([1.0, None, 2.5]), 3, "gender")
    assert typed.present.tolist() == [True, False, True]
    assert typed.int_ok.tolist() == [True, False, False]
    assert typed.value[0] == 1
    ints = type_field(pa.array([0, None, 28], pa.int16()), 3, "age_days")
    assert ints.present.tolist() == [True, False, True] and ints.value[2] == 28


def test_split_keeps_codes_untrimmed_and_empty_items():
    dx = split_codes(pa.array(["A|B", "", " k35.800,X", "A|"]), empty_is_none=False).to_pylist()
    assert dx == [["A", "B"], [""], [" k35.800", "X"], ["A", ""]]
    proc = split_codes(pa.array(["", "|X", None]), empty_is_none=True).to_pylist()
    assert [p or [] for p in proc] == [[], ["", "X"], []]


@pytest.mark.parametrize("fields, status", [
    ({"gender": ""}, "invalid_input:gender_missing"),
    ({"gender": "3"}, "invalid_input:gender_invalid"),
    ({"gender": "M"}, "invalid_input:gender_invalid"),
    ({"gender": "男"}, "no_group"),
    ({"gender": "", "age": ""}, "invalid_input:gender_missing"),
    ({"age": ""}, "invalid_input:age_missing"),
    ({"age": "3.5"}, "invalid_input:parse_error"),
    ({"age": "六十"}, "invalid_input:parse_error"),
    ({"age": "0"}, "invalid_input:age_days_missing"),
    ({"age": "0", "age_days": "abc"}, "invalid_input:parse_error"),
    ({"age": "0", "age_days": "12"}, "invalid_input:birth_weight_missing"),
    ({"age": "0", "age_days": "12", "birth_weight": "0"}, "no_group"),
    ({"age": "0", "age_days": "29"}, "no_group"),
    ({"age": "40", "age_days": "abc"}, "no_group"),
    ({"age": "-5"}, "no_group"),
])
def test_validation_order_and_reasons(national_scheme, fields, status):
    assert _status(national_scheme, **fields) == status


def test_list_columns_and_mixed_object_columns(national_scheme, public_corpus):
    sample = public_corpus.sample(500, random_state=7).reset_index(drop=True)
    cases = sample[["case_id", "gender", "age", "age_days", "birth_weight"]].copy()
    cases["dx"] = sample["dx"].str.split("|")
    cases["proc"] = [p.split("|") if p else [] for p in sample["proc"]]
    # Mixed Python objects in one column: integers next to text such as 男 or 'abc'.
    cases["gender"] = [int(g) if g.isdigit() else (g or None) for g in sample["gender"]]
    cases["age"] = [int(a) if a.lstrip("-").isdigit() else (a or None) for a in sample["age"]]
    got = group_cases(cases, national_scheme)
    for field in ("status", "mdc", "adrg", "drg"):
        assert got[field].astype(str).tolist() == sample[f"exp_{field}"].tolist()


def test_empty_dx_list_is_dx_missing(national_scheme):
    cases = pd.DataFrame({"case_id": ["a"], "gender": [1], "age": [40], "dx": [[]], "proc": [[]]})
    assert group_cases(cases, national_scheme)["status"].iloc[0] == "invalid_input:dx_missing"


def test_missing_required_column_names_the_field(national_scheme, tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text("case_id,gender,age,dx\n1,1,40,K35.800\n", encoding="utf-8")
    with pytest.raises(UsageError) as error:
        group_cases(path, national_scheme)
    assert "cases.csv" in str(error.value) and "proc" in str(error.value)


def test_wrong_type_names_file_row_and_field(national_scheme, tmp_path):
    path = tmp_path / "cases.parquet"
    pd.DataFrame({"case_id": ["a", "b"], "gender": [1, 1], "age": [3, 4], "dx": [None, 12],
                  "proc": ["", ""]}).to_parquet(path)
    with pytest.raises(UsageError) as error:
        group_cases(path, national_scheme)
    message = str(error.value)
    assert "cases.parquet" in message and "row 2" in message and "'dx'" in message


def test_gender_aliases_open_sex_specific_mdcs(national_scheme, public_corpus):
    male = public_corpus[(public_corpus["exp_mdc"] == "MDCM") & (public_corpus["gender"] == "1")].head(20)
    cases = male.drop(columns=[c for c in male if c.startswith("exp_")]).assign(gender="M")
    assert (group_cases(cases, national_scheme)["status"] == "invalid_input:gender_invalid").all()
    aliased = group_cases(cases, national_scheme, gender_aliases=True)
    assert aliased["drg"].astype(str).tolist() == male["exp_drg"].tolist()


def test_code_mapping_mode(national_scheme):
    dx_map = national_scheme.tables["dx_map"]
    mdc_dx = set(national_scheme.tables["mdc_dx"]["code"])
    changed = dx_map[(dx_map["source_code"] != dx_map["target_code"])
                     & dx_map["target_code"].isin(mdc_dx) & ~dx_map["source_code"].isin(mdc_dx)]
    source, target = changed.iloc[0]["source_code"], changed.iloc[0]["target_code"]
    cases = pd.DataFrame([{**BASE, "case_id": "mapped", "dx": source},
                          {**BASE, "case_id": "target", "dx": target},
                          {**BASE, "case_id": "unknown_dx", "dx": "NOT.A.CODE"},
                          {**BASE, "case_id": "unknown_proc", "dx": target, "proc": "99.9999zz"}])
    mapped = group_cases(cases, national_scheme, map_codes=True)
    plain = group_cases(cases, national_scheme)
    assert mapped["status"].astype(str).tolist()[2:] == ["unmapped_dx", "unmapped_proc"]
    assert mapped["drg"].iloc[0] == plain["drg"].iloc[1] != "0000"
    assert plain["drg"].iloc[0] != plain["drg"].iloc[1]
