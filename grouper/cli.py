"""``drgdip group``, ``drgdip explain`` and ``drgdip schemes``."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drgdip.core.cluster import add_cluster_arguments, cluster_spec
from drgdip.core.errors import UsageError
from drgdip.core.tables import TableWriter, count_rows, table_format
from drgdip.grouper import io
from drgdip.grouper.case_text import parse_case_text
from drgdip.grouper.dip import group_dip
from drgdip.grouper.builtin import builtin_schemes
from drgdip.grouper.dip_directory import load_dip_directory
from drgdip.grouper.drg import GroupedBatch, iter_group_batches, result_labels
from drgdip.grouper.scheme import Scheme, SchemeError, load_scheme
from drgdip.grouper.trace import explain_case


SCHEME_HELP = "built-in scheme version (e.g. chs-drg-1.1; drgdip schemes lists them) or scheme directory"


def register(subparsers) -> None:
    group = subparsers.add_parser(
        "group", help="assign status, MDC, ADRG and DRG to every case of a table",
        description="Group a case table (CSV or Parquet) under a CHS-DRG scheme: a built-in version "
                    "(drgdip schemes lists them) or a scheme directory. Writes one row per input row, in input "
                    "order, with the version that grouped it (scheme_version).")
    group.add_argument("--scheme", required=True, help=SCHEME_HELP)
    group.add_argument("--input", required=True,
                       help="case table: .csv, .parquet or a directory of Parquet files (hive-partitioned or not)")
    group.add_argument("--output", required=True, help="result table, .csv or .parquet")
    group.add_argument("--dip", metavar="DIRECTORY",
                       help="also assign DIP groups from this DIP directory (dip_group, dip_type, "
                            "dip_score, dip_basic, dip_subtype, dip_aux_coef columns)")
    group.add_argument("--keep-input-columns", action="store_true",
                       help="write the input columns before the result columns")
    group.add_argument("--gender-aliases", action="store_true",
                       help="accept M/F/男/女 as male/female, also for the sex-specific MDCs")
    group.add_argument("--map-codes", action="store_true",
                       help="convert codes through the scheme's dx_map/proc_map first")
    group.add_argument("--batch-rows", type=int, default=io.DEFAULT_BATCH_ROWS,
                       help="cases per batch (memory use grows with it)")
    group.add_argument("--threads", type=int, default=None, help="kernel threads (default: all cores)")
    group.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="show a progress bar (default: on a terminal, for large inputs)")
    add_cluster_arguments(group)
    group.add_argument("--partition-rows", type=int, metavar="N",
                       help="with --engine dask: cases per task (default: --batch-rows)")
    group.set_defaults(func=run_group)

    explain = subparsers.add_parser(
        "explain", help="show why one case gets its group",
        description="Trace every grouping decision for one case: validation, each MDC and ADRG "
                    "rule tried and the code it matched on, each CC/MCC and exclusion, the split.")
    explain.add_argument("--scheme", required=True, help=SCHEME_HELP)
    explain.add_argument("--case", help='the case as "gender=1; age=45; dx=K35.800|E11.900; '
                                        'proc=47.0100" or as a JSON object')
    explain.add_argument("--input", help="a case table to take the case from (with --case-id)")
    explain.add_argument("--case-id", help="case_id of the case in --input")
    explain.add_argument("--gender-aliases", action="store_true")
    explain.add_argument("--map-codes", action="store_true")
    explain.add_argument("--json", action="store_true", help="print the structured trace as JSON")
    explain.set_defaults(func=run_explain)

    schemes = subparsers.add_parser(
        "schemes", help="list the built-in grouping scheme versions",
        description="List the scheme versions shipped with drgdip (the names --scheme takes) with their "
                    "MDC, ADRG and DRG counts and where their tables come from.")
    schemes.set_defaults(func=run_schemes)


def _load_scheme(path: str) -> Scheme:
    try:
        return load_scheme(path)
    except SchemeError as error:
        raise UsageError(f"invalid scheme: {error}", file=path) from None


class _Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int | None, enabled: bool):
        self.total, self.enabled, self.done = total, enabled, 0
        self.start = time.perf_counter()

    def update(self, rows: int) -> None:
        self.done += rows
        if not self.enabled:
            return
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        if self.total:
            share = min(1.0, self.done / self.total)
            bar = "#" * int(share * 30)
            sys.stderr.write(f"\r[{bar:<30}] {share:6.1%} {self.done:,}/{self.total:,} cases "
                             f"{rate:,.0f}/s")
        else:
            sys.stderr.write(f"\r{self.done:,} cases {rate:,.0f}/s")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def result_table(grouped: GroupedBatch, labels, input_table: pa.Table | None = None,
                 *, dictionary: bool = False, version: str = "") -> pa.Table:
    """The result columns of a batch as an Arrow table (optionally after the input columns), with the
    scheme ``version`` that grouped them (``scheme_version``).

    ``dictionary``: keep status/mdc/adrg/drg dictionary-encoded (indices into the label
    tables), which Parquet stores as is; otherwise decode them to plain text (for CSV).
    """
    group = pa.array(grouped.group)
    status = pa.array(grouped.status.astype(np.int32))
    coded = {"status": (status, list(io.STATUS_TOKENS)), "mdc": (group, labels[0]),
             "adrg": (group, labels[1]), "drg": (group, labels[2]),
             "scheme_version": (pa.array(np.zeros(len(grouped.group), dtype=np.int32)), [version])}
    columns = {}
    for name, (indices, values) in coded.items():
        if dictionary:
            # each label once: Arrow writes a dictionary holding repeated values to different Parquet
            # bytes from run to run
            distinct, first, inverse = np.unique(np.asarray(values, dtype=str), return_index=True,
                                                 return_inverse=True)
            order = np.argsort(first)   # labels in the order they first come
            rank = np.empty(len(order), dtype=np.int32)
            rank[order] = np.arange(len(order), dtype=np.int32)
            columns[name] = pa.DictionaryArray.from_arrays(pc.take(pa.array(rank[inverse]), indices),
                                                           pa.array(distinct[order].tolist(), pa.string()))
        else:
            columns[name] = pc.take(pa.array(list(values), pa.string()), indices)
    if input_table is not None:
        table = input_table.drop_columns([c for c in columns if c in input_table.column_names])
        for name, values in columns.items():
            table = table.append_column(name, values)
        return table
    case_id = grouped.case_id
    if not pa.types.is_string(case_id.type):
        case_id = pc.cast(case_id, pa.string())
    return pa.table({"case_id": case_id, **columns})


def _append_dip(result: pa.Table, cases: pa.Table, directory) -> pa.Table:
    """The DIP columns of the same cases after the DRG result columns."""
    dip = pa.Table.from_pandas(group_dip(cases.to_pandas(), directory), preserve_index=False)
    for name in dip.column_names:
        result = result.append_column(name, dip.column(name))
    return result


def output_table(table: pa.Table, grouped: GroupedBatch, *, labels, keep_input_columns: bool, dictionary: bool,
                 version: str, dip_directory=None) -> pa.Table:
    """The output rows of one batch: the result columns (after the input's with ``keep_input_columns``),
    then the DIP columns when a DIP directory is given."""
    result = result_table(grouped, labels, table if keep_input_columns else None, dictionary=dictionary,
                          version=version)
    if dip_directory is not None:
        result = _append_dip(result, table, dip_directory)
    return result


def run_group(args) -> int:
    spec = cluster_spec(args)
    if args.partition_rows is not None and args.engine != "dask":
        raise UsageError("--partition-rows only applies with --engine dask")
    scheme = _load_scheme(args.scheme)
    dip_directory = load_dip_directory(args.dip) if args.dip else None
    if args.threads:
        import numba
        numba.set_num_threads(max(1, min(args.threads, numba.config.NUMBA_NUM_THREADS)))
    total = count_rows(args.input) if Path(args.input).exists() else None
    show = args.progress if args.progress is not None else (
        sys.stderr.isatty() and (total is None or total >= 5 * args.batch_rows))
    progress = _Progress(total, bool(show))
    output = Path(args.output)
    if not output.parent.exists():
        raise UsageError("output directory does not exist", file=str(output))
    if args.engine == "dask":
        return _run_group_dask(args, spec, scheme, dip_directory, progress)
    labels = result_labels(scheme)
    status_counts = np.zeros(len(io.STATUS_TOKENS), dtype=np.int64)
    group_counts = np.zeros(len(labels[2]), dtype=np.int64)
    start = time.perf_counter()
    try:
        with TableWriter(output, background=True) as writer:
            for table, grouped in iter_group_batches(args.input, scheme, batch_rows=args.batch_rows,
                                                     gender_aliases=args.gender_aliases,
                                                     map_codes=args.map_codes,
                                                     all_columns=args.keep_input_columns or bool(args.dip)):
                writer.write(output_table(table, grouped, labels=labels,
                                          keep_input_columns=args.keep_input_columns,
                                          dictionary=writer.format == "parquet", version=scheme.name,
                                          dip_directory=dip_directory))
                status_counts += np.bincount(grouped.status, minlength=len(status_counts))
                group_counts += np.bincount(grouped.group, minlength=len(group_counts))
                progress.update(len(grouped))
    finally:
        progress.close()
    _print_summary(scheme, status_counts, group_counts, time.perf_counter() - start)
    return 0


def _run_group_dask(args, spec, scheme: Scheme, dip_directory, progress: _Progress) -> int:
    """``drgdip group --engine dask``: the same output file, grouped piece by piece on a Dask cluster."""
    from drgdip.core.cluster import dask_client, describe
    from drgdip.grouper.on_cluster import group_on_cluster, write_in_batches

    output = Path(args.output)
    if output.is_dir():
        raise UsageError("output is a directory", file=str(output))
    labels = result_labels(scheme)
    build = functools.partial(output_table, labels=labels, keep_input_columns=args.keep_input_columns,
                              dictionary=table_format(output) == "parquet", version=scheme.name,
                              dip_directory=dip_directory)
    status_counts = np.zeros(len(io.STATUS_TOKENS), dtype=np.int64)
    group_counts = np.zeros(len(labels[2]), dtype=np.int64)

    def counted(pieces):
        nonlocal status_counts, group_counts
        for piece in pieces:
            status_counts += piece.status_counts
            group_counts += piece.group_counts
            progress.update(piece.table.num_rows)
            yield piece.table

    start = time.perf_counter()
    with dask_client(spec) as client:
        print(f"drgdip group: {describe(client)}", file=sys.stderr)
        pieces = group_on_cluster(client, args.input, scheme, build,
                                  all_columns=args.keep_input_columns or bool(args.dip),
                                  partition_rows=args.partition_rows or args.batch_rows, batch_rows=args.batch_rows,
                                  gender_aliases=args.gender_aliases, map_codes=args.map_codes)
        try:
            write_in_batches(counted(pieces), output, args.batch_rows)
        finally:
            progress.close()
    _print_summary(scheme, status_counts, group_counts, time.perf_counter() - start)
    return 0


def _print_summary(scheme: Scheme, status_counts: np.ndarray, group_counts: np.ndarray, elapsed: float) -> None:
    cases = int(status_counts.sum())
    distinct = int((group_counts[:len(scheme.drg_codes)] > 0).sum())
    per_status = ", ".join(f"{token} {int(count):,}" for token, count in zip(io.STATUS_TOKENS, status_counts)
                           if count)
    print(f"grouped {cases:,} cases: {distinct:,} distinct DRGs; {per_status or 'no cases'}; "
          f"{cases / max(elapsed, 1e-9):,.0f} cases/s")


def run_explain(args) -> int:
    scheme = _load_scheme(args.scheme)
    if args.case:
        case = parse_case_text(args.case)
    elif args.input and args.case_id:
        case = _find_case(args.input, args.case_id)
    else:
        raise UsageError("give --case, or --input with --case-id")
    trace = explain_case(case, scheme, gender_aliases=args.gender_aliases, map_codes=args.map_codes)
    if args.json:
        print(json.dumps(trace.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(trace.to_text())
    return 0


def _find_case(path: str, case_id: str) -> dict:
    for table in io.iter_case_batches(path):
        ids = pc.cast(table.column("case_id"), pa.string())
        hits = np.flatnonzero(pc.equal(ids, case_id).to_numpy(zero_copy_only=False))
        if len(hits):
            return table.slice(int(hits[0]), 1).to_pylist()[0]
    raise UsageError(f"no case with case_id {case_id!r}", file=path, field="case_id")


def run_schemes(args, out=None) -> int:
    """Print the built-in scheme versions with their MDC / ADRG / DRG counts and source."""
    out = out if out is not None else sys.stdout
    table = builtin_schemes()
    width = max([len(name) for name in table["name"]] + [len("name")])
    sources = [f"{row.source}, {row.licence}" for row in table.itertuples(index=False)]
    source_width = max([len(source) for source in sources] + [len("source")])
    print(f"{'name':<{width}}  {'MDCs':>4}  {'ADRGs':>5}  {'DRGs':>5}  {'source':<{source_width}}  version", file=out)
    for row, source in zip(table.itertuples(index=False), sources):
        print(f"{row.name:<{width}}  {row.mdcs:>4}  {row.adrgs:>5}  {row.drgs:>5}  {source:<{source_width}}  "
              f"{row.title.replace(' grouping scheme', '')}", file=out)
    print(f"{len(table)} built-in versions; group with one by name: drgdip group --scheme <name> ...", file=out)
    return 0
