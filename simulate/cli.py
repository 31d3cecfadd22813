"""``drgdip simulate``: scenarios, sweeps and Monte Carlo over a province, one exact settlement each."""

from __future__ import annotations

import sys
import time

from drgdip.budget.province_options import add_province_options, province_options
from drgdip.core.cluster import add_cluster_arguments, cluster_spec

__all__ = ["register", "run_simulate"]


def register(subparsers) -> None:
    """Add ``simulate`` to the ``drgdip`` parser."""
    parser = subparsers.add_parser(
        "simulate", help="what-if scenarios, sweeps and Monte Carlo over a base policy",
        description="Prepare the province once (read, check, day care, grouping), then settle the base policy "
                    "(scenario 'baseline'), every scenario and sweep value of the scenario file and every Monte "
                    "Carlo draw; writes the scenarios, hospitals and Monte Carlo tables.")
    parser.add_argument("--policy", required=True, help="base policy YAML (see data/policies/)")
    parser.add_argument("--scenarios", required=True, help="scenario file YAML (see data/scenarios/)")
    add_province_options(parser)
    parser.add_argument("--output", required=True, help="output directory")
    parser.add_argument("--format", choices=("parquet", "csv"), default="csv", help="table format (default csv)")
    parser.add_argument("--write-draw", type=int, metavar="K",
                        help="also write Monte Carlo draw K's province and policy (DIR/draw-K), to settle with "
                             "drgdip settle and compare")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--report", action="store_true",
                        help="also write the HTML report of the scenarios (OUTPUT/report.html)")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the report (default zh)")
    add_cluster_arguments(parser)
    parser.set_defaults(func=run_simulate)


def run_simulate(args, out=None) -> int:
    """Run ``drgdip simulate``; returns the exit status."""
    out = out if out is not None else sys.stdout
    from pathlib import Path

    from drgdip.budget.pipeline import prepare_province
    from drgdip.budget.policy import load_policy
    from drgdip.core.errors import ConfigError, UsageError
    from drgdip.simulate.engine import simulate
    from drgdip.simulate.output import format_simulation_summary, write_draw, write_simulation
    from drgdip.simulate.scenarios import load_scenarios

    started = time.perf_counter()
    spec_of_cluster = cluster_spec(args)
    policy = load_policy(args.policy)
    spec = load_scenarios(args.scenarios, policy)
    if args.write_draw is not None:
        if spec.monte_carlo is None:
            raise UsageError("--write-draw needs a monte_carlo section in the scenario file", file=args.scenarios,
                             field="monte_carlo")
        if not 0 <= args.write_draw < spec.monte_carlo.draws:
            raise UsageError(f"--write-draw {args.write_draw}: the Monte Carlo has draws 0 to "
                             f"{spec.monte_carlo.draws - 1}", field="write-draw")
    prepared = prepare_province(args.input, policy, **province_options(args))
    progress = None if args.no_progress else _ProgressBar()
    try:
        with _client(args.engine, spec_of_cluster) as client:
            result = simulate(prepared, policy, scenarios=spec.scenarios, sweeps=spec.sweeps,
                              monte_carlo=spec.monte_carlo, progress=progress, client=client)
    except ConfigError as error:   # a drawn value outside its key's range
        raise (error.with_file(args.scenarios) if error.file is None else error) from None
    finally:
        if progress is not None:
            progress.close()
    paths = write_simulation(result, args.output, fmt=args.format)
    if args.write_draw is not None:
        paths += write_draw(prepared, policy, spec.monte_carlo, args.write_draw,
                            Path(args.output) / f"draw-{args.write_draw}")
    print(format_simulation_summary(result), file=out)
    print(f"simulated {len(result.scenarios):,} scenarios"
          + (f" and {spec.monte_carlo.draws:,} Monte Carlo draws" if spec.monte_carlo else "")
          + f" of {len(prepared.current):,} stays in {time.perf_counter() - started:.1f} s; "
            f"wrote {len(paths)} files to {args.output}", file=out)
    return 0


def _client(engine: str, spec):
    """The Dask client of ``--engine dask`` (its workers settle the scenarios and draws), else None."""
    from contextlib import nullcontext

    if engine != "dask":
        return nullcontext(None)
    from drgdip.core.cluster import dask_client

    return dask_client(spec)


class _ProgressBar:
    """A progress bar on standard error (tqdm), shown only for runs of more than a few settlements."""

    def __init__(self):
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="settlement", file=sys.stderr, disable=total < 5, leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
