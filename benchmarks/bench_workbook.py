"""``settlement.xlsx``: the workbook of a 50,000-stay demo province (``pytest benchmarks/bench_workbook.py
--benchmark-only``), without and with the per-stay sheet."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
POLICY = REPO / "data" / "policies" / "panzhihua_drg_day_care_2025.yaml"


@pytest.fixture(scope="module")
def settlement():
    from drgdip.budget import load_policy, settle_province
    from drgdip.synth import generate_province

    province = generate_province(REPO / "data" / "demo" / "scheme", cases=50_000, hospitals=20, regions=4, seed=20231)
    return settle_province(province, load_policy(POLICY))


@pytest.mark.parametrize("case_rows", [0, 1_000_000], ids=["tables", "with_stays"])
def test_write_workbook(benchmark, settlement, tmp_path, case_rows):
    from drgdip.budget.report import write_workbook

    path = benchmark.pedantic(write_workbook, args=(settlement, tmp_path / "settlement.xlsx"),
                              kwargs={"case_rows": case_rows}, rounds=3, iterations=1)
    benchmark.extra_info["stays"] = len(settlement.cases)
    assert path.stat().st_size > 0
