"""Calibration of weights / scores (domain.md §2, §3.4): worked examples, trimming, tables, errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from drgdip.core.errors import UsageError
from drgdip.pointvalue import DipScores, DrgWeights, GroupWeights, PointsPolicy, Trim, WeightTable, hospital_level_coefs
from drgdip.pointvalue.rate import addon_points, drg_rate, payment_standard
from drgdip.pointvalue.weights import trim_mask

NO_TRIM = Trim(method="none")


def history(rows):
    return pd.DataFrame(rows, columns=["drg", "year", "total_cost"])


# ---------------------------------------------------------------------------------------------- §2.1

def test_year_weighted_mean_worked_example_2_1():
    # group means 9,000 (2021), 9,500 (2022), 10,000 (2023), weights 1:2:7 -> 9,800
    h = history([("A", 2021, 8000), ("A", 2021, 10000), ("A", 2022, 9500), ("A", 2023, 10000),
                 ("A", 2023, 9000), ("A", 2023, 11000)])
    fit = DrgWeights(trim=NO_TRIM).fit(h)
    assert fit.table_.loc[0, "mean_cost"] == pytest.approx(9800.0, abs=1e-9)
    assert fit.years_ == (2021, 2022, 2023)
    assert fit.year_weights_ == (1.0, 2.0, 7.0)


def test_case_mode_weights_cases_not_means():
    # 2021: two cases summing 20,000; 2023: one case of 10,000. case mode: (1*20000 + 7*10000)/(1*2 + 7*1)
    h = history([("A", 2021, 8000), ("A", 2021, 12000), ("A", 2023, 10000)])
    mean_mode = DrgWeights(trim=NO_TRIM, year_weights=(1, 2, 7)).fit(h).table_.loc[0, "mean_cost"]
    case_mode = DrgWeights(trim=NO_TRIM, year_weights=(1, 2, 7), year_weight_mode="case").fit(h).table_
    # only 2021 and 2023 are present: the 2022 weight drops out (mean mode renormalises over 1 + 7)
    assert mean_mode == pytest.approx((1 * 10000 + 7 * 10000) / 8)
    assert case_mode.loc[0, "mean_cost"] == pytest.approx((1 * 20000 + 7 * 10000) / (1 * 2 + 7 * 1))


def test_fewer_years_than_weights_align_to_latest_and_older_years_are_ignored():
    h = history([("A", 2019, 1e6), ("A", 2020, 100), ("A", 2021, 200), ("A", 2022, 300), ("A", 2023, 400)])
    fit = DrgWeights(trim=NO_TRIM, year_weights=(1, 2, 7)).fit(h)
    assert fit.years_ == (2021, 2022, 2023)
    assert fit.table_.loc[0, "mean_cost"] == pytest.approx((200 + 2 * 300 + 7 * 400) / 10)
    two = DrgWeights(trim=NO_TRIM, year_weights=(1, 2, 7)).fit(h[h.year >= 2022])
    assert two.year_weights_ == (2.0, 7.0)
    assert two.table_.loc[0, "mean_cost"] == pytest.approx((2 * 300 + 7 * 400) / 9)


# ---------------------------------------------------------------------------------------------- §2.2

def test_rw_base_points_and_cmi_worked_example_2_2():
    # all-case mean 10,000; A mean 6,000 -> RW 0.6 / 60 points; B mean 25,000 -> RW 2.5 / 250 points
    rows = [("A", 2023, 6000)] * 15 + [("B", 2023, 25000)] * 4 + [("C", 2023, 10000)] * 1
    fit = DrgWeights(trim=NO_TRIM, year_weights=(1,)).fit(history(rows))
    assert fit.all_case_mean_ == pytest.approx(10000.0)
    table = fit.table_.set_index("group")
    assert table.loc["A", "rw"] == pytest.approx(0.6)
    assert table.loc["A", "base_points"] == pytest.approx(60.0)
    assert table.loc["B", "rw"] == pytest.approx(2.5)
    assert table.loc["B", "base_points"] == pytest.approx(250.0)
    # a hospital with cases of RW {0.6, 1.0, 2.5}: CMI = 1.367
    cases = pd.DataFrame({"hospital_id": ["H1", "H1", "H1", "H2"], "drg": ["A", "C", "B", "A"]})
    cmi = fit.cmi(cases)
    assert round(cmi["H1"], 3) == 1.367
    assert cmi["H2"] == pytest.approx(0.6)
    assert fit.weight_table().total_weight() == pytest.approx(15 * 0.6 + 4 * 2.5 + 1 * 1.0)


def test_adjusted_weights_keep_total_weight():
    rows = [("A", 2023, 6000)] * 15 + [("B", 2023, 25000)] * 4 + [("C", 2023, 10000)] * 1
    table = DrgWeights(trim=NO_TRIM, year_weights=(1,)).fit(history(rows)).weight_table()
    adjusted = table.with_adjusted_rw({"A": 0.7})
    assert adjusted.total_weight() == pytest.approx(table.total_weight())
    frame = adjusted.frame.set_index("group")
    factor = table.total_weight() / (15 * 0.7 + 4 * 2.5 + 1.0)
    assert frame.loc["A", "rw"] == pytest.approx(0.7 * factor)
    assert frame.loc["B", "base_points"] == pytest.approx(250 * factor)


# ---------------------------------------------------------------------------------------------- §2.3

def test_rate_worked_example_2_3():
    rate = drg_rate(900e6, 0.6, 150_000)
    assert rate == pytest.approx(10_000.0)
    assert float(payment_standard(2.5, rate, 1.1)) == pytest.approx(27_500.0)
    # rate 10,000 per RW is point value 100 per point at 100 points per RW
    assert float(payment_standard(250, 100.0, 1.1)) == pytest.approx(27_500.0)


def test_new_technology_addon_example_4_4():
    assert float(addon_points(20_000, 1.0, 10.0)) == pytest.approx(2000.0)
    with pytest.raises(ValueError):
        addon_points(1, 1, 0)


# ---------------------------------------------------------------------------------------------- §2.4

def test_cv_and_riv_worked_example_2_4():
    rows = [("A", 2023, 4000), ("A", 2023, 6000), ("B", 2023, 9000), ("B", 2023, 11000)]
    fit = DrgWeights(trim=NO_TRIM, year_weights=(1,)).fit(history(rows))
    assert round(fit.riv_, 3) == 0.862  # 1 - 4/29
    assert fit.riv_ == pytest.approx(1 - 4 / 29)
    cv = fit.table_.set_index("group")["cv"]
    assert round(cv["A"], 2) == 0.28
    population = DrgWeights(trim=NO_TRIM, year_weights=(1,), cv_ddof=0).fit(history(rows))
    assert round(population.table_.set_index("group").loc["A", "cv"], 2) == 0.20


def test_riv_by_mdc_uses_mdc_column_or_first_letter():
    rows = [("FA1", 2023, 4000), ("FA1", 2023, 6000), ("FB1", 2023, 9000), ("FB1", 2023, 11000),
            ("GA1", 2023, 5000), ("GA1", 2023, 5000)]
    fit = DrgWeights(trim=NO_TRIM, year_weights=(1,)).fit(history(rows))
    assert fit.riv_by_mdc_["F"] == pytest.approx(1 - 4 / 29)
    assert math.isnan(fit.riv_by_mdc_["G"]) or fit.riv_by_mdc_["G"] == pytest.approx(1.0)
    assert set(fit.table_["mdc"]) == {"F", "G"}


# ---------------------------------------------------------------------------------------------- §3.4

@pytest.mark.parametrize("method, kwargs, scale, expected", [
    ("average", {}, 1000, 1225.0),
    ("base_disease", {"base_group": "BASE"}, 1000, 816.67),
    ("average", {}, 100, 122.5),
    ("standard_quota", {"standard_quota_yuan": 8.0}, 1000, 1225.0),
])
def test_score_methods_worked_example_3_4(method, kwargs, scale, expected):
    # m_i = 9,800; all-case mean M = 8,000; base group mean M_b = 12,000
    rows = [("G", 2023, 9800)] + [("BASE", 2023, 12000)] + [("X", 2023, 2200)]
    frame = pd.DataFrame(rows, columns=["dip_group", "year", "total_cost"])
    assert frame["total_cost"].mean() == 8000
    fit = DipScores(trim=NO_TRIM, year_weights=(1,), score_method=method, points_scale=scale, **kwargs).fit(frame)
    score = fit.table_.set_index("group").loc["G", "base_points"]
    assert round(score, 2) == expected


# ---------------------------------------------------------------------------------------------- trimming

def test_percentile_trim_is_by_rank_and_keeps_small_units():
    cost = np.arange(1, 81, dtype=float)          # 80 cases in one unit: drop 2 lowest, 2 highest
    keep = trim_mask(cost, np.zeros(80, np.int64), 1, Trim(method="percentile", lo=2.5, hi=97.5))
    assert keep.sum() == 76 and not keep[[0, 1, 78, 79]].any()
    small = trim_mask(np.array([1.0, 1000.0]), np.zeros(2, np.int64), 1, Trim())
    assert small.all()


def test_sd_and_iqr_trims():
    cost = np.array([10.0] * 20 + [1000.0])
    unit = np.zeros(21, np.int64)
    assert not trim_mask(cost, unit, 1, Trim(method="sd", k=3))[-1]
    assert trim_mask(cost, unit, 1, Trim(method="sd", k=5))[-1]
    iqr = trim_mask(np.array([1, 2, 3, 4, 100.0]), np.zeros(5, np.int64), 1, Trim(method="iqr"))
    assert iqr.tolist() == [True, True, True, True, False]


def test_trim_is_per_group_and_year():
    rows = [("A", 2022, c) for c in range(1, 41)] + [("A", 2023, c) for c in range(101, 141)]
    fit = DrgWeights(year_weights=(1, 1)).fit(history(rows))
    assert fit.table_.loc[0, "n_used"] == 76     # one dropped at each end of each year
    assert fit.table_.loc[0, "mean_cost"] == pytest.approx((20.5 + 120.5) / 2)


def test_weights_are_independent_of_currency_scale():
    rng = np.random.default_rng(3)
    rows = pd.DataFrame({"drg": rng.choice(["A", "B", "C"], 500), "year": rng.integers(2021, 2024, 500),
                         "total_cost": rng.lognormal(9, 0.5, 500)})
    one = DrgWeights().fit(rows).table_
    scaled = DrgWeights().fit(rows.assign(total_cost=rows.total_cost * 7.3)).table_
    np.testing.assert_allclose(one["rw"], scaled["rw"], rtol=1e-12)


# ---------------------------------------------------------------------------------------------- tables

def test_weight_table_csv_round_trip_and_published_tables(tmp_path):
    rows = [("A", 2023, 6000)] * 3 + [("B", 2023, 14000)] * 3
    fit = DrgWeights(trim=NO_TRIM, year_weights=(1,)).fit(history(rows))
    path = tmp_path / "weights.csv"
    fit.to_csv(path)
    table = WeightTable.from_csv(path)
    assert table.points_scale == pytest.approx(100.0)
    assert table.all_case_mean == pytest.approx(10000.0)
    pd.testing.assert_series_equal(table.frame["base_points"], fit.table_["base_points"], check_names=False)

    published = tmp_path / "published.csv"
    published.write_text("drg,rw\nAB12,0.6\nCD34,2.5\n", encoding="utf-8")
    table = WeightTable.from_csv(published, points_scale=100)
    assert table.frame["base_points"].tolist() == [60.0, 250.0]
    assert table.index_of(["CD34", "ZZ", None]).tolist() == [1, -1, -1]


def test_published_table_errors_name_file_row_field(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("drg,base_points\nA,60\nB,lots\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"bad.csv, row 2, field 'base_points'"):
        WeightTable.from_csv(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("group,base_points\nA,60\nA,70\n", encoding="utf-8")
    with pytest.raises(UsageError, match="listed twice"):
        WeightTable.from_csv(dup)
    zero = tmp_path / "zero.csv"
    zero.write_text("drg,base_points\nA,60\nB,0\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"row 2, field 'base_points'.*must be positive"):
        WeightTable.from_csv(zero)
    none = tmp_path / "none.csv"
    none.write_text("code,base_points\nA,60\n", encoding="utf-8")
    with pytest.raises(UsageError, match="no group column"):
        WeightTable.from_csv(none)


def test_history_errors_and_ungrouped_rows():
    with pytest.raises(UsageError, match="missing column"):
        DrgWeights().fit(pd.DataFrame({"drg": ["A"], "total_cost": [1.0]}))
    with pytest.raises(UsageError, match=r"row 2, field 'total_cost'"):
        DrgWeights().fit(history([("A", 2023, 10), ("A", 2023, -5)]))
    with pytest.raises(UsageError, match=r"row 1, field 'total_cost'.*number"):
        DrgWeights().fit(pd.DataFrame({"drg": ["A"], "year": [2023], "total_cost": ["ten"]}))
    fit = DrgWeights(trim=NO_TRIM, year_weights=(1,)).fit(
        history([("A", 2023, 100), ("0000", 2023, 5000), (None, 2023, 7000), ("A", 2023, 300)]))
    assert fit.n_ungrouped_ == 2
    assert fit.all_case_mean_ == pytest.approx(200.0)
    with pytest.raises(RuntimeError, match="not fitted"):
        DrgWeights().cmi(pd.DataFrame({"hospital_id": ["H"], "drg": ["A"]}))


def test_from_policy_and_params():
    policy = PointsPolicy(scheme="dip")
    scorer = GroupWeights.from_policy(policy)
    assert scorer.points_scale == 1000.0 and scorer.group_col == "dip_group"
    assert scorer.get_params()["year_weights"] == (1.0, 2.0, 7.0)
    assert "GroupWeights(" in repr(scorer)


def test_same_level_means_and_hospital_level_coefs():
    h = pd.DataFrame({"drg": ["A"] * 4, "year": [2023] * 4, "total_cost": [12000, 12000, 8000, 8000],
                      "hospital_level": [3, 3, 2, 2]})
    fit = DrgWeights(trim=NO_TRIM, year_weights=(1,)).fit(h)
    assert fit.table_.loc[0, "mean_cost_level_3"] == pytest.approx(12000)
    assert fit.table_.loc[0, "mean_cost_level_2"] == pytest.approx(8000)
    # §4.2: tier-3 mean 12,000 vs city 10,000 -> 1.20
    coefs = hospital_level_coefs(h, year_weights=(1,))
    assert coefs == pytest.approx({3: 1.2, 2: 0.8})


@settings(deadline=None)   # the first example imports scikit-learn
@given(st.lists(st.floats(min_value=1.0, max_value=1e6), min_size=2, max_size=60),
       st.integers(min_value=1, max_value=5))
def test_reduction_in_variance_is_scikit_learns_r2_of_the_group_means(costs, n_groups):
    from sklearn.metrics import r2_score

    from drgdip.pointvalue.weights import reduction_in_variance

    cost = np.asarray(costs)
    group = np.arange(len(cost)) % n_groups
    means = np.bincount(group, weights=cost) / np.bincount(group)
    assert reduction_in_variance(cost, means[group]) == pytest.approx(r2_score(cost, means[group]), abs=1e-9)
