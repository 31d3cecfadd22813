"""Settlement phase 1: the money of each pool (§6.1).

The pooling area's total budget and reserve are split over its pools
(:func:`~drgdip.budget.pools.area_budgets`); the fixed payments of stays paid outside the point
pool are then taken from their pool's money, and what they need beyond it comes from the reserve.
What is left is the money the pool shares by points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drgdip.budget._kernels import PoolSums, chunk_bounds, pool_sum_words, pool_sums_of
from drgdip.budget.inputs import SettlementInput
from drgdip.budget.money import group_sum
from drgdip.budget.policy import Policy
from drgdip.budget.pools import AreaBudget, area_budgets, last_year_funds

__all__ = ["PoolMoney", "pool_money", "pool_words"]


@dataclass(frozen=True)
class PoolMoney:
    """The budget of each pooling area and the money of each pool, in fen."""

    sums: PoolSums            # the settled stays per pool and per (pool, insured region)
    budget: AreaBudget
    fixed_deficit: np.ndarray  # int64[n_pools] fixed payments beyond the pool's money, taken from the reserve
    points_money: np.ndarray   # int64[n_pools] money left for the stays paid by points
    warnings: tuple[str, ...]


def pool_words(year_input: SettlementInput) -> tuple:
    """The sums of the input's stays per pool as exact words (:func:`~drgdip.budget._kernels.pool_sum_words`),
    remembered with the input."""
    stays, n_pools, n_regions = year_input.stays, year_input.layout.n_pools, year_input.n_regions
    return year_input.remembered(("pool_sum_words",), lambda: pool_sum_words(
        chunk_bounds(len(stays.pool), n_pools * (5 * n_regions + 7)), stays, n_pools, n_regions))


def pool_money(year_input: SettlementInput, policy: Policy) -> PoolMoney:
    """Sum the stays per pool, budget each pooling area and pool, and take out the fixed payments."""
    stays, layout = year_input.stays, year_input.layout
    n_pools, n_regions = layout.n_pools, year_input.n_regions
    sums = year_input.remembered(("pool_sums",), lambda: pool_sums_of(pool_words(year_input), n_pools, n_regions))

    def remote_fund():
        remote_settled = layout.remote & (layout.pool >= 0)
        return group_sum(layout.pool[remote_settled], stays.fund_fen[remote_settled], n_pools)

    pool_remote_fund = year_input.remembered(("pool_remote_fund",), remote_fund)
    explicit_remote = policy.remote_pool.budget_method != "included"
    history_funds = year_input.remembered(("last_year_funds", explicit_remote), lambda: last_year_funds(
        year_input.history, layout, year_input.year, explicit_remote))
    budget = area_budgets(policy, layout, sums.fund_paid, pool_remote_fund, year_input.history, year_input.year,
                          history_funds)
    fixed_deficit = np.maximum(sums.fixed_payments - budget.pool_money, 0)
    points_money = budget.pool_money - sums.fixed_payments + fixed_deficit
    warnings = ()
    if fixed_deficit.any():
        warnings = ("payments outside the point pool exceed the money of pool(s) "
                    + ", ".join(layout.pool_labels[fixed_deficit > 0][:5]) + "; the difference is taken "
                    "from the reserve and nothing is left for points",)
    return PoolMoney(sums=sums, budget=budget, fixed_deficit=fixed_deficit, points_money=points_money,
                     warnings=warnings)
