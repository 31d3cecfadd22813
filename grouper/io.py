"""Read case tables, type and validate the grouping fields, encode code lists as CSR id arrays.

Input follows the case-table contract (design.md §3.1): CSV, Parquet or a DataFrame, with
``dx``/``proc`` as ``|``- (or ``,``-) joined text or as lists. Field typing and validation follow
the scheme's reference semantics (RULES.md §1.1-§2): empty text is absent, ``-?[0-9]+`` is an
integer, anything else stays text; codes are neither trimmed nor upper-cased. All work is done by
Arrow compute kernels and numpy over whole columns; Python only ever sees the distinct
non-integer texts of a field (a handful of bad values), never one call per case.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from drgdip.core.errors import UsageError
from drgdip.core.tables import iter_file_batches, table_columns
from drgdip.grouper._text_kernels import (
    TEXT_ABSENT, TEXT_INTEGER, TEXT_OTHER, CodeTable, lookup_strings, parse_integer_text,
    split_and_encode,
)
from drgdip.grouper.scheme import NOT_GIVEN, Scheme

REQUIRED_COLUMNS = ("case_id", "gender", "age", "dx", "proc")
OPTIONAL_COLUMNS = ("age_days", "birth_weight")
GROUPING_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# Read besides the grouping columns only for schemes whose split rules use the length of stay.
LOS_COLUMN = "los"

# Status codes of the kernels; index into STATUS_TOKENS.
STATUS_TOKENS = (
    "ok",
    "no_group",
    "ambiguous",
    "invalid_input:gender_missing",
    "invalid_input:gender_invalid",
    "invalid_input:age_missing",
    "invalid_input:age_days_missing",
    "invalid_input:birth_weight_missing",
    "invalid_input:parse_error",
    "invalid_input:dx_missing",
    "unmapped_dx",
    "unmapped_proc",
)
(OK, NO_GROUP, AMBIGUOUS, GENDER_MISSING, GENDER_INVALID, AGE_MISSING, AGE_DAYS_MISSING,
 BIRTH_WEIGHT_MISSING, PARSE_ERROR, DX_MISSING, UNMAPPED_DX, UNMAPPED_PROC) = range(len(STATUS_TOKENS))

# Gender values that pass validation as text (RULES.md §2); only integers enter MDCM/MDCN.
VALID_TEXT_GENDERS = ("1", "2", "男", "女")
# With the scheme parameter gender_typing = text, the gender is the verbatim text and only these
# pass (RULES-ADDENDUM.md C1); they enter MDCM / MDCN.
STRICT_TEXT_GENDERS = {"1": 1, "2": 2}
# Opt-in aliases (``gender_aliases=True``): normalised to 1/2 before grouping.
GENDER_ALIASES = {"M": 1, "F": 2, "m": 1, "f": 2, "男": 1, "女": 2, "male": 1, "female": 2}

INTEGER_TEXT = r"^-?[0-9]+$"
DEFAULT_BATCH_ROWS = 1 << 20


@dataclass(frozen=True)
class EncodedCases:
    """One batch of cases ready for the kernels.

    ``dx_ids[dx_ptr[i]:dx_ptr[i+1]]`` are the diagnosis ids of case ``i`` (principal first),
    likewise ``proc_ids``; unknown codes are -1. ``status`` is non-zero where validation failed.
    Integers that were absent or not usable hold ``NOT_GIVEN``.
    """

    case_id: pa.Array
    status: np.ndarray        # int8[n]
    gender: np.ndarray        # int8[n] 1, 2, or 0 (valid text gender that enters no sex-specific MDC)
    age: np.ndarray           # int64[n] age in years (int() of the field)
    age_integer: np.ndarray   # bool[n] the age was typed as an integer (not text int() accepts)
    age_days: np.ndarray      # int64[n]
    birth_weight: np.ndarray  # int64[n] grams
    los: np.ndarray           # int64[n] length of stay in days; NOT_GIVEN if absent, text or unused
    dx_ptr: np.ndarray        # int64[n + 1]
    dx_ids: np.ndarray        # int32[n_dx_items]
    proc_ptr: np.ndarray      # int64[n + 1]
    proc_ids: np.ndarray      # int32[n_proc_items]

    def __len__(self) -> int:
        return len(self.status)


# ---------------------------------------------------------------- reading


def _check_columns(names: list[str], file: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise UsageError(f"missing required column(s): {', '.join(missing)} "
                         f"(the case table needs {', '.join(REQUIRED_COLUMNS)})",
                         file=file, row=1 if file.endswith(".csv") else None, field=missing[0])


def grouping_columns(scheme: Scheme) -> tuple[str, ...]:
    """The case columns grouping under ``scheme`` reads (``los`` only where a split rule uses it)."""
    return GROUPING_COLUMNS + ((LOS_COLUMN,) if scheme.uses_los else ())


def iter_case_batches(source, batch_rows: int = DEFAULT_BATCH_ROWS, *, all_columns: bool = True,
                      columns: tuple[str, ...] = GROUPING_COLUMNS) -> Iterator[pa.Table]:
    """Yield the case table in batches of about ``batch_rows`` rows.

    Files are read by :func:`drgdip.core.tables.iter_file_batches` (CSV columns as text exactly as
    written, Parquet with its types; a directory of Parquet files part by part, in batches of at most
    ``batch_rows`` rows that never span two files); a DataFrame is converted column by column.
    ``all_columns=False`` reads only ``columns``, the grouping columns (a wide settlement table then
    costs no more to group than a narrow one). Unusable input raises :class:`UsageError`.
    """
    if isinstance(source, pd.DataFrame):
        _check_columns(list(map(str, source.columns)), "<DataFrame>")
        if not all_columns:
            source = source[[c for c in source.columns if str(c) in columns]]
        for start in range(0, max(len(source), 1), batch_rows):
            yield _table_from_frame(source.iloc[start:start + batch_rows])
        return
    name = str(source)
    if Path(source).exists():
        _check_columns(table_columns(source), name)
    yield from iter_file_batches(source, batch_rows, columns=None if all_columns else columns,
                                 required=REQUIRED_COLUMNS, what="cases")


def _table_from_frame(frame: pd.DataFrame) -> pa.Table:
    columns = {}
    for name in frame.columns:
        series = frame[name]
        try:
            columns[str(name)] = pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            if str(name) in ("dx", "proc"):
                columns[str(name)] = _code_column_from_objects(series)
            else:
                # Mixed Python types (e.g. 1 and "男"): the text of each value, None stays absent.
                columns[str(name)] = pa.array(series.astype("string"), from_pandas=True)
    return pa.table(columns)


def _code_column_from_objects(series: pd.Series) -> pa.Array:
    """A dx/proc column mixing lists and text: lists stay lists, text is split later."""
    is_text = series.map(lambda v: isinstance(v, str) or v is None)
    if bool(is_text.all()):
        return pa.array(series.astype("string"), from_pandas=True)
    is_list = series.map(lambda v: isinstance(v, (list, tuple, np.ndarray)))
    bad = ~(is_list | series.isna())
    if bool(bad.any()):
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise UsageError(f"expected text or a list of codes, got {type(series.iloc[row - 1]).__name__}",
                         row=row, field=str(series.name))
    return pa.array(series.where(is_list, None), type=pa.list_(pa.string()), from_pandas=True)


# ---------------------------------------------------------------- field typing


@dataclass(frozen=True)
class TypedField:
    """A field typed as the reference grouper was fed (RULES.md §1.1), with its int() value."""

    present: np.ndarray     # bool[n] not absent
    is_integer: np.ndarray  # bool[n] typed as an integer (integer-text or an integer column)
    int_ok: np.ndarray      # bool[n] Python int() of the value succeeds
    value: np.ndarray       # int64[n] int() of the value (clamped to int64), NOT_GIVEN otherwise
    text: pa.Array | None   # the raw text where not an integer, else None


def _python_int(text: str) -> int | None:
    try:
        return int(text)
    except (ValueError, TypeError):
        return None


def _clamp_int64(value: int) -> int:
    info = np.iinfo(np.int64)
    return max(info.min + 1, min(info.max, value))


def type_field(column: pa.ChunkedArray | pa.Array | None, n: int, field: str,
               file: str = "<input>", first_row: int = 1) -> TypedField:
    """Type one of gender/age/age_days/birth_weight; a missing column is absent everywhere.

    ``first_row`` is the row number of the column's first value in its file, for messages."""
    if column is None:
        absent = np.zeros(n, dtype=bool)
        return TypedField(absent, absent, absent, np.full(n, NOT_GIVEN, np.int64), None)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_integer(kind):
        present = column.is_valid().to_numpy(zero_copy_only=False)
        value = column.cast(pa.int64()).fill_null(NOT_GIVEN).to_numpy(zero_copy_only=False)
        return TypedField(present, present, present, value, None)
    if pa.types.is_floating(kind):
        values = column.to_numpy(zero_copy_only=False).astype(np.float64)
        present = ~np.isnan(values)
        integral = present & (np.floor(values) == values) & (np.abs(values) < 2.0 ** 62)
        if (present & ~integral).any():
            text = pa.array(np.where(integral | ~present, None, values.astype(str)), pa.string())
            return type_field(pc.if_else(integral, pc.cast(pa.array(values).cast(pa.int64(), safe=False),
                                                           pa.string()), text), n, field, file, first_row)
        value = np.where(integral, values, 0).astype(np.int64)
        value[~present] = NOT_GIVEN
        return TypedField(present, present, present, value, None)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        try:
            column = column.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            valid = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))
            raise UsageError(f"expected an integer or text, got {kind}", file=file,
                             row=first_row + int(valid[0]) if len(valid) else None, field=field) from None
    offsets, data, valid = string_buffers(column)
    kind_of, value = parse_integer_text(offsets, data, valid)
    text = column.fill_null("") if column.null_count else column
    present = kind_of != TEXT_ABSENT
    is_integer = kind_of == TEXT_INTEGER
    int_ok = is_integer.copy()
    value[~is_integer] = NOT_GIVEN
    other = kind_of == TEXT_OTHER
    if other.any():
        # Long integers and other text: Python int() semantics on the distinct values only.
        others = pc.filter(text, other)
        distinct = pc.unique(others)
        converted = [_python_int(s) for s in distinct.to_pylist()]
        ok_map = np.array([c is not None for c in converted], dtype=bool)
        val_map = np.array([_clamp_int64(c) if c is not None else NOT_GIVEN for c in converted],
                           dtype=np.int64)
        where = pc.index_in(others, value_set=distinct).to_numpy(zero_copy_only=False)
        positions = np.flatnonzero(other)
        int_ok[positions] = ok_map[where]
        value[positions] = val_map[where]
        is_integer[positions] = pc.match_substring_regex(others, INTEGER_TEXT).to_numpy(
            zero_copy_only=False)
    return TypedField(present, is_integer, int_ok, value, text)


# ---------------------------------------------------------------- validation


def _strict_text_gender(gender: TypedField) -> tuple[np.ndarray, np.ndarray]:
    """(valid bool[n], value int8[n]) of a gender typed as verbatim text: only ``1`` and ``2`` pass.

    An integer column holds no text; its values 1 and 2 are taken as the texts ``1`` and ``2``.
    """
    value = np.zeros(len(gender.present), dtype=np.int8)
    if gender.text is None:
        valid = gender.present & ((gender.value == 1) | (gender.value == 2))
        value[valid] = gender.value[valid]
        return valid, value
    for text, code in STRICT_TEXT_GENDERS.items():
        value[pc.equal(gender.text, text).to_numpy(zero_copy_only=False)] = code
    return value != 0, value


def validate(gender: TypedField, age: TypedField, age_days: TypedField, birth_weight: TypedField,
             dx_count: np.ndarray, gender_aliases: bool = False, gender_typing: str = "integer"):
    """Status per case in the reference order (RULES.md §2) and the normalised gender.

    ``gender_typing`` is the scheme's parameter: ``integer`` (RULES.md §1.1, §2) or ``text``
    (RULES-ADDENDUM.md C1: only the texts ``1`` and ``2`` are valid).
    Returns (status int8[n], gender int8[n]).
    """
    n = len(dx_count)
    if gender_typing == "text":
        valid_gender, gender_value = _strict_text_gender(gender)
    else:
        gender_value = np.zeros(n, dtype=np.int8)
        int_gender = gender.is_integer & ((gender.value == 1) | (gender.value == 2))
        gender_value[int_gender] = gender.value[int_gender]
        valid_gender = int_gender.copy()
    if gender.text is not None:
        if gender_typing != "text":
            valid_text = pc.is_in(gender.text, value_set=pa.array(VALID_TEXT_GENDERS)).to_numpy(
                zero_copy_only=False)
            valid_gender |= valid_text & ~gender.is_integer
        if gender_aliases:
            keys = pa.array(list(GENDER_ALIASES))
            where = pc.index_in(gender.text, value_set=keys).fill_null(-1).to_numpy(zero_copy_only=False)
            aliased = (where >= 0) & ~gender.is_integer
            codes = np.array(list(GENDER_ALIASES.values()), dtype=np.int8)
            gender_value[aliased] = codes[where[aliased]]
            valid_gender |= aliased

    age_zero = age.int_ok & (age.value == 0)
    newborn = age_zero & age_days.int_ok & (age_days.value <= 28)
    conditions = [
        ~gender.present,
        ~valid_gender,
        ~age.present,
        ~age.int_ok,
        age_zero & ~age_days.present,
        age_zero & ~age_days.int_ok,
        newborn & ~birth_weight.present,
        dx_count == 0,
    ]
    choices = [GENDER_MISSING, GENDER_INVALID, AGE_MISSING, PARSE_ERROR, AGE_DAYS_MISSING,
               PARSE_ERROR, BIRTH_WEIGHT_MISSING, DX_MISSING]
    status = np.select(conditions, choices, default=OK).astype(np.int8)
    return status, gender_value


# ---------------------------------------------------------------- code lists


def string_buffers(column: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, data, valid) numpy views of an Arrow string array, its slice applied."""
    if pa.types.is_large_string(column.type):
        offset_type = np.int64
    else:
        column = column.cast(pa.string()) if not pa.types.is_string(column.type) else column
        offset_type = np.int32
    _, offset_buffer, data_buffer = column.buffers()
    if offset_buffer is None:
        return np.zeros(1, dtype=offset_type), np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=bool)
    offsets = np.frombuffer(offset_buffer, dtype=offset_type)[column.offset:column.offset + len(column) + 1]
    data = (np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None
            else np.zeros(0, dtype=np.uint8))
    if column.null_count:
        valid = column.is_valid().to_numpy(zero_copy_only=False)
    else:
        valid = np.ones(len(column), dtype=bool)
    return offsets, data, valid


def _single_chunk(column):
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def encode_codes(column, table: CodeTable, *, empty_is_none: bool) -> tuple[np.ndarray, np.ndarray]:
    """CSR (ptr int64[n+1], ids int32) of the codes of a dx/proc column; unknown codes are -1.

    Text is split on ``|`` and ``,`` without trimming; ``empty_is_none``: an empty field is the
    empty list (procedures) rather than one empty code (diagnoses, RULES.md §1.1). Lists are
    taken as they are. Raises TypeError for any other column type.
    """
    column = _single_chunk(column)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = column.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        if not pa.types.is_string(kind.value_type):
            column = column.cast(pa.list_(pa.string()))
        lengths = pc.list_value_length(column).fill_null(0).to_numpy(zero_copy_only=False)
        ptr = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=ptr[1:])
        flat = pc.list_flatten(column)
        return ptr, lookup_strings(*string_buffers(flat), table)
    if pa.types.is_null(kind):
        column = column.cast(pa.string())
    elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise TypeError(str(kind))
    return split_and_encode(*string_buffers(column), table, empty_is_none)


def split_codes(column, *, empty_is_none: bool) -> pa.ListArray:
    """The code lists as Arrow lists (same splitting as :func:`encode_codes`)."""
    column = _single_chunk(column)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        return column
    text = column.cast(pa.string()).fill_null("")
    if empty_is_none:
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    if pc.any(pc.match_substring(text, ",")).as_py():
        text = pc.replace_substring(text, ",", "|")
    return pc.split_pattern(text, "|")


def apply_code_map(lists: pa.ListArray, source: pa.Array, target: pa.Array):
    """Replace each code by its mapped target; return (mapped lists, bool[n] case has an unmapped code)."""
    flat = pc.list_flatten(lists).fill_null("")
    where = pc.index_in(flat, value_set=source)
    missing_item = where.is_null().to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    unmapped = np.zeros(len(lists), dtype=bool)
    unmapped[parents[missing_item]] = True
    mapped = pc.take(target, where.fill_null(0))
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), mapped), unmapped


def _column(table: pa.Table, name: str):
    return table.column(name) if name in table.column_names else None


def encode_batch(table: pa.Table, scheme: Scheme, *, file: str = "<input>", first_row: int = 1,
                 gender_aliases: bool = False, map_codes: bool = False) -> EncodedCases:
    """Type, validate and encode one batch of the case table for the kernels.

    ``first_row`` is the 1-based row number of the batch's first case in its file, for messages.
    ``map_codes`` applies the scheme's dx_map/proc_map first (RULES.md §9): a case with a code
    missing from the map gets status unmapped_dx / unmapped_proc.
    """
    n = table.num_rows
    fields = {}
    for name in ("gender", "age", "age_days", "birth_weight"):
        fields[name] = type_field(_column(table, name), n, name, file, first_row)
    if scheme.uses_los:
        los_field = type_field(_column(table, LOS_COLUMN), n, LOS_COLUMN, file, first_row)
        los = np.where(los_field.is_integer, los_field.value, NOT_GIVEN).astype(np.int64)
    else:
        los = np.full(n, NOT_GIVEN, dtype=np.int64)
    columns = {name: table.column(name) for name in ("dx", "proc")}
    unmapped_dx = unmapped_proc = None
    if map_codes:
        for name, stem in (("dx", "dx_map"), ("proc", "proc_map")):
            if stem not in scheme.tables:
                raise UsageError(f"code mapping requested but the scheme has no {stem}.csv",
                                 file=str(scheme.path))
            mapping = scheme.tables[stem]
            lists = split_codes(columns[name], empty_is_none=(name == "proc"))
            columns[name], unmapped = apply_code_map(
                lists, pa.array(mapping["source_code"].to_numpy(), pa.string()),
                pa.array(mapping["target_code"].to_numpy(), pa.string()))
            if name == "dx":
                unmapped_dx = unmapped
            else:
                unmapped_proc = unmapped
    encoded = {}
    for name, code_table in (("dx", scheme.dx_table), ("proc", scheme.proc_table)):
        try:
            encoded[name] = encode_codes(columns[name], code_table, empty_is_none=(name == "proc"))
        except TypeError as error:
            valid_rows = np.flatnonzero(table.column(name).is_valid().to_numpy(zero_copy_only=False))
            row = first_row + (int(valid_rows[0]) if len(valid_rows) else 0)
            raise UsageError(f"expected text or a list of codes, got {error}", file=file, row=row,
                             field=name) from None
    dx_ptr, dx_ids = encoded["dx"]
    proc_ptr, proc_ids = encoded["proc"]
    status, gender = validate(fields["gender"], fields["age"], fields["age_days"],
                              fields["birth_weight"], np.diff(dx_ptr), gender_aliases, scheme.gender_typing)
    if map_codes:
        # Mapping runs before validation in the reference grouper.
        status = np.where(unmapped_proc, UNMAPPED_PROC, status).astype(np.int8)
        status = np.where(unmapped_dx, UNMAPPED_DX, status).astype(np.int8)
    age_days = np.where(fields["age_days"].int_ok, fields["age_days"].value, NOT_GIVEN)
    birth_weight = np.where(fields["birth_weight"].int_ok, fields["birth_weight"].value, NOT_GIVEN)
    case_id = table.column("case_id")
    return EncodedCases(
        case_id=case_id,
        status=status,
        gender=gender,
        age=fields["age"].value,
        age_integer=fields["age"].is_integer,
        age_days=age_days.astype(np.int64),
        birth_weight=birth_weight.astype(np.int64),
        los=los,
        dx_ptr=dx_ptr,
        dx_ids=dx_ids,
        proc_ptr=proc_ptr,
        proc_ids=proc_ids,
    )
