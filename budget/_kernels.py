"""numba kernels of the budget stage: grouped largest-remainder allocation in integer fen.

Only plain numpy arrays go in and out; :mod:`drgdip.budget.money` validates and prepares them.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from drgdip.core._kernels import counting_order


N_BUCKETS = 1 << 12


@njit(cache=True)
def _settle_deficit(amount, order, start, rem, deficit):
    """Hand out the fen still missing (``deficit`` > 0) or taken back (< 0) after flooring a group.

    The usual case, 1 <= deficit <= m, goes by largest remainder (:func:`_give_largest`); anything
    else means float error piled up (never seen in practice) and falls back to a full ranking.
    """
    m = rem.shape[0]
    if deficit > 0 and deficit <= m:
        _give_largest(amount, order, start, rem, deficit)
        return
    if deficit == 0:
        return
    ranking = np.argsort(-rem, kind="mergesort")
    r = 0
    while deficit > 0:
        amount[order[start + ranking[r % m]]] += 1
        deficit -= 1
        r += 1
    r = m - 1
    while deficit < 0:
        i = order[start + ranking[r]]
        if amount[i] > 0:
            amount[i] -= 1
            deficit += 1
        r = r - 1 if r > 0 else m - 1


@njit(cache=True)
def _give_largest(amount, order, start, rem, deficit):
    """Add one fen to the ``deficit`` items with the largest remainders (ties: earlier item).

    Parameters
    ----------
    amount : int64[n]
        Fen per item, updated in place.
    order : int64[n]
        Items sorted by group; the group's items are ``order[start:start + len(rem)]``.
    start : int
    rem : float64[m]
        Remainder of each item of the group, in ``order`` position.
    deficit : int
        1 <= deficit <= m.

    Remainders are first counted in ``N_BUCKETS`` equal buckets of [0, 1); every item above the
    bucket where the ``deficit``-th largest remainder falls gets a fen, and only that bucket is sorted.
    """
    m = rem.shape[0]
    if m <= 64:
        ranking = np.argsort(-rem, kind="mergesort")
        for r in range(deficit):
            amount[order[start + ranking[r]]] += 1
        return
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
    need = deficit - above
    members = np.empty(counts[edge], dtype=np.int64)
    j = 0
    for k in range(m):
        if bucket[k] > edge:
            amount[order[start + k]] += 1
        elif bucket[k] == edge:
            members[j] = k
            j += 1
    member_rem = np.empty(j, dtype=np.float64)
    for t in range(j):
        member_rem[t] = -rem[members[t]]
    ranking = np.argsort(member_rem, kind="mergesort")
    for r in range(need):
        amount[order[start + members[ranking[r]]]] += 1


def _allocate_grouped_py(group, weight, total, n_groups):
    """Largest-remainder (Hamilton) allocation of ``total[g]`` fen over the items of each group.

    Item ``i`` of group ``g`` has the exact quota ``q_i = total[g] · weight[i] / Σ_g weight``; it
    gets ``floor(q_i)`` fen and the fen still missing go one each to the items with the largest
    remainders ``q_i − floor(q_i)`` (ties: the earlier item). Items of a group whose weights sum to
    zero get nothing (``unplaced[g]`` reports the fen left over).

    Parameters
    ----------
    group : int64[n]
        Group of each item, 0 <= group < n_groups.
    weight : float64[n]
        Non-negative finite weight of each item.
    total : int64[n_groups]
        Non-negative fen to share out in each group.
    n_groups : int

    Returns
    -------
    amount : int64[n]
        Fen allocated to each item; per group they add up to ``total[g]`` exactly.
    unplaced : int64[n_groups]
        ``total[g]`` where the group has no weight, else 0.
    """
    n = group.shape[0]
    order, ptr = counting_order(group, n_groups)
    amount = np.zeros(n, dtype=np.int64)
    unplaced = np.zeros(n_groups, dtype=np.int64)
    for g in prange(n_groups):
        start = ptr[g]
        stop = ptr[g + 1]
        w_sum = 0.0
        for k in range(start, stop):
            w_sum += weight[order[k]]
        if stop == start or w_sum <= 0.0:
            unplaced[g] = total[g]
            continue
        m = stop - start
        rem = np.empty(m, dtype=np.float64)
        floor_sum = 0
        for k in range(m):
            i = order[start + k]
            q = (total[g] * weight[i]) / w_sum   # multiply first: exact ties stay ties; no overflow
            f = np.floor(q)
            amount[i] = np.int64(f)
            rem[k] = q - f
            floor_sum += np.int64(f)
        deficit = total[g] - floor_sum
        _settle_deficit(amount, order, start, rem, deficit)
    return amount, unplaced


# the same kernel serial (small inputs: no thread start-up) and parallel over groups (large inputs)
_allocate_grouped_serial = njit(cache=True)(_allocate_grouped_py)
_allocate_grouped_parallel = njit(cache=True, parallel=True)(_allocate_grouped_py)
PARALLEL_MIN_ITEMS = 200_000


def _allocate_grouped_kernel(group, weight, total, n_groups):
    """Dispatch :func:`_allocate_grouped_py` serially or in parallel by size (same result)."""
    kernel = _allocate_grouped_parallel if group.shape[0] >= PARALLEL_MIN_ITEMS else _allocate_grouped_serial
    return kernel(group, weight, total, n_groups)


@njit(cache=True)
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


# ------------------------------------------------------------------------------------- per-case passes

@njit(cache=True)
def _to_fen_checked(values, allow_nan):
    """Yuan to fen (half to even) with validation in one pass.

    Parameters
    ----------
    values : float64[n]
        Yuan amounts.
    allow_nan : bool
        Missing values allowed (they become 0 fen).

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
            fen[i] = np.int64(np.rint(v * 100.0))
    return fen, bad, kind


@njit(cache=True)
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


@njit(cache=True)
def _pool_sums_kernel(pool, insured, region, status, fixed, cost_fen, fund_fen, fixed_fen, points, n_pools,
                      n_regions):
    """Sums per pool and per (pool, insured region) of the settled stays.

    Parameters
    ----------
    pool : int32[n]
        Pool of each stay (-1 not settled).
    insured, region : int64[n]
        Insured region (-1: local) and treatment region codes.
    status : int8[n]
        0 = settled.
    fixed : bool[n]
        Paid ``fixed_fen`` outside the point pool.
    cost_fen, fund_fen, fixed_fen : int64[n]
    points : float64[n]
    n_pools, n_regions : int

    Returns
    -------
    cost_pk, fund_pk : int64[n_pools * n_regions]   by-points stays per (pool, insured region)
    points_pk : float64[n_pools * n_regions]
    patient_sum : int64[n_pools]   patients' share (cost − fund) of the by-points stays
    fixed_sum : int64[n_pools]     fixed payments
    fund_all : int64[n_pools]      fund paid of all settled stays (budget split)
    cases : int64[n_pools]
    """
    m = n_pools * n_regions
    cost_pk = np.zeros(m, dtype=np.int64)
    fund_pk = np.zeros(m, dtype=np.int64)
    points_pk = np.zeros(m, dtype=np.float64)
    patient_sum = np.zeros(n_pools, dtype=np.int64)
    fixed_sum = np.zeros(n_pools, dtype=np.int64)
    fund_all = np.zeros(n_pools, dtype=np.int64)
    cases = np.zeros(n_pools, dtype=np.int64)
    for i in range(pool.shape[0]):
        p = pool[i]
        if p < 0 or status[i] != 0:
            continue
        cases[p] += 1
        fund_all[p] += fund_fen[i]
        if fixed[i]:
            fixed_sum[p] += fixed_fen[i]
            continue
        ins = insured[i]
        if ins < 0:
            ins = region[i]
        k = p * n_regions + ins
        cost_pk[k] += cost_fen[i]
        fund_pk[k] += fund_fen[i]
        points_pk[k] += points[i]
        patient_sum[p] += cost_fen[i] - fund_fen[i]
    return cost_pk, fund_pk, points_pk, patient_sum, fixed_sum, fund_all, cases


@njit(cache=True, inline="always")
def _stay_weight(i, p, insured, region, points, ratio_pk, use_ratio, n_regions):
    """Weight of stay ``i`` in pool ``p``: its points, times the fund ratio of its insured region
    (its treatment region when insured locally) when the policy shares by fund ratio."""
    w = points[i]
    if use_ratio:
        ins = insured[i]
        if ins < 0:
            ins = region[i]
        w *= ratio_pk[p * n_regions + ins]
    return w


@njit(cache=True)
def _hospital_weights_kernel(pool, insured, region, hospital, status, fixed, points, ratio_pk, use_ratio,
                             n_pools, n_regions, n_hospitals):
    """Allocation weight per (pool, hospital): Σ points × fund ratio (or Σ points).

    Parameters
    ----------
    pool, insured, region, hospital : int[n]
    status : int8[n]
    fixed : bool[n]
    points : float64[n]
    ratio_pk : float64[n_pools * n_regions]
        Fund payment ratio of each (pool, insured region).
    use_ratio : bool
        Weight by points × ratio (total-cost basis) instead of points.
    n_pools, n_regions, n_hospitals : int

    Returns
    -------
    float64[n_pools * n_hospitals]
    """
    out = np.zeros(n_pools * n_hospitals, dtype=np.float64)
    for i in range(pool.shape[0]):
        p = pool[i]
        if p < 0 or status[i] != 0 or fixed[i]:
            continue
        out[p * n_hospitals + hospital[i]] += _stay_weight(i, p, insured, region, points, ratio_pk,
                                                           use_ratio, n_regions)
    return out


def _allocate_cases_py(pool, insured, region, hospital, status, fixed, points, ratio_pk, use_ratio,
                       hp_of_key, hp_amount, n_regions, n_hospitals):
    """Share each (pool, hospital) amount over its stays by largest remainder (weights as above).

    Parameters
    ----------
    pool, insured, region, hospital : int[n]
    status : int8[n]
    fixed : bool[n]
    points : float64[n]
    ratio_pk : float64[n_pools * n_regions]
    use_ratio : bool
    hp_of_key : int64[n_pools * n_hospitals]
        Dense (pool, hospital) key -> allocation group (-1: none; such stays weigh nothing and get 0).
    hp_amount : int64[n_groups]
        Fen of each group.
    n_regions, n_hospitals : int

    Returns
    -------
    int64[n]
        Fen of each stay (0 for stays not paid by points); per group the stays add up to hp_amount.
    """
    n = pool.shape[0]
    n_groups = hp_amount.shape[0]
    weight = np.empty(n, dtype=np.float64)
    ptr = np.zeros(n_groups + 1, dtype=np.int64)
    for i in range(n):
        p = pool[i]
        if p < 0 or status[i] != 0 or fixed[i]:
            continue
        weight[i] = _stay_weight(i, p, insured, region, points, ratio_pk, use_ratio, n_regions)
        g = hp_of_key[p * n_hospitals + hospital[i]]
        if g >= 0:
            ptr[g + 1] += 1
    for g in range(n_groups):
        ptr[g + 1] += ptr[g]
    fill = ptr[:-1].copy()
    order = np.empty(ptr[n_groups], dtype=np.int64)
    for i in range(n):
        p = pool[i]
        if p < 0 or status[i] != 0 or fixed[i]:
            continue
        g = hp_of_key[p * n_hospitals + hospital[i]]
        if g >= 0:
            order[fill[g]] = i
            fill[g] += 1
    amount = np.zeros(n, dtype=np.int64)
    for g in prange(n_groups):
        start = ptr[g]
        stop = ptr[g + 1]
        m = stop - start
        w_sum = 0.0
        for k in range(start, stop):
            w_sum += weight[order[k]]
        if m == 0 or w_sum <= 0.0:
            continue
        rem = np.empty(m, dtype=np.float64)
        floor_sum = 0
        for k in range(m):
            i = order[start + k]
            q = (hp_amount[g] * weight[i]) / w_sum
            f = np.floor(q)
            amount[i] = np.int64(f)
            rem[k] = q - f
            floor_sum += np.int64(f)
        deficit = hp_amount[g] - floor_sum
        _settle_deficit(amount, order, start, rem, deficit)
    return amount


_allocate_cases_serial = njit(cache=True)(_allocate_cases_py)
_allocate_cases_parallel = njit(cache=True, parallel=True)(_allocate_cases_py)


def _allocate_cases_kernel(pool, insured, region, hospital, status, fixed, points, ratio_pk, use_ratio,
                           hp_of_key, hp_amount, n_regions, n_hospitals):
    """Dispatch :func:`_allocate_cases_py` serially or in parallel by size (same result)."""
    kernel = _allocate_cases_parallel if pool.shape[0] >= PARALLEL_MIN_ITEMS else _allocate_cases_serial
    return kernel(pool, insured, region, hospital, status, fixed, points, ratio_pk, use_ratio, hp_of_key,
                  hp_amount, n_regions, n_hospitals)


@njit(cache=True)
def _hospital_sums_kernel(pool, area, insured, region, hospital, status, fixed, remote, month, cost_fen,
                          fund_fen, fixed_fen, points, base_points, level, case_gross, ratio_pk, budget_pv,
                          effective_pv, basis, ah_of_key, n_ah, n_regions, n_hospitals, points_scale,
                          payment, gain, standard, point_value, fund_ratio):
    """Per-hospital sums, monthly fund due at the budget point value, and the per-stay output columns.

    Parameters
    ----------
    pool, area, insured, region, hospital : int[n]
    status : int8[n]
    fixed, remote : bool[n]
    month : int8[n]   1..12, 0 unknown
    cost_fen, fund_fen, fixed_fen, case_gross : int64[n]
    points, base_points : float64[n]   (base_points NaN where unknown)
    level : number[n] or [0]   hospital level of each stay (empty: unknown)
    ratio_pk : float64[n_pools * n_regions]
    budget_pv, effective_pv : float64[n_pools]   yuan per point
    basis : int   0 total_cost, 1 patient_share, 2 fund_only
    ah_of_key : int64[n_areas * n_hospitals]   (area, hospital) -> hospital row
    n_ah, n_regions, n_hospitals : int
    points_scale : float   points per RW (CMI = mean base points / scale)
    payment, gain, standard, point_value, fund_ratio : float64[n]   written (yuan; NaN where not applicable)

    Returns
    -------
    due, ffs, cost : int64[n_ah]
    cases, remote_cases : int64[n_ah]
    points_sum, rw_sum : float64[n_ah]; rw_cases : int64[n_ah]
    month_due : float64[n_ah * 13]   fund due at the budget point value, fen
    level_sum : float64[n_ah]; level_cases : int64[n_ah]   for the mean hospital level
    """
    n = pool.shape[0]
    due = np.zeros(n_ah, dtype=np.int64)
    ffs = np.zeros(n_ah, dtype=np.int64)
    cost = np.zeros(n_ah, dtype=np.int64)
    cases = np.zeros(n_ah, dtype=np.int64)
    remote_cases = np.zeros(n_ah, dtype=np.int64)
    points_sum = np.zeros(n_ah, dtype=np.float64)
    rw_sum = np.zeros(n_ah, dtype=np.float64)
    rw_cases = np.zeros(n_ah, dtype=np.int64)
    month_due = np.zeros(n_ah * 13, dtype=np.float64)
    level_sum = np.zeros(n_ah, dtype=np.float64)
    level_cases = np.zeros(n_ah, dtype=np.int64)
    has_level = level.shape[0] == n
    for i in range(n):
        p = pool[i]
        if p < 0 or status[i] != 0:
            payment[i] = 0.0
            gain[i] = 0.0
            standard[i] = np.nan
            point_value[i] = np.nan
            fund_ratio[i] = np.nan
            continue
        h = ah_of_key[area[i] * n_hospitals + hospital[i]]
        patient = cost_fen[i] - fund_fen[i]
        if fixed[i]:
            f = fixed_fen[i]
            md = np.float64(f)
            standard[i] = np.nan
            point_value[i] = np.nan
            fund_ratio[i] = np.nan
        else:
            ins = insured[i]
            if ins < 0:
                ins = region[i]
            r = ratio_pk[p * n_regions + ins]
            if basis == 1:
                f = case_gross[i] - patient
            else:
                f = case_gross[i]
            bpv = budget_pv[p]
            if np.isnan(bpv):
                bpv = 0.0
            if basis == 0:
                md = points[i] * r * bpv * 100.0
            elif basis == 1:
                md = points[i] * bpv * 100.0 - patient
            else:
                md = points[i] * bpv * 100.0
            standard[i] = points[i] * effective_pv[p]
            point_value[i] = effective_pv[p]
            fund_ratio[i] = r
            points_sum[h] += points[i]
        payment[i] = f / 100.0
        gain[i] = (f - fund_fen[i]) / 100.0
        due[h] += f
        ffs[h] += fund_fen[i]
        cost[h] += cost_fen[i]
        cases[h] += 1
        if remote[i]:
            remote_cases[h] += 1
        b = base_points[i]
        if b > 0:
            rw_sum[h] += b / points_scale
            rw_cases[h] += 1
        month_due[h * 13 + month[i]] += md
        if has_level:
            lv = np.float64(level[i])
            if lv > 0:
                level_sum[h] += lv
                level_cases[h] += 1
    return (due, ffs, cost, cases, remote_cases, points_sum, rw_sum, rw_cases, month_due, level_sum,
            level_cases)


@njit(cache=True)
def _area_class_counts(area, cls, n_areas, n_classes):
    """Settled stays per (area, class).

    Parameters
    ----------
    area : int32[n]
        Area of each stay (-1: not settled).
    cls : int32[n]
        Class of each stay (-1: none).
    n_areas, n_classes : int

    Returns
    -------
    int64[n_areas, n_classes]
    """
    out = np.zeros((n_areas, n_classes), dtype=np.int64)
    for i in range(area.shape[0]):
        if area[i] >= 0 and cls[i] >= 0:
            out[area[i], cls[i]] += 1
    return out


@njit(cache=True)
def _present_pairs(first, second, n_second, n_pairs):
    """Which dense pairs ``first * n_second + second`` occur among stays with ``first >= 0``.

    Parameters
    ----------
    first : int[n]   e.g. area (-1: skip)
    second : int[n]  e.g. hospital
    n_second, n_pairs : int

    Returns
    -------
    bool[n_pairs]
    """
    out = np.zeros(n_pairs, dtype=np.bool_)
    for i in range(first.shape[0]):
        if first[i] >= 0:
            out[first[i] * n_second + second[i]] = True
    return out


@njit(cache=True)
def _check_values(values):
    """First NaN, infinite and negative positions of ``values`` (-1 when none) and the NaN count.

    Parameters
    ----------
    values : float64[n]

    Returns
    -------
    (first_nan, first_inf, first_negative, n_nan)
    """
    first_nan = -1
    first_inf = -1
    first_neg = -1
    n_nan = 0
    for i in range(values.shape[0]):
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
    return first_nan, first_inf, first_neg, n_nan
