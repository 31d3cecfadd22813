"""Money in integer fen (分): conversion, rounding and exact largest-remainder sharing.

Every amount the budget stage pays is an ``int64`` number of fen.

Rounding to the fen follows the policy's ``settlement.rounding``: ``half_up`` (四舍五入, the
default: half a fen rounds away from zero, as settlement systems do) or ``half_even``. What is
rounded is the decimal value, not its binary float: a float holds the decimal text it was written
with only approximately (1.005 yuan is stored as 1.00499999999999989…, so ``× 100`` gives
100.49999999999999 fen). Float fen are therefore read at six decimals of a fen first — a value
within 5·10⁻⁷ fen of ``k + ½`` is exactly half a fen — and then rounded by the rule: 1.005 yuan
is 101 fen half up, 100 half to even. The same holds for products of fen and a decimal
coefficient (an assessment coefficient, a band share). Limits: six decimals recover the decimal
text of amounts below about 20 million yuan (the float error of ``yuan × 100`` stays below
5·10⁻⁷ fen up to 2·10⁹ fen); a larger amount written with exactly half a fen may round as its
float lies. A value whose true decimal lies within 5·10⁻⁷ fen of a half (more than eight decimals
of a yuan) counts as a half. Yuan figures of the policy file are rounded on their decimal text
(:func:`fen`), exactly.

A sum of money shared out in proportion to weights (points, fund-weighted points, the fund due of
hospitals) uses the largest-remainder (Hamilton) method: each share gets the floor of its exact
quota and the missing fen go to the largest remainders. Shares therefore add up to the total
exactly, and each share is within one fen of its exact quota (``|share − quota| < 1``). Items
whose remainders tie at the cut get the last fen in the order of a tie key that does not depend
on their order in the input — the case id of a stay, the hospital id of a hospital — and, without
a key, the earlier item first.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from drgdip.budget._kernels import _group_sum_int, _round_fen, share_grouped

__all__ = ["ROUNDING_RULES", "to_fen", "fen", "to_yuan", "round_fen", "allocate", "allocate_grouped",
           "share_by_weight", "group_sum", "band_amount"]

ROUNDING_RULES = ("half_up", "half_even")
DECIMAL_ROUNDING = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}


def _half_up(rule: str) -> bool:
    if rule not in DECIMAL_ROUNDING:
        raise ValueError(f"rounding must be one of {', '.join(ROUNDING_RULES)}, got {rule!r}")
    return rule == "half_up"


def round_fen(values, rule: str = "half_up"):
    """Float fen (finite) to int64 fen, read at six decimals of a fen, then half up or half to even.

    Returns an array of the shape of ``values`` (an ``int64`` scalar for a scalar).
    """
    values = np.asarray(values, dtype=np.float64)
    whole = _round_fen(np.ascontiguousarray(values).reshape(-1), _half_up(rule))
    return whole.reshape(values.shape)[()]


def to_fen(yuan, rule: str = "half_up"):
    """Yuan (floats) to int64 fen: :func:`round_fen` of ``yuan × 100`` (``1.005`` → 101 half up,
    100 half to even); NaN is an error upstream."""
    return round_fen(np.asarray(yuan, dtype=np.float64) * 100.0, rule)


def fen(yuan: float | int, rule: str = "half_up") -> int:
    """One yuan figure to fen, rounding its decimal text (``0.125`` → 13 half up, 12 half to even)."""
    _half_up(rule)
    return int((Decimal(str(yuan)) * 100).quantize(Decimal(1), rounding=DECIMAL_ROUNDING[rule]))


def to_yuan(fen_values) -> np.ndarray:
    """int64 fen to float yuan for output (two decimals exactly when printed)."""
    return np.asarray(fen_values, dtype=np.int64) / 100.0


def allocate_grouped(group, weight, total, n_groups: int | None = None, *,
                     tie_key=None) -> tuple[np.ndarray, np.ndarray]:
    """Share ``total[g]`` fen over the items of each group in proportion to ``weight`` (largest remainder).

    Parameters
    ----------
    group : int array [n]
        Group of each item (0 <= group < n_groups).
    weight : float array [n]
        Non-negative finite weights.
    total : int array [n_groups]
        Non-negative fen per group.
    tie_key : array-like [n], optional
        Items whose remainders tie at the cut get the last fen in ascending key order (numbers as
        numbers, anything else as text); without a key, or among equal keys, the earlier item first.

    Returns
    -------
    amount : int64[n]
        Fen per item; ``Σ_{i in g} amount[i] == total[g]`` for every group with positive weight.
    unplaced : int64[n_groups]
        Fen of groups with no weight at all (nothing could be placed).
    """
    group = np.ascontiguousarray(group, dtype=np.int64)
    weight = np.ascontiguousarray(weight, dtype=np.float64)
    total = np.ascontiguousarray(np.atleast_1d(total), dtype=np.int64)
    if n_groups is None:
        n_groups = len(total)
    if len(total) != n_groups:
        raise ValueError("total must have one entry per group")
    if len(group) != len(weight):
        raise ValueError("group and weight must have the same length")
    if tie_key is not None and len(tie_key) != len(group):
        raise ValueError("tie_key must have one entry per item")
    if len(group) and (group.min() < 0 or group.max() >= n_groups):
        raise ValueError("group ids must lie in [0, n_groups)")
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError("weights must be finite and non-negative")
    if (total < 0).any():
        raise ValueError("totals to share out must be non-negative")
    return share_by_weight(group, weight, total, int(n_groups), tie_key)


def share_by_weight(group: np.ndarray, weight: np.ndarray, total: np.ndarray, n_groups: int,
                    tie_key=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`allocate_grouped` of arrays the caller has checked: int64 ``group`` (``n_groups``:
    in no group), float64 ``weight``, int64 ``total``."""
    shared = share_grouped(group, weight, total, n_groups)
    amount = shared.amount
    if shared.tie_fen.any():
        _give_tied(amount, group, np.flatnonzero(shared.tied), shared.tie_fen, tie_key)
    return amount, shared.unplaced


def _give_tied(amount: np.ndarray, group: np.ndarray, tied: np.ndarray, tie_fen: np.ndarray, tie_key) -> None:
    """One fen each to the first ``tie_fen[g]`` of the ``tied`` items of each group, by ``tie_key``."""
    keys = tied if tie_key is None else _tie_keys(tie_key, tied)
    ranked = tied[np.lexsort((keys, group[tied]))]   # stable: equal keys keep the item order
    ranked_group = group[ranked]
    place = np.arange(len(ranked)) - np.searchsorted(ranked_group, ranked_group, side="left")
    amount[ranked[place < tie_fen[ranked_group]]] += 1


def _tie_keys(tie_key, items: np.ndarray) -> np.ndarray:
    """The keys of ``items``: numbers as they are, anything else as text."""
    keys = pd.Series(tie_key, copy=False).iloc[items]
    if pd.api.types.is_numeric_dtype(keys.dtype) and not pd.api.types.is_bool_dtype(keys.dtype):
        return keys.to_numpy(dtype=np.float64, na_value=np.nan) if keys.hasnans else keys.to_numpy()
    return keys.astype(str).to_numpy(dtype=object)


def allocate(total: int, weight) -> np.ndarray:
    """Share ``total`` fen over items in proportion to ``weight`` (largest remainder); sums exactly.

    Raises ``ValueError`` when the weights are all zero but there is money to share.
    """
    weight = np.asarray(weight, dtype=np.float64)
    amount, unplaced = allocate_grouped(np.zeros(len(weight), dtype=np.int64), weight,
                                        np.array([int(total)]), 1)
    if unplaced[0]:
        raise ValueError("cannot share money over items whose weights are all zero")
    return amount


def group_sum(group, values, n_groups: int) -> np.ndarray:
    """Exact int64 sum of fen ``values`` by ``group``."""
    return _group_sum_int(np.ascontiguousarray(group, dtype=np.int64),
                          np.ascontiguousarray(values, dtype=np.int64), int(n_groups))


def band_amount(amount, base, limits, shares, mode: str) -> np.ndarray:
    """Share of ``amount`` (fen, >= 0) under percentage bands of ``base`` (float fen result).

    ``limits`` are the bands' upper bounds as fractions of ``base`` (last one ``inf``), ``shares``
    each band's share. ``tiered``: each part of the amount inside a band gets that band's share;
    ``whole``: the whole amount gets the share of the band its ratio ``amount / base`` falls in
    (a ratio equal to a limit belongs to that band). A non-positive base puts everything in the last band.

    Example: amount 0.58 M on base 8.62 M (6.7 %), bands [(0.10, 0.5), (inf, 0.0)] → 0.29 M.
    """
    amount = np.asarray(amount, dtype=np.float64)
    base = np.asarray(base, dtype=np.float64)
    limits = np.asarray(limits, dtype=np.float64)
    shares = np.asarray(shares, dtype=np.float64)
    positive = base > 0
    if mode == "whole":
        ratio = np.where(positive, amount / np.where(positive, base, 1.0), np.inf)
        band = np.searchsorted(limits, ratio, side="left")
        band = np.minimum(band, len(limits) - 1)
        return amount * shares[band]
    safe_base = np.where(positive, base, 0.0)
    lower = np.concatenate(([0.0], limits[:-1]))
    out = np.zeros_like(amount)
    for lo, hi, share in zip(lower, limits, shares):
        width = np.inf if hi == np.inf else (hi - lo) * safe_base
        part = np.clip(amount - lo * safe_base, 0.0, width)
        out += share * part
    return np.where(positive, out, amount * shares[-1])
