"""Settlement input: the settlement year's stays, their pooling areas and pools, and the history.

:func:`read_input` validates the tables once and hands every settlement phase the same
:class:`SettlementInput`: the stays as flat arrays (:class:`~drgdip.budget.frame.CaseArrays`), where
each is settled (:class:`~drgdip.budget.pools.Layout`), the per-stay arrays the kernels read
(:class:`~drgdip.budget._kernels.StayArrays`) and the earlier years mapped onto the settlement year.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from drgdip.budget._kernels import StayArrays
from drgdip.budget.frame import CaseArrays, case_arrays, points_again, stay_years
from drgdip.budget.policy import Policy
from drgdip.budget.pools import History, Layout, build_layout, map_history
from drgdip.core.errors import UsageError

__all__ = ["SettlementInput", "read_input", "input_key", "layout_key", "stay_arrays", "of_the_history"]

NOT_GIVEN = np.zeros(0, dtype=np.float64)   # an optional per-stay array the input does not have


@dataclass(frozen=True)
class SettlementInput:
    """What every settlement phase reads: the year's stays, their layout and the history."""

    arrays: CaseArrays
    case_id: pd.Series                   # the stays' case ids: the order in which tied stays get a last fen
    layout: Layout
    stays: StayArrays                    # the per-stay arrays of ``arrays`` and ``layout`` for the kernels
    history: History | None
    hospital_table: pd.DataFrame | None  # the hospitals table indexed by hospital_id as text
    year: int | None                     # settlement year
    before_layout: CaseArrays | None = field(default=None, repr=False, compare=False)   # ``arrays`` as read
    history_key: object = field(default=None, repr=False, compare=False)   # what the history was made of
    # what later phases derive from the input alone and a part of the policy, kept for the next policy
    # that settles the same input (:func:`drgdip.budget.settle.settle_cases` with ``year_input``);
    # None: kept by nobody, so nothing is remembered
    derived: dict | None = field(default=None, repr=False, compare=False)
    # where the year's and the history's points come from (PointsOrigin of drgdip.budget.repriced_points)
    origins: tuple = field(default=(None, None), repr=False, compare=False)

    def remembered(self, key, compute):
        """``compute()``, remembered under ``key`` when this input is kept for other policies."""
        if self.derived is None:
            return compute()
        if key not in self.derived:
            self.derived[key] = compute()
        return self.derived[key]

    @property
    def n_hospitals(self) -> int:
        return len(self.arrays.hospital_labels)

    @property
    def n_regions(self) -> int:
        return len(self.arrays.region_labels)


# what phases derive from the layout and the stays' funds and months alone, and from the history's
# funds alone: an input laid out like another (``read_input``'s ``like``) takes them from it
LAYOUT_ONLY = ("pool_remote_fund", "without_months", "hospital_rows", "left_out_counts", "price_cells", "cell_rows")
# and what they derive from the layout and the stays' outlier classes: taken when those are the very same
CLASSES_ONLY = ("outlier_counts",)
HISTORY_FUNDS_ONLY = ("last_year_funds", "last_fund_by_row", "history_yuan", "history_value_sums")

INPUT_SECTIONS = ("points", "point_value", "pooling", "regions", "remote_pool", "year")


def input_key(policy: Policy):
    """What :func:`read_input` reads of a policy: two policies with the same key lay the same stays
    out alike (None when the sections cannot be compared)."""
    key = tuple(getattr(policy, name) for name in INPUT_SECTIONS) + (policy.settlement.rounding,)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def layout_key(policy: Policy):
    """What the layout of the stays (areas, pools, the history's mapping onto them) reads of a
    policy besides the stays' statuses (None when the sections cannot be compared)."""
    key = (policy.pooling, policy.regions, policy.remote_pool, policy.point_value,
           policy.points.remote.province_prefix_len, policy.settlement.rounding, policy.year)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def read_input(cases: pd.DataFrame, policy: Policy, *, hospitals: pd.DataFrame | None,
               history: pd.DataFrame | None, file: str, year: int | None, keep: bool = False,
               like: SettlementInput | None = None, history_like: SettlementInput | None = None,
               history_key=None, origins: tuple = (None, None)) -> SettlementInput:
    """Validate the settlement year's stays and the history and lay them out in areas and pools.

    ``keep``: the input will settle other policies too, so the phases remember what they derive
    from it alone (:meth:`SettlementInput.remembered`). ``like``: the input of the same stays and
    history under a policy with the same :func:`layout_key` and other points; what does not depend
    on the points is taken from it, and its layout too where every stay keeps its status.
    ``history_like``: the input of other stays of the same year with the same history (made of the
    same ``history_key``) under the same policy; its history is taken as it stands when the year's
    stays come out in the same areas, pools and hospitals.
    """
    hospital_region, hospital_table = _hospital_lookup(hospitals)
    rounding = policy.settlement.rounding
    read = _points_again(like.before_layout if like is not None else None, cases, origins[0],
                         like.origins[0] if like is not None else None, file, rounding)
    if read is None:
        read = case_arrays(cases, hospital_region=hospital_region, file=file, rounding=rounding,
                           like=like.before_layout if like is not None else None)
    if like is not None and _same_statuses(read, like.before_layout):
        arrays, layout = replace(read, status=like.arrays.status, status_labels=like.arrays.status_labels), \
            like.layout
    else:
        arrays, layout = build_layout(read, policy)
    mapped, history_origin = None, origins[1]
    if history is not None and len(history) and history_like is not None and history_like.history is not None \
            and _same_places(arrays, layout, history_like):
        mapped, history_origin = history_like.history, None
    elif history is not None and len(history):
        known = like.history if like is not None and like.layout is layout else None
        earlier = _points_again(known.stays if known is not None else None, history, history_origin,
                                like.origins[1] if known is not None else None, "<history>", rounding)
        if earlier is None:
            earlier = case_arrays(history, hospital_region=hospital_region, file="<history>", rounding=rounding,
                                  like=known.stays if known is not None else None)
        if known is not None and _same_statuses(earlier, known.stays):
            mapped = replace(known, stays=earlier)
        else:
            mapped = map_history(earlier, stay_years(history, "<history>", "history rows"), arrays, layout, policy)
    stays = stay_arrays(arrays, layout)
    derived = None
    if keep:
        derived = {}
        if history_like is not None and history_like.derived and mapped is history_like.history:
            derived = of_the_history(history_like.derived)
        if like is not None and like.derived and layout is like.layout:
            kept = LAYOUT_ONLY + (HISTORY_FUNDS_ONLY if mapped is not None and like.history is not None
                                  and mapped.area is like.history.area else ()) \
                + (CLASSES_ONLY if arrays.outlier_class is like.arrays.outlier_class else ())
            derived = {key: value for key, value in like.derived.items() if key[0] in kept}
    return SettlementInput(arrays=arrays, case_id=cases["case_id"], layout=layout, stays=stays, history=mapped,
                           hospital_table=hospital_table, year=year if year is not None else policy.year,
                           before_layout=read if keep else None, history_key=history_key, derived=derived,
                           origins=(origins[0], history_origin))


def stay_arrays(arrays: CaseArrays, layout: Layout) -> StayArrays:
    """The per-stay arrays the settlement kernels read."""
    return StayArrays(
        pool=layout.pool, area=layout.area, hospital=arrays.hospital, region=arrays.region, insured=arrays.insured,
        fixed=arrays.fixed, remote=layout.remote, month=arrays.month, cost_fen=arrays.cost_fen,
        fund_fen=arrays.fund_fen, fixed_fen=arrays.fixed_fen, points=arrays.points, base_points=arrays.base_points,
        hospital_level=arrays.hospital_level if arrays.hospital_level is not None else NOT_GIVEN,
        fund_part=arrays.fund_part_points if arrays.fund_part_points is not None else NOT_GIVEN)


def of_the_history(derived: dict) -> dict:
    """What an input derived from its history's funds alone, and its budget point values where the
    history alone gave them: the same for other stays of the year in the same places."""
    return {key: value for key, value in derived.items() if key[0] in HISTORY_FUNDS_ONLY
            or (key[0] == "budget_point_values" and not (value[1] == "current_year").any())}


def _points_again(stays: CaseArrays | None, frame: pd.DataFrame, origin, stays_origin, file: str,
                  rounding: str) -> CaseArrays | None:
    """``stays`` with ``frame``'s points when both come from the same run's points (see
    :class:`~drgdip.budget.repriced_points.PointsOrigin`), else None."""
    if stays is None or origin is None:
        return None
    changed = origin.differs_from(stays_origin)
    if changed is None:
        return None
    return points_again(stays, frame, changed, file=file, rounding=rounding)


def _same_places(arrays: CaseArrays, layout: Layout, other: SettlementInput) -> bool:
    """Whether the stays come out in the same hospitals, areas and pools as ``other``'s, numbered alike
    (what the history's mapping onto the settlement year reads)."""
    mine, theirs = layout, other.layout
    return (list(arrays.hospital_labels) == list(other.arrays.hospital_labels)
            and list(mine.area_labels) == list(theirs.area_labels)
            and list(mine.pool_labels) == list(theirs.pool_labels)
            and np.array_equal(mine.pool_area, theirs.pool_area)
            and list(mine.pool_insurance) == list(theirs.pool_insurance)
            and np.array_equal(mine.pool_remote, theirs.pool_remote))


def _same_statuses(arrays: CaseArrays, other: CaseArrays | None) -> bool:
    """Whether every stay has the same status in both (so that both lay out alike)."""
    return other is not None and list(arrays.status_labels) == list(other.status_labels) \
        and np.array_equal(arrays.status, other.status)


def _hospital_lookup(hospitals: pd.DataFrame | None) -> tuple[dict, pd.DataFrame | None]:
    """(hospital_id → region, the table indexed by hospital_id as text)."""
    if hospitals is None or len(hospitals) == 0:
        return {}, None
    if "hospital_id" not in hospitals.columns:
        raise UsageError("hospitals table: missing column 'hospital_id'", field="hospital_id")
    table = hospitals.copy()
    table.index = table["hospital_id"].astype(str).to_numpy()
    region = {}
    if "region" in table.columns:
        region = dict(zip(table.index, table["region"].astype("string").fillna("").to_numpy(dtype=object)))
    return region, table
