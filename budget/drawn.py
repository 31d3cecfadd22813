"""Settle a drawn settlement year from the arrays of the province it is drawn from.

A Monte Carlo draw of case mix (:mod:`drgdip.simulate.casemix`) is made of the settlement year's
stays: kept, removed, copied, and a few rewritten into another group. A stay's points depend on the
stay alone, and so does everything the settlement reads of it (money, month, pool, hospital), so the
draw's settlement input is the parent's per-stay arrays taken at the rows the draw's stays come
from, with the points of the rewritten stays computed again. No frame of the drawn province is made
and nothing is read or checked twice.

:func:`settle_drawn_rows` gives the hospitals, pools and summary of
:func:`~drgdip.budget.pipeline.settle_prepared` of the drawn province with the money shared down to
the hospitals (``per_stay=False``), to the fen; the warnings of the points stage aside. Where that
cannot be shown to hold it returns None and the caller settles the drawn province as a whole: a
policy whose points, input or layout differ from those the parent was settled under, an approval
list, assessment by indicators, weights fitted on the settlement year, a rewritten stay that leaves
its status, and a draw that leaves a hospital, pool or hospital row without stays (the parent's
numbering would then differ from the drawn province's own).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from drgdip.budget._kernels import places_present
from drgdip.budget.frame import POINTS_PART_COLUMNS, CaseArrays, points_again
from drgdip.budget.inputs import SettlementInput, input_key, layout_key, of_the_history, stay_arrays
from drgdip.budget.pipeline import SETTLED, PreparedProvince, _points_key, weights_key, with_published_coefs
from drgdip.budget.policy import Policy
from drgdip.budget.settle import Settlement, settle_cases
from drgdip.budget.stay_points import settlement_year_points
from drgdip.core.buffers import reusable_array

__all__ = ["settle_drawn_rows", "has_parent", "may_have_parent"]

# the per-stay arrays of CaseArrays (the others are labels)
STAY_FIELDS = ("hospital", "region", "insured", "insurance", "cost_fen", "fund_fen", "points", "fixed", "fixed_fen",
               "month", "status", "base_points", "outlier_class", "hospital_level", "fund_part_points", "read_status")
# room kept in the arrays of a draw for the next draw's stays, whose number varies
DRAW_SPARE = 0.1
# what the points stage writes of a stay
POINTS_FIELDS = ("points", "fixed", "fixed_fen", "base_points", "outlier_class", "fund_part_points")


def settle_drawn_rows(prepared: PreparedProvince, policy: Policy, source: np.ndarray, rewritten: np.ndarray,
                      rewritten_stays: pd.DataFrame) -> Settlement | None:
    """Settle the drawn settlement year whose stays come from the rows ``source`` of ``prepared.current``,
    those at the positions ``rewritten`` being ``rewritten_stays`` (grouped again, without points),
    money shared down to the hospitals; None when it cannot be settled from the parent's arrays (see
    the module docstring). ``prepared`` must have been settled under a policy with the same points,
    input and layout as ``policy`` (its settlement input is the parent)."""
    policy = with_published_coefs(policy)
    parent = _parent_input(prepared, policy)
    if parent is None:
        return None
    buffers = parent.remembered(("draw_arrays",), dict)
    arrays = _taken(parent.arrays, source, buffers)
    if len(rewritten):
        table = _weight_table(prepared, policy)
        by_area = prepared.year_points[_points_key(policy)][3]
        redone = settlement_year_points(rewritten_stays, policy, table, by_area=by_area) if table is not None else None
        arrays = _with_points(arrays, parent, source[rewritten], rewritten, redone) if redone is not None else None
        if arrays is None:
            return None
    layout = replace(parent.layout, **{name: _take(getattr(parent.layout, name), source, buffers, "layout." + name)
                                       for name in ("area", "pool", "remote")})
    if not _same_places(parent, arrays, layout):
        return None
    year_input = SettlementInput(arrays=arrays, case_id=None, layout=layout, stays=stay_arrays(arrays, layout),
                                 history=parent.history, hospital_table=parent.hospital_table, year=parent.year,
                                 history_key=parent.history_key,
                                 derived=of_the_history(parent.derived) if parent.derived else {})
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


def _taken(arrays: CaseArrays, rows: np.ndarray, buffers: dict | None = None) -> CaseArrays:
    """``arrays`` of the stays at ``rows`` (``buffers``: where to keep the arrays for the next draw)."""
    return replace(arrays, **{name: _take(getattr(arrays, name), rows, buffers, name) for name in STAY_FIELDS
                              if getattr(arrays, name) is not None})


def _take(values: np.ndarray, rows: np.ndarray, buffers: dict | None, name: str) -> np.ndarray:
    if buffers is None:
        return values[rows]
    return np.take(values, rows, out=reusable_array(buffers, name, len(rows), values.dtype, spare=DRAW_SPARE),
                   mode="clip")   # rows are valid; "raise" would buffer the output


def _with_points(arrays: CaseArrays, parent: SettlementInput, rows: np.ndarray, positions: np.ndarray,
                 redone: pd.DataFrame) -> CaseArrays | None:
    """``arrays`` with the points read from ``redone`` (the stays of the input rows ``rows`` after an
    upshift) at ``positions``; None when one of them comes out with another status than its row's."""
    before = _taken(parent.before_layout, rows)
    again = points_again(before, redone.reset_index(drop=True), POINTS_PART_COLUMNS, file=SETTLED)
    if again is None or not np.array_equal(again.status_labels[again.status], before.status_labels[before.status]):
        return None
    values = {}
    for name in POINTS_FIELDS:
        mine, new = getattr(arrays, name), getattr(again, name)
        if (mine is None) != (new is None):
            return None
        if mine is None:
            continue
        if name == "outlier_class":
            new, labels = _recoded(new, again.outlier_labels, arrays.outlier_labels)
            values["outlier_labels"] = labels
        mine[positions] = new     # the draw's own array (taken from the parent's)
        values[name] = mine
    return replace(arrays, **values)


def _recoded(codes: np.ndarray, labels: np.ndarray, into: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``codes`` of ``labels`` as codes of ``into``, with the labels it lacks appended."""
    known = {label: k for k, label in enumerate(into)}
    merged = list(into)
    table = []
    for label in labels:
        if label not in known:
            known[label] = len(merged)
            merged.append(label)
        table.append(known[label])
    table = np.append(np.asarray(table, dtype=np.int32), -1)
    return table[codes].astype(np.int32), np.asarray(merged, dtype=object)


def _same_places(parent: SettlementInput, arrays: CaseArrays, layout) -> bool:
    """Whether every hospital, pool and (area, hospital) row of the parent keeps stays in the draw, so
    that the drawn province lays out with the parent's hospitals, pools and rows."""
    sizes = (max(parent.n_hospitals, 1), parent.layout.n_pools, max(parent.layout.n_areas, 1))
    mine = places_present(arrays.hospital, layout.pool, layout.area, *sizes)
    theirs = parent.remembered(("places",), lambda: places_present(parent.arrays.hospital, parent.layout.pool,
                                                                   parent.layout.area, *sizes))
    return all(np.array_equal(a, b) for a, b in zip(mine, theirs))
