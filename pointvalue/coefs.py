"""Hospital and remote coefficients (医疗机构调节系数, 异地系数) (domain.md §4.2–4.4, §7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from drgdip.core.checks import number_column
from drgdip.core.tables import read_table, source_name
from drgdip.pointvalue.weights import weighted_group_means

__all__ = ["group_level_coefs", "hospital_level_coefs", "insured_pool", "pool_codes", "POOLS"]

POOLS = ("local", "remote_in_province", "remote_out_of_province")


def _history_years(frame: pd.DataFrame, file: str, year_weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(which cases fall in the latest ``len(year_weights)`` years, their year position, the weights
    aligned to the latest year)."""
    year = number_column(frame, "year", file=file, lo=None, integer=True)
    weights = np.asarray(year_weights, dtype=np.float64)
    years = np.unique(year)[-len(weights):]
    use = np.isin(year, years)
    return use, np.searchsorted(years, year[use]), weights[-len(years):]


def _cell_means(cell: np.ndarray, year_pos: np.ndarray, cost: np.ndarray, n_cells: int, weights: np.ndarray,
                mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(year-weighted mean cost, case count) of each cell."""
    n_years = len(weights)
    flat = cell * n_years + year_pos
    count = np.bincount(flat, minlength=n_cells * n_years).reshape(n_cells, n_years)
    total = np.bincount(flat, weights=cost, minlength=n_cells * n_years).reshape(n_cells, n_years)
    return weighted_group_means(total, count, weights, mode), count.sum(axis=1)


def hospital_level_coefs(history, year_weights=(1, 2, 7), year_weight_mode: str = "mean") -> dict[int, float]:
    """coef_level = year-weighted mean cost of that level's cases / year-weighted city mean cost (§4.2).

    ``history``: ``year``, ``hospital_level``, ``total_cost`` (DataFrame or path); the latest
    ``len(year_weights)`` years are used, weights aligned to the latest year. Returns ``{level: coef}``.
    Example: tier-3 mean 12,000 vs city 10,000 -> 1.20.
    """
    file = source_name(history)
    frame = read_table(history, required=("year", "hospital_level", "total_cost"), what="history",
                       columns=("year", "hospital_level", "total_cost"))
    use, year_pos, weights = _history_years(frame, file, year_weights)
    level = number_column(frame, "hospital_level", file=file, integer=True)[use]
    cost = number_column(frame, "total_cost", file=file)[use]
    levels, level_pos = np.unique(level, return_inverse=True)
    by_level, _ = _cell_means(level_pos, year_pos, cost, len(levels), weights, year_weight_mode)
    city, _ = _cell_means(np.zeros(len(cost), dtype=np.int64), year_pos, cost, 1, weights, year_weight_mode)
    return {int(lv): float(m / city[0]) for lv, m in zip(levels, by_level)}


def group_level_coefs(history, *, group_col: str = "dip_group", year_weights=(1, 2, 7),
                      year_weight_mode: str = "mean", min_cases: int = 30, min_gap: float = 0.10,
                      ) -> dict[str, dict[int, float]]:
    """coef_level,g = year-weighted mean cost of a group at that hospital level / the group's
    year-weighted mean cost (§4.2), for the groups that qualify, as ``hospital_coef.by_group_level``
    takes them (``{group: {level: coef}}``).

    A level counts for a group when it has at least ``min_cases`` of the group's cases; a group
    qualifies when at least two levels count, their coefficients differ by at least ``min_gap``
    (a big level gap) and never fall as the level rises (no inversion). Other groups, and levels
    with too few cases, keep the hospital's own coefficient.
    Example: a group at 12,000 in tier-3 hospitals and 10,000 overall -> 1.20 at level 3.
    """
    file = source_name(history)
    frame = read_table(history, required=("year", "hospital_level", "total_cost", group_col), what="history",
                       columns=("year", "hospital_level", "total_cost", group_col))
    use, year_pos, weights = _history_years(frame, file, year_weights)
    level = number_column(frame, "hospital_level", file=file, integer=True)[use]
    cost = number_column(frame, "total_cost", file=file)[use]
    group_pos, groups = _labels(frame[group_col][use].reset_index(drop=True))
    grouped = group_pos >= 0
    group_pos, level, cost, year_pos = group_pos[grouped], level[grouped], cost[grouped], year_pos[grouped]
    levels, level_pos = np.unique(level, return_inverse=True)
    n_groups, n_levels = len(groups), len(levels)
    group_mean, _ = _cell_means(group_pos, year_pos, cost, n_groups, weights, year_weight_mode)
    cell_mean, cell_count = _cell_means(group_pos * n_levels + level_pos, year_pos, cost, n_groups * n_levels,
                                        weights, year_weight_mode)
    with np.errstate(invalid="ignore", divide="ignore"):
        coef = (cell_mean.reshape(n_groups, n_levels) / group_mean[:, None])
    counts = cell_count.reshape(n_groups, n_levels) >= min_cases
    coefs: dict[str, dict[int, float]] = {}
    for g in np.flatnonzero(counts.sum(axis=1) >= 2):
        kept = coef[g, counts[g]]   # levels ascending
        if kept.max() - kept.min() >= min_gap and np.all(np.diff(kept) >= 0):
            coefs[groups[g]] = {int(lv): float(c) for lv, c in zip(levels[counts[g]], kept)}
    return coefs


def _labels(values) -> tuple[np.ndarray, list[str]]:
    """(code per case with -1 where missing, the distinct texts); a categorical's own codes and
    categories, without a pass over the cases."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy().astype(np.int64), [str(c) for c in series.cat.categories]
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, [str(u) for u in uniques]


def insured_pool(region, insured_region, province_prefix_len: int = 2) -> np.ndarray:
    """Per case ``local``, ``remote_in_province`` (省内异地) or ``remote_out_of_province`` (跨省).

    Regions are compared as text (administrative division codes); a missing or empty
    ``insured_region`` counts as local. Returns an object array of the pool names.
    """
    return np.asarray(POOLS, dtype=object)[pool_codes(region, insured_region, province_prefix_len)]


def pool_codes(region, insured_region, province_prefix_len: int = 2) -> np.ndarray:
    """Index into ``POOLS`` of each case (int8); see :func:`insured_pool`.

    The pool is decided once per distinct (treatment region, insured region) pair, not per case.
    """
    treat, treat_labels = _labels(region)
    insured, insured_labels = _labels(insured_region)
    table = np.zeros((len(treat_labels) + 1, len(insured_labels) + 1), dtype=np.int8)  # last row/column: missing
    for i, t in enumerate(treat_labels):
        for j, s in enumerate(insured_labels):
            if s and s != t:
                table[i, j] = 1 if t[:province_prefix_len] == s[:province_prefix_len] else 2
    return table[treat, insured]
