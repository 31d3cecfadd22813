"""A whole province-year through ``drgdip settle``: time and memory per stage.

As a pytest-benchmark (``pytest benchmarks/bench_province.py --benchmark-only``): ``settle_province``
on a synthetic province of ``DRGDIP_BENCH_STAYS`` stays (default 1M) under the national scheme, read
from Parquet as ``drgdip synth`` writes it.

As a script, the job users run, whole processes (the numbers in ``benchmarks/README.md``)::

    python benchmarks/bench_province.py --stays 20000000 --hospitals 1000 --regions 16 --dir province-20m

generates the province with ``drgdip synth`` when ``--dir`` holds none, then runs ``drgdip settle
--timings`` on it and prints the stage table, the wall time and the peak resident memory of the
settle process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NATIONAL_SCHEME_DIR = REPO.parent / "shared" / "chs-drg-1.1"
POLICY = REPO / "data" / "policies" / "panzhihua_drg_day_care_2025.yaml"
STAYS = int(os.environ.get("DRGDIP_BENCH_STAYS", "1000000"))


def synthesize(directory: Path, stays: int, hospitals: int, regions: int, seed: int = 3) -> None:
    """A 3-year synthetic province under the national scheme, unless ``directory`` already holds one."""
    if (directory / "cases.parquet").is_file():
        return
    subprocess.run([sys.executable, "-m", "drgdip.cli", "synth", "--scheme", str(NATIONAL_SCHEME_DIR),
                    "--cases", str(stays), "--years", "2023,2024,2025", "--hospitals", str(hospitals),
                    "--regions", str(regions), "--seed", str(seed), "--output", str(directory)], check=True)


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    directory = tmp_path_factory.mktemp("province")
    synthesize(directory, STAYS, hospitals=max(20, STAYS // 20_000), regions=8)
    return directory


def test_settle_province_from_parquet(benchmark, province):
    from drgdip.budget import load_policy, settle_province
    from drgdip.core.timing import StageClock

    policy = load_policy(POLICY)
    settle_province(province, policy)   # compiles and caches the kernels
    clock = StageClock()
    settlement = benchmark.pedantic(settle_province, args=(province, policy), kwargs={"clock": clock},
                                    rounds=1, iterations=1)
    print(f"\n{len(settlement.cases):,} stays settled\n{clock.table()}")
    assert (settlement.summary["final_payments"] + settlement.summary["reserve_end"]).round(2).equals(
        settlement.summary["budget_total"].round(2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stays", type=int, default=STAYS)
    parser.add_argument("--hospitals", type=int, default=1000)
    parser.add_argument("--regions", type=int, default=16)
    parser.add_argument("--dir", required=True, help="province directory (generated when empty)")
    parser.add_argument("--policy", default=str(POLICY))
    parser.add_argument("--excel", action="store_true", help="also write settlement.xlsx (default on in drgdip)")
    args = parser.parse_args(argv)
    directory = Path(args.dir)
    synthesize(directory, args.stays, args.hospitals, args.regions)
    command = [sys.executable, "-m", "drgdip.cli", "settle", "--policy", args.policy, "--input", str(directory),
               "--output", str(directory.with_name(directory.name + "-settled")), "--timings"]
    if not args.excel:
        command.append("--no-excel")
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        return 1
    print(f"drgdip settle: {wall:.1f} s wall, {usage.ru_maxrss * 1024 / 1e9:.2f} GB peak resident memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
