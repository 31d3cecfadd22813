"""Settlement money (budget.settle): the worked examples of domain.md §6 and invariants to the fen.

Rounding rule, stated precisely (budget.money): every amount is integer fen; money shared by
points uses the largest-remainder method twice (pool → hospitals, hospital → stays), so each
hospital's fund due is within 1 fen of its exact quota and each stay within 2 fen. Hence:

* conservation: per pooling area, Σ final payments + reserve at year end = total budget, exactly;
* doubling the budget (total-cost or fund-only basis, no fixed payments, no point-value bounds)
  gives every hospital a fund due within 5 fen of twice its amount and every stay within 7 fen
  (within 2 and 5 fen with one pool per area and no reserve);
* a hospital whose own points rise never gets a fund due more than 1 fen lower (one pool); its final
  payment (no reserve cap) never falls by more than 2 fen while its surplus / overspend stays inside
  one band of a ``whole`` scheme, or anywhere under a ``tiered`` scheme whose shares do not increase
  from band to band. (Band limits are percentages of the fund due, so a tiered scheme whose higher band
  has a higher fund share can lower the payment as the fund due rises: the lower, cheaper band widens.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from drgdip.budget.policy import policy_from_mapping
from drgdip.budget.settle import settle_cases
from drgdip.core.errors import UsageError


def fen(values) -> np.ndarray:
    return np.rint(np.asarray(values, dtype=np.float64) * 100).astype(np.int64)


def frame(rows, **extra) -> pd.DataFrame:
    """Cases from (case_id, hospital_id, total_cost, fund_paid, case_points) tuples."""
    data = pd.DataFrame(rows, columns=["case_id", "hospital_id", "total_cost", "fund_paid", "case_points"])
    data["region"] = extra.pop("region", "510400")
    for key, value in extra.items():
        data[key] = value
    return data


# ------------------------------------------------------------------------------- worked examples

def test_budget_by_growth_and_reserve():
    # §6.1: 850 M × 1.05 = 892.5 M; 5 % reserve -> 847.875 M distributable
    policy = policy_from_mapping({"budget": {"method": "growth", "last_year_fund": 850e6, "growth_rate": 0.05,
                                             "reserve_share": 0.05}})
    result = settle_cases(frame([("a", "H1", 1000.0, 600.0, 10.0)]), policy)
    row = result.summary.iloc[0]
    assert row["budget_total"] == 892_500_000.00
    assert row["reserve_start"] == 44_625_000.00
    assert row["distributable"] == 847_875_000.00
    assert fen(row["final_payments"]) + fen(row["reserve_end"]) == fen(892_500_000)


def test_budget_by_share_and_by_items():
    share = policy_from_mapping({"budget": {"method": "share", "inpatient_fund_budget": 1e9,
                                            "last_year_share": 0.8, "reserve_share": 0.0}})
    items = policy_from_mapping({"budget": {"method": "items", "inpatient_fund_budget": 1e9, "items_reserve": 5e7,
                                            "items_remote": 1e8, "items_other": 5e7, "reserve_share": 0.0}})
    cases = frame([("a", "H1", 1000.0, 600.0, 10.0)])
    assert settle_cases(cases, share).summary["budget_total"].iloc[0] == 800_000_000
    assert settle_cases(cases, items).summary["budget_total"].iloc[0] == 800_000_000


def dip_900m(**settlement) -> tuple[pd.DataFrame, object]:
    """§6.2 / §6.3: DIP fund 900 M, fund ratio 0.6, total score 150 M, hospital H1 with 1.5 M points."""
    policy = policy_from_mapping({"year": 2025, "points": {"scheme": "dip"},
                                  "budget": {"method": "amount", "amount": 900e6, "reserve_share": 0.0},
                                  "settlement": settlement})
    cases = frame([("a", "H1", 15e6, 9e6, 1.5e6), ("b", "H2", 500e6, 300e6, 50e6),
                   ("c", "H3", 985e6, 591e6, 98.5e6)], month=[1, 2, 3])
    return cases, policy


def test_settlement_point_value():
    # §6.2: (900 M / 0.6) / 150 M points = 10.00 yuan per point
    cases, policy = dip_900m()
    pools = settle_cases(cases, policy).pools
    assert pools["fund_ratio"].iloc[0] == pytest.approx(0.6)
    assert pools["settlement_point_value"].iloc[0] == pytest.approx(10.0)


def test_budget_point_value_from_three_years_of_history():
    # §6.2: costs 1,300 / 1,400 / 1,500 M, scores 140 / 145 / 150 M at 1:2:7 -> 1,460 / 148 = 9.86
    cases, policy = dip_900m()
    history = pd.DataFrame({
        "case_id": ["x", "y", "z"], "hospital_id": ["H1", "H1", "H1"], "region": "510400",
        "year": [2022, 2023, 2024], "total_cost": [1300e6, 1400e6, 1500e6], "fund_paid": [780e6, 840e6, 900e6],
        "case_points": [140e6, 145e6, 150e6]})
    pools = settle_cases(cases, policy, history=history).pools
    assert pools["budget_point_value"].iloc[0] == pytest.approx(1460 / 148)
    assert round(pools["budget_point_value"].iloc[0], 2) == 9.86
    assert pools["budget_point_value_source"].iloc[0] == "history"


def test_hospital_annual_amount():
    # §6.3: 1,500,000 points × 10 × 0.6 × 0.98 − 200,000 = 8,620,000
    cases, policy = dip_900m(assessment_by_hospital={"H1": 0.98})
    deductions = pd.DataFrame({"hospital_id": ["H1"], "amount": [200_000.0]})
    hospitals = settle_cases(cases, policy, deductions=deductions).hospitals.set_index("hospital_id")
    assert hospitals.loc["H1", "fund_due"] == 9_000_000.00
    assert hospitals.loc["H1", "assessment_withheld"] == 180_000.00
    assert hospitals.loc["H1", "fund_due_assessed"] == 8_620_000.00


def test_hospital_coefficient_from_the_hospitals_table_wins():
    cases, policy = dip_900m(assessment_by_hospital={"H1": 0.98})
    table = pd.DataFrame({"hospital_id": ["H1"], "name": ["第一医院"], "level": [3], "assessment_coef": [0.95]})
    hospitals = settle_cases(cases, policy, hospitals=table).hospitals.set_index("hospital_id")
    assert hospitals.loc["H1", "assessment_coef"] == 0.95 and hospitals.loc["H1", "name"] == "第一医院"
    assert hospitals.loc["H1", "fund_due_assessed"] == 8_550_000.00


def test_monthly_prepayment():
    # §6.4: 800 RW × 10,000 − 2.8 M = 5.2 M; × 0.9 − 30,000 = 4.65 M (1 RW = 100 points, rate = PV 100)
    policy = policy_from_mapping({"year": 2025, "budget": {"method": "amount", "amount": 6e6, "reserve_share": 0},
                                  "point_value": {"basis": "patient_share", "budget_point_value": 100.0},
                                  "settlement": {"monthly_pay_ratio": 0.9}})
    cases = frame([("a", "H1", 6e6, 4.2e6, 50_000.0), ("b", "H1", 4e6, 3.0e6, 30_000.0)], month=[3, 3])
    deductions = pd.DataFrame({"hospital_id": ["H1"], "amount": [30_000.0], "month": [3]})
    result = settle_cases(cases, policy, deductions=deductions)
    monthly = result.monthly.set_index("month")
    assert monthly.loc[3, "prepayment"] == 4_650_000.00
    # year-end clearing = annual amount − Σ prepayments − revolving fund (§6.5)
    h = result.hospitals.iloc[0]
    assert fen(h["clearing_payment"]) == fen(h["final_payment"]) - fen(h["prepaid"]) - fen(h["revolving_fund"])
    assert h["final_payment"] == 6e6 - 30_000


def test_year_end_clearing_with_revolving_fund():
    policy = policy_from_mapping({"year": 2025, "budget": {"method": "amount", "amount": 1.2e6, "reserve_share": 0},
                                  "point_value": {"budget_point_value": 10.0},
                                  "settlement": {"monthly_pay_ratio": 0.9, "prepay_fund_months": 1}})
    cases = frame([("a", "H1", 1e6, 0.6e6, 100_000.0), ("b", "H1", 1e6, 0.6e6, 100_000.0)], month=[1, 7])
    h = settle_cases(cases, policy).hospitals.iloc[0]
    assert h["prepaid"] == 2 * 100_000 * 10 * 0.6 * 0.9
    assert h["revolving_fund"] == 100_000.00          # one month of the year's 1.2 M fund
    assert h["clearing_payment"] == 1.2e6 - 1.08e6 - 100_000


@pytest.mark.parametrize("ffs, kept, shared, final", [
    (8_000_000.0, 620_000.0, 0.0, 8_620_000.0),          # surplus kept in full
    (9_200_000.0, 0.0, 290_000.0, 8_910_000.0),          # overspend 6.7 %, band <= 10 % -> fund pays 50 %
])
def test_surplus_retention_and_overspend_sharing(ffs, kept, shared, final):
    # §6.6: fund due 8.62 M against a fee-for-service fund of 8.0 M or 9.2 M (half the budget is reserve)
    policy = policy_from_mapping({
        "budget": {"method": "amount", "amount": 8.62e6 * 2, "reserve_share": 0.5},
        "settlement": {"surplus": {"bands": [{"upto_pct": None, "keep_share": 1.0}]},
                       "overspend": {"bands": [{"upto_pct": 0.10, "fund_share": 0.5},
                                               {"upto_pct": None, "fund_share": 0.0}]}}})
    cases = frame([("a", "H1", ffs / 0.6, ffs, 1000.0)])
    h = settle_cases(cases, policy).hospitals.iloc[0]
    assert h["fund_due_assessed"] == 8_620_000.00
    assert (h["surplus_kept"], h["overspend_shared"], h["final_payment"]) == (kept, shared, final)


def test_overspend_sharing_is_limited_to_the_reserve():
    policy = policy_from_mapping({
        "budget": {"method": "amount", "amount": 1e6, "reserve_share": 0.01},
        "settlement": {"overspend": {"bands": [{"upto_pct": None, "fund_share": 1.0}]},
                       "overspend_within_reserve": True}})
    cases = frame([("a", "H1", 3e6, 2e6, 10.0), ("b", "H2", 3e6, 1e6, 10.0)])
    result = settle_cases(cases, policy)
    row = result.summary.iloc[0]
    assert row["overspend_shared"] == 10_000.00 and row["reserve_end"] == 0.0
    assert any("reserve" in w for w in result.warnings)


def test_point_value_floor_takes_money_from_the_reserve():
    policy = policy_from_mapping({"budget": {"method": "amount", "amount": 1000.0, "reserve_share": 0.2},
                                  "point_value": {"basis": "fund_only", "budget_point_value": 10.0, "floor": 0.9}})
    result = settle_cases(frame([("a", "H1", 1000.0, 1000.0, 100.0)]), policy)
    pool = result.pools.iloc[0]
    assert pool["settlement_point_value"] == 8.0 and pool["effective_point_value"] == 9.0
    assert result.hospitals["fund_due"].iloc[0] == 900.0
    assert result.summary["reserve_end"].iloc[0] == 100.0


def test_elastic_budget_caps_the_floating_part():
    # 80 % of every point at the budget PV 10, the floating part capped at 1.1 × 10
    policy = policy_from_mapping({"budget": {"method": "amount", "amount": 1500.0, "reserve_share": 0.0},
                                  "point_value": {"basis": "fund_only", "budget_point_value": 10.0,
                                                  "elastic_base_share": 0.8, "cap": 1.1}})
    pool = settle_cases(frame([("a", "H1", 1000.0, 1000.0, 100.0)]), policy).pools.iloc[0]
    assert pool["settlement_point_value"] == 15.0
    assert pool["effective_point_value"] == pytest.approx(0.8 * 10 + 0.2 * 11)


def test_point_values_per_insurance_type():
    policy = policy_from_mapping({"budget": {"method": "amount", "amount": 3000.0, "reserve_share": 0.0,
                                             "split": "shares",
                                             "insurance_type_shares": {"employee": 2 / 3, "resident": 1 / 3}},
                                  "point_value": {"basis": "fund_only", "by_insurance_type": True}})
    cases = frame([("a", "H1", 100.0, 80.0, 100.0), ("b", "H1", 100.0, 60.0, 100.0)],
                  insurance_type=["310", "390"])
    pools = settle_cases(cases, policy).pools.set_index("insurance_type")
    assert pools.loc["employee", "effective_point_value"] == 20.0
    assert pools.loc["resident", "effective_point_value"] == 10.0


def test_fixed_payments_are_paid_before_the_points_are_valued():
    policy = policy_from_mapping({"budget": {"method": "amount", "amount": 1000.0, "reserve_share": 0.0},
                                  "point_value": {"basis": "fund_only"}})
    cases = frame([("a", "H1", 300.0, 300.0, np.nan), ("b", "H2", 100.0, 100.0, 70.0)],
                  fixed_payment=[300.0, np.nan])
    result = settle_cases(cases, policy)
    assert result.pools["effective_point_value"].iloc[0] == 10.0
    assert result.cases["payment"].tolist() == [300.0, 700.0]


def test_stays_outside_the_budget_keep_their_rows():
    policy = policy_from_mapping({"budget": {"method": "amount", "amount": 1000.0, "reserve_share": 0.0},
                                  "regions": ["510400"]})
    cases = frame([("a", "H1", 100.0, 60.0, 10.0), ("b", "H1", 100.0, 60.0, 10.0), ("c", "H2", 100.0, 60.0, 10.0),
                   ("d", "H1", 100.0, 60.0, np.nan), ("e", "H1", 100.0, 60.0, 10.0)],
                  insured_region=["510400", "440100", "510400", "510400", "510400"],
                  region=["510400", "510400", "510500", "510400", "510400"],
                  settle_status=["ok", "ok", "ok", "ok", "merged"])
    result = settle_cases(cases, policy)
    assert result.cases["settle_status"].astype(str).tolist() == [
        "ok", "out_of_scope:cross_province", "out_of_scope:region", "no_points", "merged"]
    assert result.cases["payment"].tolist() == [1000.0, 0, 0, 0, 0]
    row = result.summary.iloc[0]
    assert row["cases_out_of_scope:cross_province"] == 1 and row["cases_no_points"] == 1


def test_bad_case_input_names_row_and_field():
    from drgdip.core.errors import UsageError
    policy = policy_from_mapping({})
    with pytest.raises(UsageError, match="row 2, field 'fund_paid': value is missing"):
        settle_cases(frame([("a", "H1", 1.0, 1.0, 1.0), ("b", "H1", 1.0, np.nan, 1.0)]), policy)
    with pytest.raises(UsageError, match="field 'case_points'"):
        settle_cases(frame([("a", "H1", 1.0, 1.0, -1.0)]), policy)
    with pytest.raises(UsageError, match="missing column 'case_points'"):
        settle_cases(pd.DataFrame({"case_id": ["a"], "hospital_id": ["H"], "total_cost": [1.0],
                                   "fund_paid": [1.0]}), policy)


# ------------------------------------------------------------------------------------ invariants

REGIONS = ("370100", "370200", "370300")


@st.composite
def provinces(draw, *, fixed: bool = True, out_of_province: bool = True, n_max: int = 40, tied: bool = False):
    """A small random province: stays with points, hospitals in up to three regions of one province.

    ``tied``: points from a few values, as stays of the same DRG group share them (remainders tie).
    """
    n = draw(st.integers(1, n_max))
    n_hospitals = draw(st.integers(1, 6))
    hospital_region = [draw(st.sampled_from(REGIONS)) for _ in range(n_hospitals)]
    hospital = draw(st.lists(st.integers(0, n_hospitals - 1), min_size=n, max_size=n))
    insured_choices = REGIONS + (("440100",) if out_of_province else ())
    remote = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    insured = [draw(st.sampled_from(insured_choices)) if r else hospital_region[h]
               for h, r in zip(hospital, remote)]
    cost = draw(st.lists(st.integers(100, 5_000_000), min_size=n, max_size=n))
    fund_share = draw(st.lists(st.integers(30, 95), min_size=n, max_size=n))
    point_values = (st.sampled_from([0.0, 1.0, 1.0, 2.5, 12.0, 33.3]) if tied
                    else st.one_of(st.just(0.0), st.floats(0.01, 500.0)))
    points = draw(st.lists(point_values, min_size=n, max_size=n))
    cases = pd.DataFrame({
        "case_id": [f"c{i}" for i in range(n)],
        "hospital_id": [f"H{h}" for h in hospital],
        "region": [hospital_region[h] for h in hospital],
        "insured_region": insured,
        "insurance_type": draw(st.lists(st.sampled_from(["employee", "resident"]), min_size=n, max_size=n)),
        "month": draw(st.lists(st.integers(1, 12), min_size=n, max_size=n)),
        "total_cost": np.asarray(cost) / 100.0,
        "fund_paid": np.asarray(cost) * np.asarray(fund_share) // 100 / 100.0,
        "case_points": points,
    })
    if fixed and draw(st.booleans()):
        is_fixed = np.asarray(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        cases["fixed_payment"] = np.where(is_fixed, cases["fund_paid"], np.nan)
    return cases


def bands(draw, share_key, decreasing: bool = False):
    k = draw(st.integers(0, 2))
    limits = sorted(draw(st.lists(st.floats(0.01, 0.5), min_size=k, max_size=k, unique=True)))
    shares = draw(st.lists(st.floats(0, 1), min_size=k + 1, max_size=k + 1))
    if decreasing:
        shares = sorted(shares, reverse=True)
    return [{"upto_pct": lim, share_key: s} for lim, s in zip(limits + [None], shares)]


@st.composite
def policies(draw, *, bounds: bool = True, basis=("total_cost", "patient_share", "fund_only"),
             budget_scale: float = 1.0, tiered_only: bool = False, whole_only: bool = False, reserve_cap=None,
             one_pool: bool = False, reserve=None):
    amounts = {r: draw(st.integers(0, 10**9)) / 100.0 * budget_scale for r in REGIONS}
    modes = ["tiered"] if tiered_only else ["whole"] if whole_only else ["tiered", "whole"]
    data = {
        "year": 2025,
        "budget": {"method": "amount", "amount": amounts,
                   "reserve_share": reserve if reserve is not None else draw(st.sampled_from([0.0, 0.05, 0.1]))},
        "point_value": {"basis": draw(st.sampled_from(basis)),
                        "fund_ratio": draw(st.sampled_from(["pool", "insured_region"])),
                        "by_insurance_type": False if one_pool else draw(st.booleans())},
        "remote_pool": {"pool": "common" if one_pool else draw(st.sampled_from(["common", "separate"])),
                        "budget_method": "included" if one_pool else draw(
                            st.sampled_from(["included", "actual_fund", "amount"])),
                        "amount": {r: draw(st.integers(0, 10**8)) / 100.0 * budget_scale for r in REGIONS}},
        "settlement": {
            "assessment_by_hospital": {f"H{k}": draw(st.floats(0.9, 1.1)) for k in range(3)},
            "surplus": {"mode": draw(st.sampled_from(modes)),
                        "bands": bands(draw, "keep_share", decreasing=tiered_only)},
            "overspend": {"mode": draw(st.sampled_from(modes)),
                          "bands": bands(draw, "fund_share", decreasing=tiered_only)},
            "overspend_within_reserve": draw(st.booleans()) if reserve_cap is None else reserve_cap,
            "prepay_fund_months": draw(st.sampled_from([0.0, 1.0])),
            "rounding": draw(st.sampled_from(["half_up", "half_even"])),
        },
    }
    if bounds and draw(st.booleans()):
        pv = data["point_value"]
        pv["budget_point_value"] = draw(st.floats(1.0, 500.0))
        choice = draw(st.sampled_from(["floor", "cap", "elastic", "both"]))
        if choice in ("floor", "both"):
            pv["floor"] = draw(st.floats(0.5, 1.0))
        if choice in ("cap", "both"):
            pv["cap"] = draw(st.floats(1.0, 2.0))
        if choice == "elastic":
            pv["elastic_base_share"] = draw(st.floats(0.1, 0.9))
            pv["cap"] = draw(st.floats(1.0, 2.0))
    return policy_from_mapping(data)


def check_ledger(result):
    summary = result.summary
    hospitals = result.hospitals
    for _, row in summary.iterrows():
        paid = fen(hospitals.loc[hospitals["area"] == row["area"], "final_payment"]).sum()
        assert paid == fen(row["final_payments"])
        assert paid + fen(row["reserve_end"]) == fen(row["budget_total"])
    cases = result.cases
    settled = cases["settle_status"].astype(str) == "ok"
    per_hospital = pd.Series(fen(cases.loc[settled, "payment"]), index=cases.loc[settled, "hospital_id"]) \
        .groupby(level=0).sum()
    due = hospitals.groupby("hospital_id")["fund_due"].apply(lambda s: fen(s).sum())
    assert per_hospital.reindex(due.index, fill_value=0).tolist() == due.tolist()
    pools = result.pools
    assert fen(pools["fund_distributed"]).sum() + fen(pools["fixed_payments"]).sum() == fen(hospitals["fund_due"]).sum()
    assert (fen(cases.loc[~settled, "payment"]) == 0).all()


SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=provinces(), policy=policies())
def test_conservation_to_the_fen(cases, policy):
    result = settle_cases(cases, policy)
    check_ledger(result)
    h = result.hospitals
    assert (fen(h["clearing_payment"]) == fen(h["final_payment"]) - fen(h["prepaid"]) - fen(h["revolving_fund"])).all()
    assert len(result.cases) == len(cases)


@SLOW
@given(data=st.data())
def test_doubling_the_budget_doubles_every_fund_due(data):
    one_pool = data.draw(st.booleans())
    cases = data.draw(provinces(fixed=False))
    policy = data.draw(policies(bounds=False, basis=("total_cost", "fund_only"), one_pool=one_pool,
                                reserve=0.0 if one_pool else None))
    doubled = policy_from_mapping({
        "year": 2025,
        "budget": {**{k: getattr(policy.budget, k) for k in ("method", "reserve_share")},
                   "amount": {r: v * 2 for r, v in policy.budget.amount.items()}},
        "point_value": {"basis": policy.point_value.basis, "fund_ratio": policy.point_value.fund_ratio,
                        "by_insurance_type": policy.point_value.by_insurance_type},
        "remote_pool": {"pool": policy.remote_pool.pool, "budget_method": policy.remote_pool.budget_method,
                        "amount": {r: v * 2 for r, v in policy.remote_pool.amount.items()}},
        "settlement": {"rounding": policy.settlement.rounding},
    })
    single = settle_cases(cases, policy)
    double = settle_cases(cases, doubled)
    check_ledger(double)
    if policy.remote_pool.budget_method == "actual_fund":
        assume(False)   # the remote money comes from the data, not from the budget figure
    hospital_bound, case_bound = (2, 5) if one_pool else (5, 7)
    diff = fen(double.hospitals["fund_due"]) - 2 * fen(single.hospitals["fund_due"])
    assert np.abs(diff).max(initial=0) <= hospital_bound
    diff = fen(double.cases["payment"]) - 2 * fen(single.cases["payment"])
    assert np.abs(diff).max(initial=0) <= case_bound


@SLOW
@given(data=st.data())
def test_a_hospitals_payment_does_not_fall_when_its_own_points_rise(data):
    cases = data.draw(provinces())
    policy = data.draw(policies(tiered_only=True, reserve_cap=False, one_pool=True))
    hospital = data.draw(st.sampled_from(sorted(cases["hospital_id"].unique())))
    factor = data.draw(st.floats(1.0, 4.0))
    extra = data.draw(st.floats(0.0, 50.0))
    raised = cases.copy()
    mine = raised["hospital_id"] == hospital
    raised.loc[mine, "case_points"] = raised.loc[mine, "case_points"] * factor + extra
    before = settle_cases(cases, policy).hospitals.set_index(["area", "hospital_id"])
    after = settle_cases(raised, policy).hospitals.set_index(["area", "hospital_id"])
    rows = [k for k in before.index if k[1] == hospital]
    for key in rows:
        assert fen(after.loc[key, "fund_due"]) >= fen(before.loc[key, "fund_due"]) - 1
        assert fen(after.loc[key, "final_payment"]) >= fen(before.loc[key, "final_payment"]) - 2


@SLOW
@given(cases=provinces(), policy=policies(reserve_cap=False, one_pool=True, bounds=False, whole_only=True))
def test_whole_band_payments_are_monotone_inside_one_band(cases, policy):
    hospital = cases["hospital_id"].iloc[0]
    raised = cases.copy()
    mine = raised["hospital_id"] == hospital
    raised.loc[mine, "case_points"] = raised.loc[mine, "case_points"] * 1.5 + 1.0
    before = settle_cases(cases, policy).hospitals.set_index("hospital_id")
    after = settle_cases(raised, policy).hospitals.set_index("hospital_id")
    if before.index.has_duplicates or hospital not in before.index:
        return

    def band(row, rules):
        base = row["fund_due_assessed"]
        amount = abs(row["surplus"])
        ratio = amount / base if base > 0 else np.inf
        limits = [b.upto_pct if b.upto_pct is not None else np.inf for b in rules.bands]
        return (row["surplus"] >= 0, int(np.searchsorted(limits, ratio, side="left")))

    rules = policy.settlement
    b0 = band(before.loc[hospital], rules.surplus if before.loc[hospital, "surplus"] >= 0 else rules.overspend)
    b1 = band(after.loc[hospital], rules.surplus if after.loc[hospital, "surplus"] >= 0 else rules.overspend)
    if b0 == b1:
        assert fen(after.loc[hospital, "final_payment"]) >= fen(before.loc[hospital, "final_payment"]) - 2


# ---------------------------------------------------------------------------------- row order

HOSPITAL_MONEY = ("total_cost", "ffs_fund", "fund_due", "assessment_withheld", "deductions", "fund_due_assessed",
                  "surplus", "surplus_kept", "surplus_returned", "overspend_shared", "final_payment", "gain_vs_ffs",
                  "prepaid", "revolving_fund", "clearing_payment")


def assert_same_money(one, other):
    """Every stay's payment (by case id) and every hospital's amounts (by area and hospital) to the fen."""
    payment = one.cases.set_index("case_id")["payment"]
    assert fen(payment).tolist() == fen(other.cases.set_index("case_id")["payment"].reindex(payment.index)).tolist()
    key = ["area", "hospital_id"]
    hospitals = one.hospitals.set_index(key)
    again = other.hospitals.set_index(key).reindex(hospitals.index)
    for column in HOSPITAL_MONEY:
        assert fen(hospitals[column]).tolist() == fen(again[column]).tolist(), column
    assert fen(one.summary["reserve_end"]).tolist() == fen(other.summary["reserve_end"]).tolist()


def test_tied_stays_get_the_odd_fen_by_case_id_whatever_the_row_order():
    # one hospital, three stays of equal points share 1.00 yuan: 0.34 goes to the smallest case id
    policy = policy_from_mapping({"budget": {"method": "amount", "amount": 1.0, "reserve_share": 0.0},
                                  "point_value": {"basis": "fund_only"}})
    cases = frame([("c2", "H1", 10.0, 5.0, 4.0), ("c3", "H1", 10.0, 5.0, 4.0), ("c1", "H1", 10.0, 5.0, 4.0)])
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0]):
        payment = settle_cases(cases.iloc[order], policy).cases.set_index("case_id")["payment"]
        assert payment.to_dict() == {"c1": 0.34, "c2": 0.33, "c3": 0.33}


def test_tied_hospitals_get_the_odd_fen_by_hospital_id_whatever_the_row_order():
    policy = policy_from_mapping({"budget": {"method": "amount", "amount": 0.05, "reserve_share": 0.0},
                                  "point_value": {"basis": "fund_only"}})
    cases = frame([("a", "H2", 10.0, 5.0, 1.0), ("b", "H1", 10.0, 5.0, 1.0)])
    for order in ([0, 1], [1, 0]):
        due = settle_cases(cases.iloc[order], policy).hospitals.set_index("hospital_id")["fund_due"]
        assert due.to_dict() == {"H1": 0.03, "H2": 0.02}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_shuffled_rows_settle_every_stay_and_hospital_the_same(data):
    cases = data.draw(provinces(tied=data.draw(st.booleans())))
    policy = data.draw(policies())
    order = data.draw(st.permutations(range(len(cases))))
    assert_same_money(settle_cases(cases, policy), settle_cases(cases.iloc[list(order)], policy))


# ----------------------------------------------------------------------------- points of the fund's part

@pytest.mark.parametrize("basis", ["total_cost", "fund_only"])
def test_points_that_are_the_funds_part_get_no_fund_ratio(basis):
    # pool fund ratio 0.6 (1,200 of 2,000 yuan): under the total-cost basis the ordinary stay weighs
    # 10 × 0.6 = 6 and the bed-day stay's 4 fund-part points weigh 4, so 1,000 yuan go 600 : 400
    policy = policy_from_mapping({"budget": {"method": "amount", "amount": 1_000.0, "reserve_share": 0.0},
                                  "point_value": {"basis": basis}})
    cases = frame([("ordinary", "H1", 1_000.0, 600.0, 10.0), ("bed_day", "H1", 1_000.0, 600.0, 4.0)],
                  fund_part_points=[0.0, 4.0])
    payment = settle_cases(cases, policy).cases.set_index("case_id")["payment"]
    # the fund-only basis weighs every stay by its points (10 : 4), as it does without the column
    by_points = {"ordinary": 714.29, "bed_day": 285.71}
    assert payment.to_dict() == ({"ordinary": 600.0, "bed_day": 400.0} if basis == "total_cost" else by_points)
    without = settle_cases(cases.drop(columns="fund_part_points"), policy).cases.set_index("case_id")["payment"]
    assert without.to_dict() == by_points


def test_fund_part_points_beyond_the_stays_points_are_refused():
    cases = frame([("a", "H1", 1_000.0, 600.0, 3.0)], fund_part_points=[4.0])
    with pytest.raises(UsageError, match="fund_part_points") as error:
        settle_cases(cases, policy_from_mapping({}))
    assert error.value.row == 1


# ---------------------------------------------------------------------------------------- rounding

@pytest.mark.parametrize("rule, cost, withheld", [("half_up", 1.01, 0.50), ("half_even", 1.00, 0.51)])
def test_money_rounds_by_the_policys_rule(rule, cost, withheld):
    # a cost of 1.005 yuan is 100.5 fen; half of a fund due of 101 fen is 50.5 fen
    policy = policy_from_mapping({"budget": {"method": "amount", "amount": 1.01, "reserve_share": 0.0},
                                  "point_value": {"basis": "fund_only"},
                                  "settlement": {"assessment_coef": 0.5, "rounding": rule}})
    result = settle_cases(frame([("a", "H1", 1.005, 0.6, 1.0)]), policy)
    hospital = result.hospitals.iloc[0]
    assert hospital["total_cost"] == cost and hospital["fund_due"] == 1.01
    assert hospital["assessment_withheld"] == withheld
    check_ledger(result)


def test_rounding_is_half_up_by_default_and_a_policy_key():
    from drgdip.core.errors import ConfigError

    assert policy_from_mapping({}).settlement.rounding == "half_up"
    with pytest.raises(ConfigError, match="rounding"):
        policy_from_mapping({"settlement": {"rounding": "bankers"}})


# --------------------------------------------------------------------------- threads and chunks

def numpy_province(n: int = 4_000, hospitals: int = 25, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stays of three regions with remote and fixed-payment stays, months, levels and outlier classes;
    and a year of history for the budget point value and the revolving fund."""
    rng = np.random.default_rng(seed)
    hospital_region = np.asarray(REGIONS)[np.arange(hospitals) % len(REGIONS)]

    def stays(count: int, year: int) -> pd.DataFrame:
        hospital = rng.integers(0, hospitals, count)
        region = hospital_region[hospital]
        remote = rng.random(count) < 0.2
        insured = np.where(remote, np.asarray(REGIONS)[rng.integers(0, len(REGIONS), count)], region)
        points = rng.lognormal(np.log(90.0), 0.8, count)
        cost = np.round(points * 100.0 * rng.lognormal(0.0, 0.3, count), 2)
        fund = np.round(cost * np.where(rng.random(count) < 0.5, 0.72, 0.58), 2)
        return pd.DataFrame({
            "case_id": [f"{year}-{i}" for i in range(count)], "year": year,
            "hospital_id": [f"H{h}" for h in hospital], "hospital_level": hospital % 3 + 1,
            "region": region, "insured_region": insured,
            "insurance_type": np.where(rng.random(count) < 0.45, "310", "390"),
            "month": rng.integers(1, 13, count), "total_cost": cost, "fund_paid": fund,
            "base_points": points, "case_points": points,
            "fixed_payment": np.where(rng.random(count) < 0.02, fund, np.nan),
            "outlier_class": rng.choice(["normal", "low", "high"], count, p=[0.9, 0.06, 0.04])})

    return stays(n, 2025), stays(n // 2, 2024)


THREAD_POLICY = {
    "year": 2025,
    "budget": {"method": "growth", "growth_rate": 0.03, "reserve_share": 0.05},
    "point_value": {"basis": "total_cost", "by_insurance_type": True, "fund_ratio": "insured_region"},
    "remote_pool": {"pool": "separate", "budget_method": "actual_fund"},
    "settlement": {"monthly_pay_ratio": 0.9, "prepay_fund_months": 1,
                   "surplus": {"bands": [{"upto_pct": 0.1, "keep_share": 1.0}, {"upto_pct": None, "keep_share": 0.5}]},
                   "overspend": {"bands": [{"upto_pct": 0.1, "fund_share": 0.5}, {"upto_pct": None, "fund_share": 0.0}]}},
}


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 64 stays and threads from the first item, so that a small province takes the
    threaded, chunked kernels."""
    from drgdip.budget import _kernels

    monkeypatch.setattr(_kernels, "CHUNK_STAYS", 64)
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_STAYS", 0)


def settle_with_threads(threads: int, *args, **kwargs):
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return settle_cases(*args, **kwargs)
    finally:
        numba.set_num_threads(before)


def test_every_table_is_the_same_whatever_the_number_of_threads(small_chunks):
    import numba

    cases, history = numpy_province()
    deductions = pd.DataFrame({"hospital_id": ["H1", "H2", "H2"], "amount": [1000.0, 250.5, 99.99],
                               "month": [3, 0, 11]})
    policy = policy_from_mapping(THREAD_POLICY)
    one = settle_with_threads(1, cases, policy, history=history, deductions=deductions)
    many = settle_with_threads(numba.config.NUMBA_NUM_THREADS, cases, policy, history=history, deductions=deductions)
    check_ledger(one)
    assert one.warnings == many.warnings
    for name, table in one.tables().items():
        pd.testing.assert_frame_equal(table, many.tables()[name], check_exact=True, obj=name)


def test_chunked_sums_move_no_fen(small_chunks, monkeypatch):
    """Sums in chunks give the same tables as one serial pass: fen sums are exact, and sums of points
    are kept in fixed point, so they are exact too."""
    from drgdip.budget import _kernels

    cases, history = numpy_province(seed=8)
    policy = policy_from_mapping(THREAD_POLICY)
    chunked = settle_cases(cases, policy, history=history)
    monkeypatch.setattr(_kernels, "CHUNK_STAYS", 1 << 30)
    serial = settle_cases(cases, policy, history=history)
    check_ledger(chunked)
    money = [c for c in chunked.hospitals.columns if c not in ("points", "cmi", "level", "name")]
    pd.testing.assert_frame_equal(chunked.hospitals[money], serial.hospitals[money], check_exact=True)
    assert (fen(chunked.cases["payment"]) == fen(serial.cases["payment"])).all()
    assert chunked.hospitals["points"].tolist() == serial.hospitals["points"].tolist()
    assert chunked.pools["settlement_point_value"].tolist() == serial.pools["settlement_point_value"].tolist()


def test_shuffled_rows_on_threads_settle_as_in_order_on_one_thread(small_chunks):
    """Stays of the same DRG group share their points, so remainders tie at the cut in most hospitals."""
    import numba

    cases, history = numpy_province(seed=9)
    cases["case_points"] = np.round(cases["case_points"] / 20.0) * 20.0 + 10.0
    policy = policy_from_mapping(THREAD_POLICY)
    in_order = settle_with_threads(1, cases, policy, history=history)
    shuffled = cases.sample(frac=1.0, random_state=3)
    on_threads = settle_with_threads(numba.config.NUMBA_NUM_THREADS, shuffled, policy, history=history)
    check_ledger(on_threads)
    assert_same_money(in_order, on_threads)


# ----------------------------------------------------------------------------- money shared per hospital

@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=provinces(), policy=policies())
def test_money_shared_per_hospital_only_gives_every_hospital_the_same(cases, policy):
    """Without per-stay shares every hospital, pool, monthly and summary figure is the same to the
    fen: a hospital's stays' shares add up to its pairs' money."""
    full = settle_cases(cases, policy)
    hospitals_only = settle_cases(cases, policy, per_stay=False)
    pd.testing.assert_frame_equal(hospitals_only.hospitals, full.hospitals, check_exact=True)
    pd.testing.assert_frame_equal(hospitals_only.pools, full.pools, check_exact=True)
    pd.testing.assert_frame_equal(hospitals_only.monthly, full.monthly, check_exact=True)
    unknown = ["remote_fund_due", "remote_difference"]
    pd.testing.assert_frame_equal(hospitals_only.summary.drop(columns=unknown), full.summary.drop(columns=unknown),
                                  check_exact=True)
    assert hospitals_only.summary[unknown].isna().all().all()
    assert hospitals_only.cases.empty and hospitals_only.clearing.empty
