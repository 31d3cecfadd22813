"""Grouper speed on 1M cases resampled from the public corpus (cases/s in extra_info).

Every scheme version is measured on 1M cases resampled from its own corpus. Run as a script,
``python -m benchmarks.bench_grouper --rounds 5``, the versions are timed in turns (every round
visits every version in a new order), which compares them fairly on a noisy machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from benchmarks.conftest import NATIONAL_SCHEME_DIR, VERSION_DIRS, VERSION_IDS, resample_corpus
from drgdip.cli import main
from drgdip.grouper import group_cases, load_scheme
from drgdip.grouper.drg import group_encoded
from drgdip.grouper.io import encode_batch, grouping_columns


def _rate(benchmark, n):
    benchmark.extra_info["cases"] = n
    benchmark.extra_info["cases_per_second"] = round(n / benchmark.stats.stats.median)


def test_load_national_scheme(benchmark):
    scheme = benchmark(load_scheme, NATIONAL_SCHEME_DIR)
    assert len(scheme.drg_codes) == 628


def test_kernel_1m(benchmark, national_scheme, million_case_files):
    encoded = encode_batch(pq.read_table(million_case_files["parquet"]), national_scheme)
    group_encoded(encoded, national_scheme)
    result = benchmark(group_encoded, encoded, national_scheme)
    assert len(result) == million_case_files["n"]
    _rate(benchmark, len(result))


def test_encode_1m(benchmark, national_scheme, million_case_files):
    table = pq.read_table(million_case_files["parquet"])
    encoded = benchmark(encode_batch, table, national_scheme)
    assert len(encoded) == million_case_files["n"]
    _rate(benchmark, len(encoded))


def test_group_cases_from_parquet_1m(benchmark, national_scheme, million_case_files):
    grouped = benchmark.pedantic(group_cases, (million_case_files["parquet"], national_scheme),
                                 rounds=5, warmup_rounds=1)
    assert len(grouped) == million_case_files["n"]
    _rate(benchmark, len(grouped))


def test_cli_parquet_to_parquet_1m(benchmark, million_case_files, tmp_path, capsys):
    args = ["group", "--scheme", str(NATIONAL_SCHEME_DIR), "--input",
            str(million_case_files["parquet"]), "--output", str(tmp_path / "grouped.parquet")]
    assert benchmark.pedantic(main, (args,), rounds=5, warmup_rounds=1) == 0
    _rate(benchmark, million_case_files["n"])


def test_cli_csv_to_csv_1m(benchmark, million_case_files, tmp_path, capsys):
    args = ["group", "--scheme", str(NATIONAL_SCHEME_DIR), "--input",
            str(million_case_files["csv"]), "--output", str(tmp_path / "grouped.csv")]
    assert benchmark.pedantic(main, (args,), rounds=3, warmup_rounds=1) == 0
    _rate(benchmark, million_case_files["n"])


@pytest.mark.parametrize("directory", VERSION_DIRS, ids=VERSION_IDS)
def test_version_kernel_1m(benchmark, directory, version_case_files):
    scheme = load_scheme(directory)
    path = version_case_files(directory)
    encoded = encode_batch(pq.read_table(path, columns=list(grouping_columns(scheme))), scheme)
    group_encoded(encoded, scheme)
    result = benchmark.pedantic(group_encoded, (encoded, scheme), rounds=7, warmup_rounds=1)
    assert len(result) == 1_000_000
    _rate(benchmark, len(result))


@pytest.mark.parametrize("directory", VERSION_DIRS, ids=VERSION_IDS)
def test_version_group_cases_from_parquet_1m(benchmark, directory, version_case_files):
    scheme = load_scheme(directory)
    path = version_case_files(directory)
    grouped = benchmark.pedantic(group_cases, (path, scheme), rounds=5, warmup_rounds=1)
    assert len(grouped) == 1_000_000
    _rate(benchmark, len(grouped))


def _time(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def compare_versions(rounds: int, n: int = 1_000_000, seed: int = 0) -> list[dict]:
    """Median kernel and ``group_cases`` seconds of every version, the versions timed in turns."""
    with tempfile.TemporaryDirectory() as folder:
        subjects = []
        for directory, name in zip(VERSION_DIRS, VERSION_IDS):
            scheme = load_scheme(directory)
            path = Path(folder) / f"{directory.name}.parquet"
            resample_corpus(n, scheme_dir=directory).to_parquet(path, index=False)
            encoded = encode_batch(pq.read_table(path, columns=list(grouping_columns(scheme))), scheme)
            group_cases(path, scheme)
            subjects.append({"version": name, "scheme": scheme, "path": path, "encoded": encoded,
                             "kernel": [], "group_cases": []})
        order = random.Random(seed)
        for _ in range(rounds):
            for subject in order.sample(subjects, len(subjects)):
                subject["kernel"].append(_time(group_encoded, subject["encoded"], subject["scheme"]))
                subject["group_cases"].append(_time(group_cases, subject["path"], subject["scheme"]))
    national = next(s for s in subjects if s["version"] == "chs-drg-1.1")
    base = {k: statistics.median(national[k]) for k in ("kernel", "group_cases")}
    return [{"version": s["version"],
             **{k: statistics.median(s[k]) for k in ("kernel", "group_cases")},
             **{f"{k}_ratio": statistics.median(s[k]) / base[k] for k in ("kernel", "group_cases")}}
            for s in subjects]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print("| version | kernel | ratio to 1.1 | group_cases from Parquet | ratio to 1.1 |")
    print("|---|---:|---:|---:|---:|")
    for row in compare_versions(args.rounds):
        print(f"| {row['version']} | {row['kernel']:.3f} s | {row['kernel_ratio']:.2f} | "
              f"{row['group_cases']:.3f} s | {row['group_cases_ratio']:.2f} |")
