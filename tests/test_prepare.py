"""Prepare once, settle many: ``settle_province`` is ``prepare_province`` then ``settle_prepared``, and a
prepared province settles alike however often and under whichever policy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drgdip.budget import load_policy, settle_province
from drgdip.budget.pipeline import prepare_province, settle_prepared
from drgdip.core.province import write_province
from drgdip.synth import generate_province

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "data" / "policies"
DEMO_SCHEME = REPO / "data" / "demo" / "scheme"
DEMO_DIP = REPO / "data" / "demo" / "dip"


@pytest.fixture(scope="module")
def province_dir(tmp_path_factory):
    province = generate_province(DEMO_SCHEME, cases=6_000, hospitals=12, regions=3, seed=41)
    directory = tmp_path_factory.mktemp("prepared_province")
    write_province(province, directory)
    return directory


def assert_same_settlement(one, other):
    for name, table in one.tables().items():
        pd.testing.assert_frame_equal(table.reset_index(drop=True), other.tables()[name].reset_index(drop=True),
                                      check_exact=True, obj=name)
    assert one.warnings == other.warnings


@pytest.mark.parametrize("policy_file", sorted(POLICIES.glob("*.yaml")), ids=lambda p: p.stem)
def test_settle_province_is_prepare_then_settle(province_dir, policy_file):
    policy = load_policy(policy_file)
    grouping = {"dip": DEMO_DIP} if policy.points.is_dip else {}
    prepared = prepare_province(province_dir, policy, **grouping)
    first = settle_prepared(prepared, policy)
    again = settle_prepared(prepared, policy)   # the preparation is not used up
    assert_same_settlement(first, again)
    assert_same_settlement(first, settle_province(province_dir, policy, **grouping))


def test_a_policy_changing_only_settlement_keys_reuses_the_preparation(province_dir, monkeypatch):
    from drgdip.budget import pipeline

    policy = load_policy(POLICIES / "remote_pool_province_2025.yaml")
    prepared = prepare_province(province_dir, policy)
    other = replace(policy, budget=replace(policy.budget, reserve_share=0.10))
    expected = settle_province(province_dir, other)
    calls = []
    monkeypatch.setattr(pipeline, "apply_day_care", lambda *a, **k: calls.append(1))
    result = settle_prepared(prepared, other)
    assert not calls
    assert_same_settlement(result, expected)


def test_other_day_care_rules_prepare_again(province_dir):
    policy = load_policy(POLICIES / "yanbian_day_surgery_2025.yaml")
    prepared = prepare_province(province_dir, policy)
    other = replace(policy, day_care=replace(policy.day_care, extended_needs_flag=not policy.day_care.extended_needs_flag))
    assert not prepared.same_preparation(other)
    assert_same_settlement(settle_prepared(prepared, other), settle_province(province_dir, other))


def test_other_settlement_year_stays_settle_with_the_settlement_columns(province_dir):
    policy = load_policy(POLICIES / "remote_pool_province_2025.yaml")
    prepared = prepare_province(province_dir, policy)
    fewer = prepared.current.iloc[: len(prepared.current) // 2].reset_index(drop=True)
    result = settle_prepared(prepared.with_settlement_year(fewer), policy)
    assert len(result.cases) == len(fewer)
    assert result.cases["case_id"].tolist() == fewer["case_id"].tolist()
    ledger = result.summary["final_payments"] + result.summary["reserve_end"]
    assert np.allclose(ledger, result.summary["budget_total"], atol=0.005)


@pytest.mark.parametrize("policy_file", ["panzhihua_drg_day_care_2025.yaml", "jining_dip_day_ward_2025.yaml"])
def test_points_policies_in_turn_reuse_the_layout_where_it_holds(province_dir, policy_file, monkeypatch):
    """A prepared province settled under one points policy after another reads only the points again
    and keeps the last policy's layout when every stay keeps its status; each result equals a fresh
    ``settle_province``, to the fen."""
    from drgdip.budget import inputs
    from drgdip.simulate.scenarios import apply_overrides

    policy = load_policy(POLICIES / policy_file)
    grouping = {"dip": DEMO_DIP} if policy.points.is_dip else {}
    prepared = prepare_province(province_dir, policy, **grouping)
    calls = []
    real = inputs.build_layout
    monkeypatch.setattr(inputs, "build_layout", lambda *a, **k: calls.append(1) or real(*a, **k))
    steps = [policy, apply_overrides(policy, {"points.hospital_coef.by_level.3": 1.17}),
             apply_overrides(policy, {"settlement.drg_exclude_los.at_most": 2}),
             apply_overrides(policy, {"points.outliers.low_ratio": 0.45}), policy]
    laid_out = []
    for step in steps:
        before = len(calls)
        got = settle_prepared(prepared, step, input_columns=False)
        laid_out.append(len(calls) - before)
        expected = settle_province(province_dir, step, **grouping)
        for name in ("hospitals", "pools", "summary"):
            pd.testing.assert_frame_equal(getattr(got, name).reset_index(drop=True),
                                          getattr(expected, name).reset_index(drop=True), check_exact=True, obj=name)
    assert laid_out[:2] == [1, 0]   # a coefficient keeps every status: the layout is reused


@pytest.mark.parametrize("policy_file", ["panzhihua_drg_day_care_2025.yaml", "jining_dip_day_ward_2025.yaml"])
def test_a_drawn_province_takes_its_history_from_the_province_it_was_drawn_from(province_dir, monkeypatch,
                                                                                policy_file):
    """A Monte Carlo draw changes the settlement year's stays only: its settlement takes the history's
    arrays and mapping from the settlement input of the province it was drawn from, and the points of
    every stay no step rewrote from that province's points; it equals the settlement of the same drawn
    stays made from scratch, to the fen, stay by stay."""
    from drgdip.budget import inputs, pipeline
    from drgdip.simulate import MonteCarlo, draw_province

    policy = load_policy(POLICIES / policy_file)
    prepared = prepare_province(province_dir, policy, **({"dip": DEMO_DIP} if policy.points.is_dip else {}))
    settle_prepared(prepared, policy, input_columns=False, per_stay=False)
    monte_carlo = MonteCarlo(draws=2, seed=5, vary={
        "volume_growth": {"dist": "uniform", "params": {"low": -0.05, "high": 0.1}, "per": "hospital"},
        "coding_upshift": {"dist": "fixed", "params": {"value": 0.3}}})
    drawn, drawn_policy = draw_province(prepared, policy, monte_carlo, 1)
    calls, pointed = [], []
    real = inputs.map_history
    monkeypatch.setattr(inputs, "map_history", lambda *a, **k: calls.append(1) or real(*a, **k))
    real_points = pipeline.settlement_year_points
    monkeypatch.setattr(pipeline, "settlement_year_points",
                        lambda frame, *a, **k: pointed.append(len(frame)) or real_points(frame, *a, **k))
    got = settle_prepared(drawn, drawn_policy, input_columns=False)
    source, changed = drawn.parent_points[1:]
    assert calls == [] and pointed == [int(changed.sum())] and 0 < changed.sum() < len(changed)
    assert len(source) != len(prepared.current)   # stays were copied or removed
    fresh = replace(drawn, parent_inputs=None, parent_points=None, settlement_inputs={}, year_points={},
                    of_current={})
    expected = settle_prepared(fresh, drawn_policy, input_columns=False)
    assert calls == [1] and pointed[1:] == [len(drawn.current)]
    for name in ("hospitals", "pools", "summary", "cases"):
        pd.testing.assert_frame_equal(getattr(got, name).reset_index(drop=True),
                                      getattr(expected, name).reset_index(drop=True), check_exact=True, obj=name)
