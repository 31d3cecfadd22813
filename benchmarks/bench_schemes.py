"""Loading the built-in scheme versions (validated and compiled like a folder, tables read from Parquet)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import pytest

from benchmarks.conftest import NATIONAL_SCHEME_DIR
from drgdip.grouper import load_scheme
from drgdip.grouper.builtin import builtin_names

# a fresh interpreter: import the grouper, then time the first load (numba's one-off start-up included)
FIRST_LOAD = """
import time
from drgdip.grouper import load_scheme
started = time.perf_counter()
load_scheme({name!r})
print(time.perf_counter() - started)
"""


def _cpu_seconds(benchmark, scheme) -> None:
    """The median CPU time of a load (all threads of the process) in extra_info: on a shared machine it
    moves less than the wall time, which waits for the cores other runs hold."""
    times = []
    for _ in range(5):
        started = time.process_time()
        load_scheme(scheme)
        times.append(time.process_time() - started)
    benchmark.extra_info["cpu_seconds_median"] = round(statistics.median(times), 3)


@pytest.mark.parametrize("name", builtin_names())
def test_load_builtin_scheme(benchmark, name):
    scheme = benchmark(load_scheme, name)
    assert scheme.name == name
    _cpu_seconds(benchmark, name)


def test_load_national_scheme_folder(benchmark):
    """The same tables as ``chs-drg-1.1`` read from their CSV folder, for the ratio in one run."""
    scheme = benchmark(load_scheme, NATIONAL_SCHEME_DIR)
    assert len(scheme.drg_codes) == 628
    _cpu_seconds(benchmark, NATIONAL_SCHEME_DIR)


def test_first_load_in_a_fresh_process(benchmark):
    """The first built-in load of a process: the time of load_scheme alone goes to extra_info."""
    seconds = []

    def run():
        done = subprocess.run([sys.executable, "-c", FIRST_LOAD.format(name="chs-drg-1.1")], check=True,
                              capture_output=True, text=True)
        seconds.append(float(done.stdout.split()[-1]))

    benchmark.pedantic(run, rounds=5, iterations=1)
    benchmark.extra_info["first_load_seconds_median"] = round(statistics.median(seconds), 3)
