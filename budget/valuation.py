"""Settlement phase 2: the point values of each pool (§6.2).

The fund payment ratio of each (pool, insured region), the budget point value (policy, history or
the settlement year itself) and the settlement point value that spends the pool's points money,
with the floor / cap / elastic rules of :func:`~drgdip.budget.point_value.pool_point_values`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drgdip.budget._kernels import BASIS_CODES, PoolPrices
from drgdip.budget.inputs import SettlementInput
from drgdip.budget.point_value import PoolValues, budget_point_values, fund_ratio_table, pool_point_values, row_sums
from drgdip.budget.policy import Policy
from drgdip.budget.pool_money import PoolMoney

__all__ = ["PointValues", "point_values"]


@dataclass(frozen=True)
class PointValues:
    """Point values per pool and what they move to or from the reserve."""

    fund_ratio: np.ndarray            # float64[n_pools, n_regions] per (pool, insured region)
    pool_fund_ratio: np.ndarray       # float64[n_pools]
    budget_point_value: np.ndarray    # float64[n_pools] yuan per point (NaN: none)
    budget_point_value_source: np.ndarray  # object[n_pools] policy / history / history_area / current_year
    values: PoolValues                # settlement and effective point value, money shared by points
    reserve_adjustment: np.ndarray    # int64[n_pools] to (+) or from (−) the reserve, fixed payments included
    prices: PoolPrices                # the above as the per-stay kernels read them
    warnings: tuple[str, ...]


def point_values(year_input: SettlementInput, money: PoolMoney, policy: Policy) -> PointValues:
    """Fund ratios, budget and settlement point value of every pool."""
    layout, history = year_input.layout, year_input.history
    n_pools, n_regions = layout.n_pools, year_input.n_regions
    sums = money.sums
    ratio, pool_ratio = fund_ratio_table(policy.point_value.fund_ratio, sums.cost_by_insured, sums.fund_by_insured,
                                         n_pools, n_regions)
    ratio = ratio.reshape(n_pools, n_regions)
    points_sum = row_sums(sums.points_by_insured) + sums.fund_part_points
    weight_sum = (row_sums(sums.points_by_insured * ratio) + sums.fund_part_points
                  if policy.point_value.basis == "total_cost" else points_sum)
    earlier = ((history.stays, history.pool, history.hospital, history.year) if history is not None
               else (None, None, None, None))
    known = {}
    if history is not None:   # what does not change with the history's points
        fund_basis = policy.point_value.basis == "fund_only"
        known["history_yuan"] = year_input.remembered(("history_yuan", fund_basis), lambda: (
            history.stays.fund_fen if fund_basis else history.stays.cost_fen) / 100.0)
        known["memo"] = year_input.remembered(("history_value_sums", fund_basis), dict)
    budget_pv, source = year_input.remembered(("budget_point_values", policy.point_value), lambda: budget_point_values(
        policy, year_input.arrays, layout.pool, layout.pool_area, layout.area_labels, *earlier, year=year_input.year,
        **known))
    warnings = ()
    if (source == "current_year").any():
        warnings = ("budget point value taken from the settlement year itself for pool(s) "
                    + ", ".join(layout.pool_labels[source == "current_year"][:5])
                    + " (no earlier year with points in the input)",)
    values = pool_point_values(policy.point_value, money.points_money, weight_sum, points_sum,
                               sums.patient_share, budget_pv, policy.settlement.rounding)
    prices = PoolPrices(fund_ratio=ratio, budget_point_value=budget_pv, point_value=values.effective,
                        basis=BASIS_CODES[policy.point_value.basis])
    return PointValues(fund_ratio=ratio, pool_fund_ratio=pool_ratio, budget_point_value=budget_pv,
                       budget_point_value_source=source, values=values,
                       reserve_adjustment=values.adjustment - money.fixed_deficit, prices=prices,
                       warnings=warnings)
