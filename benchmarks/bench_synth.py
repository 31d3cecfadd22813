"""Synthetic-province speed: 1M stays under the national scheme, in memory and written to Parquet.

    pytest benchmarks/bench_synth.py --benchmark-only

The one-off 10M measurement (time and peak memory of the CLI) is
``python benchmarks/bench_synth.py 10000000`` and is recorded in the benchmark notes.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NATIONAL_SCHEME_DIR = REPO.parent / "shared" / "chs-drg-1.1"
N = 1_000_000


@pytest.fixture(scope="module")
def scheme():
    from drgdip.grouper import load_scheme

    return load_scheme(NATIONAL_SCHEME_DIR)


def _rate(benchmark, n):
    benchmark.extra_info["cases"] = n
    benchmark.extra_info["cases_per_second"] = round(n / benchmark.stats.stats.median)


def test_generate_province_1m(benchmark, scheme):
    from drgdip.synth import generate_province

    generate_province(scheme, cases=1000, hospitals=100, regions=16, seed=1)   # compile kernels
    province = benchmark.pedantic(generate_province, args=(scheme,),
                                  kwargs=dict(cases=N, hospitals=100, regions=16, seed=1),
                                  rounds=3, iterations=1)
    assert len(province.cases) == N
    _rate(benchmark, N)


def test_generate_and_write_parquet_1m(benchmark, scheme, tmp_path):
    from drgdip.synth import generate_province, write_province

    def run():
        province = generate_province(scheme, cases=N, hospitals=100, regions=16, seed=2)
        return write_province(province, tmp_path / "province")

    paths = benchmark.pedantic(run, rounds=2, iterations=1)
    assert paths["cases"].stat().st_size > 0
    _rate(benchmark, N)


def measure_cli(n: int) -> None:
    """Run ``drgdip synth`` on ``n`` cases in a child process; print wall time and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "drgdip.cli", "synth", "--scheme", str(NATIONAL_SCHEME_DIR),
                   "--cases", str(n), "--hospitals", "200", "--regions", "16", "--seed", "1",
                   "--output", str(Path(tmp) / "province")]
        started = time.perf_counter()
        subprocess.run(command, check=True)
        elapsed = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"{n:,} cases: {elapsed:.1f} s ({n / elapsed:,.0f} cases/s), peak RSS {peak_kib / 2**20:.2f} GiB")


if __name__ == "__main__":
    measure_cli(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000)
