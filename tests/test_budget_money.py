"""Money in fen: largest-remainder sharing, rounding, sharing bands (budget.money)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drgdip.budget._kernels import CHUNK_STAYS, chunk_bounds, largest_remainder, pair_counts
from drgdip.budget.money import (DECIMAL_ROUNDING, allocate, allocate_grouped, band_amount, fen, round_fen,
                                 share_by_weight, to_fen)


def reference_largest_remainder(total: int, weights) -> np.ndarray:
    """Hamilton's method written out directly: floors, then one fen to each largest remainder."""
    weights = np.asarray(weights, dtype=np.float64)
    quota = total * weights / weights.sum()
    floors = np.floor(quota).astype(np.int64)
    remainder = quota - floors
    order = sorted(range(len(weights)), key=lambda i: (-remainder[i], i))
    floors[order[: total - floors.sum()]] += 1
    return floors


def test_three_equal_shares_give_the_odd_fen_to_the_first():
    assert allocate(100, [1, 1, 1]).tolist() == [34, 33, 33]


def test_shares_follow_the_weights():
    assert allocate(10, [0.5, 0.25, 0.25, 0.0]).tolist() == [5, 3, 2, 0]
    assert allocate(7, [3, 0, 4]).tolist() == [3, 0, 4]


def test_zero_weights_cannot_take_money():
    with pytest.raises(ValueError, match="all zero"):
        allocate(5, [0, 0])
    amount, unplaced = allocate_grouped([0, 0, 1], [1.0, 2.0, 0.0], [30, 7], 2)
    assert amount.tolist() == [10, 20, 0] and unplaced.tolist() == [0, 7]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        allocate(10, [1.0, -1.0])
    with pytest.raises(ValueError):
        allocate(10, [1.0, np.nan])
    with pytest.raises(ValueError):
        allocate(-1, [1.0])
    with pytest.raises(ValueError):
        allocate_grouped([0, 2], [1.0, 1.0], [1, 1], 2)


weights_strategy = st.lists(st.one_of(st.integers(0, 50).map(float), st.floats(0, 1e6, allow_nan=False)),
                            min_size=1, max_size=400).filter(lambda w: sum(w) > 0)


@settings(max_examples=150, deadline=None)
@given(total=st.integers(0, 10**13), weights=weights_strategy)
def test_allocation_is_hamilton_and_exact(total, weights):
    amount = allocate(total, weights)
    assert amount.sum() == total
    assert (amount >= 0).all()
    expected = reference_largest_remainder(total, weights)
    quota = total * np.asarray(weights) / sum(weights)
    # identical to the textbook method, except where float quotas tie within rounding noise
    assert np.all(np.abs(amount - quota) < 1 + 1e-6 * max(1.0, total / 1e9))
    if total < 10**9:
        assert amount.tolist() == expected.tolist()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(0.001, 1000)), min_size=1, max_size=300),
       st.lists(st.integers(0, 10**9), min_size=5, max_size=5))
def test_grouped_allocation_sums_per_group(items, totals):
    group = np.array([g for g, _ in items])
    weight = np.array([w for _, w in items])
    amount, unplaced = allocate_grouped(group, weight, totals, 5)
    for g in range(5):
        inside = group == g
        if inside.any():
            assert amount[inside].sum() == totals[g] and unplaced[g] == 0
        else:
            assert unplaced[g] == totals[g]


def test_large_groups_use_the_bucket_path_and_stay_exact():
    rng = np.random.default_rng(3)
    weight = rng.random(50_000)
    weight[::7] = 0.25   # many exact ties
    amount = allocate(123_456_789, weight)
    assert amount.sum() == 123_456_789
    assert amount.tolist() == reference_largest_remainder(123_456_789, weight).tolist()


# ------------------------------------------------------------------------------- rounding to the fen

@pytest.mark.parametrize("rule, expected", [("half_up", [101, 13, 14, 268, 29, 1001, 200, 1]),
                                            ("half_even", [100, 12, 14, 268, 28, 1000, 200, 1])])
def test_yuan_round_to_the_fen_on_their_decimal_value(rule, expected):
    # 1.005 is stored as 1.00499999999999989..., 0.285 × 100 as 28.499999999999996, 10.005 × 100 as
    # 1000.5000000000001: each is half a fen, rounded by the rule
    yuan = [1.005, 0.125, 0.135, 2.675, 0.285, 10.005, 2.0, 0.014]
    assert to_fen(yuan, rule).tolist() == expected
    assert [fen(v, rule) for v in yuan] == expected


@pytest.mark.parametrize("rule, expected", [("half_up", [1, 2, 3, -1, -3, 32, 11, 3]),
                                            ("half_even", [0, 2, 2, 0, -2, 32, 10, 2])])
def test_float_fen_round_half_up_or_half_to_even(rule, expected):
    # 90 fen × 0.35 = 31.499999999999996 and 150 fen × 0.07 = 10.500000000000002 in floats: both are
    # decimal halves; 2.4999999 reads 2.500000 at six decimals of a fen
    values = [0.5, 1.5, 2.5, -0.5, -2.5, 90 * 0.35, 150 * 0.07, 2.4999999]
    assert round_fen(values, rule).tolist() == expected
    assert round_fen(np.asarray(values).reshape(2, 4), rule).shape == (2, 4)
    assert round_fen(2.5, rule) == expected[2]


def test_values_clear_of_a_half_round_to_the_nearest_fen():
    values = [0.4999994, 0.5000006, 7.2, 7.8, -7.8, 2.0**53, 1e15 + 0.5]
    for rule in ("half_up", "half_even"):
        assert round_fen(values, rule).tolist() == [0, 1, 7, 8, -8, 2**53, int(1e15) + (1 if rule == "half_up" else 0)]


def test_an_unknown_rounding_rule_is_refused():
    with pytest.raises(ValueError, match="half_up"):
        round_fen([1.5], "half_down")
    with pytest.raises(ValueError, match="half_up"):
        fen(1.5, "up")


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2 * 10**9), st.integers(0, 2), st.sampled_from(["half_up", "half_even"]))
def test_float_yuan_round_as_their_decimal_text(thousandths, extra_digits, rule):
    """A yuan amount below 20 million written with up to 5 decimals rounds as its decimal text does."""
    text = str(Decimal(thousandths) / Decimal(10 ** (3 + extra_digits)))
    assert to_fen([float(text)], rule).tolist() == [fen(float(text), rule)]
    assert fen(float(text), rule) == int((Decimal(text) * 100).quantize(Decimal(1), rounding=DECIMAL_ROUNDING[rule]))


def test_overspend_band_example_of_the_domain_reference():
    # §6.6: fund due 8.62 M, FFS 9.2 M -> overspend 0.58 M (6.7 %); "<= 10 % -> fund pays 50 %" -> 0.29 M
    for mode in ("tiered", "whole"):
        shared = band_amount([58_000_000.0], [862_000_000.0], [0.10, np.inf], [0.5, 0.0], mode)
        assert shared.tolist() == [29_000_000.0]


def test_tiered_and_whole_bands_differ_above_the_first_band():
    # 20 % over a base of 10,000: tiered = 50 % of the first 1,000 + 20 % of the next 1,000
    assert band_amount([2000.0], [10000.0], [0.10, np.inf], [0.5, 0.2], "tiered").tolist() == [700.0]
    assert band_amount([2000.0], [10000.0], [0.10, np.inf], [0.5, 0.2], "whole").tolist() == [400.0]
    # an amount exactly at a limit belongs to that band
    assert band_amount([1000.0], [10000.0], [0.10, np.inf], [0.5, 0.2], "whole").tolist() == [500.0]
    # a non-positive base puts the whole amount in the last band
    assert band_amount([1000.0], [0.0], [0.10, np.inf], [0.5, 0.2], "tiered").tolist() == [200.0]


# ------------------------------------------------------------------- the one largest-remainder kernel

@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.one_of(st.just(0.0), st.floats(0.001, 1000))), min_size=1,
                max_size=300),
       st.lists(st.integers(0, 10**8), min_size=4, max_size=4))
def test_interleaved_groups_are_each_shared_as_alone(items, totals):
    """Items of interleaved groups (group 4: in no group) get what each group would give them alone."""
    group = np.array([g for g, _ in items], dtype=np.int64)
    weight = np.array([w for _, w in items])
    amount, unplaced = share_by_weight(group, weight, np.asarray(totals, dtype=np.int64), 4)
    assert (amount[group == 4] == 0).all()
    for g in range(4):
        inside = group == g
        if weight[inside].sum() > 0:
            assert amount[inside].tolist() == reference_largest_remainder(totals[g], weight[inside]).tolist()
            assert unplaced[g] == 0
        else:
            assert (amount[inside] == 0).all() and unplaced[g] == totals[g]


def test_threaded_and_serial_sharing_agree():
    rng = np.random.default_rng(11)
    group = rng.integers(0, 300, 100_000)
    weight = rng.random(100_000)
    weight[::5] = 0.5
    total = rng.integers(0, 10**9, 300)
    ptr = np.concatenate(([0], np.cumsum(np.bincount(group, minlength=300))))
    grouped = weight[np.argsort(group, kind="stable")]
    serial = largest_remainder.serial(ptr, grouped, total)
    threaded = largest_remainder.threaded(ptr, grouped, total)
    assert all(np.array_equal(a, b) for a, b in zip(serial, threaded))


@pytest.mark.parametrize("n", [0, 1, 1000, 65_536, 65_537, 10_000_000])
def test_chunks_cover_the_stays_one_per_thread_at_most(n):
    import numba

    bounds = chunk_bounds(n, 1000)
    assert bounds[0] == 0 and bounds[-1] == n and (np.diff(bounds) >= 0).all()
    assert len(bounds) - 1 <= max(numba.get_num_threads(), 1)
    assert len(bounds) - 1 <= max(-(-n // CHUNK_STAYS), 1)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        assert np.array_equal(chunk_bounds(n, 1000), [0, n])
    finally:
        numba.set_num_threads(threads)
    assert len(chunk_bounds(n, 10**9)) == 2   # a large table: one chunk, so that buffers stay small


def test_chunked_counts_equal_one_pass():
    rng = np.random.default_rng(2)
    first = rng.integers(-1, 5, 50_000).astype(np.int32)
    second = rng.integers(-1, 7, 50_000).astype(np.int32)
    expected = np.zeros(35, dtype=np.int64)
    keep = (first >= 0) & (second >= 0)
    np.add.at(expected, first[keep] * 7 + second[keep], 1)
    for cells in (35, 10**9):
        bounds = chunk_bounds(len(first), cells)
        assert pair_counts.serial(bounds, first, second, 5, 7).tolist() == expected.tolist()
        assert pair_counts.threaded(bounds, first, second, 5, 7).tolist() == expected.tolist()
    many = np.linspace(0, 50_000, 9).astype(np.int64)
    assert pair_counts.threaded(many, first, second, 5, 7).tolist() == expected.tolist()


# ------------------------------------------------------------------------------------- tie keys

def test_ties_at_the_cut_go_by_the_tie_key_not_by_position():
    assert allocate_grouped([0, 0, 0], [1, 1, 1], [100], tie_key=["c", "b", "a"])[0].tolist() == [33, 33, 34]
    assert allocate_grouped([0, 0, 0], [1, 1, 1], [101], tie_key=[30, 2, 10])[0].tolist() == [33, 34, 34]
    # remainders above the tie get their fen first: quotas 1.6, 0.2, 0.2 + 0.0 ... of 2 fen
    amount, _ = allocate_grouped([0, 0, 0, 0], [8, 1, 1, 0], [2], tie_key=["a", "z", "y", "x"])
    assert amount.tolist() == [2, 0, 0, 0]
    amount, _ = allocate_grouped([0, 0, 0], [3, 1, 1], [3], tie_key=["a", "z", "y"])
    assert amount.tolist() == [2, 0, 1]   # quotas 1.8, 0.6, 0.6: the tie at 0.6 goes to "y"


def test_equal_tie_keys_fall_back_to_the_earlier_item():
    assert allocate_grouped([0, 0, 0], [1, 1, 1], [100], tie_key=["b", "a", "a"])[0].tolist() == [33, 34, 33]


def _sharing_by_key(group, weight, totals, key, order):
    """Amounts of the items shared in ``order``, put back in key order."""
    amount, unplaced = allocate_grouped(group[order], weight[order], totals, len(totals), tie_key=key[order])
    back = np.empty_like(amount)
    back[order] = amount
    return back, unplaced


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([0.0, 0.5, 1.0, 1.0, 3.0, 7.25])), min_size=1,
                max_size=200),
       st.lists(st.integers(0, 10**6), min_size=4, max_size=4), st.randoms(use_true_random=False))
def test_shares_do_not_depend_on_the_order_of_the_items(items, totals, random):
    group = np.array([g for g, _ in items], dtype=np.int64)
    weight = np.array([w for _, w in items])
    key = np.array([f"c{k:04d}" for k in range(len(items))], dtype=object)
    order = np.arange(len(items))
    first, unplaced = _sharing_by_key(group, weight, totals, key, order)
    random.shuffle(order)
    again, _ = _sharing_by_key(group, weight, totals, key, order)
    assert first.tolist() == again.tolist()
    for g in range(4):
        inside = group == g
        if weight[inside].sum() > 0:
            assert first[inside].sum() == totals[g]
            quota = totals[g] * weight[inside] / weight[inside].sum()
            assert np.all(np.abs(first[inside] - quota) < 1)
        else:
            assert unplaced[g] == totals[g]


@pytest.mark.parametrize("threads", ["serial", "threaded"])
def test_ties_in_large_groups_go_by_the_tie_key(threads, monkeypatch):
    """More than 64 items take the bucket path; the tied items there still follow the key."""
    from drgdip.budget import _kernels

    if threads == "threaded":
        monkeypatch.setattr(_kernels, "PARALLEL_MIN_STAYS", 0)
    rng = np.random.default_rng(4)
    weight = rng.choice([1.0, 2.0, 0.75, 5.0], 20_000)
    key = rng.permutation(20_000)
    total = 1_234_567
    amount, _ = allocate_grouped(np.zeros(20_000, dtype=np.int64), weight, [total], tie_key=key)
    expected = reference_largest_remainder_by_key(total, weight, key)
    assert amount.sum() == total and amount.tolist() == expected.tolist()


def reference_largest_remainder_by_key(total: int, weights, key) -> np.ndarray:
    """Hamilton's method with ties among remainders broken by ``key``."""
    weights = np.asarray(weights, dtype=np.float64)
    quota = total * weights / weights.sum()
    floors = np.floor(quota).astype(np.int64)
    remainder = quota - floors
    order = sorted(range(len(weights)), key=lambda i: (-remainder[i], key[i]))
    floors[order[: total - floors.sum()]] += 1
    return floors
