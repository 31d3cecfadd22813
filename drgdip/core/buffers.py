"""Output arrays kept for the next run of the same computation (scenarios settle one province again and again).

A new array of tens of millions of items costs more to map into memory than a numba kernel takes to
fill it (the pages are faulted in, and zeroed, on first touch). A scenario's per-stay outputs are
therefore written into the arrays of an earlier scenario whenever nothing holds those any more.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["reusable_array", "warm_arrays"]

KEPT_PER_NAME = 3   # arrays kept per output: the last results may still be held while the next is computed


def reusable_array(buffers: dict | None, name: str, n: int, dtype=np.float64) -> np.ndarray:
    """An uninitialised array of ``n`` items of ``dtype`` for the output ``name``: one kept in ``buffers``
    that nothing else refers to any more (no frame, view or result), else a new one, kept there when
    fewer than :data:`KEPT_PER_NAME` are. ``buffers`` None: always a new one.
    """
    if buffers is None:
        return np.empty(n, dtype=dtype)
    kept = buffers.setdefault(name, [])
    for array in kept:
        # held by the list, the loop variable and the call's argument only: no one else can see it
        if array.shape == (n,) and array.dtype == dtype and sys.getrefcount(array) <= 3:
            return array
    array = np.empty(n, dtype=dtype)
    if len(kept) < KEPT_PER_NAME:
        kept.append(array)
    return array


def warm_arrays(buffers: dict, names, n: int, sets: int = 2, dtype=np.float64) -> None:
    """Keep ``sets`` arrays of ``n`` items for each output of ``names`` in ``buffers``, their pages touched
    now: the first runs that reuse them do not pay for mapping them (a run's outputs are still held
    while the next is computed, hence two)."""
    for name in names:
        arrays = [reusable_array(buffers, name, n, dtype) for _ in range(sets)]
        for array in arrays:
            array.fill(0)
