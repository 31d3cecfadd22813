"""A case file grouped on a Dask cluster, piece by piece, and written as the local engine writes it.

``drgdip group --engine dask`` cuts its input into pieces of about ``partition_rows`` rows: a Parquet
file (or each Parquet file of a directory, in the order of their paths) at the bounds of its row groups
(the units Parquet is read in), which the worker reads itself; a CSV file in the local engine's
batches, which the client reads and sends. Every piece is grouped by the code of the local engine
(:func:`drgdip.grouper.io.encode_batch`, :func:`drgdip.grouper.drg.group_encoded`, then the caller's
``build`` of the output table), cut where the local engine's batches of ``batch_rows`` rows are cut,
each knowing its rows in the file, so statuses are the local engine's. A piece that fails on its input
is grouped again here in the local engine's batches, so the error names the file, row and field the
local engine names. The pieces come back in input order and are written in tables of ``batch_rows``
rows, the local engine's batches, so the output file is byte for byte the one ``--engine local`` writes.

Grouping a piece is pure: a piece lost with its worker is grouped again by Dask. The output is written
under a temporary name beside it and renamed when complete, so a failed run never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from drgdip.core.cluster import ClusterError, ordered_results
from drgdip.core.errors import UsageError
from drgdip.core.tables import PARQUET_SUFFIXES, TableWriter, table_columns, table_format
from drgdip.grouper import io
from drgdip.grouper.drg import GroupedBatch, group_encoded
from drgdip.grouper.scheme import Scheme

__all__ = ["Piece", "GroupedPiece", "input_files", "plan_pieces", "group_piece", "group_on_cluster",
           "write_in_batches"]

DEFAULT_PARTITION_ROWS = io.DEFAULT_BATCH_ROWS


@dataclass(frozen=True)
class Piece:
    """Rows ``start`` to ``stop`` (0-based, stop excluded) of ``file``; ``first_row`` is the row number of
    ``start`` as the file shows it (a CSV file's header is row 1). ``table`` holds the rows when the
    client has read them (CSV); a Parquet piece is read by the worker."""

    file: str
    start: int
    stop: int
    first_row: int
    table: pa.Table | None = None

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class GroupedPiece:
    """The output table of one piece and its counts per status and per group index."""

    table: pa.Table
    status_counts: np.ndarray
    group_counts: np.ndarray


def input_files(source) -> list[str]:
    """The case files of ``source``: the file itself (named as given, as messages name it), or every
    Parquet file under a directory in the order of their paths (``region=1/part-0.parquet`` before
    ``region=2/...``)."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PARQUET_SUFFIXES)
        if not files:
            raise UsageError("no Parquet files (*.parquet, *.pq) in the input directory", file=str(path))
        return [str(p) for p in files]
    if not path.is_file():
        raise UsageError("cases: file not found", file=str(path))
    if table_format(path) not in ("parquet", "csv"):
        raise UsageError("--engine dask reads Parquet or CSV cases (a file, or a directory of Parquet files)",
                         file=str(path))
    return [str(source)]


def plan_pieces(source, partition_rows: int = DEFAULT_PARTITION_ROWS, *, columns: tuple[str, ...] | None = None,
                batch_rows: int = io.DEFAULT_BATCH_ROWS) -> Iterator[Piece]:
    """The pieces of ``source`` in input order.

    A Parquet piece is the fewest whole row groups of one file that hold ``partition_rows`` rows (the
    last of each file may hold fewer), planned from the files' metadata, the required columns checked
    first; a CSV file is read here in the local engine's batches of ``batch_rows`` (``columns`` only,
    None: all), one piece each, which carry their rows.
    """
    if partition_rows < 1:
        raise UsageError(f"--partition-rows must be at least 1, got {partition_rows}")
    files = input_files(source)
    for file in files:
        io._check_columns(table_columns(file), file)
    if table_format(files[0]) == "csv":
        yield from _csv_pieces(files[0], batch_rows, columns)
        return
    for file in files:
        start = stop = 0
        for size in _row_group_sizes(file):
            stop += size
            if stop - start >= partition_rows:
                yield Piece(file, start, stop, first_row=1 + start)
                start = stop
        if stop > start or stop == 0:
            yield Piece(file, start, stop, first_row=1 + start)


def _row_group_sizes(file: str) -> list[int]:
    try:
        metadata = pq.ParquetFile(file).metadata
    except (pa.ArrowException, OSError) as error:
        raise UsageError(f"cannot read input as Parquet: {error}", file=file) from None
    return [metadata.row_group(k).num_rows for k in range(metadata.num_row_groups)]


def _csv_pieces(file: str, batch_rows: int, columns) -> Iterator[Piece]:
    start = 0
    for table in io.iter_case_batches(file, batch_rows, all_columns=columns is None,
                                      columns=columns or io.GROUPING_COLUMNS):
        yield Piece(file, start, start + table.num_rows, first_row=2 + start, table=table)
        start += table.num_rows


def read_piece(piece: Piece, columns: tuple[str, ...] | None) -> pa.Table:
    """The rows of a piece (``columns`` of them, those the file has; None: all) as the local engine reads them."""
    if piece.table is not None:
        return piece.table
    try:
        parquet = pq.ParquetFile(piece.file)
        names = parquet.schema_arrow.names
        wanted = None if columns is None else [c for c in names if c in set(columns)]
        if piece.start == piece.stop:
            empty = parquet.schema_arrow.empty_table()
            return empty if wanted is None else empty.select(wanted)
        sizes = [parquet.metadata.row_group(k).num_rows for k in range(parquet.metadata.num_row_groups)]
        bounds = np.concatenate(([0], np.cumsum(sizes)))
        first = int(np.searchsorted(bounds, piece.start, side="right")) - 1
        last = int(np.searchsorted(bounds, piece.stop, side="left"))
        groups = list(range(first, last))
        table = pa.Table.from_batches(list(parquet.iter_batches(batch_size=len(piece), row_groups=groups,
                                                                columns=wanted)))
    except (pa.ArrowException, OSError) as error:
        raise UsageError(f"cannot read input as Parquet: {error}", file=piece.file) from None
    return table.slice(piece.start - int(bounds[first]), len(piece))


def group_piece(piece: Piece, scheme: Scheme, build: Callable[[pa.Table, GroupedBatch], pa.Table], *,
                columns: tuple[str, ...] | None, batch_rows: int = io.DEFAULT_BATCH_ROWS,
                gender_aliases: bool = False, map_codes: bool = False) -> GroupedPiece:
    """Read and group one piece (a task on a worker; pure), cut where the file's batches of ``batch_rows``
    rows are cut. ``build(input batch, its grouping)`` makes the output table of a batch.
    """
    table = read_piece(piece, columns)
    status_counts = np.zeros(len(io.STATUS_TOKENS), dtype=np.int64)
    group_counts = None
    outputs = []
    cuts = range((piece.start // batch_rows + 1) * batch_rows, piece.stop, batch_rows)
    bounds = [piece.start, *cuts, max(piece.stop, piece.start + 1)]
    for begin, end in zip(bounds[:-1], bounds[1:]):
        offset = begin - piece.start
        batch = table.slice(offset, end - begin)
        encoded = io.encode_batch(batch, scheme, file=piece.file, first_row=piece.first_row + offset,
                                  gender_aliases=gender_aliases, map_codes=map_codes)
        grouped = group_encoded(encoded, scheme)
        outputs.append(build(batch, grouped))
        status_counts += np.bincount(grouped.status, minlength=len(status_counts))
        counts = np.bincount(grouped.group, minlength=_group_count(scheme))
        group_counts = counts if group_counts is None else group_counts + counts
    return GroupedPiece(pa.concat_tables(outputs), status_counts, group_counts)


def _group_count(scheme: Scheme) -> int:
    """Group indices of :func:`drgdip.grouper.drg.result_labels`: DRGs, ambiguous per MDC, per ADRG, none."""
    return len(scheme.drg_codes) + len(scheme.mdc_codes) + len(scheme.adrg_codes) + 1


def group_on_cluster(client, source, scheme: Scheme, build: Callable[[pa.Table, GroupedBatch], pa.Table], *,
                     all_columns: bool = False, partition_rows: int = DEFAULT_PARTITION_ROWS,
                     batch_rows: int = io.DEFAULT_BATCH_ROWS, gender_aliases: bool = False,
                     map_codes: bool = False, window: int | None = None) -> Iterator[GroupedPiece]:
    """The grouped pieces of ``source`` in input order, grouped on ``client``'s cluster.

    ``build`` runs on the workers (a module-level function or a ``functools.partial`` of one), so it
    must be importable there.
    """
    columns = None if all_columns else io.grouping_columns(scheme)
    options = dict(columns=columns, batch_rows=batch_rows, gender_aliases=gender_aliases, map_codes=map_codes)
    sent: deque[Piece] = deque()

    def planned() -> Iterator[Piece]:
        for piece in plan_pieces(source, partition_rows, columns=columns, batch_rows=batch_rows):
            sent.append(piece)
            yield piece

    shared = client.scatter(scheme, broadcast=True, hash=False)
    with warnings.catch_warnings():
        # a CSV piece travels with its task, so that a lost worker's piece can be grouped again
        warnings.filterwarnings("ignore", message="Sending large graph")
        try:
            for grouped in ordered_results(client, group_piece, planned(), shared, build, window=window, **options):
                sent.popleft()
                yield grouped
        except UsageError as error:
            if isinstance(error, ClusterError) or not sent:
                raise
            _raise_local_error(sent[0], scheme, build, error, **options)


def _raise_local_error(piece: Piece, scheme: Scheme, build, error: UsageError, *, batch_rows: int,
                       **options) -> None:
    """Raise the error the local engine gives for the input of a failed piece: the first of the local
    engine's batches overlapping the piece, grouped here, that fails (``error`` if none does)."""
    if piece.table is None:   # a CSV piece is one local batch: its error is the local one
        first = piece.start // batch_rows * batch_rows
        rows = pq.ParquetFile(piece.file).metadata.num_rows
        for start in range(first, piece.stop, batch_rows):
            stop = min(start + batch_rows, rows)
            group_piece(Piece(piece.file, start, stop, first_row=piece.first_row - piece.start + start), scheme,
                        build, batch_rows=batch_rows, **options)
    raise error


def write_in_batches(tables: Iterable[pa.Table], output, batch_rows: int) -> int:
    """Write ``tables`` to ``output`` (Parquet or CSV) cut into tables of ``batch_rows`` rows, the way the
    local engine writes its batches: one Parquet row group per batch, each column in one piece (where a
    dictionary column's chunks break decides where Parquet falls back from dictionary encoding, so it
    decides the bytes); returns the rows written.

    The file appears under its name only once complete (:class:`~drgdip.core.tables.TableWriter`).
    """
    output = Path(output)
    written = 0
    with TableWriter(output, background=True) as writer:
        buffer: list[pa.Table] = []
        buffered = 0
        for table in tables:
            buffer.append(table)
            buffered += table.num_rows
            while buffered >= batch_rows:
                joined = pa.concat_tables(buffer)
                writer.write(joined.slice(0, batch_rows).combine_chunks())
                written += batch_rows
                rest = joined.slice(batch_rows)
                buffer, buffered = ([rest] if rest.num_rows else []), rest.num_rows
        if buffer and (buffered or not written):
            writer.write(pa.concat_tables(buffer).combine_chunks())
            written += buffered
    return written
