"""``drgdip settle`` on a 1M-stay province: the local engine against ``--engine dask`` with 2 workers.

The province of ``bench_province.py`` (3 years, national scheme, 8 regions), its cases written as a
dataset of part files (as ``drgdip synth --partition-rows`` writes them), settled to Parquet in process
(the workbook left out). The Dask engine is timed on a cluster already running (``--scheduler``: what
the engine costs: scanning, splitting into pooling areas, settling them, merging the per-stay table
back into input order). Run as a script, ``python -m benchmarks.bench_dask_settle --rounds 3``, the
engines are timed in turns and their medians printed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from benchmarks.bench_dask import _two_workers
from benchmarks.bench_province import NATIONAL_SCHEME_DIR, POLICY
from drgdip.cli import main

STAYS = 1_000_000
PART_ROWS = 250_000


def synthesize(directory: Path, stays: int = STAYS) -> Path:
    subprocess.run([sys.executable, "-m", "drgdip.cli", "synth", "--scheme", str(NATIONAL_SCHEME_DIR), "--cases",
                    str(stays), "--hospitals", str(max(20, stays // 20_000)), "--regions", "8", "--seed", "3",
                    "--partition-rows", str(PART_ROWS), "--output", str(directory)], check=True,
                   stdout=subprocess.DEVNULL)
    return directory


def _settle(province, output, *extra) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = main(["settle", "--policy", str(POLICY), "--input", str(province), "--output", str(output),
                       "--no-excel", *map(str, extra)])
    assert status == 0


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("dask_settle_province"))


@pytest.fixture(scope="module")
def scheduler():
    with _two_workers() as address:
        yield address


def test_local_engine_1m(benchmark, province, tmp_path):
    benchmark.pedantic(_settle, (province, tmp_path / "out"), rounds=2, warmup_rounds=1)


def test_dask_engine_running_cluster_1m(benchmark, province, scheduler, tmp_path):
    benchmark.pedantic(_settle, (province, tmp_path / "out", "--engine", "dask", "--scheduler", scheduler),
                       rounds=2, warmup_rounds=1)


def main_script() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stays", type=int, default=STAYS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, _two_workers() as address:
        province = synthesize(Path(folder) / "province", args.stays)
        variants = {"local": (), "dask, running cluster of 2 workers": ("--engine", "dask", "--scheduler", address)}
        _settle(province, Path(folder) / "warm")
        _settle(province, Path(folder) / "warm", *variants["dask, running cluster of 2 workers"])
        times = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, extra in variants.items():
                started = time.perf_counter()
                _settle(province, Path(folder) / "out", *extra)
                times[name].append(time.perf_counter() - started)
        base = statistics.median(times["local"])
        print(f"| engine | median of {args.rounds} | / local |\n|---|---:|---:|")
        for name, values in times.items():
            print(f"| {name} | {statistics.median(values):.1f} s | {statistics.median(values) / base:.2f} |")


if __name__ == "__main__":
    main_script()
