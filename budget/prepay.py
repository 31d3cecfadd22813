"""Monthly prepayment (月度预付) and year-end clearing (年度清算) of each hospital (§6.4, §6.5).

Monthly, at the budget point value (预算点值): ``prepay_m = fund due of the month's stays at the
budget PV × monthly_pay_ratio − audit deductions of the month`` (the rest is the quality deposit,
质量保证金). On the patient-share basis the fund due of a month is ``points × PV − patients'
payments`` (example §6.4: 800 RW at rate 10,000 − 2.8 M = 5.2 M; × 0.9 − 30,000 = 4.65 M). The
fund due of each stay at the budget PV is summed per hospital and month by the settlement kernel.
Year end: ``clearing = annual amount after sharing − Σ monthly prepayments − revolving fund``.
"""

from __future__ import annotations

import numpy as np

from drgdip.budget.money import round_fen

__all__ = ["monthly_prepayments", "revolving_fund", "clearing_payments"]


def monthly_prepayments(month_due: np.ndarray, pay_ratio: float, deductions: np.ndarray | None = None
                        ) -> np.ndarray:
    """Prepayment in fen per (hospital, month 0..12): ``round(due × pay_ratio) − deductions``.

    ``month_due`` (float fen, [n_hospitals, 13]) is the fund due at the budget point value of each
    month's stays; month 0 holds stays whose month is unknown. ``deductions`` (int fen, same shape)
    are the audit deductions (审核扣款) dated in each month.
    """
    prepay = round_fen(np.asarray(month_due, dtype=np.float64) * pay_ratio)
    return prepay - deductions if deductions is not None else prepay


def revolving_fund(months: float, yearly_fund_fen: np.ndarray) -> np.ndarray:
    """Revolving prepayment fund (预付金 / 周转金): ``months`` months of a year's fund, in fen."""
    return round_fen(np.asarray(yearly_fund_fen, dtype=np.float64) * (months / 12.0))


def clearing_payments(final_fen: np.ndarray, prepaid_fen: np.ndarray, revolving_fen: np.ndarray) -> np.ndarray:
    """Year-end clearing payment in fen (negative: the hospital pays back) (§6.5)."""
    return np.asarray(final_fen) - np.asarray(prepaid_fen) - np.asarray(revolving_fen)
