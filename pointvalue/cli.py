"""``drgdip calibrate``, ``drgdip points``, ``drgdip price``, ``drgdip dip-build`` and ``drgdip dip-explain``."""

from __future__ import annotations

import argparse
import sys


from drgdip.core.atomic import atomic_open
from drgdip.core.config import read_yaml
from drgdip.core.errors import ConfigError, UsageError
from drgdip.core.tables import read_table, row_in_file, write_table
from drgdip.pointvalue.rules import PointsPolicy, points_policy_from_mapping


def register(subparsers) -> None:
    """Add this stage's subcommands to the ``drgdip`` parser."""
    calibrate = subparsers.add_parser(
        "calibrate", help="compute group weights / scores from settled history",
        description="Year-weighted, trimmed mean cost per DRG or DIP group -> RW and base points (or scores), "
                    "with CV per group and RIV (domain.md §2, §3.4). Writes one row per group.")
    calibrate.add_argument("--history", required=True, help="history cases (.csv / .parquet): group column, "
                                                            "year, total_cost[, hospital_level]")
    calibrate.add_argument("--output", required=True, help="weight table, .csv or .parquet")
    calibrate.add_argument("--policy", help="policy YAML (its points: block, or a points policy)")
    calibrate.add_argument("--scheme", choices=("drg_points", "drg_rate", "dip"),
                           help="payment scheme when no policy is given (default drg_points)")
    calibrate.add_argument("--group-col", help="group column (default drg, or dip_group for DIP)")
    calibrate.add_argument("--level-coefs", metavar="FILE.yaml",
                           help="also write the level coefficients from the history's mean costs (§4.2) as a "
                                "hospital_coef block: by_level, and by_group_level for the groups with a big "
                                "level gap, enough cases and no inversion (history needs hospital_level)")
    calibrate.add_argument("--level-coef-min-cases", type=int, default=30,
                           help="cases a level needs in a group for its group coefficient (default 30)")
    calibrate.add_argument("--level-coef-min-gap", type=float, default=0.10,
                           help="least spread of a group's level coefficients (default 0.10)")
    calibrate.set_defaults(func=run_calibrate)

    points = subparsers.add_parser(
        "points", help="turn grouped cases into points with the full per-case breakdown",
        description="Base points, cost ratio, outlier class, each coefficient and final points of every case "
                    "(domain.md §4, §5, §9). One output row per input row, in input order.")
    points.add_argument("--input", required=True,
                        help="grouped cases (.csv / .parquet, or a directory of Parquet files)")
    source = points.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", help="weight / point table (.csv / .parquet) from calibrate or published")
    source.add_argument("--dip", help="DIP directory (scores, basic groups)")
    points.add_argument("--policy", required=True, help="policy YAML (its points: block, or a points policy)")
    points.add_argument("--output", required=True, help="per-case breakdown, .csv or .parquet")
    points.add_argument("--point-value", type=float, help="budget point value (needed for the 'standard' "
                                                          "outlier reference)")
    points.add_argument("--approved", help="special-review approval list (.csv: case_id[, approved_points])")
    points.add_argument("--group-col", help="group column (default drg, or dip_group for DIP)")
    points.set_defaults(func=run_points)

    price = subparsers.add_parser(
        "price", help="price stays with a city's published DRG table (payment standard or RW x rate x coef)",
        description="The published price of each stay: the payment standard of its DRG at its hospital tier "
                    "and insurance type, or RW x base rate x level coefficient, or standard score x level "
                    "coefficient, as the city publishes its table (the policy's points.published_table). One "
                    "output row per input row, with the reason where a stay cannot be priced.")
    price.add_argument("--input", required=True,
                       help="cases (.csv / .parquet or a directory of Parquet files): drg (or dx/proc/... with "
                            "--scheme), hospital_level[, insurance_type, hospital_id]")
    table = price.add_mutually_exclusive_group(required=True)
    table.add_argument("--policy", help="policy YAML naming the table (points.published_table)")
    table.add_argument("--table", help="built-in table name (e.g. qingdao-2023) or a published CSV, priced "
                                       "by the table alone")
    price.add_argument("--scheme", help="scheme directory to group the stays with first (when they carry no drg)")
    price.add_argument("--output", required=True, help="per-stay prices, .csv or .parquet")
    price.add_argument("--group-col", default="drg", help="group column (default drg)")
    price.set_defaults(func=run_price)

    build = subparsers.add_parser(
        "dip-build", help="derive a DIP directory from settled history",
        description="Core groups by principal-diagnosis subcategory + main procedure (+ related procedures), "
                    "comprehensive groups by diagnosis prefix x procedure class, basic groups, auxiliary typing "
                    "and scores from weighted mean costs (domain.md §3).")
    build.add_argument("--history", required=True, help="history cases (.csv / .parquet): dx, proc, year, "
                                                        "total_cost[, los, age, age_days, birth_weight, "
                                                        "leaving_type, icu_hours, drug_cost, treatment_cost, "
                                                        "hospital_level]")
    build.add_argument("--proc-attributes", required=True, help="proc,attribute table (.csv)")
    build.add_argument("--severity-dx", help="dx,severity table for the severity subtypes (.csv)")
    build.add_argument("--policy", help="policy YAML (its points: block: dip, calibration, points_scale)")
    build.add_argument("--name", default="dip", help="directory name written to meta.yaml")
    build.add_argument("--output", required=True, help="output folder")
    build.set_defaults(func=run_dip_build)

    explain = subparsers.add_parser(
        "dip-explain", help="show why one case gets its DIP group",
        description="Trace the DIP matching of one case: principal diagnosis, main procedure and class, each "
                    "core group tried and its related procedures, the comprehensive fallbacks, the auxiliary "
                    "subtypes.")
    explain.add_argument("--dip", required=True, help="DIP directory")
    explain.add_argument("--case", required=True, help='the case as "dx=K35.800|E11.900; proc=47.0100; los=5" '
                                                       'or as a JSON object')
    explain.add_argument("--json", action="store_true", help="print the structured trace as JSON")
    explain.set_defaults(func=run_dip_explain)


def load_points_policy(path: str | None, scheme: str | None = None) -> PointsPolicy:
    """The points policy of a YAML file (``points:`` block or the whole file); default for ``scheme``."""
    if path is None:
        return PointsPolicy(scheme=scheme or "drg_points")
    data = read_yaml(path, what="policy")
    if not isinstance(data, dict):
        raise UsageError("the policy must be a mapping", file=path)
    block = data.get("points", data)
    try:
        return points_policy_from_mapping(block, "points")
    except ConfigError as error:
        raise error.with_file(path) from None


def run_calibrate(args: argparse.Namespace) -> int:
    from drgdip.pointvalue.weights import GroupWeights

    policy = load_points_policy(args.policy, args.scheme)
    overrides = {"group_col": args.group_col} if args.group_col else {}
    fitted = GroupWeights.from_policy(policy, **overrides).fit(args.history)
    table = fitted.weight_table().frame
    write_table(table, args.output)
    quality = fitted.quality(policy.calibration.cv_max_drg, policy.calibration.riv_min)
    print(f"{quality['n_groups']} groups from {fitted.n_cases_used_} cases of {', '.join(map(str, fitted.years_))}; "
          f"all-case mean {fitted.all_case_mean_:,.2f}; RIV {fitted.riv_:.3f} "
          f"({'meets' if quality['riv_ok'] else 'below'} {policy.calibration.riv_min:g}); "
          f"groups with CV < {policy.calibration.cv_max_drg:g}: {quality['n_groups_cv_ok']}")
    if fitted.n_ungrouped_:
        print(f"{fitted.n_ungrouped_} history rows without a group were not used")
    if args.level_coefs:
        _write_level_coefs(args, policy, fitted.group_col)
    return 0


def _write_level_coefs(args: argparse.Namespace, policy, group_col: str) -> None:
    """The ``hospital_coef`` block of a policy, from the history's level means (§4.2)."""
    import yaml

    from drgdip.pointvalue.coefs import group_level_coefs, hospital_level_coefs

    calibration = policy.calibration
    by_level = hospital_level_coefs(args.history, calibration.year_weights, calibration.year_weight_mode)
    by_group_level = group_level_coefs(args.history, group_col=group_col, year_weights=calibration.year_weights,
                                       year_weight_mode=calibration.year_weight_mode,
                                       min_cases=args.level_coef_min_cases, min_gap=args.level_coef_min_gap)
    block = {"hospital_coef": {
        "by_level": {level: round(coef, 4) for level, coef in by_level.items()},
        "by_group_level": {group: {level: round(coef, 4) for level, coef in levels.items()}
                           for group, levels in by_group_level.items()}}}
    with atomic_open(args.level_coefs) as out:
        out.write("# level coefficients from the history's year-weighted mean costs (domain §4.2); "
                  "paste under points:\n")
        yaml.safe_dump(block, out, sort_keys=False, allow_unicode=True)
    print(f"level coefficients: {len(by_level)} levels, {len(by_group_level)} groups with their own "
          f"-> {args.level_coefs}")


def run_points(args: argparse.Namespace) -> int:
    import numpy as np

    from drgdip.pointvalue.points import case_points, unknown_groups
    from drgdip.pointvalue.published import WeightsFile
    from drgdip.pointvalue.weights import WeightTable

    policy = load_points_policy(args.policy)
    if args.dip:
        from drgdip.grouper.dip_directory import load_dip_directory
        weights = WeightTable.from_dip_directory(load_dip_directory(args.dip))
    else:
        weights = WeightsFile(args.weights).load(points_scale=policy.points_scale)
    approved = None
    if args.approved:
        approved = read_table(args.approved, what="approval list", required=("case_id",))
    out = case_points(args.input, weights, policy, point_value=args.point_value, group_col=args.group_col,
                      approved=approved)
    write_table(out, args.output)
    counts = out["outlier_class"].value_counts()
    group_col = args.group_col or ("dip_group" if policy.is_dip else "drg")
    groups = read_table(args.input, what="cases", columns=(group_col, "status", "dip_type"), text=(group_col,))
    unknown, said = unknown_groups(groups, weights, group_col=group_col, is_dip=policy.is_dip)
    if said:
        rows = np.flatnonzero(unknown)
        file, first = row_in_file(args.input, int(rows[0]))
        print(f"drgdip points: warning: {said} (first: {file}, row {first})", file=sys.stderr)
    print(f"{len(out)} cases, {out['final_points'].sum():,.2f} points; "
          + ", ".join(f"{name} {int(counts.get(name, 0))}" for name in counts.index if counts.get(name, 0))
          + (f"; unknown group {int(unknown.sum())}" if said else ""))
    return 0


def run_price(args: argparse.Namespace) -> int:
    from drgdip.pointvalue.published import UNPRICED_REASONS, read_published_table, table_beside
    from drgdip.pointvalue.rules import PublishedTableRules

    if args.policy:
        rules = load_points_policy(args.policy).published_table
        if rules.table is None:
            raise UsageError("the policy names no published table (points.published_table.table)", file=args.policy)
        source = table_beside(rules.table, args.policy)
    else:
        rules, source = PublishedTableRules(), args.table
    table = read_published_table(source)
    cases = read_table(args.input, what="cases", text=(args.group_col,))
    if args.scheme and args.group_col not in cases.columns:
        from drgdip.grouper import group_cases, load_scheme

        grouped = group_cases(cases, load_scheme(args.scheme))
        cases = cases.assign(**{args.group_col: grouped["drg"].to_numpy()})
    prices = table.price(cases, rules, group_col=args.group_col)
    if "case_id" in cases.columns:
        prices.insert(0, "case_id", cases["case_id"].to_numpy())
    write_table(prices, args.output)
    priced = prices["unpriced_reason"] == ""
    counts = prices["unpriced_reason"].value_counts()
    reasons = [f"{name} {int(counts[name]):,}" for name in UNPRICED_REASONS if name and counts.get(name, 0)]
    print(f"{table.name}: {int(priced.sum()):,} of {len(prices):,} stays priced, {prices['price'].sum():,.2f} yuan"
          + ("; not priced: " + ", ".join(reasons) if reasons else ""))
    for note in table.notes:
        print(f"drgdip price: note: {table.name}: {note}", file=sys.stderr)
    return 0


def run_dip_build(args: argparse.Namespace) -> int:
    from drgdip.pointvalue.dip_build import build_dip_directory

    policy = load_points_policy(args.policy, "dip")
    notes: list[str] = []
    directory = build_dip_directory(args.history, policy, proc_attributes=args.proc_attributes,
                                    severity_dx=args.severity_dx, name=args.name, notes=notes)
    directory.to_dir(args.output)
    for note in notes:
        print(f"drgdip dip-build: warning: {note}", file=sys.stderr)
    print(directory)
    return 0


def run_dip_explain(args: argparse.Namespace) -> int:
    import json

    from drgdip.grouper.case_text import parse_case_text
    from drgdip.grouper.dip_trace import explain_dip

    trace = explain_dip(parse_case_text(args.case), args.dip)
    print(json.dumps(trace.to_dict(), ensure_ascii=False, indent=2, default=float) if args.json else trace.to_text())
    return 0
