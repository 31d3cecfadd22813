"""Performance assessment indicators (``pytest benchmarks/bench_indicators.py --benchmark-only``) of the
settled stays of a 50,000-stay demo province, and the assessment settlement that uses them."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
POLICY = REPO / "data" / "policies" / "panzhihua_drg_day_care_2025.yaml"


@pytest.fixture(scope="module")
def province():
    from drgdip.synth import generate_province

    return generate_province(REPO / "data" / "demo" / "scheme", cases=50_000, hospitals=20, regions=4, seed=20231)


@pytest.fixture(scope="module")
def settlement(province):
    from drgdip.budget import load_policy, settle_province

    return settle_province(province, load_policy(POLICY))


def test_indicator_tables(benchmark, settlement):
    from drgdip.budget.indicators import indicator_tables

    tables = benchmark.pedantic(indicator_tables, args=(settlement.cases, settlement.hospitals), rounds=5,
                                iterations=1)
    benchmark.extra_info["stays"] = len(settlement.cases)
    assert len(tables["indicators"]) == len(settlement.hospitals)


@pytest.mark.parametrize("assessed", [False, True], ids=["plain", "assessment_from_indicators"])
def test_settle_with_assessment(benchmark, province, assessed):
    from drgdip.budget import load_policy, settle_province
    from drgdip.simulate.scenarios import apply_overrides

    policy = load_policy(POLICY)
    if assessed:
        policy = apply_overrides(policy, {
            "settlement.assessment_indicators.weights": {"cost_consumption_index": 1, "readmission_30d": 1},
            "settlement.assessment_indicators.bands": [{"min_score": 50, "coef": 1.0}, {"min_score": 0, "coef": 0.97}]})
    result = benchmark.pedantic(settle_province, args=(province, policy), rounds=3, iterations=1)
    assert len(result.hospitals) == 20
