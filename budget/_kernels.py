"""numba kernels of the budget stage: chunked sums over stays and largest-remainder sharing in integer fen.

Plain numpy arrays, or NamedTuples of them, go in and out; the per-stay arrays travel together as
one :class:`StayArrays`. :mod:`drgdip.budget.money` and the settlement phases validate and prepare them.

Sums over stays run in chunks (after the per-thread buffers of STUMPY's ``stump``): the stays are
cut into at most one chunk per thread, each chunk adds into its own row of a buffer, and the rows
are added in chunk order. Integer fen sums are exact. Sums of points, weights and fen at a
point value are kept in fixed point (:func:`_add_fixed`): a whole part and 52 bits of fraction, each an
integer, so they are exact and come out bit for bit the same in any order of the stays and however
many threads run — a settlement never depends on the order of the input rows. Each sum's adder
(:func:`_pool_rows`, :func:`_hospital_rows`, :func:`_cell_rows`, :func:`_count_rows`) takes a range
of stays, or of a list of rows, and a sign: the sums call it once per chunk, and a Monte Carlo draw
(:func:`add_stay_words`) calls each in turn on blocks of the rows it adds or takes away.

Every threaded kernel is also compiled without threads, which inputs of fewer than
:data:`PARALLEL_MIN_STAYS` items take (no thread start-up), as does a caller that runs its kernels on
one thread (``numba.set_num_threads(1)``); both builds give the same result. Kernels release the
interpreter lock (``nogil``), so that settlements on several threads run side by side.
"""

from __future__ import annotations

import functools
import math
import types
from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from drgdip.core._kernels import prefetch

__all__ = ["StayArrays", "PoolPrices", "PoolSums", "StayWeights", "HospitalSums", "StayPayments", "Sharing",
           "PriceCells", "StayWords", "add_stay_words", "BASIS_CODES", "chunk_bounds", "pool_sums", "pool_sum_words",
           "pool_sums_of", "stay_weights",
           "share_grouped", "largest_remainder", "hospital_sums", "hospital_sum_words", "hospital_sums_of",
           "price_cells", "cell_sum_words", "cell_prices", "StayCounts", "stay_counts", "pair_counts", "year_sums",
           "history_sums", "fixed_values", "usable_years"]

N_BUCKETS = 1 << 12
PARALLEL_MIN_STAYS = 200_000   # items from which a kernel runs on threads
CHUNK_STAYS = 1 << 16          # stays per chunk of a sum (fewer stays: one chunk, the serial sum order)
MAX_CHUNKS = 64
MAX_CHUNK_CELLS = 1 << 24      # buffer cells of all chunks of one sum together
HALF_FEN_TOLERANCE = 5e-7      # a fen value this close to k + ½ reads k.500000 at six decimals: half a fen

# rows of the chunk buffers of the sum kernels
POOL_PATIENT_SHARE, POOL_FIXED_PAYMENTS, POOL_FUND_PAID, POOL_CASES = range(4)
INSURED_COST, INSURED_FUND = range(2)
FUND_DUE, FFS_FUND, TOTAL_COST, CASES, REMOTE_CASES, RW_CASES, LEVEL_CASES, REMOTE_DUE, REMOTE_FFS = range(9)
POINTS, RW_SUM, LEVEL_SUM = range(3)

BASIS_TOTAL_COST, BASIS_PATIENT_SHARE, BASIS_FUND_ONLY = 0, 1, 2
BASIS_CODES = {"total_cost": BASIS_TOTAL_COST, "patient_share": BASIS_PATIENT_SHARE, "fund_only": BASIS_FUND_ONLY}


class StayArrays(NamedTuple):
    """The settlement year's stays as the kernels read them (n stays).

    A stay is settled in the budget when ``pool >= 0``; it is paid by points unless ``fixed``.
    """

    pool: np.ndarray            # int32[n] pool, -1 outside the budget
    area: np.ndarray            # int32[n] pooling area, -1 outside the budget
    hospital: np.ndarray        # int32[n]
    region: np.ndarray          # int32[n] treatment region
    insured: np.ndarray         # int32[n] insured region, -1 insured where treated
    fixed: np.ndarray           # bool[n] paid fixed_fen outside the point pool
    remote: np.ndarray          # bool[n] in-province remote stay
    month: np.ndarray           # int8[n] 1..12, 0 unknown
    cost_fen: np.ndarray        # int64[n]
    fund_fen: np.ndarray        # int64[n] fund paid under fee-for-service
    fixed_fen: np.ndarray       # int64[n]
    points: np.ndarray          # float64[n]
    base_points: np.ndarray     # float64[n], NaN unknown
    hospital_level: np.ndarray  # float64[n], or float64[0] when unknown
    fund_part: np.ndarray       # float64[n] points that are the fund's part already (no fund ratio), or float64[0]


class PoolPrices(NamedTuple):
    """What a point is worth in each pool, for the per-stay payments."""

    fund_ratio: np.ndarray          # float64[n_pools, n_regions] fund payment ratio per (pool, insured region)
    budget_point_value: np.ndarray  # float64[n_pools] yuan per point, NaN when none
    point_value: np.ndarray         # float64[n_pools] effective settlement point value, yuan per point
    basis: int                      # BASIS_CODES of the policy's point-value basis


class PoolSums(NamedTuple):
    """Sums of the settled stays per pool, and per (pool, insured region) of those paid by points."""

    cost_by_insured: np.ndarray    # int64[n_pools, n_regions]
    fund_by_insured: np.ndarray    # int64[n_pools, n_regions]
    points_by_insured: np.ndarray  # float64[n_pools, n_regions] points, less their fund part
    fund_part_points: np.ndarray   # float64[n_pools] points that are the fund's part already
    patient_share: np.ndarray      # int64[n_pools] cost − fund of the stays paid by points
    fixed_payments: np.ndarray     # int64[n_pools]
    fund_paid: np.ndarray          # int64[n_pools] fund paid for all settled stays
    cases: np.ndarray              # int64[n_pools]


class StayWeights(NamedTuple):
    """Allocation weight of each stay and its (pool, hospital) pair."""

    weight: np.ndarray       # float64[n] 0 for stays not paid by points
    pair: np.ndarray         # int64[n] pool * n_hospitals + hospital; n_pairs for stays not paid by points


class PriceCells(NamedTuple):
    """The settled stays by (pool, hospital, insured region, month): the cells whose sums of points
    are priced at a fund ratio and a point value (:func:`cell_prices`), so that a pair's weight and a
    month's due are the same for the same cell sums, however they were added up."""

    cell: np.ndarray      # int32[n] cell of each stay, -1 outside the budget
    pool: np.ndarray      # int64[n_cells]
    hospital: np.ndarray  # int64[n_cells]
    insured: np.ndarray   # int64[n_cells] insured region (where treated, when insured there)
    month: np.ndarray     # int64[n_cells] 1..12, 0 unknown

    @property
    def n(self) -> int:
        return len(self.pool)


class HospitalSums(NamedTuple):
    """Sums of the settled stays per hospital row (pooling area × hospital)."""

    fund_due: np.ndarray      # int64[n_rows]
    ffs_fund: np.ndarray      # int64[n_rows]
    total_cost: np.ndarray    # int64[n_rows]
    cases: np.ndarray         # int64[n_rows]
    remote_cases: np.ndarray  # int64[n_rows]
    points: np.ndarray        # float64[n_rows] points of the stays paid by points
    rw_sum: np.ndarray        # float64[n_rows] Σ base points / points scale
    rw_cases: np.ndarray      # int64[n_rows] stays with base points
    month_due: np.ndarray     # float64[n_rows, 13] fund due at the budget point value per month (0: unknown), fen
    level_sum: np.ndarray     # float64[n_rows] Σ hospital level of the stays that carry one
    level_cases: np.ndarray   # int64[n_rows]
    remote_fund_due: np.ndarray   # int64[n_rows] fund due of the in-province remote stays
    remote_ffs_fund: np.ndarray   # int64[n_rows] fund they recorded under fee-for-service


class StayPayments(NamedTuple):
    """Per-stay output columns, yuan (NaN where not applicable)."""

    payment: np.ndarray       # float64[n] fund due of the stay (0 outside the budget)
    gain_vs_ffs: np.ndarray   # float64[n]
    standard: np.ndarray      # float64[n] points × point value
    point_value: np.ndarray   # float64[n]
    fund_ratio: np.ndarray    # float64[n]


def threaded_by_size(py_func):
    """Compile ``py_func`` without and with threads; a call takes the threaded build from
    :data:`PARALLEL_MIN_STAYS` items on, counted by the last entry of its first argument (the
    chunk bounds, or the group pointers, of the items).

    The threaded build compiles a copy of the function under another name: numba's disk cache
    tells functions apart by name and signature only, so one name would let each build load the other.
    """
    serial = njit(cache=True, nogil=True)(py_func)
    threaded = njit(cache=True, parallel=True, nogil=True)(_renamed(py_func, "_threaded"))

    @functools.wraps(py_func)
    def kernel(bounds, *args):
        n_items = bounds[-1] if len(bounds) else 0
        many = n_items >= PARALLEL_MIN_STAYS and numba.get_num_threads() > 1
        return (threaded if many else serial)(bounds, *args)

    kernel.serial, kernel.threaded = serial, threaded
    return kernel


def _renamed(py_func, suffix: str):
    """The same function under the name ``py_func.__name__ + suffix``."""
    copy = types.FunctionType(py_func.__code__, py_func.__globals__, py_func.__name__ + suffix,
                              py_func.__defaults__, py_func.__closure__)
    copy.__qualname__ = py_func.__qualname__ + suffix
    copy.__doc__ = py_func.__doc__
    return copy


def chunk_bounds(n: int, cells: int) -> np.ndarray:
    """First stay of each chunk of a sum over ``n`` stays, and ``n``: int64[n_chunks + 1].

    One chunk per thread at most (every chunked sum is exact, so the number of chunks never changes
    a result), at most one per :data:`CHUNK_STAYS` stays, all chunk buffers of a table of ``cells``
    together within :data:`MAX_CHUNK_CELLS`, and no more chunks than stays per cell (a chunk's own
    buffer would cost more than its share of the stays: a few stays over many cells add up in one).
    """
    n_chunks = min(-(-n // CHUNK_STAYS), MAX_CHUNKS, numba.get_num_threads(),
                   max(MAX_CHUNK_CELLS // max(cells, 1), 1), max(n // max(cells, 1), 1))
    n_chunks = max(n_chunks, 1)
    return np.arange(n_chunks + 1, dtype=np.int64) * n // n_chunks


@njit(cache=True, nogil=True)
def _add_chunks(buffer):
    """Σ of the chunk buffers, added in chunk order (so float sums never depend on the threads).

    Parameters
    ----------
    buffer : number[n_chunks, ...]
        One buffer per chunk, any shape.

    Returns
    -------
    number[...]
        ``buffer[0] + buffer[1] + ...``, element by element.
    """
    n_chunks = buffer.shape[0]
    flat = buffer.reshape(n_chunks, buffer.size // max(n_chunks, 1))
    out = flat[0].copy()
    for c in range(1, n_chunks):
        for k in range(flat.shape[1]):
            out[k] += flat[c, k]
    return out.reshape(buffer.shape[1:])


FRACTION_BITS = 26                      # bits of each of the two fraction words of a fixed-point sum
FRACTION_ONE = float(1 << FRACTION_BITS)
FRACTION_MASK = (1 << FRACTION_BITS) - 1
FIXED_WORDS = 3                         # whole part, high and low fraction word
EVERY_STAY = np.zeros(0, dtype=np.int64)   # the rows of a range adder: every stay of the range, in order
ROWS_PER_BLOCK = 128   # rows a draw adds to every sum in turn, while their values are in the cache


@njit(cache=True, nogil=True)
def _add_fixed(cells, k, value):
    """Add ``value`` (finite) to the fixed-point sum ``k`` of ``cells`` (int64[FIXED_WORDS, m]).

    The value is cut exactly into its whole part and two 26-bit words of its fraction (bits below
    2⁻⁵² of the fraction, which only values below 1 can have, are dropped); integers add exactly,
    so the sum does not depend on the order of the values.
    """
    _add_signed_fixed(cells, k, value, 1)


@njit(cache=True, nogil=True)
def _add_signed_fixed(cells, k, value, sign):
    """:func:`_add_fixed` of ``value`` (``sign`` 1), or its exact removal (``sign`` -1): the same words
    taken away."""
    whole = np.floor(value)
    scaled = (value - whole) * FRACTION_ONE
    high = np.floor(scaled)
    cells[0, k] += sign * np.int64(whole)
    cells[1, k] += sign * np.int64(high)
    cells[2, k] += sign * np.int64((scaled - high) * FRACTION_ONE)


@njit(cache=True, inline="always", nogil=True)
def _add_fixed_words(words, at, value):
    """:func:`_add_fixed` into ``words[at:at + FIXED_WORDS]`` (one cell's words side by side)."""
    whole = np.floor(value)
    scaled = (value - whole) * FRACTION_ONE
    high = np.floor(scaled)
    words[at] += np.int64(whole)
    words[at + 1] += np.int64(high)
    words[at + 2] += np.int64((scaled - high) * FRACTION_ONE)


@njit(cache=True, nogil=True)
def _fixed_values(cells):
    """The fixed-point sums of ``cells`` (int64[FIXED_WORDS, m]) as float64[m]."""
    m = cells.shape[1]
    out = np.empty(m, dtype=np.float64)
    for k in range(m):
        high = cells[1, k] + (cells[2, k] >> FRACTION_BITS)
        low = cells[2, k] & FRACTION_MASK
        whole = cells[0, k] + (high >> FRACTION_BITS)
        high = high & FRACTION_MASK
        out[k] = np.float64(whole) + (np.float64(high) + np.float64(low) / FRACTION_ONE) / FRACTION_ONE
    return out


@njit(cache=True, nogil=True)
def _exact_sum(values):
    """Σ of non-negative finite ``values`` in fixed point relative to the largest (52 bits below
    it), so the same in any order of the values, however small or large they are."""
    peak = 0.0
    for k in range(values.shape[0]):
        peak = max(peak, values[k])
    if peak <= 0.0:
        return 0.0
    exponent = math.frexp(peak)[1]
    cells = np.zeros((FIXED_WORDS, 1), dtype=np.int64)
    for k in range(values.shape[0]):
        _add_fixed(cells, 0, math.ldexp(values[k], -exponent))
    return math.ldexp(_fixed_values(cells)[0], exponent)


# ---------------------------------------------------------------------------------------- sums

def _pool_sum_words(bounds, stays, n_pools, n_regions):
    """Sums per pool, and per (pool, insured region) of the stays paid by points, as exact words
    (:func:`pool_sums` reads them): two sets of stays' words add and subtract exactly.

    Parameters
    ----------
    bounds : int64[n_chunks + 1]
        Chunks of the stays (:func:`chunk_bounds`).
    stays : StayArrays
    n_pools, n_regions : int

    Returns
    -------
    int64[4, n_pools]
        Patient share, fixed payments, fund paid and cases per pool.
    int64[2, n_pools, n_regions]
        Cost and fund per (pool, insured region) of the stays paid by points.
    int64[FIXED_WORDS, n_pools * (n_regions + 1)]
        Points less their fund part per (pool, insured region), then the fund part per pool.
    """
    n_chunks = bounds.shape[0] - 1
    by_pool = np.zeros((n_chunks, 4, n_pools), dtype=np.int64)
    by_insured = np.zeros((n_chunks, 2, n_pools, n_regions), dtype=np.int64)
    points = np.zeros((n_chunks, FIXED_WORDS, n_pools * (n_regions + 1)), dtype=np.int64)
    has_fund_part = stays.fund_part.shape[0] == stays.pool.shape[0]
    for c in prange(n_chunks):
        _pool_rows(by_pool[c], by_insured[c], points[c], stays, EVERY_STAY, bounds[c], bounds[c + 1], 1, n_pools,
                   n_regions, has_fund_part)
    return _add_chunks(by_pool), _add_chunks(by_insured), _add_chunks(points)


@njit(cache=True, nogil=True)
def _pool_rows(by_pool, by_insured, points, stays, rows, start, stop, sign, n_pools, n_regions, has_fund_part):
    """Add the stays ``rows[start:stop]`` (``rows`` :data:`EVERY_STAY`: the stays ``start:stop``) to the
    pool sums' words of :func:`_pool_sum_words` (``sign`` 1), or take them away (-1)."""
    every = rows.shape[0] == 0
    for j in range(start, stop):
        i = j if every else rows[j]
        pool = stays.pool[i]
        if pool < 0:
            continue
        by_pool[POOL_CASES, pool] += sign
        by_pool[POOL_FUND_PAID, pool] += sign * stays.fund_fen[i]
        if stays.fixed[i]:
            by_pool[POOL_FIXED_PAYMENTS, pool] += sign * stays.fixed_fen[i]
            continue
        insured = stays.insured[i]
        if insured < 0:
            insured = stays.region[i]   # insured where treated
        by_insured[INSURED_COST, pool, insured] += sign * stays.cost_fen[i]
        by_insured[INSURED_FUND, pool, insured] += sign * stays.fund_fen[i]
        stay_points = stays.points[i]
        if has_fund_part and stays.fund_part[i] > 0.0:
            stay_points -= stays.fund_part[i]
            _add_signed_fixed(points, n_pools * n_regions + pool, stays.fund_part[i], sign)
        _add_signed_fixed(points, pool * n_regions + insured, stay_points, sign)
        by_pool[POOL_PATIENT_SHARE, pool] += sign * (stays.cost_fen[i] - stays.fund_fen[i])


pool_sum_words = threaded_by_size(_pool_sum_words)


def pool_sums(bounds, stays, n_pools: int, n_regions: int) -> PoolSums:
    """Sums per pool, and per (pool, insured region) of the stays paid by points."""
    return pool_sums_of(pool_sum_words(bounds, stays, n_pools, n_regions), n_pools, n_regions)


def pool_sums_of(words: tuple, n_pools: int, n_regions: int) -> PoolSums:
    """The :class:`PoolSums` of :func:`pool_sum_words`."""
    per_pool, per_insured, points = words
    point_sums = _fixed_values(points)
    points_by_insured = point_sums[:n_pools * n_regions].reshape(n_pools, n_regions)
    return PoolSums(per_insured[INSURED_COST], per_insured[INSURED_FUND], points_by_insured,
                    point_sums[n_pools * n_regions:], per_pool[POOL_PATIENT_SHARE], per_pool[POOL_FIXED_PAYMENTS],
                    per_pool[POOL_FUND_PAID], per_pool[POOL_CASES])


def _stay_weights(bounds, stays, fund_ratio, use_ratio, n_hospitals):
    """Allocation weight of each stay paid by points within its (pool, hospital) pair: its points,
    times the fund ratio of its insured region in its pool when ``use_ratio`` (total-cost basis;
    points that are the fund's part already count as they are). The pairs' own weights come from
    the price cells (:func:`cell_prices`).

    Parameters
    ----------
    bounds : int64[n_chunks + 1]
    stays : StayArrays
    fund_ratio : float64[n_pools, n_regions]
    use_ratio : bool
    n_hospitals : int

    Returns
    -------
    StayWeights
    """
    n = stays.pool.shape[0]
    n_chunks = bounds.shape[0] - 1
    n_pairs = fund_ratio.shape[0] * n_hospitals
    weight = np.empty(n, dtype=np.float64)
    pair = np.empty(n, dtype=np.int64)
    has_fund_part = stays.fund_part.shape[0] == n
    for c in prange(n_chunks):
        for i in range(bounds[c], bounds[c + 1]):
            pool = stays.pool[i]
            if pool < 0 or stays.fixed[i]:
                weight[i] = 0.0
                pair[i] = n_pairs
                continue
            stay_weight = stays.points[i]
            if use_ratio:
                insured = stays.insured[i]
                if insured < 0:
                    insured = stays.region[i]
                fund_part = stays.fund_part[i] if has_fund_part else 0.0
                stay_weight = (stay_weight - fund_part) * fund_ratio[pool, insured] + fund_part
            weight[i] = stay_weight
            pair[i] = pool * n_hospitals + stays.hospital[i]
    return StayWeights(weight, pair)


stay_weights = threaded_by_size(_stay_weights)


def _hospital_sum_words(bounds, stays, stay_gross, prices, row_of_pair, n_rows, n_hospitals, points_scale, per_stay):
    """Sums per hospital row as exact words (:func:`hospital_sums` reads them), and the per-stay
    payments (empty without ``per_stay``). The monthly fund due comes from the price cells.

    Parameters
    ----------
    bounds : int64[n_chunks + 1]
    stays : StayArrays
    stay_gross : int64[n], or int64[0]
        Fen of each stay's share of its pool's money shared by points (none: the sums without the shares).
    prices : PoolPrices
    row_of_pair : int64[n_areas * n_hospitals]
        Hospital row of each (area, hospital).
    n_rows, n_hospitals : int
    points_scale : float
        Points per RW (CMI = mean base points / scale).
    per_stay : bool

    Returns
    -------
    int64[9, n_rows]
        Fund due, fee-for-service fund, cost, cases, remote cases, stays with base points, stays
        with a level, remote fund due and remote fee-for-service fund per row.
    int64[FIXED_WORDS, 3 * n_rows]
        Points, Σ base points / points scale and Σ hospital level per row.
    StayPayments
    """
    n = stays.pool.shape[0]
    n_chunks = bounds.shape[0] - 1
    fen_and_stays = np.zeros((n_chunks, 9, n_rows), dtype=np.int64)   # FUND_DUE ... REMOTE_FFS
    float_sums = np.zeros((n_chunks, FIXED_WORDS, 3 * n_rows), dtype=np.int64)    # POINTS, RW_SUM, LEVEL_SUM
    n_out = n if per_stay else 0
    payment = np.empty(n_out, dtype=np.float64)
    gain = np.empty(n_out, dtype=np.float64)
    standard = np.empty(n_out, dtype=np.float64)
    point_value = np.empty(n_out, dtype=np.float64)
    fund_ratio = np.empty(n_out, dtype=np.float64)
    has_level = stays.hospital_level.shape[0] == n
    for c in prange(n_chunks):
        _hospital_rows(fen_and_stays[c], float_sums[c], StayPayments(payment, gain, standard, point_value, fund_ratio),
                       stays, EVERY_STAY, bounds[c], bounds[c + 1], 1, stay_gross, prices, row_of_pair, n_rows,
                       n_hospitals, points_scale, per_stay, has_level)
    return (_add_chunks(fen_and_stays), _add_chunks(float_sums)), StayPayments(payment, gain, standard, point_value,
                                                                                fund_ratio)


hospital_sum_words = threaded_by_size(_hospital_sum_words)


@njit(cache=True, nogil=True)
def _hospital_rows(fen_and_stays, float_sums, out, stays, rows, start, stop, sign, stay_gross, prices, row_of_pair,
                   n_rows, n_hospitals, points_scale, per_stay, has_level):
    """Add the stays ``rows[start:stop]`` (``rows`` :data:`EVERY_STAY`: the stays ``start:stop``) to the
    row sums' words of :func:`_hospital_sum_words` (``sign`` 1), or take them away (-1), and write
    their payments into ``out`` (a StayPayments) when ``per_stay``."""
    every = rows.shape[0] == 0
    has_gross = stay_gross.shape[0] == stays.pool.shape[0]
    for j in range(start, stop):
        i = j if every else rows[j]
        pool = stays.pool[i]
        if pool < 0:
            if per_stay:
                out.payment[i] = 0.0
                out.gain_vs_ffs[i] = 0.0
                out.standard[i] = np.nan
                out.point_value[i] = np.nan
                out.fund_ratio[i] = np.nan
            continue
        row = row_of_pair[stays.area[i] * n_hospitals + stays.hospital[i]]
        patient_share = stays.cost_fen[i] - stays.fund_fen[i]
        if stays.fixed[i]:
            due = stays.fixed_fen[i]
            if per_stay:
                out.standard[i] = np.nan
                out.point_value[i] = np.nan
                out.fund_ratio[i] = np.nan
        else:
            gross = stay_gross[i] if has_gross else 0
            due = gross - patient_share if prices.basis == BASIS_PATIENT_SHARE else gross
            if per_stay:
                insured = stays.insured[i]
                if insured < 0:
                    insured = stays.region[i]
                out.standard[i] = stays.points[i] * prices.point_value[pool]
                out.point_value[i] = prices.point_value[pool]
                out.fund_ratio[i] = prices.fund_ratio[pool, insured]
            _add_signed_fixed(float_sums, POINTS * n_rows + row, stays.points[i], sign)
        if per_stay:
            out.payment[i] = due / 100.0
            out.gain_vs_ffs[i] = (due - stays.fund_fen[i]) / 100.0
        fen_and_stays[FUND_DUE, row] += sign * due
        fen_and_stays[FFS_FUND, row] += sign * stays.fund_fen[i]
        fen_and_stays[TOTAL_COST, row] += sign * stays.cost_fen[i]
        fen_and_stays[CASES, row] += sign
        if stays.remote[i]:
            fen_and_stays[REMOTE_CASES, row] += sign
            fen_and_stays[REMOTE_DUE, row] += sign * due
            fen_and_stays[REMOTE_FFS, row] += sign * stays.fund_fen[i]
        base_points = stays.base_points[i]
        if base_points > 0:
            _add_signed_fixed(float_sums, RW_SUM * n_rows + row, base_points / points_scale, sign)
            fen_and_stays[RW_CASES, row] += sign
        if has_level:
            level = stays.hospital_level[i]
            if level > 0:
                _add_signed_fixed(float_sums, LEVEL_SUM * n_rows + row, level, sign)
                fen_and_stays[LEVEL_CASES, row] += sign


def hospital_sums(bounds, stays, stay_gross, prices, row_of_pair, n_rows: int, n_hospitals: int, points_scale: float,
                  per_stay: bool) -> tuple:
    """Sums per hospital row (their ``month_due`` left empty: it comes from the price cells) and the
    per-stay payments (see :func:`_hospital_sum_words`)."""
    words, payments = hospital_sum_words(bounds, stays, stay_gross, prices, row_of_pair, n_rows, n_hospitals,
                                         points_scale, per_stay)
    return hospital_sums_of(words, n_rows), payments


def hospital_sums_of(words: tuple, n_rows: int) -> HospitalSums:
    """The :class:`HospitalSums` of :func:`hospital_sum_words` (``month_due`` empty)."""
    whole, float_words = words
    real = _fixed_values(float_words).reshape(3, n_rows)
    return HospitalSums(whole[FUND_DUE], whole[FFS_FUND], whole[TOTAL_COST], whole[CASES], whole[REMOTE_CASES],
                        real[POINTS], real[RW_SUM], whole[RW_CASES], np.zeros((n_rows, 13)), real[LEVEL_SUM],
                        whole[LEVEL_CASES], whole[REMOTE_DUE], whole[REMOTE_FFS])


# --------------------------------------------------------------------------- price cells

CELL_LESS_PART, CELL_FUND_PART, CELL_POINTS = range(3)   # fixed-point sums of a price cell
CELL_PATIENT_SHARE, CELL_FIXED_FEN = range(2)             # its integer sums
TOTAL_WITH_MONTH, TOTAL_LEFT_OUT = range(2)               # the totals of the stay counts


@njit(cache=True, nogil=True)
def _price_cells(pool, hospital, insured, region, month, n_pools, n_hospitals, n_regions):
    """Number the settled stays' (pool, hospital, insured region, month) cells in the order they first
    appear; see :class:`PriceCells`."""
    n = pool.shape[0]
    slot_of_pair = np.full(n_pools * n_hospitals, -1, dtype=np.int64)
    n_slots = 0
    for i in range(n):
        if pool[i] >= 0:
            pair = pool[i] * n_hospitals + hospital[i]
            if slot_of_pair[pair] < 0:
                slot_of_pair[pair] = n_slots
                n_slots += 1
    width = n_regions * 13
    cell_of_key = np.full(n_slots * width, -1, dtype=np.int64)
    cell = np.full(n, -1, dtype=np.int32)
    cell_pool = np.empty(n_slots * width, dtype=np.int64)
    cell_hospital = np.empty(n_slots * width, dtype=np.int64)
    cell_insured = np.empty(n_slots * width, dtype=np.int64)
    cell_month = np.empty(n_slots * width, dtype=np.int64)
    n_cells = 0
    for i in range(n):
        if pool[i] < 0:
            continue
        where = insured[i] if insured[i] >= 0 else region[i]
        key = slot_of_pair[pool[i] * n_hospitals + hospital[i]] * width + where * 13 + month[i]
        k = cell_of_key[key]
        if k < 0:
            k = n_cells
            cell_of_key[key] = k
            cell_pool[k], cell_hospital[k], cell_insured[k], cell_month[k] = pool[i], hospital[i], where, month[i]
            n_cells += 1
        cell[i] = k
    return cell, cell_pool[:n_cells].copy(), cell_hospital[:n_cells].copy(), cell_insured[:n_cells].copy(), \
        cell_month[:n_cells].copy()


def price_cells(stays, n_pools: int, n_hospitals: int, n_regions: int) -> PriceCells:
    """The price cell of every settled stay (:class:`PriceCells`)."""
    return PriceCells(*_price_cells(stays.pool, stays.hospital, stays.insured, stays.region, stays.month,
                                    n_pools, max(n_hospitals, 1), max(n_regions, 1)))


def _cell_sum_words(bounds, stays, cell, n_cells):
    """Sums of the stays per price cell, as exact words: of the stays paid by points, their points
    less the fund's part, that part and their points; their patients' share; and the fixed payments.

    Parameters
    ----------
    bounds : int64[n_chunks + 1]
    stays : StayArrays
    cell : int32[n]
        Price cell of each stay (-1: none).
    n_cells : int

    Returns
    -------
    int64[FIXED_WORDS, 3 * n_cells]
        The three sums of points, one block of cells after the other.
    int64[2, n_cells]
        Patients' share of the stays paid by points, fixed payments.
    """
    n_chunks = bounds.shape[0] - 1
    words = np.zeros((n_chunks, FIXED_WORDS, 3 * n_cells), dtype=np.int64)
    fen = np.zeros((n_chunks, 2, n_cells), dtype=np.int64)
    has_fund_part = stays.fund_part.shape[0] == stays.pool.shape[0]
    for c in prange(n_chunks):
        _cell_rows(words[c], fen[c], stays, cell, EVERY_STAY, bounds[c], bounds[c + 1], 1, n_cells, has_fund_part)
    return _add_chunks(words), _add_chunks(fen)


@njit(cache=True, nogil=True)
def _cell_rows(words, fen, stays, cell, rows, start, stop, sign, n_cells, has_fund_part):
    """Add the stays ``rows[start:stop]`` (``rows`` :data:`EVERY_STAY`: the stays ``start:stop``), ``cell``
    the price cell of each stay (-1: none), to the cell sums' words of :func:`_cell_sum_words`
    (``sign`` 1), or take them away (-1)."""
    every = rows.shape[0] == 0
    for j in range(start, stop):
        i = j if every else rows[j]
        k = cell[i]
        if k < 0:
            continue
        if stays.fixed[i]:
            fen[CELL_FIXED_FEN, k] += sign * stays.fixed_fen[i]
            continue
        points = stays.points[i]
        less = points
        if has_fund_part and stays.fund_part[i] > 0.0:
            less = points - stays.fund_part[i]
            _add_signed_fixed(words, CELL_FUND_PART * n_cells + k, stays.fund_part[i], sign)
        _add_signed_fixed(words, CELL_LESS_PART * n_cells + k, less, sign)
        _add_signed_fixed(words, CELL_POINTS * n_cells + k, points, sign)
        fen[CELL_PATIENT_SHARE, k] += sign * (stays.cost_fen[i] - stays.fund_fen[i])


cell_sum_words = threaded_by_size(_cell_sum_words)


@njit(cache=True, nogil=True)
def cell_prices(words, fen, cell_pool, cell_hospital, cell_insured, cell_row, cell_month, prices, use_ratio,
                n_hospitals, n_rows):
    """The allocation weight of each (pool, hospital) pair and the fund due at the budget point value
    of each hospital row and month, from the price cells' sums (:func:`_cell_sum_words`).

    A cell's sums of points are priced once: times the fund ratio of its (pool, insured region) when
    ``use_ratio`` (the part that is the fund's already as it is), and at its pool's budget point value
    on the policy's basis. The products add up exactly, so the same cell sums give the same weights and
    dues, whichever stays they were summed from.

    Returns
    -------
    float64[n_pools * n_hospitals]
    float64[n_rows, 13]
        Fen; month 0: unknown.
    """
    n_cells = cell_pool.shape[0]
    n_pairs = prices.fund_ratio.shape[0] * n_hospitals
    values = _fixed_values(words)
    pair_cells = np.zeros((FIXED_WORDS, n_pairs), dtype=np.int64)
    month_cells = np.zeros((FIXED_WORDS, n_rows * 13), dtype=np.int64)
    for k in range(n_cells):
        pool = cell_pool[k]
        less = values[CELL_LESS_PART * n_cells + k]
        part = values[CELL_FUND_PART * n_cells + k]
        points = values[CELL_POINTS * n_cells + k]
        weighted = less * prices.fund_ratio[pool, cell_insured[k]] + part
        _add_fixed(pair_cells, pool * n_hospitals + cell_hospital[k], weighted if use_ratio else points)
        budget_value = prices.budget_point_value[pool]
        if np.isnan(budget_value):
            budget_value = 0.0
        if prices.basis == BASIS_TOTAL_COST:
            due = weighted * budget_value * 100.0
        elif prices.basis == BASIS_PATIENT_SHARE:
            due = points * budget_value * 100.0 - fen[CELL_PATIENT_SHARE, k]
        else:
            due = points * budget_value * 100.0
        at = cell_row[k] * 13 + cell_month[k]
        _add_fixed(month_cells, at, due)
        _add_fixed(month_cells, at, np.float64(fen[CELL_FIXED_FEN, k]))
    return _fixed_values(pair_cells), _fixed_values(month_cells).reshape(n_rows, 13)


class StayCounts(NamedTuple):
    """What the settlement phases count of the stays besides their sums: enough to tell whether a
    draw keeps every hospital, and to give it its own remote fund, months and outlier and status
    counts (:mod:`drgdip.budget.drawn`)."""

    per_hospital: np.ndarray   # int64[n_hospitals] stays, in the budget or not
    remote_fund: np.ndarray    # int64[n_pools] fund paid for the settled in-province remote stays
    with_month: int            # settled stays with a known month
    outlier: np.ndarray        # int64[n_areas, n_classes] settled stays per outlier class
    left_out: np.ndarray       # int64[n_status, n_areas] stays left out, by status and area of their region
    left_out_stays: int        # stays left out (status other than ok), wherever treated


@njit(cache=True, nogil=True)
def _stay_counts(hospital, pool, area, remote, fund_fen, month, status, region, region_area, outlier_class,
                 n_hospitals, n_pools, n_areas, n_classes, n_status):
    per_hospital = np.zeros(n_hospitals, dtype=np.int64)
    remote_fund = np.zeros(n_pools, dtype=np.int64)
    outlier = np.zeros((max(n_areas, 1), max(n_classes, 1)), dtype=np.int64)
    left_out = np.zeros((max(n_status, 1), max(n_areas, 1)), dtype=np.int64)
    totals = np.zeros(2, dtype=np.int64)
    _count_rows(per_hospital, remote_fund, outlier, left_out, totals, hospital, pool, area, remote, fund_fen, month,
                status, region, region_area, outlier_class, n_classes, EVERY_STAY, 0, hospital.shape[0], 1)
    return per_hospital, remote_fund, totals[TOTAL_WITH_MONTH], outlier, left_out, totals[TOTAL_LEFT_OUT]


@njit(cache=True, nogil=True)
def _count_rows(per_hospital, remote_fund, outlier, left_out, totals, hospital, pool, area, remote, fund_fen, month,
                status, region, region_area, outlier_class, n_classes, rows, start, stop, sign):
    """Count the stays ``rows[start:stop]`` (``rows`` :data:`EVERY_STAY`: the stays ``start:stop``) into
    :class:`StayCounts`' arrays and ``totals`` (stays with a month, stays left out) (``sign`` 1), or
    take them away (-1)."""
    every = rows.shape[0] == 0
    for j in range(start, stop):
        i = j if every else rows[j]
        if hospital[i] >= 0:
            per_hospital[hospital[i]] += sign
        if pool[i] >= 0:
            if remote[i]:
                remote_fund[pool[i]] += sign * fund_fen[i]
            if month[i] != 0:
                totals[TOTAL_WITH_MONTH] += sign
        if n_classes > 0 and area[i] >= 0 and outlier_class[i] >= 0:
            outlier[area[i], outlier_class[i]] += sign
        if status[i] != 0:
            totals[TOTAL_LEFT_OUT] += sign
            if region[i] >= 0 and region_area[region[i]] >= 0:
                left_out[status[i], region_area[region[i]]] += sign


def stay_counts(arrays, layout, region_area: np.ndarray) -> StayCounts:
    """The :class:`StayCounts` of the stays of ``arrays`` (CaseArrays) and ``layout``; ``region_area``:
    the pooling area of each region label (-1 none), as the left-out counts of the summary place a stay."""
    n_classes = len(arrays.outlier_labels) if arrays.outlier_class is not None else 0
    outlier_class = arrays.outlier_class if arrays.outlier_class is not None else np.zeros(0, dtype=np.int32)
    return StayCounts(*_stay_counts(arrays.hospital, layout.pool, layout.area, layout.remote, arrays.fund_fen,
                                    arrays.month, arrays.status, arrays.region, region_area, outlier_class,
                                    max(len(arrays.hospital_labels), 1), max(len(layout.pool_labels), 1),
                                    len(layout.area_labels), n_classes, len(arrays.status_labels)))


class StayWords(NamedTuple):
    """Every sum a settlement makes of its stays, as the words of :func:`pool_sum_words`,
    :func:`hospital_sum_words` (without the pools' money), :func:`cell_sum_words` and :func:`stay_counts`:
    what :func:`add_stay_words` adds stays to and takes them away from, in place."""

    pool_fen: np.ndarray       # int64[4, n_pools]
    insured_fen: np.ndarray    # int64[2, n_pools, n_regions]
    pool_points: np.ndarray    # int64[FIXED_WORDS, n_pools * (n_regions + 1)]
    row_fen: np.ndarray        # int64[9, n_rows]
    row_floats: np.ndarray     # int64[FIXED_WORDS, 3 * n_rows]
    cell_points: np.ndarray    # int64[FIXED_WORDS, 3 * n_cells]
    cell_fen: np.ndarray       # int64[2, n_cells]
    per_hospital: np.ndarray   # int64[n_hospitals]
    remote_fund: np.ndarray    # int64[n_pools]
    outlier: np.ndarray        # int64[n_areas, n_classes]
    left_out: np.ndarray       # int64[n_status, n_areas]
    totals: np.ndarray         # int64[2] stays with a month, stays left out


@njit(cache=True, nogil=True)
def _add_stay_words(words, stays, status, outlier_class, cell, records, record_size, rows, sign, row_of_pair,
                    n_hospitals, prices, points_scale, region_area, n_classes):
    n_pools, n_regions = words.insured_fen.shape[1], words.insured_fen.shape[2]
    n_rows, n_cells = words.row_fen.shape[1], words.cell_fen.shape[1]
    has_fund_part = stays.fund_part.shape[0] == stays.pool.shape[0]
    has_level = stays.hospital_level.shape[0] == stays.pool.shape[0]
    has_records = records.shape[0] > 0
    no_gross = np.zeros(0, dtype=np.int64)
    none = np.zeros(0, dtype=np.float64)
    no_payments = StayPayments(none, none, none, none, none)
    touched = np.zeros(1, dtype=np.float64)
    for start in range(0, rows.shape[0], ROWS_PER_BLOCK):
        stop = min(start + ROWS_PER_BLOCK, rows.shape[0])
        # have the memory fetch the block's stays side by side before the adders below read them
        if has_records:
            for j in range(start, stop):
                prefetch(records, rows[j] * record_size)
                prefetch(records, rows[j] * record_size + record_size - 1)
        else:
            seen = 0.0   # the arrays of a stay lie apart: read each once, the loads independent of one another
            for j in range(start, stop):
                i = rows[j]
                seen += stays.pool[i] + stays.cost_fen[i] + stays.points[i] + stays.fixed[i] + status[i] + cell[i] \
                    + stays.month[i]
            touched[0] += seen
        _pool_rows(words.pool_fen, words.insured_fen, words.pool_points, stays, rows, start, stop, sign, n_pools,
                   n_regions, has_fund_part)
        _hospital_rows(words.row_fen, words.row_floats, no_payments, stays, rows, start, stop, sign, no_gross, prices,
                       row_of_pair, n_rows, n_hospitals, points_scale, False, has_level)
        _cell_rows(words.cell_points, words.cell_fen, stays, cell, rows, start, stop, sign, n_cells, has_fund_part)
        _count_rows(words.per_hospital, words.remote_fund, words.outlier, words.left_out, words.totals,
                    stays.hospital, stays.pool, stays.area, stays.remote, stays.fund_fen, stays.month, status,
                    stays.region, region_area, outlier_class, n_classes, rows, start, stop, sign)


NO_RECORDS = np.zeros(0, dtype=np.uint8)


def add_stay_words(words: StayWords, stays: StayArrays, status: np.ndarray, outlier_class: np.ndarray,
                   cell: np.ndarray, rows: np.ndarray, sign: int, row_of_pair: np.ndarray, n_hospitals: int,
                   basis: int, points_scale: float, region_area: np.ndarray, n_classes: int,
                   records: np.ndarray | None = None) -> None:
    """Add the stays at ``rows`` (any order, a row again for each time it counts) to ``words`` (``sign``
    1), or take them away (-1), in place: the same words as summing the stays that remain, since
    every word is an integer. ``stays`` (with ``status``, ``outlier_class`` and the price ``cell`` of
    each stay) may be strided views of ``records``, one record per stay (a structured array), so that
    a stay's values lie side by side and are fetched at once; the pool sums' words are those without
    the pools' money (``basis``: how a stay's due is reckoned without it)."""
    prices = PoolPrices(np.zeros((1, 1)), np.zeros(1), np.zeros(1), basis)   # of the prices, only the basis counts
    record_bytes = NO_RECORDS if records is None else records.view(np.uint8).reshape(-1)
    record_size = 1 if records is None else records.dtype.itemsize
    _add_stay_words(words, stays, status, outlier_class, cell, record_bytes, np.int64(record_size),
                    np.asarray(rows, dtype=np.int64), np.int64(sign), row_of_pair, max(n_hospitals, 1), prices,
                    points_scale, region_area, n_classes)


def _pair_counts(bounds, first, second, n_first, n_second):
    """Stays per pair ``first * n_second + second`` among those with both codes >= 0.

    Parameters
    ----------
    bounds : int64[n_chunks + 1]
    first, second : int32[n]
        E.g. pooling area and hospital (-1: not counted).
    n_first, n_second : int

    Returns
    -------
    int64[n_first * n_second]
    """
    n_chunks = bounds.shape[0] - 1
    counts = np.zeros((n_chunks, n_first * n_second), dtype=np.int64)
    for c in prange(n_chunks):
        for i in range(bounds[c], bounds[c + 1]):
            if first[i] >= 0 and second[i] >= 0:
                counts[c, first[i] * n_second + second[i]] += 1
    return _add_chunks(counts)


pair_counts = threaded_by_size(_pair_counts)


# --------------------------------------------------------------------------- largest remainder

class Sharing(NamedTuple):
    """Fen shared out by largest remainder, before the ties at the cut are settled.

    Where the last fen of a group would go to some but not all of the items whose remainder equals
    the cut (the smallest remainder that still gets a fen), none of those items gets it here: they
    are marked ``tied`` and ``tie_fen[g]`` says how many of them get one fen each. The caller gives
    them out by a key that does not depend on item order (:func:`drgdip.budget.money.share_by_weight`).
    """

    amount: np.ndarray    # int64[n_items] fen of each item, without the fen of the ties at the cut
    unplaced: np.ndarray  # int64[n_groups] total[g] where the group has no weight, else 0
    tied: np.ndarray      # bool[n_items] item whose remainder ties at the cut of its group
    tie_fen: np.ndarray   # int64[n_groups] fen still to give the group's tied items, one each


def _largest_remainder(ptr, weight, total):
    """Largest-remainder (Hamilton) allocation of ``total[g]`` fen over the items of each group.

    Item ``i`` of group ``g`` has the exact quota ``q_i = total[g] · weight[i] / Σ_g weight``
    (multiplied first, so exact ties stay ties; the sum in fixed point, the same in any item order); it gets ``floor(q_i)`` fen and the fen still missing
    go one each to the items with the largest remainders ``q_i − floor(q_i)``. Items that tie at the
    cut are left to the caller (:class:`Sharing`). Items of a group whose weights sum to zero get
    nothing; ``unplaced[g]`` reports the fen left over. Groups are shared out in parallel, each by one thread.

    Parameters
    ----------
    ptr : int64[n_groups + 1]
        Items in group order: ``ptr[g]:ptr[g + 1]`` are the items of group ``g``.
    weight : float64[n_items]
        Non-negative finite weight of each item, in group order (items from ``ptr[n_groups]`` on
        belong to no group).
    total : int64[n_groups]
        Non-negative fen to share out in each group.

    Returns
    -------
    Sharing
        In group order (0 fen and not tied for items in no group). Per group, ``amount`` and
        ``tie_fen`` add up to ``total[g]`` exactly.
    """
    n_groups = total.shape[0]
    amount = np.zeros(weight.shape[0], dtype=np.int64)
    unplaced = np.zeros(n_groups, dtype=np.int64)
    tied = np.zeros(weight.shape[0], dtype=np.bool_)
    tie_fen = np.zeros(n_groups, dtype=np.int64)
    for g in prange(n_groups):
        group_weight = weight[ptr[g]:ptr[g + 1]]
        weight_sum = _exact_sum(group_weight)
        if group_weight.shape[0] == 0 or weight_sum <= 0.0:
            unplaced[g] = total[g]
            continue
        group_amount = amount[ptr[g]:ptr[g + 1]]
        remainder = np.empty(group_weight.shape[0], dtype=np.float64)
        floor_sum = 0
        for k in range(group_weight.shape[0]):
            quota = (total[g] * group_weight[k]) / weight_sum
            floor = np.floor(quota)
            group_amount[k] = np.int64(floor)
            remainder[k] = quota - floor
            floor_sum += np.int64(floor)
        tie_fen[g] = _settle_deficit(group_amount, remainder, total[g] - floor_sum, tied[ptr[g]:ptr[g + 1]])
    return Sharing(amount, unplaced, tied, tie_fen)


largest_remainder = threaded_by_size(_largest_remainder)


def share_grouped(group, weight, total, n_groups):
    """:func:`largest_remainder` of ``total`` over items given in any order.

    The items are put in group order (stable: input order within a group) and back by counting
    sort; the caller guarantees valid input (:func:`drgdip.budget.money.allocate_grouped` checks it).

    Parameters
    ----------
    group : int64[n]
        Group of each item, 0 <= group <= n_groups; ``n_groups`` for items in no group.
    weight : float64[n]
        Non-negative finite weight of each item.
    total : int64[n_groups]
        Fen to share out in each group.
    n_groups : int

    Returns
    -------
    Sharing
        In item order.
    """
    ptr = np.zeros(n_groups + 2, dtype=np.int64)
    np.cumsum(np.bincount(group, minlength=n_groups + 1), out=ptr[1:])
    shared = largest_remainder(ptr[:n_groups + 1], _regroup(group, ptr, weight, True), total)
    tied = (_regroup(group, ptr, shared.tied, False) if shared.tie_fen.any()
            else np.zeros(len(group), dtype=np.bool_))
    return Sharing(_regroup(group, ptr, shared.amount, False), shared.unplaced, tied, shared.tie_fen)


@njit(cache=True, nogil=True)
def _regroup(group, ptr, values, to_groups):
    """``values`` from item order to group order (``to_groups``) or back, by counting sort.

    Parameters
    ----------
    group : int64[n]
        Group of each item, 0 <= group < len(ptr) - 1.
    ptr : int64[n_groups + 1]
        First position of each group in group order, and n.
    values : number[n]
    to_groups : bool

    Returns
    -------
    number[n]
        Each group's items contiguous, in input order within the group; or back in item order.

    Each group's position moves forward one item at a time, so reads and writes stay sequential
    per group (no random access over all items).
    """
    next_position = ptr[:-1].copy()
    out = np.empty_like(values)
    for i in range(group.shape[0]):
        k = next_position[group[i]]
        next_position[group[i]] = k + 1
        if to_groups:
            out[k] = values[i]
        else:
            out[i] = values[k]
    return out


@njit(cache=True, nogil=True)
def _settle_deficit(amount, rem, deficit, tied):
    """Hand out the fen still missing (``deficit`` > 0) or taken back (< 0) after flooring a group.

    ``amount`` (int64[m], updated in place) and ``rem`` (float64[m]) are the group's floors and
    remainders; ``tied`` (bool[m]) marks the items that tie at the cut. Returns the fen left for
    them. The usual case, 1 <= deficit <= m, goes by largest remainder (:func:`_give_largest`);
    anything else means float error piled up (never seen in practice): a deficit of m or more
    first gives every item the same whole fen, and fen taken back leave the smallest remainders
    first (ties: the later item).
    """
    m = rem.shape[0]
    if deficit >= m:
        each = deficit // m
        for k in range(m):
            amount[k] += each
        deficit -= each * m
    if deficit > 0:
        return _give_largest(amount, rem, deficit, tied)
    if deficit == 0:
        return 0
    ranking = np.argsort(-rem, kind="mergesort")
    r = m - 1
    while deficit < 0:
        i = ranking[r]
        if amount[i] > 0:
            amount[i] -= 1
            deficit += 1
        r = r - 1 if r > 0 else m - 1
    return 0


@njit(cache=True, nogil=True)
def _give_largest(amount, rem, deficit, tied):
    """Add one fen to the ``deficit`` items with the largest remainders; items tied at the cut are
    marked instead (:func:`_give_ranked`).

    Parameters
    ----------
    amount : int64[m]
        Fen per item of the group, updated in place.
    rem : float64[m]
        Remainder of each item.
    deficit : int
        1 <= deficit <= m.
    tied : bool[m]
        Set for the items tied at the cut.

    Returns
    -------
    int
        Fen left for the tied items.

    Remainders are first counted in ``N_BUCKETS`` equal buckets of [0, 1); every item above the
    bucket where the ``deficit``-th largest remainder falls gets a fen, and only that bucket is sorted.
    """
    m = rem.shape[0]
    if m <= 64:
        return _give_ranked(amount, rem, np.argsort(-rem, kind="mergesort"), deficit, tied)
    bucket = np.empty(m, dtype=np.int64)
    counts = np.zeros(N_BUCKETS, dtype=np.int64)
    for k in range(m):
        b = np.int64(rem[k] * N_BUCKETS)
        if b >= N_BUCKETS:
            b = N_BUCKETS - 1
        elif b < 0:
            b = 0
        bucket[k] = b
        counts[b] += 1
    above = 0
    edge = N_BUCKETS - 1
    while edge >= 0 and above + counts[edge] < deficit:
        above += counts[edge]
        edge -= 1
    members = np.empty(counts[edge], dtype=np.int64)
    j = 0
    for k in range(m):
        if bucket[k] > edge:
            amount[k] += 1
        elif bucket[k] == edge:
            members[j] = k
            j += 1
    member_rem = np.empty(j, dtype=np.float64)
    for t in range(j):
        member_rem[t] = -rem[members[t]]
    return _give_ranked(amount, rem, members[np.argsort(member_rem, kind="mergesort")], deficit - above, tied)


@njit(cache=True, nogil=True)
def _give_ranked(amount, rem, ranked, need, tied):
    """One fen to each of the first ``need`` items of ``ranked`` (largest remainder first), unless
    the ``need``-th remainder ties with the next one: then the items above that remainder get a fen,
    those with it are marked ``tied``, and the fen left for them is returned.

    Parameters
    ----------
    amount : int64[m]
        Fen per item of the group, updated in place.
    rem : float64[m]
    ranked : int64[k]
        Items by falling remainder, 1 <= need <= k.
    need : int
    tied : bool[m]

    Returns
    -------
    int
        Fen left for the tied items (0 when the cut falls between two remainders).
    """
    cut = rem[ranked[need - 1]]
    if need == ranked.shape[0] or rem[ranked[need]] != cut:
        for r in range(need):
            amount[ranked[r]] += 1
        return 0
    left = need
    for r in range(ranked.shape[0]):
        k = ranked[r]
        if rem[k] > cut:
            amount[k] += 1
            left -= 1
        elif rem[k] == cut:
            tied[k] = True
        else:
            break
    return left


@njit(cache=True, nogil=True)
def _group_sum_int(group, values, n_groups):
    """Exact int64 sums of ``values`` by ``group``.

    Parameters
    ----------
    group : int64[n]
        Group of each item.
    values : int64[n]
        Fen per item.
    n_groups : int

    Returns
    -------
    int64[n_groups]
    """
    out = np.zeros(n_groups, dtype=np.int64)
    for i in range(group.shape[0]):
        out[group[i]] += values[i]
    return out


def _year_sums(bounds, group, hospital, usable, year, first_year, n_years, values, n_groups, n_hospitals):
    """Σ values per (year, group, hospital) cell over the usable stays, as exact fixed-point sums
    (:func:`_add_fixed`): the same in any order of the stays, however they are chunked, and whether
    they come one by one or as cells of equal stays.

    Parameters
    ----------
    bounds : int64[n_chunks + 1]
    group, hospital : int64[n]
        Cell of each stay (anything where the stay is not usable).
    usable : bool[n]
    year : int64[n]
        Year of each stay, at most ``first_year + n_years - 1`` where usable (earlier years are left out).
    first_year, n_years : int
    values : float64[n]
    n_groups, n_hospitals : int

    Returns
    -------
    int64[FIXED_WORDS, n_years * n_groups * n_hospitals]
        The words of each sum, cells in (year, group, hospital) order.
    """
    n_chunks = bounds.shape[0] - 1
    n_cells = n_groups * n_hospitals
    buffer = np.zeros((n_chunks, FIXED_WORDS, n_years * n_cells), dtype=np.int64)
    for c in prange(n_chunks):
        for i in range(bounds[c], bounds[c + 1]):
            if usable[i] and year[i] >= first_year:
                _add_fixed(buffer[c], (year[i] - first_year) * n_cells + group[i] * n_hospitals + hospital[i],
                           values[i])
    return _add_chunks(buffer)


year_sums = threaded_by_size(_year_sums)


def _history_sums(bounds, cell, use, n_years, n_cells, value, points, out_usable, previous):
    """The history point value's sums in one pass over the stays it counts (in ``use``, with finite
    points above 0): Σ points per (year, group, hospital) cell as exact fixed-point sums
    (:func:`_year_sums`), Σ ``value`` too unless it is empty, and the number of such stays per year;
    which stays it counts goes into ``out_usable``, and how many of them differ from ``previous``.

    Parameters
    ----------
    bounds : int64[n_chunks + 1]
    cell : int32[n]
        (year - first year) * n_cells + group * n_hospitals + hospital of each stay.
    use : bool[n], or bool[0]: every stay
    n_years, n_cells : int
        Years from the first, and (group, hospital) cells per year.
    value : float64[n], or float64[0]: the points only
    points : float64[n]
    out_usable : bool[n]
    previous : bool[n], or bool[0]: none to compare with

    Returns
    -------
    (int64[FIXED_WORDS, n_years * n_cells] × 2, int64[n_years], int)
        The words of the value sums (zeros without values) and of the points sums, cells in
        (year, group, hospital) order, the count of stays per year, and the number of stays counted
        here and not in ``previous`` or the other way round.
    """
    n_chunks = bounds.shape[0] - 1
    every = use.shape[0] == 0
    with_value = value.shape[0] > 0
    compare = previous.shape[0] > 0
    n_words = 2 * FIXED_WORDS if with_value else FIXED_WORDS
    # a cell's words side by side: one cache line per stay
    buffer = np.zeros((n_chunks, n_years * n_cells, n_words), dtype=np.int64)
    count_buffer = np.zeros((n_chunks, n_years), dtype=np.int64)
    changed = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        for i in range(bounds[c], bounds[c + 1]):
            p = points[i]
            ok = (every or use[i]) and p > 0.0 and p < np.inf
            out_usable[i] = ok
            if compare and ok != previous[i]:
                changed[c] += 1
            if ok:
                k = cell[i]
                words = buffer[c, k]
                _add_fixed_words(words, 0, p)
                if with_value:
                    _add_fixed_words(words, FIXED_WORDS, value[i])
                count_buffer[c, k // n_cells] += 1
    words = _add_chunks(buffer)
    values = np.ascontiguousarray(words[:, FIXED_WORDS:].T) if with_value else \
        np.zeros((FIXED_WORDS, n_years * n_cells), dtype=np.int64)
    return values, np.ascontiguousarray(words[:, :FIXED_WORDS].T), _add_chunks(count_buffer), changed.sum()


history_sums = threaded_by_size(_history_sums)


@njit(cache=True, nogil=True)
def fixed_values(cells):
    """The fixed-point sums of ``cells`` (int64[FIXED_WORDS, m]) as float64[m]."""
    return _fixed_values(cells)


@njit(cache=True, nogil=True)
def usable_years(use, points, year):
    """(which stays the history point value counts: those in ``use`` (bool[n], or bool[0]: all) with
    finite points above 0; the first year among them; the number of them in each year from it on).
    The first year is 0 and the counts empty when none counts."""
    n = points.shape[0]
    every = use.shape[0] == 0
    usable = np.empty(n, dtype=np.bool_)
    first, last = 0, -1
    for i in range(n):
        p = points[i]
        ok = (every or use[i]) and p > 0.0 and p < np.inf
        usable[i] = ok
        if ok:
            if last < first:
                first, last = year[i], year[i]
            else:
                first, last = min(first, year[i]), max(last, year[i])
    counts = np.zeros(max(last - first + 1, 0), dtype=np.int64)
    for i in range(n):
        if usable[i]:
            counts[year[i] - first] += 1
    return usable, first, counts


# ------------------------------------------------------------------------------------- per-case passes

@njit(cache=True, nogil=True)
def _whole_fen(value, half_up):
    """A float number of fen rounded to whole fen: half up (away from zero) or half to even.

    The value is read at six decimals of a fen: one within :data:`HALF_FEN_TOLERANCE` of ``k + ½``
    is exactly half a fen, whatever binary digits follow (``1.005 × 100`` is 100.49999999999999).
    Exact for any float: ``value − floor(value)`` has no rounding error.
    """
    down = np.floor(value)
    fraction = value - down
    if abs(fraction - 0.5) <= HALF_FEN_TOLERANCE:
        if half_up:
            return down + 1.0 if value > 0.0 else down
        return down + 1.0 if np.fmod(down, 2.0) != 0.0 else down
    return down + 1.0 if fraction > 0.5 else down


@njit(cache=True, nogil=True)
def _round_fen(values, half_up):
    """:func:`_whole_fen` of every value.

    Parameters
    ----------
    values : float64[n]
        Fen (finite).
    half_up : bool

    Returns
    -------
    int64[n]
    """
    out = np.empty(values.shape[0], dtype=np.int64)
    for i in range(values.shape[0]):
        out[i] = np.int64(_whole_fen(values[i], half_up))
    return out


@njit(cache=True, nogil=True)
def _to_fen_checked(values, allow_nan, half_up):
    """Yuan to fen (:func:`_whole_fen` of ``yuan × 100``) with validation in one pass.

    Parameters
    ----------
    values : float64[n]
        Yuan amounts.
    allow_nan : bool
        Missing values allowed (they become 0 fen).
    half_up : bool
        Half a fen rounds up (away from zero), else to even.

    Returns
    -------
    fen : int64[n]
    bad : int
        Index of the first missing (when not allowed), infinite or negative value, else -1.
    kind : int
        0 none, 1 missing, 2 infinite, 3 negative.
    """
    n = values.shape[0]
    fen = np.empty(n, dtype=np.int64)
    bad = -1
    kind = 0
    for i in range(n):
        v = values[i]
        if np.isnan(v):
            if not allow_nan and bad < 0:
                bad, kind = i, 1
            fen[i] = 0
        elif np.isinf(v):
            if bad < 0:
                bad, kind = i, 2
            fen[i] = 0
        else:
            if v < 0.0 and bad < 0:
                bad, kind = i, 3
            fen[i] = np.int64(_whole_fen(v * 100.0, half_up))
    return fen, bad, kind


@njit(cache=True, nogil=True)
def _layout_kernel(region, insured, status, insurance, region_area, region_province, region_wanted,
                   cross_code, other_code, n_types, split_type, separate, n_candidates):
    """Pooling area, remote flag and pool of every stay, in two passes.

    Parameters
    ----------
    region, insured : int64[n]
        Treatment and insured region (codes into the region labels; insured -1 = local).
    status : int8[n]
        0 = settled; updated in place with ``cross_code`` (insured in another province) and
        ``other_code`` (treated in a region the policy does not settle).
    insurance : int64[n]
        Insurance type code.
    region_area : int64[n_regions]
        Candidate pooling area of each region label.
    region_province : int64[n_regions]
        Province of each region label.
    region_wanted : bool[n_regions]
        Regions the policy settles.
    n_types : int
        Insurance types (1 when the pools are not split by type).
    split_type, separate : bool
        Pools per insurance type; a separate pool for remote stays.
    n_candidates : int
        Number of candidate areas.

    Returns
    -------
    area : int32[n]   area of each settled stay (numbered over the areas that have stays), -1 otherwise
    pool : int32[n]   pool of each settled stay, -1 otherwise
    remote : bool[n]  in-province remote stay
    pool_keys : int64[n_pools]  dense key ``(candidate_area * n_types + type) * 2 + remote`` of each pool
    area_ids : int64[n_candidates]  area number of each candidate area (-1: no stay)
    """
    n = region.shape[0]
    n_keys = n_candidates * n_types * 2
    count = np.zeros(n_keys, dtype=np.int64)
    remote = np.zeros(n, dtype=np.bool_)
    key = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        r = region[i]
        ins = insured[i]
        if ins < 0:
            ins = r
        if r >= 0 and ins != r:
            if region_province[ins] != region_province[r]:
                if status[i] == 0:
                    status[i] = cross_code
            else:
                remote[i] = True
        if status[i] == 0 and r >= 0 and not region_wanted[r]:
            status[i] = other_code
        if status[i] != 0 or r < 0:
            continue
        t = insurance[i] if split_type else 0
        k = (region_area[r] * n_types + t) * 2 + (1 if (separate and remote[i]) else 0)
        key[i] = k
        count[k] += 1
    pool_of_key = np.full(n_keys, -1, dtype=np.int64)
    area_ids = np.full(n_candidates, -1, dtype=np.int64)
    n_pools = 0
    n_areas = 0
    for k in range(n_keys):
        if count[k] > 0:
            pool_of_key[k] = n_pools
            n_pools += 1
            a = k // (n_types * 2)
            if area_ids[a] < 0:
                area_ids[a] = n_areas
                n_areas += 1
    pool_keys = np.empty(n_pools, dtype=np.int64)
    for k in range(n_keys):
        if pool_of_key[k] >= 0:
            pool_keys[pool_of_key[k]] = k
    area = np.full(n, -1, dtype=np.int32)
    pool = np.full(n, -1, dtype=np.int32)
    for i in range(n):
        k = key[i]
        if k >= 0:
            pool[i] = pool_of_key[k]
            area[i] = area_ids[k // (n_types * 2)]
    return area, pool, remote, pool_keys, area_ids


def _check_chunks(bounds, values):
    """Per chunk of ``values``: first NaN, infinite and negative positions (-1 when none) and NaN count.

    Parameters
    ----------
    bounds : int64[n_chunks + 1]
    values : float64[n]

    Returns
    -------
    int64[n_chunks, 4]
    """
    n_chunks = bounds.shape[0] - 1
    out = np.empty((n_chunks, 4), dtype=np.int64)
    for c in prange(n_chunks):
        first_nan = -1
        first_inf = -1
        first_neg = -1
        n_nan = 0
        for i in range(bounds[c], bounds[c + 1]):
            v = values[i]
            if np.isnan(v):
                n_nan += 1
                if first_nan < 0:
                    first_nan = i
            elif np.isinf(v):
                if first_inf < 0:
                    first_inf = i
            elif v < 0.0 and first_neg < 0:
                first_neg = i
        out[c, 0] = first_nan
        out[c, 1] = first_inf
        out[c, 2] = first_neg
        out[c, 3] = n_nan
    return out


check_chunks = threaded_by_size(_check_chunks)


def _check_values(values: np.ndarray) -> tuple[int, int, int, int]:
    """First NaN, infinite and negative positions of ``values`` (float64[n]; -1 when none) and the NaN count."""
    per_chunk = check_chunks(chunk_bounds(len(values), 1), values)
    firsts = []
    for column in range(3):
        found = per_chunk[:, column][per_chunk[:, column] >= 0]
        firsts.append(int(found[0]) if len(found) else -1)
    return firsts[0], firsts[1], firsts[2], int(per_chunk[:, 3].sum())
