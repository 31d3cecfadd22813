"""The budget point value's sums over history stays (§6.2): exact fixed-point sums per year, so the
same bits in any order of the stays and on any number of threads; the years' sums weighted in order."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drgdip.budget._kernels import FIXED_WORDS, chunk_bounds, fixed_values, year_sums
from drgdip.budget.point_value import history_point_value
from drgdip.budget.policy import policy_from_mapping


def _sums(kernel, group, hospital, usable, year, values, n_groups, n_hospitals):
    bounds = chunk_bounds(len(group), FIXED_WORDS * 5 * n_groups * n_hospitals)
    return fixed_values(kernel(bounds, group, hospital, usable, year, 2021, 5, values, n_groups, n_hospitals))


@settings(deadline=None, max_examples=60)
@given(st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=4),
       st.integers(min_value=1, max_value=5), st.integers(min_value=0, max_value=2**32 - 1))
def test_year_sums_are_exact_in_any_order(n, n_groups, n_hospitals, seed):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, n_groups, n)
    hospital = rng.integers(0, n_hospitals, n)
    usable = rng.random(n) < 0.8
    year = rng.integers(2021, 2026, n)
    values = rng.lognormal(9, 1, n).round(2) if seed % 2 else rng.lognormal(4, 1, n)
    got = _sums(year_sums.serial, group, hospital, usable, year, values, n_groups, n_hospitals)
    cell = ((year - 2021) * n_groups + group) * n_hospitals + hospital
    expected = [math.fsum(values[usable & (cell == k)]) for k in range(5 * n_groups * n_hospitals)]
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0)
    order = rng.permutation(n)
    shuffled = (group[order], hospital[order], usable[order], year[order], values[order])
    assert np.array_equal(got, _sums(year_sums.threaded, group, hospital, usable, year, values, n_groups, n_hospitals))
    assert np.array_equal(got, _sums(year_sums.serial, *shuffled, n_groups, n_hospitals))


@settings(deadline=None, max_examples=30)
@given(st.integers(min_value=1, max_value=300), st.integers(min_value=0, max_value=2**32 - 1))
def test_pool_and_area_values_from_one_pass_and_kept_sums_are_those_of_separate_calls(n, seed):
    rng = np.random.default_rng(seed)
    policy = policy_from_mapping({"point_value": {"year_weights": [1, 2, 7]}})
    pool, hospital = rng.integers(0, 6, n), rng.integers(0, 4, n)
    pool_area = np.array([0, 0, 1, 1, 2, 0])
    year = rng.integers(2019, 2025, n)
    value, points = rng.lognormal(9, 1, n).round(2), rng.lognormal(4, 1, n)
    use = rng.random(n) < 0.9
    memo = {}
    by_pool, by_area = history_point_value(value, points, year, pool, hospital, 6, 4, policy, use,
                                           wider=(pool_area, 3), memo=memo)
    alone = history_point_value(value, points, year, pool_area[pool], hospital, 3, 4, policy, use)
    np.testing.assert_array_equal(by_pool, history_point_value(value, points, year, pool, hospital, 6, 4, policy, use))
    np.testing.assert_array_equal(by_area, alone)
    more = points * rng.choice([1.0, 1.1], n)   # a scenario's points: the kept value sums serve it
    again = history_point_value(value, more, year, pool, hospital, 6, 4, policy, use, wider=(pool_area, 3), memo=memo)
    fresh = history_point_value(value, more, year, pool, hospital, 6, 4, policy, use, wider=(pool_area, 3))
    for mine, theirs in zip(again, fresh):
        np.testing.assert_array_equal(mine, theirs)


def test_history_point_value_worked_example_6_2():
    # costs 1,300 / 1,400 / 1,500 M and points 140 / 145 / 150 M at 1:2:7 -> 1,460 / 148 = 9.86
    policy = policy_from_mapping({"point_value": {"year_weights": [1, 2, 7]}})
    value = np.array([1300.0, 1400.0, 1500.0])
    points = np.array([140.0, 145.0, 150.0])
    year = np.array([2022, 2023, 2024])
    zero = np.zeros(3, dtype=np.int64)
    pv = history_point_value(value, points, year, zero, zero, 1, 1, policy)
    assert round(float(pv[0]), 2) == 9.86


@settings(deadline=None, max_examples=30)
@given(st.integers(min_value=1, max_value=300), st.integers(min_value=0, max_value=2**32 - 1))
def test_one_pass_sums_equal_the_two_pass_sums_when_points_change_which_stays_count(n, seed):
    """The one-pass sums (values kept between calls) give the values of the sums taken year by year after
    finding the years (the path of a long span of years), also when a scenario's points leave stays out."""
    from drgdip.budget import point_value

    rng = np.random.default_rng(seed)
    policy = policy_from_mapping({"point_value": {"year_weights": [1, 2, 7]}})
    pool, hospital = rng.integers(0, 6, n), rng.integers(0, 4, n)
    year = rng.integers(2015, 2025, n)
    value, points = rng.lognormal(9, 1, n).round(2), rng.lognormal(4, 1, n)
    use = rng.random(n) < 0.9
    memo = {}
    args = (year, pool, hospital, 6, 4, policy, use)
    kept = [history_point_value(value, points, *args, memo=memo)]
    fewer = np.where(rng.random(n) < 0.2, rng.choice([0.0, np.nan]), points * 1.1)   # some stays no longer count
    kept.append(history_point_value(value, fewer, *args, memo=memo))
    saved = point_value.ONE_PASS_CELLS
    point_value.ONE_PASS_CELLS = 0
    try:
        two_pass = [history_point_value(value, p, *args) for p in (points, fewer)]
    finally:
        point_value.ONE_PASS_CELLS = saved
    for mine, theirs in zip(kept, two_pass):
        np.testing.assert_array_equal(mine, theirs)


@settings(deadline=None, max_examples=40)
@given(st.integers(min_value=0, max_value=300), st.integers(min_value=0, max_value=2**32 - 1))
def test_history_sums_are_the_same_on_threads_and_in_any_order(n, seed):
    from drgdip.budget._kernels import history_sums

    rng = np.random.default_rng(seed)
    group, hospital, year = rng.integers(0, 3, n), rng.integers(0, 4, n), rng.integers(2020, 2023, n)
    use = rng.random(n) < 0.8
    value = rng.lognormal(9, 1, n).round(2)
    points = np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(4, 1, n))

    def sums(kernel, order, with_value, previous=np.zeros(0, dtype=bool)):
        usable = np.empty(n, dtype=bool)
        bounds = chunk_bounds(n, 2 * FIXED_WORDS * 3 * 3 * 4)
        cell = (((year - 2020) * 3 + group) * 4 + hospital).astype(np.int32)
        *out, changed = kernel(bounds, cell[order], use[order], 3, 3 * 4, value[order] if with_value else np.zeros(0),
                               points[order], usable, previous)
        return out, usable, changed

    (num, den, counts), usable, changed = sums(history_sums.serial, np.arange(n), True)
    assert changed == 0
    flipped = usable.copy()
    flipped[: n // 3] = ~flipped[: n // 3]
    assert sums(history_sums.threaded, np.arange(n), False, flipped)[2] == n // 3
    np.testing.assert_array_equal(usable, use & (points > 0))
    np.testing.assert_array_equal(counts, np.bincount(year[usable] - 2020, minlength=3))
    shifted = year + 1   # _sums counts from 2021
    for words, summed in ((num, value), (den, points)):
        np.testing.assert_array_equal(fixed_values(words),
                                      _sums(year_sums.serial, group, hospital, usable, shifted, summed, 3, 4)[:36])
    order = rng.permutation(n)
    for kernel in (history_sums.serial, history_sums.threaded):
        (num2, den2, counts2), _, _ = sums(kernel, order, True)
        assert np.array_equal(num, num2) and np.array_equal(den, den2) and np.array_equal(counts, counts2)
    (zeros, den3, _), _, _ = sums(history_sums.serial, np.arange(n), False)
    assert np.array_equal(den, den3) and not zeros.any()
