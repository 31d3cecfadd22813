"""Boundary validation of input tables: the case table as a whole, and single numeric columns.

:func:`check_case_table` runs once, where a case table enters the engine and before any stage
touches a column: every column it knows (:data:`CASE_COLUMNS`) is checked for its type and range and
converted to one dtype (money as float64 yuan, whole numbers as int64, times as datetime64, flags
as bool), so that later stages never parse text again. Columns it does not know pass through.

Every message names the file, the row and the field. A check counts the rows of the frame it is given
from 1; callers that hold only some rows of a file tell them as the file's rows
(:func:`drgdip.core.errors.rows_in_file`: in a CSV file or a sheet the header is row 1, as a
spreadsheet shows it, so the first stay is row 2; in Parquet and DataFrames the first stay is row 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from drgdip.core._kernels import first_bad_number, text_hashes
from drgdip.core.errors import UsageError
from drgdip.core.frames import with_columns

__all__ = ["ColumnRule", "CASE_COLUMNS", "MONEY_COLUMNS", "STAY_PROBLEMS", "check_case_table", "stay_problems",
           "repeated_values", "number_column", "flag_column",
           "time_column", "first_row"]


def number_column(frame: pd.DataFrame, column: str, *, file: str, lo: float | None = 0.0,
                  allow_missing: bool = False, integer: bool = False) -> np.ndarray:
    """Column as float64 (int64 with ``integer``); a non-number, missing or out-of-range value is an error."""
    series = frame[column]
    if pd.api.types.is_bool_dtype(series.dtype):
        raise UsageError("expected a number, got true/false", file=file, row=1, field=column)
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iuf":
        return _plain_numbers(series.to_numpy(), column, file=file, lo=lo, allow_missing=allow_missing,
                              integer=integer)
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


def _plain_numbers(values: np.ndarray, column: str, *, file: str, lo: float | None, allow_missing: bool,
                   integer: bool) -> np.ndarray:
    """:func:`number_column` of a numpy integer or float column in one compiled pass (no float copy
    of an integer column)."""
    if values.dtype.kind in "iu":
        if lo is not None and len(values) and values.min() < lo:
            row = first_row(values < lo)
            raise UsageError(f"must be >= {lo:g}, got {values[row - 1]}", file=file, row=row, field=column)
        if integer:
            return values.astype(np.int64, copy=False)
        return values.astype(np.float64)
    values = values.astype(np.float64, copy=False)
    index, kind = first_bad_number(values, -np.inf if lo is None else float(lo), allow_missing, integer)
    if index >= 0:
        message = {1: "value is missing", 2: "value is infinite", 3: f"must be >= {lo:g}, got {values[index]:g}",
                   4: f"expected a whole number, got {values[index]:g}"}[kind]
        raise UsageError(message, file=file, row=index + 1, field=column)
    if integer and not allow_missing:
        return values.astype(np.int64)
    return values


def first_row(mask: np.ndarray) -> int:
    """1-based data row of the first True in ``mask``."""
    return int(np.flatnonzero(mask)[0]) + 1


@dataclass(frozen=True)
class ColumnRule:
    """What a case-table column must hold.

    ``kind``: ``text`` (any value), ``integer`` (whole numbers), ``number``, ``money`` (yuan, finite),
    ``time`` (date and time), ``flag`` (true/false, 1/0, yes/no, y/n, 是/否). ``lo``/``hi`` bound
    numbers (inclusive); ``missing``: whether an empty value is allowed.
    """

    kind: Literal["text", "integer", "number", "money", "time", "flag"]
    lo: float | None = None
    hi: float | None = None
    missing: bool = True
    widen: bool = False   # held as int64 (day care writes values a narrow type cannot hold)
    doc: str = ""


CASE_COLUMNS: Mapping[str, ColumnRule] = {
    "case_id": ColumnRule("text", missing=False, doc="unique id of the settled stay"),
    "total_cost": ColumnRule("money", lo=0.0, missing=False, doc="total cost of the stay, yuan"),
    "fund_paid": ColumnRule("money", lo=0.0, missing=False, doc="the pooled fund's share, yuan"),
    "fixed_payment": ColumnRule("money", lo=0.0, doc="yuan paid outside the point pool"),
    "self_pay_in_scope": ColumnRule("money", lo=0.0, doc="patient's in-catalogue share, yuan"),
    "self_pay_out_scope": ColumnRule("money", lo=0.0, doc="patient's out-of-catalogue share, yuan"),
    "drug_cost": ColumnRule("money", lo=0.0, doc="drug part of the cost, yuan"),
    "consumable_cost": ColumnRule("money", lo=0.0, doc="consumable part of the cost, yuan"),
    "los": ColumnRule("integer", lo=0, widen=True, doc="length of stay, days"),
    "hospital_level": ColumnRule("integer", lo=0, hi=9, doc="hospital level (3, 2, 1)"),
    "year": ColumnRule("integer", lo=1900, hi=2200, doc="settlement year"),
    "month": ColumnRule("integer", lo=0, hi=12, doc="settlement month (0: unknown)"),
    "leaving_type": ColumnRule("integer", lo=0, hi=9, doc="discharge way (1 ordinary ... 5 death)"),
    "icu_hours": ColumnRule("number", lo=0.0, doc="hours in intensive care"),
    "case_points": ColumnRule("number", doc="final points of the stay"),
    "base_points": ColumnRule("number", doc="base points of the stay's group"),
    "admit_time": ColumnRule("time", doc="admission date and time"),
    "discharge_time": ColumnRule("time", doc="discharge date and time"),
    "settle_date": ColumnRule("time", doc="settlement date"),
    "day_exception": ColumnRule("flag", doc="documented exception to the day-care time window"),
}
MONEY_COLUMNS = tuple(name for name, rule in CASE_COLUMNS.items() if rule.kind == "money")

TRUE_TEXT = ("true", "t", "yes", "y", "1", "是")
FALSE_TEXT = ("false", "f", "no", "n", "0", "否")


def check_case_table(frame: pd.DataFrame, *, file: str = "<cases>", required: Iterable[str] = (),
                     rules: Mapping[str, ColumnRule] = CASE_COLUMNS,
                     file_rows: np.ndarray | None = None) -> pd.DataFrame:
    """Check every known column of a case table and give it its one dtype (see the module docstring).

    ``required`` columns must be present. Returns the frame with converted columns (no copy of
    columns that already have their dtype); raises :class:`UsageError` naming file, row and field.
    ``file_rows`` are the file's row numbers of ``frame``'s rows when it holds only some of them.
    """
    if file_rows is not None:
        try:
            return check_case_table(frame, file=file, required=required, rules=rules)
        except UsageError as error:
            if error.row is None:
                raise
            raise error.at_row(int(file_rows[error.row - 1])) from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise UsageError(f"missing column(s) {', '.join(missing)} (needs {', '.join(required)})", file=file,
                         field=missing[0])
    converted = {}
    for name, rule in rules.items():
        if name not in frame.columns:
            continue
        values = _checked(frame, name, rule, file)
        if values is not None:
            converted[name] = values
    return with_columns(frame, **converted)


def _checked(frame: pd.DataFrame, name: str, rule: ColumnRule, file: str):
    """The column converted to its rule's dtype, or None when it already has it (and is valid)."""
    series = frame[name]
    if rule.kind == "text":
        if not rule.missing and series.hasnans:
            raise UsageError("value is missing", file=file, row=first_row(series.isna().to_numpy()), field=name)
        return None
    if rule.kind == "time":
        return time_column(frame, name, file=file, allow_missing=rule.missing)
    if rule.kind == "flag":
        return flag_column(frame, name, file=file)
    lo = rule.lo if rule.lo is not None else None
    values = number_column(frame, name, file=file, lo=lo, allow_missing=rule.missing,
                           integer=rule.kind == "integer")
    if rule.hi is not None:
        above = values > rule.hi
        if above.any():
            row = first_row(above)
            raise UsageError(f"must be <= {rule.hi:g}, got {values[row - 1]:g}", file=file, row=row, field=name)
    if rule.kind == "integer":
        if np.issubdtype(values.dtype, np.integer):
            if isinstance(series.dtype, np.dtype) and (series.dtype.itemsize == 8 or not rule.widen):
                return None   # narrow whole numbers stay narrow unless a rule may write larger ones
            return values.astype(np.int64, copy=False)
        missing = np.isnan(values)
        return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)
    if series.dtype == np.float64:
        return None
    return values


def time_column(frame: pd.DataFrame, column: str, *, file: str, allow_missing: bool = True) -> pd.Series:
    """A date/time column as datetime64 (unit kept when it already is one); unreadable text is an error."""
    series = frame[column]
    if pd.api.types.is_datetime64_any_dtype(series.dtype) and not isinstance(series.dtype, pd.ArrowDtype):
        times = series
    else:
        times = pd.to_datetime(series, errors="coerce", format="mixed") if len(series) else \
            series.astype("datetime64[ns]")
        bad = times.isna().to_numpy() & series.notna().to_numpy()
        if bad.any():
            row = first_row(bad)
            raise UsageError(f"cannot read the date/time {series.iloc[row - 1]!r}", file=file, row=row, field=column)
    if not allow_missing and times.hasnans:
        raise UsageError("value is missing", file=file, row=first_row(times.isna().to_numpy()), field=column)
    return times


def flag_column(frame: pd.DataFrame, column: str, *, file: str) -> np.ndarray:
    """A yes/no column as bool: true/false, 1/0, yes/no, y/n, 是/否 (any case); empty is false."""
    series = frame[column]
    if pd.api.types.is_bool_dtype(series.dtype) and not series.hasnans:
        return series.to_numpy(dtype=bool)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    meaning = np.zeros(len(uniques) + 1, dtype=bool)
    for k, value in enumerate(uniques):
        text = str(value).strip().lower()
        if isinstance(value, (bool, np.bool_)):
            meaning[k] = bool(value)
        elif isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
            meaning[k] = bool(value)
        elif text in TRUE_TEXT:
            meaning[k] = True
        elif text not in FALSE_TEXT and text != "":
            raise UsageError(f"expected yes or no (true/false, 1/0, y/n, 是/否), got {value!r}", file=file,
                             row=first_row(codes == k), field=column)
    return meaning[codes]


# stays that cannot be paid as they stand: each is left out of the settlement with its own status
STAY_PROBLEMS = {
    "duplicate_case_id": "case_id of an earlier stay (the first stay with an id is settled)",
    "discharge_before_admission": "discharge_time before admit_time",
    "fund_above_cost": "fund_paid above total_cost (the patient's share would be negative)",
    "unknown_hospital": "hospital_id not in the hospitals table",
}


def stay_problems(frame: pd.DataFrame, *, known_hospitals=None) -> np.ndarray:
    """The first problem of :data:`STAY_PROBLEMS` each stay has: int8 code, 0 none, ``k`` the k-th problem.

    Run on a checked case table (:func:`check_case_table`); ``known_hospitals`` are the hospital ids of
    the hospitals table (None: no table, no check).
    """
    n = len(frame)
    found = np.zeros(n, dtype=np.int8)

    def mark(code: int, rows: np.ndarray) -> None:
        found[rows & (found == 0)] = code

    names = list(STAY_PROBLEMS)
    if "case_id" in frame.columns:
        mark(names.index("duplicate_case_id") + 1, repeated_values(frame["case_id"]))
    if "admit_time" in frame.columns and "discharge_time" in frame.columns:
        admit, discharge = frame["admit_time"].to_numpy(), frame["discharge_time"].to_numpy()
        if admit.dtype.kind == "M" and discharge.dtype.kind == "M":
            mark(names.index("discharge_before_admission") + 1,
                 ~np.isnat(admit) & ~np.isnat(discharge) & (discharge < admit))
    if "total_cost" in frame.columns and "fund_paid" in frame.columns:
        cost = frame["total_cost"].to_numpy(dtype=np.float64, na_value=np.nan)
        fund = frame["fund_paid"].to_numpy(dtype=np.float64, na_value=np.nan)
        mark(names.index("fund_above_cost") + 1, fund > cost + 0.005)   # more than half a fen above
    if known_hospitals is not None and "hospital_id" in frame.columns:
        codes, ids = pd.factorize(frame["hospital_id"], use_na_sentinel=True)
        known = np.append(pd.Index(np.asarray(ids, dtype=object).astype(str))
                          .isin(pd.Index(known_hospitals).astype(str)), True)
        mark(names.index("unknown_hospital") + 1, ~known[codes])
    return found


def repeated_values(values: pd.Series) -> np.ndarray:
    """Whether each value was already seen in an earlier row (bool per row; missing values never repeat).

    Text is hashed in parallel and only values whose hashes meet are compared as text, so 20 million
    distinct ids cost well under a second.
    """
    n = len(values)
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        return pd.Series(codes).duplicated().to_numpy() & (codes >= 0)
    array = pa.array(values.array, from_pandas=True)
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return values.duplicated().to_numpy() & values.notna().to_numpy()
    _, offset_buffer, data_buffer = array.buffers()
    offset_type = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(offset_buffer, dtype=offset_type)[array.offset:array.offset + n + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    hashes = np.empty(n, dtype=np.uint64)
    text_hashes(offsets, data, hashes)
    ordered = np.sort(hashes)
    met = ordered[1:][ordered[1:] == ordered[:-1]]
    repeated = np.zeros(n, dtype=bool)
    if len(met):
        candidates = np.flatnonzero(np.isin(hashes, met))
        repeated[candidates] = values.iloc[candidates].duplicated().to_numpy()
    return repeated & values.notna().to_numpy()
