"""Budget policy YAML: loading, validation messages, shipped policies (budget.policy)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pandas as pd
import pytest

from drgdip.budget.policy import Policy, load_policy, policy_from_mapping
from drgdip.core.errors import ConfigError
from drgdip.cli import main

REPO = Path(__file__).resolve().parents[1]
POLICIES = sorted((REPO / "data" / "policies").glob("*.yaml"))


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    message = str(info.value)
    assert str(path) in message, message          # every message names the file
    return message


# ---------------------------------------------------------------------------------------- shipped

def test_every_seed_rule_set_has_a_policy():
    names = {p.stem for p in POLICIES}
    assert {"yanbian_day_surgery_2025", "panzhihua_drg_day_care_2025", "jining_dip_day_ward_2025",
            "hainan_province_2025", "remote_pool_province_2025"} <= names


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_shipped_policies_load_and_cite_their_sources(path):
    policy = load_policy(path)
    assert isinstance(policy, Policy) and policy.source == str(path)
    text = path.read_text(encoding="utf-8")
    cited = set(re.findall(r"\[([A-Z0-9]+)[\] ]", text))
    assert cited & {"YB", "PZH", "JN", "HN", "REM"}, "names the seed rule set it follows"
    assert cited <= {"YB", "PZH", "JN", "HN", "REM", "DIP3", "MEAS", "PROC", "CLR", "DIP1", "DRGSPEC", "IF", "JH",
                     "PTS", "AH", "SS", "QY", "NODE", "HCB", "OPEN", "V3G"}, cited
    assert "/work" not in text and "/tmp" not in text


def test_shipped_policies_carry_their_rules():
    by_name = {p.stem: load_policy(p) for p in POLICIES}
    yanbian = by_name["yanbian_day_surgery_2025"]
    assert (yanbian.day_care.window_h, yanbian.day_care.extended_h) == (24, 48)
    assert yanbian.day_care.preop_merge.enabled and yanbian.day_care.preop_merge.days == 14
    assert yanbian.day_care.no_procedure == "outpatient"
    panzhihua = by_name["panzhihua_drg_day_care_2025"]
    assert panzhihua.day_care.in_pool
    assert (panzhihua.day_care.day_surgery.payment, panzhihua.day_care.day_chemo.payment,
            panzhihua.day_care.tcm_day.payment) == ("points", "value", "bed_day")
    assert panzhihua.day_care.day_chemo.min_hospital_level == 3
    jining = by_name["jining_dip_day_ward_2025"]
    assert jining.scheme == "dip" and jining.points.outliers.high_formula == "jining"
    assert jining.day_care.day_ward.enabled and jining.day_care.day_ward.fees[3].total == 52
    assert jining.day_care.day_ward.fees[2].total == 44
    hainan = by_name["hainan_province_2025"]
    assert hainan.pooling == "province"
    assert hainan.points.hospital_coef.basic_group_coef_mode == "secondary_level"
    assert len(hainan.points.bed_day.bedday_phases) == 3
    assert hainan.points.bed_day.acute_phase == "points"
    assert [phase.fund_share for phase in hainan.points.bed_day.bedday_phases] == [0.8, 0.6, 0.5]
    remote = by_name["remote_pool_province_2025"]
    assert remote.points.remote.remote_coef == 0.95
    assert remote.point_value.fund_ratio == "insured_region"
    assert remote.remote_pool.budget_method == "actual_fund"


def test_no_shipped_drg_policy_has_the_dip_extreme_band():
    # §5.3: the DRG point method has no extreme band (its points would fall as the cost rises)
    for path in POLICIES:
        points = load_policy(path).points
        assert (points.outliers.extreme_ratio is None) != points.is_dip, path.stem


def test_hainan_psychiatry_acute_per_disease_stable_per_bed_day():
    # [HN §3, §6.2.3]: the acute phase (days 1-30 [SS]) per disease, the stable phase per bed-day
    import pandas as pd
    from drgdip.pointvalue import WeightTable, case_points

    points = load_policy(REPO / "data" / "policies" / "hainan_province_2025.yaml").points
    weights = WeightTable(frame=pd.DataFrame({"group": ["F20.0"], "base_points": [500.0], "mean_cost": [10000.0]}),
                          points_scale=1000.0, all_case_mean=10000.0)
    stays = pd.DataFrame({"case_id": ["acute", "stable", "recovery"], "dip_group": "F20.0",
                          "total_cost": [10000.0, 20000.0, 40000.0], "hospital_level": 3, "los": [25, 45, 75]})
    out = case_points(stays, weights, points, point_value=20.0)
    assert out["outlier_class"].tolist() == ["normal", "bed_day", "bed_day"]
    group = 500 * 1.1                                                  # tier-3 coefficient 1.1
    assert out["final_points"].iloc[0] == pytest.approx(group)
    # days 31-45 at 250 × 0.6 = 2,250 yuan; days 31-60 and 61-75: 4,500 + 15 × 200 × 0.5 = 6,000 yuan
    assert out["final_points"].iloc[1] == pytest.approx(group + 2250 / 10000 * 1000)
    assert out["final_points"].iloc[2] == pytest.approx(group + 6000 / 10000 * 1000)


# ---------------------------------------------------------------------------------------- values

def test_defaults_follow_the_domain_reference():
    policy = policy_from_mapping({})
    assert policy.scheme == "drg_points" and policy.points.points_scale == 100
    assert policy.budget.reserve_share == 0.05
    assert policy.settlement.monthly_pay_ratio == 0.9
    assert (policy.day_care.window_h, policy.day_care.extended_h, policy.day_care.preop_merge.days) == (24, 48, 14)
    assert policy.budget_year_weights == (1.0, 2.0, 7.0)
    assert policy_from_mapping({"points": {"scheme": "dip"}}).points.points_scale == 1000


def test_policy_is_frozen():
    policy = policy_from_mapping({"settlement": {"assessment_by_hospital": {"H1": 0.98}}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.year = 2030
    with pytest.raises(TypeError):
        policy.settlement.assessment_by_hospital["H2"] = 1.0


def test_codes_written_as_numbers_are_read_as_text():
    policy = policy_from_mapping({"region": 370800, "regions": [370800, "370900"],
                                  "budget": {"method": "amount", "amount": {370800: 1.0e+9, "370900": 5}}})
    assert policy.region == "370800" and policy.regions == ("370800", "370900")
    assert dict(policy.budget.amount) == {"370800": 1e9, "370900": 5.0}


# ---------------------------------------------------------------------------------------- errors

def test_unknown_key_names_the_path_and_the_allowed_keys(tmp_path):
    message = error_of(tmp_path, "budget:\n  methd: growth\n")
    assert "budget.methd" in message and "did you mean method" in message
    assert "allowed keys here: method, amount" in message


def test_unknown_key_in_the_points_section(tmp_path):
    message = error_of(tmp_path, "points:\n  outliers:\n    low_ration: 0.4\n")
    assert "points.outliers" in message and "low_ration" in message and "low_ratio" in message


def test_missing_required_key(tmp_path):
    message = error_of(tmp_path, "budget:\n  method: amount\n")
    assert "budget.amount" in message and "required" in message
    message = error_of(tmp_path, "day_care:\n  tcm_day:\n    payment: bed_day\n")
    assert "day_care.tcm_day.daily_std" in message and "required" in message


def test_band_needs_its_keys(tmp_path):
    message = error_of(tmp_path, "settlement:\n  overspend:\n    bands:\n      - {upto_pct: 0.1, fund_share: 0.5}\n")
    assert "settlement.overspend.bands[0].upto_pct" in message and "last band must be open" in message


def test_wrong_type(tmp_path):
    message = error_of(tmp_path, "budget:\n  growth_rate: five percent\n")
    assert "budget.growth_rate" in message and "expected a number" in message
    message = error_of(tmp_path, "day_care:\n  in_pool: 1\n")
    assert "day_care.in_pool" in message and "true or false" in message
    message = error_of(tmp_path, "budget:\n  method: amount\n  amount: 1e9\n")
    assert "budget.amount" in message and "1.0e+9" in message   # YAML 1.1 reads 1e9 as text


def test_out_of_range(tmp_path):
    message = error_of(tmp_path, "budget:\n  reserve_share: 1.5\n")
    assert "budget.reserve_share" in message and "allowed: 0.0 <= value < 1.0" in message
    message = error_of(tmp_path, "points:\n  outliers:\n    low_ratio: 1.5\n")
    assert "points.outliers.low_ratio" in message and "<= 1" in message
    message = error_of(tmp_path, "settlement:\n  surplus:\n    bands:\n      - {upto_pct: null, keep_share: 2}\n")
    assert "settlement.surplus.bands[0].keep_share" in message and "<= 1.0" in message


def test_choice_lists_the_allowed_values(tmp_path):
    message = error_of(tmp_path, "point_value:\n  basis: fund\n")
    assert "point_value.basis" in message and "allowed: total_cost, patient_share, fund_only" in message
    message = error_of(tmp_path, "points:\n  scheme: drg\n")
    assert "points.scheme" in message and "drg_points, drg_rate, dip" in message


def test_cross_field_checks(tmp_path):
    message = error_of(tmp_path, "settlement:\n  monthly_pay_ratio: 0.9\n  quality_deposit: 0.05\n")
    assert "settlement.quality_deposit" in message and "1 − monthly_pay_ratio" in message
    message = error_of(tmp_path, "budget:\n  split: shares\n  insurance_type_shares: {employee: 0.6, resident: 0.4}\n")
    assert "budget.split" in message and "by_insurance_type" in message
    message = error_of(tmp_path, "day_care:\n  window_h: 30\n  extended_h: 24\n")
    assert "day_care.extended_h" in message
    message = error_of(tmp_path, "budget:\n  split: shares\n  insurance_type_shares: {employee: 0.6, resident: 0.3}\n"
                                 "point_value: {by_insurance_type: true}\n")
    assert "budget.insurance_type_shares" in message and "add up to 1" in message


def test_not_yaml_and_not_a_mapping(tmp_path):
    message = error_of(tmp_path, "budget: [unclosed\n")
    assert "not valid YAML at line" in message
    message = error_of(tmp_path, "- a\n- b\n")
    assert "must be a mapping" in message
    message = error_of(tmp_path, "")
    assert "empty" in message
    with pytest.raises(ConfigError, match="not found"):
        load_policy(tmp_path / "missing.yaml")


def test_cli_exits_2_with_the_message(tmp_path, capsys):
    path = write(tmp_path, "point_value:\n  basis: fund\n")
    status = main(["settle", "--policy", str(path), "--input", str(tmp_path), "--output", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err
    assert "drgdip settle: error:" in err and "point_value.basis" in err and str(path) in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["yanbian_day_surgery_2025", "panzhihua_drg_day_care_2025"])
def test_day_stays_of_24_to_48_hours_need_a_documented_exception(name):
    """[YB], [PZH]: 24-48 h is for "special cases needing it", so a stay counts as one only with a true
    day_exception; without it the stay overran and becomes an ordinary inpatient stay."""
    from drgdip.budget.daycare import apply_day_care

    policy = load_policy(REPO / "data" / "policies" / f"{name}.yaml")
    assert policy.day_care.extended_needs_flag
    start = pd.Timestamp("2025-05-01 08:00")
    stays = pd.DataFrame({"case_id": ["a", "b"], "patient_id": ["P1", "P2"], "hospital_id": ["H1", "H1"],
                          "hospital_level": [3, 3], "care_type": ["day_surgery", "day_surgery"],
                          "admit_time": [start, start], "discharge_time": [start + pd.Timedelta(hours=30)] * 2,
                          "proc": ["47.0100", "47.0100"], "total_cost": [9000.0, 9000.0],
                          "fund_paid": [6000.0, 6000.0], "day_exception": ["Y", "N"]})
    status = apply_day_care(stays, policy.day_care).cases["day_care_status"].astype(str).tolist()
    assert status == ["extended", "converted"]
