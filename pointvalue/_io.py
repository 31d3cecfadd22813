"""Input tables of the points stage: read a path or take a DataFrame, check columns and numbers.

Errors are :class:`UsageError` naming the file, the 1-based data row and the field.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from drgdip.core.errors import UsageError
from drgdip.core.tables import source_name

UNGROUPED_CODES = ("", "0000")


def read_table(source, required: tuple[str, ...], *, what: str, columns: tuple[str, ...] | None = None,
               dtype_text: tuple[str, ...] = ()) -> pd.DataFrame:
    """A DataFrame from ``source`` (DataFrame, ``.csv`` or ``.parquet`` path) with ``required`` columns.

    ``columns`` limits what is read from files; ``dtype_text`` columns are read from CSV as text so
    that codes such as ``0101`` keep their leading zeros.
    """
    name = source_name(source)
    if isinstance(source, pd.DataFrame):
        frame = source
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise UsageError(f"{what}: no such file", file=name)
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            try:
                frame = pd.read_parquet(path, columns=None if columns is None else
                                        _present_parquet_columns(path, columns))
            except Exception as error:  # pyarrow raises several types for unreadable files
                raise UsageError(f"{what}: cannot read Parquet: {error}", file=name) from None
        elif suffix in (".csv", ".txt"):
            try:
                header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
                use = None if columns is None else [c for c in header if c in columns]
                frame = pd.read_csv(path, usecols=use, encoding="utf-8-sig", keep_default_na=False,
                                    na_values=[""],
                                    dtype={c: str for c in header if c in dtype_text})
            except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as error:
                raise UsageError(f"{what}: cannot read CSV: {error}", file=name) from None
        else:
            raise UsageError(f"{what}: expected a .csv or .parquet file", file=name)
    else:
        raise UsageError(f"{what}: expected a DataFrame or a path, got {type(source).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise UsageError(f"{what}: missing column(s) {', '.join(missing)} (needs {', '.join(required)})",
                         file=name, field=missing[0])
    return frame


def _present_parquet_columns(path: Path, columns: tuple[str, ...]) -> list[str]:
    import pyarrow.parquet as pq
    names = pq.ParquetFile(path).schema_arrow.names
    return [c for c in names if c in columns]


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
