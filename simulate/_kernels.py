"""Numba kernels of the case-mix perturbations: one pass over a draw's stays where numpy would make
several arrays of their size (a 20M-stay province's settlement year has some 7M)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["cell_counts", "candidates_in_order", "keys_below"]


@njit(cache=True)
def cell_counts(candidate, cell, n_cells):
    """Candidate stays per cell.

    Parameters
    ----------
    candidate : bool[n]
    cell : int64[n]
        Cell of each stay (any code for a stay that is no candidate).
    n_cells : int

    Returns
    -------
    int64[n_cells]
    """
    size = np.zeros(n_cells, dtype=np.int64)
    for i in range(candidate.shape[0]):
        if candidate[i]:
            size[cell[i]] += 1
    return size


@njit(cache=True)
def candidates_in_order(order, candidate, cell, keep_cell):
    """The candidate stays of the cells kept, in ``order``, and their cells.

    Parameters
    ----------
    order : int64[n]
        The draw's stays in case-id order.
    candidate : bool[n]
    cell : int64[n]
    keep_cell : bool[n_cells]

    Returns
    -------
    int64[k] stays, int64[k] their cells
    """
    total = 0
    for i in range(order.shape[0]):
        stay = order[i]
        if candidate[stay] and keep_cell[cell[stay]]:
            total += 1
    stays = np.empty(total, dtype=np.int64)
    cells = np.empty(total, dtype=np.int64)
    k = 0
    for i in range(order.shape[0]):
        stay = order[i]
        if candidate[stay] and keep_cell[cell[stay]]:
            stays[k] = stay
            cells[k] = cell[stay]
            k += 1
    return stays, cells


@njit(cache=True)
def keys_below(key, cell, threshold, n_cells):
    """Positions whose random key is below their cell's threshold, ascending, and their count per cell.

    Parameters
    ----------
    key : float64[n]
    cell : int64[n]
    threshold : float64[n_cells]
    n_cells : int

    Returns
    -------
    int64[k], int64[n_cells]
    """
    count = np.zeros(n_cells, dtype=np.int64)
    total = 0
    for i in range(key.shape[0]):
        if key[i] < threshold[cell[i]]:
            count[cell[i]] += 1
            total += 1
    below = np.empty(total, dtype=np.int64)
    k = 0
    for i in range(key.shape[0]):
        if key[i] < threshold[cell[i]]:
            below[k] = i
            k += 1
    return below, count
