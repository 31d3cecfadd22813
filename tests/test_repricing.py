"""Points at other coefficients from a kept run (``drgdip.pointvalue.repricing``) are the very floats the
points stage gives, and a prepared province settled under coefficient scenarios equals fresh settlements."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drgdip.budget import load_policy, settle_province
from drgdip.budget.pipeline import prepare_province, settle_prepared
from drgdip.core.province import write_province
from drgdip.pointvalue import HospitalCoefTable, OutlierRules, PointsPolicy, WeightTable
from drgdip.pointvalue.points import case_point_inputs, points_at
from drgdip.pointvalue.repricing import points_recipe, recipe_part, repriced_points
from drgdip.pointvalue.rules import BedDayPhase, BedDayRules, RemoteRules
from drgdip.simulate.scenarios import apply_overrides
from drgdip.synth import generate_province

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "data" / "policies"
DEMO_SCHEME = REPO / "data" / "demo" / "scheme"
DEMO_DIP = REPO / "data" / "demo" / "dip"

GROUPS = ["A", "B", "C", "BD"]
coefs = st.floats(0.5, 1.6, allow_nan=False)


def _table():
    frame = pd.DataFrame({"group": GROUPS, "base_points": [60.0, 250.0, 1000.0, 120.0],
                          "mean_cost": [6000.0, 25000.0, 100000.0, 12000.0], "is_basic": [False, True, False, False],
                          "basic_coef": [np.nan, 0.9, np.nan, np.nan]})
    return WeightTable(frame=frame, points_scale=100.0, all_case_mean=10000.0)


def _cases(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(GROUPS + [None], n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    regions = np.array(["510100", "510400", "520100"])
    region = rng.choice(regions[:2], n)
    insured = np.where(rng.random(n) < 0.3, rng.choice(regions, n), region)
    return pd.DataFrame({
        "case_id": [f"c{i}" for i in range(n)], "drg": group, "dip_group": group,
        "total_cost": np.round(rng.lognormal(9.5, 0.9, n), 2), "hospital_id": rng.choice(["H1", "H2", "H3", "H4"], n),
        "hospital_level": rng.choice([1, 2, 3, None], n, p=[0.3, 0.3, 0.35, 0.05]), "region": region,
        "insured_region": insured, "los": rng.integers(1, 40, n), "insurance_type": rng.choice(["employee", "resident"], n),
        "aux_coef": rng.choice([1.0, 1.0, 1.25], n), "other_coef": rng.choice([1.0, 1.0, 0.9], n)})


def _policy(scheme, formula, coefs_on_outliers, blank_coefs, by_level, remote_coef, by_hospital=None,
            by_insurance=None, fund_shares=False) -> PointsPolicy:
    phases = (BedDayPhase(from_day=1, to_day=10, daily_std=400.0, fund_share=0.8 if fund_shares else None),
              BedDayPhase(from_day=11, to_day=400, daily_std=250.0, fund_share=0.6 if fund_shares else None))
    return PointsPolicy(
        scheme=scheme,
        outliers=OutlierRules(outlier_reference="group_mean", high_formula=formula,
                              coefs_on_outliers=coefs_on_outliers, blank_group_coefs=blank_coefs),
        hospital_coef=HospitalCoefTable(by_level=by_level, by_hospital=by_hospital or {},
                                        by_insurance=by_insurance or {}, default=1.0,
                                        basic_group_coef_mode="per_group"),
        remote=RemoteRules(remote_coef=remote_coef),
        bed_day=BedDayRules(bedday_phases=phases, groups=("BD",), acute_phase="points", mean_cost_per_case=10000.0))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scheme=st.sampled_from(["dip", "drg_points"]),
       formula=st.sampled_from(["dip1", "jining", "review_only", "drg_tiered"]), coefs_on_outliers=st.booleans(),
       blank_coefs=st.booleans(), fund_shares=st.booleans(), old=st.tuples(coefs, coefs, coefs, coefs),
       new=st.tuples(coefs, coefs, coefs, coefs), by_hospital=st.booleans(), by_insurance=st.booleans())
def test_repriced_points_are_the_points_of_the_new_coefficients(seed, scheme, formula, coefs_on_outliers,
                                                                 blank_coefs, fund_shares, old, new, by_hospital,
                                                                 by_insurance):
    cases, table = _cases(seed), _table()

    def policy(values):
        return _policy(scheme, formula, coefs_on_outliers, blank_coefs, {1: values[0], 2: values[1], 3: values[2]},
                       values[3], by_hospital={"H2": values[0] * 1.1} if by_hospital else None,
                       by_insurance={"resident": values[1] * 0.9} if by_insurance else None, fund_shares=fund_shares)

    inputs = case_point_inputs(cases, table, policy(old))
    recipe = points_recipe([recipe_part(inputs, points_at(inputs))], cases, policy(old), table, "<cases>")
    got = repriced_points(recipe, policy(new), table)
    expected = points_at(case_point_inputs(cases, table, policy(new)))
    assert got is not None
    # the same floats, not merely close ones: settlement sums them to the fen
    np.testing.assert_array_equal(got["case_points"], expected["final_points"].to_numpy())
    np.testing.assert_array_equal(got["applied_hospital_coef"], expected["applied_hospital_coef"].to_numpy())
    np.testing.assert_array_equal(got["remote_coef"], expected["remote_coef"].to_numpy())
    if fund_shares:
        np.testing.assert_array_equal(got["fund_part_points"], expected["fund_part_points"].to_numpy())


def test_a_recipe_refuses_what_it_cannot_price():
    cases, table = _cases(7), _table()
    policy = _policy("drg_points", "drg_tiered", True, False, {1: 0.9, 2: 1.0, 3: 1.1}, 1.0)
    inputs = case_point_inputs(cases, table, policy)
    recipe = points_recipe([recipe_part(inputs, points_at(inputs))], cases, policy, table, "<cases>")
    by_group = replace(policy, hospital_coef=replace(policy.hospital_coef, by_group_level={"A": {3: 1.3}}))
    other_rules = replace(policy, outliers=replace(policy.outliers, drg_low_ratio=0.5))
    no_level = replace(policy, hospital_coef=HospitalCoefTable(by_level={3: 1.0}))   # levels 1, 2: no coefficient
    for changed in (by_group, other_rules, no_level):
        assert repriced_points(recipe, changed, table) is None
    assert repriced_points(recipe, policy, _table()) is None   # another weight table
    standard = replace(policy, outliers=replace(policy.outliers, outlier_reference="standard"))
    assert points_recipe([recipe_part(inputs, points_at(inputs, point_value=10.0))], cases, standard, table,
                         "<cases>") is None


@pytest.fixture(scope="module")
def province_dir(tmp_path_factory):
    province = generate_province(DEMO_SCHEME, cases=6_000, hospitals=12, regions=3, seed=43)
    directory = tmp_path_factory.mktemp("repriced_province")
    write_province(province, directory)
    return directory


@pytest.mark.parametrize("policy_file, changes", [
    ("panzhihua_drg_day_care_2025.yaml", {}),
    # day-care stays paid outside the point pool: their fixed payments priced directly too
    ("panzhihua_drg_day_care_2025.yaml", {"day_care.in_pool": False}),
    ("jining_dip_day_ward_2025.yaml", {}), ("remote_pool_province_2025.yaml", {})],
    ids=["panzhihua", "panzhihua_out_of_pool", "jining", "remote_pool"])
def test_coefficient_scenarios_price_the_kept_points_and_equal_fresh_settlements(province_dir, policy_file, changes,
                                                                                monkeypatch):
    """Each coefficient scenario settled on one preparation equals ``settle_province`` with the changed
    policy, every table and every stay; after the first run neither the points stage nor the layout
    runs again."""
    from drgdip.budget import inputs
    from drgdip.pointvalue import points as points_module

    policy = apply_overrides(load_policy(POLICIES / policy_file), changes)
    grouping = {"dip": DEMO_DIP} if policy.points.is_dip else {}
    prepared = prepare_province(province_dir, policy, **grouping)
    hospital = str(prepared.current["hospital_id"].iloc[0])
    steps = [policy, apply_overrides(policy, {"points.hospital_coef.by_level.3": 1.17}),
             apply_overrides(policy, {"points.hospital_coef.by_level.1": 0.83, "points.remote.remote_coef": 0.95}),
             apply_overrides(policy, {f"points.hospital_coef.by_hospital.{hospital}": 1.3}),
             apply_overrides(policy, {"points.hospital_coef.default": 0.97})]
    calls, layouts, reads = [], [], []
    real = points_module.case_point_inputs
    monkeypatch.setattr(points_module, "case_point_inputs", lambda *a, **k: calls.append(1) or real(*a, **k))
    real_layout = inputs.build_layout
    monkeypatch.setattr(inputs, "build_layout", lambda *a, **k: layouts.append(1) or real_layout(*a, **k))
    real_read = inputs.case_arrays
    monkeypatch.setattr(inputs, "case_arrays", lambda *a, **k: reads.append(1) or real_read(*a, **k))
    from drgdip.budget import repriced_points
    methods = []
    real_methods = repriced_points.with_payment_methods
    monkeypatch.setattr(repriced_points, "with_payment_methods",
                        lambda *a, **k: methods.append(1) or real_methods(*a, **k))
    ran, laid_out, read, day_care = [], [], [], []
    for step in steps:
        before, before_layouts, before_reads, before_methods = len(calls), len(layouts), len(reads), len(methods)
        got = settle_prepared(prepared, step)
        ran.append(len(calls) - before)
        laid_out.append(len(layouts) - before_layouts)
        read.append(len(reads) - before_reads)
        day_care.append(len(methods) - before_methods)
        expected = settle_province(province_dir, step, **grouping)
        for name, table in got.tables().items():
            pd.testing.assert_frame_equal(table.reset_index(drop=True), expected.tables()[name].reset_index(drop=True),
                                          check_exact=True, obj=name)
        assert got.warnings == expected.warnings
    assert ran[0] > 0 and ran[1:] == [0] * (len(steps) - 1)
    assert laid_out[1:] == [0] * (len(steps) - 1)   # a coefficient, the remote one too, keeps the layout
    assert read[0] > 0 and read[1:] == [0] * (len(steps) - 1)   # only the rewritten points columns are read
    if changes.get("day_care.in_pool") is False:
        assert (got.pools["fixed_payments"] > 0).any()   # day-care stays paid outside the pool are there
    if policy_file == "panzhihua_drg_day_care_2025.yaml":
        # the day-care stays' payment methods run once with the first settlement; scenarios price them directly
        assert day_care[0] > 0 and day_care[1:] == [0] * (len(steps) - 1)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), changed=st.sets(st.sampled_from(
    ["case_points", "fixed_payment", "fund_part_points", "outlier_class", "base_points"]), min_size=1))
def test_reading_only_the_rewritten_columns_gives_the_arrays_of_a_full_read(seed, changed):
    from drgdip.budget.frame import case_arrays, points_again

    rng = np.random.default_rng(seed)
    n = 300
    points = rng.lognormal(4, 1, n)
    fixed = np.where(rng.random(n) < 0.1, rng.lognormal(7, 1, n).round(2), np.nan)
    frame = pd.DataFrame({
        "case_id": [f"c{i}" for i in range(n)], "hospital_id": rng.choice(["H1", "H2"], n),
        "region": rng.choice(["R1", "R2"], n), "total_cost": rng.lognormal(9, 1, n).round(2),
        "fund_paid": rng.lognormal(8, 1, n).round(2), "case_points": np.where(rng.random(n) < 0.05, np.nan, points),
        "fixed_payment": fixed, "fund_part_points": points * rng.choice([0.0, 0.5], n),
        "outlier_class": rng.choice(["normal", "high", "low"], n), "base_points": rng.lognormal(4, 1, n),
        "settle_status": rng.choice(["ok", "ok", "excluded"], n)})
    other = frame.copy()
    rows = rng.random(n) < 0.4
    if "case_points" in changed:
        other.loc[rows, "case_points"] = np.where(rng.random(rows.sum()) < 0.1, np.nan, points[rows] * 1.1)
    if "fixed_payment" in changed:
        other.loc[rows, "fixed_payment"] = np.where(rng.random(rows.sum()) < 0.5, np.nan, 99.5)
    if "fund_part_points" in changed:
        other.loc[rows, "fund_part_points"] = 0.0
    if "outlier_class" in changed:
        other.loc[rows, "outlier_class"] = "special"
    if "base_points" in changed:
        other.loc[rows, "base_points"] = 1.0
    again = points_again(case_arrays(frame), other, frozenset(changed) | {"case_points"})
    fresh = case_arrays(other)
    for name in ("points", "fixed", "fixed_fen", "status", "status_labels", "base_points", "outlier_class",
                 "outlier_labels", "fund_part_points", "hospital", "cost_fen", "month"):
        np.testing.assert_array_equal(getattr(again, name), getattr(fresh, name), err_msg=name)


@settings(max_examples=5, deadline=None)
@given(level_coefs=st.tuples(coefs, coefs, coefs), remote_coef=coefs)
def test_any_coefficient_scenario_equals_a_fresh_settlement(province_dir, level_coefs, remote_coef):
    policy = load_policy(POLICIES / "panzhihua_drg_day_care_2025.yaml")
    prepared = _prepared(province_dir, policy)
    settle_prepared(prepared, policy, per_stay=False)
    changed = apply_overrides(policy, {"points.hospital_coef.by_level.1": level_coefs[0],
                                       "points.hospital_coef.by_level.2": level_coefs[1],
                                       "points.hospital_coef.by_level.3": level_coefs[2],
                                       "points.remote.remote_coef": remote_coef})
    got = settle_prepared(prepared, changed, input_columns=False)
    expected = settle_province(province_dir, changed)
    for name in ("hospitals", "pools", "summary"):
        pd.testing.assert_frame_equal(getattr(got, name).reset_index(drop=True),
                                      getattr(expected, name).reset_index(drop=True), check_exact=True, obj=name)


_PREPARED: dict = {}


def _prepared(province_dir, policy):
    if province_dir not in _PREPARED:
        _PREPARED[province_dir] = prepare_province(province_dir, policy)
    return _PREPARED[province_dir]
