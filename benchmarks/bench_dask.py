"""``drgdip group`` on 1M cases: the local engine against ``--engine dask`` with 2 worker processes.

The same 1M cases resampled from the public corpus (as in ``bench_grouper.py``), Parquet in row groups
of 250,000 rows (a Dask piece is made of whole row groups), Parquet out, in process (scheme load
included). The Dask engine is timed on a cluster already running (``--scheduler``: what grouping
costs) and with the local cluster the command starts itself (``--workers 2``: what a user waits for).
Run as a script, ``python -m benchmarks.bench_dask --rounds 3``, the variants are timed in turns and
their medians printed as a table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import statistics
import tempfile
import time
from pathlib import Path

import pytest

from benchmarks.conftest import NATIONAL_SCHEME_DIR, resample_corpus
from drgdip.cli import main

PARTITION_ROWS = 250_000   # four tasks for 1M cases, two per worker


def _group(source, output, *extra) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = main(["group", "--scheme", str(NATIONAL_SCHEME_DIR), "--input", str(source), "--output",
                       str(output), "--no-progress", *map(str, extra)])
    assert status == 0


@contextlib.contextmanager
def _two_workers():
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=50) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def million_cases(tmp_path_factory):
    path = tmp_path_factory.mktemp("dask_cases") / "cases.parquet"
    resample_corpus(1_000_000).to_parquet(path, index=False, row_group_size=PARTITION_ROWS)
    return path


@pytest.fixture(scope="module")
def scheduler():
    with _two_workers() as address:
        yield address


def _rate(benchmark, n):
    benchmark.extra_info["cases"] = n
    if benchmark.stats is not None:   # None with --benchmark-disable
        benchmark.extra_info["cases_per_second"] = round(n / benchmark.stats.stats.median)


def test_local_parquet_1m(benchmark, million_cases, tmp_path):
    benchmark.pedantic(_group, (million_cases, tmp_path / "out.parquet"), rounds=3, warmup_rounds=1)
    _rate(benchmark, 1_000_000)


@pytest.mark.parametrize("partition_rows", [PARTITION_ROWS, 1 << 20])
def test_dask_running_cluster_parquet_1m(benchmark, million_cases, scheduler, tmp_path, partition_rows):
    args = (million_cases, tmp_path / "out.parquet", "--engine", "dask", "--scheduler", scheduler,
            "--partition-rows", partition_rows)
    benchmark.pedantic(_group, args, rounds=3, warmup_rounds=1)
    _rate(benchmark, 1_000_000)


def test_dask_own_cluster_parquet_1m(benchmark, million_cases, tmp_path):
    args = (million_cases, tmp_path / "out.parquet", "--engine", "dask", "--workers", 2, "--threads-per-worker", 1,
            "--partition-rows", PARTITION_ROWS)
    benchmark.pedantic(_group, args, rounds=2, warmup_rounds=0)
    _rate(benchmark, 1_000_000)


def compare(rounds: int, n: int = 1_000_000, seed: int = 0) -> list[tuple[str, float]]:
    """Median seconds of each variant, the variants timed in turns (a new order each round)."""
    with tempfile.TemporaryDirectory() as folder, _two_workers() as address:
        source = Path(folder) / "cases.parquet"
        resample_corpus(n).to_parquet(source, index=False, row_group_size=PARTITION_ROWS)
        output = Path(folder) / "out.parquet"
        variants = {
            "local engine": (),
            f"dask, running cluster, {PARTITION_ROWS:,}-row partitions":
                ("--engine", "dask", "--scheduler", address, "--partition-rows", PARTITION_ROWS),
            "dask, running cluster, one 1M-row partition":
                ("--engine", "dask", "--scheduler", address, "--partition-rows", n),
            f"dask, starting its 2-worker cluster, {PARTITION_ROWS:,}-row partitions":
                ("--engine", "dask", "--workers", 2, "--threads-per-worker", 1, "--partition-rows", PARTITION_ROWS),
        }
        for extra in variants.values():   # warm-up: kernels loaded, workers' imports done
            _group(source, output, *extra)
        times = {name: [] for name in variants}
        order = random.Random(seed)
        for _ in range(rounds):
            for name in order.sample(list(variants), len(variants)):
                start = time.perf_counter()
                _group(source, output, *variants[name])
                times[name].append(time.perf_counter() - start)
    return [(name, statistics.median(seconds)) for name, seconds in times.items()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = compare(args.rounds)
    base = results[0][1]
    print("| `drgdip group`, 1M cases, Parquet -> Parquet | median | cases / s | / local |")
    print("|---|---:|---:|---:|")
    for name, seconds in results:
        print(f"| {name} | {seconds:.2f} s | {1_000_000 / seconds / 1e6:.2f} M | {seconds / base:.2f} |")
