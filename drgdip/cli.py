"""The ``drgdip`` command: one subcommand per pipeline stage.

Each stage package owns its subcommands in its own ``cli.py`` (``register(subparsers)``);
this module only assembles them and turns :class:`drgdip.core.errors.UsageError` into exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext

from drgdip.core.errors import UsageError
from drgdip.core.compiling import compile_progress
from drgdip.core.resources import kernels_cached


def build_parser() -> argparse.ArgumentParser:
    from drgdip.grouper import cli as grouper_cli
    from drgdip.synth import cli as synth_cli
    from drgdip.pointvalue import cli as pointvalue_cli
    from drgdip.budget import cli as budget_cli
    from drgdip.simulate import cli as simulate_cli
    from drgdip.report import cli as report_cli
    from drgdip import demo

    parser = argparse.ArgumentParser(
        prog="drgdip",
        description="Group inpatient cases (CHS-DRG / DIP), compute points and settle hospitals.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (grouper_cli, synth_cli, pointvalue_cli, budget_cli, simulate_cli, report_cli, demo):
        module.register(subparsers)
    return parser


# commands that run the numba kernels (compiled on a machine's first run, then cached)
COMPUTING = frozenset({"demo", "group", "synth", "points", "price", "calibrate", "settle", "simulate"})


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    first_run = args.command in COMPUTING and not kernels_cached()
    if first_run:
        print("drgdip: first run here: compiling the numba kernels for this machine and caching them "
              "(about half a minute, once)", file=sys.stderr)
    with compile_progress() if first_run else nullcontext():
        return _run(args)


def _run(args) -> int:
    try:
        status = int(args.func(args) or 0)
        # --report (settle, simulate): the HTML report of the folder the command has just written
        if status == 0 and getattr(args, "report", False):
            from pathlib import Path

            from drgdip.report import write_report

            print(write_report(args.output, Path(args.output) / "report.html", lang=args.lang).summary())
        return status
    except UsageError as error:
        from drgdip.core.datasets import in_part_file

        print(f"drgdip {args.command}: error: {in_part_file(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
