"""Numba kernels of the case-mix perturbations: a draw's steps in work proportional to the stays they
touch, not to the stays of the province (a 20M-stay province's settlement year has some 7M).

A step draws among the *members* of each cell (a hospital, or a hospital and region): the input
rows that are its candidates, in case-id order, less those an earlier step removed (the *holes*),
then the copies an earlier step made of its candidates, in the order they were made. The candidate
lists are made once per input (:func:`cell_lists`); a step then finds its holes and copies among
the few stays earlier steps changed (:func:`step_members`) and picks its members (:func:`step_picks`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from drgdip.core._kernels import prefetch

__all__ = ["cell_lists", "step_members", "step_picks", "spread_order"]


@njit(cache=True, nogil=True)
def cell_lists(candidate, cell, order, n_cells):
    """The candidate rows of each cell in ``order``, each row's place in its cell's list, and the cell
    of each candidate.

    Parameters
    ----------
    candidate : bool[n]
    cell : int32[n]
        Cell of each row (any code for a row that is no candidate).
    order : int64[n]
        The rows in case-id order.
    n_cells : int

    Returns
    -------
    int64[n_cells + 1] pointers, int64[k] candidate rows cell by cell, int32[n] place of each row in
    its cell's list (-1: no candidate), int32[n] cell of each row (-1: no candidate)
    """
    ptr = np.zeros(n_cells + 1, dtype=np.int64)
    member_cell = np.full(candidate.shape[0], -1, dtype=np.int32)
    for i in range(candidate.shape[0]):
        if candidate[i]:
            ptr[cell[i] + 1] += 1
            member_cell[i] = cell[i]
    for c in range(n_cells):
        ptr[c + 1] += ptr[c]
    items = np.empty(ptr[n_cells], dtype=np.int64)
    place = np.full(candidate.shape[0], -1, dtype=np.int32)
    fill = ptr[:n_cells].copy()
    for k in range(order.shape[0]):
        row = order[k]
        if candidate[row]:
            c = cell[row]
            items[fill[c]] = row
            place[row] = fill[c] - ptr[c]
            fill[c] += 1
    return ptr, items, place, member_cell


@njit(cache=True, nogil=True)
def step_members(ptr, place, member_cell, removed, copy_row, copy_alive):
    """What earlier steps changed in each cell: its holes (places of removed candidate rows, ascending)
    and its copies (the copies of candidate rows, in the order they were made), and its size.

    Parameters
    ----------
    ptr : int64[n_cells + 1]
    place, member_cell : int32[n]
        Of :func:`cell_lists` (a copy's row is read in ``member_cell`` alone: one read of memory each).
    removed : int64[r]
        Rows removed by earlier steps.
    copy_row : int64[m]
        Input row of each copy made by earlier steps.
    copy_alive : bool[m]
        Copies not removed since.

    Returns
    -------
    hole_ptr int64[n_cells + 1], holes int64[h], copy_ptr int64[n_cells + 1], copies int64[c] (copy
    numbers), size int64[n_cells]
    """
    n_cells = ptr.shape[0] - 1
    hole_ptr = np.zeros(n_cells + 1, dtype=np.int64)
    for row in removed:
        if member_cell[row] >= 0:
            hole_ptr[member_cell[row] + 1] += 1
    copy_cell = np.empty(copy_row.shape[0], dtype=np.int64)   # -1: no member of this step
    copy_ptr = np.zeros(n_cells + 1, dtype=np.int64)
    for j in range(copy_row.shape[0]):
        copy_cell[j] = member_cell[copy_row[j]] if copy_alive[j] else -1
        if copy_cell[j] >= 0:
            copy_ptr[copy_cell[j] + 1] += 1
    for c in range(n_cells):
        hole_ptr[c + 1] += hole_ptr[c]
        copy_ptr[c + 1] += copy_ptr[c]
    holes = np.empty(hole_ptr[n_cells], dtype=np.int64)
    fill = hole_ptr[:n_cells].copy()
    for row in removed:
        c = member_cell[row]
        if c >= 0:
            holes[fill[c]] = place[row]
            fill[c] += 1
    for c in range(n_cells):
        holes[hole_ptr[c]:hole_ptr[c + 1]] = np.sort(holes[hole_ptr[c]:hole_ptr[c + 1]])
    copies = np.empty(copy_ptr[n_cells], dtype=np.int64)
    fill = copy_ptr[:n_cells].copy()
    for j in range(copy_row.shape[0]):
        if copy_cell[j] >= 0:
            copies[fill[copy_cell[j]]] = j
            fill[copy_cell[j]] += 1
    size = np.empty(n_cells, dtype=np.int64)
    for c in range(n_cells):
        size[c] = ptr[c + 1] - ptr[c] - (hole_ptr[c + 1] - hole_ptr[c]) + copy_ptr[c + 1] - copy_ptr[c]
    return hole_ptr, holes, copy_ptr, copies, size


@njit(cache=True, nogil=True)
def spread_order(values, limit):
    """The stable order that sorts ``values`` (integers), in time linear in their number when they lie
    in [0, limit) spread about evenly, such as positions of stays drawn at random: by bucket, then by
    insertion (any other values are sorted as well, only slower).

    Returns
    -------
    int64[n] ``order`` with ``values[order]`` ascending, equal values in their order in ``values``
    """
    n = values.shape[0]
    counts = np.zeros(n + 1, dtype=np.int64)
    bucket = np.empty(n, dtype=np.int64)
    for k in range(n):
        bucket[k] = min(max(values[k], 0), limit) * n // max(limit, 1)
        bucket[k] = min(bucket[k], n - 1)
        counts[bucket[k] + 1] += 1
    for b in range(n):
        counts[b + 1] += counts[b]
    order = np.empty(n, dtype=np.int64)
    for k in range(n):
        order[counts[bucket[k]]] = k
        counts[bucket[k]] += 1
    for k in range(1, n):
        item = order[k]
        j = k - 1
        while j >= 0 and values[order[j]] > values[item]:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = item
    return order


@njit(cache=True, nogil=True)
def step_picks(ptr, items, hole_ptr, holes, copy_ptr, copies, copy_row, size, wanted, uniforms):
    """``wanted[c]`` members of each cell ``c``, drawn with ``uniforms`` (one per member picked, in [0, 1)):
    without replacement when the cell has that many (Floyd's algorithm), with replacement otherwise.
    By cell, and in member order within a cell (the copies of one member together).

    Returns
    -------
    int64[k] input row of each member picked, int64[k] its copy number (-1: an input row),
    int64[k] its cell
    """
    n_cells = size.shape[0]
    total = 0
    widest = 1
    for c in range(n_cells):
        total += wanted[c]
        widest = max(widest, size[c])
    picked_row = np.empty(total, dtype=np.int64)
    picked_copy = np.empty(total, dtype=np.int64)
    picked_cell = np.empty(total, dtype=np.int64)
    marked = np.zeros(widest, dtype=np.bool_)
    member = np.empty(total, dtype=np.int64)
    at = 0
    for c in range(n_cells):
        w = wanted[c]
        n = size[c]
        if w == 0 or n == 0:
            continue
        if w <= n:
            k = at
            for j in range(n - w, n):
                t = min(np.int64(uniforms[k] * (j + 1)), j)
                if marked[t]:
                    t = j
                marked[t] = True
                member[k] = t
                k += 1
            for k in range(at, at + w):
                marked[member[k]] = False
        else:
            for k in range(at, at + w):
                member[k] = min(np.int64(uniforms[k] * n), n - 1)
        picks = member[at:at + w]
        picks[:] = picks[spread_order(picks, n)]   # drawn evenly over the cell: sorted in linear time
        first_hole, n_holes = hole_ptr[c], hole_ptr[c + 1] - hole_ptr[c]
        n_alive = ptr[c + 1] - ptr[c] - n_holes
        for k in range(at, at + w):   # ask for the cell's rows picked all at once (about: holes shift them)
            if member[k] < n_alive:
                prefetch(items, ptr[c] + member[k])
        for k in range(at, at + w):
            m = member[k]
            picked_cell[k] = c
            if m < n_alive:
                # holes before the m-th row still there: those whose place, less the holes before them, is <= m
                low, high = 0, n_holes
                while low < high:
                    mid = (low + high) // 2
                    if holes[first_hole + mid] - mid <= m:
                        low = mid + 1
                    else:
                        high = mid
                picked_row[k] = items[ptr[c] + m + low]
                picked_copy[k] = -1
            else:
                j = copies[copy_ptr[c] + m - n_alive]
                picked_row[k] = copy_row[j]
                picked_copy[k] = j
        at += w
    return picked_row, picked_copy, picked_cell
