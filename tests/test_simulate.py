"""``drgdip simulate``: every scenario and draw is an exact settlement, reproducible to the byte."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgdip.budget import load_policy, settle_province
from drgdip.cli import main
from drgdip.core.province import write_province
from drgdip.simulate import (MonteCarlo, Scenario, Sweep, apply_overrides, draw_province, load_scenarios,
                             prepare_province, settle, simulate, write_draw, write_simulation)
from drgdip.synth import generate_province

REPO = Path(__file__).resolve().parents[1]
DEMO_SCHEME = REPO / "data" / "demo" / "scheme"
DEMO_DIP = REPO / "data" / "demo" / "dip"
POLICIES = REPO / "data" / "policies"
SCENARIOS = REPO / "data" / "scenarios"
BASE = POLICIES / "remote_pool_province_2025.yaml"


def fen(values) -> np.ndarray:
    return np.rint(np.asarray(values, dtype=np.float64) * 100).astype(np.int64)


@pytest.fixture(scope="module")
def province_dir(tmp_path_factory):
    province = generate_province(DEMO_SCHEME, cases=4_000, hospitals=10, regions=3, seed=77)
    directory = tmp_path_factory.mktemp("simulate_province")
    write_province(province, directory)
    return directory


@pytest.fixture(scope="module")
def prepared(province_dir):
    return prepare_province(province_dir, load_policy(BASE))


def payments(settlement) -> pd.Series:
    table = settlement.hospitals
    return pd.Series(fen(table["final_payment"]), index=pd.MultiIndex.from_arrays(
        [table["area"].astype(str), table["hospital_id"].astype(str)]))


def scenario_payments(result, name: str) -> pd.Series:
    rows = result.hospitals[result.hospitals["scenario"] == name]
    return pd.Series(fen(rows["final_payment"]), index=pd.MultiIndex.from_arrays(
        [rows["area"].astype(str), rows["hospital_id"].astype(str)]))


def test_the_baseline_is_drgdip_settle(province_dir, prepared):
    policy = load_policy(BASE)
    result = simulate(prepared, policy)
    expected = payments(settle_province(province_dir, policy))
    assert scenario_payments(result, "baseline").reindex(expected.index).tolist() == expected.tolist()
    assert result.scenarios["scenario"].tolist() == ["baseline"]
    assert result.hospitals["change"].abs().max() == 0
    assert result.monte_carlo_hospitals.empty


# key kinds: a budget number, a coefficient in a mapping (new key), a band inside a list, a choice, a
# remote coefficient, an outlier bound (points computed again per stay)
KEY_VALUES = {
    "budget.growth_rate": st.floats(-0.05, 0.15),
    "budget.reserve_share": st.floats(0.0, 0.2),
    "points.hospital_coef.by_level.3": st.floats(0.8, 1.3),
    "points.hospital_coef.by_level.1": st.floats(0.6, 1.1),
    "settlement.surplus.bands.0.keep_share": st.floats(0.0, 1.0),
    "point_value.basis": st.sampled_from(["total_cost", "patient_share", "fund_only"]),
    "points.remote.remote_coef": st.floats(0.8, 1.1),
    "points.outliers.low_ratio": st.floats(0.3, 0.6),
    "remote_pool.pool": st.sampled_from(["common", "separate"]),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_scenario_equals_a_settle_with_the_changed_policy(province_dir, prepared, data):
    keys = data.draw(st.lists(st.sampled_from(sorted(KEY_VALUES)), min_size=1, max_size=3, unique=True))
    overrides = {key: data.draw(KEY_VALUES[key], label=key) for key in keys}
    base = load_policy(BASE)
    result = simulate(prepared, base, scenarios=[Scenario("changed", overrides)])
    expected = payments(settle_province(province_dir, apply_overrides(base, overrides)))
    assert scenario_payments(result, "changed").reindex(expected.index).tolist() == expected.tolist()
    changed = result.hospitals[result.hospitals["scenario"] == "changed"]
    baseline = scenario_payments(result, "baseline").reindex(scenario_payments(result, "changed").index)
    assert (fen(changed["change"]) == scenario_payments(result, "changed").to_numpy() - baseline.to_numpy()).all()


def test_sweep_values_are_scenarios_named_by_key_and_value(prepared):
    sweep = Sweep("points.hospital_coef.by_level.3", (1.0, 1.1))
    result = simulate(prepared, load_policy(BASE), sweeps=[sweep])
    rows = result.scenarios.set_index("scenario")
    assert list(rows.index) == ["baseline", "points.hospital_coef.by_level.3=1.0",
                                "points.hospital_coef.by_level.3=1.1"]
    assert rows.loc["points.hospital_coef.by_level.3=1.1", "kind"] == "sweep"
    # the money is the budget's: more level-3 points move it from the other levels
    assert rows["final_payments"].nunique() == 1
    assert rows.loc["points.hospital_coef.by_level.3=1.1", "shift_level_3"] > 0
    shifts = [c for c in rows.columns if c.startswith("shift_level_")]
    assert abs(rows.loc["points.hospital_coef.by_level.3=1.1", shifts].sum()) < 0.01 * len(shifts)


MONTE_CARLO = MonteCarlo(draws=4, seed=11, vary={
    "budget.growth_rate": {"dist": "normal", "params": {"mean": 0.03, "sd": 0.01}},
    "volume_growth": {"dist": "lognormal", "params": {"mean": 0.05, "sd": 0.03}, "per": "hospital"},
    "coding_upshift": {"dist": "uniform", "params": {"low": 0.0, "high": 0.05}, "per": "level"},
    "remote_share": {"dist": "triangular", "params": {"low": -0.2, "mode": 0.0, "high": 0.3}, "per": "region"},
})


@pytest.mark.parametrize("draw", [0, 3])
def test_a_written_draw_settles_as_the_simulation_did(prepared, tmp_path, draw):
    base = load_policy(BASE)
    province, policy = draw_province(prepared, base, MONTE_CARLO, draw)
    assert len(province.current) != len(prepared.current)   # the case mix did change
    simulated = payments(settle(province, policy, input_columns=False))
    write_draw(prepared, base, MONTE_CARLO, draw, tmp_path / "draw")
    again = settle_province(tmp_path / "draw", load_policy(tmp_path / "draw" / "policy.yaml"))
    assert payments(again).reindex(simulated.index).tolist() == simulated.tolist()


def test_monte_carlo_files_are_the_same_bytes_for_the_same_seed_and_any_threads(prepared, tmp_path):
    import numba

    base = load_policy(BASE)
    before = numba.get_num_threads()
    written = []
    try:
        for threads, folder in ((1, "one"), (numba.config.NUMBA_NUM_THREADS, "many")):
            numba.set_num_threads(threads)
            result = simulate(prepared, base, scenarios=[Scenario("tight", {"budget.growth_rate": 0.01})],
                              monte_carlo=MONTE_CARLO)
            written.append(write_simulation(result, tmp_path / folder, fmt="csv"))
    finally:
        numba.set_num_threads(before)
    assert [p.name for p in written[0]] == [p.name for p in written[1]]
    for one, many in zip(*written):
        assert one.read_bytes() == many.read_bytes(), one.name
    table = pd.read_csv(written[0][2])
    assert {"payment_p5", "payment_p50", "payment_p95", "probability_of_loss",
            "probability_below_baseline"} <= set(table.columns)
    assert ((table["payment_p5"] <= table["payment_p50"]) & (table["payment_p50"] <= table["payment_p95"])).all()


CASE_MIX = {"volume_growth": {"dist": "uniform", "params": {"low": -0.1, "high": 0.2}, "per": "hospital"},
            "coding_upshift": {"dist": "uniform", "params": {"low": 0.0, "high": 0.1}, "per": "hospital"},
            "budget.growth_rate": {"dist": "normal", "params": {"mean": 0.03, "sd": 0.01}}}


# draws from the base policy's parent run side by side; draws with their own coefficients, one at a time
@pytest.mark.parametrize("vary", [CASE_MIX, {**CASE_MIX, "points.hospital_coef.by_level.3": {
    "dist": "uniform", "params": {"low": 0.9, "high": 1.2}}}], ids=["base parent", "own coefficients"])
def test_draws_on_several_threads_give_the_tables_of_draws_on_one(prepared, vary):
    base = load_policy(BASE)
    spec = MonteCarlo(draws=8, seed=5, vary=vary)
    one = simulate(prepared, base, monte_carlo=spec, draw_threads=1)
    done = []
    many = simulate(prepared, base, monte_carlo=spec, draw_threads=3, progress=lambda k, total: done.append(k))
    assert done == list(range(1, spec.draws + 2))   # the baseline, then the draws in order
    for name in ("monte_carlo_hospitals", "monte_carlo_pools"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(many, name), check_exact=True)


def test_monte_carlo_hospital_figures_are_those_of_the_draws(prepared):
    base = load_policy(BASE)
    result = simulate(prepared, base, monte_carlo=MONTE_CARLO)
    draws = []
    for draw in range(MONTE_CARLO.draws):
        province, policy = draw_province(prepared, base, MONTE_CARLO, draw)
        draws.append(settle(province, policy, input_columns=False).hospitals.set_index("hospital_id")["final_payment"])
    table = result.monte_carlo_hospitals.set_index("hospital_id")
    by_draw = pd.concat(draws, axis=1).reindex(table.index).fillna(0.0)
    np.testing.assert_allclose(table["payment_mean"], by_draw.mean(axis=1), atol=1e-3)
    below = (by_draw.lt(table["baseline_payment"] - 0.005, axis=0)).mean(axis=1)
    np.testing.assert_allclose(table["probability_below_baseline"], below)


@pytest.mark.parametrize("scenario_file", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenario_files_run_on_the_demo_province(demo_province_dir, tmp_path, scenario_file,
                                                         capsys):
    spec = load_scenarios(scenario_file, load_policy(BASE))
    assert spec.scenarios or spec.sweeps or spec.monte_carlo
    status = main(["simulate", "--policy", str(BASE), "--scenarios", str(scenario_file), "--input",
                   str(demo_province_dir), "--output", str(tmp_path / "out"), "--no-progress"])
    assert status == 0
    out = capsys.readouterr().out
    assert "simulated" in out and "baseline" in out
    assert (tmp_path / "out" / "scenarios.csv").is_file() and (tmp_path / "out" / "hospitals.csv").is_file()
    assert (tmp_path / "out" / "monte_carlo_hospitals.csv").is_file() == (spec.monte_carlo is not None)


def test_a_bad_scenario_file_is_exit_2_naming_file_and_key(province_dir, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios:\n  - name: x\n    set: {budget.growth_rte: 0.02}\n", encoding="utf-8")
    status = main(["simulate", "--policy", str(BASE), "--scenarios", str(bad), "--input", str(province_dir),
                   "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and str(bad) in err and "growth_rte" in err and "Traceback" not in err


def test_write_draw_needs_a_monte_carlo(province_dir, tmp_path, capsys):
    status = main(["simulate", "--policy", str(BASE), "--scenarios", str(SCENARIOS / "hospital_level_sweep.yaml"),
                   "--input", str(province_dir), "--output", str(tmp_path / "out"), "--write-draw", "0"])
    assert status == 2 and "monte_carlo" in capsys.readouterr().err


def test_a_draw_outside_its_keys_range_stops_with_the_draw_and_key_named(province_dir, tmp_path, capsys):
    scenarios = tmp_path / "wide.yaml"
    scenarios.write_text("monte_carlo:\n  draws: 30\n  seed: 1\n  vary:\n"
                         "    budget.reserve_share: {dist: normal, mean: 0.02, sd: 0.5}\n", encoding="utf-8")
    status = main(["simulate", "--policy", str(BASE), "--scenarios", str(scenarios), "--input", str(province_dir),
                   "--output", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert str(scenarios) in err and "monte_carlo.vary.budget.reserve_share" in err and "draw " in err


@pytest.mark.parametrize("form", ["csv", "frames"])
def test_every_input_form_simulates_alike(province_dir, prepared, tmp_path, form):
    """A province as CSV (text columns) or as DataFrames in memory gives the Parquet province's results."""
    from drgdip.core.province import read_province

    province = read_province(province_dir)
    if form == "csv":
        write_province(province, tmp_path / "csv", format="csv")
        source = tmp_path / "csv"
    else:
        source = province
    base = load_policy(BASE)
    scenarios = [Scenario("tight", {"budget.growth_rate": 0.01}),
                 Scenario("level3", {"points.hospital_coef.by_level.3": 1.1})]
    monte_carlo = MonteCarlo(draws=2, seed=3, vary={
        "volume_growth": {"dist": "uniform", "params": {"low": -0.1, "high": 0.1}, "per": "hospital"}})
    expected = simulate(prepared, base, scenarios=scenarios, monte_carlo=monte_carlo)
    got = simulate(prepare_province(source, base), base, scenarios=scenarios, monte_carlo=monte_carlo)
    for name in ("scenarios", "hospitals", "monte_carlo_hospitals", "monte_carlo_pools"):
        pd.testing.assert_frame_equal(got.tables()[name], expected.tables()[name], check_exact=True, obj=name)


def test_tables_as_parquet_hold_what_the_csv_files_hold(province_dir, tmp_path, capsys):
    for fmt in ("csv", "parquet"):
        assert main(["simulate", "--policy", str(BASE), "--scenarios", str(SCENARIOS / "hospital_level_sweep.yaml"),
                     "--input", str(province_dir), "--output", str(tmp_path / fmt), "--format", fmt,
                     "--no-progress"]) == 0
    from_csv = pd.read_csv(tmp_path / "csv" / "hospitals.csv", dtype={"area": str, "hospital_id": str})
    from_parquet = pd.read_parquet(tmp_path / "parquet" / "hospitals.parquet")
    assert from_parquet["hospital_id"].astype(str).tolist() == from_csv["hospital_id"].tolist()
    assert fen(from_parquet["final_payment"]).tolist() == fen(from_csv["final_payment"]).tolist()
    assert from_parquet["scenario"].astype(str).tolist() == from_csv["scenario"].tolist()


def test_simulate_takes_the_province_options_of_settle(province_dir, tmp_path):
    """Deductions and special-review approvals reach every scenario as they reach ``drgdip settle``."""
    policy = load_policy(BASE)
    plain = settle_province(province_dir, policy)
    hospital = plain.hospitals["hospital_id"].iloc[0]
    deductions = tmp_path / "deductions.csv"
    pd.DataFrame({"hospital_id": [hospital], "amount": [1234.56], "month": [5]}).to_csv(deductions, index=False)
    expected = payments(settle_province(province_dir, policy, deductions=deductions))
    assert main(["simulate", "--policy", str(BASE), "--scenarios", str(SCENARIOS / "hospital_level_sweep.yaml"),
                 "--input", str(province_dir), "--output", str(tmp_path / "out"), "--deductions", str(deductions),
                 "--no-progress"]) == 0
    table = pd.read_csv(tmp_path / "out" / "hospitals.csv", dtype={"area": str, "hospital_id": str})
    baseline = table[table["scenario"] == "baseline"]
    got = pd.Series(fen(baseline["final_payment"]), index=pd.MultiIndex.from_arrays(
        [baseline["area"], baseline["hospital_id"]]))
    assert got.reindex(expected.index).tolist() == expected.tolist()
    assert got.reindex(expected.index).tolist() != payments(plain).reindex(expected.index).tolist()


@pytest.fixture(scope="module")
def cluster():
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                  dashboard_address=None) as local:
        yield local


@pytest.fixture(scope="module")
def cluster_client(cluster):
    import distributed

    with distributed.Client(cluster, set_as_default=False) as client:
        yield client


def test_scenarios_and_draws_on_a_cluster_give_the_same_files(province_dir, prepared, cluster_client, tmp_path):
    """Scenarios and Monte Carlo batches as tasks on two workers, each preparing the province itself,
    write the same bytes as one process."""
    base = load_policy(BASE)
    spec = dict(scenarios=[Scenario("tight", {"budget.growth_rate": 0.01}),
                           Scenario("level3_up", {"points.hospital_coef.by_level.3": 1.1})],
                sweeps=[Sweep("points.remote.remote_coef", [0.9, 1.0])], monte_carlo=MONTE_CARLO)
    seen = []
    here = write_simulation(simulate(prepared, base, **spec), tmp_path / "here", fmt="csv")
    there = write_simulation(simulate(prepare_province(province_dir, base), base, client=cluster_client,
                                      progress=lambda done, total: seen.append((done, total)), **spec),
                             tmp_path / "there", fmt="csv")
    for mine, theirs in zip(here, there):
        assert mine.read_bytes() == theirs.read_bytes(), mine.name
    total = 1 + 2 + 2 + MONTE_CARLO.draws
    assert seen[-1] == (total, total) and [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_drgdip_simulate_on_a_dask_scheduler_writes_the_files_of_one_process(province_dir, cluster, tmp_path, capsys):
    scenarios = SCENARIOS / "tight_budget_monte_carlo.yaml"
    common = ["simulate", "--policy", str(BASE), "--scenarios", str(scenarios), "--input", str(province_dir),
              "--no-progress"]
    assert main(common + ["--output", str(tmp_path / "here")]) == 0
    assert main(common + ["--output", str(tmp_path / "there"), "--engine", "dask", "--scheduler",
                          cluster.scheduler_address]) == 0
    written = sorted(p.name for p in (tmp_path / "here").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "there").iterdir()) and "monte_carlo_hospitals.csv" in written
    for name in written:
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes(), name
    assert main(common + ["--output", str(tmp_path / "x"), "--workers", "2"]) == 2
    assert "--workers: only with --engine dask" in capsys.readouterr().err


def test_a_worker_lost_mid_run_changes_no_simulation_file(province_dir, prepared, tmp_path):
    """A worker process killed while it settles: Dask settles its tasks again on a worker that
    prepares the province anew, and every file is the one process's."""
    import os
    import signal
    import threading
    import time

    import dask
    import distributed

    base = load_policy(BASE)
    monte_carlo = MonteCarlo(draws=24, seed=3, vary=dict(MONTE_CARLO.vary))
    here = write_simulation(simulate(prepared, base, monte_carlo=monte_carlo), tmp_path / "here", fmt="csv")
    with dask.config.set({"distributed.scheduler.allowed-failures": 2}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                     silence_logs=50) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        pids = client.run(os.getpid)
        results = []
        run = threading.Thread(target=lambda: results.append(simulate(
            prepare_province(province_dir, base), base, monte_carlo=monte_carlo, client=client)))
        run.start()
        busy, deadline = [], time.monotonic() + 120
        while not busy and time.monotonic() < deadline:
            busy = [worker for worker, tasks in client.processing().items() if tasks and worker in pids]
            time.sleep(0.005)
        os.kill(pids[busy[0]], signal.SIGKILL)
        run.join(timeout=300)
    there = write_simulation(results[0], tmp_path / "there", fmt="csv")
    for mine, theirs in zip(here, there):
        assert mine.read_bytes() == theirs.read_bytes(), mine.name
