"""Oncology day ward "quota minus fee difference" [JN] (domain.md §8): a quota (定额) is a fixed amount per
group and hospital level, not the period's own points × the reference point value."""

from __future__ import annotations

import pandas as pd
import pytest

from drgdip.budget.daycare import apply_day_care, apply_day_payments
from drgdip.budget.policy import policy_from_mapping
from drgdip.core.errors import ConfigError

T0 = pd.Timestamp("2025-03-10 08:00")
WARD_FEES = {3: {"bed": 60, "nursing": 30, "consult": 20}, 2: {"bed": 40, "nursing": 20, "consult": 15}}


def day_ward(**extra):
    return policy_from_mapping({"day_care": {"in_pool": False, "day_ward": {
        "enabled": True, "payment": "quota_minus_fee", "ward_fees": WARD_FEES, **extra}}}).day_care


def periods(groups, levels, sessions, group_col="dip_group"):
    """One chemotherapy period per group; ``case_points`` as the points stage would leave them."""
    n = len(groups)
    rows = pd.DataFrame({
        "case_id": [f"p{i}" for i in range(n)], "patient_id": [f"P{i}" for i in range(n)],
        "hospital_id": "H1", "hospital_level": levels, "care_type": "day_ward", "admit_time": T0,
        "discharge_time": T0 + pd.Timedelta(hours=6), "proc": "99.2500", "total_cost": 3000.0,
        "fund_paid": 1800.0, "los": sessions, group_col: groups})
    return rows


def test_one_visit_period_gets_the_groups_fixed_quota():
    # the old reading took the period's own points × reference PV: 10 points × 150 = 1,500, not the 5,000 定额
    rules = day_ward(quotas={"C50.9": {3: 5000, 2: 4500}})
    stays = apply_day_care(periods(["C50.9", "C50.9"], [3, 2], [1, 4]), rules).cases
    paid = apply_day_payments(stays.assign(case_points=10.0), rules, 150.0)
    # quota − (ward fees − day-ward fees) × session days: 5,000 − (110 − 52) × 1; 4,500 − (75 − 44) × 4
    assert paid["day_care_amount"].tolist() == [5000 - 58, 4500 - 31 * 4]
    assert paid["fixed_payment"].tolist() == pytest.approx([(5000 - 58) * 0.6, (4500 - 124) * 0.6])


def test_period_without_a_quota_is_paid_by_the_fallback():
    stays = periods(["C50.9", "C34.1"], [3, 3], [1, 1], group_col="drg")
    rules = day_ward(quotas={"C50.9": {3: 5000}})
    stays = apply_day_care(stays, rules).cases.assign(case_points=10.0)
    ffs = apply_day_payments(stays, rules, 150.0)              # a disease without a 定额: fee-for-service
    assert ffs["day_care_amount"].tolist() == [5000 - 58, 3000.0]
    assert ffs["fixed_payment"].tolist() == pytest.approx([(5000 - 58) * 0.6, 1800.0])
    points = apply_day_payments(stays, day_ward(quotas={"C50.9": {3: 5000}}, quota_fallback="group_points"),
                                150.0)
    assert points["day_care_amount"].tolist() == [5000 - 58, 10 * 150 - 58]


def test_quota_table_is_looked_up_in_the_named_group_column():
    rules = day_ward(quotas={"RE19": {3: 4000}})
    stays = periods(["C50.9"], [3], [1]).assign(drg="RE19")
    stays = apply_day_care(stays, rules).cases.assign(case_points=10.0)
    assert apply_day_payments(stays, rules, 150.0)["day_care_amount"].iloc[0] == 3000.0   # dip_group first
    assert apply_day_payments(stays, rules, 150.0, group_col="drg")["day_care_amount"].iloc[0] == 4000 - 58


def test_quota_minus_fee_needs_quotas_or_the_explicit_fallback():
    with pytest.raises(ConfigError, match=r"day_care\.day_ward\.quotas: payment 'quota_minus_fee' needs the quota"):
        day_ward()
    assert day_ward(quota_fallback="group_points").day_ward.quotas == {}
    with pytest.raises(ConfigError, match=r"day_care\.day_ward\.quotas\.C50\.9\.3: -1\.0 is out of range"):
        day_ward(quotas={"C50.9": {3: -1}})
    rules = day_ward(quotas={"C50.9": {"3": 5000}})
    assert rules.day_ward.quotas == {"C50.9": {3: 5000.0}}
