"""Invariants of weights and points (hypothesis): currency scale, monotonicity in cost, unit coefficients."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

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
