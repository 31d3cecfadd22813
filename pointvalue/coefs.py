"""Hospital and remote coefficients (医疗机构调节系数, 异地系数) (domain.md §4.2–4.4, §7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from drgdip.core.checks import number_column
from drgdip.core.tables import read_table, source_name
from drgdip.pointvalue.weights import weighted_group_means

__all__ = ["hospital_level_coefs", "insured_pool", "pool_codes", "POOLS"]

POOLS = ("local", "remote_in_province", "remote_out_of_province")


def hospital_level_coefs(history, year_weights=(1, 2, 7), year_weight_mode: str = "mean") -> dict[int, float]:
    """coef_level = year-weighted mean cost of that level's cases / year-weighted city mean cost (§4.2).

    ``history``: ``year``, ``hospital_level``, ``total_cost`` (DataFrame or path); the latest
    ``len(year_weights)`` years are used, weights aligned to the latest year. Returns ``{level: coef}``.
    Example: tier-3 mean 12,000 vs city 10,000 -> 1.20.
    """
    file = source_name(history)
    frame = read_table(history, required=("year", "hospital_level", "total_cost"), what="history",
                       columns=("year", "hospital_level", "total_cost"))
    year = number_column(frame, "year", file=file, lo=None, integer=True)
    level = number_column(frame, "hospital_level", file=file, integer=True)
    cost = number_column(frame, "total_cost", file=file)
    weights = np.asarray(year_weights, dtype=np.float64)
    years = np.unique(year)[-len(weights):]
    weights = weights[-len(years):]
    use = np.isin(year, years)
    levels, level_pos = np.unique(level[use], return_inverse=True)
    year_pos = np.searchsorted(years, year[use])
    cell = level_pos * len(years) + year_pos
    shape = (len(levels), len(years))
    count = np.bincount(cell, minlength=shape[0] * shape[1]).reshape(shape)
    total = np.bincount(cell, weights=cost[use], minlength=shape[0] * shape[1]).reshape(shape)
    by_level = weighted_group_means(total, count, weights, year_weight_mode)
    city = weighted_group_means(total.sum(axis=0, keepdims=True), count.sum(axis=0, keepdims=True),
                                weights, year_weight_mode)[0]
    return {int(lv): float(m / city) for lv, m in zip(levels, by_level)}


def _labels(values) -> tuple[np.ndarray, list[str]]:
    """(code per case with -1 where missing, the distinct texts); categoricals without a string per case."""
    codes, uniques = pd.factorize(values if isinstance(values, pd.Series) else pd.Series(values),
                                  use_na_sentinel=True)
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
