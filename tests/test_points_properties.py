"""Invariants of weights and points (hypothesis): currency scale, monotonicity in cost, unit coefficients."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drgdip.budget import load_policy
from drgdip.pointvalue import (DrgWeights, HospitalCoefTable, OutlierRules, PointsPolicy, Trim, WeightTable,
                        case_points)

GROUPS = np.array(["A", "B", "C", "D"])

formulas = st.sampled_from(["dip1", "jining", "review_only", "drg_tiered"])
schemes = st.sampled_from(["dip", "drg_points"])
coef_values = st.floats(0.5, 1.5, allow_nan=False)


def _history(rng, n):
    return pd.DataFrame({"drg": rng.choice(GROUPS, n), "year": rng.integers(2021, 2024, n),
                         "total_cost": np.round(rng.lognormal(9, 0.6, n), 2), "hospital_level": rng.integers(1, 4, n)})


def _cases(rng, n):
    frame = _history(rng, n).drop(columns="year")
    frame.insert(0, "case_id", [f"k{i}" for i in range(n)])
    frame["dip_group"] = frame["drg"]
    frame.loc[rng.random(n) < 0.05, ["drg", "dip_group"]] = "ZZZ"   # some cases without a weight
    frame["total_cost"] = frame["total_cost"] * rng.choice([0.2, 1.0, 2.5, 7.0], n)
    frame["aux_coef"] = rng.choice([1.0, 1.0, 1.3], n)
    return frame


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), exponent=st.integers(-6, 12), scheme=schemes, formula=formulas,
       trim=st.sampled_from(["percentile", "sd", "iqr", "none"]), mode=st.sampled_from(["mean", "case"]),
       reference=st.sampled_from(["group_mean", "same_level_mean"]))
def test_scaling_all_costs_leaves_weights_and_points_unchanged(seed, exponent, scheme, formula, trim, mode,
                                                                reference):
    # k is a power of two so that scaling is exact in binary floating point: any other k moves a
    # ratio that sits exactly on a band boundary by one ulp, which is rounding, not a property.
    k = 2.0 ** exponent
    rng = np.random.default_rng(seed)
    history = _history(rng, 400)
    cases = _cases(rng, 300)
    policy = PointsPolicy(scheme=scheme, outliers=OutlierRules(high_formula=formula, outlier_reference=reference),
                          hospital_coef=HospitalCoefTable(by_level={1: 0.8, 2: 1.0, 3: 1.2}))
    calibrator = DrgWeights(trim=Trim(method=trim), year_weight_mode=mode, group_col="drg")
    one = calibrator.fit(history).weight_table()
    scaled = DrgWeights(**calibrator.get_params()).fit(history.assign(total_cost=history.total_cost * k))
    np.testing.assert_array_equal(one.frame["rw"], scaled.table_["rw"])
    np.testing.assert_array_equal(one.frame["base_points"], scaled.table_["base_points"])
    points = case_points(cases, one, policy)
    points_k = case_points(cases.assign(total_cost=cases.total_cost * k), scaled.weight_table(), policy)
    assert points["outlier_class"].tolist() == points_k["outlier_class"].tolist()
    np.testing.assert_allclose(points["final_points"], points_k["final_points"], rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(scheme=schemes, formula=formulas, coef=coef_values, aux=st.sampled_from([1.0, 1.5]),
       low_inclusive=st.booleans(), high_inclusive=st.booleans(), coefs_on_outliers=st.booleans(),
       extreme=st.sampled_from([None, 4.0, 5.0]), base=st.sampled_from([60.0, 250.0, 400.0, 1000.0]),
       costs=st.lists(st.floats(0.0, 80000.0, allow_nan=False), min_size=2, max_size=60))
def test_points_are_monotone_in_cost_within_each_band(scheme, formula, coef, aux, low_inclusive, high_inclusive,
                                                      coefs_on_outliers, extreme, base, costs):
    weights = WeightTable(frame=pd.DataFrame({"group": ["G"], "base_points": [base], "mean_cost": [10000.0]}),
                          points_scale=100.0, all_case_mean=10000.0)
    policy = PointsPolicy(scheme=scheme, hospital_coef=HospitalCoefTable(by_level={3: coef}),
                          outliers=OutlierRules(outlier_reference="group_mean", high_formula=formula,
                                                low_inclusive=low_inclusive, high_inclusive=high_inclusive,
                                                coefs_on_outliers=coefs_on_outliers, extreme_ratio=extreme,
                                                drg_low_inclusive=low_inclusive))
    costs = np.sort(np.asarray(costs))
    frame = pd.DataFrame({"case_id": np.arange(len(costs)).astype(str), "drg": "G", "dip_group": "G",
                          "total_cost": costs, "hospital_level": 3, "aux_coef": aux})
    out = case_points(frame, weights, policy)
    for _, band in out.groupby("outlier_class", observed=True):
        points = band["final_points"].to_numpy()
        assert np.all(np.diff(points) >= -1e-9 * np.abs(points[1:]))
        assert np.all(points >= 0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scheme=schemes, formula=formulas)
def test_coefficient_one_everywhere_reproduces_base_points(seed, scheme, formula):
    rng = np.random.default_rng(seed)
    weights = DrgWeights().fit(_history(rng, 300)).weight_table()
    cases = _cases(rng, 200).assign(aux_coef=1.0)
    policy = PointsPolicy(scheme=scheme, outliers=OutlierRules(outlier_reference="group_mean", high_formula=formula))
    out = case_points(cases, weights, policy)
    normal = out["outlier_class"] == "normal"
    assert normal.any()
    np.testing.assert_array_equal(out.loc[normal, "final_points"], out.loc[normal, "base_points"])
    graded = out["outlier_class"].isin(["normal", "low", "high", "extreme"])
    np.testing.assert_allclose(out.loc[graded, "final_points"],
                               out.loc[graded, "base_points"] * out.loc[graded, "outlier_factor"], rtol=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_one_row_per_case_in_order_and_shuffle_permutes(seed):
    rng = np.random.default_rng(seed)
    weights = DrgWeights().fit(_history(rng, 300)).weight_table()
    cases = _cases(rng, 150)
    policy = PointsPolicy(scheme="drg_points")
    out = case_points(cases, weights, policy)
    order = rng.permutation(len(cases))
    shuffled = case_points(cases.iloc[order].reset_index(drop=True), weights, policy)
    assert out["case_id"].tolist() == cases["case_id"].tolist()
    np.testing.assert_array_equal(shuffled["final_points"].to_numpy(), out["final_points"].to_numpy()[order])


SHIPPED_POLICIES = sorted((Path(__file__).resolve().parents[1] / "data" / "policies").glob("*.yaml"))
SHIPPED_POINTS = {path.stem: load_policy(path).points for path in SHIPPED_POLICIES}


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(SHIPPED_POINTS)), base=st.sampled_from([60.0, 250.0, 400.0, 1000.0]),
       level=st.sampled_from([1, 2, 3]), basic=st.booleans(), aux=st.sampled_from([1.0, 1.3]),
       bed_day_group=st.booleans(), los=st.integers(1, 120),
       costs=st.lists(st.floats(0.0, 120000.0, allow_nan=False), min_size=2, max_size=80))
def test_shipped_policies_pay_more_points_for_more_cost_within_a_group(name, base, level, basic, aux,
                                                                       bed_day_group, los, costs):
    """Within one group, at one hospital level, ``final_points`` never falls as the cost rises, under
    every shipped policy (the DRG extreme band once made a DRG stay at 4.9× its standard worth 290
    points and one at 5.1× worth 100).

    One exception is the policies' own design, and is asserted exactly: a DIP policy's extreme band
    (DIP 1.0 "≥ 5× → expert review", Jining [NODE]; §5.2) pays the standard ``base × coef × aux``
    and lists the case for special review, so its points drop when the cost crosses the bound from
    the high band. The review decides such a case's payment (§5.4). DRG policies have no such band.
    """
    points = SHIPPED_POINTS[name]
    group = points.bed_day.groups[0] if bed_day_group and points.bed_day.groups else "G"
    weights = WeightTable(frame=pd.DataFrame({"group": [group], "base_points": [base], "mean_cost": [10000.0],
                                              "is_basic": [basic]}),
                          points_scale=points.points_scale, all_case_mean=10000.0)
    costs = np.sort(np.asarray(costs))
    n = len(costs)
    frame = pd.DataFrame({"case_id": [f"c{i}" for i in range(n)], "drg": group, "dip_group": group,
                          "total_cost": costs, "hospital_id": "H1", "hospital_level": level, "aux_coef": aux,
                          "los": los})
    out = case_points(frame, weights, points, point_value=10000.0 / base)   # the standard is 10,000 × coef
    final = out["final_points"].to_numpy()
    klass = out["outlier_class"].astype(str).to_numpy()
    falls = np.flatnonzero(np.diff(final) < -1e-9 * np.abs(final[1:]))
    if not points.is_dip:
        assert "extreme" not in klass
        assert not len(falls), out.iloc[[falls[0], falls[0] + 1]][["total_cost", "outlier_class", "final_points"]]
    for i in falls:
        assert (klass[i], klass[i + 1]) == ("high", "extreme"), out.iloc[[i, i + 1]]
        row = out.iloc[i + 1]
        assert bool(row["special_review_candidate"])
        assert row["final_points"] == pytest.approx(base * row["applied_hospital_coef"] * aux)
    assert np.all(final >= 0)


SHIPPED_FULL = {path.stem: load_policy(path) for path in SHIPPED_POLICIES}


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(sorted(SHIPPED_FULL)), base=st.sampled_from([60.0, 250.0, 400.0, 1000.0]),
       level=st.sampled_from([1, 2, 3]), basic=st.booleans(), aux=st.sampled_from([1.0, 1.3]),
       bed_day_group=st.booleans(), los=st.integers(1, 120),
       coefs=st.lists(st.floats(0.5, 1.6, allow_nan=False), min_size=2, max_size=2),
       costs=st.lists(st.floats(0.0, 120000.0, allow_nan=False), min_size=1, max_size=40))
def test_shipped_policies_never_pay_fewer_points_at_a_higher_hospital_coefficient(name, base, level, basic, aux,
                                                                                  bed_day_group, los, coefs, costs):
    """The same stay earns at least as many points when its hospital's coefficient is higher, under every
    shipped policy and at any cost (a low-cost Jining stay once earned 500 points at coefficient 0.8 and
    400 at 1.0)."""
    from drgdip.simulate.scenarios import apply_overrides

    policy = SHIPPED_FULL[name]
    group = policy.points.bed_day.groups[0] if bed_day_group and policy.points.bed_day.groups else "G"
    weights = WeightTable(frame=pd.DataFrame({"group": [group], "base_points": [base], "mean_cost": [10000.0],
                                              "is_basic": [basic]}),
                          points_scale=policy.points.points_scale, all_case_mean=10000.0)
    n = len(costs)
    frame = pd.DataFrame({"case_id": [f"c{i}" for i in range(n)], "drg": group, "dip_group": group,
                          "total_cost": costs, "hospital_id": "H1", "hospital_level": level, "aux_coef": aux,
                          "los": los})
    lower, higher = (apply_overrides(policy, {f"points.hospital_coef.by_level.{level}": c}).points
                     for c in sorted(coefs))
    low = case_points(frame, weights, lower, point_value=10000.0 / base)["final_points"].to_numpy()
    high = case_points(frame, weights, higher, point_value=10000.0 / base)["final_points"].to_numpy()
    falls = np.flatnonzero(high < low * (1 - 1e-12) - 1e-9)
    assert not len(falls), (sorted(coefs), np.asarray(costs)[falls[:3]], low[falls[:3]], high[falls[:3]])


def test_a_low_cost_stay_earns_its_cost_in_points_at_every_level_under_the_standard_reference():
    """Domain §5.2: with the payment standard (score × point value × coef) as the reference, a low case
    earns score × coef × ratio = cost ÷ point value, whatever the coefficient (the Jining policy once
    dropped the coefficient there and paid 500 points at coefficient 0.8 but 400 at 1.0)."""
    from drgdip.simulate.scenarios import apply_overrides

    policy = apply_overrides(SHIPPED_FULL["jining_dip_day_ward_2025"], {
        "points.outliers.outlier_reference": "standard", "points.outliers.coefs_on_outliers": False,
        "points.hospital_coef.by_level": {1: 0.8, 2: 0.9, 3: 1.0}})
    weights = WeightTable(frame=pd.DataFrame({"group": ["G"], "base_points": [1000.0], "mean_cost": [10000.0]}),
                          points_scale=1000.0, all_case_mean=10000.0)
    frame = pd.DataFrame({"case_id": ["a", "b"], "dip_group": "G", "total_cost": 4000.0, "hospital_id": ["H1", "H3"],
                          "hospital_level": [1, 3]})
    out = case_points(frame, weights, policy.points, point_value=10.0)
    assert out["outlier_class"].tolist() == ["low", "low"]
    assert out["final_points"].tolist() == pytest.approx([400.0, 400.0])
