"""Benchmark of reading the published city DRG tables: all 27 shipped tables, as the agency hands them
(encoding detected, Chinese headers mapped, every cell checked), and pricing 1M stays with one of them.

Run with ``pytest benchmarks/bench_published.py --benchmark-only``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drgdip.pointvalue.published import price_stays, published_table_names, read_published_table
from drgdip.pointvalue.rules import PublishedTableRules


def test_read_all_published_tables(benchmark):
    names = published_table_names()
    tables = benchmark(lambda: [read_published_table(name) for name in names])
    assert len(tables) == 27
    benchmark.extra_info["rows"] = int(sum(len(table.frame) for table in tables))


def test_price_1m_stays(benchmark):
    table = read_published_table("wuhan-2022")
    rules = PublishedTableRules(table="wuhan-2022", base_rate_by_insurance={"employee": 10618, "resident": 9800},
                                level_coefs={"三级": 1.15, "一级": 0.85})
    rng = np.random.default_rng(0)
    n = 1_000_000
    stays = pd.DataFrame({"drg": pd.Categorical(rng.choice(table.frame["group"].to_numpy(), n)),
                          "hospital_level": rng.integers(1, 4, n),
                          "insurance_type": pd.Categorical(rng.choice(["employee", "resident"], n))})
    prices = benchmark(lambda: price_stays(stays, table, rules))
    assert (prices["unpriced_reason"] == "").mean() > 0.9
