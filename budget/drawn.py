"""Settle a drawn settlement year from the sums of the province it is drawn from.

A Monte Carlo draw of case mix (:mod:`drgdip.simulate.casemix`) is made of the settlement year's
stays: kept, removed, copied, and a few rewritten into another group. A stay's points depend on the
stay alone, and so does everything the settlement reads of it (money, month, pool, hospital). Every
sum a settlement makes of its stays is exact and kept in integer words (fen, counts, and points in
fixed point), so the draw's sums are the parent's sums plus those of the stays the draw adds (its
copies, and its rewritten stays with their points computed again) minus those of the stays it takes
away (the removed ones, and the rewritten ones as they were), to the last bit. Only the stays a draw
changes are read, in place, by one kernel that adds them to a copy of the parent's words and takes
them away (:func:`~drgdip.budget._kernels.add_stay_words`), from one record per stay once the parent
serves more than one draw; the settlement then runs from those sums (pair weights and monthly dues
priced per price cell, :func:`~drgdip.budget._kernels.cell_prices`, as in every settlement). Draws
from one parent may run on several threads: they only read it.

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

import threading
from dataclasses import dataclass, replace
from typing import Callable, Collection, NamedTuple

import numpy as np
import pandas as pd

from drgdip.budget._kernels import (BASIS_CODES, PoolPrices, StayCounts, StayWords, add_stay_words, pool_sums_of,
                                    stay_counts)
from drgdip.budget.frame import POINTS_PART_COLUMNS, CaseArrays, points_again
from drgdip.budget.inputs import SettlementInput, input_key, layout_key, of_the_history, stay_arrays
from drgdip.budget.outputs import region_areas
from drgdip.budget.pool_money import pool_words
from drgdip.budget.pipeline import SETTLED, PreparedProvince, _points_key, weights_key, with_published_coefs
from drgdip.budget.policy import Policy
from drgdip.budget.settle import Settlement, settle_cases
from drgdip.budget.shares import hospital_rows, hospital_words, price_cell_sums
from drgdip.budget.stay_points import settlement_year_points

__all__ = ["settle_drawn_rows", "has_parent", "may_have_parent", "parent_key", "Rewritable"]

# the per-stay arrays of CaseArrays (the others are labels), and of a Layout
STAY_FIELDS = ("hospital", "region", "insured", "insurance", "cost_fen", "fund_fen", "points", "fixed", "fixed_fen",
               "month", "status", "base_points", "outlier_class", "hospital_level", "fund_part_points", "read_status")
LAYOUT_FIELDS = ("area", "pool", "remote")
# what the points stage writes of a stay
NOT_SUMMED = ("insurance", "read_status")   # per-stay arrays no sum of a draw reads
POINTS_FIELDS = ("points", "fixed", "fixed_fen", "base_points", "outlier_class", "fund_part_points")
POOL_CASES_ROW, ROW_CASES_ROW = 3, 3   # the cases in the integer words of the pool and the hospital sums
UNKNOWN_LABEL = -2                      # an outlier class the parent has no label for
RECORDS_AFTER = 1                       # draws from a parent before its stays are laid out as records (once)
CACHE_LINE = 64                         # bytes
_VIEW_LOCK = threading.Lock()           # held while a view of stays is made for the draws of every thread


class Rewritable(NamedTuple):
    """Every stay the draws of a simulation may rewrite: ``key`` names them, ``rows`` are their input
    rows (ascending) and ``stays()`` gives them as rewritten (a frame, as the stays of a draw). Their
    points are computed once, kept with the parent, and taken for the stays each draw rewrites."""

    key: object
    rows: np.ndarray
    stays: Callable[[], pd.DataFrame]


@dataclass(frozen=True)
class _Rewritten:
    """Stays of the parent rewritten, with their points: ``stays`` at the input ``rows`` (ascending);
    ``usable`` where a stay keeps its status and its outlier class has a label in the parent."""

    rows: np.ndarray
    stays: SettlementInput
    usable: np.ndarray
    index: np.ndarray   # int64[n_input] place of each input row in ``rows`` (-1: not there)
    cell: np.ndarray    # int32 price cell of each stay (that of its input row)


def settle_drawn_rows(prepared: PreparedProvince, policy: Policy, copied: np.ndarray, removed: np.ndarray,
                      rewritten: np.ndarray, rewritten_stays: pd.DataFrame | Rewritable,
                      tables: Collection[str] | None = None) -> Settlement | None:
    """Settle the drawn settlement year made of the rows of ``prepared.current`` less the rows
    ``removed``, plus a copy of the row ``copied[k]`` for each ``k``, where the stays of the rows
    ``rewritten`` (one per rewritten stay, a row again for each copy rewritten) are
    ``rewritten_stays`` (grouped again, without points; or every stay the draws may rewrite, whose
    points are computed once); money shared down to the hospitals, the Settlement's ``tables`` made
    (default: every one, see :func:`~drgdip.budget.settle.settle_cases`). None
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
    rewritten = np.asarray(rewritten, dtype=np.int64)
    returned = None
    if len(rewritten):   # the rewritten stays come back with the points of their new group
        returned = _returned(prepared, policy, parent, rewritten, rewritten_stays)
        if returned is None:
            return None
    removed = np.concatenate([removed, rewritten]).astype(np.int64, copy=False)
    derived = _drawn_sums(parent, policy, copied, removed, returned)
    if derived is None:
        return None
    layout = replace(parent.layout, **{name: getattr(parent.layout, name)[:0] for name in LAYOUT_FIELDS})
    year_input = SettlementInput(arrays=_without_stays(parent.arrays), case_id=None, layout=layout, stays=None,
                                 history=parent.history, hospital_table=parent.hospital_table, year=parent.year,
                                 history_key=parent.history_key, derived={**history_derived, **derived})
    return settle_cases(pd.DataFrame(index=pd.RangeIndex(0)), policy, hospitals=prepared.hospitals,
                        deductions=prepared.deductions, file=SETTLED, year=prepared.settle_year,
                        year_input=year_input, per_stay=False, tables=tables)


def parent_key(policy: Policy) -> tuple:
    """What the parent a draw under ``policy`` settles from depends on: draws under policies with the
    same key settle from the same parent."""
    return _parent_key(with_published_coefs(policy))


def _parent_key(policy: Policy) -> tuple:
    return _points_key(policy), input_key(policy), layout_key(policy)


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
    of it settles from its sums."""
    if not may_have_parent(prepared, policy) or not prepared.settlement_inputs:
        return None
    key = _parent_key(policy)
    points_key = key[0]
    if points_key is None or None in key or points_key not in (prepared.year_points or {}):
        return None
    parent = prepared.settlement_inputs.get(key)
    if parent is None or parent.before_layout is None:
        return None
    return parent


def _returned(prepared: PreparedProvince, policy: Policy, parent: SettlementInput, rewritten: np.ndarray,
              stays: pd.DataFrame | Rewritable) -> tuple | None:
    """The stays of the input rows ``rewritten`` as a draw rewrote them, with their points: the
    :func:`_stay_view` of an input holding them and their places in it; None when one of them leaves
    its status or takes an outlier class the parent has no label for."""
    if isinstance(stays, pd.DataFrame):
        done = _rewritten(prepared, policy, parent, rewritten, stays)
        if done is None or not done.usable.all():
            return None
        return _stay_view(done.stays, done.cell, as_records=False), np.arange(len(rewritten))
    done = parent.remembered(("rewritten", stays.key), lambda: _rewritten(prepared, policy, parent, stays.rows,
                                                                         stays.stays()))
    if done is None:
        return None
    at = done.index[rewritten]
    if (at < 0).any() or not done.usable[at].all():   # a stay the candidates lack is settled whole
        return None
    with _VIEW_LOCK:
        view = done.stays.remembered(("stay_view",), lambda: _stay_view(done.stays, done.cell, as_records=True))
    return view, at


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


class _StayView(NamedTuple):
    """What :func:`~drgdip.budget._kernels.add_stay_words` reads of an input's stays."""

    stays: object              # StayArrays
    status: np.ndarray
    outlier_class: np.ndarray
    cell: np.ndarray           # price cell of each stay
    records: np.ndarray | None  # the records the arrays are fields of (None: arrays of their own)


def _stay_view(source: SettlementInput, cell: np.ndarray, as_records: bool) -> _StayView:
    """The per-stay arrays of ``source`` (``cell``: the price cell of each stay) as the words of a
    draw read them: its own arrays, or (``as_records``) the fields of one record per stay, so that the
    values a sum reads of a stay lie in one cache line where they fit in one, for an input whose stays
    many draws read at random."""
    columns = [(name, getattr(source.arrays, name)) for name in STAY_FIELDS if getattr(source.arrays, name) is not None]
    columns += [("layout_" + name, getattr(source.layout, name)) for name in LAYOUT_FIELDS]
    columns.append(("cell", cell))
    fields = dict(columns)
    records = None
    if as_records:
        records = _records([(name, values) for name, values in columns if name not in NOT_SUMMED], len(cell))
        fields.update((name, records[name]) for name in records.dtype.names)
    arrays = replace(source.arrays, **{name: fields[name] for name in STAY_FIELDS if name in fields})
    layout = replace(source.layout, **{name: fields["layout_" + name] for name in LAYOUT_FIELDS})
    outlier_class = fields.get("outlier_class")
    return _StayView(stay_arrays(arrays, layout), fields["status"],
                     outlier_class if outlier_class is not None else np.zeros(0, dtype=np.int32), fields["cell"],
                     records)


def _records(columns: list, n: int) -> np.ndarray:
    """``columns`` (name, values) as one record per stay, each integer field in the narrowest integer
    type that holds every one of its values (the kernels widen them as they read them), every field at
    its natural alignment, and a record that fits in a cache line padded to one and starting one."""
    typed = sorted(((name, values, _narrowest(values)) for name, values in columns), key=lambda c: -c[2].itemsize)
    natural = np.dtype([(name, dtype) for name, _, dtype in typed], align=True)
    size = CACHE_LINE if natural.itemsize <= CACHE_LINE else natural.itemsize
    dtype = np.dtype({"names": list(natural.names), "formats": [natural.fields[name][0] for name in natural.names],
                      "offsets": [natural.fields[name][1] for name in natural.names], "itemsize": size})
    space = np.empty(n * size + CACHE_LINE, dtype=np.uint8)
    start = -space.ctypes.data % CACHE_LINE
    records = space[start:start + n * size].view(dtype)
    for name, values, _ in typed:
        records[name] = values
    return records


def _narrowest(values: np.ndarray) -> np.dtype:
    """The narrowest signed integer type that holds every one of ``values`` (integers), else their own."""
    if values.dtype.kind not in "iu" or not len(values):
        return values.dtype
    low, high = values.min(), values.max()
    return next((np.dtype(kind) for kind in (np.int8, np.int16, np.int32, np.int64)
                 if np.iinfo(kind).min <= low and high <= np.iinfo(kind).max and np.dtype(kind).itemsize
                 <= values.dtype.itemsize), values.dtype)


def _parent_view(parent: SettlementInput) -> _StayView:
    """The parent's :func:`_stay_view`: its own arrays for its first draw (a parent made for one draw's
    own coefficients is not worth laying out again), then records, made once however many threads
    draw from it."""
    with _VIEW_LOCK:
        draws = parent.remembered(("draws_from",), lambda: [0])
        draws[0] += 1
        as_records = draws[0] > RECORDS_AFTER
        cell = _price_cells(parent).cell
        return parent.remembered(("stay_view", as_records), lambda: _stay_view(parent, cell, as_records))


def _rewritten(prepared: PreparedProvince, policy: Policy, parent: SettlementInput, rows: np.ndarray,
               stays: pd.DataFrame) -> _Rewritten | None:
    """The parent's stays at the input rows ``rows`` with the points of ``stays`` (those stays rewritten
    by an upshift, grouped again); None when the parent's points cannot be computed for other stays
    (weights fitted on the settlement year) or the points stage gives other columns."""
    table = _weight_table(prepared, policy)
    if table is None:
        return None
    redone = settlement_year_points(stays, policy, table, by_area=prepared.year_points[_points_key(policy)][3])
    if redone is None:
        return None
    before = _taken(parent.before_layout, rows, STAY_FIELDS)
    again = points_again(before, redone.reset_index(drop=True), POINTS_PART_COLUMNS, file=SETTLED)
    if again is None:
        return None
    usable = again.status_labels[again.status] == before.status_labels[before.status]
    part = _part(parent, rows)
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
            usable &= new != UNKNOWN_LABEL
        values[name] = np.asarray(new, dtype=mine.dtype)
    arrays = replace(arrays, **values)
    index = np.full(parent.arrays.n, -1, dtype=np.int64)
    index[rows] = np.arange(len(rows))
    cell = _price_cells(parent).cell[rows]   # a rewritten stay keeps its pool, hospital, region, month
    return _Rewritten(rows=rows, stays=replace(part, arrays=arrays, stays=stay_arrays(arrays, part.layout), derived={}),
                      usable=usable, index=index, cell=cell)


def _recoded(codes: np.ndarray, labels: np.ndarray, into: np.ndarray) -> np.ndarray:
    """``codes`` of ``labels`` as codes of ``into`` (UNKNOWN_LABEL where ``into`` lacks the label)."""
    known = {label: k for k, label in enumerate(into)}
    table = np.asarray([known.get(label, UNKNOWN_LABEL) for label in labels] + [-1], dtype=np.int32)
    return table[codes]


def _without_stays(arrays: CaseArrays) -> CaseArrays:
    """``arrays`` with their labels and no stays: a drawn input whose sums are all given."""
    return replace(arrays, **{name: getattr(arrays, name)[:0] for name in STAY_FIELDS
                              if getattr(arrays, name) is not None})


def _drawn_sums(parent: SettlementInput, policy: Policy, copied: np.ndarray, removed: np.ndarray,
                returned: tuple | None) -> dict | None:
    """What the settlement phases derive from the stays, for the draw: the parent's, plus what the
    stays at the input rows ``copied`` give, minus what those at ``removed`` give, plus what the
    ``returned`` ones give (of :func:`_returned`, None for none); None when the draw leaves a
    hospital, pool or hospital row without stays."""
    layout, arrays = parent.layout, parent.arrays
    n_pools, n_regions = layout.n_pools, parent.n_regions
    rows = parent.remembered(("hospital_rows",), lambda: hospital_rows(parent))
    cells = _price_cells(parent)
    basis, points_scale = BASIS_CODES[policy.point_value.basis], float(policy.points.points_scale)
    no_prices = PoolPrices(np.zeros((n_pools, max(n_regions, 1))), np.zeros(n_pools), np.zeros(n_pools), basis)
    region_area = parent.remembered(("region_areas",), lambda: region_areas(arrays, layout, policy))

    base = (pool_words(parent), hospital_words(parent, rows, no_prices, points_scale),   # the parent settlement's
            price_cell_sums(parent, rows)[1],
            parent.remembered(("stay_counts",), lambda: stay_counts(arrays, layout, region_area)))
    words = _words_of(base)
    n_classes = len(arrays.outlier_labels) if arrays.outlier_class is not None else 0

    def add(view: _StayView, at: np.ndarray, sign: int) -> None:
        add_stay_words(words, view.stays, view.status, view.outlier_class, view.cell, at, sign, rows.row_of_pair,
                       parent.n_hospitals, basis, points_scale, region_area, n_classes, view.records)

    view = _parent_view(parent)
    add(view, copied, 1)
    add(view, removed, -1)
    if returned is not None:
        add(*returned, 1)
    pool_sum, hospital_sum, cell_sum, counts = _sums_of(words)
    if (pool_sum[0][POOL_CASES_ROW] <= 0).any() or (hospital_sum[0][ROW_CASES_ROW] <= 0).any() \
            or ((base[3].per_hospital > 0) & (counts.per_hospital <= 0)).any():
        return None
    derived = {("pool_sum_words",): pool_sum, ("pool_sums",): pool_sums_of(pool_sum, n_pools, n_regions),
               ("hospital_rows",): rows, ("hospital_sum_words", basis, points_scale): hospital_sum,
               ("cell_sum_words",): cell_sum, ("price_cells",): cells, ("cell_rows",): parent.derived[("cell_rows",)],
               ("pool_remote_fund",): counts.remote_fund, ("without_months",): counts.with_month == 0}
    n_areas = layout.n_areas
    if arrays.outlier_class is not None and n_areas:
        derived[("outlier_counts",)] = counts.outlier[:n_areas, :len(arrays.outlier_labels)]
    derived[("left_out_counts",)] = {} if counts.left_out_stays == 0 else {
        label: counts.left_out[k, :n_areas] for k, label in enumerate(arrays.status_labels) if k > 0}
    return derived


def _price_cells(parent: SettlementInput):
    """The parent's price cells (:class:`~drgdip.budget._kernels.PriceCells`)."""
    return price_cell_sums(parent, parent.remembered(("hospital_rows",), lambda: hospital_rows(parent)))[0]


def _words_of(base: tuple) -> StayWords:
    """A copy of the parent's (pool, hospital row, price cell words, stay counts) to add a draw's stays to."""
    (pool_fen, insured_fen, pool_points), (row_fen, row_floats), (cell_points, cell_fen), counts = base
    return StayWords(pool_fen.copy(), insured_fen.copy(), pool_points.copy(), row_fen.copy(), row_floats.copy(),
                     cell_points.copy(), cell_fen.copy(), counts.per_hospital.copy(), counts.remote_fund.copy(),
                     counts.outlier.copy(), counts.left_out.copy(),
                     np.array([counts.with_month, counts.left_out_stays], dtype=np.int64))


def _sums_of(words: StayWords) -> tuple:
    """``words`` as (pool, hospital row, price cell words, stay counts), as :func:`_words_of` reads them."""
    counts = StayCounts(words.per_hospital, words.remote_fund, int(words.totals[0]), words.outlier, words.left_out,
                        int(words.totals[1]))
    return ((words.pool_fen, words.insured_fen, words.pool_points), (words.row_fen, words.row_floats),
            (words.cell_points, words.cell_fen), counts)
