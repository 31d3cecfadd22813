"""numba kernels shared by every stage: plain numpy arrays in and out."""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["counting_order", "first_bad_number", "first_appearance_codes", "text_hashes", "prefetch"]


@intrinsic
def prefetch(typingctx, values, index):
    """``prefetch(values, index)`` in a kernel: ask the memory for the cache line holding ``values[index]``
    (a 1-d array) and go on without waiting for it.

    A kernel that reads items scattered over a large array asks for a batch of them first: the loads
    then overlap one another and the work on items already there, where loads that wait for their
    value would each hold the core up (numba has no other way to emit the CPU's prefetch).
    """
    if not isinstance(values, types.Array) or values.ndim != 1 or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, array, [args[1]])
        byte_pointer, word = ir.IntType(8).as_pointer(), ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, word, word, word]), "llvm.prefetch.p0i8")
        # read (0), keep in every cache level (3), data (1)
        builder.call(function, [builder.bitcast(pointer, byte_pointer), word(0), word(3), word(1)])
        return context.get_dummy_value()

    return types.void(values, index), codegen


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


@nb.njit(cache=True)
def first_bad_number(values, lo, allow_missing, integer):
    """First value that is missing (when not allowed), infinite, below ``lo`` or, with ``integer``,
    not whole; checked in that order for each value.

    Parameters
    ----------
    values : float64[n]
    lo : float
        Smallest value allowed (``-inf``: no bound).
    allow_missing, integer : bool

    Returns
    -------
    (index, kind) : (int, int)
        Index of the first bad value (-1 when none) and why: 1 missing, 2 infinite, 3 below ``lo``,
        4 not whole.
    """
    for i in range(values.shape[0]):
        v = values[i]
        if np.isnan(v):
            if not allow_missing:
                return i, 1
        elif np.isinf(v):
            return i, 2
        elif v < lo:
            return i, 3
        elif integer and v != np.floor(v):
            return i, 4
    return -1, 0


@nb.njit(cache=True)
def first_appearance_codes(codes, n_labels):
    """Renumber label codes by the order in which the labels first appear (as factorizing text does).

    Parameters
    ----------
    codes : integer[n]
        Label of each item, -1 where missing.
    n_labels : int

    Returns
    -------
    new_codes : int64[n]
        ``-1`` where missing, else the rank of the label's first appearance.
    used : int64[n_used]
        The old label of each new code.
    """
    number = np.full(n_labels, -1, dtype=np.int64)
    used = np.empty(n_labels, dtype=np.int64)
    n_used = 0
    new_codes = np.empty(codes.shape[0], dtype=np.int64)
    for i in range(codes.shape[0]):
        c = codes[i]
        if c < 0:
            new_codes[i] = -1
            continue
        if number[c] < 0:
            number[c] = n_used
            used[n_used] = c
            n_used += 1
        new_codes[i] = number[c]
    return new_codes, used[:n_used]


@nb.njit(cache=True, parallel=True)
def text_hashes(offsets, data, out):
    """64-bit FNV-1a hash of each string of an Arrow string array (equal strings, equal hashes).

    Parameters
    ----------
    offsets : int32 or int64[n + 1]
        Start of each string in ``data`` (its slice applied).
    data : uint8[m]
        The strings' bytes.
    out : uint64[n]
        Written: the hash of each string.
    """
    for i in nb.prange(out.shape[0]):
        h = np.uint64(14695981039346656037)
        for k in range(offsets[i], offsets[i + 1]):
            h ^= np.uint64(data[k])
            h *= np.uint64(1099511628211)
        out[i] = h
