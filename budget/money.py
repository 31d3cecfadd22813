"""Money in integer fen (分): conversion, rounding and exact largest-remainder sharing.

Every amount the budget stage pays is an ``int64`` number of fen. Yuan figures become fen by
rounding half to even at the fen. A sum of money shared out in proportion to weights (points,
fund-weighted points, the fund due of hospitals) uses the largest-remainder (Hamilton) method:
each share gets the floor of its exact quota and the missing fen go to the largest remainders,
earlier item first on ties. Shares therefore add up to the total exactly, and each share is
within one fen of its exact quota (``|share − quota| < 1``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from drgdip.budget._kernels import _group_sum_int, share_grouped

__all__ = ["to_fen", "fen", "to_yuan", "round_fen", "allocate", "allocate_grouped", "group_sum",
           "band_amount"]


def to_fen(yuan) -> np.ndarray:
    """Yuan (float array) to int64 fen, rounding half to even at the fen; NaN is an error upstream."""
    values = np.asarray(yuan, dtype=np.float64)
    return np.rint(values * 100.0).astype(np.int64)


def fen(yuan: float | int) -> int:
    """One yuan figure to fen, rounding half to even on its decimal text (``0.125`` → 12)."""
    return int((Decimal(str(yuan)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def to_yuan(fen_values) -> np.ndarray:
    """int64 fen to float yuan for output (two decimals exactly when printed)."""
    return np.asarray(fen_values, dtype=np.int64) / 100.0


def round_fen(values) -> np.ndarray:
    """Float fen to int64 fen, half to even."""
    return np.rint(np.asarray(values, dtype=np.float64)).astype(np.int64)


def allocate_grouped(group, weight, total, n_groups: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Share ``total[g]`` fen over the items of each group in proportion to ``weight`` (largest remainder).

    Parameters
    ----------
    group : int array [n]
        Group of each item (0 <= group < n_groups).
    weight : float array [n]
        Non-negative finite weights.
    total : int array [n_groups]
        Non-negative fen per group.

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
    if len(group) and (group.min() < 0 or group.max() >= n_groups):
        raise ValueError("group ids must lie in [0, n_groups)")
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError("weights must be finite and non-negative")
    if (total < 0).any():
        raise ValueError("totals to share out must be non-negative")
    return share_grouped(group, weight, total, int(n_groups))


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
