"""Hospital settlement under a regional total budget (§6): from per-case points to money, to the fen.

:func:`settle_cases` takes the stays of one settlement year that already carry ``case_points``
and returns a :class:`Settlement`. It runs six phases, all in integer fen, each a function of its
own module that hands a small frozen dataclass to the next:

1. :func:`~drgdip.budget.pool_money.pool_money` — pooling areas and pools, the area's total budget,
   its reserve and the money of each pool (:mod:`drgdip.budget.pools`); fixed payments (stays paid
   outside the point pool) are taken from their pool's money, what they need beyond it from the reserve;
2. :func:`~drgdip.budget.valuation.point_values` — fund payment ratios, the budget point value and
   the settlement point value of each pool (:mod:`drgdip.budget.point_value`), with floor / cap /
   elastic rules whose difference goes to or comes from the reserve;
3. :func:`~drgdip.budget.shares.share_money` — the pool's money is shared by largest remainder over
   hospitals in proportion to their (fund-weighted) points, then over each hospital's stays — so
   hospital amounts add up to the pool's money and stay amounts to the hospital's, exactly;
4. :func:`~drgdip.budget.hospital_adjust.adjust_hospitals` — per hospital: assessment coefficient
   (考核系数) and audit deductions, surplus retention / overspend sharing (结余留用 / 合理超支分担)
   against fee-for-service, final annual amount, and the reserve ledger checked;
5. :func:`~drgdip.budget.prepay.prepay_and_clear` — monthly prepayment at the budget point value and
   the year-end clearing payment;
6. :func:`~drgdip.budget.outputs.settlement_tables` — the output tables, with the remote clearing
   table (省内异地清算, :mod:`drgdip.budget.remote`).

Ledger, per pooling area, exact to the fen: ``Σ final payments + reserve at year end = total budget``.

Rounding rule (:mod:`drgdip.budget.money`). Money is rounded to the fen by ``settlement.rounding``:
half up (四舍五入, the default) or half to even, on the decimal value (yuan inputs are read at six
decimals of a fen, so 1.005 yuan is 100.5 fen, not 100.4999…). Shares of money use the
largest-remainder method: a hospital's fund due is within 1 fen of its exact share of its pool's
money, a stay's within 2 fen; remainders tied at the cut give the last fen by hospital id and by
case id, not by the position of a row (:mod:`drgdip.budget.shares`). Products with a coefficient or
a band share (assessment, surplus kept, overspend shared, a point-value floor or cap, monthly
prepayment) are rounded once, and what they remove or add is booked to the reserve, so every total
still reconciles exactly. Fund ratios and the budget point value price sums of points, not single
stays: the settled stays are summed exactly per price cell (pool × hospital × insured region ×
month), and a pair's allocation weight and a month's fund due at the budget point value are those
cells' sums times the ratio and the value, added exactly (:func:`~drgdip.budget._kernels.cell_prices`).
Every sum is kept in integer words, so a Monte Carlo draw that copies, removes or rewrites a few
stays settles from the province's sums plus and minus those stays', exactly
(:mod:`drgdip.budget.drawn`). Consequences (tested): doubling the budget changes every hospital's fund
due to twice its amount within 5 fen (within 2 with one pool per area and no reserve), every
stay's within 7 (5); a hospital whose own points rise never gets a fund due more than 1 fen lower
in its pool.
"""

from __future__ import annotations

from typing import Collection

import pandas as pd

from drgdip.budget.hospital_adjust import adjust_hospitals
from drgdip.budget.inputs import SettlementInput, read_input
from drgdip.budget.outputs import HOSPITAL_COLUMNS, Settlement, settlement_tables
from drgdip.budget.policy import Policy
from drgdip.budget.pool_money import pool_money
from drgdip.budget.prepay import prepay_and_clear
from drgdip.budget.shares import share_money
from drgdip.budget.valuation import point_values

__all__ = ["Settlement", "settle_cases", "HOSPITAL_COLUMNS"]


def settle_cases(cases: pd.DataFrame, policy: Policy, *, hospitals: pd.DataFrame | None = None,
                 history: pd.DataFrame | None = None, deductions: pd.DataFrame | None = None,
                 file: str = "<cases>", year: int | None = None,
                 year_input: SettlementInput | None = None, per_stay: bool = True,
                 tables: Collection[str] | None = None) -> Settlement:
    """Settle one year of stays that carry ``case_points`` under ``policy`` (see the module docstring).

    Parameters
    ----------
    cases : DataFrame
        The settlement year's stays (columns in :mod:`drgdip.budget.frame`).
    policy : Policy
    hospitals : DataFrame, optional
        ``hospital_id`` with ``name``, ``level``, ``region`` and optional ``assessment_coef``.
    history : DataFrame, optional
        Earlier years' stays with ``year`` (or a date), ``case_points``, ``total_cost``, ``fund_paid``:
        last year's fund (budget method ``growth``, split ``last_year_fund``, revolving fund) and
        the budget point value.
    deductions : DataFrame, optional
        Audit deductions: ``hospital_id``, ``amount`` (yuan), optional ``month``.
    year : int, optional
        Settlement year (default ``policy.year``); history years before it are used.
    year_input : SettlementInput, optional
        :func:`~drgdip.budget.inputs.read_input` of these stays under a policy with the same
        :func:`~drgdip.budget.inputs.input_key`: settling the same stays under another budget or
        other settlement rules does not read them again.
    per_stay : bool
        Share the money down to every stay (default). Without it the money stops at the hospitals:
        every hospital, pool and summary figure is the same to the fen, but there is no per-stay
        table, no clearing table and no remote stays' fund due (what simulations need, faster).
    tables : names of Settlement's tables, optional
        Make only these tables (default: every one); the others are left empty, e.g. the hospitals
        and pools a Monte Carlo draw keeps.
    """
    if year_input is None:
        year_input = read_input(cases, policy, hospitals=hospitals, history=history, file=file, year=year)
    money = pool_money(year_input, policy)
    values = point_values(year_input, money, policy)
    shares = share_money(year_input, values, policy, per_stay=per_stay)
    adjusted = adjust_hospitals(year_input, money, values, shares, policy, deductions)
    prepayment = prepay_and_clear(year_input, money.budget, shares, adjusted, policy)
    warnings = money.warnings + values.warnings + adjusted.warnings + prepayment.warnings
    return settlement_tables(cases, year_input, money, values, shares, adjusted, prepayment, policy, warnings,
                             tables)
