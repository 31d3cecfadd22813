"""Case-mix perturbations (病例组合扰动) for Monte Carlo draws of a province's settlement year.

Each perturbation turns the grouped stays of a province into another province of whole stays, drawn
with the :class:`numpy.random.Generator` the caller passes, so that every draw can be settled as it
stands:

* **volume** (住院量): ``g`` per hospital. ``g > 0`` copies ``round(g × n)`` of the hospital's ``n``
  stays, drawn without replacement, or with replacement when ``round(g × n) > n``; ``g < 0`` removes
  ``round(|g| × n)`` of them (never more than ``n``).
* **in-province remote stays** (省内异地): ``r`` per hospital, or per value of another column such as
  ``region``. The same as volume, among the hospital's in-province remote stays only: insured in
  another region (``insured_region`` present and not ``region``) whose code starts with the same
  ``province_prefix_len`` digits, as :func:`drgdip.pointvalue.coefs.pool_codes` decides for the
  remote coefficient and the budget's remote pool.
* **coding upshift** (高套编码): ``s`` per hospital, ``0 <= s <= 1``. ``round(s × m)`` of the
  hospital's ``m`` stays that could be coded one severity higher are moved there; only the group
  columns change (see :func:`upshift_coding`).

Shares are a :class:`pandas.Series` (or a mapping) indexed by hospital id -- a hospital it does not
list gets 0, an id the stays do not have is ignored -- or one number for every hospital. Counts round
half to even (Python's ``round``).

:func:`perturb` applies them in this order: volume, then remote stays (counted after the volume
change, copies included), then the upshift (counted on the stays of the draw, copies included).
Each step is also a function of its own: ``perturb`` with that one perturbation.

Result
------
Every column of the input with its dtype (string columns stay string, categoricals keep their
categories; a group code that the categories lack is appended), a fresh ``RangeIndex``, and the rows
in this order: the input stays that remain, in input order; then the volume copies; then the remote
copies; the copies of each step grouped by hospital in sorted hospital order (by hospital and value
of ``remote_by`` for remote stays), and within a hospital in the order of the stays they copy
(input stays in case-id order, then earlier copies), the copies of one stay together. A copy is the stay
with a new ``case_id``: ``<case_id>~v<k>`` for volume, ``<case_id>~r<k>`` for remote stays, ``k``
counting the copies of one case id in one step from 1 (a copy of a copy reads ``C1~v1~r1``). When
an input id already has that form (the input is itself a draw), ``k`` skips past it, so ids stay
unique (a categorical ``case_id`` gains the new ids as categories).
Columns derived from the group (points, weights) are not recomputed: perturb grouped stays, then
compute their points.

Drawing: a step lists the stays it draws from per hospital, once per input (:mod:`drgdip.simulate._kernels`):
the candidate input stays in case-id order, less those an earlier step removed, then the copies an
earlier step made of candidates, in the order they were made. It takes one uniform number from the
Generator per stay it picks: without replacement by Floyd's algorithm, with replacement one position
per copy. So a draw costs work in proportion to the stays it changes, not to the province, and
:func:`perturbed_rows` gives it without making the frame.

Determinism: the same stays and the same Generator state give the same result. Stays are drawn in
the order of their case ids, not their rows (copies after the input stays, in the order they were
made), so shuffling the input rows shuffles only the part of the result made of input stays: which
stays are removed, copied or upshifted, the copies and their ids are the same (unless two stays
share a case id). A step whose counts are all zero draws nothing from the Generator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from drgdip.core.errors import UsageError
from drgdip.core.frames import frame_of
from drgdip.grouper.dip_directory import SEVERITIES, DipDirectory
from drgdip.pointvalue.coefs import POOLS, pool_codes
from drgdip.simulate._kernels import cell_lists, spread_order, step_members, step_picks

__all__ = ["REMOTE_TAG", "VOLUME_TAG", "change_remote", "change_volume", "perturb", "perturb_with_sources",
           "perturbed_rows", "rewritten_stays", "upshift_candidates", "DrawnRows", "Perturbed", "upshift_coding"]

VOLUME_TAG = "~v"   # case id of a volume copy: <case_id>~v<k>
REMOTE_TAG = "~r"   # case id of a remote copy: <case_id>~r<k>
FILE = "<DataFrame>"
REMOTE_IN_PROVINCE = POOLS.index("remote_in_province")
# DRG codes end in the split (RULES.md §6): 1 with MCC, 3 with CC, 5 without CC/MCC, 9 no split
WITHOUT_CC, UPSHIFT_DIGITS = "5", ("3", "1")

Shares = pd.Series | Mapping | float | int | None


VOLUME, REMOTE = 0, 1           # the steps that copy and remove stays
TAGS = (VOLUME_TAG, REMOTE_TAG)


@dataclass(frozen=True)
class _Draw:
    """What the steps of a draw did so far to its input rows: the rows removed, the copies made, and
    the stays rewritten (an upshift), each a member of the draw as an input row or a copy number.

    ``lookups`` holds what is worked out of the input rows alone (hospital codes, case-id order, the
    candidate lists of each step), shared by the draws of one input when the caller keeps it
    (:func:`perturbed_rows`).
    """

    frame: pd.DataFrame
    lookups: dict = field(default_factory=dict)
    removed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))     # input rows, any order
    removed_step: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    copy_row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))    # input row of each copy
    copy_from: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))   # copy it copies, -1 none
    copy_step: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    copy_alive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    rewritten_row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    rewritten_copy: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    changes: dict = field(default_factory=dict)   # column -> new value of each rewritten stay

    def hospitals(self) -> tuple[np.ndarray, np.ndarray]:
        """Hospital code of each input row (in sorted hospital order) and the hospital ids."""
        return self.lookup("hospitals", lambda: _hospitals(self.frame))

    def ids_and_order(self) -> tuple[pa.Array, np.ndarray]:
        """The input's case ids, and its rows in case-id order (sorted once per input)."""
        return self.lookup("order", lambda: _ids_and_order(self.frame))

    def lists(self, key, candidate, cell: np.ndarray, n_cells: int) -> tuple:
        """The candidate lists of a step (:func:`~drgdip.simulate._kernels.cell_lists`), once per
        input; ``candidate`` is called only the first time."""
        def lists():
            return cell_lists(candidate(), cell.astype(np.int32), self.ids_and_order()[1], n_cells)

        return self.lookup(("lists",) + key, lists)

    def lookup(self, key, compute):
        """``compute()`` of the input rows, once per lookups."""
        if key not in self.lookups:
            self.lookups[key] = compute()
        return self.lookups[key]

    def picked(self, lists: tuple, wanted_of, rng) -> tuple | None:
        """Members of each cell of a step, drawn with ``rng``: ``wanted_of(size)`` of each cell's ``size``
        members (input rows, then copies); None when no cell wants any (nothing is drawn)."""
        ptr, items, place, member_cell = lists
        hole_ptr, holes, copy_ptr, copies, size = step_members(ptr, place, member_cell, self.removed, self.copy_row,
                                                              self.copy_alive)
        wanted = wanted_of(size)
        if not wanted.any():
            return None
        return step_picks(ptr, items, hole_ptr, holes, copy_ptr, copies, self.copy_row, size, wanted,
                          rng.random(int(wanted.sum())))

    def with_step(self, step: int, rows: np.ndarray, copies: np.ndarray, adds: np.ndarray) -> _Draw:
        """The draw after ``step`` removed the members ``~adds`` and copied the members ``adds``."""
        gone = ~adds
        alive = self.copy_alive.copy()
        alive[copies[gone & (copies >= 0)]] = False
        taken = rows[gone & (copies < 0)]
        n_new = int(np.count_nonzero(adds))
        return replace(self, removed=np.concatenate([self.removed, taken]),
                       removed_step=np.concatenate([self.removed_step, np.full(len(taken), step, dtype=np.int8)]),
                       copy_row=np.concatenate([self.copy_row, rows[adds]]),
                       copy_from=np.concatenate([self.copy_from, copies[adds]]),
                       copy_step=np.concatenate([self.copy_step, np.full(n_new, step, dtype=np.int8)]),
                       copy_alive=np.concatenate([alive, np.ones(n_new, dtype=bool)]))


# ---------------------------------------------------------------- public functions


def perturb(cases: pd.DataFrame, *, rng: np.random.Generator, volume_growth: Shares = None,
            coding_upshift: Shares = None, remote_share: Shares = None, drg_codes=None,
            dip: DipDirectory | None = None, year: int | None = None, remote_by: str = "hospital_id",
            province_prefix_len: int = 2) -> pd.DataFrame:
    """One Monte Carlo draw of a province's stays: volume, then remote stays, then coding upshift.

    Parameters
    ----------
    cases : grouped stays (``case_id``, ``hospital_id``; ``region`` / ``insured_region`` for remote
        stays; ``drg`` and ``status``, or the DIP columns, for the upshift)
    rng : the Generator every random choice is drawn from
    volume_growth, remote_share, coding_upshift : per hospital (Series or mapping by hospital id; a
        number for all); None or 0 leaves the stays as they are
    drg_codes : the scheme's DRG codes, or the loaded scheme (:func:`drgdip.grouper.load_scheme`);
        default: the categories of a categorical ``drg`` column (the grouper lists the whole scheme
        there), else the codes the stays have
    dip : the DIP directory, when the policy settles by DIP: DIP stays are then upshifted to the next
        auxiliary severity subtype instead of the CC / MCC DRG (see :func:`upshift_coding`)
    year : perturb only the stays of this ``year``; the others pass through unchanged
    remote_by : the column ``remote_share`` is indexed by (``hospital_id``, or e.g. ``region``)
    province_prefix_len : digits of a region code that name its province

    Returns
    -------
    DataFrame with the input's columns and dtypes (see the module docstring for rows and ids).
    """
    return perturb_with_sources(cases, rng=rng, volume_growth=volume_growth, coding_upshift=coding_upshift,
                                remote_share=remote_share, drg_codes=drg_codes, dip=dip, year=year,
                                remote_by=remote_by, province_prefix_len=province_prefix_len).cases


@dataclass(frozen=True)
class Perturbed:
    """A draw's stays, with the input row each comes from and whether a step rewrote it (an
    upshifted stay); the others equal their input row but for the case id of a copy."""

    cases: pd.DataFrame
    source: np.ndarray    # int64[n] input row of each stay
    changed: np.ndarray   # bool[n]


def perturb_with_sources(cases: pd.DataFrame, *, rng: np.random.Generator, volume_growth: Shares = None,
                         coding_upshift: Shares = None, remote_share: Shares = None, drg_codes=None,
                         dip: DipDirectory | None = None, year: int | None = None, remote_by: str = "hospital_id",
                         province_prefix_len: int = 2) -> Perturbed:
    """:func:`perturb` (same parameters, same stays), with the input row each stay comes from."""
    draw = _perturbed(_Draw(frame=_checked(cases, rng)), rng, volume_growth, coding_upshift, remote_share, drg_codes,
                      dip, year, remote_by, province_prefix_len)
    rows = _rows_of(draw)
    source = rows.source
    changed = np.zeros(len(source), dtype=bool)
    changed[rows.rewritten] = True
    return Perturbed(cases=_assemble(draw, rows), source=source, changed=changed)


@dataclass(frozen=True)
class DrawnRows:
    """A draw as what it changes in its input rows, without the frame: the rows it removes, the row
    each copy comes from, and the stays an upshift rewrote. Its stays (those of
    :func:`perturb_with_sources`) are the input rows kept, in input order, then the copies."""

    n_input: int
    removed: np.ndarray          # int64 input rows taken away, ascending
    copied: np.ndarray           # int64 input row of each copy, in the draw's order
    rewritten: np.ndarray        # int64 positions in the draw of the stays a step rewrote, ascending
    rewritten_rows: np.ndarray   # int64 their input rows
    changes: dict                # column -> (positions, new values)

    @property
    def source(self) -> np.ndarray:
        """The input row of each stay of the draw."""
        kept = np.ones(self.n_input, dtype=bool)
        kept[self.removed] = False
        return np.concatenate([np.flatnonzero(kept), self.copied])


def perturbed_rows(cases: pd.DataFrame, *, rng: np.random.Generator, lookups: dict | None = None,
                   volume_growth: Shares = None, coding_upshift: Shares = None, remote_share: Shares = None,
                   drg_codes=None, dip: DipDirectory | None = None, year: int | None = None,
                   remote_by: str = "hospital_id", province_prefix_len: int = 2) -> DrawnRows:
    """The draw of :func:`perturb_with_sources` (same parameters, same draw) as what it changes in the
    input rows, without making the frame or the copies' case ids: what settling a draw from its
    input's sums needs, in work proportional to the stays it changes. ``lookups``: a dict the caller
    keeps for the draws of one ``cases``, holding what is worked out of its rows alone (hospital codes,
    case-id order, the candidate lists of each step) after the first draw."""
    draw = _perturbed(_Draw(frame=_checked(cases, rng), lookups=lookups if lookups is not None else {}), rng,
                      volume_growth, coding_upshift, remote_share, drg_codes, dip, year, remote_by,
                      province_prefix_len)
    return _rows_of(draw)


def rewritten_stays(cases: pd.DataFrame, rows: DrawnRows) -> tuple[np.ndarray, pd.DataFrame]:
    """The stays of a draw that a step rewrote: their positions in the draw, and those stays as the
    frame of :func:`perturb` has them (a fresh RangeIndex), made of their input rows alone."""
    return rows.rewritten, _rewritten_frame(cases, rows.rewritten_rows,
                                            {column: values for column, (_, values) in rows.changes.items()})


def upshift_candidates(cases: pd.DataFrame, *, lookups: dict, drg_codes=None, dip: DipDirectory | None = None,
                       year: int | None = None) -> tuple:
    """Every stay a coding upshift of ``cases`` may rewrite (those :func:`perturbed_rows` draws from,
    sharing its ``lookups``): a key naming them, their input rows (ascending), and a function giving
    them as an upshift rewrites them (a frame as :func:`rewritten_stays` makes)."""
    key = _upshift_key(dip, drg_codes, year)
    draw = _Draw(frame=cases, lookups=lookups)
    upshift, eligible = draw.lookup(key, lambda: _upshift_of(cases, dip, drg_codes, year))
    rows = draw.lookup(key + ("rows",), lambda: np.flatnonzero(eligible))

    def stays() -> pd.DataFrame:
        target = upshift.target[rows]
        return _rewritten_frame(cases, rows, {column: values[target] for column, values in upshift.columns.items()})

    return key, rows, stays


def _rewritten_frame(cases: pd.DataFrame, rows: np.ndarray, columns: dict) -> pd.DataFrame:
    """The stays of the input ``rows`` (a fresh RangeIndex) with the new values of ``columns``."""
    frame = cases.iloc[rows].reset_index(drop=True)
    everywhere = np.arange(len(rows))
    for column, values in columns.items():
        frame[column] = _typed(_replaced(frame[column].array, everywhere, values), frame[column].dtype)
    return frame


def _perturbed(draw: _Draw, rng, volume_growth, coding_upshift, remote_share, drg_codes, dip, year, remote_by,
               province_prefix_len) -> _Draw:
    draw = _volume_step(draw, volume_growth, rng, year)
    draw = _remote_step(draw, remote_share, rng, year, remote_by, province_prefix_len)
    return _upshift_step(draw, coding_upshift, rng, year, drg_codes, dip)


def _rows_of(draw: _Draw) -> DrawnRows:
    """What ``draw`` changes in its input rows (:class:`DrawnRows`)."""
    n = len(draw.frame)
    removed = np.sort(draw.removed)
    alive = np.flatnonzero(draw.copy_alive)
    copy_position = np.full(len(draw.copy_row), -1, dtype=np.int64)
    copy_position[alive] = n - len(removed) + np.arange(len(alive))
    position = draw.rewritten_row - np.searchsorted(removed, draw.rewritten_row)   # kept rows keep their order
    is_copy = draw.rewritten_copy >= 0
    position[is_copy] = copy_position[draw.rewritten_copy[is_copy]]
    order = spread_order(position, n - len(removed) + len(alive))
    positions = position[order]
    return DrawnRows(n_input=n, removed=removed, copied=draw.copy_row[alive], rewritten=positions,
                     rewritten_rows=draw.rewritten_row[order],
                     changes={column: (positions, values[order]) for column, values in draw.changes.items()})


def change_volume(cases: pd.DataFrame, growth: Shares, *, rng: np.random.Generator,
                  year: int | None = None) -> pd.DataFrame:
    """Add ``round(g × n)`` copies of each hospital's ``n`` stays (``g > 0``) or remove ``round(|g| × n)``.

    Copies are drawn without replacement, with replacement when ``round(g × n) > n``, and get the ids
    ``<case_id>~v<k>``; removals never take more than ``n``.
    """
    return perturb(cases, rng=rng, volume_growth=growth, year=year)


def change_remote(cases: pd.DataFrame, share: Shares, *, rng: np.random.Generator, by: str = "hospital_id",
                  province_prefix_len: int = 2, year: int | None = None) -> pd.DataFrame:
    """Add or remove in-province remote stays (省内异地): :func:`change_volume` among remote stays only.

    ``share`` is indexed by the values of ``by``: per hospital by default, or e.g. per treatment
    ``region``; the stays are counted per hospital and value of ``by``. Copies get ``<case_id>~r<k>``.
    """
    return perturb(cases, rng=rng, remote_share=share, remote_by=by, province_prefix_len=province_prefix_len,
                   year=year)


def upshift_coding(cases: pd.DataFrame, share: Shares, *, rng: np.random.Generator, drg_codes=None,
                   dip: DipDirectory | None = None, year: int | None = None) -> pd.DataFrame:
    """Code a share ``s`` of each hospital's stays one severity higher (高套编码).

    DRG: the ``m`` stays grouped ``ok`` into a DRG without CC/MCC (code ending in 5) whose ADRG has a
    CC DRG (ending in 3) or an MCC DRG (ending in 1) among ``drg_codes``; ``round(s × m)`` of them move
    to the CC DRG, to the MCC DRG when the ADRG has no CC DRG: the smallest step up, as a secondary
    diagnosis coded one level higher would give. Only ``drg`` changes; ``adrg``, ``mdc`` and
    ``status`` stay right as they are, the ADRG being the same.

    DIP (``dip`` given): the severity order is the directory's (``SEVERITIES``: moderate < severe,
    subtypes listed per group in ``aux.csv``). The ``m`` stays without auxiliary typing (no
    ``dip_subtype``; without that column, ``dip_aux_coef`` 1) in a group with a severity subtype, and
    long enough to be typed by severity (``los >= severity_min_los``), move to the group's lowest
    severity subtype: ``dip_subtype``, ``dip_aux_coef`` and ``aux_coef`` (those present) change. A
    directory without severity subtypes has nowhere to move a stay: a :class:`UsageError` says so.
    """
    return perturb(cases, rng=rng, coding_upshift=share, drg_codes=drg_codes, dip=dip, year=year)


# ---------------------------------------------------------------- steps


def _volume_step(draw: _Draw, growth: Shares, rng, year) -> _Draw:
    if _is_zero(growth):
        return draw
    hospital, labels = draw.hospitals()
    share = _per_label(growth, labels, "volume_growth")
    lists = draw.lists(("volume", year), lambda: _in_year(draw.frame, year), hospital, len(labels))
    return _resample(draw, lists, share, rng, VOLUME)


def _remote_step(draw: _Draw, share: Shares, rng, year, by: str, province_prefix_len: int) -> _Draw:
    if _is_zero(share):
        return draw
    frame = draw.frame
    for column in ("region", "insured_region", by):
        _require(frame, column, "in-province remote stays")
    hospital, hospital_labels = draw.hospitals()

    def candidate():
        return (pool_codes(frame["region"], frame["insured_region"], province_prefix_len) == REMOTE_IN_PROVINCE) \
            & _in_year(frame, year)

    if by == "hospital_id":
        lists = draw.lists(("remote", province_prefix_len, year), candidate, hospital, len(hospital_labels))
        return _resample(draw, lists, _per_label(share, hospital_labels, "remote_share"), rng, REMOTE)
    by_codes, by_labels = draw.lookup(("codes", by), lambda: _codes(frame[by]))

    def cells():   # (hospital, value of by) of the candidates
        is_candidate = candidate()
        width = len(by_labels) + 1     # last: stays without a value
        key = hospital * width + np.where(by_codes >= 0, by_codes, width - 1)
        keys, inverse = np.unique(key[is_candidate], return_inverse=True)
        cell = np.zeros(len(frame), dtype=np.int64)
        cell[is_candidate] = inverse.ravel()
        return is_candidate, cell, keys % width

    is_candidate, cell, cell_value = draw.lookup(("remote cells", province_prefix_len, year, by), cells)
    lists = draw.lists(("remote", province_prefix_len, year, by), lambda: is_candidate, cell, len(cell_value))
    by_share = np.append(_per_label(share, by_labels, "remote_share"), 0.0)
    return _resample(draw, lists, by_share[cell_value], rng, REMOTE)


def _upshift_step(draw: _Draw, share: Shares, rng, year, drg_codes, dip) -> _Draw:
    if _is_zero(share):
        return draw
    frame = draw.frame
    hospital, labels = draw.hospitals()
    per_hospital = _per_label(share, labels, "coding_upshift")
    outside = (per_hospital < 0) | (per_hospital > 1)
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise UsageError(f"coding_upshift of hospital {labels[first]} is {per_hospital[first]}: a share must lie "
                         "in [0, 1]", field="coding_upshift")
    if not per_hospital.any():
        return draw
    key = _upshift_key(dip, drg_codes, year)
    upshift, eligible = draw.lookup(key, lambda: _upshift_of(frame, dip, drg_codes, year))
    lists = draw.lists(key, lambda: eligible, hospital, len(labels))
    picked = draw.picked(lists, lambda size: np.rint(per_hospital * size).astype(np.int64), rng)
    if picked is None:
        return draw
    rows, copies, _ = picked
    target = upshift.target[rows]
    return replace(draw, rewritten_row=rows, rewritten_copy=copies,
                   changes={column: values[target] for column, values in upshift.columns.items()})


def _upshift_key(dip, drg_codes, year) -> tuple:
    """What names who an upshift may move and where (the lookups of an input keep them under it)."""
    if dip is not None:
        return "upshift", id(dip), year
    return "upshift", (frozenset(map(str, drg_codes)) if drg_codes is not None and not hasattr(drg_codes, "drg_codes")
                       else id(drg_codes)), year


def _upshift_of(frame: pd.DataFrame, dip, drg_codes, year) -> tuple:
    upshift = _dip_upshift(frame, dip) if dip is not None else _drg_upshift(frame, drg_codes)
    return upshift, upshift.eligible & _in_year(frame, year)


@dataclass(frozen=True)
class _Upshift:
    """Who can be upshifted and to what: ``eligible`` and ``target`` (an index into each array of
    ``columns``, the new value of that column) per input row."""

    eligible: np.ndarray
    target: np.ndarray
    columns: dict


def _drg_upshift(frame: pd.DataFrame, drg_codes) -> _Upshift:
    """Stays in a DRG without CC/MCC whose ADRG has a CC (else MCC) DRG, and that DRG."""
    _require(frame, "drg", "a coding upshift (or give the DIP directory when the policy is DIP)")
    codes, labels = _codes(frame["drg"])
    if drg_codes is None:
        drg = frame["drg"]
        drg_codes = drg.cat.categories if isinstance(drg.dtype, pd.CategoricalDtype) else labels
    elif hasattr(drg_codes, "drg_codes"):      # a loaded scheme
        drg_codes = drg_codes.drg_codes
    known = {str(code) for code in drg_codes}
    targets = [_cc_drg(str(label), known) for label in labels]
    has_target = np.asarray([t is not None for t in targets] + [False])    # last: a stay without a DRG
    eligible = has_target[codes] & _grouped_ok(frame)
    values = np.asarray([t or "" for t in targets] + [""], dtype=object)
    return _Upshift(eligible=eligible, target=np.where(codes >= 0, codes, len(labels)), columns={"drg": values})


def _cc_drg(code: str, known: set) -> str | None:
    """The CC DRG of a DRG without CC/MCC (its ADRG + 3), else the MCC DRG (+ 1), if the scheme has it."""
    if len(code) < 2 or code[-1] != WITHOUT_CC:
        return None
    return next((code[:-1] + digit for digit in UPSHIFT_DIGITS if code[:-1] + digit in known), None)


def _grouped_ok(frame: pd.DataFrame) -> np.ndarray:
    """Stays the grouper placed (``status`` ok; every stay when there is no status column)."""
    if "status" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    codes, labels = _codes(frame["status"])
    return np.append(labels == "ok", False)[codes]


def _dip_upshift(frame: pd.DataFrame, dip: DipDirectory) -> _Upshift:
    """DIP stays without auxiliary typing, long enough for a severity subtype, and the group's lowest one."""
    aux = dip.aux
    severity = aux[aux["subtype"].isin(SEVERITIES)].copy()
    if severity.empty:
        raise UsageError(f"the DIP directory {dip.name!r} types no group by severity (aux.csv has no "
                         f"{' or '.join(SEVERITIES)} subtype): a coding upshift has no severity subtype to move "
                         "DIP stays to; give coding_upshift 0 or a directory with severity subtypes")
    _require(frame, "dip_group", "a DIP coding upshift (group the stays with the DIP directory first)")
    typing_columns = [c for c in ("dip_subtype", "dip_aux_coef", "aux_coef") if c in frame.columns]
    if not {"dip_aux_coef", "aux_coef"} & set(typing_columns):
        raise UsageError("a DIP coding upshift changes the auxiliary coefficient, and the stays have neither "
                         "dip_aux_coef nor aux_coef: group them with the DIP directory first", field="dip_aux_coef")
    severity["rank"] = severity["subtype"].map({s: i for i, s in enumerate(SEVERITIES)})
    lowest = severity.sort_values(["dip_group", "rank"], kind="stable").drop_duplicates("dip_group")
    codes, labels = _codes(frame["dip_group"])
    position = pd.Index(lowest["dip_group"].astype(str)).get_indexer(labels)
    has_target = np.append(position >= 0, False)
    target = np.where(codes >= 0, codes, len(labels))
    eligible = has_target[target] & _untyped(frame) & _long_enough(frame, dip.severity_min_los)
    subtype = np.append(np.where(position >= 0, lowest["subtype"].to_numpy(dtype=object)[position], ""), "")
    coef = np.append(np.where(position >= 0, lowest["aux_coef"].to_numpy(dtype=np.float64)[position], 1.0), 1.0)
    columns = {"dip_subtype": subtype, "dip_aux_coef": coef, "aux_coef": coef}
    return _Upshift(eligible=eligible, target=target, columns={c: columns[c] for c in typing_columns})


def _untyped(frame: pd.DataFrame) -> np.ndarray:
    """Stays without auxiliary typing: no ``dip_subtype``; without that column, an auxiliary coefficient 1."""
    if "dip_subtype" in frame.columns:
        codes, labels = _codes(frame["dip_subtype"])
        return np.append(labels == "", True)[codes]
    column = "dip_aux_coef" if "dip_aux_coef" in frame.columns else "aux_coef"
    coef = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.isnan(coef) | (coef == 1.0)


def _long_enough(frame: pd.DataFrame, min_los: int) -> np.ndarray:
    """Stays long enough for a severity subtype (every stay when there is no ``los`` column)."""
    if "los" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    los = pd.to_numeric(frame["los"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return los >= min_los


# ---------------------------------------------------------------- drawing stays


def _resample(draw: _Draw, lists: tuple, share: np.ndarray, rng, step: int) -> _Draw:
    """Copy ``round(share × n)`` of each cell's ``n`` members (share > 0; with replacement when that is
    more than ``n``) or remove ``round(|share| × n)`` of them (share < 0, at most ``n``)."""
    def wanted_of(size):
        wanted = np.rint(np.abs(share) * size).astype(np.int64)
        return np.where(share < 0, np.minimum(wanted, size), wanted)

    picked = draw.picked(lists, wanted_of, rng)
    if picked is None:
        return draw
    rows, copies, cells = picked
    adds = share[cells] > 0
    _check_copied_ids(draw, rows[adds], TAGS[step])
    return draw.with_step(step, rows, copies, adds)


def _check_copied_ids(draw: _Draw, copy_rows: np.ndarray, tag: str) -> None:
    """Copies of stays whose case ids are not text, or that have none, cannot be named."""
    if not len(copy_rows):
        return
    ids = draw.ids_and_order()[0]
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        raise UsageError(f"case_id is {draw.frame['case_id'].dtype}: copies of stays need text ids "
                         f"(<case_id>{tag}<k>)", field="case_id")
    if ids.null_count and draw.lookup("no_id", lambda: ids.is_null().to_numpy(zero_copy_only=False))[copy_rows].any():
        raise UsageError("a stay to copy has no case_id", field="case_id")


def _copy_ids_of(draw: _Draw) -> pa.Array:
    """The case ids of the draw's copies, in the draw's order: ``<case_id><tag><k>``, a copy of a copy
    named after that copy."""
    ids = draw.ids_and_order()[0]
    volume = np.flatnonzero(draw.copy_step == VOLUME)
    made = _copy_ids(ids, ids.take(pa.array(draw.copy_row[volume])), VOLUME_TAG)
    remote = np.flatnonzero(draw.copy_step == REMOTE)
    if len(remote):
        before = pa.concat_arrays([ids, made])   # the ids of the draw before the remote step, and more
        of_copy = np.full(len(draw.copy_row), -1, dtype=np.int64)
        of_copy[volume] = len(ids) + np.arange(len(volume))
        made_from = draw.copy_from[remote]
        original = np.where(made_from >= 0, of_copy[np.maximum(made_from, 0)], draw.copy_row[remote])
        made = pa.concat_arrays([made, _copy_ids(before, before.take(pa.array(original)), REMOTE_TAG)])
    return made.filter(pa.array(draw.copy_alive))


def _copy_ids(ids: pa.Array, original: pa.Array, tag: str) -> pa.Array:
    """``<id><tag><k>`` for each id of ``original``, ``k`` counting the copies of one id from 1 and
    skipping past the ids of ``ids`` that have that form (a draw of a draw)."""
    if not len(original):
        return original
    n = len(original)
    same_id = pc.dictionary_encode(original).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    by_id = np.argsort(same_id, kind="stable")
    first = np.r_[True, same_id[by_id][1:] != same_id[by_id][:-1]]
    count = np.empty(n, dtype=np.int64)
    count[by_id] = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0)) + 1
    taken = ids.filter(pc.match_substring(ids, tag, ignore_case=False))
    offset = np.zeros(n, dtype=np.int64)
    while True:
        suffix = pa.array(count + offset).cast(ids.type)
        new = pc.binary_join_element_wise(original, suffix, pa.scalar(tag, ids.type))
        if not len(taken):
            return new
        clash = pc.is_in(new, value_set=taken).to_numpy(zero_copy_only=False)
        if not clash.any():
            return new
        offset[np.isin(same_id, same_id[clash])] += int(count.max())


# ---------------------------------------------------------------- the result frame


def _assemble(draw: _Draw, rows: DrawnRows) -> pd.DataFrame:
    """The draw as a DataFrame with the input's columns and dtypes and a fresh RangeIndex."""
    frame, n = draw.frame, len(draw.frame)
    copy_rows = rows.copied
    if not len(rows.removed) and not len(copy_rows):
        result = frame.reset_index(drop=True)
        for column, (positions, values) in rows.changes.items():
            result[column] = _typed(_replaced(result[column].array, positions, values), result[column].dtype)
        return result
    kept = None
    if len(rows.removed):
        kept = np.ones(n, dtype=bool)
        kept[rows.removed] = False
    columns = {}
    for name in frame.columns:
        values, dtype = frame[name].array, frame[name].dtype
        if name == "case_id" and len(copy_rows):
            column = _concat(values if kept is None else values[kept], _ids_like(values, _copy_ids_of(draw)))
        else:
            column = _kept_and_copied(values, dtype, kept, copy_rows)
        if name in rows.changes:
            column = _replaced(column, *rows.changes[name])
        columns[name] = _typed(column, dtype)
    return frame_of(columns)


def _typed(column, dtype):
    """A column as pandas keeps it: object text stays object (a bare array of text would become str)."""
    return pd.Series(column, dtype=dtype, copy=False) if dtype == object else column


def _kept_and_copied(values, dtype, kept: np.ndarray | None, copy_rows: np.ndarray):
    """The values of the kept input rows (all when ``kept`` is None), then those of ``copy_rows``.

    Numpy and categorical columns are cut on their buffers; Arrow columns keep their chunks and gain
    one; other extension arrays go through pandas.
    """
    if isinstance(dtype, np.dtype):
        source = np.asarray(values)
        return np.concatenate([source if kept is None else source[kept], source[copy_rows]])
    if isinstance(values, pd.Categorical):
        codes = _kept_and_copied(values.codes, values.codes.dtype, kept, copy_rows)
        return pd.Categorical.from_codes(codes, dtype=values.dtype)
    if isinstance(values, pd.arrays.ArrowExtensionArray):
        copied = pd.array(pa.array(values).take(pa.array(copy_rows)), dtype=values.dtype)
        return _concat(values if kept is None else values[kept], copied)
    return _concat(values if kept is None else values[kept], values.take(copy_rows))


def _concat(first, second):
    """Two arrays of one column as one, categoricals on the union of their categories."""
    if isinstance(first, pd.Categorical) and first.dtype != second.dtype:
        categories = first.categories.append(second.categories.difference(first.categories, sort=False))
        first, second = first.set_categories(categories), second.set_categories(categories)
    return type(first)._concat_same_type([first, second])


def _ids_like(values, new: pa.Array):
    """New case ids as an array of the ``case_id`` column's dtype."""
    if isinstance(values, pd.Categorical):
        return pd.Categorical(new.to_pylist())
    if isinstance(values.dtype, pd.StringDtype):
        return pd.array(new, dtype=values.dtype)
    return pd.array(new.to_numpy(zero_copy_only=False), dtype=values.dtype)


def _replaced(column, positions: np.ndarray, values: np.ndarray):
    """``column`` with ``values`` at ``positions``; a categorical gains the categories it lacks."""
    if isinstance(column, pd.Categorical):
        categories = column.categories
        new = [value for value in pd.unique(values) if value not in categories]
        if new:
            categories = categories.append(pd.Index(new, dtype=categories.dtype))
        codes = column.codes.astype(np.int64, copy=True)
        codes[positions] = categories.get_indexer(values)
        return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories, ordered=column.ordered))
    column = column.copy()
    column[positions] = values
    return column


# ---------------------------------------------------------------- inputs


def _checked(cases: pd.DataFrame, rng) -> pd.DataFrame:
    """The stays, with the columns every perturbation needs (and a Generator to draw them with)."""
    if not isinstance(rng, np.random.Generator):
        raise UsageError(f"rng must be a numpy Generator (numpy.random.default_rng(seed)), got {type(rng).__name__}")
    if not isinstance(cases, pd.DataFrame):
        raise UsageError(f"cases must be a DataFrame, got {type(cases).__name__}")
    if cases.columns.has_duplicates:
        duplicated = cases.columns[cases.columns.duplicated()][0]
        raise UsageError("column given twice", file=FILE, field=str(duplicated))
    for column in ("case_id", "hospital_id"):
        _require(cases, column, "case-mix perturbations")
    return cases


def _require(frame: pd.DataFrame, column: str, purpose: str) -> None:
    if column not in frame.columns:
        raise UsageError(f"missing column '{column}', needed for {purpose}", file=FILE, field=column)


def _is_zero(shares: Shares) -> bool:
    """No perturbation asked for: None, 0, or nothing but zeros."""
    if shares is None:
        return True
    if isinstance(shares, pd.Series) and shares.dtype.kind in "fiu":
        return not shares.to_numpy().any()
    if isinstance(shares, (pd.Series, Mapping)):
        values = pd.Series(shares, dtype=object) if isinstance(shares, Mapping) else shares
        return len(values) == 0 or bool((values.astype(object) == 0).all())
    return shares == 0


def _case_ids(frame: pd.DataFrame) -> pa.Array:
    """The ``case_id`` column as one Arrow array (text ids as strings)."""
    values = frame["case_id"]
    try:
        ids = pa.array(values.array) if hasattr(values.array, "__arrow_array__") \
            else pa.array(values.to_numpy(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise UsageError(f"case ids of mixed types: {error}", file=FILE, field="case_id") from None
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if pa.types.is_dictionary(ids.type):
        ids = ids.cast(ids.type.value_type)
    return ids


def _ids_and_order(frame: pd.DataFrame) -> tuple[pa.Array, np.ndarray]:
    ids = _case_ids(frame)
    return ids, _id_order(ids)


def _id_order(ids: pa.Array) -> np.ndarray:
    """Positions of ``ids`` in ascending order (stable); stays already in case-id order need no sort."""
    if len(ids) > 1 and not ids.null_count \
            and pc.all(pc.less_equal(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py():
        return np.arange(len(ids), dtype=np.int64)
    return pc.sort_indices(ids).to_numpy().astype(np.int64)


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Code of each value (-1 when missing) and the distinct values as text in sorted order, so that
    every rule runs once per distinct value, not once per stay."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        labels = np.asarray([str(c) for c in values.cat.categories], dtype=object)
        order = np.argsort(labels, kind="stable")
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        codes = values.cat.codes.to_numpy().astype(np.int64)
        if not len(order):
            return codes, labels
        return np.where(codes >= 0, position[np.maximum(codes, 0)], -1), labels[order]
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    return codes.astype(np.int64), np.asarray([str(u) for u in uniques], dtype=object)


def _hospitals(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Hospital code of each stay (in sorted hospital order) and the hospital ids."""
    codes, labels = _codes(frame["hospital_id"])
    missing = codes < 0
    if missing.any():
        raise UsageError("stay without a hospital", file=FILE, row=int(np.flatnonzero(missing)[0]) + 1,
                         field="hospital_id")
    return codes, labels


def _per_label(shares: Shares, labels: np.ndarray, name: str) -> np.ndarray:
    """The share of each label (hospital id, region, ...): 0 where a Series or mapping has none."""
    if shares is None:
        return np.zeros(len(labels))
    if isinstance(shares, pd.Series) and shares.dtype.kind == "f" and len(shares) == len(labels) \
            and np.array_equal(shares.index.to_numpy(dtype=object), np.asarray(labels, dtype=object)):
        values = shares.to_numpy(dtype=np.float64, copy=True)   # a number for each label, in their order
        if np.isfinite(values).all():
            return values
    if isinstance(shares, (pd.Series, Mapping)):
        series = pd.Series(shares) if isinstance(shares, Mapping) else shares
        keys = pd.Index([str(key) for key in series.index], dtype=object)
        if keys.has_duplicates:
            raise UsageError(f"{name}: {keys[keys.duplicated()][0]!r} is given twice", field=name)
        values = pd.to_numeric(pd.Series(series.to_numpy(), index=keys), errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan))
        if bad.any():
            key = keys[np.flatnonzero(bad)[0]]
            raise UsageError(f"{name} of {key!r} is {series.iloc[np.flatnonzero(bad)[0]]!r}: expected a finite number",
                             field=name)
        return values.reindex(pd.Index(labels, dtype=object), fill_value=0.0).to_numpy(dtype=np.float64)
    try:
        value = float(shares)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a number or a Series by hospital id, got {shares!r}", field=name) from None
    if not np.isfinite(value):
        raise UsageError(f"{name} is {value}: expected a finite number", field=name)
    return np.full(len(labels), value)


def _in_year(frame: pd.DataFrame, year: int | None) -> np.ndarray:
    """The stays a perturbation may touch: every stay, or those of ``year``."""
    if year is None:
        return np.ones(len(frame), dtype=bool)
    _require(frame, "year", f"perturbing the stays of {year} only")
    years = pd.to_numeric(frame["year"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return years == year
