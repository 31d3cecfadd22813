"""Regression tests of the DIP audit's defects (each failed before its fix)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drgdip.grouper.dip import group_dip

REPO = Path(__file__).resolve().parents[1]
DEMO_DIP = REPO / "data" / "demo" / "dip"
JINING = REPO / "data" / "policies" / "jining_dip_day_ward_2025.yaml"


def _case(dx, **fields):
    return {"case_id": "c", "dx": dx, "proc": "", "los": 5, "age": 40, "total_cost": 5000.0, **fields}


@pytest.mark.parametrize("dx", ["|K35.800", "", "|"])
def test_an_empty_principal_diagnosis_groups_nowhere_on_both_sides(dx):
    from drgdip.grouper import group_cases, load_scheme

    dip = group_dip(pd.DataFrame([_case(dx)]), DEMO_DIP)
    assert dip["dip_type"].iloc[0] == "ungrouped" and pd.isna(dip["dip_group"].iloc[0])
    drg = group_cases(pd.DataFrame([_case(dx, gender=1, age_days=None, birth_weight=None)]),
                      load_scheme(REPO / "data" / "demo" / "scheme"))
    assert drg["status"].iloc[0] != "ok"


def test_secondary_diagnoses_after_an_empty_principal_still_type_severity():
    from drgdip.grouper.dip import prepare_dip_cases
    from drgdip.grouper.dip_directory import load_dip_directory

    directory = load_dip_directory(DEMO_DIP)
    severe = str(directory.severity_dx["dx"].iloc[0])
    prepared = prepare_dip_cases(pd.DataFrame([_case(f"|{severe}"), _case(f"K35.800|{severe}")]), directory)
    assert not prepared.has_dx[0] and prepared.has_dx[1]
    assert prepared.severity[0] == prepared.severity[1] > 0


def test_the_principal_is_the_first_code_even_with_empty_items_later():
    grouped = group_dip(pd.DataFrame([_case("K35.800||J18.900"), _case("K35.800")]), DEMO_DIP)
    assert grouped["dip_group"].iloc[0] == grouped["dip_group"].iloc[1]


def _dip_province(demo_province_dir):
    """The demo province's stays with the DIP groups of the demo directory as input columns."""
    from drgdip.core.province import read_province

    province = read_province(demo_province_dir)
    groups = group_dip(province.cases, DEMO_DIP)
    cases = province.cases.assign(dip_group=groups["dip_group"].to_numpy(), dip_type=groups["dip_type"].to_numpy())
    return province, cases


def test_an_unknown_dip_group_code_is_named_not_paid_silently(demo_province_dir, tmp_path, capsys):
    from drgdip.budget import load_policy, settle_province
    from drgdip.cli import main
    from drgdip.core.province import write_province

    province, cases = _dip_province(demo_province_dir)
    settled_year = np.flatnonzero((cases["year"] == cases["year"].max()).to_numpy()
                                  & (cases["dip_type"] == "core").to_numpy())
    target = settled_year[0]
    mistyped = str(cases["dip_group"].iloc[target]) + "1"
    cases.loc[cases.index[target], "dip_group"] = mistyped
    settlement = settle_province(province.__class__(**{**vars(province), "cases": cases}), load_policy(JINING),
                                 dip=DEMO_DIP)
    said = [w for w in settlement.warnings if mistyped in w]
    assert said and "1 stay(s)" in said[0] and "blank group" in said[0]
    # on the command line: a warning naming the code and the row as the file shows it
    folder = tmp_path / "province"
    write_province(province.__class__(**{**vars(province), "cases": cases}), folder)
    assert main(["settle", "--policy", str(JINING), "--input", str(folder), "--output", str(tmp_path / "out"),
                 "--dip", str(DEMO_DIP), "--no-excel"]) == 0
    output = capsys.readouterr()
    shown = output.out + output.err
    assert mistyped in shown and f"row {target + 1})" in shown


def test_drgdip_points_names_an_unknown_dip_group_code_and_counts_it(tmp_path, capsys):
    from drgdip.cli import main
    from drgdip.pointvalue.demo_dip import demo_history

    cases = demo_history(REPO / "data" / "demo" / "scheme", n_cases=200, seed=3)
    cases["hospital_id"] = "H1"
    grouped = pd.concat([cases, group_dip(cases, DEMO_DIP)], axis=1)
    row = int(np.flatnonzero((grouped["dip_type"] == "core").to_numpy())[0])
    mistyped = str(grouped["dip_group"].iloc[row]) + "1"
    grouped["dip_group"] = grouped["dip_group"].astype(object)
    grouped.loc[grouped.index[row], "dip_group"] = mistyped
    path = tmp_path / "grouped.csv"
    grouped.to_csv(path, index=False)
    assert main(["points", "--input", str(path), "--dip", str(DEMO_DIP), "--policy", str(JINING),
                 "--output", str(tmp_path / "points.csv"), "--point-value", "20"]) == 0
    output = capsys.readouterr()
    assert mistyped in output.err and f"row {row + 2})" in output.err   # the CSV's header is row 1
    assert "unknown group 1" in output.out


@pytest.mark.parametrize("field, value, status", [("proc", "47.0100|77.7777", "unknown_proc"),
                                                  ("age", "forty", "invalid_input:parse_error"),
                                                  ("los", "5d", "invalid_input:parse_error"),
                                                  ("total_cost", "n/a", "invalid_input:parse_error")])
def test_a_case_the_dip_side_cannot_read_gets_a_status_not_a_group(field, value, status):
    """An unknown procedure once counted as conservative (a surgery paid as a medical group), and a
    non-numeric age, LOS or cost was read as missing, where the DRG side says parse_error."""
    from drgdip.grouper.dip_trace import explain_dip

    case = _case("K35.800", proc="47.0100")
    case[field] = value
    grouped = group_dip(pd.DataFrame([case, _case("K35.800", proc="47.0100")]).astype({field: object}), DEMO_DIP)
    assert grouped["dip_status"].astype(str).tolist() == [status, "ok"]
    assert grouped["dip_type"].astype(str).tolist()[0] == "ungrouped" and pd.isna(grouped["dip_group"].iloc[0])
    trace = explain_dip(case, DEMO_DIP)
    assert trace.dip_group is None and status in trace.to_text()


def test_settlement_counts_and_names_stays_the_dip_side_cannot_read(demo_province_dir):
    from drgdip.budget import load_policy, settle_province
    from drgdip.core.province import read_province

    province = read_province(demo_province_dir)
    cases = province.cases.copy()
    last = np.flatnonzero((cases["year"] == cases["year"].max()).to_numpy())[:3]
    cases["proc"] = cases["proc"].astype(object)
    for row in last:
        cases.iloc[row, cases.columns.get_loc("proc")] = "77.7777"
    settlement = settle_province(province.__class__(**{**vars(province), "cases": cases}), load_policy(JINING),
                                 dip=DEMO_DIP)
    said = [w for w in settlement.warnings if "unknown_proc" in w]
    assert said and said[0].startswith("3 stay(s)") and repr(str(cases["case_id"].iloc[last[0]])) in said[0]
    assert (settlement.cases["dip_status"].astype(str) == "unknown_proc").sum() == 3


def test_a_directory_whose_groups_file_has_only_a_header_is_an_error(tmp_path, capsys):
    import shutil

    from drgdip.cli import main

    for path in DEMO_DIP.iterdir():
        shutil.copy(path, tmp_path / path.name)
    for name in ("groups.csv", "aux.csv"):
        header = (DEMO_DIP / name).read_text(encoding="utf-8").splitlines()[0]
        (tmp_path / name).write_text(header + "\n", encoding="utf-8")
    cases = tmp_path / "cases.csv"
    pd.DataFrame([_case("K35.800")]).to_csv(cases, index=False)
    assert main(["group", "--input", str(cases), "--scheme", str(REPO / "data" / "demo" / "scheme"),
                 "--dip", str(tmp_path), "--output", str(tmp_path / "out.csv")]) == 2
    message = capsys.readouterr().err
    assert "groups.csv" in message and "has no groups" in message and "Traceback" not in message


def test_dip_build_errors_name_the_users_file_and_row(tmp_path, capsys):
    from drgdip.cli import main
    from drgdip.pointvalue.demo_dip import demo_history, derive_proc_attributes

    scheme = REPO / "data" / "demo" / "scheme"
    history = demo_history(scheme, n_cases=1500, seed=1)
    attributes = derive_proc_attributes(scheme)
    bad_history = history.astype({"total_cost": object})
    bad_history.loc[5, "total_cost"] = "abc"
    bad_attributes = attributes.copy()
    bad_attributes.loc[3, "attribute"] = "surgeryx"
    severity = pd.read_csv(DEMO_DIP / "severity_dx.csv", dtype=str)
    severity.loc[2, "severity"] = "awful"
    paths = {}
    for name, frame in (("history", history), ("bad_history", bad_history), ("attributes", attributes),
                        ("bad_attributes", bad_attributes), ("bad_severity", severity)):
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    runs = [(["--history", paths["history"], "--proc-attributes", paths["bad_attributes"]], "bad_attributes.csv, row 5, field 'attribute'"),
            (["--history", paths["bad_history"], "--proc-attributes", paths["attributes"]], "bad_history.csv, row 7, field 'total_cost'"),
            (["--history", paths["history"], "--proc-attributes", paths["attributes"], "--severity-dx",
              paths["bad_severity"]], "bad_severity.csv, row 4, field 'severity'")]
    for arguments, where in runs:
        assert main(["dip-build", *map(str, arguments), "--output", str(tmp_path / "out")]) == 2
        message = capsys.readouterr().err
        assert where in message and "<building" not in message and "Warning" not in message, message


def test_dip_build_warns_when_the_history_has_fewer_years_than_the_year_weights(tmp_path, capsys):
    from drgdip.cli import main
    from drgdip.pointvalue.demo_dip import demo_history, derive_proc_attributes

    scheme = REPO / "data" / "demo" / "scheme"
    history = demo_history(scheme, n_cases=1500, seed=1)
    history = history[history["year"] == history["year"].max()]
    history.to_csv(tmp_path / "history.csv", index=False)
    derive_proc_attributes(scheme).to_csv(tmp_path / "attributes.csv", index=False)
    assert main(["dip-build", "--history", str(tmp_path / "history.csv"), "--proc-attributes",
                 str(tmp_path / "attributes.csv"), "--output", str(tmp_path / "out")]) == 0
    message = capsys.readouterr().err
    assert "1 year(s)" in message and "3 year weights [1.0, 2.0, 7.0]" in message


def test_a_comprehensive_group_above_the_cv_limit_passes_its_cases_on():
    """Domain §3.1/§3.3: comprehensive groups are kept under a local CV limit."""
    from drgdip.pointvalue.demo_dip import demo_history, derive_proc_attributes
    from drgdip.pointvalue.dip_build import build_dip_directory
    from drgdip.pointvalue.rules import DipBuildRules

    scheme = REPO / "data" / "demo" / "scheme"
    history = demo_history(scheme, n_cases=6000, seed=4)
    attributes = derive_proc_attributes(scheme)
    plain = build_dip_directory(history, DipBuildRules(comprehensive_fallback=(3, 2, 1)), proc_attributes=attributes)
    limited = build_dip_directory(history, DipBuildRules(comprehensive_fallback=(3, 2, 1), comprehensive_cv_max=0.3),
                                  proc_attributes=attributes)
    comprehensive = plain.groups[plain.groups["dip_type"] == "comprehensive"]
    wide = comprehensive[comprehensive["cv"] > 0.45]
    assert len(wide)                                  # the history has mixed comprehensive groups...
    kept = set(limited.groups["dip_group"])
    assert not set(wide["dip_group"]) & kept          # ...which the limit does not keep
    assert (limited.groups.loc[limited.groups["dip_type"] == "comprehensive", "cv"].fillna(0) <= 0.6).all()
