"""The budget point value's sums over history stays (§6.2): exact fixed-point sums per year, so the
same bits in any order of the stays and on any number of threads, and the exact year sums weighted."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drgdip.budget._kernels import FIXED_WORDS, chunk_bounds, point_value_sums
from drgdip.budget.point_value import history_point_value
from drgdip.budget.policy import policy_from_mapping


def _fsum_sums(group, hospital, usable, year_pos, year_weight, value, points, n_groups, n_hospitals):
    """Σ_y w_y · (correctly rounded Σ of the year's values) per cell, years in order."""
    size = n_groups * n_hospitals
    num, den = np.zeros(size), np.zeros(size)
    cell = group * n_hospitals + hospital
    for y, w in enumerate(year_weight):
        if w <= 0:
            continue
        for k in range(size):
            mine = usable & (year_pos == y) & (cell == k)
            num[k] += w * math.fsum(value[mine])
            den[k] += w * math.fsum(points[mine])
    return num, den


def _sums(kernel, group, hospital, usable, year, year_weight, value, points, n_groups, n_hospitals):
    bounds = chunk_bounds(len(group), FIXED_WORDS * 2 * len(year_weight) * n_groups * n_hospitals)
    return kernel(bounds, group, hospital, usable, year, 2022, year_weight, value, points, n_groups, n_hospitals)


@settings(deadline=None, max_examples=60)
@given(st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=4),
       st.integers(min_value=1, max_value=5), st.integers(min_value=0, max_value=2**32 - 1))
def test_point_value_sums_are_exact_in_any_order(n, n_groups, n_hospitals, seed):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, n_groups, n)
    hospital = rng.integers(0, n_hospitals, n)
    usable = rng.random(n) < 0.8
    year_weight = np.array([0.0, 1.0, 2.0, 7.0])
    year = rng.integers(2021, 2026, n)   # years outside the table take its nearest end
    year_pos = np.clip(year - 2022, 0, 3)
    value = rng.lognormal(9, 1, n).round(2)
    points = rng.lognormal(4, 1, n)
    args = (group, hospital, usable, year, year_weight, value, points, n_groups, n_hospitals)
    got = _sums(point_value_sums.serial, *args)
    expected = _fsum_sums(group, hospital, usable, year_pos, year_weight, value, points, n_groups, n_hospitals)
    for mine, theirs in zip(got, expected):
        np.testing.assert_allclose(mine, theirs, rtol=1e-15, atol=0)
    order = rng.permutation(n)
    shuffled = (group[order], hospital[order], usable[order], year[order], year_weight, value[order], points[order],
                n_groups, n_hospitals)
    for kernel, inputs in ((point_value_sums.threaded, args), (point_value_sums.serial, shuffled)):
        for mine, again in zip(got, _sums(kernel, *inputs)):
            assert np.array_equal(mine, again)


def test_history_point_value_worked_example_6_2():
    # costs 1,300 / 1,400 / 1,500 M and points 140 / 145 / 150 M at 1:2:7 -> 1,460 / 148 = 9.86
    policy = policy_from_mapping({"point_value": {"year_weights": [1, 2, 7]}})
    value = np.array([1300.0, 1400.0, 1500.0])
    points = np.array([140.0, 145.0, 150.0])
    year = np.array([2022, 2023, 2024])
    zero = np.zeros(3, dtype=np.int64)
    pv = history_point_value(value, points, year, zero, zero, 1, 1, policy)
    assert round(float(pv[0]), 2) == 9.86
