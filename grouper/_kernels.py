"""Numba kernels of the DRG grouper (numba only; plain numpy arrays in and out).

``_group_case`` decides one case; ``_group_drg_kernel`` runs it over all cases in parallel,
``_trace_case`` runs it once while recording every decision as rows of an event array. Because
both call the same function, an explanation can never disagree with the batch result.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from drgdip.grouper.scheme import (
    ADRG_ANY_DX, ADRG_ANY_PROC, ADRG_ANY_PROC_SS2, ADRG_BIRTH_WEIGHT, ADRG_MAIN_PROC,
    ADRG_MAIN_PROC_NOT_VALID, ADRG_MAIN_PROC_VALID, ADRG_NEWBORN, ADRG_NO_VALID_PROC,
    ADRG_PRINCIPAL_DX, ADRG_PROC_GROUPS, ADRG_PROC_PAIR, ADRG_SECONDARY_DX1, CC_MCC,
    MDC_AGE_YEARS, MDC_AGE_YEARS_STRICT, MDC_ANY_DX, MDC_GENDER, MDC_MAIN_PROC_VALID,
    MDC_PRINCIPAL_DX, MDC_TRAUMA_REGIONS, NOT_GIVEN, QY_MAIN_PROC, QY_OFF, SPLIT_AGE_LE,
    SPLIT_AGE_LE_RAW, SPLIT_LOS_RANGE, SPLIT_MCC, SPLIT_MCC_OR_CC,
)

# Atoms beyond those of 1.1 (RULES-ADDENDUM.md), tested behind one mask so that 1.1 pays one branch.
MDC_ADDENDUM_ATOMS = MDC_AGE_YEARS_STRICT | MDC_ANY_DX
ADRG_ADDENDUM_ATOMS = ADRG_SECONDARY_DX1 | ADRG_MAIN_PROC_NOT_VALID | ADRG_ANY_PROC | ADRG_ANY_PROC_SS2
SPLIT_ADDENDUM_ATOMS = SPLIT_AGE_LE | SPLIT_AGE_LE_RAW | SPLIT_LOS_RANGE

# Trace event kinds: one int64 row [kind, a, b, c] per decision.
EV_MDC = 1         # a = MDC index, b = 1 entered / 0 not, c = atom flag that failed (0 if entered)
EV_ADRG = 2        # a = ADRG index, b = 1 matched / 0 not, c = atom flag that failed
EV_DX_MATCH = 3    # a = atom flag, b = dx position of the code that satisfied it
EV_PROC_MATCH = 4  # a = atom flag, b = proc position, c = second proc position (proc_pair) or -1
EV_TRAUMA = 5      # a = MDC index, b = bit set of trauma regions found, c = their count
EV_CC = 6          # a = dx position, b = CC level, c = 1 if excluded by the principal's table
EV_DRG = 7         # a = DRG index, b = 1 taken / 0 not
EV_QY = 8          # a = MDC index, b = proc position of the operating-room procedure
EV_PROC_GROUPS = 9  # a = ADRG index, b = bit set of group labels found, c = expression value
EV_FALLTHROUGH = 10  # a = MDC index whose entry passed but no ADRG matched
EV_MDC_DX = 11     # a = MDC index, b = dx position of the code that satisfied its any_dx atom
EV_NO_DRG = 12     # a = ADRG index whose DRG rows all failed (or that has none): result is the ADRG

GROUP_NONE = -1


@njit(cache=True, inline="always")
def _has_bit(bits, row, k):
    return (bits[row, k >> 6] >> np.uint64(k & 63)) & np.uint64(1) != np.uint64(0)


@njit(cache=True, inline="always")
def _emit(events, n_events, kind, a, b, c):
    k = n_events[0]
    if k < events.shape[0]:
        events[k, 0] = kind
        events[k, 1] = a
        events[k, 2] = b
        events[k, 3] = c
    n_events[0] = k + 1


@njit(cache=True, inline="always")
def _popcount(x):
    count = 0
    while x:
        x &= x - 1
        count += 1
    return count


@njit(cache=True, inline="always")
def _first_in_list(codes, start, bits, a):
    """Position of the first code from ``start`` on that is in list ``bits`` of rule ``a``, or -1."""
    for j in range(start, codes.shape[0]):
        if codes[j] >= 0 and _has_bit(bits, codes[j], a):
            return j
    return -1


@njit(cache=True, inline="always")
def _listed_mdcs(dx, S):
    """Bit set of the MDCs whose diagnosis list holds some diagnosis of the case (any position).

    One word: the loader allows at most 64 MDCs.
    """
    bits = np.uint64(0)
    for j in range(dx.shape[0]):
        if dx[j] >= 0:
            bits |= S.dx_mdc_bits[dx[j], 0]
    return bits


@njit(cache=True, inline="always")
def _mdc_entry_addendum(m, atoms, dx, age, age_integer, listed, S, trace, events, n_events):
    """The MDC atoms of the versions beyond 1.1: failed flag or 0 (behind one mask test)."""
    if atoms & MDC_AGE_YEARS_STRICT:
        if not age_integer or age != S.mdc_age_years[m]:
            return MDC_AGE_YEARS_STRICT
    if atoms & MDC_ANY_DX:
        if (listed >> np.uint64(m)) & np.uint64(1) == np.uint64(0):
            return MDC_ANY_DX
        if trace:
            _emit(events, n_events, EV_MDC_DX, m, _first_in_list(dx, 0, S.dx_mdc_bits, m), 0)
    return 0


@njit(cache=True, inline="always")
def _mdc_entry(m, dx, proc, gender, age, age_integer, listed, S, trace, events, n_events):
    """Failed MDC atom flag, or 0 when case enters MDC ``m``; ``listed`` as :func:`_listed_mdcs`."""
    atoms = S.mdc_atoms[m]
    if atoms & MDC_MAIN_PROC_VALID:
        if proc.shape[0] == 0 or proc[0] < 0 or not S.proc_valid[proc[0]]:
            return MDC_MAIN_PROC_VALID
    if atoms & MDC_PRINCIPAL_DX:
        if dx[0] < 0 or not _has_bit(S.dx_mdc_bits, dx[0], m):
            return MDC_PRINCIPAL_DX
    if atoms & MDC_GENDER:
        if gender != S.mdc_gender[m]:
            return MDC_GENDER
    if atoms & MDC_AGE_YEARS:
        if age != S.mdc_age_years[m]:
            return MDC_AGE_YEARS
    if atoms & MDC_ADDENDUM_ATOMS:
        failed = _mdc_entry_addendum(m, atoms, dx, age, age_integer, listed, S, trace, events, n_events)
        if failed:
            return failed
    if atoms & MDC_TRAUMA_REGIONS:
        slot = S.mdc_trauma_slot[m]
        regions = np.int64(0)
        for j in range(dx.shape[0]):
            code = dx[j]
            if code >= 0:
                region = S.dx_trauma_region[slot, code]
                if region >= 0:
                    regions |= np.int64(1) << np.int64(region)
        count = _popcount(regions)
        if trace:
            _emit(events, n_events, EV_TRAUMA, m, regions, count)
        if count < S.mdc_min_regions[m]:
            return MDC_TRAUMA_REGIONS
    return 0


@njit(cache=True, inline="always")
def _adrg_entry_addendum(a, atoms, dx, proc, dx_zd1_bits, proc_ss_bits, proc_ss2_bits, proc_valid, trace,
                         events, n_events):
    """The ADRG atoms of the versions beyond 1.1: failed flag or 0 (behind one mask test)."""
    if atoms & ADRG_SECONDARY_DX1:
        found = _first_in_list(dx, 1, dx_zd1_bits, a)
        if found < 0:
            return ADRG_SECONDARY_DX1
        if trace:
            _emit(events, n_events, EV_DX_MATCH, ADRG_SECONDARY_DX1, found, 0)
    if atoms & ADRG_MAIN_PROC_NOT_VALID:
        if proc.shape[0] > 0 and proc[0] >= 0 and proc_valid[proc[0]]:
            return ADRG_MAIN_PROC_NOT_VALID
    if atoms & ADRG_ANY_PROC:
        found = _first_in_list(proc, 0, proc_ss_bits, a)
        if found < 0:
            return ADRG_ANY_PROC
        if trace:
            _emit(events, n_events, EV_PROC_MATCH, ADRG_ANY_PROC, found, -1)
    if atoms & ADRG_ANY_PROC_SS2:
        found = _first_in_list(proc, 0, proc_ss2_bits, a)
        if found < 0:
            return ADRG_ANY_PROC_SS2
        if trace:
            _emit(events, n_events, EV_PROC_MATCH, ADRG_ANY_PROC_SS2, found, -1)
    return 0


@njit(cache=True, inline="always")
def _adrg_entry(a, dx, proc, age_days, birth_weight, S, trace, events, n_events):
    """Failed ADRG atom flag, or 0 when the case matches ADRG ``a``."""
    atoms = S.adrg_atoms[a]
    n_proc = proc.shape[0]
    if atoms & ADRG_PRINCIPAL_DX:
        if dx[0] < 0 or not _has_bit(S.dx_zd_bits, dx[0], a):
            return ADRG_PRINCIPAL_DX
        if trace:
            _emit(events, n_events, EV_DX_MATCH, ADRG_PRINCIPAL_DX, 0, 0)
    if atoms & ADRG_ANY_DX:
        found = _first_in_list(dx, 0, S.dx_zd_bits, a)
        if found < 0:
            return ADRG_ANY_DX
        if trace:
            _emit(events, n_events, EV_DX_MATCH, ADRG_ANY_DX, found, 0)
    if atoms & ADRG_MAIN_PROC:
        if n_proc == 0 or proc[0] < 0 or not _has_bit(S.proc_ss_bits, proc[0], a):
            return ADRG_MAIN_PROC
        if trace:
            _emit(events, n_events, EV_PROC_MATCH, ADRG_MAIN_PROC, 0, -1)
    if atoms & ADRG_MAIN_PROC_VALID:
        if n_proc == 0 or proc[0] < 0 or not S.proc_valid[proc[0]]:
            return ADRG_MAIN_PROC_VALID
        if trace:
            _emit(events, n_events, EV_PROC_MATCH, ADRG_MAIN_PROC_VALID, 0, -1)
    if atoms & ADRG_PROC_PAIR:
        first = -1
        second = -1
        for j in range(n_proc):
            code = proc[j]
            if code >= 0:
                if first < 0 and _has_bit(S.proc_ss_bits, code, a):
                    first = j
                if second < 0 and _has_bit(S.proc_ss1_bits, code, a):
                    second = j
        if first < 0 or second < 0:
            return ADRG_PROC_PAIR
        if trace:
            _emit(events, n_events, EV_PROC_MATCH, ADRG_PROC_PAIR, first, second)
    if atoms & ADRG_PROC_GROUPS:
        slot = S.adrg_pg_slot[a]
        labels = 0
        for j in range(n_proc):
            code = proc[j]
            if code >= 0:
                labels |= np.int64(S.proc_group_labels[slot, code])
        value = S.pg_truth[slot, labels]
        if trace:
            _emit(events, n_events, EV_PROC_GROUPS, a, labels, 1 if value else 0)
        if not value:
            return ADRG_PROC_GROUPS
    if atoms & ADRG_NO_VALID_PROC:
        for j in range(n_proc):
            if proc[j] >= 0 and S.proc_valid[proc[j]]:
                return ADRG_NO_VALID_PROC
    if atoms & ADRG_NEWBORN:
        if age_days == NOT_GIVEN or age_days > S.adrg_age_days_max[a]:
            return ADRG_NEWBORN
    if atoms & ADRG_BIRTH_WEIGHT:
        low = S.adrg_weight_min[a]
        high = S.adrg_weight_max[a]
        if (birth_weight == NOT_GIVEN or birth_weight == 0
                or (low != NOT_GIVEN and birth_weight < low)
                or (high != NOT_GIVEN and birth_weight >= high)):
            return ADRG_BIRTH_WEIGHT
    if atoms & ADRG_ADDENDUM_ATOMS:
        return _adrg_entry_addendum(a, atoms, dx, proc, S.dx_zd1_bits, S.proc_ss_bits, S.proc_ss2_bits,
                                    S.proc_valid, trace, events, n_events)
    return 0


@njit(cache=True, inline="always")
def _complications(dx, S, trace, events, n_events):
    """(has MCC, has CC) among the secondary diagnoses, after the principal's exclusions."""
    table = S.dx_principal_table[dx[0]] if dx[0] >= 0 else -1
    has_mcc = False
    has_cc = False
    for j in range(1, dx.shape[0]):
        code = dx[j]
        if code < 0:
            continue
        level = S.dx_cc_level[code]
        if level == 0:
            continue
        excluded = table >= 0 and S.dx_cc_table[code] == table
        if trace:
            _emit(events, n_events, EV_CC, j, level, 1 if excluded else 0)
        if not excluded:
            if level == CC_MCC:
                has_mcc = True
            else:
                has_cc = True
    return has_mcc, has_cc


@njit(cache=True, inline="always")
def _split_addendum_holds(d, rule, age, age_integer, los, drg_age_max, drg_los_min, drg_los_max):
    """The age and length-of-stay split atoms of the versions beyond 1.1 (behind one mask test)."""
    if rule & SPLIT_AGE_LE and not age <= drg_age_max[d]:
        return False
    if rule & SPLIT_AGE_LE_RAW and not (age_integer and age <= drg_age_max[d]):
        return False
    if rule & SPLIT_LOS_RANGE:
        low = drg_los_min[d]
        high = drg_los_max[d]
        if los == NOT_GIVEN or (low != NOT_GIVEN and los < low) or (high != NOT_GIVEN and los >= high):
            return False
    return True


@njit(cache=True, inline="always")
def _split_holds(d, has_mcc, has_cc, age, age_integer, los, S):
    """Whether every atom of DRG ``d``'s split rule holds (no atom: ``always``)."""
    rule = S.drg_split[d]
    if rule & SPLIT_MCC and not has_mcc:
        return False
    if rule & SPLIT_MCC_OR_CC and not (has_mcc or has_cc):
        return False
    if rule & SPLIT_ADDENDUM_ATOMS:
        return _split_addendum_holds(d, rule, age, age_integer, los, S.drg_age_max, S.drg_los_min, S.drg_los_max)
    return True


@njit(cache=True, inline="always")
def _choose_drg(a, dx, age, age_integer, los, S, trace, events, n_events):
    """The first DRG of ADRG rule ``a`` whose split rule holds, or -1 when none does."""
    has_mcc, has_cc = _complications(dx, S, trace, events, n_events)
    for d in range(S.adrg_drg_start[a], S.adrg_drg_stop[a]):
        taken = _split_holds(d, has_mcc, has_cc, age, age_integer, los, S)
        if trace:
            _emit(events, n_events, EV_DRG, d, 1 if taken else 0, S.drg_split[d])
        if taken:
            return d
    if trace:
        _emit(events, n_events, EV_NO_DRG, a, 0, 0)
    return -1


@njit(cache=True, inline="always")
def _any_valid_proc(proc, S):
    for j in range(proc.shape[0]):
        if proc[j] >= 0 and S.proc_valid[proc[j]]:
            return j
    return -1


@njit(cache=True, inline="always")
def _qy_procedure(m, proc, S):
    """Position of the procedure that makes MDC ``m``'s ambiguous-group check fire, or -1."""
    if S.mdc_qy_test[m] == QY_MAIN_PROC:
        return 0 if proc.shape[0] > 0 and proc[0] >= 0 and S.proc_valid[proc[0]] else -1
    return _any_valid_proc(proc, S)


@njit(cache=True, inline="always")
def _group_case(dx, proc, gender, age, age_integer, age_days, birth_weight, los, S, trace, events,
                n_events):
    """Group one valid case.

    Returns the DRG index (0 <= r < n_drg), ``n_drg + m`` for the ambiguous group of MDC ``m``,
    ``n_drg + n_mdc + a`` when ADRG rule ``a`` matched but none of its DRGs did (the result is
    the ADRG itself), or GROUP_NONE when no MDC yields an ADRG.
    """
    n_mdc = S.mdc_atoms.shape[0]
    n_drg = S.drg_split.shape[0]
    # one pass over the diagnoses serves every MDC entered on any diagnosis
    listed = _listed_mdcs(dx, S) if S.mdc_any_dx_used[0] else np.uint64(0)
    for m in range(n_mdc):
        failed = _mdc_entry(m, dx, proc, gender, age, age_integer, listed, S, trace, events, n_events)
        if trace:
            _emit(events, n_events, EV_MDC, m, 1 if failed == 0 else 0, failed)
        if failed:
            continue
        start = S.mdc_adrg_ptr[m]
        stop = S.mdc_adrg_ptr[m + 1]
        for a in range(start, stop + 1):
            if a == S.mdc_qy_pos[m] and S.mdc_qy_test[m] != QY_OFF:
                position = _qy_procedure(m, proc, S)
                if position >= 0:
                    if trace:
                        _emit(events, n_events, EV_QY, m, position, 0)
                    return n_drg + m
            if a == stop:
                break
            failed = _adrg_entry(a, dx, proc, age_days, birth_weight, S, trace, events, n_events)
            if trace:
                _emit(events, n_events, EV_ADRG, a, 1 if failed == 0 else 0, failed)
            if failed == 0:
                d = _choose_drg(a, dx, age, age_integer, los, S, trace, events, n_events)
                return d if d >= 0 else n_drg + n_mdc + a
        if trace:
            _emit(events, n_events, EV_FALLTHROUGH, m, 0, 0)
    return GROUP_NONE


@njit(parallel=True, cache=True, nogil=True)
def _group_drg_kernel(status, gender, age, age_integer, age_days, birth_weight, los, dx_ptr, dx_ids,
                      proc_ptr, proc_ids, S):
    """Group every case.

    Parameters
    ----------
    status : int8[n]
        Validation status; cases with a non-zero status are not grouped.
    gender : int8[n]
        1 or 2, 0 for a valid gender that enters no sex-specific MDC.
    age : int64[n]
        int() of the age.
    age_integer : bool[n] or None
        The age was typed as an integer (not text that int() accepts). None when the scheme has
        no atom that asks (every age then counts as an integer).
    age_days, birth_weight : int64[n]
        Integer fields, ``NOT_GIVEN`` where absent.
    los : int64[n] or None
        Length of stay, ``NOT_GIVEN`` where absent or not an integer; None when the scheme does
        not split by it.
    dx_ptr, proc_ptr : int64[n + 1]
        CSR offsets of each case's codes in ``dx_ids`` / ``proc_ids``.
    dx_ids, proc_ids : int32[n_codes]
        Scheme code ids, -1 for codes the scheme does not know.
    S : CompiledScheme
        The scheme's arrays.

    Returns
    -------
    result : int32[n]
        As ``_group_case``; GROUP_NONE for cases not grouped (check ``status``).
    """
    n = status.shape[0]
    result = np.empty(n, dtype=np.int32)
    no_events = np.empty((0, 4), dtype=np.int64)
    no_count = np.zeros(1, dtype=np.int64)
    for i in prange(n):
        if status[i] != 0:
            result[i] = GROUP_NONE
            continue
        # None is a compile-time constant here: schemes without these inputs (1.1) never read them
        if age_integer is None:
            typed_age = True
        else:
            typed_age = age_integer[i]
        if los is None:
            stay = NOT_GIVEN
        else:
            stay = los[i]
        result[i] = _group_case(dx_ids[dx_ptr[i]:dx_ptr[i + 1]], proc_ids[proc_ptr[i]:proc_ptr[i + 1]],
                                gender[i], age[i], typed_age, age_days[i], birth_weight[i], stay, S, False,
                                no_events, no_count)
    return result


@njit(cache=True)
def _trace_case(dx, proc, gender, age, age_integer, age_days, birth_weight, los, S, events, n_events):
    """Group one case recording its decisions in ``events`` (int64[k, 4]); returns the result."""
    return _group_case(dx, proc, gender, age, age_integer, age_days, birth_weight, los, S, True, events,
                       n_events)
