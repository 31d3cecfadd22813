"""Settlement phase 6: the output tables of a settlement run (money in yuan with exact fen).

:class:`Settlement` holds them: per stay, per hospital row, per pool, per pooling area (the budget
ledger), the monthly prepayments and the remote clearing tables (:mod:`drgdip.budget.remote`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection, Mapping

import numpy as np
import pandas as pd

from drgdip.budget._kernels import chunk_bounds, pair_counts
from drgdip.budget.hospital_adjust import HospitalAdjustments
from drgdip.budget.inputs import SettlementInput
from drgdip.budget.money import group_sum, to_yuan
from drgdip.budget.policy import Policy
from drgdip.budget.pool_money import PoolMoney
from drgdip.budget.pools import area_of_regions
from drgdip.budget.prepay import Prepayment
from drgdip.budget.remote import CLEARING_COLUMNS, clearing_matrix, clearing_table
from drgdip.budget.shares import Shares
from drgdip.budget.valuation import PointValues
from drgdip.core.frames import frame_of

__all__ = ["Settlement", "HOSPITAL_COLUMNS", "settlement_tables", "left_out_counts", "region_areas"]

HOSPITAL_COLUMNS = (
    "area", "hospital_id", "name", "level", "cases", "remote_cases", "points", "cmi", "total_cost",
    "ffs_fund", "fund_due", "assessment_coef", "assessment_withheld", "deductions", "fund_due_assessed",
    "surplus", "surplus_kept", "surplus_returned", "overspend_shared", "final_payment", "gain_vs_ffs",
    "prepaid", "revolving_fund", "clearing_payment",
)


@dataclass(frozen=True)
class Settlement:
    """The result of a settlement run (money in yuan with exact fen).

    cases       one row per input stay (input columns plus area, pool, settle_status, fund_ratio,
                point_value, standard, payment, gain_vs_ffs)
    hospitals   one row per hospital and pooling area (:data:`HOSPITAL_COLUMNS`)
    clearing    remote stays: insured region × treatment region × hospital (fund due, FFS fund, difference)
    summary     one row per pooling area: budget, reserve ledger, remote stays' fund due against their
                recorded fund, budget use, outlier shares
    pools       one row per pool: point values (budget, raw settlement, effective), money
    monthly     prepayment per hospital and month
    clearing_matrix   insured region × treatment region totals of ``clearing``
    indicators  performance assessment indicators (:mod:`drgdip.budget.indicators`): ``indicators``
                per hospital, ``indicators_by_level``, ``indicators_by_region`` (from a whole province)
    warnings    notes on fallbacks taken (e.g. a budget point value from the settlement year)
    """

    cases: pd.DataFrame
    hospitals: pd.DataFrame
    clearing: pd.DataFrame
    summary: pd.DataFrame
    pools: pd.DataFrame = field(default_factory=pd.DataFrame)
    monthly: pd.DataFrame = field(default_factory=pd.DataFrame)
    clearing_matrix: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: tuple[str, ...] = ()
    indicators: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    # the exact last-year cost sums behind the indicators' cost growth (stays settled apart add them up)
    last_year_sums: Mapping[str, tuple] = field(default_factory=dict, repr=False, compare=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The output tables by name, in writing order."""
        return {"summary": self.summary, "pools": self.pools, "hospitals": self.hospitals, **self.indicators,
                "monthly": self.monthly, "clearing": self.clearing, "clearing_matrix": self.clearing_matrix,
                "cases": self.cases}


def settlement_tables(cases: pd.DataFrame, year_input: SettlementInput, money: PoolMoney, values: PointValues,
                      shares: Shares, adjusted: HospitalAdjustments, prepayment: Prepayment, policy: Policy,
                      warnings: tuple[str, ...], tables: Collection[str] | None = None) -> Settlement:
    """Every output table of the settlement, or those named in ``tables`` (the others left empty);
    shares made per hospital only (no ``payments``) give no per-stay table, no clearing table and no
    remote fund due."""
    def wanted(name: str) -> bool:
        return tables is None or name in tables

    made = {name: pd.DataFrame() for name in ("cases", "hospitals", "clearing", "summary")}
    if wanted("clearing") or wanted("clearing_matrix"):
        clearing = pd.DataFrame(columns=list(CLEARING_COLUMNS)) if shares.payments is None \
            else _clearing(year_input, shares)
        made.update(clearing=clearing, clearing_matrix=clearing_matrix(clearing))
    if wanted("cases"):
        made["cases"] = pd.DataFrame(index=pd.RangeIndex(0)) if shares.payments is None \
            else _case_table(cases, year_input, shares)
    if wanted("hospitals"):
        made["hospitals"] = _hospital_table(year_input, shares, adjusted, prepayment)
    if wanted("summary"):
        made["summary"] = _summary_table(year_input, money, values, shares, adjusted, policy)
    if wanted("pools"):
        made["pools"] = _pool_table(year_input, money, values)
    if wanted("monthly"):
        made["monthly"] = _monthly_table(year_input, shares, prepayment)
    return Settlement(**made, warnings=warnings)


def _hospital_table(year_input: SettlementInput, shares: Shares, adjusted: HospitalAdjustments,
                    prepayment: Prepayment) -> pd.DataFrame:
    """One row per pooling area and hospital (:data:`HOSPITAL_COLUMNS`)."""
    arrays, table = year_input.arrays, year_input.hospital_table
    rows, sums = shares.rows, shares.sums
    hospital_ids = arrays.hospital_labels[rows.hospital]
    level = _hospital_column(table, hospital_ids, ("level", "hospital_level"), None)
    if arrays.hospital_level is not None and pd.isna(level).any():
        level = np.where(pd.isna(level), _mean(sums.level_sum, sums.level_cases, np.round), level)
    final, ffs = adjusted.final, sums.ffs_fund
    return pd.DataFrame({
        "area": year_input.layout.area_labels[rows.area],
        "hospital_id": hospital_ids,
        "name": _hospital_column(table, hospital_ids, ("name",), ""),
        "level": pd.array(pd.to_numeric(pd.Series(level, dtype=object), errors="coerce"), dtype="Int64"),
        "cases": sums.cases,
        "remote_cases": sums.remote_cases,
        "points": sums.points,
        "cmi": _mean(sums.rw_sum, sums.rw_cases),
        "total_cost": to_yuan(sums.total_cost),
        "ffs_fund": to_yuan(ffs),
        "fund_due": to_yuan(sums.fund_due),
        "assessment_coef": adjusted.assessment_coef,
        "assessment_withheld": to_yuan(adjusted.withheld),
        "deductions": to_yuan(adjusted.deducted),
        "fund_due_assessed": to_yuan(adjusted.assessed),
        "surplus": to_yuan(adjusted.surplus),
        "surplus_kept": to_yuan(adjusted.kept),
        "surplus_returned": to_yuan(adjusted.returned),
        "overspend_shared": to_yuan(adjusted.shared),
        "final_payment": to_yuan(final),
        "gain_vs_ffs": to_yuan(final - ffs),
        "prepaid": to_yuan(prepayment.prepaid),
        "revolving_fund": to_yuan(prepayment.revolving),
        "clearing_payment": to_yuan(prepayment.clearing),
    })


def _mean(total: np.ndarray, count: np.ndarray, rounding=None) -> np.ndarray:
    """``total / count`` where ``count > 0`` (then rounded by ``rounding``), NaN elsewhere."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / np.maximum(count, 1)
        return np.where(count > 0, rounding(mean) if rounding is not None else mean, np.nan)


def _hospital_column(table: pd.DataFrame | None, labels: np.ndarray, names: tuple[str, ...],
                     default) -> np.ndarray:
    """The first of ``names`` the hospitals table has, for each hospital id in ``labels``."""
    if table is not None:
        for name in names:
            if name in table.columns:
                values = table[name].reindex(labels.astype(str))
                return values.to_numpy(dtype=object)
    return np.full(len(labels), default, dtype=object)


def _monthly_table(year_input: SettlementInput, shares: Shares, prepayment: Prepayment) -> pd.DataFrame:
    """Prepayment per hospital row and month (the months with any prepayment; else month 0)."""
    rows = shares.rows
    by_month = prepayment.by_month
    months = np.flatnonzero(by_month.any(axis=0)) if rows.n else np.zeros(0, dtype=np.int64)
    if len(months) == 0:
        months = np.array([0])
    return pd.DataFrame({
        "area": np.repeat(year_input.layout.area_labels[rows.area], len(months)),
        "hospital_id": np.repeat(year_input.arrays.hospital_labels[rows.hospital], len(months)),
        "month": np.tile(months, rows.n).astype(np.int64),
        "prepayment": to_yuan(by_month[:, months].reshape(-1)),
    })


def _pool_table(year_input: SettlementInput, money: PoolMoney, values: PointValues) -> pd.DataFrame:
    """One row per pool: its money and point values."""
    layout = year_input.layout
    pool = values.values
    return pd.DataFrame({
        "area": layout.area_labels[layout.pool_area],
        "pool": layout.pool_labels,
        "insurance_type": layout.pool_insurance,
        "remote": layout.pool_remote,
        "cases": money.sums.cases,
        "points": pool.points_sum,
        "fund_ratio": values.pool_fund_ratio,
        "money": to_yuan(money.budget.pool_money),
        "fixed_payments": to_yuan(money.sums.fixed_payments),
        "points_money": to_yuan(money.points_money),
        "patients_share": to_yuan(money.sums.patient_share),
        "budget_point_value": values.budget_point_value,
        "budget_point_value_source": values.budget_point_value_source,
        "settlement_point_value": pool.raw,
        "effective_point_value": pool.effective,
        "fund_distributed": to_yuan(pool.fund_out),
        "reserve_adjustment": to_yuan(values.reserve_adjustment),
    })


def _summary_table(year_input: SettlementInput, money: PoolMoney, values: PointValues, shares: Shares,
                   adjusted: HospitalAdjustments, policy: Policy) -> pd.DataFrame:
    """One row per pooling area: the budget ledger, point values and outlier shares."""
    arrays, layout = year_input.arrays, year_input.layout
    budget, rows, sums = money.budget, shares.rows, shares.sums
    n_areas = layout.n_areas

    def by_area(fen_per_row):
        return group_sum(rows.area, fen_per_row, n_areas)

    paid_final = by_area(adjusted.final)
    area_cases = group_sum(layout.pool_area, money.sums.cases, n_areas)
    frame = pd.DataFrame({
        "area": layout.area_labels,
        "year": year_input.year,
        "scheme": policy.scheme,
        "cases": area_cases,
        "remote_cases": by_area(sums.remote_cases),
        "points": np.bincount(rows.area, weights=sums.points, minlength=n_areas),
        "budget_base": to_yuan(budget.base),
        "budget_remote": to_yuan(budget.remote_add),
        "budget_total": to_yuan(budget.total),
        "reserve_start": to_yuan(budget.reserve),
        "distributable": to_yuan(budget.distributable),
        "unplaced": to_yuan(budget.unplaced),
        "point_value_adjustment": to_yuan(group_sum(layout.pool_area, values.reserve_adjustment, n_areas)),
        "fund_due": to_yuan(by_area(sums.fund_due)),
        "assessment_withheld": to_yuan(by_area(adjusted.withheld)),
        "deductions": to_yuan(by_area(adjusted.deducted)),
        "surplus_returned": to_yuan(by_area(adjusted.returned)),
        "overspend_shared": to_yuan(by_area(adjusted.shared)),
        "final_payments": to_yuan(paid_final),
        "reserve_end": to_yuan(adjusted.reserve_end),
        "ffs_fund": to_yuan(by_area(sums.ffs_fund)),
        **_remote_difference(by_area(sums.remote_ffs_fund), by_area(sums.remote_fund_due), shares.payments is not None),
        "budget_use": np.where(budget.total > 0, paid_final / np.maximum(budget.total, 1), np.nan),
        "hospitals": np.bincount(rows.area, minlength=n_areas).astype(np.int64),
    })
    pool = values.values
    has = ~np.isnan(pool.effective) & (pool.points_sum > 0)
    weighted = np.bincount(layout.pool_area[has], weights=pool.effective[has] * pool.points_sum[has],
                           minlength=n_areas)
    points = np.bincount(layout.pool_area[has], weights=pool.points_sum[has], minlength=n_areas)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["point_value"] = np.where(points > 0, weighted / points, np.nan)
    frame["pools"] = np.bincount(layout.pool_area, minlength=n_areas).astype(np.int64)
    frame["hospitals_gaining"] = np.bincount(rows.area, weights=(adjusted.final > sums.ffs_fund).astype(np.float64),
                                             minlength=n_areas).astype(np.int64)
    if arrays.outlier_class is not None and n_areas:
        labels = arrays.outlier_labels
        stays = year_input.stays
        counts = year_input.remembered(("outlier_counts",), lambda: pair_counts(
            chunk_bounds(len(stays.area), n_areas * len(labels)), stays.area, arrays.outlier_class, n_areas,
            len(labels)).reshape(n_areas, len(labels)))
        totals = np.maximum(area_cases, 1)
        for k, label in enumerate(labels):
            frame[f"share_{label}"] = counts[:, k] / totals
    left_out = year_input.remembered(("left_out_counts",),
                                     lambda: left_out_counts(arrays, layout, policy))
    for label, count in left_out.items():
        frame[f"cases_{label}"] = count
    return frame


def region_areas(arrays, layout, policy: Policy) -> np.ndarray:
    """The pooling area of each region label (-1: none), where the stays a region treats are counted."""
    index = {label: k for k, label in enumerate(layout.area_labels)}
    return np.asarray([index.get(a, -1) for a in area_of_regions(arrays.region_labels, policy)], dtype=np.int64)


def left_out_counts(arrays, layout, policy: Policy) -> dict[str, np.ndarray]:
    """Stays left out of the budget, per status, counted in the area of their treatment region."""
    if not (arrays.status != 0).any():
        return {}
    n_areas = layout.n_areas
    region_area = region_areas(arrays, layout, policy)
    raw_area = np.where(arrays.region >= 0, region_area[np.maximum(arrays.region, 0)], -1)
    counts = {}
    for k, label in enumerate(arrays.status_labels):
        if k == 0:
            continue
        sel = (arrays.status == k) & (raw_area >= 0)
        counts[label] = np.bincount(raw_area[sel], minlength=n_areas).astype(np.int64)
    return counts


def _remote_difference(recorded: np.ndarray, due: np.ndarray, known: bool = True) -> dict[str, np.ndarray]:
    """What the in-province remote stays of each area were paid against the fund they recorded (§7).

    Their insured regions owe the fund due through provincial clearing, while a budget sized from
    the fund paid took in the recorded fund: in a common pool the difference is paid from (or, when
    negative, left to) the local money.
    """
    if not known:   # shared per hospital only: the remote stays' own shares are unknown
        return {"remote_fund_recorded": to_yuan(recorded), "remote_fund_due": np.full(len(due), np.nan),
                "remote_difference": np.full(len(due), np.nan)}
    return {"remote_fund_recorded": to_yuan(recorded), "remote_fund_due": to_yuan(due),
            "remote_difference": to_yuan(due - recorded)}


def _clearing(year_input: SettlementInput, shares: Shares) -> pd.DataFrame:
    """The remote clearing table of the settled in-province remote stays."""
    arrays, layout = year_input.arrays, year_input.layout
    remote = layout.remote & (layout.pool >= 0) & (arrays.status == 0)
    return clearing_table(remote, arrays.insured, arrays.region, arrays.hospital, arrays.region_labels,
                          arrays.hospital_labels, arrays.points, shares.payments.payment, arrays.fund_fen)


def _case_table(cases: pd.DataFrame, year_input: SettlementInput, shares: Shares) -> pd.DataFrame:
    """The input stays with their settlement columns (replacing input columns of the same name)."""
    arrays, layout = year_input.arrays, year_input.layout
    payments = shares.payments
    added = {
        "settle_status": _status_column(arrays.status, arrays.status_labels),
        "area": _labels(layout.area, layout.area_labels),
        "pool": _labels(layout.pool, layout.pool_labels),
        "remote": layout.remote & (layout.pool >= 0),
        "fund_ratio": payments.fund_ratio,
        "point_value": payments.point_value,
        "standard": payments.standard,
        "payment": payments.payment,
        "gain_vs_ffs": payments.gain_vs_ffs,
    }
    kept = {name: cases[name].array for name in cases.columns if name not in added}
    return frame_of({**kept, **added}, index=cases.index)


def _status_column(status: np.ndarray, labels: np.ndarray) -> pd.Categorical:
    """The statuses as a categorical holding only the statuses that occur (``ok`` always first)."""
    present = np.bincount(status, minlength=len(labels)) > 0
    present[0] = True
    if present.all():
        return pd.Categorical.from_codes(status, categories=list(labels))
    table = (np.cumsum(present) - 1).astype(np.int8)
    return pd.Categorical.from_codes(table[status], categories=list(labels[present]))


def _labels(codes: np.ndarray, labels: np.ndarray) -> pd.Categorical:
    """Codes (-1: none) as a categorical of ``labels``."""
    categories = pd.Index(list(labels), dtype=object)
    if categories.has_duplicates:
        categories = pd.Index(list(dict.fromkeys(labels)), dtype=object)
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=categories)
