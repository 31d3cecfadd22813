"""A directory of Parquet part files read as one table (a partitioned dataset).

Layout: any tree of ``.parquet`` / ``.pq`` files, optionally hive-partitioned
(``cases/region=R01/year=2025/part-00000.parquet``). Files and directories whose names start with
``.`` or ``_`` are ignored (``_SUCCESS``, checksum files, half-written temporaries); any other file
that is not Parquet is an error, so that nothing is silently left out. pyarrow lists the files
(:class:`pyarrow.fs.FileSelector`), parses the ``key=value`` directories (:mod:`pyarrow.dataset`)
and reads the fragments.

* **Row order**: the part files in sorted order of their paths, the rows of each file in file order.
  The same dataset always gives the same rows in the same order.
* **Partition keys** become columns after the files' columns: text for id and code columns (the
  ``text`` names given to :func:`open_dataset`) and for any key with a value that is not an integer;
  ``int64`` when every value is an integer (``year=2025``). ``__HIVE_DEFAULT_PARTITION__`` is missing.
* **A key also inside the files** keeps the files' column (and its type); every row's value must equal
  its directory's, a row that differs is an error naming the part file, the row and the key.
* The part files must have the same columns; their types are unified (a column that is all missing in
  one part takes the type of the others, ``int32`` and ``int64`` give ``int64``).

Errors about a dataset's rows name the dataset directory and the row counted over the whole dataset
(1 = the first row of the first part); :func:`in_part_file` tells them as the part file and its row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from drgdip.core.errors import ConfigError, UsageError

__all__ = ["Part", "ParquetDataset", "PART_SUFFIXES", "open_dataset", "is_dataset", "in_part_file"]

PART_SUFFIXES = (".parquet", ".pq")
IGNORED_PREFIXES = (".", "_")
INTEGER_KEY = re.compile(r"-?[0-9]+")
_LOCAL = pafs.LocalFileSystem()


@dataclass(frozen=True)
class Part:
    """One part file: its path, its number of rows and its partition key values (typed; None = missing)."""

    path: Path
    rows: int
    keys: tuple[tuple[str, object], ...]


@dataclass(frozen=True)
class ParquetDataset:
    """A partitioned Parquet dataset (see the module docstring); rows counted from 0 over all parts."""

    root: Path
    parts: tuple[Part, ...]
    file_schema: pa.Schema   # the columns inside the part files, unified over the parts
    key_schema: pa.Schema    # the partition keys that are not columns of the files

    @property
    def schema(self) -> pa.Schema:
        """The dataset's columns: the files' columns, then the partition keys."""
        return pa.schema(list(self.file_schema) + list(self.key_schema))

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    @property
    def num_rows(self) -> int:
        return int(sum(part.rows for part in self.parts))

    @property
    def starts(self) -> np.ndarray:
        """The dataset row of the first row of each part, and the number of rows at the end."""
        return np.concatenate(([0], np.cumsum([part.rows for part in self.parts], dtype=np.int64)))

    def locate(self, position: int) -> tuple[Path, int]:
        """The part file holding dataset row ``position`` (0-based) and the row's position in that file."""
        starts = self.starts
        if not 0 <= position < starts[-1]:
            raise IndexError(position)
        index = int(np.searchsorted(starts, position, side="right")) - 1
        return self.parts[index].path, int(position - starts[index])

    # ------------------------------------------------------------------ reading

    def _wanted(self, columns: Iterable[str] | None) -> list[str]:
        names = self.columns
        return names if columns is None else [c for c in names if c in set(columns)]

    def _finish(self, part: Part, table: pa.Table, wanted: list[str], dictionary: Sequence[str]) -> pa.Table:
        """A part's table with the dataset's types, its key columns and the columns in ``wanted`` order."""
        keys = dict(part.keys)
        for name in table.column_names:
            if name in keys:
                _check_key_column(part, name, table.column(name), keys[name])
        columns = {}
        for name in wanted:
            if name in self.key_schema.names:
                value = pa.scalar(keys.get(name), self.key_schema.field(name).type)
                column = pa.repeat(value, table.num_rows)
                if name in dictionary:
                    column = column.dictionary_encode()
                columns[name] = column
                continue
            column = table.column(name)
            target = self.file_schema.field(name).type
            if column.type != target and not (name in dictionary and pa.types.is_dictionary(column.type)):
                column = _cast(part, name, column, target)
            columns[name] = column
        if not wanted:
            return _no_columns(table.num_rows)
        # the first part's pandas metadata: nullable integer columns come back as such, as from one file
        return pa.table(columns).replace_schema_metadata(self.file_schema.metadata)

    def _fragment(self, part: Part, dictionary: Sequence[str]):
        options = ds.ParquetReadOptions(dictionary_columns=set(dictionary)) if dictionary else None
        return ds.ParquetFileFormat(read_options=options).make_fragment(str(part.path), filesystem=_LOCAL)

    def _file_columns(self, wanted: list[str], part: Part) -> list[str]:
        """The columns to read from a part file: the wanted ones in the file, and keys to check."""
        keys = dict(part.keys)
        return [c for c in self.file_schema.names if c in set(wanted) or c in keys]

    def read_part(self, part: Part, columns: Iterable[str] | None = None, *, dictionary: Sequence[str] = (),
                  filter=None) -> pa.Table:
        """The rows of one part (those passing ``filter``, a pyarrow expression over the ``columns`` read)."""
        wanted = self._wanted(columns)
        try:
            table = self._fragment(part, dictionary).to_table(columns=self._file_columns(wanted, part))
            table = self._finish(part, table, wanted, dictionary)
            return table if filter is None else table.filter(filter)
        except UsageError:
            raise
        except (pa.ArrowException, OSError) as error:
            raise UsageError(f"cannot read the part file: {error}", file=str(part.path)) from None

    def read(self, columns: Iterable[str] | None = None, *, dictionary: Sequence[str] = (),
             filter=None) -> pa.Table:
        """The whole dataset (the ``columns`` it has), in dataset row order."""
        wanted = self._wanted(columns)
        tables = [self.read_part(part, wanted, dictionary=dictionary, filter=filter) for part in self.parts]
        if not tables:
            return self.schema.empty_table().select(wanted)
        return pa.concat_tables(tables, promote_options="permissive") if wanted else _no_columns(
            sum(t.num_rows for t in tables))

    def iter_batches(self, batch_rows: int, columns: Iterable[str] | None = None) -> Iterator[tuple[Part, pa.Table]]:
        """Each part's rows in tables of at most ``batch_rows`` rows, part by part: only one batch (and
        what the Parquet reader reads ahead) is in memory at a time. A batch never spans two parts."""
        wanted = self._wanted(columns)
        for part in self.parts:
            try:
                fragment = self._fragment(part, ())
                for batch in fragment.to_batches(columns=self._file_columns(wanted, part), batch_size=batch_rows):
                    if batch.num_rows:
                        yield part, self._finish(part, pa.Table.from_batches([batch]), wanted, ())
            except UsageError:
                raise
            except (pa.ArrowException, OSError) as error:
                raise UsageError(f"cannot read the part file: {error}", file=str(part.path)) from None

    def take(self, rows: np.ndarray, columns: Iterable[str], *, dictionary: Sequence[str] = ()) -> pa.Table:
        """``columns`` of the dataset rows at positions ``rows`` (ascending), in that order; only the row
        groups holding them are read."""
        rows = np.asarray(rows, dtype=np.int64)
        wanted = self._wanted(columns)
        starts = self.starts
        if len(rows) and (rows[0] < 0 or rows[-1] >= starts[-1]):
            raise IndexError("row position outside the dataset")
        index = np.searchsorted(starts, rows, side="right") - 1
        tables = []
        for k in np.unique(index):
            part = self.parts[int(k)]
            local = rows[index == k] - starts[k]
            tables.append(self._take_part(part, local, wanted, dictionary))
        if not wanted:
            return _no_columns(len(rows))
        if not tables:
            return self.schema.empty_table().select(wanted)
        return pa.concat_tables(tables, promote_options="permissive")

    def _take_part(self, part: Part, local: np.ndarray, wanted: list[str], dictionary: Sequence[str]) -> pa.Table:
        try:
            fragment = self._fragment(part, dictionary)
            sizes = np.asarray([group.num_rows for group in fragment.row_groups], dtype=np.int64)
            group_starts = np.concatenate(([0], np.cumsum(sizes)))
            group_of_row = np.searchsorted(group_starts, local, side="right") - 1
            groups = np.unique(group_of_row)
            table = fragment.subset(row_group_ids=[int(g) for g in groups]).to_table(
                columns=self._file_columns(wanted, part))
        except (pa.ArrowException, OSError) as error:
            raise UsageError(f"cannot read the part file: {error}", file=str(part.path)) from None
        in_read = np.concatenate(([0], np.cumsum(sizes[groups])))
        positions = in_read[np.searchsorted(groups, group_of_row)] + local - group_starts[group_of_row]
        return self._finish(part, table.take(pa.array(positions)), wanted, dictionary)


def _no_columns(rows: int) -> pa.Table:
    return pa.table({"__rows": pa.nulls(rows)}).drop_columns(["__rows"])


def _cast(part: Part, name: str, column, target: pa.DataType):
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise UsageError(f"cannot be read as {target} like in the other part files: {error}",
                         file=str(part.path), field=name) from None


def _check_key_column(part: Part, name: str, column, value) -> None:
    """A key that is also a column of the file: every row must hold the directory's value."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if value is None:
        differs = pc.is_valid(column)
    else:
        differs = pc.invert(pc.fill_null(pc.equal(column, pa.scalar(value).cast(column.type)), False))
    if pc.any(differs).as_py():
        row = int(np.flatnonzero(differs.to_numpy(zero_copy_only=False))[0])
        raise UsageError(f"value {column[row].as_py()!r} differs from the partition directory's "
                         f"{name}={value}", file=str(part.path), row=row + 1, field=name)


def is_dataset(path) -> bool:
    """Whether ``path`` names a directory (read as a partitioned dataset by the table readers)."""
    return isinstance(path, (str, Path)) and Path(path).is_dir()


def open_dataset(path, *, what: str = "table", text: Iterable[str] = ()) -> ParquetDataset:
    """The dataset in directory ``path``; ``text`` names keys that stay text even when they look like
    integers (ids and codes such as ``region=0101``). An empty directory, one without Parquet files,
    a file that is not Parquet and part files with different columns are :class:`UsageError`."""
    root = Path(path)
    if not root.is_dir():
        raise UsageError(f"{what}: directory not found", file=str(root))
    try:
        listed = _LOCAL.get_file_info(pafs.FileSelector(str(root.resolve()), recursive=True))
    except OSError as error:
        raise UsageError(f"{what}: cannot list the directory: {error}", file=str(root)) from None
    base = root.resolve()
    files = []
    for info in listed:
        if info.type != pafs.FileType.File:
            continue
        relative = Path(info.path).relative_to(base)
        if any(name.startswith(IGNORED_PREFIXES) for name in relative.parts):
            continue
        if not relative.name.lower().endswith(PART_SUFFIXES):
            raise UsageError(f"{what}: not a Parquet file in a dataset directory (a dataset holds only "
                             f".parquet / .pq part files; names starting with . or _ are ignored)",
                             file=str(root / relative))
        files.append((str(relative), info.mtime_ns, info.size))
    if not files:
        raise UsageError(f"{what}: no Parquet files in the directory (a dataset is a directory of .parquet "
                         "part files, optionally in key=value subdirectories)", file=str(root))
    return _open(root, tuple(sorted(files)), frozenset(text), what)


@lru_cache(maxsize=8)
def _open(root: Path, files: tuple, text: frozenset, what: str) -> ParquetDataset:
    """The dataset of ``files`` (relative paths, modification times and sizes: a changed file is opened again)."""
    paths = [str(root.resolve() / name) for name, _, _ in files]
    base = str(root.resolve())
    try:
        options = ds.FileSystemFactoryOptions(partition_base_dir=base)
        options.partitioning_factory = ds.HivePartitioning.discover(infer_dictionary=True)
        key_names = ds.FileSystemDatasetFactory(_LOCAL, paths, ds.ParquetFileFormat(),
                                                options).inspect_schemas()[-1].names
        as_text = ds.partitioning(pa.schema([(k, pa.string()) for k in key_names]), flavor="hive")
        dataset = ds.dataset(paths, format="parquet", partitioning=as_text, partition_base_dir=base,
                             filesystem=_LOCAL, schema=pa.schema([]))
    except (pa.ArrowException, OSError) as error:
        raise UsageError(f"{what}: cannot read the dataset: {error}", file=str(root)) from None
    fragments = sorted(dataset.get_fragments(), key=lambda f: f.path)
    raw_parts, schemas = [], []
    for fragment in fragments:
        path = Path(fragment.path)
        shown = root / path.relative_to(base)
        try:
            metadata = pq.read_metadata(path)
            schema = metadata.schema.to_arrow_schema()
        except (pa.ArrowException, OSError) as error:
            raise UsageError(f"{what}: cannot read the part file: {error}", file=str(shown)) from None
        keys = ds.get_partition_keys(fragment.partition_expression)
        if set(keys) != set(key_names):
            raise UsageError(f"{what}: the part file lies outside the partition directories of the others "
                             f"(keys {', '.join(key_names)})", file=str(shown))
        if schemas and schema.names != schemas[0].names:
            raise UsageError(f"{what}: the part file's columns ({', '.join(schema.names)}) differ from "
                             f"{raw_parts[0][0]}'s ({', '.join(schemas[0].names)})", file=str(shown))
        raw_parts.append((shown, metadata.num_rows, keys))
        schemas.append(schema)
    try:
        file_schema = pa.unify_schemas([s.remove_metadata() for s in schemas], promote_options="permissive")
        file_schema = file_schema.with_metadata(schemas[0].metadata or {})
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise UsageError(f"{what}: the part files' column types cannot be unified: {error}", file=str(root)) from None
    key_types = {k: _key_type(k, [keys.get(k) for _, _, keys in raw_parts], file_schema, text, root)
                 for k in key_names}
    parts = tuple(Part(path=shown, rows=rows, keys=tuple((k, _key_value(keys.get(k), key_types[k], shown, k))
                                                         for k in key_names))
                  for shown, rows, keys in raw_parts)
    key_schema = pa.schema([(k, key_types[k]) for k in key_names if k not in file_schema.names])
    return ParquetDataset(root=root, parts=parts, file_schema=file_schema, key_schema=key_schema)


def _key_type(name: str, values: list, file_schema: pa.Schema, text: frozenset, root: Path) -> pa.DataType:
    if name in file_schema.names:
        return file_schema.field(name).type
    given = [v for v in values if v is not None]
    if name not in text and given and all(INTEGER_KEY.fullmatch(v) for v in given):
        return pa.int64()
    return pa.string()


def _key_value(value, kind: pa.DataType, path: Path, name: str):
    if value is None:
        return None
    try:
        return pa.scalar(value, pa.string()).cast(kind).as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise UsageError(f"partition value {name}={value} cannot be read as the files' {kind} column",
                         file=str(path), field=name) from None


def in_part_file(error: UsageError) -> UsageError:
    """An error about row r of a dataset told as the part file holding it and the row in that file."""
    if isinstance(error, ConfigError) or error.file is None or error.row is None or not Path(error.file).is_dir():
        return error
    try:
        dataset = open_dataset(error.file)
        part, row = dataset.locate(error.row - 1)
    except (UsageError, IndexError):
        return error
    return UsageError(error.problem, file=str(part), row=row + 1, field=error.field)
