"""Day care (日间医疗) rules and per-bed-day payment (budget.daycare, domain.md §8, §9)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drgdip.budget.daycare import apply_day_care, apply_day_payments
from drgdip.budget.policy import load_policy, policy_from_mapping
from drgdip.core.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
T0 = pd.Timestamp("2025-03-10 08:00")


def stay(case_id, care_type, hours, *, patient="P1", hospital="H1", level=3, start=T0, proc="47.0100",
         cost=10_000.0, fund=6_000.0, los=None, **extra):
    row = {"case_id": case_id, "patient_id": patient, "hospital_id": hospital, "hospital_level": level,
           "care_type": care_type, "admit_time": start, "discharge_time": start + pd.Timedelta(hours=hours),
           "proc": proc, "total_cost": cost, "fund_paid": fund,
           "los": los if los is not None else max(int(np.ceil(hours / 24)), 1)}
    row.update(extra)
    return row


@pytest.fixture(autouse=True, params=["frame", "csv", "parquet"])
def input_path(request, tmp_path, monkeypatch):
    """Every test runs on the stays as a DataFrame, as read back from CSV with pandas (text columns,
    times as text) and from Parquet with the narrow integer types ``drgdip synth`` writes."""
    monkeypatch.setattr(sys.modules[__name__], "INPUT_PATH", (request.param, tmp_path))
    return request.param


INPUT_PATH = ("frame", None)


def as_read(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as a user holds it after reading the file it came in (see :func:`input_path`)."""
    kind, directory = INPUT_PATH
    if kind == "csv":
        frame.to_csv(directory / "cases.csv", index=False)
        codes = ("case_id", "patient_id", "hospital_id", "care_type", "proc", "dx")
        return pd.read_csv(directory / "cases.csv", dtype={c: "str" for c in codes if c in frame.columns})
    if kind == "parquet":
        narrow = {c: t for c, t in (("los", "int16"), ("hospital_level", "int8")) if c in frame.columns
                  and not frame[c].isna().any()}
        frame.astype(narrow).to_parquet(directory / "cases.parquet", index=False)
        return pd.read_parquet(directory / "cases.parquet")
    return frame


def run(rows, outpatient=None, **rules):
    policy = policy_from_mapping({"day_care": rules})
    return apply_day_care(as_read(pd.DataFrame(rows)), policy.day_care, outpatient)


def column(result, name):
    return result.cases.set_index("case_id")[name].to_dict()


def test_day_surgery_windows():
    # [YB]: within 24 h valid; special cases within 48 h; longer -> ordinary inpatient stay
    result = run([stay("a", "day_surgery", 20), stay("b", "day_surgery", 30, patient="P2"),
                  stay("c", "day_surgery", 50, patient="P3"), stay("d", "inpatient", 100, patient="P4")])
    assert column(result, "day_care_status") == {"a": "valid", "b": "extended", "c": "converted", "d": ""}
    assert column(result, "care_type") == {"a": "day_surgery", "b": "day_surgery", "c": "inpatient",
                                           "d": "inpatient"}
    assert column(result, "settle_status") == {k: "ok" for k in "abcd"}
    assert result.counts == {"valid": 1, "extended": 1, "converted": 1}


def test_documented_exceptions_only_with_the_flag():
    rows = [stay("a", "day_chemo", 30, day_exception=True), stay("b", "day_chemo", 30, patient="P2",
                                                                 day_exception=False)]
    result = run(rows, extended_needs_flag=True)
    assert column(result, "day_care_status") == {"a": "extended", "b": "converted"}


def test_overrun_is_merged_with_the_following_ward_stay():
    day = stay("d", "day_surgery", 50, cost=8_000.0, fund=4_800.0, proc="47.0100")
    ward = stay("w", "inpatient", 72, start=T0 + pd.Timedelta(hours=60), cost=12_000.0, fund=7_200.0,
                proc="54.5100")
    other = stay("x", "inpatient", 72, patient="P2", start=T0 + pd.Timedelta(hours=60))
    result = run([day, ward, other])
    out = result.cases.set_index("case_id")
    assert out.loc["d", "settle_status"] == "merged" and out.loc["d", "merged_into"] == "w"
    assert out.loc["w", "total_cost"] == 20_000.0 and out.loc["w", "fund_paid"] == 12_000.0
    assert out.loc["w", "admit_time"] == T0 and out.loc["w", "proc"] == "47.0100|54.5100"
    assert bool(out.loc["w", "needs_regroup"]) and out.loc["w", "day_care_status"] == "absorbed_day_stay"
    assert out.loc["w", "los"] == 6
    assert out.loc["x", "total_cost"] == 10_000.0 and pd.isna(out.loc["x", "merged_into"])
    assert list(out.index) == ["d", "w", "x"]   # one row per input row, in order


def test_not_operated_day_surgery_goes_to_outpatient_rules():
    result = run([stay("a", "day_surgery", 5, proc=""), stay("b", "day_surgery", 5, patient="P2")],
                 no_procedure="outpatient")
    assert column(result, "settle_status") == {"a": "outpatient_rules", "b": "ok"}


def test_eligibility_by_hospital_level_and_category_switch():
    # [PZH]: chemotherapy only at tier-3 hospitals, TCM day care only at tier >= 2
    rows = [stay("a", "day_chemo", 6, level=2), stay("b", "day_chemo", 6, level=3, patient="P2"),
            stay("c", "tcm_day", 200, level=1, patient="P3"), stay("d", "day_surgery", 6, patient="P4")]
    result = run(rows, day_chemo={"min_hospital_level": 3}, tcm_day={"min_hospital_level": 2},
                 day_surgery={"enabled": False})
    assert column(result, "day_care_status") == {"a": "ineligible_level", "b": "valid", "c": "ineligible_level",
                                                 "d": "not_covered"}
    assert column(result, "care_type") == {"a": "inpatient", "b": "day_chemo", "c": "inpatient", "d": "inpatient"}


def test_rules_switched_off_leave_stays_alone():
    result = run([stay("a", "day_surgery", 60)], enabled=False)
    assert column(result, "care_type") == {"a": "day_surgery"} and column(result, "day_care_status") == {"a": ""}


def outpatient_bills():
    return pd.DataFrame({
        "visit_id": ["v1", "v2", "v3", "v4", "v5"],
        "patient_id": ["P1", "P1", "P1", "P1", "P1"],
        "hospital_id": ["H1", "H1", "H2", "H1", "H1"],
        "visit_time": [T0 - pd.Timedelta(days=3), T0 - pd.Timedelta(days=20), T0 - pd.Timedelta(days=2),
                       T0 + pd.Timedelta(hours=1), T0 - pd.Timedelta(days=13, hours=23)],
        "cost": [300.0, 500.0, 700.0, 900.0, 200.0],
        "related_case_id": ["a", "a", "a", "a", "a"],
    })


def test_preoperative_outpatient_costs_are_merged():
    # [YB]: related tests at the same hospital within 2 weeks before admission
    result = run([stay("a", "day_surgery", 6, cost=10_000.0, fund=6_000.0)], outpatient_bills(),
                 preop_merge={"enabled": True, "days": 14})
    out = result.cases.iloc[0]
    assert out["preop_cost"] == 500.0                      # v1 + v5: v2 too early, v3 other hospital, v4 after
    assert out["total_cost"] == 10_500.0 and out["fund_paid"] == pytest.approx(6_300.0)


def test_preoperative_merge_without_the_related_flag_takes_the_next_admission():
    bills = outpatient_bills().assign(related_case_id="")
    rows = [stay("a", "day_surgery", 6), stay("b", "day_surgery", 6, start=T0 + pd.Timedelta(days=30))]
    assert run(rows, bills, preop_merge={"enabled": True, "require_related": True}).cases["preop_cost"].sum() == 0
    result = run(rows, bills, preop_merge={"enabled": True, "require_related": False})
    assert column(result, "preop_cost") == {"a": 500.0, "b": 0.0}


def test_preoperative_merge_needs_the_outpatient_table():
    result = run([stay("a", "day_surgery", 6)], None, preop_merge={"enabled": True})
    assert result.cases["preop_cost"].iloc[0] == 0 and "no outpatient table" in result.warnings[0]


def day_ward_rules(**extra):
    return {"day_ward": {"enabled": True, **extra}, "in_pool": False}


def test_day_ward_fees_of_a_treatment_period():
    # §8 [JN]: tier-3 chemotherapy, 6 session days -> (20 + 19 + 13) × 6 = 312 yuan; radiotherapy: no fee
    rows = [stay("chemo", "day_ward", 24 * 40, los=6, proc="99.2500"),
            stay("radio", "day_ward", 24 * 40, los=6, proc="92.2400", patient="P2"),
            stay("tier2", "day_ward", 24 * 40, los=6, proc="99.2500", patient="P3", level=2),
            stay("tier1", "day_ward", 24 * 40, los=6, proc="99.2500", patient="P4", level=1)]
    result = run(rows, **day_ward_rules())
    assert column(result, "dayward_fee") == {"chemo": 312.0, "radio": 0.0, "tier2": 264.0, "tier1": 0.0}
    assert column(result, "day_care_status") == {"chemo": "period", "radio": "period", "tier2": "period",
                                                 "tier1": "ineligible_level"}
    assert column(result, "session_days") == {"chemo": 6, "radio": 6, "tier2": 6, "tier1": 0}


def test_day_ward_visits_become_one_stay_per_period():
    visits = [stay(f"v{k}", "day_ward", 6, start=T0 + pd.Timedelta(days=day), proc="99.2500", cost=2_000.0,
                   fund=1_400.0) for k, day in enumerate((0, 7, 14, 100))]
    result = run(visits, **day_ward_rules(period_max_days=90))
    out = result.cases.set_index("case_id")
    assert out["settle_status"].tolist() == ["ok", "merged", "merged", "ok"]
    assert out["merged_into"].fillna("").tolist() == ["", "v0", "v0", ""]
    assert out.loc["v0", "total_cost"] == 6_000.0 and out.loc["v0", "session_days"] == 3
    assert out.loc["v0", "discharge_time"] == T0 + pd.Timedelta(days=14, hours=6)
    assert out.loc["v0", "dayward_fee"] == 3 * 52.0 and out.loc["v3", "session_days"] == 1


def test_quota_minus_fee_difference():
    # [JN] old fixed-amount diseases: quota minus (normal-ward − day-ward) bed / nursing / consultation fees;
    # without a quota table the group standard (points × reference point value) stands in, when asked for
    rules = day_ward_rules(payment="quota_minus_fee", ward_fees={3: {"bed": 60, "nursing": 30, "consult": 20},
                                                                 2: {"bed": 40, "nursing": 20, "consult": 15}},
                           quota_fallback="group_points")
    result = run([stay("p", "day_ward", 24 * 30, los=5, proc="99.2500")], **rules)
    out = result.cases.iloc[0]
    assert out["fee_difference"] == (110 - 52) * 5 and out["day_care_payment"] == "quota_minus_fee"
    policy = policy_from_mapping({"day_care": rules})
    paid = apply_day_payments(result.cases.assign(case_points=[100.0]), policy.day_care, 50.0).iloc[0]
    assert paid["day_care_amount"] == 100 * 50 - 290
    assert paid["fixed_payment"] == pytest.approx((5000 - 290) * 0.6)


def test_day_payment_methods_in_and_out_of_the_point_pool():
    # [PZH]: surgery by DRG points, chemotherapy "by value", TCM per bed-day, all inside the point pool
    rows = [stay("s", "day_surgery", 6), stay("c", "day_chemo", 6, patient="P2", cost=8_000.0, fund=4_000.0),
            stay("t", "tcm_day", 24 * 9, patient="P3", los=10, cost=3_000.0, fund=2_100.0),
            stay("i", "inpatient", 100, patient="P4")]
    rules = {"day_chemo": {"payment": "value", "value_factor": 0.9},
             "tcm_day": {"payment": "bed_day", "daily_std": 260.0}}
    result = run(rows, **rules)
    assert column(result, "day_care_payment") == {"s": "points", "c": "value", "t": "bed_day", "i": "points"}
    points = result.cases.assign(case_points=[80.0, 50.0, 30.0, 120.0])
    inside = apply_day_payments(points, policy_from_mapping({"day_care": rules}).day_care, 100.0)
    assert inside["case_points"].tolist() == [80.0, 72.0, 26.0, 120.0]
    assert inside["fixed_payment"].isna().all()
    outside = apply_day_payments(points, policy_from_mapping({"day_care": {**rules, "in_pool": False}}).day_care,
                                 100.0)
    assert outside["fixed_payment"].tolist()[1:3] == [pytest.approx(7_200 * 0.5), pytest.approx(2_600 * 0.7)]
    assert np.isnan(outside["case_points"].tolist()[1]) and outside["case_points"].tolist()[0] == 80.0
    ffs = apply_day_payments(result.cases.assign(case_points=1.0, day_care_payment=["ffs", "", "", ""]),
                             policy_from_mapping({"day_care": {"in_pool": False}}).day_care, 100.0)
    assert ffs["fixed_payment"].iloc[0] == 6_000.0
    # in the point pool a stay paid by its rule needs a reference point value: the error names its row
    per_stay = np.array([100.0, np.nan, 100.0, 100.0])
    with pytest.raises(UsageError, match="reference point value") as error:
        apply_day_payments(points, policy_from_mapping({"day_care": rules}).day_care, per_stay)
    assert error.value.row == 2
    # a stay without a payment method of its own needs none, and keeps its points
    per_stay = np.array([100.0, 100.0, 100.0, np.nan])
    assert apply_day_payments(points, policy_from_mapping({"day_care": rules}).day_care, per_stay)[
        "case_points"].tolist() == [80.0, 72.0, 26.0, 120.0]


def test_unknown_care_type_names_row_and_field():
    with pytest.raises(UsageError, match=r"row 2, field 'care_type': unknown care type 'day_hospital'"):
        run([stay("a", "inpatient", 100), stay("b", "day_hospital", 5)])
    result = run([stay("a", "2", 5), stay("b", "日间化疗", 5, patient="P2")])
    assert column(result, "care_type") == {"a": "day_surgery", "b": "day_chemo"}


def test_bed_day_payment_of_the_hainan_policy():
    # §9: 45 days at 300 (days 1-30) and 250 (31-60) -> 9,000 + 3,750 = 12,750
    from drgdip.pointvalue import bed_day_payment
    policy = load_policy(REPO / "data" / "policies" / "hainan_province_2025.yaml")
    assert bed_day_payment([45], policy.points.bed_day.bedday_phases).tolist() == [12_750.0]
    assert bed_day_payment([100], policy.points.bed_day.bedday_phases).tolist() == [9_000 + 7_500 + 6_000]
