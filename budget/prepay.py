"""Monthly prepayment (月度预付) and year-end clearing (年度清算) of each hospital (§6.4, §6.5).

Monthly, at the budget point value (预算点值): ``prepay_m = fund due of the month's stays at the
budget PV × monthly_pay_ratio`` (the rest is the quality deposit, 质量保证金). On the
patient-share basis the fund due of a month is ``points × PV − patients' payments``
(example §6.4: 800 RW at rate 10,000 − 2.8 M = 5.2 M; × 0.9 − 30,000 audit deductions = 4.65 M).
Year end: ``clearing = annual amount after sharing − Σ monthly prepayments − revolving fund``.
"""

from __future__ import annotations

import numpy as np

from budget.money import round_fen

__all__ = ["monthly_fund_due", "monthly_prepayments", "revolving_fund"]


def monthly_fund_due(basis: str, points: np.ndarray, ratio: np.ndarray, budget_pv: np.ndarray,
                     patient_fen: np.ndarray, fixed_fen: np.ndarray, by_points: np.ndarray) -> np.ndarray:
    """Fund due of each stay at its pool's budget point value, in (float) fen.

    Parameters
    ----------
    basis : str
        ``total_cost`` | ``patient_share`` | ``fund_only``.
    points, ratio, budget_pv : float64[n]
        Case points, fund payment ratio and the budget PV of the stay's pool (NaN: unknown → 0).
    patient_fen, fixed_fen : int64[n]
        Patients' share; fixed payment outside the point pool.
    by_points : bool[n]
        Stays paid by points (others are paid ``fixed_fen``).
    """
    pv = np.nan_to_num(budget_pv, nan=0.0) * 100.0
    if basis == "total_cost":
        due = points * ratio * pv
    elif basis == "patient_share":
        due = points * pv - patient_fen
    else:
        due = points * pv
    return np.where(by_points, due, fixed_fen.astype(np.float64))


def monthly_prepayments(unit: np.ndarray, month: np.ndarray, due: np.ndarray, n_units: int,
                        pay_ratio: float, deductions: np.ndarray | None = None) -> np.ndarray:
    """Prepayment in fen per (unit, month 0..12): ``round(Σ due × pay_ratio) − deductions``.

    ``deductions`` (int64[n_units, 13], fen) are the audit deductions of each month. Returns
    int64[n_units, 13]; month 0 holds stays whose month is unknown.
    """
    cell = unit.astype(np.int64) * 13 + month
    total = np.bincount(cell, weights=due, minlength=n_units * 13).reshape(n_units, 13)
    prepay = round_fen(total * pay_ratio)
    return prepay - deductions if deductions is not None else prepay


def revolving_fund(months: float, yearly_fund_fen: np.ndarray) -> np.ndarray:
    """Revolving prepayment fund (预付金 / 周转金): ``months`` months of a year's fund, in fen."""
    return round_fen(np.asarray(yearly_fund_fen, dtype=np.float64) * (months / 12.0))
