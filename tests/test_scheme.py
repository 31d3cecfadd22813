"""Scheme compilation details not covered by the per-rule tests: the ambiguous group, trace text."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from drgdip.cli import main
from drgdip.grouper import SchemeError, explain_case, group_cases, load_scheme
from tests.conftest import DEMO_SCHEME_DIR


@pytest.fixture()
def qy_scheme_dir(tmp_path):
    """The demo scheme with MDCG's ambiguous-group check switched on."""
    target = tmp_path / "scheme"
    shutil.copytree(DEMO_SCHEME_DIR, target)
    mdc = pd.read_csv(target / "mdc.csv", dtype=str, keep_default_na=False)
    mdc.loc[mdc["mdc"] == "MDCG", "qy_enabled"] = "true"
    mdc.to_csv(target / "mdc.csv", index=False)
    return target


def _unlisted_valid_procedure(scheme) -> str:
    listed = set(scheme.tables["adrg_codes"].query("list != 'zd'")["code"])
    return next(c for c in scheme.tables["valid_proc"]["code"] if c not in listed)


def test_enabled_ambiguous_group_catches_unmatched_operating_room_procedure(qy_scheme_dir):
    plain, with_qy = load_scheme(DEMO_SCHEME_DIR), load_scheme(qy_scheme_dir)
    procedure = _unlisted_valid_procedure(plain)
    case = {"case_id": "q", "gender": "1", "age": "40", "age_days": "", "birth_weight": "",
            "dx": "K35.800", "proc": procedure}
    frame = pd.DataFrame([case, {**case, "case_id": "no_or_procedure", "proc": ""}])
    assert group_cases(frame, plain)["adrg"].astype(str).tolist() == ["GZ1", "GZ1"]
    got = group_cases(frame, with_qy)
    assert got.iloc[0][["status", "mdc", "adrg", "drg"]].astype(str).tolist() == [
        "ambiguous", "MDCG", "QY", "GQY"]
    assert got.iloc[1]["adrg"] == "GZ1"
    trace = explain_case(case, with_qy)
    assert trace.drg == "GQY" and [s.kind for s in trace.steps][-1] == "ambiguous"
    assert f"operating-room procedure {procedure}" in trace.to_text()


def test_progress_bar_on_request(tmp_path, capsys):
    cases = tmp_path / "cases.csv"
    shutil.copy(DEMO_SCHEME_DIR.parent / "cases.csv", cases)
    assert main(["group", "--scheme", str(DEMO_SCHEME_DIR), "--input", str(cases), "--output",
                 str(tmp_path / "out.parquet"), "--progress", "--batch-rows", "100"]) == 0
    err = capsys.readouterr().err
    assert "cases" in err and "/s" in err and err.count("\r") >= 3


# ---------------------------------------------------------------- rule atoms and columns of other versions


def _edit_table(directory, name: str, change) -> None:
    """Rewrite ``directory/name`` with ``change(table)`` (all columns as text)."""
    path = directory / name
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(table).to_csv(path, index=False, lineterminator="\n")


def _write_parameters(directory, rows: list[tuple[str, str]]) -> None:
    pd.DataFrame(rows, columns=["key", "value"]).to_csv(directory / "scheme.csv", index=False)


def _cases(rows: list[dict]) -> pd.DataFrame:
    base = {"gender": "1", "age": "40", "age_days": "", "birth_weight": "", "los": "5", "proc": ""}
    return pd.DataFrame([{"case_id": f"T{i}", **base, **row} for i, row in enumerate(rows)], dtype=object)


def _results(frame: pd.DataFrame, scheme) -> list[tuple[str, ...]]:
    got = group_cases(frame, scheme)
    return [tuple(map(str, r)) for r in got[["status", "mdc", "adrg", "drg"]].itertuples(index=False)]


@pytest.fixture()
def scheme_dir(tmp_path):
    target = tmp_path / "scheme"
    shutil.copytree(DEMO_SCHEME_DIR, target)
    return target


INVALID_GENDER = ("invalid_input:gender_invalid", "0000", "00", "0000")
GENDER_MISSING = ("invalid_input:gender_missing", "0000", "00", "0000")
MZ19 = ("ok", "MDCM", "MZ1", "MZ19")


@pytest.mark.parametrize("gender, as_integer, as_text", [
    ("1", MZ19, MZ19),
    ("01", MZ19, INVALID_GENDER),
    (" 1", INVALID_GENDER, INVALID_GENDER),
    ("1.0", INVALID_GENDER, INVALID_GENDER),
    ("M", INVALID_GENDER, INVALID_GENDER),
    ("0", INVALID_GENDER, INVALID_GENDER),
    ("", GENDER_MISSING, GENDER_MISSING),
])
def test_gender_typing_parameter(scheme_dir, gender, as_integer, as_text):
    case = _cases([{"gender": gender, "dx": "N40.x00"}])
    assert _results(case, load_scheme(scheme_dir)) == [as_integer]
    _write_parameters(scheme_dir, [("gender_typing", "text")])
    scheme = load_scheme(scheme_dir)
    assert scheme.gender_typing == "text"
    assert _results(case, scheme) == [as_text]


def test_text_gender_typing_rejects_chinese_gender_and_reads_integer_columns(scheme_dir, tmp_path):
    _write_parameters(scheme_dir, [("gender_typing", "text")])
    scheme = load_scheme(scheme_dir)
    assert _results(_cases([{"gender": "男", "dx": "N40.x00"}]), scheme) == [INVALID_GENDER]
    path = tmp_path / "cases.parquet"
    _cases([{"dx": "N40.x00"}]).assign(gender=[1]).astype({"gender": "int64"}).to_parquet(path)
    assert _results(path, scheme) == [MZ19]


def test_ambiguous_group_on_the_main_procedure_only(qy_scheme_dir):
    any_proc = load_scheme(qy_scheme_dir)
    procedure = _unlisted_valid_procedure(any_proc)
    cases = _cases([{"dx": "K35.800", "proc": procedure},
                    {"dx": "K35.800", "proc": f"88.0000|{procedure}"}])
    ambiguous = ("ambiguous", "MDCG", "QY", "GQY")
    assert _results(cases, any_proc) == [ambiguous, ambiguous]
    _write_parameters(qy_scheme_dir, [("qy_test", "main_proc")])
    main_proc = load_scheme(qy_scheme_dir)
    assert _results(cases, main_proc) == [ambiguous, ("ok", "MDCG", "GZ1", "GZ15")]
    trace = explain_case(cases.iloc[1], main_proc)
    assert trace.drg == "GZ15" and "ambiguous" not in [s.kind for s in trace.steps]


def test_adrg_without_a_matching_drg_is_its_own_result(scheme_dir):
    cases = _cases([{"dx": "K29.700"}, {"dx": "K29.700|S27.000"}])
    _edit_table(scheme_dir, "drg.csv", lambda t: t[t["drg"] != "GZ15"])
    assert _results(cases, load_scheme(scheme_dir)) == [("ok", "MDCG", "GZ1", "GZ1"),
                                                        ("ok", "MDCG", "GZ1", "GZ13")]
    _edit_table(scheme_dir, "drg.csv", lambda t: t[t["adrg"] != "GZ1"])
    scheme = load_scheme(scheme_dir)
    assert _results(cases, scheme) == [("ok", "MDCG", "GZ1", "GZ1")] * 2
    trace = explain_case(cases.iloc[0], scheme)
    assert trace.drg == "GZ1" and "no DRG of GZ1 applies" in trace.to_text()


def test_age_and_length_of_stay_split_atoms(scheme_dir):
    def splits(t):
        t = t[t["adrg"] != "GZ1"]
        rows = pd.DataFrame([["GZ11", "age_le_raw+mcc_or_cc", "6", "", ""], ["GZ13", "age_le", "6", "", ""],
                             ["GZ15", "los_range", "", "2", "10"], ["GZ17", "los_range", "", "", "0"]],
                            columns=["drg", "split_rule", "age_max", "los_min", "los_max"])
        rows = rows.assign(adrg="GZ1", mdc="MDCG", name="", eval_order=["1", "2", "3", "4"])
        return pd.concat([t, rows], ignore_index=True).fillna("")

    _edit_table(scheme_dir, "drg.csv", splits)
    scheme = load_scheme(scheme_dir)
    assert scheme.uses_los
    cc = "K29.700|S27.000"
    cases = _cases([
        {"dx": cc, "age": "5"}, {"dx": "K29.700", "age": "6"}, {"dx": cc, "age": " 5"},
        {"dx": cc, "age": "7", "los": "2"}, {"dx": cc, "age": "7", "los": "9"},
        {"dx": cc, "age": "7", "los": "10"}, {"dx": cc, "age": "7", "los": "1"},
        {"dx": cc, "age": "7", "los": "-1"}, {"dx": cc, "age": "7", "los": ""}, {"dx": cc, "age": "7", "los": " 3"},
    ])
    assert [r[3] for r in _results(cases, scheme)] == [
        "GZ11", "GZ13", "GZ13", "GZ15", "GZ15", "GZ1", "GZ1", "GZ17", "GZ1", "GZ1"]
    # a file without the los column groups like absent lengths of stay
    assert [r[3] for r in _results(cases.drop(columns=["los"]).iloc[3:4], scheme)] == ["GZ1"]


def test_variant_rules_of_one_adrg(scheme_dir):
    cases = _cases([{"dx": "K29.700", "proc": "45.1300|47.0901"}, {"dx": "K29.700", "proc": "47.0901"},
                    {"dx": "K29.700", "proc": "45.1300"}])
    assert [r[2] for r in _results(cases, load_scheme(scheme_dir))] == ["GZ1", "GD2", "GZ1"]

    def adrg(t):
        t["variant"] = np.where(t["adrg"] == "GD2", "1", "")
        second = t[t["adrg"] == "GD2"].assign(variant="2", entry_rule="any_proc", eval_order="4")
        t.loc[t["adrg"] == "GZ1", "eval_order"] = "5"
        return pd.concat([t, second], ignore_index=True)

    def codes(t):
        t["variant"] = np.where(t["adrg"] == "GD2", "1", "")
        second = pd.DataFrame([{"adrg": "GD2", "list": "ss", "code": "47.0901", "proc_group": "", "variant": "2"}])
        return pd.concat([t, second], ignore_index=True)

    _edit_table(scheme_dir, "adrg.csv", adrg)
    _edit_table(scheme_dir, "adrg_codes.csv", codes)
    scheme = load_scheme(scheme_dir)
    assert _results(cases, scheme)[:2] == [("ok", "MDCG", "GD2", "GD25")] * 2
    assert _results(cases, scheme)[2][2] == "GZ1"
    assert "(rule 2)" in explain_case(cases.iloc[0], scheme).to_text()


def test_strict_age_years_never_matches_a_text_age(scheme_dir):
    newborn = {"gender": "2", "age_days": "5", "birth_weight": "3100", "dx": "P22.000"}
    cases = _cases([{**newborn, "age": "0"}, {**newborn, "age": " 0"}])
    assert [r[3] for r in _results(cases, load_scheme(scheme_dir))] == ["PR15", "PR15"]
    _edit_table(scheme_dir, "mdc.csv", lambda t: t.assign(entry_rule=t["entry_rule"].str.replace(
        "age_years", "age_years_strict")))
    got = _results(cases, load_scheme(scheme_dir))
    assert got[0][3] == "PR15" and got[1][1] != "MDCP"


# ---------------------------------------------------------------- bad new columns (SchemeError)


def _scheme_error(directory) -> str:
    with pytest.raises(SchemeError) as caught:
        load_scheme(directory)
    return str(caught.value)


def _with_variants(t: pd.DataFrame) -> pd.DataFrame:
    return t.assign(variant="")


def _split(drg: str, rule: str, age_max: str = "", los_min: str = "", los_max: str = ""):
    def change(t):
        t = t.assign(age_max="", los_min="", los_max="")
        t.loc[t["drg"] == drg, ["split_rule", "age_max", "los_min", "los_max"]] = [rule, age_max, los_min, los_max]
        return t
    return change


def _drg_line(drg: str) -> int:
    return int(pd.read_csv(DEMO_SCHEME_DIR / "drg.csv", dtype=str).index[
        pd.read_csv(DEMO_SCHEME_DIR / "drg.csv", dtype=str)["drg"] == drg][0]) + 2


def _adrg_line(adrg: str) -> int:
    table = pd.read_csv(DEMO_SCHEME_DIR / "adrg.csv", dtype=str)
    return int(table.index[table["adrg"] == adrg][0]) + 2


def _copy_of(adrg: str, **values):
    def change(t):
        t = _with_variants(t)
        return pd.concat([t, t[t["adrg"] == adrg].assign(**values)], ignore_index=True)
    return change


N_ADRG_ROWS = len(pd.read_csv(DEMO_SCHEME_DIR / "adrg.csv", dtype=str))


@pytest.mark.parametrize("name, change, line, message", [
    ("adrg.csv", lambda t: t.assign(variant=np.where(t["adrg"] == "GD2", "x", "")), _adrg_line("GD2"),
     "variant must be an integer, got 'x'"),
    ("adrg.csv", _copy_of("GD2", eval_order="9"), N_ADRG_ROWS + 2, "duplicate adrg 'GD2', variant ''"),
    ("adrg.csv", _copy_of("GD2", eval_order="9", variant="2"), _adrg_line("GD2"),
     "ADRG GD2 has several rows .* no variant"),
    ("adrg.csv", lambda t: _copy_of("GD2", eval_order="9", variant="2", mdc="MDCF")(t).assign(
        variant=lambda f: np.where(f["adrg"] == "GD2", f["variant"].replace("", "1"), "")),
     N_ADRG_ROWS + 2, "variant 2 of ADRG GD2 has mdc 'MDCF'"),
    ("adrg_codes.csv", lambda t: t.assign(variant=np.where(t["adrg"] == "GD2", "3", "")), None,
     "ADRG GD2 has no row with variant '3'"),
    ("adrg_codes.csv", lambda t: t.assign(list=t["list"].replace("ss1", "ss3")), None,
     "list must be one of zd, ss, ss1, zd1, ss2, got 'ss3'"),
    ("drg.csv", _split("GZ13", "age_le"), _drg_line("GZ13"), "uses age_le or age_le_raw but age_max is empty"),
    ("drg.csv", _split("GZ13", "age_le", age_max="six"), _drg_line("GZ13"), "age_max must be an integer"),
    ("drg.csv", _split("GZ13", "mcc_or_cc", age_max="6"), _drg_line("GZ13"),
     "age_max is given but the split rule uses neither"),
    ("drg.csv", _split("GZ13", "los_range"), _drg_line("GZ13"), "both los_min and los_max are empty"),
    ("drg.csv", _split("GZ13", "mcc_or_cc", los_min="3"), _drg_line("GZ13"),
     "los_min or los_max is given but the split rule does not use los_range"),
    ("drg.csv", _split("GZ13", "los_range", los_max="3.5"), _drg_line("GZ13"), "los_max must be an integer"),
    ("drg.csv", _split("GZ13", "age_le+cc", age_max="6"), _drg_line("GZ13"), "unknown rule token 'cc'"),
    ("mdc.csv", lambda t: t.assign(entry_rule=t["entry_rule"].str.replace("age_years", "age_years_strict"),
                                   age_years=""), 3, "uses age_years_strict but column age_years is empty"),
    ("mdc.csv", lambda t: t.assign(entry_rule=t["entry_rule"].str.replace("principal_dx+gender", "any_dx+sex",
                                                                          regex=False)), 5, "unknown rule token 'sex'"),
])
def test_scheme_error_in_new_columns(scheme_dir, name, change, line, message):
    _edit_table(scheme_dir, name, change)
    error = _scheme_error(scheme_dir)
    assert error.startswith(name), error
    if line is not None:
        assert f"line {line}:" in error, error
    assert re.search(message, error), error


def test_scheme_error_surgical_adrg_after_the_ambiguous_group_check(qy_scheme_dir):
    load_scheme(qy_scheme_dir)
    _edit_table(qy_scheme_dir, "adrg.csv", lambda t: t.assign(
        section=np.where(t["adrg"] == "GZ1", "surgical", np.where(t["adrg"] == "GD2", "medical", t["section"]))))
    error = _scheme_error(qy_scheme_dir)
    assert error.startswith(f"adrg.csv, line {_adrg_line('GZ1')}:") and "after a medical ADRG of MDCG" in error


@pytest.mark.parametrize("rows, line, message", [
    ([("gender_typing", "string")], 2, "gender_typing must be one of integer, text, got 'string'"),
    ([("qy_test", "any_proc"), ("qy_check", "main_proc")], 3, "unknown key 'qy_check'"),
    ([("qy_test", "any_proc"), ("qy_test", "main_proc")], 3, "duplicate key 'qy_test'"),
    ([("gender_typing", "")], 2, "empty value"),
])
def test_scheme_error_in_parameters(scheme_dir, rows, line, message):
    _write_parameters(scheme_dir, rows)
    error = _scheme_error(scheme_dir)
    assert error.startswith(f"scheme.csv, line {line}:") and message in error, error


def test_parameter_defaults_without_scheme_csv():
    scheme = load_scheme(DEMO_SCHEME_DIR)
    assert scheme.parameters == {"gender_typing": "integer", "qy_test": "any_proc"}
    assert not scheme.uses_los
