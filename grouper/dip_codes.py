"""Code lists and ICD keys of DIP grouping, vectorised over Arrow string arrays.

Both the directory (its core groups' diagnosis keys) and the cases (their ``dx`` / ``proc`` lists) go
through these helpers, so a code is read the same way on either side.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from drgdip.core.errors import UsageError

__all__ = ["code_lists", "diagnosis_subcategory", "positions_in"]


def diagnosis_subcategory(codes) -> pa.Array:
    """ICD-10 subcategory (four characters, e.g. ``K35.8`` of ``K35.800x001``); ``K35`` when there is no dot."""
    codes = _as_string_array(codes)
    dot = pc.equal(pc.utf8_slice_codeunits(codes, 3, 4), ".")
    return pc.if_else(pc.and_(dot, pc.greater_equal(pc.utf8_length(codes), 5)),
                      pc.utf8_slice_codeunits(codes, 0, 5), pc.utf8_slice_codeunits(codes, 0, 3))


def _as_string_array(values) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(values, type=pa.string(), from_pandas=True)
    if values.type != pa.string():
        values = pc.cast(values, pa.string())
    return values


def positions_in(values, vocabulary: pd.Index) -> np.ndarray:
    """Position of each text value in ``vocabulary`` (-1 where absent), hashed by Arrow."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(vocabulary) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    value_set = pa.array(np.asarray(vocabulary, dtype=object), type=pa.string())
    index = pc.index_in(_as_string_array(values), value_set=value_set)
    return pc.fill_null(index, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _mixed_code_lists(column: pd.Series, file: str, field_name: str) -> pa.Array:
    """A column mixing lists and text (rare, hand-made frames): each text value split on ``|`` / ``,``."""
    def as_list(value):
        if isinstance(value, (list, tuple, np.ndarray)):
            return [str(v) for v in value]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if isinstance(value, str):
            return value.replace(",", "|").split("|")
        raise UsageError(f"expected text or a list of codes, got {type(value).__name__}", file=file,
                         field=field_name)
    return pa.array(column.map(as_list).tolist(), type=pa.list_(pa.string()))


def code_lists(column, n: int, field_name: str, file: str, *,
               first_empty: bool = False) -> tuple[np.ndarray, pa.Array] | tuple[np.ndarray, pa.Array, np.ndarray]:
    """A case column of code lists as CSR: (ptr int64[n+1], flat codes), empty items removed.

    ``column`` holds ``|``/``,``-joined text or lists of codes (a pandas Series or an Arrow array), or is
    None for a column the cases do not have (every list empty). ``field_name`` and ``file`` name the
    column in errors. ``first_empty`` also returns, per case, whether the list's first item was empty
    (``"|K35.800"``: RULES.md keeps it, so the principal diagnosis is empty, not the second code).
    """
    if column is None:
        empty = (np.zeros(n + 1, dtype=np.int64), pa.array([], pa.string()))
        return (*empty, np.zeros(n, dtype=bool)) if first_empty else empty
    if isinstance(column, pd.Series):
        try:  # text, or lists of codes: Arrow converts either without a Python loop of ours
            array = pa.array(column, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            array = _mixed_code_lists(column, file, field_name)
        if pa.types.is_null(array.type):
            array = pa.nulls(len(array), pa.string())
    else:
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        lists = array
    else:
        array = pc.cast(array, pa.string()) if array.type != pa.string() else array
        array = pc.fill_null(array, "")
        if pc.any(pc.match_substring(array, ",")).as_py():
            lists = pc.split_pattern_regex(array, r"[|,]")
        else:  # the common case: plain splitting is several times faster than a regex
            lists = pc.split_pattern(array, "|")
    flat = pc.cast(pc.list_flatten(lists), pa.string())
    parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    keep = pc.fill_null(pc.greater(pc.utf8_length(flat), 0), False).to_numpy(zero_copy_only=False)
    flat = flat.filter(pa.array(keep))
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(parent[keep], minlength=n), out=ptr[1:])
    if not first_empty:
        return ptr, flat
    starts = np.flatnonzero(np.diff(parent, prepend=-1) != 0)   # each list's first item
    empty_first = np.zeros(n, dtype=bool)
    empty_first[parent[starts]] = ~keep[starts]
    return ptr, flat, empty_first
