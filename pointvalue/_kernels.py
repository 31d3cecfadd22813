"""Numba kernels of the points stage: plain numpy arrays in and out, no pandas, no policy objects."""

from __future__ import annotations

import numba as nb
import numpy as np


# outlier classes; index into pointvalue.points.OUTLIER_CLASSES
NORMAL, LOW, HIGH, EXTREME, UNGROUPED, SPECIAL_REVIEW, BED_DAY = range(7)
# high formulas; index into pointvalue.rules.HIGH_FORMULAS
DIP1, JINING, REVIEW_ONLY, DRG_TIERED = range(4)
# approved payment modes; index into pointvalue.rules.APPROVED_PAYMENTS
FFS, STANDARD = range(2)


@nb.njit(cache=True, parallel=True)
def _points_kernel(base, reference, cost, coef, aux, remote, other, approved, approved_points,
                   bed_day, bed_acute, bed_points, high_threshold,
                   low_ratio, low_inclusive, high_inclusive, extreme_ratio, extreme_inclusive,
                   high_formula, high_is_candidate, coefs_on_outliers, coefs_on_low, blank_factor, blank_coefs,
                   approved_payment,
                   candidate_min_ratio, points_scale, all_case_mean,
                   out_base, out_reference, out_ratio, out_class, out_factor, out_coef, out_aux,
                   out_remote, out_other, out_points, out_candidate):
    """Outlier class, outlier factor and final points of every case.

    Parameters
    ----------
    base : float64[n]
        Base points / score of the case's group; NaN when ungrouped (blank group).
    reference : float64[n]
        Reference cost of the case (yuan) for the cost ratio; ignored for ungrouped cases.
    cost : float64[n]
        Total cost (yuan).
    coef : float64[n]
        Hospital coefficient of the case (basic-group coefficient for basic groups).
    aux, remote, other : float64[n]
        Auxiliary-typing, in-province remote and other coefficients.
    approved : bool[n]
        Case approved by special review (特例单议).
    approved_points : float64[n]
        Points set by the review; NaN to pay by ``approved_payment``.
    bed_day : bool[n]
        Case paid per bed-day.
    bed_acute : bool[n]
        Bed-day case whose acute phase is paid by its group's points (``base × coef × aux``) on top
        of ``bed_points``; otherwise a bed-day case gets ``bed_points`` alone.
    bed_points : float64[n]
        Bed-day points (used where ``bed_day``).
    high_threshold : float64[n]
        High-ratio threshold of the case (tiered by base points for ``drg_tiered``).
    low_ratio, extreme_ratio : float
        Band bounds (extreme NaN: no extreme band); ``*_inclusive`` say whether the bound belongs to
        the outlier band.
    high_formula : int
        DIP1, JINING, REVIEW_ONLY or DRG_TIERED.
    high_is_candidate : bool
        High cases may apply for special review (DRG; DIP review_only).
    coefs_on_outliers, coefs_on_low, blank_coefs : bool
        Re-apply the hospital coefficient on high cases (``dip1``) / on low cases; apply coefficients to
        ungrouped cases. Low cases always carry it when the reference cost includes it (``standard``):
        ``score × coef × ratio`` is then cost ÷ point value at every level (domain §5.2).
    blank_factor : float
        Factor on the cost-ratio score of ungrouped cases.
    approved_payment : int
        FFS (ratio × base × coef) or STANDARD (base × coef).
    candidate_min_ratio : float
        Cases at or above this ratio may apply for special review (NaN: by class only).
    points_scale, all_case_mean : float
        Base points and reference cost of the blank group.
    out_* : arrays[n]
        Outputs: base points used, reference cost, cost ratio, class (int8), outlier factor, applied
        hospital coefficient, applied aux / remote / other coefficients, final points, candidate flag.
    """
    n = cost.shape[0]
    for i in nb.prange(n):
        b = base[i]
        ref = reference[i]
        h = coef[i]
        candidate = False
        if bed_day[i]:
            klass = BED_DAY
            ratio = cost[i] / ref if ref > 0 else np.nan
        elif np.isnan(b):
            ref = all_case_mean
            ratio = cost[i] / ref
            candidate = True
            klass = SPECIAL_REVIEW if approved[i] else UNGROUPED
        else:
            ratio = cost[i] / ref if ref > 0 else np.nan
            if approved[i]:
                klass = SPECIAL_REVIEW
                candidate = True
            else:
                is_low = ratio <= low_ratio if low_inclusive else ratio < low_ratio
                is_extreme = False
                if not np.isnan(extreme_ratio):
                    is_extreme = ratio >= extreme_ratio if extreme_inclusive else ratio > extreme_ratio
                thr = high_threshold[i]
                is_high = ratio >= thr if high_inclusive else ratio > thr
                if is_low:
                    klass = LOW
                elif is_extreme:
                    klass = EXTREME
                    candidate = True
                elif is_high:
                    klass = HIGH
                    candidate = high_is_candidate
                else:
                    klass = NORMAL
            if not np.isnan(candidate_min_ratio) and ratio >= candidate_min_ratio:
                candidate = True
        term = ratio - high_threshold[i] if klass == HIGH else ratio
        b, factor, applied, a, r, o = _priced(
            klass, b, term, h, aux[i], remote[i], other[i], bed_acute[i], bed_points[i], high_formula,
            coefs_on_outliers, coefs_on_low, blank_factor, blank_coefs, approved_payment, points_scale)
        points = b * factor * applied * a * r * o
        if klass == SPECIAL_REVIEW and not np.isnan(approved_points[i]):
            points = approved_points[i]
            denominator = b * applied * a * r * o
            factor = points / denominator if denominator > 0 else np.nan
        out_base[i] = b
        out_reference[i] = ref
        out_ratio[i] = ratio
        out_class[i] = klass
        out_factor[i] = factor
        out_coef[i] = applied
        out_aux[i] = a
        out_remote[i] = r
        out_other[i] = o
        out_points[i] = points
        out_candidate[i] = candidate


@nb.njit(inline="always")
def _priced(klass, b, term, h, a, r, o, bed_acute, bed_points, high_formula, coefs_on_outliers, coefs_on_low,
            blank_factor, blank_coefs, approved_payment, points_scale):
    """(base points used, outlier factor, applied hospital coefficient, aux, remote and other coefficients)
    of a case of outlier class ``klass``: the one pricing rule of :func:`_points_kernel` and
    :func:`_repriced_kernel`. ``b`` is the group's base points (NaN: ungrouped); ``term`` the cost
    ratio, less the high-ratio threshold for high cases; ``h`` the hospital coefficient."""
    if klass == BED_DAY:
        acute = b * h * a if bed_acute else 0.0
        if acute > 0:   # the bed-day points ride on the group's points as the outlier factor
            return b, 1.0 + bed_points / acute, h, a, r, o
        return bed_points, 1.0, 1.0, 1.0, r, o
    if np.isnan(b):
        if klass == SPECIAL_REVIEW:
            return points_scale, term, h, a, r, o
        if blank_coefs:
            return points_scale, blank_factor * term, h, a, r, o
        return points_scale, blank_factor * term, 1.0, 1.0, 1.0, 1.0
    if klass == SPECIAL_REVIEW:
        return b, term if approved_payment == FFS else 1.0, h, a, r, o
    if klass == LOW:
        return b, term, h if coefs_on_low else 1.0, a, r, o
    if klass == HIGH:
        if high_formula == DIP1:
            return b, term + 1.0, h if coefs_on_outliers else 1.0, a, r, o
        if high_formula == REVIEW_ONLY:
            return b, 1.0, h, a, r, o
        return b, term + h, 1.0, a, r, o   # JINING, DRG_TIERED: the coefficient is inside the factor
    return b, 1.0, h, a, r, o   # NORMAL, EXTREME


@nb.njit(cache=True, parallel=True)
def _repriced_kernel(klass, base, term, coef_key, coef_of_key, pool_code, remote_of_pool, aux, other,
                     bed_acute, bed_points, high_formula, coefs_on_outliers, coefs_on_low, blank_factor, blank_coefs,
                     approved_payment, points_scale, out_points, out_coef, out_remote):
    """Final points, applied hospital coefficient and remote coefficient of cases whose outlier class
    does not depend on the coefficients, at new coefficients: :func:`_priced` again.

    Parameters
    ----------
    klass : int8[n]
        Outlier class (from :func:`_points_kernel`).
    base, term : float64[n]
        The group's base points (NaN: ungrouped); cost ratio, less the high threshold for high cases.
    coef_key : int32[n]; coef_of_key : float64[k]
        Each case's row among the distinct coefficient inputs, and the hospital coefficient of each.
    pool_code : int8[n]; remote_of_pool : float64[3]
        Local / remote in province / out of province, and the remote coefficient of each.
    aux, other : float64[n] or float64[1]
        Auxiliary-typing and other coefficients (one value: the same for every case).
    bed_acute : bool[n] or bool[1]; bed_points : float64[n] or float64[1]
        Bed-day inputs (one value: no bed-day case).
    out_points, out_coef, out_remote : float64[n]
        Outputs (``out_coef`` and ``out_remote`` of length 0: not wanted).
    """
    n = klass.shape[0]
    each_aux = aux.shape[0] == n
    each_other = other.shape[0] == n
    each_bed = bed_points.shape[0] == n
    each_coef = out_coef.shape[0] == n
    for i in nb.prange(n):
        a = aux[i] if each_aux else aux[0]
        o = other[i] if each_other else other[0]
        b, factor, applied, a, r, o = _priced(
            klass[i], base[i], term[i], coef_of_key[coef_key[i]], a, remote_of_pool[pool_code[i]], o,
            bed_acute[i] if each_bed else False, bed_points[i] if each_bed else 0.0, high_formula,
            coefs_on_outliers, coefs_on_low, blank_factor, blank_coefs, approved_payment, points_scale)
        out_points[i] = b * factor * applied * a * r * o
        if each_coef:
            out_coef[i] = applied
            out_remote[i] = r


@nb.njit(cache=True, parallel=True)
def _rank_within_units(cost, order, start, out_rank, out_sorted):
    """Rank of each case's cost inside its unit (ties by input order), and the costs sorted per unit.

    Parameters
    ----------
    cost : float64[n]
    order, start : int64
        From :func:`drgdip.core._kernels.counting_order`.
    out_rank : int64[n]
        Output: 0-based rank of case i within its unit.
    out_sorted : float64[n]
        Output: ``out_sorted[start[u]:start[u+1]]`` are the costs of unit u in ascending order.
    """
    n_units = start.shape[0] - 1
    for u in nb.prange(n_units):
        lo = start[u]
        hi = start[u + 1]
        if hi == lo:
            continue
        members = order[lo:hi]
        values = cost[members]
        local = np.argsort(values, kind="mergesort")
        for r in range(hi - lo):
            out_rank[members[local[r]]] = r
            out_sorted[lo + r] = values[local[r]]
