"""The budget point value's sums over history stays (§6.2): one pass in stay order, the same floats
as numpy's weighted ``bincount`` of the year-weighted products."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drgdip.budget._kernels import point_value_sums
from drgdip.budget.point_value import history_point_value
from drgdip.budget.policy import policy_from_mapping


def _numpy_sums(group, hospital, usable, year_pos, year_weight, value, points, n_groups, n_hospitals):
    stay_weight = np.where(usable, year_weight[year_pos], 0.0)
    counted = stay_weight > 0
    cell = np.where(counted, group * n_hospitals + hospital, 0)
    size = n_groups * n_hospitals
    return (np.bincount(cell, weights=stay_weight * np.where(counted, value, 0.0), minlength=size),
            np.bincount(cell, weights=stay_weight * np.where(counted, points, 0.0), minlength=size))


@settings(deadline=None, max_examples=60)
@given(st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=4),
       st.integers(min_value=1, max_value=5), st.integers(min_value=0, max_value=2**32 - 1))
def test_point_value_sums_are_numpys_bit_for_bit(n, n_groups, n_hospitals, seed):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, n_groups, n)
    hospital = rng.integers(0, n_hospitals, n)
    usable = rng.random(n) < 0.8
    year_weight = np.array([0.0, 1.0, 2.0, 7.0])
    year = rng.integers(2021, 2026, n)   # years outside the table take its nearest end
    year_pos = np.clip(year - 2022, 0, 3)
    value = rng.lognormal(9, 1, n).round(2)
    points = rng.lognormal(4, 1, n)
    got = point_value_sums(group, hospital, usable, year, 2022, year_weight, value, points, n_groups, n_hospitals)
    expected = _numpy_sums(group, hospital, usable, year_pos, year_weight, value, points, n_groups, n_hospitals)
    for mine, theirs in zip(got, expected):
        assert np.array_equal(mine, theirs)


def test_history_point_value_worked_example_6_2():
    # costs 1,300 / 1,400 / 1,500 M and points 140 / 145 / 150 M at 1:2:7 -> 1,460 / 148 = 9.86
    policy = policy_from_mapping({"point_value": {"year_weights": [1, 2, 7]}})
    value = np.array([1300.0, 1400.0, 1500.0])
    points = np.array([140.0, 145.0, 150.0])
    year = np.array([2022, 2023, 2024])
    zero = np.zeros(3, dtype=np.int64)
    pv = history_point_value(value, points, year, zero, zero, 1, 1, policy)
    assert round(float(pv[0]), 2) == 9.86
