"""Reading and writing tables: one reader and one writer for every stage.

A table is a path (``.csv``/``.txt``, ``.parquet``/``.pq``, ``.xlsx``) or a DataFrame. Reading:

* **Parquet** keeps its column types; ``columns`` reads only those present, ``categorical`` reads
  those as pandas categoricals (Arrow dictionaries: one small integer per row instead of a string),
  ``filters`` (pyarrow row filters such as ``[("year", "<=", 2025)]``) skip rows while reading.
* **CSV** is parsed by Arrow's multi-threaded reader. Id and code columns (:data:`TEXT_COLUMNS`, or
  any column named in ``text``) are read as text exactly as written, so ``0101`` keeps its zero;
  other columns are typed by their values (numbers, ``2025-03-01 08:00:00`` times, true/false).
  An empty field is missing, except in ``dx``/``proc`` where it is the empty code list ``""``.
* **Excel** (first sheet) with the same text columns.
* **A directory of Parquet files** (optionally hive-partitioned, ``cases/region=R01/year=2025/part-0.parquet``)
  is one table: the part files in sorted path order, rows in file order, partition keys as columns
  (:mod:`drgdip.core.datasets`). Streaming readers go part file by part file, batch by batch.

Writing (:func:`write_table`, :class:`TableWriter`) is atomic (a temporary file renamed into place when
complete, :mod:`drgdip.core.atomic`) and picks the format by extension with one set of options:
Parquet with zstd (level 1), dictionary encoding of text, statistics of categorical and whole-number
columns, row groups of 1M rows; CSV with quoting where needed and no index. The same table gives the
same bytes.

Unreadable input raises :class:`~drgdip.core.errors.UsageError` naming the file.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from drgdip.core.atomic import atomic_path, temporary_name
from drgdip.core.datasets import ParquetDataset, open_dataset
from drgdip.core.errors import UsageError

__all__ = ["TEXT_COLUMNS", "CODE_LIST_COLUMNS", "PARQUET_SUFFIXES", "CSV_SUFFIXES", "EXCEL_SUFFIXES",
           "source_name", "table_format", "find_table", "dataset_of", "row_in_file", "table_columns", "count_rows",
           "read_table", "read_table_rows", "iter_file_batches", "prefetch", "arrow_table", "write_table",
           "TableWriter", "DatasetWriter"]

TEXT_COLUMNS = frozenset((
    "case_id", "patient_id", "hospital_id", "region", "insured_region", "insurance_type", "dept", "dx",
    "proc", "drg", "adrg", "mdc", "dip_group", "dip_type", "status", "care_type", "related_case_id",
    "name", "settle_status", "treatment_period_id", "visit_id", "group", "hospital_type", "area", "pool",
    "source_code", "target_code",
))
CODE_LIST_COLUMNS = ("dx", "proc")
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt")
EXCEL_SUFFIXES = (".xlsx",)
ROW_GROUP_ROWS = 1 << 20
ZSTD_LEVEL = 1   # about as small as the default level, and the fastest to write
CSV_BLOCK_BYTES = 1 << 26
PARQUET_COLUMNS_AT_ONCE = 6


def source_name(source) -> str:
    """File name for messages (``<DataFrame>`` for frames)."""
    return str(source) if isinstance(source, (str, Path)) else "<DataFrame>"


def table_format(path) -> str:
    """``parquet``, ``csv`` or ``excel`` by the file's extension, ``dataset`` for a directory (of Parquet
    files); anything else is a :class:`UsageError`."""
    if Path(path).is_dir():
        return "dataset"
    suffix = Path(path).suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    raise UsageError(f"unknown table format {suffix!r} (use .parquet, .csv or .xlsx)", file=str(path))


def find_table(directory, stem: str) -> Path | None:
    """``directory/stem.parquet`` (or ``.pq``, ``.csv``), the first that exists, else the dataset directory
    ``directory/stem/`` if there is one."""
    for suffix in PARQUET_SUFFIXES + CSV_SUFFIXES:
        candidate = Path(directory) / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    candidate = Path(directory) / stem
    return candidate if candidate.is_dir() else None


def _existing_file(source, what: str) -> Path:
    """The path of a table file or dataset directory that exists."""
    path = Path(source)
    if not (path.is_file() or path.is_dir()):
        raise UsageError(f"{what}: file not found", file=str(path))
    return path


def dataset_of(source, what: str = "table", text: Iterable[str] = ()) -> ParquetDataset:
    """The partitioned Parquet dataset in directory ``source`` (id and code keys as text)."""
    return open_dataset(source, what=what, text=TEXT_COLUMNS | set(text))


def _csv_header(path: Path) -> list[str]:
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle), [])
    except (UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"cannot read the header as UTF-8 CSV: {error}", file=str(path), row=1) from None


def row_in_file(source, position: int) -> tuple[str, int]:
    """The file and the row as that file shows it of the row at ``position`` (0-based) of a table: the
    part file of a dataset and its row, row ``position + 2`` of a CSV file or a sheet (the header is
    row 1), ``position + 1`` of a Parquet file or a DataFrame."""
    if not isinstance(source, (str, Path)):
        return source_name(source), position + 1
    if Path(source).is_dir():
        part, row = dataset_of(source).locate(position)
        return str(part), row + 1
    return str(source), position + (2 if Path(source).suffix.lower() in CSV_SUFFIXES + EXCEL_SUFFIXES else 1)


def table_columns(source) -> list[str]:
    """Column names of a table without reading its rows."""
    if isinstance(source, pd.DataFrame):
        return [str(c) for c in source.columns]
    path = _existing_file(source, "table")
    kind = table_format(path)
    if kind == "dataset":
        return dataset_of(path).columns
    try:
        if kind == "parquet":
            return list(pq.ParquetFile(path).schema_arrow.names)
        if kind == "csv":
            return _csv_header(path)
        return [str(c) for c in pd.read_excel(path, nrows=0).columns]
    except UsageError:
        raise
    except Exception as error:   # pyarrow and openpyxl raise their own types for damaged files
        raise UsageError(f"cannot read the table: {error}", file=str(path)) from None


def count_rows(source) -> int | None:
    """Number of rows when it is cheap to know (Parquet metadata, DataFrame), else None."""
    if isinstance(source, pd.DataFrame):
        return len(source)
    path = Path(source)
    if path.suffix.lower() in PARQUET_SUFFIXES and path.is_file():
        return pq.ParquetFile(path).metadata.num_rows
    if path.is_dir():
        return dataset_of(path).num_rows
    return None


def _check_required(names: Sequence[str], required: Iterable[str], file: str, what: str) -> None:
    missing = [c for c in required if c not in names]
    if missing:
        raise UsageError(f"{what}: missing column(s) {', '.join(missing)} (needs {', '.join(required)})",
                         file=file, row=1 if file.lower().endswith(CSV_SUFFIXES) else None, field=missing[0])


def read_table(source, *, what: str = "table", required: Sequence[str] = (),
               columns: Iterable[str] | None = None, text: Iterable[str] = (),
               categorical: Iterable[str] = (), filters=None) -> pd.DataFrame:
    """A table as a DataFrame (see the module docstring); a DataFrame is returned as it is.

    Parameters
    ----------
    source : DataFrame or path
    what : str
        What the table is, for messages (``cases``, ``weight table``...).
    required : columns that must be present.
    columns : read only these (those present); None reads all.
    text : more columns to read from CSV as text, besides :data:`TEXT_COLUMNS`.
    categorical : columns read from Parquet as categoricals.
    filters : pyarrow row filters for Parquet (ignored for other formats, which the caller filters).
    """
    if isinstance(source, pd.DataFrame):
        _check_required([str(c) for c in source.columns], required, "<DataFrame>", what)
        return source
    if not isinstance(source, (str, Path)):
        raise UsageError(f"{what}: expected a DataFrame or a path, got {type(source).__name__}")
    path = _existing_file(source, what)
    name = str(path)
    kind = table_format(path)
    if kind == "dataset":
        return _read_dataset(dataset_of(path, what, text), what=what, required=required, columns=columns,
                             categorical=categorical, filters=filters)
    names = table_columns(path)
    _check_required(names, required, name, what)
    wanted = None if columns is None else [c for c in names if c in set(columns)]
    try:
        if kind == "parquet":
            dictionary = [c for c in categorical if c in names and (wanted is None or c in wanted)]
            if filters is not None:
                return _to_pandas(pq.read_table(path, columns=wanted, read_dictionary=dictionary or None,
                                                filters=filters))
            return _read_parquet_columns(path, names if wanted is None else wanted, dictionary)
        text_columns = (TEXT_COLUMNS | set(text)) & set(names)
        if kind == "csv":
            return _read_csv(path, names, wanted, text_columns)
        frame = pd.read_excel(path, usecols=wanted, dtype={c: str for c in text_columns})
        return _code_lists_as_text(frame)
    except UsageError:
        raise
    except ImportError as error:
        raise UsageError(f"{what}: reading Excel needs openpyxl (pip install 'drgdip[excel]'): {error}",
                         file=name) from None
    except Exception as error:   # pyarrow and openpyxl raise their own types for damaged files
        raise UsageError(f"{what}: cannot read the table: {error}", file=name) from None


def _read_dataset(dataset: ParquetDataset, *, what: str, required: Sequence[str], columns, categorical,
                  filters) -> pd.DataFrame:
    """A dataset as a DataFrame: like one Parquet file, :data:`PARQUET_COLUMNS_AT_ONCE` columns at a time."""
    names = dataset.columns
    _check_required(names, required, str(dataset.root), what)
    wanted = names if columns is None else [c for c in names if c in set(columns)]
    dictionary = [c for c in categorical if c in wanted]
    if filters is not None:
        terms = [filters] if filters and isinstance(filters[0], tuple) else filters   # DNF: OR of ANDs
        tested = {term[0] for conjunction in terms for term in conjunction}
        table = dataset.read([c for c in names if c in set(wanted) | tested], dictionary=dictionary,
                             filter=pq.filters_to_expression(filters))
        return _to_pandas(table.select(wanted))
    if not wanted:
        return pd.DataFrame(index=pd.RangeIndex(dataset.num_rows))
    read = {}
    for start in range(0, len(wanted), PARQUET_COLUMNS_AT_ONCE):
        group = wanted[start:start + PARQUET_COLUMNS_AT_ONCE]
        batch = _to_pandas(dataset.read(group, dictionary=dictionary))
        read.update({name: batch[name].array for name in group})
        del batch
    pa.default_memory_pool().release_unused()
    return pd.DataFrame(read, copy=False)


def _read_csv(path: Path, names: list[str], wanted: list[str] | None, text_columns) -> pd.DataFrame:
    convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in text_columns},
                                   include_columns=wanted, null_values=[""], strings_can_be_null=True,
                                   quoted_strings_can_be_null=True)
    read = pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES)
    if path.stat().st_size == 0:
        return pd.DataFrame()
    try:
        table = pacsv.read_csv(path, read_options=read, convert_options=convert)
    except pa.ArrowInvalid as error:
        raise UsageError(f"cannot parse CSV: {error}", file=str(path)) from None
    return _code_lists_as_text(_to_pandas(table))


def read_table_rows(source, rows: np.ndarray, *, columns: Iterable[str], what: str = "table",
                    categorical: Iterable[str] = ()) -> pd.DataFrame:
    """``columns`` of the rows at positions ``rows`` (ascending) of a table file, in that order.

    From Parquet (a file or a dataset) only the row groups holding those rows are read.
    """
    path = _existing_file(source, what)
    names = table_columns(path)
    wanted = [c for c in names if c in set(columns)]
    rows = np.asarray(rows, dtype=np.int64)
    if table_format(path) == "dataset":
        table = dataset_of(path, what).take(rows, wanted, dictionary=[c for c in categorical if c in wanted])
        return _to_pandas(table) if wanted else pd.DataFrame(index=pd.RangeIndex(len(rows)))
    if table_format(path) != "parquet":
        return read_table(path, what=what, columns=wanted, categorical=categorical).take(rows).reset_index(drop=True)
    parquet = pq.ParquetFile(path, read_dictionary=[c for c in categorical if c in wanted] or None)
    sizes = np.asarray([parquet.metadata.row_group(k).num_rows for k in range(parquet.metadata.num_row_groups)],
                       dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)))
    group_of_row = np.searchsorted(starts, rows, side="right") - 1
    groups = np.unique(group_of_row)
    try:
        table = parquet.read_row_groups([int(g) for g in groups], columns=wanted, use_pandas_metadata=False)
    except (pa.ArrowException, OSError) as error:
        raise UsageError(f"{what}: cannot read the table: {error}", file=str(path)) from None
    group_start_in_table = np.concatenate(([0], np.cumsum(sizes[groups])))
    in_table = group_start_in_table[np.searchsorted(groups, group_of_row)] + rows - starts[group_of_row]
    frame = _to_pandas(table.take(pa.array(in_table)))
    return frame if wanted else pd.DataFrame(index=pd.RangeIndex(len(rows)))


def _read_parquet_columns(path: Path, columns: list[str], dictionary: list[str]) -> pd.DataFrame:
    """A Parquet file read :data:`PARQUET_COLUMNS_AT_ONCE` columns at a time (read in parallel), each
    batch turned into pandas columns before the next is read: the file is never held twice (as Arrow
    and as pandas), which saves about a quarter of the peak memory at the same speed."""
    parquet = pq.ParquetFile(path, read_dictionary=dictionary or None)
    if not columns:
        return pd.DataFrame(index=pd.RangeIndex(parquet.metadata.num_rows))
    read = {}
    for start in range(0, len(columns), PARQUET_COLUMNS_AT_ONCE):
        names = columns[start:start + PARQUET_COLUMNS_AT_ONCE]
        batch = _to_pandas(parquet.read(columns=names, use_pandas_metadata=False))
        read.update({name: batch[name].array for name in names})
        del batch
    pa.default_memory_pool().release_unused()
    return pd.DataFrame(read, copy=False)


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as a DataFrame without a second copy: one block per column, Arrow's buffers
    released column by column as they are converted."""
    return table.to_pandas(split_blocks=True, self_destruct=True)


def _code_lists_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """An empty ``dx``/``proc`` field is the empty code list, not a missing value."""
    filled = {c: frame[c].fillna("") for c in CODE_LIST_COLUMNS if c in frame.columns and frame[c].hasnans}
    return frame.assign(**filled) if filled else frame


def iter_file_batches(source, batch_rows: int, *, columns: Iterable[str] | None = None,
                      required: Sequence[str] = (), what: str = "input") -> Iterator[pa.Table]:
    """Yield a Parquet or CSV file in Arrow tables of ``batch_rows`` rows (the last may be shorter).

    CSV columns are read as text exactly as written (empty text stays ``""``) for callers that type
    fields themselves; Parquet keeps its types. An empty file yields one empty table with its columns.
    A dataset directory is read part file by part file, batch by batch, and yielded in tables of
    ``batch_rows`` rows like one file (a table may span two part files): memory holds about one batch,
    not the dataset.
    """
    path = _existing_file(source, what)
    name = str(path)
    kind = table_format(path)
    if kind == "dataset":
        dataset = dataset_of(path, what)
        _check_required(dataset.columns, required, name, what)
        wanted = dataset.columns if columns is None else [c for c in dataset.columns if c in set(columns)]
        yield from _rebatched((table for _, table in dataset.iter_batches(batch_rows, wanted)), batch_rows,
                              dataset.schema.empty_table().select(wanted))
        return
    if kind == "excel":
        table = arrow_table(read_table(path, what=what, required=required, columns=columns))
        for start in range(0, max(table.num_rows, 1), batch_rows):
            yield table.slice(start, batch_rows)
        return
    if kind == "csv" and path.stat().st_size == 0:
        yield pa.table({c: pa.array([], pa.string()) for c in required})
        return
    names = table_columns(path)
    _check_required(names, required, name, what)
    wanted = None if columns is None else [c for c in names if c in set(columns)]
    if kind == "parquet":
        try:
            parquet = pq.ParquetFile(path)
            if parquet.metadata.num_rows == 0:
                empty = parquet.schema_arrow.empty_table()
                yield empty if wanted is None else empty.select(wanted)
                return
            for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted):
                yield pa.Table.from_batches([batch])
        except (pa.ArrowException, OSError) as error:
            raise UsageError(f"cannot read input as Parquet: {error}", file=name) from None
        return
    convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in names}, include_columns=wanted,
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
    rows_seen = 0
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                                convert_options=convert)
        pending = pa.Table.from_batches([], reader.schema)
        for batch in reader:
            pending = pa.concat_tables([pending, pa.Table.from_batches([batch], reader.schema)])
            while pending.num_rows >= batch_rows:
                rows_seen += batch_rows
                yield pending.slice(0, batch_rows)
                pending = pending.slice(batch_rows)
        if pending.num_rows or rows_seen == 0:
            yield pending
    except pa.ArrowInvalid as error:
        raise UsageError(f"cannot parse CSV: {error}", file=name) from None


def _rebatched(tables: Iterator[pa.Table], batch_rows: int, empty: pa.Table) -> Iterator[pa.Table]:
    """``tables`` as tables of ``batch_rows`` rows (the last may be shorter; ``empty`` if there are no rows)."""
    pending, seen = [], 0
    for table in tables:
        pending.append(table)
        seen += table.num_rows
        while seen >= batch_rows:
            joined = pa.concat_tables(pending).combine_chunks()
            yield joined.slice(0, batch_rows)
            rest = joined.slice(batch_rows)
            pending, seen = [rest], rest.num_rows
    if seen or not pending:
        yield pa.concat_tables(pending).combine_chunks() if pending else empty


def prefetch(batches: Iterator):
    """Produce the next item of ``batches`` in a background thread while the caller works on this one.

    Arrow's readers release the GIL, so reading overlaps with the caller's work.
    """
    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drgdip-read") as pool:
        pending = pool.submit(next, batches, done)
        while True:
            item = pending.result()
            if item is done:
                return
            pending = pool.submit(next, batches, done)
            yield item


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """A DataFrame as an Arrow table for writing: no index; object columns mixing types become text."""
    fixed = {name: frame[name].astype("string") for name in frame.columns
             if frame[name].dtype == object and not _is_arrow_clean(frame[name])}
    if fixed:
        frame = frame.assign(**fixed)
    return pa.Table.from_pandas(frame, preserve_index=False)


def _is_arrow_clean(series: pd.Series) -> bool:
    try:
        pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    return True


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth dictionary encoding: text and categoricals (amounts rarely repeat enough)."""
    return [f.name for f in schema if pa.types.is_dictionary(f.type) or pa.types.is_string(f.type)
            or pa.types.is_large_string(f.type)]


def _statistics_columns(schema: pa.Schema) -> list[str]:
    """Columns whose min/max readers filter on (codes, years, levels); computing them for every amount
    and id would cost a fifth of the writing time."""
    return [f.name for f in schema if pa.types.is_dictionary(f.type) or pa.types.is_integer(f.type)]


class _CompleteOrNothing:
    """A writer used as a context manager: :meth:`close` when the block ends, :meth:`abort` when it
    raises, so that its file appears complete or not at all."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


class TableWriter(_CompleteOrNothing):
    """Write a table in pieces (Arrow tables or DataFrames) to one Parquet or CSV file.

    The pieces go to a temporary file beside ``path`` (:mod:`drgdip.core.atomic`) that :meth:`close`
    renames to ``path`` once complete; :meth:`abort` (or an error inside ``with``) removes it, so half a
    table never lies under the final name. ``background=True`` writes each piece in a thread while the
    caller prepares the next one (one write in flight, so pieces land in order). Use as a context
    manager or call :meth:`close` (or :meth:`abort`).
    """

    def __init__(self, path, *, background: bool = False):
        self.path = Path(path)
        if self.path.is_dir():
            raise UsageError("output is a directory", file=str(self.path))
        self.format = table_format(self.path)
        if self.format == "excel":
            raise UsageError("a table written in pieces must be .parquet or .csv", file=str(self.path))
        self.temporary = temporary_name(self.path)
        self.writer = None
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drgdip-write") if background else None
        self.pending = None

    def _write(self, table: pa.Table) -> None:
        if self.writer is None:
            try:
                if self.format == "parquet":
                    self.writer = pq.ParquetWriter(self.temporary, table.schema, compression="zstd",
                                                   compression_level=ZSTD_LEVEL,
                                                   use_dictionary=_dictionary_columns(table.schema),
                                                   write_statistics=_statistics_columns(table.schema))
                else:
                    self.writer = pacsv.CSVWriter(self.temporary, table.schema,
                                                  write_options=pacsv.WriteOptions(quoting_style="needed"))
            except OSError as error:
                raise UsageError(f"cannot write: {error}", file=str(self.path)) from None
        if self.format == "parquet":
            self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        else:
            self.writer.write_table(table)

    def write(self, piece) -> None:
        """Append ``piece`` (Arrow table or DataFrame) to the file."""
        table = arrow_table(piece) if isinstance(piece, pd.DataFrame) else piece
        if self.format == "csv":
            table = table.replace_schema_metadata(None)
        if self.pool is None:
            self._write(table)
            return
        self._wait()
        self.pending = self.pool.submit(self._write, table)

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> Path:
        """Finish the file and put it in place; returns its path (nothing is written when no piece was;
        an empty table is the caller's to avoid)."""
        try:
            self._wait()
            if self.pool is not None:
                self.pool.shutdown()
            if self.writer is not None:
                self.writer.close()
                self.writer = None
                os.replace(self.temporary, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Stop writing and remove what was written (a file already under the final name stays as it was)."""
        if self.pool is not None:
            with suppress(BaseException):
                self._wait()
            self.pool.shutdown()
        self.pending = None
        if self.writer is not None:
            with suppress(Exception):
                self.writer.close()
            self.writer = None
        self.temporary.unlink(missing_ok=True)


class DatasetWriter(_CompleteOrNothing):
    """Write a table in pieces as a directory of Parquet part files of at most ``max_rows`` rows each,
    hive-partitioned by the ``partition_by`` columns (``root/year=2025/part-00000.parquet``; the key
    columns stay inside the files too), with the options of :class:`TableWriter`.

    The directory is built under a temporary name beside ``root`` and put in place by :meth:`close`
    (replacing an older one); :meth:`abort` (or an error inside ``with``) removes it. Read back
    (:mod:`drgdip.core.datasets`: part files in path order) the rows come in the order written when the
    pieces come sorted by the keys. ``part_digits`` pads the part numbers so that path order is part order.
    """

    def __init__(self, root, *, max_rows: int, partition_by: Sequence[str] = (), part_digits: int = 5):
        if max_rows < 1:
            raise UsageError(f"part files need at least one row, got {max_rows}", field="partition-rows")
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise UsageError("output exists and is not a directory", file=str(self.root))
        self.max_rows, self.partition_by, self.part_digits = int(max_rows), tuple(partition_by), part_digits
        self.temporary = temporary_name(self.root)
        self.temporary.mkdir(parents=True)
        self.parts: dict[tuple, list] = {}   # key values -> [writer, rows in its part, parts so far]
        self.empty: pa.Table | None = None
        self.rows = 0

    def write(self, piece) -> None:
        """Append ``piece`` (Arrow table or DataFrame)."""
        table = arrow_table(piece) if isinstance(piece, pd.DataFrame) else piece
        if self.empty is None:
            self.empty = table.slice(0, 0)
        if not table.num_rows:
            return
        self.rows += table.num_rows
        if not self.partition_by:
            self._append((), table)
            return
        keys = [table.column(name).to_numpy(zero_copy_only=False) for name in self.partition_by]
        change = np.zeros(table.num_rows - 1, dtype=bool)
        for values in keys:
            change |= values[1:] != values[:-1]
        bounds = np.concatenate(([0], np.flatnonzero(change) + 1, [table.num_rows]))
        for start, stop in zip(bounds[:-1], bounds[1:]):
            self._append(tuple(values[start] for values in keys), table.slice(start, stop - start))

    def _append(self, key: tuple, table: pa.Table) -> None:
        state = self.parts.setdefault(key, [None, 0, 0])
        while table.num_rows:
            if state[0] is None or state[1] == self.max_rows:
                if state[0] is not None:
                    state[0].close()
                state[0], state[1] = TableWriter(self._part_path(key, state[2])), 0
                state[2] += 1
            take = min(self.max_rows - state[1], table.num_rows)
            state[0].write(table.slice(0, take))
            state[1] += take
            table = table.slice(take)

    def _part_path(self, key: tuple, number: int) -> Path:
        from urllib.parse import quote

        directory = self.temporary.joinpath(*(
            f"{name}={'__HIVE_DEFAULT_PARTITION__' if _missing(value) else quote(str(value), safe='')}"
            for name, value in zip(self.partition_by, key)))
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"part-{number:0{self.part_digits}d}.parquet"

    def close(self) -> Path:
        """Finish the part files and put the directory in place; returns its path."""
        import shutil

        try:
            for state in self.parts.values():
                if state[0] is not None:
                    state[0].close()
                    state[0] = None
            if self.rows == 0 and self.empty is not None:   # no rows: one empty part file keeps the columns
                with TableWriter(self.temporary / f"part-{0:0{self.part_digits}d}.parquet") as writer:
                    writer.write(self.empty)
            old = None
            if self.root.exists():
                old = temporary_name(self.root)
                os.replace(self.root, old)
            os.replace(self.temporary, self.root)
        except BaseException:
            self.abort()
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.root

    def abort(self) -> None:
        """Stop writing and remove the part files written (an older directory under the name stays)."""
        import shutil

        for state in self.parts.values():
            if state[0] is not None:
                state[0].abort()
                state[0] = None
        shutil.rmtree(self.temporary, ignore_errors=True)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def write_table(frame, path, *, sheet: str | None = None) -> Path:
    """Write a DataFrame (or Arrow table) to ``path``: Parquet, CSV or Excel by the extension."""
    path = Path(path)
    kind = table_format(path)
    if kind == "excel":
        data = frame.to_pandas() if isinstance(frame, pa.Table) else frame
        try:
            with atomic_path(path) as temporary:
                data.to_excel(temporary, index=False, sheet_name=(sheet or path.stem)[:31])
        except ImportError as error:
            raise UsageError(f"writing Excel needs openpyxl (pip install 'drgdip[excel]'): {error}",
                             file=str(path)) from None
        return path
    with TableWriter(path) as writer:
        writer.write(frame)
    return path

