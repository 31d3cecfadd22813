"""Benchmark: settle 20M grouped stays with points (1,000 hospitals, 20 regions) under a budget policy.

Data are built with numpy directly: already grouped stays that carry ``case_points``, with
categorical id columns as a settlement system would hold them; ``test_settle_small`` times inputs
small enough to run without threads. Run with
``pytest benchmarks/bench_settle.py --benchmark-only``; ``BENCH_SETTLE_CASES`` changes the size.
"""

from __future__ import annotations

import os
import resource
import threading

import numpy as np
import pandas as pd
import pytest

from drgdip.budget import policy_from_mapping, settle_cases
from tests.test_settle_cli import million_cases

N_CASES = int(os.environ.get("BENCH_SETTLE_CASES", 20_000_000))
N_HOSPITALS = 1_000
N_REGIONS = 20


def build_cases(n: int = N_CASES, hospitals: int = N_HOSPITALS, regions: int = N_REGIONS,
                seed: int = 0) -> pd.DataFrame:
    """``n`` settled stays with points: hospitals spread over regions, 15 % in-province remote stays."""
    rng = np.random.default_rng(seed)
    region_codes = [f"37{k + 1:02d}00" for k in range(regions)]
    hospital_region = np.arange(hospitals) % regions
    hospital_level = rng.choice([1, 2, 3], hospitals, p=[0.4, 0.45, 0.15])
    size = rng.lognormal(0.0, 1.0, hospitals) * np.array([0.3, 1.0, 3.0])[hospital_level - 1]
    hospital = rng.choice(hospitals, n, p=size / size.sum()).astype(np.int32)
    region = hospital_region[hospital]
    remote = rng.random(n) < 0.15
    insured = np.where(remote, (region + rng.integers(1, regions, n)) % regions, region)
    points = rng.lognormal(np.log(90.0), 0.8, n)
    cost = points * 100.0 * rng.lognormal(0.0, 0.25, n) * np.array([0.8, 1.0, 1.25])[hospital_level[hospital] - 1]
    employee = rng.random(n) < 0.45
    fund = cost * np.where(employee, 0.72, 0.58)
    outlier = rng.choice(4, n, p=[0.92, 0.04, 0.03, 0.01]).astype(np.int8)
    categories = pd.Index(region_codes)
    return pd.DataFrame({
        "case_id": np.arange(n, dtype=np.int64),
        "hospital_id": pd.Categorical.from_codes(hospital, categories=[f"H{k:05d}" for k in range(hospitals)]),
        "hospital_level": hospital_level[hospital].astype(np.int8),
        "region": pd.Categorical.from_codes(region.astype(np.int32), categories=categories),
        "insured_region": pd.Categorical.from_codes(insured.astype(np.int32), categories=categories),
        "insurance_type": pd.Categorical.from_codes(employee.astype(np.int8), categories=["resident", "employee"]),
        "month": rng.integers(1, 13, n).astype(np.int8),
        "total_cost": np.round(cost, 2),
        "fund_paid": np.round(fund, 2),
        "base_points": points,
        "case_points": points,
        "outlier_class": pd.Categorical.from_codes(outlier, categories=["normal", "low", "high", "extreme"]),
    })


POLICY = {
    "year": 2025,
    "points": {"scheme": "drg_points"},
    "budget": {"method": "actual_fund", "actual_fund_factor": 0.98, "reserve_share": 0.05},
    "point_value": {"basis": "total_cost", "by_insurance_type": True, "fund_ratio": "insured_region",
                    "budget_point_value": 100.0},
    "settlement": {"monthly_pay_ratio": 0.9, "prepay_fund_months": 1,
                   "surplus": {"bands": [{"upto_pct": 0.1, "keep_share": 1.0}, {"upto_pct": None, "keep_share": 0.5}]},
                   "overspend": {"bands": [{"upto_pct": 0.1, "fund_share": 0.5},
                                           {"upto_pct": None, "fund_share": 0.0}]}},
    "remote_pool": {"pool": "separate", "budget_method": "actual_fund"},
}


class PeakRss:
    """Highest resident set size of this process while the block runs (sampled every 10 ms)."""

    def __enter__(self):
        self.peak = self.start = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    def _watch(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(scope="module")
def cases():
    return build_cases()


def test_settle_20m(benchmark, cases):
    policy = policy_from_mapping(POLICY)
    settle_cases(cases.head(10_000), policy)       # compile the kernels outside the timing
    with PeakRss() as rss:
        result = benchmark.pedantic(settle_cases, args=(cases, policy), rounds=1, iterations=1)
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info.update({
        "cases": len(cases), "cases_per_second": len(cases) / seconds,
        "input_gb": cases.memory_usage(deep=True).sum() / 1e9,
        "rss_before_gb": rss.start / 1e9, "peak_rss_gb": rss.peak / 1e9,
        "max_rss_process_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9})
    summary = result.summary
    paid = (summary["final_payments"] * 100).round().sum() + (summary["reserve_end"] * 100).round().sum()
    assert paid == (summary["budget_total"] * 100).round().sum()
    assert len(result.hospitals) == N_HOSPITALS


def test_settle_20m_drg_points(benchmark, cases):
    """The same stays with the points of DRG groups (a few hundred values): in most hospitals the
    remainders of the stays' shares tie at the cut, and the last fen go by case id."""
    policy = policy_from_mapping(POLICY)
    grouped = cases.assign(case_points=np.round(cases["case_points"].to_numpy() / 5.0) * 5.0 + 1.0)
    settle_cases(grouped.head(10_000), policy)
    result = benchmark.pedantic(settle_cases, args=(grouped, policy), rounds=1, iterations=1)
    benchmark.extra_info["cases_per_second"] = len(grouped) / benchmark.stats.stats.mean
    assert len(result.hospitals) == N_HOSPITALS


@pytest.mark.parametrize("n", [20_000, 150_000])
def test_settle_small(benchmark, n):
    """Inputs below the threaded kernels' threshold: the kernels run without thread start-up."""
    cases = build_cases(n, hospitals=100, regions=4, seed=1)
    policy = policy_from_mapping(POLICY)
    settle_cases(cases, policy)
    benchmark.pedantic(settle_cases, args=(cases, policy), rounds=5, iterations=1)
    benchmark.extra_info["cases_per_second"] = n / benchmark.stats.stats.median


def test_settle_province_pipeline_1m(benchmark):
    """Day care, weights on 2024, points and settlement of 1M grouped 2025 stays (policy file of the repo)."""
    from pathlib import Path

    from drgdip.budget import load_policy, settle_province

    n = int(os.environ.get("BENCH_PIPELINE_CASES", 1_000_000))
    province = million_cases(n_settled=n, n_history=n * 3 // 10)
    policy = load_policy(Path(__file__).resolve().parents[1] / "data" / "policies" / "remote_pool_province_2025.yaml")
    settle_province(province.iloc[:: max(len(province) // 20_000, 1)], policy)   # compile outside the timing
    with PeakRss() as rss:
        result = benchmark.pedantic(settle_province, args=(province, policy), rounds=1, iterations=1)
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info.update({"settled_cases": n, "rows_read": len(province),
                                 "cases_per_second": n / seconds, "peak_rss_gb": rss.peak / 1e9})
    assert len(result.cases) == n
