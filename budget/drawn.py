"""Settle a drawn settlement year from the sums of the province it is drawn from.

A Monte Carlo draw of case mix (:mod:`drgdip.simulate.casemix`) is made of the settlement year's
stays: kept, removed, copied, and a few rewritten into another group. A stay's points depend on the
stay alone, and so does everything the settlement reads of it (money, month, pool, hospital). Every
sum a settlement makes of its stays is exact and kept in integer words (fen, counts, and points in
fixed point), so the draw's sums are the parent's sums plus those of the stays the draw adds (its
copies, and its rewritten stays with their points computed again) minus those of the stays it takes
away (the removed ones, and the rewritten ones as they were), to the last bit. Only the stays a draw
changes are read; the settlement then runs from those sums (pair weights and monthly dues priced per
price cell, :func:`~drgdip.budget._kernels.cell_prices`, as in every settlement).

:func:`settle_drawn_rows` gives the hospitals, pools and summary of
:func:`~drgdip.budget.pipeline.settle_prepared` of the drawn province with the money shared down to
the hospitals (``per_stay=False``), to the fen; the warnings of the points stage aside. Where that
cannot be shown to hold it returns None and the caller settles the drawn province as a whole: a
policy whose points, input or layout differ from those the parent was settled under, an approval
list, assessment by indicators, weights fitted on the settlement year, a budget point value taken
from the settlement year itself, a rewritten stay that leaves its status or takes an outlier class
the parent has no label for, and a draw that leaves a hospital, pool or hospital row without stays
(the parent's numbering would then differ from the drawn province's own).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from drgdip.budget._kernels import (BASIS_CODES, PoolPrices, cell_sum_words, chunk_bounds, pair_counts,
                                    pool_sum_words, pool_sums_of)
from drgdip.budget.frame import POINTS_PART_COLUMNS, CaseArrays, points_again
from drgdip.budget.inputs import SettlementInput, input_key, layout_key, of_the_history, stay_arrays
from drgdip.budget.money import group_sum
from drgdip.budget.outputs import left_out_counts
from drgdip.budget.pipeline import SETTLED, PreparedProvince, _points_key, weights_key, with_published_coefs
from drgdip.budget.policy import Policy
from drgdip.budget.settle import Settlement, settle_cases
from drgdip.budget.shares import CELL_SUMS_PER_CELL, hospital_rows, hospital_words, price_cell_sums
from drgdip.budget.stay_points import settlement_year_points

__all__ = ["settle_drawn_rows", "has_parent", "may_have_parent"]

# the per-stay arrays of CaseArrays (the others are labels), and of a Layout
STAY_FIELDS = ("hospital", "region", "insured", "insurance", "cost_fen", "fund_fen", "points", "fixed", "fixed_fen",
               "month", "status", "base_points", "outlier_class", "hospital_level", "fund_part_points", "read_status")
LAYOUT_FIELDS = ("area", "pool", "remote")
# what the points stage writes of a stay
POINTS_FIELDS = ("points", "fixed", "fixed_fen", "base_points", "outlier_class", "fund_part_points")
POOL_CASES_ROW, ROW_CASES_ROW = 3, 3   # the cases in the integer words of the pool and the hospital sums


def settle_drawn_rows(prepared: PreparedProvince, policy: Policy, copied: np.ndarray, removed: np.ndarray,
                      rewritten: np.ndarray, rewritten_stays: pd.DataFrame) -> Settlement | None:
    """Settle the drawn settlement year made of the rows of ``prepared.current`` less the rows
    ``removed``, plus a copy of the row ``copied[k]`` for each ``k``, where the stays of the rows
    ``rewritten`` (one per rewritten stay, a row again for each copy rewritten) are
    ``rewritten_stays`` (grouped again, without points); money shared down to the hospitals. None
    when it cannot be settled from the parent's sums (see the module docstring). ``prepared`` must
    have been settled under a policy with the same points, input and layout as ``policy`` (its
    settlement input is the parent)."""
    policy = with_published_coefs(policy)
    parent = _parent_input(prepared, policy)
    if parent is None:
        return None
    history_derived = of_the_history(parent.derived)
    if ("budget_point_values", policy.point_value) not in history_derived:
        return None     # taken from the settlement year itself: the draw's own
    added_rows = np.concatenate([copied, rewritten]).astype(np.int64, copy=False)
    removed_rows = np.concatenate([removed, rewritten]).astype(np.int64, copy=False)
    added = _part(parent, added_rows)
    if len(rewritten):   # the rewritten stays come back with the points of their new group
        table = _weight_table(prepared, policy)
        if table is None:
            return None
        by_area = prepared.year_points[_points_key(policy)][3]
        added = _with_points(added, parent, rewritten, len(copied),
                             settlement_year_points(rewritten_stays, policy, table, by_area=by_area))
        if added is None:
            return None
    derived = _drawn_sums(parent, policy, (added_rows, added), (removed_rows, _part(parent, removed_rows)))
    if derived is None:
        return None
    layout = replace(parent.layout, **{name: getattr(parent.layout, name)[:0] for name in LAYOUT_FIELDS})
    year_input = SettlementInput(arrays=_without_stays(parent.arrays), case_id=None, layout=layout, stays=None,
                                 history=parent.history, hospital_table=parent.hospital_table, year=parent.year,
                                 history_key=parent.history_key, derived={**history_derived, **derived})
    return settle_cases(pd.DataFrame(index=pd.RangeIndex(0)), policy, hospitals=prepared.hospitals,
                        deductions=prepared.deductions, file=SETTLED, year=prepared.settle_year,
                        year_input=year_input, per_stay=False)


def has_parent(prepared: PreparedProvince, policy: Policy) -> bool:
    """Whether ``prepared`` keeps the settlement input its draws under ``policy`` settle from (made by
    settling it under ``policy``, or a policy with the same points, input and layout)."""
    return _parent_input(prepared, with_published_coefs(policy)) is not None


def may_have_parent(prepared: PreparedProvince, policy: Policy) -> bool:
    """Whether settling ``prepared`` under ``policy`` can make a parent for its draws (no approval list,
    no assessment by indicators, and the same preparation: settling does not prepare again)."""
    return prepared.approved is None and not policy.settlement.assessment_indicators.weights \
        and prepared.same_preparation(policy)


def _parent_input(prepared: PreparedProvince, policy: Policy) -> SettlementInput | None:
    """The settlement input ``prepared`` kept for ``policy``'s points, input and layout, when a draw
    of it settles from its arrays."""
    if not may_have_parent(prepared, policy) or not prepared.settlement_inputs:
        return None
    points_key = _points_key(policy)
    key = (points_key, input_key(policy), layout_key(policy))
    if points_key is None or None in key or points_key not in (prepared.year_points or {}):
        return None
    parent = prepared.settlement_inputs.get(key)
    if parent is None or parent.before_layout is None:
        return None
    return parent


def _weight_table(prepared: PreparedProvince, policy: Policy):
    """The weight table the parent's points were computed with, when it was not fitted on the
    settlement year (else a draw's own weights would differ)."""
    entry = prepared.weight_tables.get(weights_key(policy))
    return entry[0] if entry is not None and not entry[2] else None


def _taken(arrays, rows: np.ndarray, fields: tuple):
    """``arrays`` (CaseArrays or Layout) of the stays at ``rows``."""
    return replace(arrays, **{name: getattr(arrays, name)[rows] for name in fields
                              if getattr(arrays, name) is not None})


def _part(parent: SettlementInput, rows: np.ndarray) -> SettlementInput:
    """The parent's stays at ``rows`` as an input of their own."""
    arrays, layout = _taken(parent.arrays, rows, STAY_FIELDS), _taken(parent.layout, rows, LAYOUT_FIELDS)
    return SettlementInput(arrays=arrays, case_id=None, layout=layout, stays=stay_arrays(arrays, layout),
                           history=None, hospital_table=None, year=parent.year)


def _with_points(part: SettlementInput, parent: SettlementInput, rows: np.ndarray, start: int,
                 redone: pd.DataFrame | None) -> SettlementInput | None:
    """``part`` with the points read from ``redone`` (the stays of the input rows ``rows`` after an
    upshift) from its position ``start`` on; None when one of them comes out with another status than
    its row's, or with an outlier class the parent has no label for."""
    if redone is None:
        return None
    before = _taken(parent.before_layout, rows, STAY_FIELDS)
    again = points_again(before, redone.reset_index(drop=True), POINTS_PART_COLUMNS, file=SETTLED)
    if again is None or not np.array_equal(again.status_labels[again.status], before.status_labels[before.status]):
        return None
    arrays = part.arrays
    values = {}
    for name in POINTS_FIELDS:
        mine, new = getattr(arrays, name), getattr(again, name)
        if (mine is None) != (new is None):
            return None
        if mine is None:
            continue
        if name == "outlier_class":
            new = _recoded(new, again.outlier_labels, arrays.outlier_labels)
            if new is None:
                return None
        mine = mine.copy()
        mine[start:] = new
        values[name] = mine
    arrays = replace(arrays, **values)
    return replace(part, arrays=arrays, stays=stay_arrays(arrays, part.layout))


def _recoded(codes: np.ndarray, labels: np.ndarray, into: np.ndarray) -> np.ndarray | None:
    """``codes`` of ``labels`` as codes of ``into`` (None: one of them is a label ``into`` lacks)."""
    known = {label: k for k, label in enumerate(into)}
    table = np.asarray([known.get(label, -2) for label in labels] + [-1], dtype=np.int32)
    recoded = table[codes]
    return None if (recoded == -2).any() else recoded


def _without_stays(arrays: CaseArrays) -> CaseArrays:
    """``arrays`` with their labels and no stays: a drawn input whose sums are all given."""
    return replace(arrays, **{name: getattr(arrays, name)[:0] for name in STAY_FIELDS
                              if getattr(arrays, name) is not None})


def _plus(base, added, removed):
    """``base + added - removed``, array by array through tuples (integer words: exact)."""
    if isinstance(base, tuple):
        return tuple(_plus(*parts) for parts in zip(base, added, removed))
    return base + added - removed


def _drawn_sums(parent: SettlementInput, policy: Policy, added: tuple, removed: tuple) -> dict | None:
    """What the settlement phases derive from the stays, for the draw: the parent's, plus what the
    ``added`` stays give, minus what the ``removed`` ones give (each: input rows, and their input);
    None when the draw leaves a hospital, pool or hospital row without stays."""
    layout = parent.layout
    n_pools, n_regions, n_hospitals = layout.n_pools, parent.n_regions, max(parent.n_hospitals, 1)
    n_areas = max(layout.n_areas, 1)
    rows = parent.remembered(("hospital_rows",), lambda: hospital_rows(parent))
    cells, _, _ = price_cell_sums(parent, rows)
    basis, points_scale = BASIS_CODES[policy.point_value.basis], float(policy.points.points_scale)
    arrays = parent.arrays

    def pool_words(part):
        stays = part.stays
        return pool_sum_words(chunk_bounds(len(stays.pool), n_pools * (5 * n_regions + 7)), stays, n_pools,
                              n_regions)

    def cell_words(part, source_rows):
        cell = cells.cell[source_rows]
        return cell_sum_words(chunk_bounds(len(cell), cells.n * CELL_SUMS_PER_CELL), part.stays, cell, cells.n)

    def remote_fund(part):
        remote = part.layout.remote & (part.layout.pool >= 0)
        return group_sum(part.layout.pool[remote], part.arrays.fund_fen[remote], n_pools)

    def with_month(part):
        return np.int64(np.count_nonzero((part.layout.pool >= 0) & (part.arrays.month != 0)))

    def hospital_stays(part):
        hospital = part.arrays.hospital
        return np.bincount(hospital[hospital >= 0], minlength=n_hospitals)

    def outlier(part):
        stays = part.stays
        return pair_counts(chunk_bounds(len(stays.area), n_areas * len(arrays.outlier_labels)), stays.area,
                           part.arrays.outlier_class, n_areas, len(arrays.outlier_labels)).reshape(n_areas, -1)

    def left_out(part):
        found = left_out_counts(part.arrays, layout, policy)
        return tuple(found.get(label, np.zeros(layout.n_areas, dtype=np.int64)) for label in arrays.status_labels[1:])

    def left_out_stays(part):
        return np.int64(np.count_nonzero(part.arrays.status != 0))

    (added_rows, plus), (removed_rows, minus) = added, removed

    def drawn(name, of, of_parent=None):
        base = parent.remembered(("drawn", name), lambda: of(parent)) if of_parent is None else of_parent()
        return _plus(base, of(plus), of(minus))

    pool_sum = drawn("pool_sum_words", pool_words,
                     lambda: parent.remembered(("pool_sum_words",), lambda: pool_words(parent)))
    no_prices = PoolPrices(np.zeros((n_pools, max(n_regions, 1))), np.zeros(n_pools), np.zeros(n_pools), basis)
    hospital_sum = drawn("hospital_sum_words", lambda part: hospital_words(part, rows, no_prices, points_scale, False),
                         lambda: hospital_words(parent, rows, no_prices, points_scale))
    parent_stays = parent.remembered(("drawn", "hospital_stays"), lambda: hospital_stays(parent))
    per_hospital = drawn("hospital_stays", hospital_stays, lambda: parent_stays)
    if (pool_sum[0][POOL_CASES_ROW] <= 0).any() or (hospital_sum[0][ROW_CASES_ROW] <= 0).any() \
            or ((parent_stays > 0) & (per_hospital <= 0)).any():
        return None
    cell_sum = _plus(price_cell_sums(parent, rows)[1], cell_words(plus, added_rows), cell_words(minus, removed_rows))
    derived = {("pool_sum_words",): pool_sum, ("pool_sums",): pool_sums_of(pool_sum, n_pools, n_regions),
               ("hospital_rows",): rows, ("hospital_sum_words", basis, points_scale): hospital_sum,
               ("cell_sum_words",): cell_sum,
               ("pool_remote_fund",): drawn("pool_remote_fund", remote_fund),
               ("without_months",): bool(drawn("with_month", with_month) == 0)}
    for key in (("price_cells",), ("cell_rows",)):
        derived[key] = parent.derived[key]
    if arrays.outlier_class is not None and layout.n_areas:
        derived[("outlier_counts",)] = drawn("outlier_counts", outlier)
    left = drawn("left_out", left_out)
    derived[("left_out_counts",)] = dict(zip(arrays.status_labels[1:], left)) \
        if drawn("left_out_stays", left_out_stays) > 0 else {}
    return derived
