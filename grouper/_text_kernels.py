"""Numba kernels over Arrow string buffers: split code lists, look codes up, parse integer text.

Arrow keeps a text column as one byte buffer plus offsets; these kernels read those arrays
directly, so millions of ``|``-joined code lists are split and hashed without creating a Python
(or Arrow) object per code.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

PIPE = np.uint8(ord("|"))
COMMA = np.uint8(ord(","))
MINUS = np.uint8(ord("-"))
ZERO = np.uint8(ord("0"))
NINE = np.uint8(ord("9"))

# parse_integer_text kinds
TEXT_ABSENT = 0   # empty or null
TEXT_INTEGER = 1  # -?[0-9]+ with at most 18 digits
TEXT_OTHER = 2    # anything else (long integers included): typed in Python on distinct values


class CodeTable(NamedTuple):
    """Open-addressing hash table of a code vocabulary (id = position in the vocabulary)."""

    slots: np.ndarray    # int32[2**k] code id or -1
    data: np.ndarray     # uint8[total bytes] the codes' UTF-8 bytes
    offsets: np.ndarray  # int64[n_codes + 1]


@njit(cache=True, inline="always")
def _hash(data, start, stop):
    """FNV-1a over ``data[start:stop]``."""
    h = np.uint64(14695981039346656037)
    for k in range(start, stop):
        h = (h ^ np.uint64(data[k])) * np.uint64(1099511628211)
    return h


@njit(cache=True)
def _build_slots(data, offsets, size):
    slots = np.full(size, -1, dtype=np.int32)
    mask = np.uint64(size - 1)
    for code in range(offsets.shape[0] - 1):
        slot = _hash(data, offsets[code], offsets[code + 1]) & mask
        while slots[slot] >= 0:
            slot = (slot + np.uint64(1)) & mask
        slots[slot] = code
    return slots


def build_code_table(codes) -> CodeTable:
    """Hash table of distinct ``codes`` (a sequence of str)."""
    encoded = [str(c).encode("utf-8") for c in codes]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
    size = 1 << max(4, int(2 * max(len(encoded), 1) - 1).bit_length())
    return CodeTable(_build_slots(data, offsets, size), data, offsets)


@njit(cache=True, inline="always")
def _lookup(table_slots, table_data, table_offsets, data, start, stop):
    mask = np.uint64(table_slots.shape[0] - 1)
    slot = _hash(data, start, stop) & mask
    length = stop - start
    while True:
        code = table_slots[slot]
        if code < 0:
            return -1
        begin = table_offsets[code]
        if table_offsets[code + 1] - begin == length:
            same = True
            for k in range(length):
                if table_data[begin + k] != data[start + k]:
                    same = False
                    break
            if same:
                return code
        slot = (slot + np.uint64(1)) & mask


@njit(parallel=True, cache=True, nogil=True)
def _count_items(offsets, data, valid, empty_is_none):
    n = offsets.shape[0] - 1
    counts = np.empty(n, dtype=np.int64)
    for i in prange(n):
        start = offsets[i]
        stop = offsets[i + 1]
        if not valid[i]:
            start = stop
        if start == stop:
            counts[i] = 0 if empty_is_none else 1
            continue
        items = 1
        for k in range(start, stop):
            byte = data[k]
            if byte == PIPE or byte == COMMA:
                items += 1
        counts[i] = items
    return counts


@njit(parallel=True, cache=True, nogil=True)
def _encode_items(offsets, data, valid, ptr, table_slots, table_data, table_offsets):
    n = offsets.shape[0] - 1
    ids = np.empty(ptr[n], dtype=np.int32)
    for i in prange(n):
        out = ptr[i]
        if ptr[i + 1] == out:
            continue
        start = offsets[i]
        stop = offsets[i + 1]
        if not valid[i]:
            start = stop
        item_start = start
        for k in range(start, stop + 1):
            if k == stop or data[k] == PIPE or data[k] == COMMA:
                ids[out] = _lookup(table_slots, table_data, table_offsets, data, item_start, k)
                out += 1
                item_start = k + 1
    return ids


def split_and_encode(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray, table: CodeTable,
                     empty_is_none: bool) -> tuple[np.ndarray, np.ndarray]:
    """CSR (ptr int64[n+1], ids int32) of ``|``/``,``-separated codes of each string.

    Parameters
    ----------
    offsets : int32 or int64[n + 1]
        Arrow string offsets of the column (already shifted to the array's slice).
    data : uint8[n_bytes]
        Arrow string data buffer.
    valid : bool[n]
        False where the value is null (treated as empty text).
    table : CodeTable
        The vocabulary; unknown codes get -1.
    empty_is_none : bool
        Empty text is the empty list (procedures) instead of one empty code (diagnoses).
    """
    counts = _count_items(offsets, data, valid, empty_is_none)
    ptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    ids = _encode_items(offsets, data, valid, ptr, table.slots, table.data, table.offsets)
    return ptr, ids


@njit(parallel=True, cache=True, nogil=True)
def _lookup_strings(offsets, data, valid, table_slots, table_data, table_offsets):
    n = offsets.shape[0] - 1
    ids = np.empty(n, dtype=np.int32)
    for i in prange(n):
        if valid[i]:
            ids[i] = _lookup(table_slots, table_data, table_offsets, data, offsets[i], offsets[i + 1])
        else:
            ids[i] = _lookup(table_slots, table_data, table_offsets, data, 0, 0)
    return ids


def lookup_strings(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray,
                   table: CodeTable) -> np.ndarray:
    """Id of each whole string (one code per element; nulls look up as the empty code)."""
    return _lookup_strings(offsets, data, valid, table.slots, table.data, table.offsets)


@njit(parallel=True, cache=True, nogil=True)
def parse_integer_text(offsets, data, valid):
    """Type each string as absent, an integer (``-?[0-9]+``, <= 18 digits) or other text.

    Returns (kind int8[n], value int64[n]); value is 0 unless kind is TEXT_INTEGER.
    """
    n = offsets.shape[0] - 1
    kind = np.empty(n, dtype=np.int8)
    value = np.zeros(n, dtype=np.int64)
    for i in prange(n):
        start = offsets[i]
        stop = offsets[i + 1]
        if not valid[i] or start == stop:
            kind[i] = TEXT_ABSENT
            continue
        negative = data[start] == MINUS
        first = start + 1 if negative else start
        digits = stop - first
        if digits < 1 or digits > 18:
            kind[i] = TEXT_OTHER
            continue
        total = np.int64(0)
        integer = True
        for k in range(first, stop):
            byte = data[k]
            if byte < ZERO or byte > NINE:
                integer = False
                break
            total = total * 10 + np.int64(byte - ZERO)
        if integer:
            kind[i] = TEXT_INTEGER
            value[i] = -total if negative else total
        else:
            kind[i] = TEXT_OTHER
    return kind, value
