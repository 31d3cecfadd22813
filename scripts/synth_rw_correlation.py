"""How closely synth's cost structure follows published weights: Spearman correlations per DRG.

Generates a province under a scheme (default: 1M stays, 100 hospitals, 16 regions, seed 1, default
``SynthParams``, the default cost model of ``drgdip synth``), takes the mean total cost of each DRG over
the stays grouped ``ok``, and prints its Spearman rank correlation with the RW each published city table
gives, over the DRGs both know; then the same correlation between the cities themselves, for
comparison. Run from the repository root::

    python scripts/synth_rw_correlation.py --scheme ../shared/chs-drg-1.1 \\
        --city 青岛2023=../shared/payment/青岛2023.csv:utf-8-sig \\
        --city 北京2022=../shared/payment/北京2022.csv:gb18030 \\
        --city 武汉2022=../shared/payment/武汉2022.csv:gb18030

Each ``--city NAME=FILE:ENCODING`` is a published table with the DRG code in column ``DRG编码`` and the
weight in column ``RW`` (the encoding is stated, not guessed).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

CODE_COLUMN, RW_COLUMN = "DRG编码", "RW"


def city_rw(spec: str) -> tuple[str, pd.Series]:
    """``NAME=FILE:ENCODING`` -> (name, RW per DRG code; groups without an RW left out)."""
    name, _, rest = spec.partition("=")
    path, _, encoding = rest.rpartition(":")
    frame = pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)
    rw = pd.to_numeric(frame[RW_COLUMN].str.strip(), errors="coerce")
    series = pd.Series(rw.to_numpy(), index=frame[CODE_COLUMN].str.strip().to_numpy(), name=name)
    return name, series[series > 0]


def mean_cost_per_drg(scheme_dir: str, cases: int, seed: int, **synth) -> tuple[pd.Series, pd.Series]:
    """Mean total cost per DRG over every stay grouped ok, and over the stays paid by DRG only (without
    TCM day care and oncology day-ward periods, priced per day / session, and psychiatric long stays,
    paid per bed-day: the stays at psychiatric hospitals)."""
    from drgdip.grouper import load_scheme
    from drgdip.synth import generate_province

    province = generate_province(load_scheme(scheme_dir), cases=cases, hospitals=100, regions=16, seed=seed,
                                 **synth)
    frame = province.cases
    ok = (frame["status"].astype(str) == "ok").to_numpy()
    hospitals = province.hospitals
    psychiatric = hospitals.loc[hospitals["hospital_type"] == "psychiatric", "hospital_id"]
    by_drg = (~frame["care_type"].isin(["tcm_day", "day_ward"]) & ~frame["hospital_id"].isin(psychiatric)).to_numpy()

    def mean(rows):
        return frame.loc[rows].groupby(frame.loc[rows, "drg"].astype(str))["total_cost"].mean()

    return mean(ok), mean(ok & by_drg)


def spearman(a: pd.Series, b: pd.Series) -> tuple[float, int]:
    common = a.index.intersection(b.index)
    return float(a[common].corr(b[common], method="spearman")), len(common)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scheme", required=True, help="scheme folder")
    parser.add_argument("--city", action="append", required=True, metavar="NAME=FILE:ENCODING")
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--weights", default=None,
                        help="weight table for synth (default: synth's default for the scheme; "
                             "'none' = synth's own model)")
    args = parser.parse_args(argv)
    cities = dict(city_rw(spec) for spec in args.city)
    started = time.perf_counter()
    synth = {} if args.weights is None else {"weights": None if args.weights == "none" else args.weights}
    every_stay, paid_by_drg = mean_cost_per_drg(args.scheme, args.cases, args.seed, **synth)
    scheme_drgs = pd.read_csv(f"{args.scheme}/drg.csv", dtype=str, keep_default_na=False)["drg"]
    print(f"synth: {args.cases:,} stays, {len(every_stay)} of {len(scheme_drgs)} DRGs occur "
          f"({time.perf_counter() - started:.1f} s)")
    print("| Spearman (DRGs in common) | " + " | ".join(cities) + " |")
    print("|---|" + "---:|" * len(cities))
    for label, means in (("synth mean cost per DRG, every stay", every_stay),
                         ("synth mean cost per DRG, stays paid by DRG", paid_by_drg)):
        row = [f"{r:.3f} ({n})" for r, n in (spearman(means, rw) for rw in cities.values())]
        print(f"| {label} | " + " | ".join(row) + " |")
    for name, rw in cities.items():
        in_scheme = rw[rw.index.isin(scheme_drgs)]
        row = [f"{r:.3f} ({n})" if other != name else "-"
               for other, (r, n) in ((o, spearman(in_scheme, x)) for o, x in cities.items())]
        print(f"| {name} RW (scheme DRGs) | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
