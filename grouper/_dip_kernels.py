"""Numba kernels of DIP grouping: plain numpy arrays in and out.

One function, :func:`_dip_cases`, decides cases; the batch kernel calls it for every case and the
trace calls it for one case with an event buffer, so the explanation always agrees with the result.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# dip types; index into grouper.dip.DIP_TYPES
CORE, COMPREHENSIVE, UNGROUPED = range(3)
# comprehensive classes (attribute ranks); index into grouper.dip_directory.PROC_CLASSES
MEDICAL, DIAGNOSTIC, THERAPEUTIC, SURGERY = range(4)
# subtypes; index into grouper.dip_directory.SUBTYPES
(SUB_DEATH, SUB_SEVERE, SUB_MODERATE, SUB_AGE_0_28D, SUB_AGE_29D_1Y, SUB_AGE_1_6Y, SUB_AGE_7_17Y,
 SUB_AGE_65Y_PLUS, SUB_ICU_2_7D, SUB_ICU_8_14D, SUB_ICU_15_30D, SUB_ICU_31D_PLUS, SUB_TUMOUR_HIGH_COST_1,
 SUB_TUMOUR_HIGH_COST_2, SUB_TUMOUR_METASTASIS, SUB_TUMOUR_RADIOTHERAPY, SUB_TUMOUR_CHEMOTHERAPY, SUB_CCI_1_2,
 SUB_CCI_3_4, SUB_CCI_5_PLUS) = range(20)
N_SUBTYPES = 20
HIGH_COST_FACTOR = 3.0   # a high-cost tumour stay costs at least this × its group's mean cost

# trace events: (kind, a, b, c) rows
EV_PRINCIPAL = 1       # a: principal dx present (0/1), b: core dx id (-1 none)
EV_MAIN_PROC = 2       # a: position of the main procedure in the list (-1 none), b: its proc id, c: class
EV_CLASS = 3           # a: procedure class of the case
EV_CORE_CANDIDATE = 4  # a: group row, b: related procedures required, c: 1 if all present
EV_CORE_CHOSEN = 5     # a: group row (-1 none)
EV_COMP_TRY = 6        # a: prefix level (0 = longest), b: prefix id (-1 not in directory), c: group row or -1
EV_SUBTYPE = 7         # a: subtype, b: aux row, c: 1 if the case meets it
EV_AUX_CHOSEN = 8      # a: aux row (-1 none)
EV_RESULT = 9          # a: group row (-1), b: dip type
EV_RANGE = 10          # a: range entry, b: group row
EV_NEWBORN = 11        # a: newborn group entry, b: group row
CASES_PER_RUN = 4096   # cases one call of the per-case function decides (the batch kernel's unit of work)


@nb.njit(cache=True)
def _record(events, n_events, kind, a, b, c):
    if n_events < events.shape[0]:
        events[n_events, 0] = kind
        events[n_events, 1] = a
        events[n_events, 2] = b
        events[n_events, 3] = c
    return n_events + 1


@nb.njit(cache=True)
def _find_range(sorted_keys, key):
    lo = np.searchsorted(sorted_keys, key, side="left")
    hi = np.searchsorted(sorted_keys, key, side="right")
    return lo, hi


@nb.njit(cache=True)
def _core_candidates(key, i, start, stop, main_pos, proc_ids, cost, core_keys, core_rows, core_rel_ptr,
                     core_slot_ptr, core_rel_ids, core_mean, core_kind, best, best_kind, best_n, best_gap, events,
                     n_events, trace):
    """The core groups under ``key`` that case ``i`` meets, folded into the best so far: the earliest
    kind, then the most related-procedure slots present (each by any one of its alternatives), then
    the mean cost closest to the case's."""
    lo, hi = _find_range(core_keys, key)
    for g in range(lo, hi):
        all_present = True
        for r in range(core_rel_ptr[g], core_rel_ptr[g + 1]):
            found = False
            for k in range(start, stop):
                if k == main_pos:
                    continue
                for alt in range(core_slot_ptr[r], core_slot_ptr[r + 1]):
                    if proc_ids[k] == core_rel_ids[alt]:
                        found = True
                        break
                if found:
                    break
            if not found:
                all_present = False
                break
        n_rel = core_rel_ptr[g + 1] - core_rel_ptr[g]
        if trace:
            n_events = _record(events, n_events, EV_CORE_CANDIDATE, core_rows[g], n_rel, 1 if all_present else 0)
        if not all_present:
            continue
        gap = abs(core_mean[g] - cost[i]) if not np.isnan(cost[i]) else 0.0
        kind = core_kind[g]
        if kind < best_kind or (kind == best_kind and (n_rel > best_n or (n_rel == best_n and gap < best_gap))):
            best = g
            best_kind = kind
            best_n = n_rel
            best_gap = gap
    return best, best_kind, best_n, best_gap, n_events


@nb.njit(cache=True)
def _dip_cases(first, last, has_dx, core_dx, prefix_ids, category, surgery_level, newborn_weight, proc_ptr,
               proc_ids, proc_class, cost,
              subtype_flags, attribute_highest, n_proc_vocab, any_dx_id, core_keys, core_rows, core_rel_ptr,
              core_slot_ptr, core_rel_ids, core_mean, core_kind, newborn_lo, newborn_hi, newborn_rows, comp_keys,
              comp_rows,
              comp_band_lo, comp_band_hi, range_lo, range_hi, range_class, range_rows,
              group_mean, aux_ptr, aux_subtype, aux_trigger, out_group, out_type, out_aux, events, trace):
    """Group cases ``first`` to ``last - 1`` into ``out_group`` (group row or -1), ``out_type`` (dip
    type) and ``out_aux`` (aux row or -1); returns the number of trace events (of the last case).

    One function decides every case, looping over a run of them itself, so that its thirty-odd arrays
    are passed once per run, not once per case.

    Parameters
    ----------
    has_dx : bool[n]
        The case has a principal diagnosis.
    core_dx : int64[n]
        Id of the principal diagnosis' subcategory among core-group diagnoses (-1 none).
    prefix_ids : int64[n, n_levels]
        Id of the principal diagnosis' prefix at each comprehensive level, longest first (-1 none).
    category : int64[n]
        The principal diagnosis' category as a number (``category_code``; -1 none), for category ranges.
    surgery_level : int64[n]
        Highest surgery level (1-4) of the case's procedures, 0 none: picks a comprehensive surgery
        group split by level (``comp_band_lo`` <= level <= ``comp_band_hi``; band 0 is the unsplit group).
    proc_ptr : int64[n + 1], proc_ids : int64[n_items], proc_class : int8[n_items]
        Procedures of each case in CSR form (main first), their ids in the directory's procedure
        vocabulary (-1 unknown) and class (0 medical / conservative ... 3 surgery).
    cost : float64[n]
        Total cost (ties between core groups go to the mean cost closest to it; NaN: first group).
    subtype_flags : bool[n, N_SUBTYPES]
        Auxiliary subtypes the case meets.
    attribute_highest : bool
        Class of the case = highest class over all procedures (else the main procedure's).
    n_proc_vocab : int
        Size of the procedure vocabulary (for core keys).
    core_keys : int64[n_core] (sorted), core_rows : int64[n_core]
        ``core_dx × (n_proc_vocab + 1) + main_id + 1`` of each core group, and its group row.
    core_rel_ptr, core_slot_ptr, core_rel_ids : int64
        Related-procedure slots required by each core key (CSR, same order as core_keys), and the
        alternatives of each slot (CSR): a slot is present when any one of its alternatives is.
    core_mean : float64[n_core]
        Mean cost of each core group.
    any_dx_id : int
        The diagnosis id of core groups for any diagnosis (pre-grouping groups keyed by procedure).
    core_kind : int64[n_core]
        Kind of each core key's group (index into CORE_KINDS): the earliest kind wins.
    comp_keys : int64[n_comp] (sorted), comp_rows : int64[n_comp]
        ``prefix_id × 4 + class`` of each comprehensive group, and its group row.
    range_lo, range_hi, range_class, range_rows : int64[n_range]
        Comprehensive groups by category range (file order), tried after every prefix.
    group_mean : float64[n_groups]
        Mean cost of each group row: a high-cost tumour subtype also needs the case's cost at least
        ``HIGH_COST_FACTOR`` times it (``subtype_flags`` holds the rest of its condition).
    aux_ptr : int64[n_groups + 1], aux_subtype : int64, aux_trigger : float64
        Auxiliary subtypes of each group (CSR by group row).
    events : int64[max_events, 4]
        Trace buffer (used when ``trace``).
    """
    n_events = 0
    for i in range(first, last):

        n_events = 0
        group = -1
        dip_type = UNGROUPED
        start = proc_ptr[i]
        stop = proc_ptr[i + 1]
        if trace:
            n_events = _record(events, n_events, EV_PRINCIPAL, 1 if has_dx[i] else 0, core_dx[i], 0)
        if has_dx[i]:
            # main procedure: the first one that is not conservative
            main_pos = -1
            highest = MEDICAL
            for k in range(start, stop):
                c = proc_class[k]
                if c > MEDICAL and main_pos < 0:
                    main_pos = k
                if c > highest:
                    highest = c
            main_class = proc_class[main_pos] if main_pos >= 0 else MEDICAL
            case_class = highest if attribute_highest else main_class
            if trace:
                n_events = _record(events, n_events, EV_MAIN_PROC, main_pos - start if main_pos >= 0 else -1,
                                   proc_ids[main_pos] if main_pos >= 0 else -1, main_class)
                n_events = _record(events, n_events, EV_CLASS, case_class, 0, 0)
            # newborn pre-grouping: a baby under 29 days old by its birth-weight band, before every group
            if newborn_weight[i] >= 0:
                for r in range(newborn_rows.shape[0]):
                    if newborn_lo[r] <= newborn_weight[i] <= newborn_hi[r]:
                        group = newborn_rows[r]
                        dip_type = CORE
                        if trace:
                            n_events = _record(events, n_events, EV_NEWBORN, r, group, 0)
                        break
            # core groups: under the case's diagnosis, then those for any diagnosis (pre-grouping); the
            # earliest kind wins, then the most related procedures present, then the closest mean cost
            if group < 0 and (main_pos < 0 or proc_ids[main_pos] >= 0):
                main_id = proc_ids[main_pos] if main_pos >= 0 else -1
                best = -1
                best_kind = 1 << 30
                best_n = -1
                best_gap = np.inf
                if core_dx[i] >= 0:
                    best, best_kind, best_n, best_gap, n_events = _core_candidates(
                        core_dx[i] * (n_proc_vocab + 1) + main_id + 1, i, start, stop, main_pos, proc_ids, cost,
                        core_keys, core_rows, core_rel_ptr, core_slot_ptr, core_rel_ids, core_mean, core_kind,
                        best, best_kind, best_n, best_gap, events, n_events, trace)
                if any_dx_id >= 0 and main_id >= 0:
                    best, best_kind, best_n, best_gap, n_events = _core_candidates(
                        any_dx_id * (n_proc_vocab + 1) + main_id + 1, i, start, stop, main_pos, proc_ids, cost,
                        core_keys, core_rows, core_rel_ptr, core_slot_ptr, core_rel_ids, core_mean, core_kind,
                        best, best_kind, best_n, best_gap, events, n_events, trace)
                if best >= 0:
                    group = core_rows[best]
                    dip_type = CORE
                if trace and (core_dx[i] >= 0 or (any_dx_id >= 0 and main_id >= 0)):
                    n_events = _record(events, n_events, EV_CORE_CHOSEN, group, 0, 0)
            # comprehensive groups, longest diagnosis prefix first
            if group < 0:
                for level in range(prefix_ids.shape[1]):
                    pid = prefix_ids[i, level]
                    row = -1
                    if pid >= 0:
                        lo, hi = _find_range(comp_keys, pid * 4 + case_class)
                        unsplit = -1
                        for r in range(lo, hi):   # a band holding the case's surgery level, else the unsplit group
                            if comp_band_lo[r] == 0:
                                if unsplit < 0:
                                    unsplit = comp_rows[r]
                            elif comp_band_lo[r] <= surgery_level[i] <= comp_band_hi[r]:
                                row = comp_rows[r]
                                break
                        if row < 0:
                            row = unsplit
                    if trace:
                        n_events = _record(events, n_events, EV_COMP_TRY, level, pid, row)
                    if row >= 0:
                        group = row
                        dip_type = COMPREHENSIVE
                        break
            # comprehensive groups by category range, in file order
            if group < 0 and category[i] >= 0:
                for r in range(range_lo.shape[0]):
                    if range_lo[r] <= category[i] <= range_hi[r] and range_class[r] == case_class:
                        group = range_rows[r]
                        dip_type = COMPREHENSIVE
                        if trace:
                            n_events = _record(events, n_events, EV_RANGE, r, group, 0)
                        break
        # auxiliary typing: the subtype with the highest trigger among those the case meets
        aux_row = -1
        if group >= 0:
            best_trigger = -np.inf
            for a in range(aux_ptr[group], aux_ptr[group + 1]):
                met = subtype_flags[i, aux_subtype[a]]
                if met and (aux_subtype[a] == SUB_TUMOUR_HIGH_COST_1 or aux_subtype[a] == SUB_TUMOUR_HIGH_COST_2):
                    met = cost[i] >= HIGH_COST_FACTOR * group_mean[group]   # False when the mean is unknown
                if trace:
                    n_events = _record(events, n_events, EV_SUBTYPE, aux_subtype[a], a, 1 if met else 0)
                if met and aux_trigger[a] > best_trigger:
                    best_trigger = aux_trigger[a]
                    aux_row = a
            if trace:
                n_events = _record(events, n_events, EV_AUX_CHOSEN, aux_row, 0, 0)
        if trace:
            n_events = _record(events, n_events, EV_RESULT, group, dip_type, 0)
        out_group[i] = group
        out_type[i] = dip_type
        out_aux[i] = aux_row
    return n_events


@nb.njit(cache=True, parallel=True)
def _group_dip_kernel(has_dx, core_dx, prefix_ids, category, surgery_level, newborn_weight, proc_ptr, proc_ids,
                      proc_class, cost,
                      subtype_flags,
                      attribute_highest, n_proc_vocab, any_dx_id, core_keys, core_rows, core_rel_ptr, core_slot_ptr,
                      core_rel_ids, core_mean, core_kind, newborn_lo, newborn_hi, newborn_rows, comp_keys, comp_rows,
                      comp_band_lo, comp_band_hi, range_lo, range_hi, range_class,
                      range_rows, group_mean, aux_ptr, aux_subtype, aux_trigger, out_group, out_type, out_aux):
    """DIP group of every case (arguments as :func:`_dip_cases`), in runs of cases across threads.

    Returns
    -------
    out_group : int64[n]   group row in the directory (-1 ungrouped)
    out_type : int8[n]     CORE, COMPREHENSIVE or UNGROUPED
    out_aux : int64[n]     aux row (-1 none)
    """
    events = np.zeros((0, 4), dtype=np.int64)
    n = has_dx.shape[0]
    for run in nb.prange((n + CASES_PER_RUN - 1) // CASES_PER_RUN):
        _dip_cases(run * CASES_PER_RUN, min(n, (run + 1) * CASES_PER_RUN), has_dx, core_dx, prefix_ids, category,
                   surgery_level, newborn_weight, proc_ptr, proc_ids, proc_class, cost, subtype_flags,
                   attribute_highest,
                   n_proc_vocab, any_dx_id, core_keys, core_rows, core_rel_ptr, core_slot_ptr, core_rel_ids,
                   core_mean, core_kind, newborn_lo, newborn_hi, newborn_rows, comp_keys, comp_rows, comp_band_lo,
                   comp_band_hi, range_lo, range_hi,
                   range_class, range_rows, group_mean, aux_ptr, aux_subtype, aux_trigger, out_group, out_type,
                   out_aux, events, False)


@nb.njit(cache=True)
def _trace_dip_case(i, has_dx, core_dx, prefix_ids, category, surgery_level, newborn_weight, proc_ptr, proc_ids,
                    proc_class, cost,
                    subtype_flags,
                    attribute_highest, n_proc_vocab, any_dx_id, core_keys, core_rows, core_rel_ptr, core_slot_ptr,
                    core_rel_ids, core_mean, core_kind, newborn_lo, newborn_hi, newborn_rows, comp_keys, comp_rows,
                    comp_band_lo, comp_band_hi, range_lo, range_hi, range_class,
                    range_rows, group_mean, aux_ptr, aux_subtype, aux_trigger, events):
    """Same decision for case ``i`` with its events recorded into ``events``: (group row, dip type, aux
    row, number of events)."""
    n = has_dx.shape[0]
    out_group = np.full(n, -1, dtype=np.int64)
    out_type = np.zeros(n, dtype=np.int8)
    out_aux = np.full(n, -1, dtype=np.int64)
    n_events = _dip_cases(i, i + 1, has_dx, core_dx, prefix_ids, category, surgery_level, newborn_weight, proc_ptr,
                          proc_ids,
                          proc_class, cost, subtype_flags, attribute_highest, n_proc_vocab, any_dx_id, core_keys,
                          core_rows, core_rel_ptr, core_slot_ptr, core_rel_ids, core_mean, core_kind, newborn_lo,
                          newborn_hi, newborn_rows, comp_keys,
                          comp_rows, comp_band_lo, comp_band_hi, range_lo, range_hi, range_class, range_rows,
                          group_mean, aux_ptr, aux_subtype, aux_trigger, out_group, out_type, out_aux, events, True)
    return out_group[i], out_type[i], out_aux[i], n_events
