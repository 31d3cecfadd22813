"""Group codes of the points stage: ungrouped codes as missing, codes to positions in a weight table."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


UNGROUPED_CODES = ("", "0000")


def code_column(frame: pd.DataFrame, column: str) -> pd.Series:
    """Codes as text; missing and the failure codes ``''`` / ``'0000'`` become missing (ungrouped)."""
    series = frame[column]
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = series.cat.categories.astype(str)
        series = series.cat.rename_categories(categories)
        drop = [c for c in UNGROUPED_CODES if c in set(categories)]
        if drop:
            series = series.cat.remove_categories(drop)
        return series
    text = series.astype("string")
    return text.mask(text.isin(UNGROUPED_CODES))


def group_index(codes: pd.Series, groups: pd.Index) -> np.ndarray:
    """Position of each code in ``groups`` (-1 where missing or unknown).

    Categoricals map their categories once; text columns are hashed by Arrow (no Python object per row).
    """
    if isinstance(codes.dtype, pd.CategoricalDtype):
        per_category = groups.get_indexer(codes.cat.categories.astype(str))
        raw = codes.cat.codes.to_numpy()
        out = np.where(raw >= 0, per_category[np.maximum(raw, 0)], -1)
        return out.astype(np.int64)
    try:
        values = pa.array(codes, from_pandas=True)
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            values = pc.cast(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return groups.get_indexer(codes.astype(object).where(codes.notna(), None)).astype(np.int64)
    vocabulary = pa.array(np.asarray(groups, dtype=object), type=values.type)
    index = pc.index_in(values, value_set=vocabulary)
    return pc.fill_null(index, -1).to_numpy(zero_copy_only=False).astype(np.int64)
