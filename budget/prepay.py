"""Monthly prepayment (月度预付) and year-end clearing (年度清算) of each hospital (§6.4, §6.5).

Monthly, at the budget point value (预算点值): ``prepay_m = fund due of the month's stays at the
budget PV × monthly_pay_ratio − audit deductions of the month`` (the rest is the quality deposit,
质量保证金). On the patient-share basis the fund due of a month is ``points × PV − patients'
payments`` (example §6.4: 800 RW at rate 10,000 − 2.8 M = 5.2 M; × 0.9 − 30,000 = 4.65 M). The
fund due of each stay at the budget PV is summed per hospital and month by the settlement kernel.
Year end: ``clearing = annual amount after sharing − Σ monthly prepayments − revolving fund``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drgdip.budget.hospital_adjust import HospitalAdjustments
from drgdip.budget.inputs import SettlementInput
from drgdip.budget.money import group_sum, round_fen
from drgdip.budget.policy import Policy
from drgdip.budget.pools import AreaBudget
from drgdip.budget.shares import Shares

__all__ = ["monthly_prepayments", "revolving_fund", "clearing_payments", "Prepayment", "prepay_and_clear"]


def monthly_prepayments(month_due: np.ndarray, pay_ratio: float, deductions: np.ndarray | None = None,
                        rounding: str = "half_up") -> np.ndarray:
    """Prepayment in fen per (hospital, month 0..12): ``round(due × pay_ratio) − deductions``.

    ``month_due`` (float fen, [n_hospitals, 13]) is the fund due at the budget point value of each
    month's stays; month 0 holds stays whose month is unknown. ``deductions`` (int fen, same shape)
    are the audit deductions (审核扣款) dated in each month. ``rounding``: ``half_up`` or ``half_even``.
    """
    prepay = round_fen(np.asarray(month_due, dtype=np.float64) * pay_ratio, rounding)
    return prepay - deductions if deductions is not None else prepay


def revolving_fund(months: float, yearly_fund_fen: np.ndarray, rounding: str = "half_up") -> np.ndarray:
    """Revolving prepayment fund (预付金 / 周转金): ``months`` months of a year's fund, in fen."""
    return round_fen(np.asarray(yearly_fund_fen, dtype=np.float64) * (months / 12.0), rounding)


def clearing_payments(final_fen: np.ndarray, prepaid_fen: np.ndarray, revolving_fen: np.ndarray) -> np.ndarray:
    """Year-end clearing payment in fen (negative: the hospital pays back) (§6.5)."""
    return np.asarray(final_fen) - np.asarray(prepaid_fen) - np.asarray(revolving_fen)


@dataclass(frozen=True)
class Prepayment:
    """Per hospital row, fen: monthly prepayments, the revolving fund and the year-end clearing payment."""

    by_month: np.ndarray    # int64[n_rows, 13] month 0: stays without a month
    prepaid: np.ndarray     # int64[n_rows]
    revolving: np.ndarray   # int64[n_rows]
    clearing: np.ndarray    # int64[n_rows] negative: the hospital pays back
    warnings: tuple[str, ...]


def prepay_and_clear(year_input: SettlementInput, budget: AreaBudget, shares: Shares,
                     adjusted: HospitalAdjustments, policy: Policy) -> Prepayment:
    """Monthly prepayments at the budget point value, the revolving fund and the clearing payment."""
    rules = policy.settlement

    def without_months() -> bool:
        settled = year_input.layout.pool >= 0
        return bool(settled.any() and (year_input.arrays.month[settled] == 0).all())

    warnings = ()
    if year_input.remembered(("without_months",), without_months):
        warnings = ("no month for the stays (month, settle_date or discharge_time): monthly "
                    "prepayments are reported as month 0",)
    by_month = monthly_prepayments(shares.sums.month_due, rules.monthly_pay_ratio, adjusted.deducted_by_month,
                                   rules.rounding)
    prepaid = by_month.sum(axis=1)
    revolving = revolving_fund(rules.prepay_fund_months, _revolving_base(year_input, budget, shares), rules.rounding)
    return Prepayment(by_month=by_month, prepaid=prepaid, revolving=revolving,
                      clearing=clearing_payments(adjusted.final, prepaid, revolving), warnings=warnings)


def _revolving_base(year_input: SettlementInput, budget: AreaBudget, shares: Shares) -> np.ndarray:
    """The year's fund the revolving fund is counted on: last year's fund paid to the hospital row
    where the history has it, else this year's fee-for-service fund."""
    ffs = shares.sums.ffs_fund
    history = year_input.history
    if history is None or budget.last_year is None:
        return ffs.copy()
    rows = shares.rows

    def last_fund_by_row():
        sel = (history.year == budget.last_year) & (history.area >= 0) & (history.hospital >= 0)
        row = rows.row_of_pair[history.area[sel] * year_input.n_hospitals + history.hospital[sel]]
        found = row >= 0
        return group_sum(row[found], history.stays.fund_fen[sel][found], rows.n)

    last_fund = year_input.remembered(("last_fund_by_row", budget.last_year, rows.n, rows.row_of_pair.tobytes()),
                                      last_fund_by_row)
    return np.where(last_fund > 0, last_fund, ffs)
