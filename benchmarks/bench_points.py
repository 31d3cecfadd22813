"""Benchmarks of the points stage: calibration on 3 years × 5M cases, points for 10M cases, DIP grouping.

Run with ``pytest benchmarks/bench_points.py --benchmark-only``. The data are drawn with numpy only
(random group codes from a table, lognormal costs), so the numbers do not depend on other modules.
Sizes can be lowered with ``DRGDIP_BENCH_SCALE`` (e.g. 0.1) on small machines.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drgdip.pointvalue import DrgWeights, HospitalCoefTable, OutlierRules, PointsPolicy, RemoteRules, WeightTable, case_points

SCALE = float(os.environ.get("DRGDIP_BENCH_SCALE", "1"))
N_HISTORY_PER_YEAR = int(5_000_000 * SCALE)
N_CASES = int(10_000_000 * SCALE)
N_DIP_CASES = int(2_000_000 * SCALE)
N_GROUPS = 800
N_HOSPITALS = 1000
REPO = Path(__file__).resolve().parents[1]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def _peak_memory(benchmark):
    """Record the peak resident memory above the starting level (sampled every 5 ms) in extra_info."""
    start = _rss_bytes()
    peak = [start]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        benchmark.extra_info["peak_rss_increase_mb"] = round((max(peak[0], _rss_bytes()) - start) / 2**20)


def _run(benchmark, function, *args):
    with _peak_memory(benchmark):
        result = benchmark.pedantic(function, args=args, rounds=1, iterations=1)
    n = benchmark.extra_info["cases"]
    benchmark.extra_info["cases_per_second"] = round(n / benchmark.stats.stats.median)
    return result


def _group_codes(rng) -> np.ndarray:
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    codes = pd.unique(np.char.add(np.char.add(letters[rng.integers(0, 26, 4 * N_GROUPS)],
                                              letters[rng.integers(0, 26, 4 * N_GROUPS)]),
                                  rng.integers(10, 100, 4 * N_GROUPS).astype(str)))
    return np.asarray(codes[:N_GROUPS], dtype=object)


@pytest.fixture(scope="module")
def codes():
    return _group_codes(np.random.default_rng(7))


@pytest.fixture(scope="module")
def history(codes):
    rng = np.random.default_rng(1)
    n = 3 * N_HISTORY_PER_YEAR
    group_mean = rng.lognormal(9.2, 0.8, len(codes))
    g = rng.integers(0, len(codes), n)
    return pd.DataFrame({
        "drg": pd.array(codes[g], dtype="str"),
        "year": np.repeat(np.array([2021, 2022, 2023]), N_HISTORY_PER_YEAR),
        "total_cost": group_mean[g] * rng.lognormal(0, 0.5, n),
        "hospital_level": rng.integers(1, 4, n).astype(np.int8)})


@pytest.fixture(scope="module")
def grouped_cases(codes):
    rng = np.random.default_rng(2)
    n = N_CASES
    g = rng.integers(0, len(codes), n)
    hospitals = np.array([f"H{i:04d}" for i in range(N_HOSPITALS)], dtype=object)
    regions = np.array(["370800", "370900", "110100"], dtype=object)
    group_mean = rng.lognormal(9.2, 0.8, len(codes))
    return pd.DataFrame({
        "case_id": np.arange(n),
        "drg": pd.array(codes[g], dtype="str"),
        "total_cost": group_mean[g] * rng.lognormal(0, 0.6, n),
        "hospital_id": pd.array(hospitals[rng.integers(0, N_HOSPITALS, n)], dtype="str"),
        "hospital_level": rng.integers(1, 4, n).astype(np.int8),
        "region": "370800",
        "insured_region": pd.array(regions[rng.choice(3, n, p=[0.9, 0.08, 0.02])], dtype="str")})


@pytest.fixture(scope="module")
def weight_table(codes):
    rng = np.random.default_rng(3)
    mean = rng.lognormal(9.2, 0.8, len(codes))
    return WeightTable(frame=pd.DataFrame({"group": codes, "mean_cost": mean, "base_points": mean / 10000 * 100}),
                       points_scale=100.0, all_case_mean=10000.0)


def test_calibrate_3_years_x_5m_cases(benchmark, history):
    calibrator = DrgWeights()
    calibrator.fit(history.head(10_000))  # compile the kernels outside the timing
    benchmark.extra_info["cases"] = len(history)
    fitted = _run(benchmark, calibrator.fit, history)
    assert len(fitted.table_) == N_GROUPS


def test_points_10m_cases(benchmark, grouped_cases, weight_table):
    policy = PointsPolicy(scheme="drg_points", outliers=OutlierRules(),
                          hospital_coef=HospitalCoefTable(by_level={1: 0.85, 2: 1.0, 3: 1.15}, by_hospital={"H0001": 1.3}),
                          remote=RemoteRules(remote_coef=0.95))
    case_points(grouped_cases.head(10_000), weight_table, policy)
    benchmark.extra_info["cases"] = N_CASES
    out = _run(benchmark, case_points, grouped_cases, weight_table, policy)
    assert len(out) == N_CASES


def test_group_dip_demo_cases(benchmark):
    from drgdip.grouper.dip import group_dip
    from drgdip.grouper.dip_directory import load_dip_directory
    from drgdip.pointvalue.demo_dip import demo_history
    directory = load_dip_directory(REPO / "data" / "demo" / "dip")
    cases = demo_history(REPO / "data" / "demo" / "scheme", n_cases=N_DIP_CASES, seed=9)
    group_dip(cases.head(1000), directory)
    benchmark.extra_info["cases"] = N_DIP_CASES
    out = _run(benchmark, group_dip, cases, directory)
    assert len(out) == N_DIP_CASES
