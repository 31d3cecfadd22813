"""Grouper speed on 1M cases resampled from the public corpus (cases/s in extra_info)."""

from __future__ import annotations

import pyarrow.parquet as pq

from benchmarks.conftest import NATIONAL_SCHEME_DIR
from drgdip.cli import main
from drgdip.grouper import group_cases, load_scheme
from drgdip.grouper.drg import group_encoded
from drgdip.grouper.io import encode_batch


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
