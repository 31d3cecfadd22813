"""Hospital settlement under a regional total budget (§6): from per-case points to money, to the fen.

:func:`settle_cases` takes the stays of one settlement year that already carry ``case_points``
and returns a :class:`Settlement`. Order of work, all in integer fen:

1. pooling areas and pools; the area's total budget, its reserve and the money of each pool
   (:mod:`drgdip.budget.pools`);
2. fixed payments (stays paid outside the point pool) are taken from their pool's money (what they
   need beyond it comes from the reserve);
3. the settlement point value of each pool (:mod:`drgdip.budget.point_value`), with floor / cap / elastic
   rules whose difference goes to or comes from the reserve;
4. the pool's money is shared by largest remainder over hospitals in proportion to their
   (fund-weighted) points, then over each hospital's stays — so hospital amounts add up to the
   pool's money and stay amounts to the hospital's, exactly;
5. per hospital: assessment coefficient (考核系数) and audit deductions, surplus retention /
   overspend sharing (结余留用 / 合理超支分担) against fee-for-service, final annual amount;
6. monthly prepayment at the budget point value and the year-end clearing payment;
7. the remote clearing table (省内异地清算).

Ledger, per pooling area, exact to the fen: ``Σ final payments + reserve at year end = total budget``.

Rounding rule. Yuan inputs become fen half to even. Shares of money use the largest-remainder
method (:mod:`drgdip.budget.money`): a hospital's fund due is within 1 fen of its exact share of its pool's
money, a stay's within 2 fen. Products with a coefficient or a band share (assessment, surplus kept,
overspend shared, a point-value floor or cap, monthly prepayment) are rounded half to even once, and
what they remove or add is booked to the reserve, so every total still reconciles exactly. Consequences
(tested): doubling the budget changes every hospital's fund due to twice its amount within 5 fen
(within 2 with one pool per area and no reserve), every stay's within 7 (5); a hospital whose own
points rise never gets a fund due more than 1 fen lower in its pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from drgdip.budget._kernels import (_allocate_cases_kernel, _area_class_counts, _hospital_sums_kernel,
                             _hospital_weights_kernel, _pool_sums_kernel, _present_pairs)
from drgdip.budget.frame import CaseArrays, case_arrays, number, stay_years
from drgdip.budget.money import allocate_grouped, band_amount, group_sum, round_fen, to_yuan
from drgdip.budget.point_value import budget_point_values, fund_ratio_table, pool_point_values
from drgdip.budget.policy import Policy
from drgdip.budget.pools import area_of_regions, area_budgets, build_layout, map_history
from drgdip.budget.prepay import clearing_payments, monthly_prepayments, revolving_fund
from drgdip.budget.remote import clearing_matrix, clearing_table
from drgdip.core.errors import UsageError

__all__ = ["Settlement", "settle_cases", "HOSPITAL_COLUMNS"]

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
    clearing    remote stays: insured region × treatment region × hospital (fund due, FFS fund)
    summary     one row per pooling area: budget, reserve ledger, budget use, outlier shares
    pools       one row per pool: point values (budget, raw settlement, effective), money
    monthly     prepayment per hospital and month
    clearing_matrix   insured region × treatment region totals of ``clearing``
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

    def tables(self) -> dict[str, pd.DataFrame]:
        """The output tables by name, in writing order."""
        return {"summary": self.summary, "pools": self.pools, "hospitals": self.hospitals,
                "monthly": self.monthly, "clearing": self.clearing, "clearing_matrix": self.clearing_matrix,
                "cases": self.cases}


# ------------------------------------------------------------------------------------- helpers

def _hospital_lookup(hospitals: pd.DataFrame | None) -> tuple[dict, pd.DataFrame | None]:
    """(hospital_id → region, the table indexed by hospital_id as text)."""
    if hospitals is None or len(hospitals) == 0:
        return {}, None
    if "hospital_id" not in hospitals.columns:
        raise UsageError("hospitals table: missing column 'hospital_id'", field="hospital_id")
    table = hospitals.copy()
    table.index = table["hospital_id"].astype(str).to_numpy()
    region = {}
    if "region" in table.columns:
        region = dict(zip(table.index, table["region"].astype("string").fillna("").to_numpy(dtype=object)))
    return region, table


def _hospital_column(table: pd.DataFrame | None, labels: np.ndarray, names: tuple[str, ...],
                     default) -> np.ndarray:
    if table is not None:
        for name in names:
            if name in table.columns:
                values = table[name].reindex(labels.astype(str))
                return values.to_numpy(dtype=object)
    return np.full(len(labels), default, dtype=object)


def _assessment_coefs(policy: Policy, table: pd.DataFrame | None, labels: np.ndarray) -> np.ndarray:
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


def _deductions(deductions: pd.DataFrame | None, hospital_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Audit deductions (审核扣款) in fen: per hospital (annual) and per hospital × month."""
    n_h = len(hospital_labels)
    annual = np.zeros(n_h, dtype=np.int64)
    monthly = np.zeros((n_h, 13), dtype=np.int64)
    if deductions is None or len(deductions) == 0:
        return annual, monthly
    for column in ("hospital_id", "amount"):
        if column not in deductions.columns:
            raise UsageError(f"deductions table: missing column '{column}'", field=column)
    amount = round_fen(number(deductions, "amount", "<deductions>", lo=None) * 100.0)
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


def _compress(key: np.ndarray, mask: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense ids for the keys present under ``mask``: (id per item or -1, key of each id)."""
    present = np.bincount(key[mask], minlength=n_keys) > 0
    ids = np.cumsum(present) - 1
    return np.where(mask, ids[key], -1), np.flatnonzero(present)


def settle_cases(cases: pd.DataFrame, policy: Policy, *, hospitals: pd.DataFrame | None = None,
                 history: pd.DataFrame | None = None, deductions: pd.DataFrame | None = None,
                 file: str = "<cases>", year: int | None = None) -> Settlement:
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
    """
    warnings: list[str] = []
    hospital_region, hospital_table = _hospital_lookup(hospitals)
    arrays = case_arrays(cases, hospital_region=hospital_region, file=file)
    arrays, layout = build_layout(arrays, policy)
    n, n_h = arrays.n, len(arrays.hospital_labels)
    n_pools, n_areas = layout.n_pools, layout.n_areas
    n_regions = len(arrays.region_labels)
    year = year if year is not None else policy.year
    basis = policy.point_value.basis
    basis_code = {"total_cost": 0, "patient_share": 1, "fund_only": 2}[basis]

    hist = hist_area = hist_pool = hist_hosp = hist_year = hist_remote = None
    if history is not None and len(history):
        hist = case_arrays(history, hospital_region=hospital_region, file="<history>")
        hist_year = stay_years(history, "<history>", "history rows")
        hist_area, hist_pool, hist_hosp, hist_remote = map_history(hist, arrays, layout, policy)

    # sums per pool and the fund payment ratios
    cost_pk, fund_pk, points_pk, patient_sum, fixed_sum, pool_fund, pool_cases = _pool_sums_kernel(
        layout.pool, arrays.insured, arrays.region, arrays.status, arrays.fixed, arrays.cost_fen,
        arrays.fund_fen, arrays.fixed_fen, arrays.points, n_pools, n_regions)
    remote_settled = layout.remote & (layout.pool >= 0)
    pool_remote_fund = group_sum(layout.pool[remote_settled], arrays.fund_fen[remote_settled], n_pools)
    ratio_pk, pool_ratio = fund_ratio_table(policy.point_value.fund_ratio, cost_pk, fund_pk, n_pools, n_regions)
    points_sum = points_pk.reshape(n_pools, n_regions).sum(axis=1)
    weight_sum = (points_pk * ratio_pk).reshape(n_pools, n_regions).sum(axis=1) if basis == "total_cost" \
        else points_sum

    budget = area_budgets(policy, layout, pool_fund, pool_remote_fund, hist, hist_area, hist_pool, hist_remote,
                          hist_year, year)
    # fixed payments are paid in full; what they take beyond the pool's money comes from the reserve
    fixed_deficit = np.maximum(fixed_sum - budget.pool_money, 0)
    points_money = budget.pool_money - fixed_sum + fixed_deficit
    if fixed_deficit.any():
        warnings.append("payments outside the point pool exceed the money of pool(s) "
                        + ", ".join(layout.pool_labels[fixed_deficit > 0][:5]) + "; the difference is taken "
                        "from the reserve and nothing is left for points")

    budget_pv, pv_source = budget_point_values(policy, arrays, layout.pool, layout.pool_area, layout.area_labels,
                                               hist, hist_pool, hist_hosp, hist_year, year)
    if (pv_source == "current_year").any():
        warnings.append("budget point value taken from the settlement year itself for pool(s) "
                        + ", ".join(layout.pool_labels[pv_source == "current_year"][:5])
                        + " (no earlier year with points in the input)")
    values = pool_point_values(policy.point_value, points_money, weight_sum, points_sum, patient_sum, budget_pv)
    pool_adjustment = values.adjustment - fixed_deficit

    # share the points money: pools -> hospitals -> stays (largest remainder at each level)
    use_ratio = basis == "total_cost"
    hp_weight = _hospital_weights_kernel(layout.pool, arrays.insured, arrays.region, arrays.hospital,
                                         arrays.status, arrays.fixed, arrays.points, ratio_pk, use_ratio,
                                         n_pools, n_regions, n_h)
    hp_present = hp_weight > 0
    hp_keys = np.flatnonzero(hp_present)
    hp_of_key = np.where(hp_present, np.cumsum(hp_present) - 1, -1).astype(np.int64)
    hp_amount, _ = allocate_grouped(hp_keys // max(n_h, 1), hp_weight[hp_keys], values.gross, n_pools)
    case_gross = _allocate_cases_kernel(layout.pool, arrays.insured, arrays.region, arrays.hospital,
                                        arrays.status, arrays.fixed, arrays.points, ratio_pk, use_ratio,
                                        hp_of_key, hp_amount, n_regions, n_h)

    # hospitals (one row per pooling area and hospital), per-stay outputs
    settled = layout.pool >= 0
    ah_present = _present_pairs(layout.area, arrays.hospital, n_h, max(n_areas, 1) * n_h)
    ah_keys = np.flatnonzero(ah_present)
    ah_of_key = np.where(ah_present, np.cumsum(ah_present) - 1, -1).astype(np.int64)
    n_ah = len(ah_keys)
    ah_area = ah_keys // max(n_h, 1)
    ah_hosp = ah_keys % max(n_h, 1)
    payment = np.empty(n)
    gain_case = np.empty(n)
    standard = np.empty(n)
    case_pv = np.empty(n)
    case_ratio = np.empty(n)
    level_in = arrays.hospital_level if arrays.hospital_level is not None else np.zeros(0, dtype=np.float64)
    (due, ffs, cost, n_cases, n_remote, pts_h, rw_sum, rw_n, month_due, level_sum,
     level_n) = _hospital_sums_kernel(
        layout.pool, layout.area, arrays.insured, arrays.region, arrays.hospital, arrays.status, arrays.fixed,
        layout.remote, arrays.month, arrays.cost_fen, arrays.fund_fen, arrays.fixed_fen, arrays.points,
        arrays.base_points, level_in, case_gross, ratio_pk, budget_pv, values.effective, basis_code, ah_of_key,
        n_ah, n_regions, n_h, float(policy.points.points_scale), payment, gain_case, standard, case_pv,
        case_ratio)
    del case_gross
    with np.errstate(invalid="ignore", divide="ignore"):
        cmi = np.where(rw_n > 0, rw_sum / np.maximum(rw_n, 1), np.nan)

    coef = _assessment_coefs(policy, hospital_table, arrays.hospital_labels)[ah_hosp]
    withheld = due - round_fen(due * coef)
    ded_annual, ded_monthly = _deductions(deductions, arrays.hospital_labels)
    # a hospital's deductions are taken once, in its first pooling area row
    first_row = np.ones(n_ah, dtype=bool)
    order = np.lexsort((ah_area, ah_hosp))
    first_row[order[1:]] = ah_hosp[order[1:]] != ah_hosp[order[:-1]]
    deducted = np.where(first_row, ded_annual[ah_hosp], 0)
    assessed = due - withheld - deducted

    rules = policy.settlement
    surplus = assessed - ffs
    over = np.maximum(-surplus, 0)
    gain = np.maximum(surplus, 0)
    s_limits = [b.upto_pct if b.upto_pct is not None else np.inf for b in rules.surplus.bands]
    o_limits = [b.upto_pct if b.upto_pct is not None else np.inf for b in rules.overspend.bands]
    kept = round_fen(band_amount(gain, assessed, s_limits, [b.keep_share for b in rules.surplus.bands],
                                 rules.surplus.mode))
    kept = np.clip(kept, 0, gain)
    returned = gain - kept
    shared = round_fen(band_amount(over, assessed, o_limits, [b.fund_share for b in rules.overspend.bands],
                                   rules.overspend.mode))
    shared = np.clip(shared, 0, over)

    area_inflow = (budget.reserve + budget.unplaced
                   + group_sum(layout.pool_area, pool_adjustment, n_areas)
                   + group_sum(ah_area, withheld + deducted + returned, n_areas))
    if rules.overspend_within_reserve:
        wanted = group_sum(ah_area, shared, n_areas)
        available = np.maximum(area_inflow, 0)
        short = wanted > available
        if short.any():
            capped, _ = allocate_grouped(ah_area, shared.astype(np.float64), np.where(short, available, wanted),
                                         n_areas)
            shared = np.where(short[ah_area], capped, shared)
            warnings.append("overspend sharing scaled down to the reserve in area(s) "
                            + ", ".join(map(str, layout.area_labels[short][:5])))
    final = assessed - returned + shared

    # ledger: reserve at year end, and the exact identity with the budget
    reserve_end = area_inflow - group_sum(ah_area, shared, n_areas)
    paid = group_sum(ah_area, final, n_areas)
    if not np.array_equal(paid + reserve_end, budget.total):
        raise AssertionError("settlement ledger does not balance to the fen")  # a bug, never user input

    # monthly prepayment and year-end clearing
    if (arrays.month[settled] == 0).all() and settled.any():
        warnings.append("no month for the stays (month, settle_date or discharge_time): monthly "
                        "prepayments are reported as month 0")
    ded_month_rows = np.where(first_row[:, None], ded_monthly[ah_hosp], 0)
    prepay = monthly_prepayments(month_due.reshape(n_ah, 13), rules.monthly_pay_ratio, ded_month_rows)
    prepaid = prepay.sum(axis=1)
    base_fund = ffs.copy()
    if hist is not None and budget.last_year is not None:
        sel = (hist_year == budget.last_year) & (hist_area >= 0) & (hist_hosp >= 0)
        key = hist_area[sel] * n_h + hist_hosp[sel]
        row = ah_of_key[key]
        found = row >= 0
        last_fund = group_sum(row[found], hist.fund_fen[sel][found], n_ah)
        base_fund = np.where(last_fund > 0, last_fund, ffs)
    revolving = revolving_fund(rules.prepay_fund_months, base_fund)
    clearing_payment = clearing_payments(final, prepaid, revolving)

    # --- output tables ----------------------------------------------------------------------
    hospital_ids = arrays.hospital_labels[ah_hosp]
    level = _hospital_column(hospital_table, hospital_ids, ("level", "hospital_level"), None)
    if arrays.hospital_level is not None and pd.isna(level).any():
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_level = np.round(np.where(level_n > 0, level_sum / np.maximum(level_n, 1), np.nan))
        level = np.where(pd.isna(level), mean_level, level)
    hospitals_out = pd.DataFrame({
        "area": layout.area_labels[ah_area],
        "hospital_id": hospital_ids,
        "name": _hospital_column(hospital_table, hospital_ids, ("name",), ""),
        "level": pd.array(pd.to_numeric(pd.Series(level, dtype=object), errors="coerce"), dtype="Int64"),
        "cases": n_cases,
        "remote_cases": n_remote,
        "points": pts_h,
        "cmi": cmi,
        "total_cost": to_yuan(cost),
        "ffs_fund": to_yuan(ffs),
        "fund_due": to_yuan(due),
        "assessment_coef": coef,
        "assessment_withheld": to_yuan(withheld),
        "deductions": to_yuan(deducted),
        "fund_due_assessed": to_yuan(assessed),
        "surplus": to_yuan(surplus),
        "surplus_kept": to_yuan(kept),
        "surplus_returned": to_yuan(returned),
        "overspend_shared": to_yuan(shared),
        "final_payment": to_yuan(final),
        "gain_vs_ffs": to_yuan(final - ffs),
        "prepaid": to_yuan(prepaid),
        "revolving_fund": to_yuan(revolving),
        "clearing_payment": to_yuan(clearing_payment),
    })

    months = np.flatnonzero(prepay.any(axis=0)) if n_ah else np.zeros(0, dtype=np.int64)
    if len(months) == 0:
        months = np.array([0])
    monthly_out = pd.DataFrame({
        "area": np.repeat(layout.area_labels[ah_area], len(months)),
        "hospital_id": np.repeat(hospital_ids, len(months)),
        "month": np.tile(months, n_ah).astype(np.int64),
        "prepayment": to_yuan(prepay[:, months].reshape(-1)),
    })

    pools_out = pd.DataFrame({
        "area": layout.area_labels[layout.pool_area],
        "pool": layout.pool_labels,
        "insurance_type": layout.pool_insurance,
        "remote": layout.pool_remote,
        "cases": pool_cases,
        "points": points_sum,
        "fund_ratio": pool_ratio,
        "money": to_yuan(budget.pool_money),
        "fixed_payments": to_yuan(fixed_sum),
        "points_money": to_yuan(points_money),
        "patients_share": to_yuan(patient_sum),
        "budget_point_value": budget_pv,
        "budget_point_value_source": pv_source,
        "settlement_point_value": values.raw,
        "effective_point_value": values.effective,
        "fund_distributed": to_yuan(values.fund_out),
        "reserve_adjustment": to_yuan(pool_adjustment),
    })

    summary = _summary(policy, year, arrays, layout, budget, values, pool_adjustment, ah_area, due, ffs, withheld, deducted,
                       returned, shared, final, reserve_end, pts_h, n_remote, pool_cases)

    clearing = clearing_table(remote_settled & (arrays.status == 0), arrays.insured, arrays.region,
                              arrays.hospital, arrays.region_labels, arrays.hospital_labels, arrays.points,
                              payment, arrays.fund_fen)

    added = pd.DataFrame({
        "settle_status": _status_column(arrays.status, arrays.status_labels),
        "area": _labels(layout.area, layout.area_labels),
        "pool": _labels(layout.pool, layout.pool_labels),
        "remote": layout.remote & settled,
        "fund_ratio": case_ratio,
        "point_value": case_pv,
        "standard": standard,
        "payment": payment,
        "gain_vs_ffs": gain_case,
    }, index=cases.index, copy=False)
    base = cases.drop(columns=[c for c in added.columns if c in cases.columns])
    cases_out = pd.concat([base, added], axis=1)
    return Settlement(cases=cases_out, hospitals=hospitals_out, clearing=clearing, summary=summary,
                      pools=pools_out, monthly=monthly_out, clearing_matrix=clearing_matrix(clearing),
                      warnings=tuple(warnings))


def _status_column(status: np.ndarray, labels: np.ndarray) -> pd.Categorical:
    """The statuses as a categorical holding only the statuses that occur (``ok`` always first)."""
    present = np.bincount(status, minlength=len(labels)) > 0
    present[0] = True
    if present.all():
        return pd.Categorical.from_codes(status, categories=list(labels))
    table = (np.cumsum(present) - 1).astype(np.int8)
    return pd.Categorical.from_codes(table[status], categories=list(labels[present]))


def _labels(codes: np.ndarray, labels: np.ndarray) -> pd.Categorical:
    categories = pd.Index(list(labels), dtype=object)
    if categories.has_duplicates:
        categories = pd.Index(list(dict.fromkeys(labels)), dtype=object)
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=categories)


def _summary(policy, year, arrays: CaseArrays, layout, budget, values, pool_adjustment, ah_area, due, ffs, withheld, deducted,
             returned, shared, final, reserve_end, pts_h, n_remote, pool_cases) -> pd.DataFrame:
    """One row per pooling area: the budget ledger, point values and outlier shares."""
    n_areas = layout.n_areas
    adj = group_sum(layout.pool_area, pool_adjustment, n_areas)
    paid_final = group_sum(ah_area, final, n_areas)
    area_cases = group_sum(layout.pool_area, pool_cases, n_areas)
    frame = pd.DataFrame({
        "area": layout.area_labels,
        "year": year,
        "scheme": policy.scheme,
        "cases": area_cases,
        "remote_cases": group_sum(ah_area, n_remote, n_areas),
        "points": np.bincount(ah_area, weights=pts_h, minlength=n_areas),
        "budget_base": to_yuan(budget.base),
        "budget_remote": to_yuan(budget.remote_add),
        "budget_total": to_yuan(budget.total),
        "reserve_start": to_yuan(budget.reserve),
        "distributable": to_yuan(budget.distributable),
        "unplaced": to_yuan(budget.unplaced),
        "point_value_adjustment": to_yuan(adj),
        "fund_due": to_yuan(group_sum(ah_area, due, n_areas)),
        "assessment_withheld": to_yuan(group_sum(ah_area, withheld, n_areas)),
        "deductions": to_yuan(group_sum(ah_area, deducted, n_areas)),
        "surplus_returned": to_yuan(group_sum(ah_area, returned, n_areas)),
        "overspend_shared": to_yuan(group_sum(ah_area, shared, n_areas)),
        "final_payments": to_yuan(paid_final),
        "reserve_end": to_yuan(reserve_end),
        "ffs_fund": to_yuan(group_sum(ah_area, ffs, n_areas)),
        "budget_use": np.where(budget.total > 0, paid_final / np.maximum(budget.total, 1), np.nan),
        "hospitals": np.bincount(ah_area, minlength=n_areas).astype(np.int64),
    })
    pool_points = values.points_sum
    has = ~np.isnan(values.effective) & (pool_points > 0)
    num = np.bincount(layout.pool_area[has], weights=values.effective[has] * pool_points[has], minlength=n_areas)
    den = np.bincount(layout.pool_area[has], weights=pool_points[has], minlength=n_areas)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["point_value"] = np.where(den > 0, num / den, np.nan)
    frame["pools"] = np.bincount(layout.pool_area, minlength=n_areas).astype(np.int64)
    frame["hospitals_gaining"] = np.bincount(ah_area, weights=(final > ffs).astype(np.float64),
                                             minlength=n_areas).astype(np.int64)
    if arrays.outlier_class is not None and n_areas:
        labels = arrays.outlier_labels
        counts = _class_counts(layout.area, arrays.outlier_class, n_areas, len(labels))
        totals = np.maximum(area_cases, 1)
        for k, label in enumerate(labels):
            frame[f"share_{label}"] = counts[:, k] / totals
    if (arrays.status != 0).any():
        # stays left out of the budget, counted in the area of their treatment region
        index = {label: k for k, label in enumerate(layout.area_labels)}
        region_area = np.asarray([index.get(a, -1) for a in area_of_regions(arrays.region_labels, policy)],
                                 dtype=np.int64)
        raw_area = np.where(arrays.region >= 0, region_area[np.maximum(arrays.region, 0)], -1)
        for k, label in enumerate(arrays.status_labels):
            if k == 0:
                continue
            sel = (arrays.status == k) & (raw_area >= 0)
            frame[f"cases_{label}"] = np.bincount(raw_area[sel], minlength=n_areas).astype(np.int64)
    return frame


def _class_counts(area: np.ndarray, cls: np.ndarray, n_areas: int, n_classes: int) -> np.ndarray:
    """Settled stays per (area, outlier class): int64[n_areas, n_classes]."""
    return _area_class_counts(area, cls, n_areas, n_classes)
