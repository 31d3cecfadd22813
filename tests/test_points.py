"""Case points (domain.md §4, §5, §7, §9): every worked example, each formula variant, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drgdip.core.errors import ConfigError, UsageError
from drgdip.pointvalue import (BedDayRules, HospitalCoefTable, OutlierRules, PointsPolicy, RemoteRules,
                        SpecialReviewRules, WeightTable, bed_day_payment, bed_day_points, case_points,
                        insured_pool, special_review_candidates, special_review_quota)
from drgdip.pointvalue.bedday import bed_day_fund_payment
from drgdip.pointvalue.rate import payment_standard


def table(rows, **kwargs):
    frame = pd.DataFrame(rows)
    return WeightTable(frame=frame, points_scale=kwargs.pop("points_scale", 1000.0), **kwargs)


def cases(costs, group="G", level=3, **columns):
    n = len(costs)
    frame = pd.DataFrame({"case_id": [f"c{i}" for i in range(n)], "dip_group": [group] * n,
                          "drg": [group] * n, "total_cost": costs, "hospital_id": ["H1"] * n,
                          "hospital_level": [level] * n})
    for name, values in columns.items():
        frame[name] = values
    return frame


DIP_G = table([{"group": "G", "base_points": 1000.0, "mean_cost": 10000.0}], all_case_mean=10000.0)


def dip_policy(**outliers):
    coefs = outliers.pop("coefs", {3: 1.0})
    return PointsPolicy(scheme="dip", outliers=OutlierRules(outlier_reference="group_mean", **outliers),
                        hospital_coef=HospitalCoefTable(by_level=coefs))


# ---------------------------------------------------------------------------------------------- §5.2

def test_dip_low_and_dip1_high_worked_examples_5_2():
    out = case_points(cases([4000, 25000, 10000]), DIP_G, dip_policy())
    assert out["cost_ratio"].tolist() == pytest.approx([0.4, 2.5, 1.0])
    assert out["outlier_class"].tolist() == ["low", "high", "normal"]
    assert out["final_points"].tolist() == pytest.approx([400.0, 1500.0, 1000.0])
    assert out["outlier_factor"].tolist() == pytest.approx([0.4, 1.5, 1.0])


def test_jining_high_and_extreme_worked_examples_5_2():
    policy = dip_policy(high_formula="jining", high_inclusive=False, low_inclusive=True, coefs_on_outliers=False,
                        coefs={3: 1.2})
    out = case_points(cases([25000, 60000, 10000, 5000]), DIP_G, policy)
    assert out["outlier_class"].tolist() == ["high", "extreme", "normal", "low"]
    # 1,000 × (0.5 + 1.2) = 1,700; extreme: 1,000 × 1.2 = 1,200
    assert out["final_points"].tolist() == pytest.approx([1700.0, 1200.0, 1200.0, 500.0])
    assert out["applied_hospital_coef"].tolist() == pytest.approx([1.0, 1.2, 1.2, 1.0])
    assert out["special_review_candidate"].tolist() == [True, True, False, False]


def test_low_with_standard_reference_is_cost_over_point_value():
    policy = PointsPolicy(scheme="dip", hospital_coef=HospitalCoefTable(by_level={3: 1.2}))
    assert policy.outliers.outlier_reference == "standard"
    out = case_points(cases([4800, 12000]), DIP_G, policy, point_value=10.0)
    assert out["reference_cost"].tolist() == pytest.approx([12000.0, 12000.0])
    assert out["final_points"].iloc[0] == pytest.approx(4800 / 10)       # score × coef × ratio
    assert out["final_points"].iloc[1] == pytest.approx(1200.0)
    with pytest.raises(UsageError, match="needs the budget point_value"):
        case_points(cases([4800]), DIP_G, policy)


@pytest.mark.parametrize("inclusive, expected", [(False, "normal"), (True, "low")])
def test_low_boundary_is_a_parameter(inclusive, expected):
    out = case_points(cases([5000]), DIP_G, dip_policy(low_inclusive=inclusive))
    assert out["outlier_class"].iloc[0] == expected


@pytest.mark.parametrize("inclusive, expected", [(True, "high"), (False, "normal")])
def test_high_boundary_is_a_parameter(inclusive, expected):
    out = case_points(cases([20000]), DIP_G, dip_policy(high_inclusive=inclusive))
    assert out["outlier_class"].iloc[0] == expected


def test_review_only_high_pays_standard_and_flags_review():
    out = case_points(cases([25000]), DIP_G, dip_policy(high_formula="review_only", coefs={3: 1.1}))
    assert out["outlier_class"].iloc[0] == "high"
    assert out["final_points"].iloc[0] == pytest.approx(1100.0)
    assert bool(out["special_review_candidate"].iloc[0])


def test_coefs_on_outliers_switch():
    on = case_points(cases([4000, 25000]), DIP_G, dip_policy(coefs={3: 1.2}))
    off = case_points(cases([4000, 25000]), DIP_G, dip_policy(coefs={3: 1.2}, coefs_on_outliers=False))
    assert on["final_points"].tolist() == pytest.approx([480.0, 1800.0])
    assert off["final_points"].tolist() == pytest.approx([400.0, 1500.0])


def test_extreme_band_can_be_disabled():
    out = case_points(cases([60000]), DIP_G, dip_policy(extreme_ratio=None))
    assert out["outlier_class"].iloc[0] == "high"
    assert out["final_points"].iloc[0] == pytest.approx(1000 * (6 - 2 + 1))


def test_extreme_band_is_a_dip_default_only():
    # §5.3 has no extreme band: a DRG stay at 5.1× its group's mean stays high (tiered), it does not
    # fall back to the base points as it did under the inherited DIP band (290 points at 4.9×, 100 at 5.1×)
    weights = table([{"group": "G", "base_points": 100.0, "mean_cost": 10000.0}], points_scale=100.0,
                    all_case_mean=10000.0)
    drg = PointsPolicy(scheme="drg_points")
    assert drg.outliers.extreme_ratio is None
    out = case_points(cases([49000, 51000]), weights, drg)
    assert out["outlier_class"].tolist() == ["high", "high"]
    assert out["final_points"].tolist() == pytest.approx([100 + 1.9 * 100, 100 + 2.1 * 100])
    assert PointsPolicy(scheme="dip").outliers.extreme_ratio == 5.0
    assert PointsPolicy(scheme="dip", outliers=OutlierRules(extreme_ratio=None)).outliers.extreme_ratio is None
    explicit = PointsPolicy(scheme="drg_points", outliers=OutlierRules(extreme_ratio=5.0))
    assert case_points(cases([51000]), weights, explicit)["outlier_class"].iloc[0] == "extreme"


# ---------------------------------------------------------------------------------------------- §5.3

def test_drg_tiered_high_worked_example_5_3():
    weights = table([{"group": "M1", "base_points": 250.0, "mean_cost": 10000.0},
                     {"group": "L1", "base_points": 80.0, "mean_cost": 10000.0},
                     {"group": "H1", "base_points": 400.0, "mean_cost": 10000.0}], points_scale=100.0,
                    all_case_mean=10000.0)
    policy = PointsPolicy(scheme="drg_points")
    assert policy.outliers.high_formula == "drg_tiered"
    frame = pd.DataFrame({"case_id": list("abcdef"), "drg": ["M1", "M1", "L1", "L1", "H1", "M1"],
                          "total_cost": [30000, 19000, 29000, 30000, 15000, 4000], "hospital_level": 3})
    out = case_points(frame, weights, policy)
    # base 250, ratio 3.0, threshold 2 -> 250 + 250 = 500
    assert out["final_points"].iloc[0] == pytest.approx(500.0)
    assert out["outlier_class"].tolist() == ["high", "normal", "normal", "high", "high", "low"]
    assert out["final_points"].iloc[3] == pytest.approx(80.0)          # base <= 100: threshold 3
    assert out["final_points"].iloc[4] == pytest.approx(400.0)         # base > 300: threshold 1.5
    assert out["final_points"].iloc[5] == pytest.approx(250 * 0.4)     # low <= 0.4: base × ratio


def test_drg_tiered_includes_hospital_coef_once():
    weights = table([{"group": "M1", "base_points": 250.0, "mean_cost": 10000.0}], points_scale=100.0)
    policy = PointsPolicy(scheme="drg_points", hospital_coef=HospitalCoefTable(by_level={3: 1.1}))
    out = case_points(cases([30000, 10000], group="M1"), weights, policy)
    assert out["final_points"].tolist() == pytest.approx([250 * 1.1 + 250 * 1.0, 275.0])


# ---------------------------------------------------------------------------------------------- §4

def test_dip_worked_case_4_5():
    weights = table([{"group": "G", "base_points": 1225.0, "mean_cost": 12250.0}])
    policy = dip_policy(coefs={3: 1.2})
    out = case_points(cases([14000], aux_coef=[1.5]), weights, policy)
    assert out["outlier_class"].iloc[0] == "normal"
    assert round(out["final_points"].iloc[0], 2) == 2205.00
    assert float(payment_standard(1225, 10.0, 1.2, 1.5)) == pytest.approx(22050.0)
    # the reference follows the subtype: mean × aux
    assert out["reference_cost"].iloc[0] == pytest.approx(12250.0 * 1.5)


def test_coefficient_one_everywhere_reproduces_base_points():
    out = case_points(cases([9000, 11000, 15000]), DIP_G, dip_policy())
    assert out["final_points"].tolist() == pytest.approx(out["base_points"].tolist())


def test_basic_group_coefficient_modes():
    weights = table([{"group": "B", "base_points": 500.0, "mean_cost": 5000.0, "is_basic": True,
                      "basic_coef": 0.95},
                     {"group": "G", "base_points": 1000.0, "mean_cost": 10000.0}])
    frame = pd.DataFrame({"case_id": ["a", "b", "c"], "dip_group": ["B", "B", "G"], "total_cost": [5000, 5000, 10000],
                          "hospital_level": [3, 1, 3]})
    levels = {3: 1.2, 2: 1.0, 1: 0.8}
    for mode, expected in [("one", [500.0, 500.0]), ("secondary_level", [500.0, 500.0]),
                           ("per_group", [475.0, 475.0])]:
        policy = PointsPolicy(scheme="dip", outliers=OutlierRules(outlier_reference="group_mean"),
                              hospital_coef=HospitalCoefTable(by_level=levels, basic_group_coef_mode=mode))
        out = case_points(frame, weights, policy)
        assert out["final_points"].iloc[:2].tolist() == pytest.approx(expected), mode
        assert out["final_points"].iloc[2] == pytest.approx(1200.0)
        assert out["hospital_level_coef"].tolist() == pytest.approx([1.2, 0.8, 1.2])
        assert np.isnan(out["basic_group_coef"].iloc[2])
    hainan = HospitalCoefTable(by_level={3: 1.2, 2: 0.9, 1: 0.8}, basic_group_coef_mode="secondary_level")
    out = case_points(frame, weights, PointsPolicy(scheme="dip", outliers=OutlierRules(outlier_reference="group_mean"),
                                                   hospital_coef=hainan))
    assert out["final_points"].iloc[:2].tolist() == pytest.approx([450.0, 450.0])


def test_per_hospital_override_and_missing_levels():
    policy = PointsPolicy(scheme="dip", outliers=OutlierRules(outlier_reference="group_mean"),
                          hospital_coef=HospitalCoefTable(by_level={3: 1.2, 2: 1.0}, by_hospital={"H9": 1.35}))
    frame = cases([10000, 10000], level=3)
    frame.loc[1, "hospital_id"] = "H9"
    out = case_points(frame, DIP_G, policy)
    assert out["final_points"].tolist() == pytest.approx([1200.0, 1350.0])
    with pytest.raises(UsageError, match=r"row 1, field 'hospital_level'.*level 1"):
        case_points(cases([10000], level=1), DIP_G, policy)


# ---------------------------------------------------------------------------------------------- §7

def test_remote_coefficient_worked_example_7():
    weights = table([{"group": "G", "base_points": 1200.0, "mean_cost": 12000.0}])
    policy = PointsPolicy(scheme="dip", outliers=OutlierRules(outlier_reference="group_mean"),
                          remote=RemoteRules(remote_coef=0.95))
    frame = cases([12000, 12000, 12000], region=["370800"] * 3, insured_region=["370900", "370800", "110100"])
    out = case_points(frame, weights, policy)
    assert out["pool"].tolist() == ["remote_in_province", "local", "remote_out_of_province"]
    assert out["final_points"].tolist() == pytest.approx([1140.0, 1200.0, 1200.0])
    # 1,200 × 1.0 × 0.95 × PV 9.8 × fund ratio 0.65 = 7,261.8 (the money side is the budget's)
    assert round(out["final_points"].iloc[0] * 9.8 * 0.65, 2) == 7261.80
    assert insured_pool(pd.Series(["11", "11"]), pd.Series([None, ""])).tolist() == ["local", "local"]


# ---------------------------------------------------------------------------------------------- §3.1 blank

def test_ungrouped_cases_use_the_blank_group_rule():
    policy = dip_policy(coefs={3: 1.2})
    frame = cases([5000, 20000, 10000])
    frame.loc[0, "dip_group"] = None
    frame.loc[1, "dip_group"] = "UNKNOWN"
    frame["dip_type"] = ["ungrouped", "core", "core"]
    out = case_points(frame, DIP_G, policy)
    assert out["outlier_class"].tolist() == ["ungrouped", "ungrouped", "normal"]
    # scale × cost / all-case mean × 0.7, no coefficient
    assert out["final_points"].tolist() == pytest.approx([350.0, 1400.0, 1200.0])
    assert out["applied_hospital_coef"].iloc[:2].tolist() == [1.0, 1.0]
    with_coefs = dip_policy(coefs={3: 1.2}, blank_group_coefs=True)
    assert case_points(frame, DIP_G, with_coefs)["final_points"].iloc[0] == pytest.approx(420.0)


def test_drg_status_other_than_ok_is_ungrouped():
    weights = table([{"group": "AB1", "base_points": 100.0, "mean_cost": 10000.0}], points_scale=100.0,
                    all_case_mean=10000.0)
    frame = pd.DataFrame({"case_id": ["a", "b"], "drg": ["AB1", "0000"], "status": ["ok", "no_group"],
                          "total_cost": [10000, 20000], "hospital_level": 3})
    out = case_points(frame, weights, PointsPolicy(scheme="drg_points"))
    assert out["outlier_class"].tolist() == ["normal", "ungrouped"]
    assert out["final_points"].tolist() == pytest.approx([100.0, 140.0])


# ---------------------------------------------------------------------------------------------- §9

def test_bed_day_worked_example_9():
    rules = BedDayRules(bedday_phases=[[1, 30, 300], [31, 60, 250]], groups=("PSY",))
    assert bed_day_payment([45], rules.bedday_phases).tolist() == [12750.0]
    assert bed_day_payment([0, 10, 30, 31, 60, 90], rules.bedday_phases).tolist() == \
        [0.0, 3000.0, 9000.0, 9250.0, 16500.0, 16500.0]
    assert bed_day_points([45], rules, 10000.0, 100.0).tolist() == pytest.approx([127.5])
    policy = PointsPolicy(scheme="drg_points", bed_day=rules)
    weights = table([{"group": "PSY", "base_points": 50.0, "mean_cost": 5000.0}], points_scale=100.0,
                    all_case_mean=10000.0)
    out = case_points(cases([13000], group="PSY", los=[45]), weights, policy)
    assert out["outlier_class"].iloc[0] == "bed_day"
    assert out["final_points"].iloc[0] == pytest.approx(127.5)
    assert out["reference_cost"].iloc[0] == pytest.approx(12750.0)
    assert out["fund_part_points"].iloc[0] == 0.0   # no fund shares: the standard is a cost standard
    capped = BedDayRules(bedday_phases=[[1, 30, 300]], pay_actual_if_below=True)
    assert bed_day_payment([10], capped.bedday_phases, [2000.0], True).tolist() == [2000.0]


def test_bed_day_points_count_the_funds_share_of_each_phase():
    # §9 [SS]: the fund pays fund_share of each phase's daily standard: 45 days at 300 × 0.8 (days 1-30)
    # and 250 × 0.6 (31-60) -> 7,200 + 2,250 = 9,450 of the 12,750 standard
    rules = BedDayRules(bedday_phases=[[1, 30, 300, 0.8], [31, 60, 250, 0.6]], groups=("PSY",))
    assert bed_day_payment([45], rules.bedday_phases).tolist() == [12750.0]
    assert bed_day_fund_payment([45], rules.bedday_phases).tolist() == [9450.0]
    assert bed_day_points([45], rules, 10000.0, 100.0).tolist() == pytest.approx([94.5])
    weights = table([{"group": "PSY", "base_points": 50.0, "mean_cost": 5000.0}], points_scale=100.0,
                    all_case_mean=10000.0)
    out = case_points(cases([13000], group="PSY", los=[45]), weights, PointsPolicy(scheme="drg_points",
                                                                                   bed_day=rules))
    assert out["final_points"].iloc[0] == pytest.approx(94.5)
    assert out["fund_part_points"].iloc[0] == pytest.approx(94.5)
    assert out["reference_cost"].iloc[0] == pytest.approx(12750.0)   # the whole standard
    # paid at cost under the standard: the fund keeps its share of what is paid
    assert bed_day_fund_payment([45], rules.bedday_phases, [6375.0], True).tolist() == [4725.0]


def test_acute_phase_per_disease_and_later_phases_per_bed_day():
    # [HN §6.2.3]: acute phase per disease (group points), stable phase per bed-day
    rules = BedDayRules(bedday_phases=[[1, 30, 300, 0.8], [31, 60, 250, 0.6], [61, 90, 200, 0.5]],
                        groups=("PSY",), acute_phase="points")
    policy = PointsPolicy(scheme="drg_points", bed_day=rules, hospital_coef=HospitalCoefTable(by_level={3: 1.2}))
    weights = table([{"group": "PSY", "base_points": 50.0, "mean_cost": 5000.0}], points_scale=100.0,
                    all_case_mean=10000.0)
    frame = cases([5000, 30000, 20000, 20000], group="PSY", los=[30, 30, 45, 70])
    frame.loc[3, ["drg", "dip_group"]] = "UNKNOWN"
    frame["payment_method"] = ["", "", "", "bed_day"]
    out = case_points(frame, weights, policy)
    assert out["outlier_class"].tolist() == ["normal", "high", "bed_day", "bed_day"]
    assert out["final_points"].iloc[0] == pytest.approx(50 * 1.2)            # within the acute phase
    # 45 days: 50 × 1.2 for the acute phase + 15 days × 250 × 0.6 = 2,250 yuan = 22.5 points
    assert out["final_points"].iloc[2] == pytest.approx(60 + 22.5)
    assert out["base_points"].iloc[2] == 50 and out["applied_hospital_coef"].iloc[2] == pytest.approx(1.2)
    assert out["outlier_factor"].iloc[2] == pytest.approx(1 + 22.5 / 60)
    assert out["reference_cost"].iloc[2] == pytest.approx(5000 + 15 * 250)
    # no group, so no per-disease payment: every day per bed-day (7,200 + 4,500 + 1,000 = 12,700)
    assert out["final_points"].iloc[3] == pytest.approx(127.0)
    # the bed-day points are the fund's part already; the acute phase's group points are not
    assert out["fund_part_points"].tolist() == pytest.approx([0.0, 0.0, 22.5, 127.0])
    with pytest.raises(ConfigError, match="acute_phase 'points' pays the first phase"):
        BedDayRules(bedday_phases=[[1, 30, 300]], acute_phase="points")


def test_fund_shares_are_given_for_every_phase_or_for_none():
    with pytest.raises(ConfigError, match=r"bedday_phases\[1\]\.fund_share: give a fund_share for every phase"):
        BedDayRules(bedday_phases=[[1, 30, 300, 0.8], [31, 60, 250]])
    assert not BedDayRules(bedday_phases=[[1, 30, 300], [31, 60, 250]]).fund_shares


# ---------------------------------------------------------------------------------------------- §5.4

def test_special_review_quota_worked_example_5_4():
    assert special_review_quota(200_000, PointsPolicy(scheme="dip")) == 1000
    assert special_review_quota(200_000, PointsPolicy(scheme="drg_points")) == 10_000


def test_special_review_approvals_candidates_and_quota():
    policy = PointsPolicy(scheme="dip", outliers=OutlierRules(outlier_reference="group_mean"),
                          special_review=SpecialReviewRules(special_quota=0.25))
    frame = cases([10000, 25000, 40000, 9000, 30000, 10000, 10000, 10000])
    out = case_points(frame, DIP_G, policy)
    candidates = special_review_candidates(out, policy)
    assert candidates["case_id"].tolist() == ["c2", "c4", "c1"]
    assert candidates["reason"].tolist() == ["high", "high", "high"]
    approved = pd.DataFrame({"case_id": ["c2", "c4"], "approved_points": [np.nan, 2800.0]})
    out = case_points(frame, DIP_G, policy, approved=approved)
    assert out["outlier_class"].iloc[[2, 4]].tolist() == ["special_review", "special_review"]
    assert out["final_points"].iloc[2] == pytest.approx(4000.0)   # by item: ratio × score
    assert out["final_points"].iloc[4] == pytest.approx(2800.0)
    assert out["review_status"].iloc[[2, 4]].tolist() == ["approved", "approved"]
    # quota: floor(0.25 × 8) = 2
    with pytest.raises(UsageError, match="quota is 2"):
        case_points(frame, DIP_G, policy, approved=["c1", "c2", "c4"])
    ranked = PointsPolicy(scheme="dip", outliers=OutlierRules(outlier_reference="group_mean"),
                          special_review=SpecialReviewRules(special_quota=0.25, quota_excess="rank"))
    out = case_points(frame, DIP_G, ranked, approved=["c1", "c2", "c4"])
    assert out["review_status"].iloc[[1, 2, 4]].tolist() == ["over_quota", "approved", "approved"]
    assert out["outlier_class"].iloc[1] == "high"
    with pytest.raises(UsageError, match="below special_min_ratio"):
        case_points(frame, DIP_G, policy, approved=["c3"])
    with pytest.raises(UsageError, match="not in the cases"):
        case_points(frame, DIP_G, policy, approved=["nope"])


# ---------------------------------------------------------------------------------------------- references

def test_same_level_and_score_factor_references():
    weights = table([{"group": "G", "base_points": 1000.0, "mean_cost": 10000.0, "mean_cost_level_3": 12500.0}])
    frame = cases([24000, 24000], level=3)
    frame.loc[1, "hospital_level"] = 2
    policy = PointsPolicy(scheme="dip", outliers=OutlierRules(outlier_reference="same_level_mean"),
                          hospital_coef=HospitalCoefTable(by_level={3: 1.0, 2: 1.0}))
    out = case_points(frame, weights, policy)
    assert out["reference_cost"].tolist() == pytest.approx([12500.0, 10000.0])
    assert out["outlier_class"].tolist() == ["normal", "high"]
    factor = PointsPolicy(scheme="dip", outliers=OutlierRules(outlier_reference="score_x_factor",
                                                              reference_factor=8.0))
    out = case_points(cases([4000]), weights, factor)
    assert out["reference_cost"].iloc[0] == pytest.approx(8000.0)
    assert out["cost_ratio"].iloc[0] == pytest.approx(0.5)


def test_point_value_per_insurance_type():
    policy = PointsPolicy(scheme="dip")
    frame = cases([5000, 5000], insurance_type=["310", "390"])
    out = case_points(frame, DIP_G, policy, point_value={"310": 10.0, "390": 5.0})
    assert out["reference_cost"].tolist() == pytest.approx([10000.0, 5000.0])
    assert out["outlier_class"].tolist() == ["normal", "normal"]
    with pytest.raises(UsageError, match="no point value for insurance type"):
        case_points(frame, DIP_G, policy, point_value={"310": 10.0})


# ---------------------------------------------------------------------------------------------- contract

def test_breakdown_columns_order_and_identity():
    from drgdip.pointvalue import BREAKDOWN_COLUMNS
    frame = cases([3000, 10000, 30000, 80000], aux_coef=[1.0, 1.3, 1.0, 1.0], other_coef=[1.0, 1.0, 1.1, 1.0])
    out = case_points(frame, DIP_G, dip_policy(coefs={3: 1.2}))
    assert tuple(out.columns) == BREAKDOWN_COLUMNS
    assert out["case_id"].tolist() == frame["case_id"].tolist()
    product = (out["base_points"] * out["outlier_factor"] * out["applied_hospital_coef"] * out["aux_coef"]
               * out["remote_coef"] * out["other_coef"])
    np.testing.assert_allclose(out["final_points"], product, rtol=1e-12)


def test_input_errors_name_row_and_field(tmp_path):
    with pytest.raises(UsageError, match=r"row 2, field 'total_cost'"):
        case_points(cases([100, float("nan")]), DIP_G, dip_policy())
    path = tmp_path / "cases.csv"
    cases([100, 200]).drop(columns="total_cost").to_csv(path, index=False)
    with pytest.raises(UsageError, match=r"cases.csv.*field 'total_cost'"):
        case_points(path, DIP_G, dip_policy())
    cases([100, 200]).to_csv(path, index=False)
    assert len(case_points(path, DIP_G, dip_policy())) == 2
    no_mean = table([{"group": "G", "base_points": 1000.0}])
    with pytest.raises(UsageError, match="needs the mean_cost column"):
        case_points(cases([100]), no_mean, dip_policy())


def test_pools_of_categorical_regions_equal_those_of_text():
    from drgdip.pointvalue.coefs import pool_codes

    region = pd.Series(["370800", "370800", "370900", None, "370800"])
    insured = pd.Series(["370800", "370900", "110100", "370800", None])
    text = pool_codes(region, insured)
    categorical = pool_codes(region.astype(pd.CategoricalDtype(["999999", "370900", "370800"])),
                             insured.astype("category"))
    assert text.tolist() == categorical.tolist() == [0, 1, 2, 0, 0]
