"""``drgdip calibrate``, ``drgdip points`` and ``drgdip dip-build`` end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drgdip.cli import main
from drgdip.grouper.dip import group_dip
from drgdip.grouper.dip_directory import load_dip_directory

REPO = Path(__file__).resolve().parents[1]
DEMO_SCHEME = REPO / "data" / "demo" / "scheme"
POLICIES = REPO / "data" / "policies"


def _history(tmp_path) -> Path:
    rng = np.random.default_rng(1)
    n = 3000
    frame = pd.DataFrame({"drg": rng.choice(["FR21", "GD15", "ES29"], n), "year": rng.integers(2021, 2024, n),
                          "total_cost": rng.lognormal(9, 0.5, n).round(2), "hospital_level": rng.integers(1, 4, n)})
    path = tmp_path / "history.csv"
    frame.to_csv(path, index=False)
    return path


def test_calibrate_then_points(tmp_path, capsys):
    history = _history(tmp_path)
    weights = tmp_path / "weights.csv"
    assert main(["calibrate", "--history", str(history), "--output", str(weights)]) == 0
    assert "3 groups" in capsys.readouterr().out
    table = pd.read_csv(weights)
    assert set(table["group"]) == {"FR21", "GD15", "ES29"}
    policy = tmp_path / "policy.yaml"
    policy.write_text("points:\n  scheme: drg_points\n  hospital_coef:\n    by_level: {1: 0.8, 2: 1.0, 3: 1.2}\n",
                      encoding="utf-8")
    cases = pd.read_csv(history).drop(columns="year").head(200)
    cases.insert(0, "case_id", [f"c{i}" for i in range(len(cases))])
    cases_path = tmp_path / "cases.csv"
    cases.to_csv(cases_path, index=False)
    out = tmp_path / "points.parquet"
    assert main(["points", "--input", str(cases_path), "--weights", str(weights), "--policy", str(policy),
                 "--output", str(out)]) == 0
    result = pd.read_parquet(out)
    assert len(result) == 200 and result["case_id"].tolist() == cases["case_id"].tolist()
    assert (result["final_points"] > 0).all()
    # approvals through a CSV
    approvals = tmp_path / "approved.csv"
    approvals.write_text("case_id,approved_points\nc0,123.5\n", encoding="utf-8")
    assert main(["points", "--input", str(cases_path), "--weights", str(weights), "--policy", str(policy),
                 "--output", str(out), "--approved", str(approvals)]) == 0
    result = pd.read_parquet(out)
    assert result.loc[0, "final_points"] == pytest.approx(123.5)
    assert result.loc[0, "outlier_class"] == "special_review"


def test_points_with_a_shipped_dip_policy_and_the_demo_directory(tmp_path):
    from drgdip.pointvalue.demo_dip import demo_history
    cases = demo_history(DEMO_SCHEME, n_cases=500, seed=3)
    cases["hospital_id"] = "H1"
    grouped = pd.concat([cases, group_dip(cases, REPO / "data" / "demo" / "dip")], axis=1)
    path = tmp_path / "grouped.parquet"
    grouped.to_parquet(path)
    out = tmp_path / "points.csv"
    policy = POLICIES / "jining_dip_day_ward_2025.yaml"
    assert main(["points", "--input", str(path), "--dip", str(REPO / "data" / "demo" / "dip"),
                 "--policy", str(policy), "--output", str(out), "--point-value", "20"]) == 0
    result = pd.read_csv(out)
    assert len(result) == 500
    ungrouped = grouped["dip_type"].astype(str).eq("ungrouped").to_numpy()
    assert (result.loc[ungrouped, "outlier_class"] == "ungrouped").all()


def test_dip_build_cli(tmp_path, capsys):
    from drgdip.pointvalue.demo_dip import demo_history, derive_proc_attributes, severity_from_cc
    history = tmp_path / "history.parquet"
    demo_history(DEMO_SCHEME, n_cases=5000, seed=11).to_parquet(history)
    attributes = tmp_path / "attributes.csv"
    derive_proc_attributes(DEMO_SCHEME).to_csv(attributes, index=False)
    severity = tmp_path / "severity.csv"
    severity_from_cc(DEMO_SCHEME).to_csv(severity, index=False)
    policy = tmp_path / "p.yaml"
    policy.write_text("scheme: dip\ndip:\n  core_threshold: 20\n", encoding="utf-8")
    assert main(["dip-build", "--history", str(history), "--proc-attributes", str(attributes),
                 "--severity-dx", str(severity), "--policy", str(policy), "--output", str(tmp_path / "dip")]) == 0
    assert "DipDirectory" in capsys.readouterr().out
    directory = load_dip_directory(tmp_path / "dip")
    assert (directory.groups["n_cases"] >= 1).all()


@pytest.mark.parametrize("policy_text, message", [
    ("points:\n  scheme: dip\n  outliers:\n    high_formula: tiered\n", "points.outliers.high_formula"),
    ("points:\n  scheme: dip\n  colour: blue\n", "unknown key"),
])
def test_bad_policies_exit_2_with_the_key_path(tmp_path, capsys, policy_text, message):
    history = _history(tmp_path)
    policy = tmp_path / "bad.yaml"
    policy.write_text(policy_text, encoding="utf-8")
    assert main(["calibrate", "--history", str(history), "--output", str(tmp_path / "w.csv"),
                 "--policy", str(policy)]) == 2
    assert message in capsys.readouterr().err


def test_bad_input_exits_2_naming_row_and_field(tmp_path, capsys):
    history = tmp_path / "h.csv"
    history.write_text("drg,year,total_cost\nA,2023,100\nA,2023,abc\n", encoding="utf-8")
    assert main(["calibrate", "--history", str(history), "--output", str(tmp_path / "w.csv")]) == 2
    assert "row 2, field 'total_cost'" in capsys.readouterr().err


def test_dip_explain_cli(capsys):
    dip = str(REPO / "data" / "demo" / "dip")
    groups = load_dip_directory(dip).groups
    core = groups[(groups["dip_type"] == "core") & (groups["main_proc"] != "") & (groups["related_procs"] == "")].iloc[0]
    case = f"dx={core['dx']}00; proc={core['main_proc']}; los=5"
    assert main(["dip-explain", "--dip", dip, "--case", case]) == 0
    out = capsys.readouterr().out
    assert f"core group chosen: {core['dip_group']}" in out
    assert main(["dip-explain", "--dip", dip, "--case", '{"dx": "K35.800", "proc": ""}', "--json"]) == 0
    assert '"dip_type"' in capsys.readouterr().out
    assert main(["dip-explain", "--dip", dip, "--case", "dx"]) == 2


def test_calibrate_writes_level_coefficients_a_policy_takes(tmp_path, capsys):
    from drgdip.pointvalue.coefs import group_level_coefs, hospital_level_coefs
    from drgdip.pointvalue.rules import points_policy_from_mapping

    rng = np.random.default_rng(2)
    n = 6000
    level = rng.integers(1, 4, n)
    drg = rng.choice(["FR21", "GD15", "ES29"], n)
    gap = np.where(drg == "GD15", 0.3, 0.0)          # GD15 costs more the higher the level
    frame = pd.DataFrame({"drg": drg, "year": rng.integers(2021, 2024, n), "hospital_level": level,
                          "total_cost": (rng.lognormal(9, 0.1, n) * (1 + gap * (level - 2))).round(2)})
    history = tmp_path / "history.csv"
    frame.to_csv(history, index=False)
    coefs = tmp_path / "coefs.yaml"
    assert main(["calibrate", "--history", str(history), "--output", str(tmp_path / "w.csv"),
                 "--level-coefs", str(coefs)]) == 0
    assert "3 levels, 1 groups" in capsys.readouterr().out
    import yaml
    block = yaml.safe_load(coefs.read_text(encoding="utf-8"))
    policy = points_policy_from_mapping({"scheme": "drg_points", **block})
    expected = group_level_coefs(frame, group_col="drg")
    assert set(policy.hospital_coef.by_group_level) == set(expected) == {"GD15"}
    assert dict(policy.hospital_coef.by_group_level["GD15"]) == pytest.approx(expected["GD15"], abs=5e-5)
    assert dict(policy.hospital_coef.by_level) == pytest.approx(hospital_level_coefs(frame), abs=5e-5)
    # without hospital levels it says which column is missing
    frame.drop(columns="hospital_level").to_csv(history, index=False)
    assert main(["calibrate", "--history", str(history), "--output", str(tmp_path / "w.csv"),
                 "--level-coefs", str(coefs)]) == 2
    assert "hospital_level" in capsys.readouterr().err
