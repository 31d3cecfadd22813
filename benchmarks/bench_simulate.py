"""Scenarios and Monte Carlo over a prepared province: time per scenario kind and per draw.

As a pytest-benchmark (``pytest benchmarks/bench_simulate.py --benchmark-only``): a synthetic province of
``DRGDIP_BENCH_STAYS`` stays (default 1M over 3 years) under the national scheme, prepared once; then
a budget scenario (points kept), a coefficient scenario (the kept points priced again), outlier-rule
and weights scenarios (points computed again), Monte Carlo draws of budget keys and draws with case-mix
perturbations.

As a script (the numbers in ``benchmarks/README.md``)::

    python benchmarks/bench_simulate.py --dir province-20m --draws 3

times ``prepare_province`` and each kind of settlement on a province ``bench_province.py`` wrote.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run as a script as well as by pytest
from benchmarks.bench_province import POLICY, STAYS, synthesize  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MONTE_CARLO = {"draws": 3, "seed": 20251, "vary": {
    "budget.growth_rate": {"dist": "normal", "params": {"mean": 0.02, "sd": 0.005}},
    "volume_growth": {"dist": "lognormal", "params": {"mean": 0.05, "sd": 0.03}, "per": "hospital"},
    "coding_upshift": {"dist": "uniform", "params": {"low": 0.0, "high": 0.05}, "per": "hospital"}}}


BUDGET_MONTE_CARLO = {"draws": 20, "seed": 20251, "vary": {
    "budget.growth_rate": {"dist": "normal", "params": {"mean": 0.04, "sd": 0.01}},
    "budget.reserve_share": {"dist": "uniform", "params": {"low": 0.0, "high": 0.05}}}}


def scenarios():
    from drgdip.simulate import MonteCarlo, Scenario

    return {"budget": Scenario("tight_budget", {"budget.growth_rate": 0.02, "budget.reserve_share": 0.03}),
            "budget_monte_carlo": MonteCarlo(**BUDGET_MONTE_CARLO),
            "coefficient": Scenario("level3_up", {"points.hospital_coef.by_level.3": 1.10}),
            "outlier": Scenario("low_bound_up", {"points.outliers.drg_low_ratio": 0.5}),
            "weights": Scenario("trim_iqr", {"points.calibration.trim.method": "iqr"}),
            "monte_carlo": MonteCarlo(**MONTE_CARLO)}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    from drgdip.budget import load_policy
    from drgdip.simulate import prepare_province, settle

    directory = tmp_path_factory.mktemp("province")
    synthesize(directory, STAYS, hospitals=max(20, STAYS // 20_000), regions=8)
    policy = load_policy(POLICY)
    province = prepare_province(directory, policy)
    settle(province, policy, input_columns=False, per_stay=False)   # compiles; the baseline's points are kept
    return province, policy


@pytest.mark.parametrize("kind", ["budget", "coefficient", "outlier", "weights"])
def test_scenario(benchmark, prepared, kind):
    from drgdip.simulate import simulate

    province, policy = prepared
    result = benchmark.pedantic(simulate, args=(province, policy), kwargs={"scenarios": [scenarios()[kind]]},
                                rounds=1, iterations=1)
    assert len(result.scenarios) == 2


@pytest.mark.parametrize("kind", ["budget_monte_carlo", "monte_carlo"])
def test_monte_carlo_draws(benchmark, prepared, kind):
    from drgdip.simulate import simulate

    province, policy = prepared
    monte_carlo = scenarios()[kind]
    result = benchmark.pedantic(simulate, args=(province, policy), kwargs={"monte_carlo": monte_carlo},
                                rounds=1, iterations=1)
    benchmark.extra_info["seconds_per_draw"] = benchmark.stats.stats.mean / monte_carlo.draws
    assert len(result.monte_carlo_pools)



@pytest.mark.parametrize("step", ["perturb", "settle"])
def test_case_mix_draw_steps(benchmark, prepared, step):
    """The two halves of a case-mix draw: what it changes (no frame), and its settlement from the parent's sums."""
    from drgdip.budget.drawn import settle_drawn_rows
    from drgdip.simulate import MonteCarlo
    from drgdip.simulate.casemix import perturbed_rows, rewritten_stays
    from drgdip.simulate.settlements import DrawUnits, _drawn

    province, policy = prepared
    monte_carlo = MonteCarlo(**MONTE_CARLO)
    units = DrawUnits.of(province)

    def rows_of(draw):
        drawn_policy, perturbation = _drawn(province, policy, monte_carlo, draw, units)
        return drawn_policy, perturbed_rows(province.current, lookups=units.lookups, **perturbation)

    rows_of(0)   # the lookups of the settlement year's rows, once
    if step == "perturb":
        benchmark.pedantic(rows_of, args=(1,), rounds=3, iterations=1)
        return
    drawn_policy, rows = rows_of(1)
    _, stays = rewritten_stays(province.current, rows)
    result = benchmark.pedantic(settle_drawn_rows, args=(province, drawn_policy, rows.copied, rows.removed,
                                                         rows.rewritten_rows, stays),
                                rounds=3, iterations=1)
    assert result is not None

def main() -> None:
    from drgdip.budget import load_policy
    from drgdip.simulate import draw_province, prepare_province, settle
    from drgdip.simulate.scenarios import apply_overrides
    from drgdip.simulate.settlements import DrawUnits, draw_outcome

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="province directory (bench_province.py writes one)")
    parser.add_argument("--policy", default=str(POLICY))
    parser.add_argument("--draws", type=int, default=3)
    args = parser.parse_args()
    policy = load_policy(args.policy)

    def timed(label, function):
        started = time.perf_counter()
        value = function()
        print(f"{label:<60} {time.perf_counter() - started:8.1f} s")
        return value

    province = timed("prepare_province", lambda: prepare_province(args.dir, policy))
    print(f"  {len(province.current):,} stays in the settlement year, "
          f"{0 if province.past is None else len(province.past):,} in the history")
    timed("baseline (weights, points of both years, settlement)",
          lambda: settle(province, policy, input_columns=False, per_stay=False))
    kinds = scenarios()
    timed("budget scenario (points kept)",
          lambda: settle(province, kinds["budget"].apply(policy), input_columns=False, per_stay=False))
    coefficient = apply_overrides(policy, kinds["coefficient"].overrides)
    timed("coefficient scenario (points of both years again)",
          lambda: settle(province, coefficient, input_columns=False, per_stay=False))
    outlier = apply_overrides(policy, kinds["outlier"].overrides)
    timed("outlier-rule scenario (low bound 0.4 -> 0.5; points of both years again)",
          lambda: settle(province, outlier, input_columns=False, per_stay=False))
    weights = apply_overrides(policy, kinds["weights"].overrides)
    timed("weights scenario (trimmed by IQR; weights calibrated, points again)",
          lambda: settle(province, weights, input_columns=False, per_stay=False))
    from drgdip.simulate import simulate
    budget_draws = kinds["budget_monte_carlo"]
    simulate(province, policy, monte_carlo=replace(budget_draws, draws=1))   # the draw units, once
    started = time.perf_counter()
    simulate(province, policy, monte_carlo=budget_draws)
    print(f"{'Monte Carlo of budget keys, per draw':<60} {(time.perf_counter() - started) / budget_draws.draws:8.3f} s")
    monte_carlo = kinds["monte_carlo"]
    units = DrawUnits.of(province)
    for draw in range(min(args.draws, monte_carlo.draws)):
        timed(f"Monte Carlo draw {draw}: settled from the parent's sums",
              lambda: draw_outcome(province, policy, monte_carlo, draw, units))
    for draw in range(min(args.draws, monte_carlo.draws)):
        drawn, drawn_policy = timed(f"Monte Carlo draw {draw}: drawn province made", lambda: draw_province(
            province, policy, monte_carlo, draw, units))
        timed(f"Monte Carlo draw {draw}: drawn province settled whole",
              lambda: settle(drawn, drawn_policy, input_columns=False, per_stay=False))


if __name__ == "__main__":
    main()
