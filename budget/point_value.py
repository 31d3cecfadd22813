"""Point values: fund payment ratio, budgeted point value (预算点值) and settlement point value (结算点值) (§6.2).

``total_cost`` basis (DIP3 §5.5):
    settlement PV = (money / fund_payment_ratio) / Σ points, fund due = points × PV × ratio.
    With ``fund_ratio: insured_region`` each stay carries the ratio of its insured region in the
    pool, and PV = money / Σ (points × ratio), which is the formula above when ratios are equal.
``patient_share`` basis: PV = (money + patients' share) / Σ points; fund due = points × PV − share.
``fund_only`` basis: PV = money / Σ points.

Budget PV = Σ_y w_y·cost_y / Σ_y w_y·points_y over history (fund instead of cost on the fund-only
basis), optionally over the "best" hospitals only (smoothing). Example (§6.2): costs 1,300 / 1,400 /
1,500 M and points 140 / 145 / 150 M at 1:2:7 → 1,460 / 148 = 9.86.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from drgdip.budget._kernels import FIXED_WORDS, chunk_bounds, fixed_values, history_sums, usable_years, year_sums
from drgdip.budget.frame import CaseArrays
from drgdip.budget.money import round_fen
from drgdip.budget.policy import PointValueRules, Policy
from drgdip.core.buffers import reusable_array
from drgdip.core.errors import UsageError

__all__ = ["fund_ratio_table", "current_point_value", "history_point_value", "budget_point_values", "check_budget_point_values", "PoolValues", "row_sums", "pool_point_values"]


def fund_ratio_table(mode: str, cost_pk: np.ndarray, fund_pk: np.ndarray, n_pools: int,
                     n_regions: int) -> tuple[np.ndarray, np.ndarray]:
    """Fund payment ratio (基金支付比例 = Σ fund / Σ cost) per (pool, insured region) and per pool.

    ``cost_pk`` / ``fund_pk`` are fen sums of the stays paid by points per (pool, insured region).
    ``mode`` ``pool``: every insured region of a pool gets the pool's ratio; ``insured_region``: its own.
    """
    cost = cost_pk.reshape(n_pools, n_regions).astype(np.float64)
    fund = fund_pk.reshape(n_pools, n_regions).astype(np.float64)
    cost_pool, fund_pool = cost.sum(axis=1), fund.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pool_ratio = np.where(cost_pool > 0, fund_pool / np.where(cost_pool > 0, cost_pool, 1.0), 0.0)
        if mode == "pool":
            table = np.repeat(pool_ratio[:, None], n_regions, axis=1)
        else:
            table = np.where(cost > 0, fund / np.where(cost > 0, cost, 1.0), 0.0)
    return np.ascontiguousarray(table.reshape(-1)), pool_ratio


def current_point_value(group: np.ndarray, hospital: np.ndarray, value: np.ndarray, points: np.ndarray,
                        n_groups: int, n_hospitals: int, rules: PointValueRules) -> np.ndarray:
    """Σ value / Σ points per group over the given stays (NaN without points), after smoothing.

    Smoothing works on hospitals: ``percentile`` keeps hospitals whose value per point lies within
    the [smoothing_lo, smoothing_hi] percentiles of the group's hospitals; ``best_interval_1d``
    keeps those at or below the group's mean value per point (优值区间).
    """
    n = len(points)
    every, one_year = np.ones(n, dtype=bool), np.zeros(n, dtype=np.int64)
    sums = [_year_sums(v, _cells(group), _cells(hospital), every, one_year, 0, 1, n_groups, n_hospitals)
            for v in (value, points)]
    return _value_of(*sums, np.ones(1), rules)


def _cells(codes: np.ndarray) -> np.ndarray:
    return np.asarray(codes, dtype=np.int64)


def _floats(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


def _year_sums(values, group, hospital, usable, year, first_year: int, n_years: int, n_groups: int,
               n_hospitals: int) -> np.ndarray:
    """Exact sums of ``values`` per (year, group, hospital): int64[FIXED_WORDS, n_years, n_groups, n_hospitals]."""
    cells = FIXED_WORDS * n_years * n_groups * n_hospitals
    words = year_sums(chunk_bounds(len(group), cells), group, hospital, usable, year, first_year, n_years,
                      _floats(values), n_groups, n_hospitals)
    return words.reshape(FIXED_WORDS, n_years, n_groups, n_hospitals)


def _value_of(num_words: np.ndarray, den_words: np.ndarray, year_weight: np.ndarray,
              rules: PointValueRules) -> np.ndarray:
    """Σ_y w_y·value_y / Σ_y w_y·points_y per group from the exact year sums (years added in order),
    after smoothing."""
    _, n_years, n_groups, n_hospitals = num_words.shape
    num = np.zeros((n_groups, n_hospitals))
    den = np.zeros((n_groups, n_hospitals))
    for sums, into in ((num_words, num), (den_words, den)):
        years = fixed_values(np.ascontiguousarray(sums.reshape(FIXED_WORDS, -1))).reshape(n_years, n_groups,
                                                                                           n_hospitals)
        for y, w in enumerate(year_weight):
            if w > 0:
                into += w * years[y]
    return _smoothed(num, den, rules)


def _wider(words: np.ndarray, wider_group: np.ndarray, n_wider: int) -> np.ndarray:
    """The exact sums of ``words`` (per year, group, hospital) per wider group (e.g. pool → pooling area)."""
    out = np.zeros((words.shape[0], words.shape[1], n_wider, words.shape[3]), dtype=np.int64)
    for g, w in enumerate(np.asarray(wider_group)):
        out[:, :, w] += words[:, :, g]
    return out


def row_sums(values: np.ndarray, use: np.ndarray | None = None) -> np.ndarray:
    """Σ over each row of ``values`` (e.g. pool × hospital, pool × insured region) where ``use`` (None: all),
    exactly: the same whichever columns the table holds and in whatever order, so a pooling area settled
    alone gives its pools the values a settlement of the whole province gives them."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    use = finite if use is None else use & finite
    rows, columns = np.nonzero(use)
    n_rows = values.shape[0]
    out = np.zeros(n_rows)
    if len(rows):
        zeros = np.zeros(len(rows), dtype=np.int64)
        words = year_sums(chunk_bounds(len(rows), FIXED_WORDS * n_rows), rows.astype(np.int64), zeros,
                          np.ones(len(rows), dtype=bool), zeros, 0, 1, _floats(values[rows, columns]), n_rows, 1)
        out = fixed_values(np.ascontiguousarray(words.reshape(FIXED_WORDS, n_rows)))
    if not finite.all():   # NaN and infinities count as np.sum counts them
        out = out + np.where(finite, 0.0, values).sum(axis=1)
    return out


def _smoothed(num: np.ndarray, den: np.ndarray, rules: PointValueRules) -> np.ndarray:
    """Σ value / Σ points per group from its (group, hospital) sums, after the policy's smoothing."""
    n_groups = num.shape[0]
    has = den > 0
    if rules.smoothing != "none":
        with np.errstate(invalid="ignore", divide="ignore"):
            per_point = np.where(has, num / np.where(has, den, 1.0), np.nan)
        keep = np.zeros_like(has)
        for g in range(n_groups):
            row = per_point[g]
            ok = has[g]
            if not ok.any():
                continue
            if rules.smoothing == "percentile":
                lo, hi = np.percentile(row[ok], [rules.smoothing_lo, rules.smoothing_hi])
                keep[g] = ok & (row >= lo) & (row <= hi)
            else:
                mean = row_sums(num[g:g + 1], ok[None, :])[0] / row_sums(den[g:g + 1], ok[None, :])[0]
                keep[g] = ok & (row <= mean * (1 + 1e-12))
        has = keep
    total_num = row_sums(num, has)
    total_den = row_sums(den, has)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total_den > 0, total_num / total_den, np.nan)


# (year, group, hospital) cells up to which the history point value's sums take one pass over the stays
ONE_PASS_CELLS = 1 << 20


def _typed(group, hospital, year, n_groups: int, n_hospitals: int) -> tuple:
    """(group, hospital and year as int64; the (first, last) year, (0, 0) when none; each stay's
    (year, group, hospital) cell as int32, None when the cells are more than :data:`ONE_PASS_CELLS`)."""
    group, hospital, year = _cells(group), _cells(hospital), _cells(year)
    span = (int(year.min()), int(year.max())) if len(year) else (0, 0)
    cell = None
    if (span[1] - span[0] + 1) * n_groups * n_hospitals <= ONE_PASS_CELLS:
        # anything where a stay is not counted (its group or hospital may be -1): the kernel reads only counted ones
        cell = (((year - span[0]) * n_groups + group) * n_hospitals + hospital).astype(np.int32)
    return group, hospital, year, span, cell


def history_point_value(value: np.ndarray, points: np.ndarray, year: np.ndarray, group: np.ndarray,
                        hospital: np.ndarray, n_groups: int, n_hospitals: int, policy: Policy,
                        use: np.ndarray | None = None, *, wider: tuple | None = None, memo: dict | None = None):
    """Budget point value (预算点值) of each group from history stays paid by points (§6.2).

    ``Σ_y w_y·value_y / Σ_y w_y·points_y`` over the latest ``len(year_weights)`` years that have
    stays with points, the weights aligned to the latest year, after the policy's smoothing
    (:func:`current_point_value`); NaN for a group without points. ``value`` is yuan (cost, or fund
    on the fund-only basis) of each stay; ``use`` marks the stays the caller counts (those settled by
    points in a pool; all when None). The one formula for the history point value: the budget point
    value of each pool and area, and the reference point value of the history's own points.

    Each year's sums are exact (:func:`~drgdip.budget._kernels.year_sums`), so the value does not
    depend on the order of the stays. ``wider``: (the wider group of each group, their number), e.g.
    each pool's pooling area: the value of each wider group too, from the same sums, returned second.
    ``memo``: a dict kept between calls over the same stays, values and groups (a scenario's other
    points): it keeps them typed for the kernel, and the sums of the values, which are worked out again
    only when other stays count. The sums and the count of each year's stays take one pass over the
    stays (:func:`~drgdip.budget._kernels.history_sums`).
    """
    weights = np.asarray(policy.budget_year_weights, dtype=np.float64)
    if memo is not None:   # the same stays' groups, hospitals and years each time: typed once
        typed = memo.get("typed")
        if typed is None or any(a is not b for a, b in zip(typed[0], (group, hospital, year))) \
                or typed[2] != (n_groups, n_hospitals):
            typed = memo["typed"] = ((group, hospital, year), _typed(group, hospital, year, n_groups, n_hospitals),
                                     (n_groups, n_hospitals))
        group, hospital, year, span, cell = typed[1]
    else:
        group, hospital, year, span, cell = _typed(group, hospital, year, n_groups, n_hospitals)
    use = np.zeros(0, dtype=bool) if use is None else use
    n_span = span[1] - span[0] + 1
    if cell is not None:
        cells = n_span * n_groups * n_hospitals
        usable = reusable_array(memo.setdefault("buffers", {}) if memo is not None else None, "usable", len(group),
                                np.bool_)
        kept_sums = memo is not None and memo.get("shape") == (span, n_groups, n_hospitals)
        # the values' sums change only with the stays counted: a scenario's new points seldom change those
        bounds = chunk_bounds(len(group), (1 if kept_sums else 2) * FIXED_WORDS * cells)
        num, den, counts, changed = history_sums(
            bounds, cell, use, n_span, n_groups * n_hospitals, np.zeros(0) if kept_sums else _floats(value),
            _floats(points), usable, memo["usable"] if kept_sums else np.zeros(0, dtype=bool))
        if kept_sums and changed:
            num = _year_sums(value, group, hospital, usable, year, span[0], n_span, n_groups, n_hospitals)
        elif kept_sums:
            num = memo["value_sums"]
        if memo is not None:
            memo.update(shape=(span, n_groups, n_hospitals), usable=usable, value_sums=num)
        first = span[0]
        num = num.reshape(FIXED_WORDS, n_span, n_groups, n_hospitals)
        den = den.reshape(FIXED_WORDS, n_span, n_groups, n_hospitals)
    else:   # a long span of years: which of them count first, then their sums
        usable, first, counts = usable_years(use, _floats(points), year)
        num = den = None
    if not counts.any():
        nothing = np.full(n_groups, np.nan)
        return (nothing, np.full(wider[1], np.nan)) if wider is not None else nothing
    present = np.flatnonzero(counts) + first
    kept = present[-len(weights):]
    year_weight = np.zeros(int(kept[-1]) - int(kept[0]) + 1)
    year_weight[kept - kept[0]] = weights[-len(kept):]
    if num is not None:
        years = slice(int(kept[0]) - first, int(kept[-1]) - first + 1)
        num, den = num[:, years], den[:, years]
    else:
        sums = [_year_sums(v, group, hospital, usable, year, int(kept[0]), len(year_weight), n_groups, n_hospitals)
                for v in (value, points)]
        num, den = sums
    by_group = _value_of(num, den, year_weight, policy.point_value)
    if wider is None:
        return by_group
    return by_group, _value_of(_wider(num, *wider), _wider(den, *wider), year_weight, policy.point_value)


def check_budget_point_values(policy: Policy, areas: np.ndarray) -> None:
    """The policy's budget point values by pooling area (``point_value.budget_point_value``, when a mapping)
    name each of ``areas`` (those of a province's pools), or the error says which they miss."""
    given = policy.point_value.budget_point_value
    if not isinstance(given, Mapping):
        return
    missing = [str(a) for a in areas if str(a) not in given]
    if missing:
        raise UsageError(f"no budget point value for pooling area(s) {', '.join(sorted(set(missing)))}",
                         file=policy.source or None, field="point_value.budget_point_value")


def budget_point_values(policy: Policy, arrays: CaseArrays, pool: np.ndarray, pool_area: np.ndarray,
                        area_labels: np.ndarray, history: CaseArrays | None = None, history_pool: np.ndarray | None = None,
                        history_hospital: np.ndarray | None = None, history_year: np.ndarray | None = None,
                        year: int | None = None, history_yuan: np.ndarray | None = None,
                        memo: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Budget point value of each pool (yuan per point) and where it came from.

    Sources, first available: the policy (``point_value.budget_point_value``); the pool's history
    years (the latest ``len(year_weights)`` years before ``year``, weights aligned to the latest);
    the area's history; the settlement year itself (``current_year``). ``history_yuan`` (the cost, or
    the fund on the fund-only basis, of each history stay in yuan) is worked out here unless given;
    ``memo``: see :func:`history_point_value`.
    """
    rules = policy.point_value
    n_pools = len(pool_area)
    source = np.full(n_pools, "", dtype=object)
    value = np.full(n_pools, np.nan)
    given = rules.budget_point_value
    if given is not None:
        if isinstance(given, Mapping):
            check_budget_point_values(policy, area_labels[pool_area])
            value = np.asarray([float(given[str(area_labels[a])]) for a in pool_area])
        else:
            value = np.full(n_pools, float(given))
        source[:] = "policy"
        return value, source

    fund_basis = rules.basis == "fund_only"
    n_h = len(arrays.hospital_labels)
    n_areas = len(area_labels)
    if history is not None and history_year is not None:
        placed = memo.get("placed") if memo is not None else None
        if placed is None:   # the same for any points of the same history
            placed = (history_pool >= 0) & (history_hospital >= 0)
            if year is not None:
                placed &= history_year < year
            if memo is not None:
                memo["placed"] = placed
        unfixed = memo.get("unfixed") if memo is not None else None
        if unfixed is None or unfixed[0] is not history.fixed:   # the fixed payments seldom change
            unfixed = (history.fixed, placed & ~history.fixed)
            if memo is not None:
                memo["unfixed"] = unfixed
        use = unfixed[1]
        numer = history_yuan if history_yuan is not None else \
            (history.fund_fen if fund_basis else history.cost_fen) / 100.0
        by_pool, by_area = history_point_value(numer, history.points, history_year, history_pool, history_hospital,
                                               n_pools, n_h, policy, use, wider=(pool_area, n_areas), memo=memo)
        fill = np.isnan(value) & ~np.isnan(by_pool)
        value[fill], source[fill] = by_pool[fill], "history"
        fill = np.isnan(value) & ~np.isnan(by_area[pool_area])
        value[fill], source[fill] = by_area[pool_area][fill], "history_area"
    if np.isnan(value).any():
        use = (pool >= 0) & arrays.in_scope & ~arrays.fixed & (arrays.points > 0)
        numer = (arrays.fund_fen if fund_basis else arrays.cost_fen)[use] / 100.0
        current = current_point_value(pool[use], arrays.hospital[use], numer, arrays.points[use], n_pools, n_h,
                                      rules)
        fill = np.isnan(value) & ~np.isnan(current)
        value[fill], source[fill] = current[fill], "current_year"
    return value, source


@dataclass(frozen=True)
class PoolValues:
    """Point values and the money actually shared out by points, per pool.

    ``raw`` is the value that spends the pool's money exactly; ``effective`` is after the floor,
    cap and elastic rules; ``gross`` the fen shared by points (on the patient-share basis this
    includes the patients' share); ``fund_out`` the fund money it represents; ``adjustment`` =
    money − fund_out goes back to (positive) or comes from (negative) the reserve.
    """

    raw: np.ndarray         # float64[n_pools] yuan per point
    effective: np.ndarray   # float64[n_pools]
    gross: np.ndarray       # int64[n_pools]
    fund_out: np.ndarray    # int64[n_pools]
    adjustment: np.ndarray  # int64[n_pools]
    clipped: np.ndarray     # bool[n_pools]
    points_sum: np.ndarray  # float64[n_pools] Σ points paid by points


def pool_point_values(rules: PointValueRules, money: np.ndarray, weight_sum: np.ndarray, points_sum: np.ndarray,
                      patient_sum: np.ndarray, budget_pv: np.ndarray, rounding: str = "half_up") -> PoolValues:
    """Settlement point value per pool (yuan per point) from the pool's money (fen) (§6.2).

    ``weight_sum`` = Σ points × fund ratio (total-cost basis); ``points_sum`` = Σ points;
    ``patient_sum`` = patients' share in fen of the pool's points-paid stays. Money a bounded point
    value spends is rounded to the fen by ``rounding`` (``half_up`` or ``half_even``).
    """
    money = money.astype(np.int64)
    if rules.basis == "total_cost":
        denom = weight_sum
        gross_exact = money.astype(np.float64)
    elif rules.basis == "patient_share":
        denom = points_sum
        gross_exact = (money + patient_sum).astype(np.float64)
    else:
        denom = points_sum
        gross_exact = money.astype(np.float64)
    has = denom > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(has, gross_exact / 100.0 / np.where(has, denom, 1.0), np.nan)
    effective = raw.copy()
    bounded = rules.floor is not None or rules.cap is not None or rules.elastic_base_share is not None
    if bounded:
        missing = has & np.isnan(budget_pv)
        if missing.any():
            raise UsageError("point_value floor / cap / elastic_base_share need a budget point value "
                             "(give point_value.budget_point_value or history years)",
                             field="point_value.budget_point_value")
        lo = budget_pv * rules.floor if rules.floor is not None else np.full_like(raw, -np.inf)
        hi = budget_pv * rules.cap if rules.cap is not None else np.full_like(raw, np.inf)
        if rules.elastic_base_share is not None:
            share = rules.elastic_base_share
            floating = (raw - share * budget_pv) / (1.0 - share)
            floating = np.clip(floating, np.maximum(lo, 0.0), hi)
            effective = share * budget_pv + (1.0 - share) * floating
        else:
            effective = np.clip(raw, lo, hi)
    clipped = has & (effective != raw)
    gross = np.where(has, np.where(clipped, round_fen(np.where(has, effective, 0.0) * 100.0 * denom, rounding),
                                   np.rint(gross_exact).astype(np.int64)), 0).astype(np.int64)
    gross = np.maximum(gross, 0)
    # on the patient-share basis every stay's fund due is its share of the gross minus its patients'
    # payments, also where the pool has no points to share the gross by (then the gross is 0)
    fund_out = gross - patient_sum if rules.basis == "patient_share" else gross.copy()
    adjustment = money - fund_out   # a pool without points keeps its money in the reserve
    return PoolValues(raw=raw, effective=effective, gross=gross, fund_out=fund_out.astype(np.int64),
                      adjustment=adjustment.astype(np.int64), clipped=clipped,
                      points_sum=np.asarray(points_sum, dtype=np.float64))
