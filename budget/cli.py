"""``drgdip settle``: settle a province's stays under a budget policy and write the tables."""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from drgdip.budget.province_options import add_province_options, province_options
from drgdip.core.cluster import add_cluster_arguments, cluster_spec
from drgdip.core.errors import UsageError

__all__ = ["register", "run_settle"]


def register(subparsers) -> None:
    """Add ``settle`` to the ``drgdip`` parser."""
    parser = subparsers.add_parser(
        "settle", help="settle hospitals under a regional budget policy (points -> money)",
        description="Apply day-care rules, group (if needed), compute points and settle hospitals under the "
                    "policy's regional budget; writes per-case, per-hospital, clearing and summary tables.")
    parser.add_argument("--policy", required=True, help="policy YAML (see data/policies/)")
    add_province_options(parser)
    parser.add_argument("--output", required=True, help="output directory")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="table format")
    parser.add_argument("--no-excel", action="store_true", help="do not write settlement.xlsx")
    parser.add_argument("--excel-case-rows", type=int, default=0,
                        help="write the per-case sheet of the workbook when there are at most this many stays "
                             "(default 0: the per-case table is the cases file only)")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh",
                        help="language of the workbook's sheet names and of the report (default zh)")
    parser.add_argument("--report", action="store_true",
                        help="also write the HTML report of the settlement (OUTPUT/report.html)")
    parser.add_argument("--timings", action="store_true", help="print the time and memory of each stage")
    add_cluster_arguments(parser)
    parser.add_argument("--partition-rows", type=int, metavar="N",
                        help="with --engine dask: stays each task reads of a single Parquet or CSV cases file "
                             "(default 1M; a directory of Parquet files is read part file by part file)")
    parser.add_argument("--scratch", metavar="DIR",
                        help="with --engine dask: a directory every worker reaches, in which the pooling areas' "
                             "provinces are written while they are settled (default: the output directory)")
    parser.set_defaults(func=run_settle)


def run_settle(args, out=None) -> int:
    """Run ``drgdip settle``; returns the exit status."""
    out = out if out is not None else sys.stdout
    from drgdip.budget.pipeline import settle_province
    from drgdip.budget.policy import load_policy
    from drgdip.budget.report import format_settlement_summary, write_settlement
    from drgdip.core.timing import StageClock

    started = time.perf_counter()
    spec = cluster_spec(args)
    for option, given in (("--scratch", args.scratch), ("--partition-rows", args.partition_rows)):
        if given is not None and args.engine != "dask":
            raise UsageError(f"{option}: only with --engine dask")
    policy = load_policy(args.policy)
    clock = StageClock(progress=sys.stderr if sys.stderr.isatty() else None, command="drgdip settle")
    try:
        if args.engine == "dask":
            settlement, stays, paths = _settle_on_cluster(args, policy, spec, clock)
        else:
            settlement = settle_province(args.input, policy, **province_options(args), clock=clock)
            stays = len(settlement.cases)
            with clock.stage("write"):
                paths = write_settlement(settlement, args.output, fmt=args.format, excel=not args.no_excel,
                                         lang=args.lang, excel_case_rows=args.excel_case_rows)
    finally:
        clock.done()
    print(format_settlement_summary(settlement), file=out)
    seconds = time.perf_counter() - started
    print(f"settled {stays:,} stays of {len(settlement.hospitals):,} hospitals in {seconds:.1f} s"
          f"{' on Dask' if args.engine == 'dask' else ''}; wrote {len(paths)} files to {args.output}", file=out)
    if args.timings:
        print(clock.table(), file=out)
    return 0


def _settle_on_cluster(args, policy, spec, clock) -> tuple:
    """``drgdip settle --engine dask``: the same tables, pooling area by pooling area on a Dask cluster;
    returns (the settlement without its per-stay table, the number of stays settled, the files written)."""
    from drgdip.budget.on_cluster import settle_on_cluster
    from drgdip.budget.report import write_settlement
    from drgdip.core.cluster import dask_client, describe
    from drgdip.core.tables import read_table

    progress = (lambda text: print(f"drgdip settle: {text}", file=sys.stderr)) if sys.stderr.isatty() else None
    with dask_client(spec) as client:
        if progress:
            progress(describe(client))
        result = settle_on_cluster(client, args.input, policy, args.output, fmt=args.format, scratch=args.scratch,
                                   progress=progress, clock=clock, **province_options(args),
                                   **({"piece_rows": args.partition_rows} if args.partition_rows is not None else {}))
    settlement = result.settlement
    if 0 < result.stays <= args.excel_case_rows and not args.no_excel:   # the workbook's per-case sheet
        settlement = replace(settlement, cases=read_table(result.paths["cases"], what="cases"))
    with clock.stage("write"):
        paths = write_settlement(settlement, args.output, fmt=args.format, excel=not args.no_excel,
                                 lang=args.lang, excel_case_rows=args.excel_case_rows, cases=False)
    return settlement, result.stays, {**paths, **result.paths}
