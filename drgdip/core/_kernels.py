"""numba kernels shared by every stage: plain numpy arrays in and out."""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["counting_order"]


@nb.njit(cache=True)
def counting_order(unit, n_units):
    """Counting sort of items by unit (group, hospital, pool...): stable, O(n + n_units).

    Parameters
    ----------
    unit : int64[n]
        Unit id of each case (0 <= unit < n_units).
    n_units : int

    Returns
    -------
    order : int64[n]      case indices grouped by unit, in input order within a unit
    start : int64[n_units + 1]   ``order[start[u]:start[u+1]]`` are the cases of unit u
    """
    n = unit.shape[0]
    start = np.zeros(n_units + 1, dtype=np.int64)
    for i in range(n):
        start[unit[i] + 1] += 1
    for u in range(n_units):
        start[u + 1] += start[u]
    fill = start[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        u = unit[i]
        order[fill[u]] = i
        fill[u] += 1
    return order, start
