"""Settlement phase 4: from each hospital's fund due to its final annual amount (§6.3, §6.6).

Assessment coefficient (考核系数) and audit deductions (审核扣款) reduce the fund due; the surplus
against fee-for-service is partly kept (结余留用) and an overspend partly shared (合理超支分担) by
percentage bands. Every fen withheld, deducted, returned or shared moves to or from the pooling
area's reserve, and the reserve ledger is checked to the fen:
``Σ final payments + reserve at year end = total budget``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from drgdip.budget.frame import number
from drgdip.budget.inputs import SettlementInput
from drgdip.budget.money import allocate_grouped, band_amount, group_sum, round_fen, to_fen
from drgdip.budget.policy import OverspendRules, Policy, SurplusRules
from drgdip.budget.pool_money import PoolMoney
from drgdip.budget.shares import HospitalRows, Shares
from drgdip.budget.valuation import PointValues
from drgdip.core.errors import UsageError

__all__ = ["HospitalAdjustments", "adjust_hospitals"]


@dataclass(frozen=True)
class HospitalAdjustments:
    """Per hospital row, fen: from the fund due to the final payment; per area, the reserve at year end."""

    assessment_coef: np.ndarray     # float64[n_rows]
    withheld: np.ndarray            # fund due − fund due × assessment coefficient
    deducted: np.ndarray            # audit deductions (in the hospital's first row)
    deducted_by_month: np.ndarray   # int64[n_rows, 13] the dated deductions (month 0: none)
    assessed: np.ndarray            # fund due − withheld − deducted
    surplus: np.ndarray             # assessed − fee-for-service fund (negative: overspend)
    kept: np.ndarray                # surplus kept by the hospital
    returned: np.ndarray            # surplus returned to the reserve
    shared: np.ndarray              # overspend paid by the fund
    final: np.ndarray               # final annual payment
    reserve_end: np.ndarray         # int64[n_areas]
    warnings: tuple[str, ...]


def adjust_hospitals(year_input: SettlementInput, money: PoolMoney, values: PointValues, shares: Shares,
                     policy: Policy, deductions: pd.DataFrame | None) -> HospitalAdjustments:
    """Assessment, audit deductions, surplus retention and overspend sharing; the reserve ledger."""
    rows, due, ffs = shares.rows, shares.sums.fund_due, shares.sums.ffs_fund
    layout = year_input.layout
    rules = policy.settlement
    hospital_labels = year_input.arrays.hospital_labels
    coef = assessment_coefs(policy, year_input.hospital_table, hospital_labels)[rows.hospital]
    withheld = due - round_fen(due * coef, rules.rounding)
    annual, by_month = audit_deductions(deductions, hospital_labels, rules.rounding)
    first = _first_row_of_hospital(rows)
    deducted = np.where(first, annual[rows.hospital], 0)
    deducted_by_month = np.where(first[:, None], by_month[rows.hospital], 0)
    assessed = due - withheld - deducted

    surplus = assessed - ffs
    gain = np.maximum(surplus, 0)
    over = np.maximum(-surplus, 0)
    kept = np.clip(round_fen(_band_share(gain, assessed, rules.surplus, "keep_share"), rules.rounding), 0, gain)
    returned = gain - kept
    shared = np.clip(round_fen(_band_share(over, assessed, rules.overspend, "fund_share"), rules.rounding), 0, over)

    n_areas = layout.n_areas
    budget = money.budget
    area_inflow = (budget.reserve + budget.unplaced
                   + group_sum(layout.pool_area, values.reserve_adjustment, n_areas)
                   + group_sum(rows.area, withheld + deducted + returned, n_areas))
    warnings = ()
    if rules.overspend_within_reserve:
        shared, short = _cap_to_reserve(shared, rows.area, area_inflow, n_areas, hospital_labels[rows.hospital])
        if short.any():
            warnings = ("overspend sharing scaled down to the reserve in area(s) "
                        + ", ".join(map(str, layout.area_labels[short][:5])),)
    final = assessed - returned + shared
    reserve_end = area_inflow - group_sum(rows.area, shared, n_areas)
    _check_ledger(group_sum(rows.area, final, n_areas), reserve_end, budget.total)
    return HospitalAdjustments(assessment_coef=coef, withheld=withheld, deducted=deducted,
                               deducted_by_month=deducted_by_month, assessed=assessed, surplus=surplus, kept=kept,
                               returned=returned, shared=shared, final=final, reserve_end=reserve_end,
                               warnings=warnings)


def assessment_coefs(policy: Policy, table: pd.DataFrame | None, labels: np.ndarray) -> np.ndarray:
    """考核系数 per hospital: hospitals-table column ``assessment_coef``, else the policy's table, else default."""
    rules = policy.settlement
    coef = np.asarray([rules.assessment_by_hospital.get(str(h), rules.assessment_coef) for h in labels],
                      dtype=np.float64)
    if table is not None and "assessment_coef" in table.columns:
        given = pd.to_numeric(table["assessment_coef"], errors="coerce").reindex(labels.astype(str)).to_numpy()
        coef = np.where(np.isnan(given), coef, given)
        if (coef < 0).any():
            raise UsageError("assessment_coef must be >= 0", field="assessment_coef")
    return coef


def audit_deductions(deductions: pd.DataFrame | None, hospital_labels: np.ndarray,
                     rounding: str = "half_up") -> tuple[np.ndarray, np.ndarray]:
    """Audit deductions (审核扣款) in fen (yuan rounded by ``rounding``): per hospital (annual) and
    per hospital × month."""
    n_h = len(hospital_labels)
    annual = np.zeros(n_h, dtype=np.int64)
    monthly = np.zeros((n_h, 13), dtype=np.int64)
    if deductions is None or len(deductions) == 0:
        return annual, monthly
    for column in ("hospital_id", "amount"):
        if column not in deductions.columns:
            raise UsageError(f"deductions table: missing column '{column}'", field=column)
    amount = to_fen(number(deductions, "amount", "<deductions>", lo=None), rounding)
    index = {h: k for k, h in enumerate(hospital_labels)}
    hosp = np.asarray([index.get(str(h), -1) for h in deductions["hospital_id"].astype(str)], dtype=np.int64)
    if (hosp < 0).any():
        row = int(np.flatnonzero(hosp < 0)[0])
        raise UsageError(f"hospital {deductions['hospital_id'].iloc[row]!r} has no stay in the settlement year",
                         file="<deductions>", row=row + 1, field="hospital_id")
    month = (number(deductions, "month", "<deductions>", allow_missing=True).astype(np.float64)
             if "month" in deductions.columns else np.full(len(deductions), np.nan))
    month = np.nan_to_num(month, nan=0.0).astype(np.int64)
    annual = group_sum(hosp, amount, n_h)
    dated = month > 0   # undated deductions reduce the annual amount only (so the clearing payment)
    np.add.at(monthly, (hosp[dated], np.clip(month[dated], 1, 12)), amount[dated])
    return annual, monthly


def _first_row_of_hospital(rows: HospitalRows) -> np.ndarray:
    """The first pooling-area row of each hospital (where its deductions are taken, once)."""
    first = np.ones(rows.n, dtype=bool)
    order = np.lexsort((rows.area, rows.hospital))
    first[order[1:]] = rows.hospital[order[1:]] != rows.hospital[order[:-1]]
    return first


def _band_share(amount: np.ndarray, base: np.ndarray, scheme: SurplusRules | OverspendRules,
                share: str) -> np.ndarray:
    """The share of ``amount`` (fen) the bands of ``scheme`` give, in float fen (:func:`band_amount`)."""
    limits = [b.upto_pct if b.upto_pct is not None else np.inf for b in scheme.bands]
    return band_amount(amount, base, limits, [getattr(b, share) for b in scheme.bands], scheme.mode)


def _cap_to_reserve(shared: np.ndarray, area: np.ndarray, area_inflow: np.ndarray, n_areas: int,
                    hospital_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Overspend sharing scaled down (largest remainder, ties by hospital id) where an area's reserve
    cannot pay it all.

    Returns the shares and the areas whose reserve fell short.
    """
    wanted = group_sum(area, shared, n_areas)
    available = np.maximum(area_inflow, 0)
    short = wanted > available
    if short.any():
        capped, _ = allocate_grouped(area, shared.astype(np.float64), np.where(short, available, wanted), n_areas,
                                     tie_key=hospital_id)
        shared = np.where(short[area], capped, shared)
    return shared, short


def _check_ledger(paid: np.ndarray, reserve_end: np.ndarray, total: np.ndarray) -> None:
    """Σ final payments + reserve at year end = total budget, per area, to the fen."""
    if not np.array_equal(paid + reserve_end, total):
        raise AssertionError("settlement ledger does not balance to the fen")  # a bug, never user input
