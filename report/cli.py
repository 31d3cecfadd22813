"""``drgdip report``: the HTML report of settlement and simulation output folders."""

from __future__ import annotations

import sys

__all__ = ["register", "run_report"]


def register(subparsers) -> None:
    """Add the ``report`` subcommand to the ``drgdip`` parser."""
    parser = subparsers.add_parser(
        "report", help="write a self-contained HTML report of a settlement or simulation output folder",
        description="One HTML file with headline figures, sortable tables and charts, readable offline "
                    "and printable to PDF, over the output folder of drgdip settle and/or drgdip simulate.")
    parser.add_argument("--input", required=True, action="append",
                        help="output folder of drgdip settle or drgdip simulate (give --input twice for both)")
    parser.add_argument("--output", required=True, help="the HTML file to write (or a folder: report.html in it)")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of every label (default zh)")
    parser.set_defaults(func=run_report)


def run_report(args, out=None) -> int:
    from drgdip.report import write_report

    out = sys.stdout if out is None else out
    if sys.stderr.isatty():
        print("drgdip report: reading the tables and drawing the charts ...", file=sys.stderr)
    written = write_report(args.input, args.output, lang=args.lang)
    print(written.summary(), file=out)
    return 0
