"""``drgdip synth``: write a synthetic province (cases, hospitals, outpatient visits, day-ward visits)."""

from __future__ import annotations

import argparse
import sys
import time

from drgdip.core.errors import UsageError


def register(subparsers) -> None:
    """Add the ``synth`` subcommand to the ``drgdip`` parser."""
    parser = subparsers.add_parser(
        "synth", help="generate a synthetic province (multi-year cases, hospitals, outpatient visits)",
        description="Generate a synthetic province whose cases group under the given scheme and "
                    "write cases, hospitals, outpatient and day_ward_visits tables plus province.json.")
    parser.add_argument("--scheme", required=True,
                        help="grouping scheme: a built-in version (drgdip schemes lists them) or a scheme directory")
    parser.add_argument("--cases", type=int, default=100_000, help="number of stays (default 100000)")
    parser.add_argument("--years", default="2023,2024,2025",
                        help="comma-separated settlement years (default 2023,2024,2025)")
    parser.add_argument("--hospitals", type=int, default=20, help="number of hospitals (default 20)")
    parser.add_argument("--regions", default="4",
                        help="number of regions, or comma-separated 6-digit region codes (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--output", required=True, help="output directory")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                        help="table format (default parquet)")
    parser.add_argument("--partition-rows", type=int, default=None, metavar="N",
                        help="write the cases as a directory of Parquet part files of at most N rows, one "
                             "directory per year (cases/year=2025/part-00000.parquet); read back they are the "
                             "rows of the single cases file, in the same order")
    parser.add_argument("--params", default=None,
                        help="YAML file of SynthParams fields to change (e.g. remote_share: 0.18)")
    parser.add_argument("--weights", default="auto", metavar="FILE|NAME|auto|none",
                        help="weight table that group costs follow: a DRG's level-2 mean cost is RW x base rate; "
                             "an engine table (group, rw, ...), a city's table as published or its built-in name "
                             "(qingdao-2023, ...); 'auto' (default) = the table shipped for the scheme if any "
                             "(CHS-DRG 1.1 has one), 'none' = synth's own ADRG cost model")
    parser.add_argument("--base-rate", type=float, default=None, metavar="YUAN",
                        help="base rate for --weights (yuan per RW at a level-2 hospital in the first year; "
                             "default the base_rate parameter, 9000)")
    parser.set_defaults(func=run_synth)


def _years(text: str) -> tuple[int, ...]:
    try:
        years = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"--years must be comma-separated years, got {text!r}", field="years") from None
    if not years:
        raise UsageError("--years is empty", field="years")
    return years


def _regions(text: str):
    text = text.strip()
    if text.isdigit() and len(text) < 6:
        return int(text)
    return [part.strip() for part in text.split(",") if part.strip()]


def _params(path: str | None):
    from drgdip.core.config import read_yaml
    from drgdip.synth.params import SynthParams

    if path is None:
        return SynthParams()
    mapping = read_yaml(path, what="parameter")
    return SynthParams.from_mapping(mapping, file=path)


def _weights(text: str):
    return None if text == "none" else text


def run_synth(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from drgdip.grouper import SchemeError, load_scheme
    from drgdip.core.timing import StageClock
    from drgdip.synth.group_costs import AUTO, shipped_table_for
    from drgdip.synth.output import write_synthetic_province
    from drgdip.synth.province import SyntheticProvince

    years = _years(args.years)
    params = _params(args.params)
    weights = _weights(args.weights)
    if args.base_rate is not None:
        if weights is None:
            raise UsageError("--base-rate needs a weight table (--weights FILE or auto)", field="base_rate")
        if not args.base_rate > 0:
            raise UsageError(f"--base-rate must be positive, got {args.base_rate:g}", field="base_rate")
        params = replace(params, base_rate=args.base_rate)
    if args.partition_rows is not None and args.partition_rows < 1:
        raise UsageError(f"--partition-rows must be at least 1, got {args.partition_rows}", field="partition-rows")
    if args.partition_rows is not None and args.format != "parquet":
        raise UsageError("--partition-rows writes Parquet part files: use --format parquet", field="partition-rows")
    try:
        scheme = load_scheme(args.scheme)
    except SchemeError as error:
        raise UsageError(str(error), file=args.scheme) from None
    if args.base_rate is not None and weights == AUTO and shipped_table_for(scheme.drg_codes) is None:
        raise UsageError(f"--base-rate needs a weight table: no table is shipped for the scheme {args.scheme}; "
                         "pass --weights FILE", field="base_rate")
    started = time.perf_counter()
    clock = StageClock(progress=sys.stderr if sys.stderr.isatty() else None, command="drgdip synth")
    try:
        with clock.stage(f"generating, grouping and writing {args.cases:,} stays"):
            province = SyntheticProvince(scheme, cases=args.cases, years=years, hospitals=args.hospitals,
                                         regions=_regions(args.regions), seed=args.seed, params=params,
                                         weights=weights)
            written = write_synthetic_province(province, args.output, format=args.format,
                                               partition_rows=args.partition_rows)
    except ValueError as error:
        raise UsageError(str(error)) from None
    finally:
        clock.done()
    elapsed = time.perf_counter() - started
    info = written.info
    remote = written.remote / written.cases if written.cases else 0.0
    print(f"synth: {written.cases:,} cases ({', '.join(str(y) for y in years)}), "
          f"{written.hospitals} hospitals in {len(info['regions'])} regions, "
          f"{written.outpatient:,} outpatient visits, {written.day_ward_visits:,} "
          f"day-ward visits; {remote:.1%} in-province remote; {elapsed:.1f} s "
          f"-> {written.paths['info'].parent}")
    costs = info.get("costs", {})
    if costs.get("model") == "weights":
        print(f"synth: group costs follow {costs['weights']} at base rate {costs['base_rate']:g} yuan")
    for note in info.get("notes", []):
        print(f"synth: note: {note}", file=sys.stderr)
    return 0
