"""``drgdip demo``: a small synthetic province under the bundled demo scheme, grouped, turned into
points and settled against its regional budgets.

Runs on a fresh machine with nothing but the package: the demo scheme ships in ``data/demo``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from drgdip.core.resources import demo_scheme_dir, policy_path
from drgdip.core.tables import write_table

DEMO_SCHEME = demo_scheme_dir()
DEMO_POLICY = policy_path("panzhihua_drg_day_care_2025")
DEMO_CASES = 20_000
DEMO_HOSPITALS = 20
DEMO_REGIONS = 4
DEMO_SEED = 20231
TOP_DRGS = 8
DEMO_REPORT = "drgdip-demo-report.html"


def build_demo_dip_directory(output_dir=None, *, scheme_dir: str | Path = DEMO_SCHEME):
    """The demo DIP directory (``data/demo/dip``), built the way a city builds its own: from the history
    years of the demo province (2023, 2024 weighted 3:7), core groups covering 95 % of the history's
    cases (domain §3.1), comprehensive groups by diagnosis prefix 3-2-1. So it covers the province
    ``drgdip demo`` settles: a rebuild is compared with the shipped files by the tests."""
    from drgdip.pointvalue.demo_dip import derive_proc_attributes, severity_from_cc
    from drgdip.pointvalue.dip_build import build_dip_directory
    from drgdip.pointvalue.rules import AuxTypingRules, Calibration, DipBuildRules
    from drgdip.synth import generate_province

    province = generate_province(scheme_dir, cases=DEMO_CASES, hospitals=DEMO_HOSPITALS, regions=DEMO_REGIONS,
                                 seed=DEMO_SEED)
    cases = province.cases
    history = cases[(cases["year"] < cases["year"].max()).to_numpy()].reset_index(drop=True)
    rules = DipBuildRules(core_threshold=15, core_coverage=0.95, comprehensive_fallback=(3, 2, 1),
                          comprehensive_min_cases=1,
                          aux=AuxTypingRules(aux_min_cases_group=100, aux_min_cases_sub=10, aux_trigger_cv_drop=0.05))
    directory = build_dip_directory(history, rules, calibration=Calibration(year_weights=(3, 7)),
                                    proc_attributes=derive_proc_attributes(scheme_dir),
                                    severity_dx=severity_from_cc(scheme_dir), name="demo")
    if output_dir is not None:
        directory.to_dir(output_dir)
    return directory


def register(subparsers) -> None:
    """Add the ``demo`` subcommand to the ``drgdip`` parser."""
    demo = subparsers.add_parser(
        "demo", help="synth -> group -> points -> settle on a small demo province",
        description="Generate a synthetic province (demo scheme, 20 hospitals, 4 regions, fixed seed), "
                    "group it, compute points and settle it under a policy; print the point values "
                    "and the hospitals gaining and losing most versus fee-for-service.")
    demo.add_argument("--cases", type=int, default=DEMO_CASES,
                      help=f"number of stays (default {DEMO_CASES})")
    demo.add_argument("--seed", type=int, default=DEMO_SEED, help=f"random seed (default {DEMO_SEED})")
    demo.add_argument("--policy", default=str(DEMO_POLICY),
                      help="settlement policy YAML (default: the Panzhihua-style DRG point policy)")
    demo.add_argument("--output", default=None,
                      help="also write the province, the grouped cases and the settlement tables here")
    demo.add_argument("--report", default=None, metavar="FILE",
                      help=f"where to write the HTML report (default: OUTPUT/report.html with --output, else "
                           f"{DEMO_REPORT} in the current folder)")
    demo.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    demo.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the report (default zh)")
    demo.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from drgdip.core.errors import UsageError

    if args.cases < 1:
        raise UsageError(f"--cases must be at least 1, got {args.cases}", field="cases")
    if args.seed < 0:
        raise UsageError(f"--seed must be non-negative, got {args.seed}", field="seed")
    report = None
    if not args.no_report:
        report = args.report or (Path(args.output) / "report.html" if args.output else Path(DEMO_REPORT))
    return run_demo(cases=args.cases, seed=args.seed, output=args.output, policy=args.policy, report=report,
                    lang=args.lang)


def run_demo(out=None, *, cases: int = DEMO_CASES, seed: int = DEMO_SEED,
             output: str | Path | None = None, scheme_dir: str | Path = DEMO_SCHEME,
             policy: str | Path | None = DEMO_POLICY, report: str | Path | None = None,
             lang: str = "zh") -> int:
    """Generate, group, point and settle a demo province; write it all to ``output`` if given, and
    the HTML report of the settlement to ``report`` if given.

    ``policy=None`` stops after grouping.
    """

    from drgdip.grouper import load_scheme
    from drgdip.synth import generate_province, write_province

    out = sys.stdout if out is None else out

    def say(text: str = "") -> None:
        print(text, file=out)

    scheme = load_scheme(scheme_dir)
    started = time.perf_counter()
    province = generate_province(scheme, cases=cases, hospitals=DEMO_HOSPITALS, regions=DEMO_REGIONS,
                                 seed=seed)
    generated = time.perf_counter() - started
    grouped = province.cases[["case_id", "status", "mdc", "adrg", "drg"]]   # grouped while generated

    c, h = province.cases, province.hospitals
    years = sorted(set(c["year"].tolist()))
    levels = h["level"].value_counts()
    remote = float((c["region"] != c["insured_region"]).mean()) if len(c) else 0.0
    say(f"drgdip demo: synthetic province under the demo scheme ({len(scheme.mdc_codes)} MDCs, "
        f"{len(scheme.adrg_codes)} ADRGs, {len(scheme.drg_codes)} DRGs), seed {seed}")
    say(f"  {len(c):,} cases {years[0]}-{years[-1]}, {len(h)} hospitals (level 3/2/1: "
        f"{levels.get(3, 0)}/{levels.get(2, 0)}/{levels.get(1, 0)}) in {h['region'].nunique()} regions, "
        f"{remote:.1%} in-province remote")
    care = c["care_type"].value_counts(normalize=True)
    say("  care types: " + ", ".join(f"{name} {share:.1%}" for name, share in care.items()))
    say(f"  total cost {c['total_cost'].sum() / 1e6:,.1f} M yuan, fund paid "
        f"{c['fund_paid'].sum() / 1e6:,.1f} M; {len(province.outpatient):,} outpatient visits; "
        f"generated in {generated:.2f} s")
    rate = len(grouped) / generated if generated > 0 else float("inf")
    ok = grouped["status"] == "ok"
    say(f"grouped {len(grouped):,} cases while generating them ({rate:,.0f} cases/s for both): "
        f"{grouped.loc[ok, 'drg'].nunique()} distinct DRGs")
    status = grouped["status"].value_counts()
    status = status[status > 0]
    say("  status: " + ", ".join(f"{name} {count:,}" for name, count in status.items()))
    names = dict(zip(scheme.tables["drg"]["drg"], scheme.tables["drg"]["name"]))
    top = grouped.loc[ok, "drg"].astype(str).value_counts().head(TOP_DRGS)
    say("  top DRGs:")
    for drg, count in top.items():
        say(f"    {drg:<6} {count:>7,}  {count / len(grouped):5.1%}  {names.get(drg, '')}")
    for note in province.info.get("notes", []):
        say(f"  note: {note}")
    settlement = None
    if policy is not None:
        from drgdip.budget import format_settlement_summary, load_policy, settle_province

        rules = load_policy(policy)
        started = time.perf_counter()
        # the stays carry their groups: settlement regroups only the stays day care merges
        settlement = settle_province(province, rules, scheme=scheme)
        say(f"settled {settlement.summary['year'].iloc[0]} under '{rules.name}' in "
            f"{time.perf_counter() - started:.2f} s:")
        say(format_settlement_summary(settlement, top=5))
    if output is not None:
        paths = write_province(province, output)
        write_table(grouped, Path(output) / "grouped.parquet")
        written = [p.name for p in paths.values()] + ["grouped.parquet"]
        if settlement is not None:
            from drgdip.budget import write_settlement

            write_settlement(settlement, Path(output) / "settlement")
            written.append("settlement/")
        say(f"wrote {', '.join(written)} to {output}")
    if report is not None and settlement is not None:
        say(f"report: {_write_report(settlement, output, report, lang).summary()}")
    return 0


def _write_report(settlement, output, report, lang: str):
    """The HTML report of the settlement, from its written tables (a scratch folder without ``output``)."""
    import tempfile

    from drgdip.budget import write_settlement
    from drgdip.report import write_report

    if output is not None:
        return write_report(Path(output) / "settlement", report, lang=lang)
    with tempfile.TemporaryDirectory(prefix="drgdip-demo-") as scratch:
        write_settlement(settlement, scratch, excel=False)
        return write_report(scratch, report, lang=lang, source="drgdip demo")
