"""Boundary validation of input tables: numeric columns, and (in time) the case table as a whole.

Every message names the file, the 1-based data row and the field, so that a user can find the value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drgdip.core.errors import UsageError

__all__ = ["number_column"]


def number_column(frame: pd.DataFrame, column: str, *, file: str, lo: float | None = 0.0,
                  allow_missing: bool = False, integer: bool = False) -> np.ndarray:
    """Column as float64 (int64 with ``integer``); a non-number, missing or out-of-range value is an error."""
    series = frame[column]
    if pd.api.types.is_bool_dtype(series.dtype):
        raise UsageError("expected a number, got true/false", file=file, row=1, field=column)
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad_text = None
    else:
        parsed = pd.to_numeric(series, errors="coerce")
        values = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
        bad_text = np.asarray(series.notna()) & np.isnan(values)
        if bad_text.any():
            row = int(np.flatnonzero(bad_text)[0])
            raise UsageError(f"expected a number, got {series.iloc[row]!r}", file=file, row=row + 1,
                             field=column)
    missing = np.isnan(values)
    if not allow_missing and missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise UsageError("value is missing", file=file, row=row + 1, field=column)
    if np.isinf(values).any():
        row = int(np.flatnonzero(np.isinf(values))[0])
        raise UsageError("value is infinite", file=file, row=row + 1, field=column)
    if lo is not None:
        below = values < lo
        if below.any():
            row = int(np.flatnonzero(below)[0])
            raise UsageError(f"must be >= {lo:g}, got {values[row]:g}", file=file, row=row + 1, field=column)
    if integer:
        whole = missing | (values == np.floor(np.where(missing, 0, values)))
        if not whole.all():
            row = int(np.flatnonzero(~whole)[0])
            raise UsageError(f"expected a whole number, got {values[row]:g}", file=file, row=row + 1,
                             field=column)
        if allow_missing:
            return values
        return values.astype(np.int64)
    return values
