"""Settle a province end to end (§1): read and check → day care → group what needs it → weights →
points → settlement.

:func:`settle_province` reads a province (directory, files or DataFrames) once, code columns as
categoricals; checks the case table at the boundary (:func:`drgdip.core.checks.check_case_table`:
money, whole numbers, times, flags) before any rule touches a column; keeps the stays up to the
settlement year; applies the policy's day-care rules to every year; groups only the stays that need
it (:mod:`drgdip.budget.grouping`), the scheme and DIP directory each loaded once; takes the weight
table (given, the DIP directory's scores, or calibrated on the years before the settlement year);
computes the points of the history and of the settlement year (:mod:`drgdip.budget.stay_points`),
and settles the settlement year with
:func:`drgdip.budget.settle.settle_cases`. The earlier years are the history: weights, last year's
fund and the budget point value.

It is two steps: :func:`prepare_province` (read, check, day care, grouping: what depends on the
province and on the policy's day-care rules, grouping and year only) and :func:`settle_prepared`
(weights, points, settlement), so that many policies settle one preparation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd

from drgdip.budget.daycare import DAY_CARE_APPLIED, DayCareResult, apply_day_care, day_care_fingerprint
from drgdip.budget.frame import stay_years
from drgdip.budget.case_source import CaseSource
from drgdip.budget.grouping import Grouping, group_stays, resolve_grouping
from drgdip.budget.policy import Policy, load_policy
from drgdip.budget.indicators import (INDICATOR_INPUTS, assessment_scores, indicator_tables, last_year_costs_of,
                                      last_year_sums)
from drgdip.budget.inputs import input_key, layout_key, read_input
from drgdip.budget.settle import Settlement, settle_cases
from drgdip.budget.repriced_points import PointsOrigin, keep_points, repriced_history, repriced_year
from drgdip.pointvalue.repricing import without_coefficients
from drgdip.budget.stay_points import POINTS_STAGE_COLUMNS, history_with_points, settled, settlement_year_points
from drgdip.pointvalue.points import unknown_groups
from drgdip.core.checks import STAY_PROBLEMS, check_case_table, stay_problems
from drgdip.core.config import FrozenDict
from drgdip.core.errors import UsageError, rows_in_file
from drgdip.core.province import cases_path, read_province, read_province_info
from drgdip.core.tables import read_table, row_in_file
from drgdip.core.timing import StageClock, stage_of
from drgdip.core.frames import frame_of, with_columns

__all__ = ["settle_province", "prepare_province", "settle_prepared", "settle_once", "PreparedProvince", "SETTLEMENT_COLUMNS",
           "CATEGORICAL_COLUMNS"]

SETTLEMENT_COLUMNS = ("case_id", "hospital_id", "total_cost", "fund_paid")
# code columns read as categoricals: one small integer per stay instead of a string
CATEGORICAL_COLUMNS = ("hospital_id", "region", "insured_region", "insurance_type", "care_type", "dept",
                       "hospital_type", "status", "mdc", "adrg", "drg", "dip_group", "dip_type", "settle_status",
                       "scheme_version")
OUTPATIENT_COLUMNS = ("patient_id", "hospital_id", "visit_time", "cost", "related_case_id")
# how the stages name the stays in their messages, told as rows of the input file by rows_in_file
KEPT, SETTLED, HISTORY = "<stays>", "<settlement year>", "<history>"
# columns of the settlement year's input that the history years do not need once grouped and pointed
NOT_FOR_HISTORY = ("dx", "proc", "patient_id", "dept", "gender", "age", "age_days", "birth_weight",
                   "admit_time", "self_pay_in_scope", "self_pay_out_scope", "drug_cost", "consumable_cost",
                   "merged_into", "care_type_input", "day_care_status", "preop_cost", "session_days", "dayward_fee",
                   "needs_regroup", "mdc", "adrg", "readmit_plan_31d")


def _with_hospital_fields(cases: pd.DataFrame, hospitals: pd.DataFrame | None, *, hospital_type: bool = False
                          ) -> pd.DataFrame:
    """Fill hospital_level and region (and hospital_type, when the policy pays by it) from the hospitals
    table where the cases lack them."""
    if hospitals is None or "hospital_id" not in hospitals.columns or "hospital_id" not in cases.columns:
        return cases
    fields = (("hospital_level", "level"), ("region", "region")) + ((("hospital_type", "hospital_type"),)
                                                                  if hospital_type else ())
    wanted = [(target, source) for target, source in fields
              if source in hospitals.columns and (target not in cases.columns or cases[target].hasnans)]
    if not wanted:
        return cases
    table = hospitals.drop_duplicates("hospital_id")
    table.index = table["hospital_id"].astype(str).to_numpy()
    codes, ids = pd.factorize(cases["hospital_id"], use_na_sentinel=True)   # one lookup per hospital
    added = {}
    for target, source in wanted:
        per_hospital = table[source].reindex([str(i) for i in ids])
        values = pd.concat([per_hospital, pd.Series([None], dtype=per_hospital.dtype)], ignore_index=True) \
            .take(codes).reset_index(drop=True)
        values.index = cases.index
        added[target] = values if target not in cases.columns else cases[target].where(cases[target].notna(),
                                                                                       values)
    return with_columns(cases, **added)


def _policy_table(policy: Policy):
    """The published table the policy names (``points.published_table.table``), as a :class:`WeightsFile`;
    a relative path is taken from the policy file's folder when it is there."""
    from drgdip.pointvalue.published import WeightsFile, table_beside
    name = policy.points.published_table.table
    return None if name is None else WeightsFile(table_beside(name, policy.source), "published")


@lru_cache(maxsize=8)
def _published_coefs(table: str, rules) -> FrozenDict:
    from drgdip.pointvalue.published import published_level_coefs, read_published_table
    coefs = published_level_coefs(read_published_table(table), rules)
    return FrozenDict({group: FrozenDict(levels) for group, levels in coefs.items()})


def with_published_coefs(policy: Policy) -> Policy:
    """``policy`` with the level coefficient of each group that its published table gives
    (``points.published_table``: Yancheng, Taizhou and Yinchuan publish one per group and level) in
    ``points.hospital_coef.by_group_level``, under the groups the policy lists itself, so that a normal
    stay's standard in the point pool is the city's price. Other policies are returned as they are."""
    from drgdip.pointvalue.published import table_beside
    rules = policy.points.published_table
    if rules.table is None:
        return policy
    table = table_beside(rules.table, policy.source)
    coefs = _published_coefs(table, rules)
    if not coefs:
        return policy
    hospital = policy.points.hospital_coef
    hospital = replace(hospital, by_group_level=FrozenDict({**coefs, **hospital.by_group_level}))
    points = replace(policy.points, hospital_coef=hospital, published_table=replace(rules, table=table))
    derived = replace(policy, points=points)
    object.__setattr__(derived, "source", policy.source)
    return derived


def _weights(prepared: "PreparedProvince", policy: Policy, current: pd.DataFrame, past: pd.DataFrame | None,
             warnings: list[str]):
    """The weight / score table: given, the policy's published table, a DIP directory's scores, or calibrated
    on earlier years."""
    from drgdip.pointvalue import WeightTable
    from drgdip.pointvalue.published import PublishedTable, WeightsFile
    weights = prepared.weights if prepared.weights is not None else _policy_table(policy)
    if weights is not None:
        if isinstance(weights, (str, Path)):
            weights = WeightsFile(str(weights))
        if isinstance(weights, WeightsFile):
            weights = weights.load(points_scale=policy.points.points_scale)
        elif isinstance(weights, PublishedTable):
            weights = weights.weight_table(policy.points.points_scale)
        mean = policy.points.published_table.all_case_mean   # what RW 1 stands for, where the table does not say
        if mean is not None and isinstance(weights, WeightTable) and weights.all_case_mean is None:
            weights = replace(weights, all_case_mean=mean)
        return weights
    if policy.points.is_dip and prepared.dip is not None:
        return WeightTable.from_dip_directory(prepared.dip)
    history_frame, on_settlement_year = calibration_stays(policy, current, past, prepared.past_years,
                                                         prepared.settle_year)
    if on_settlement_year:
        warnings.append(NO_HISTORY_TO_CALIBRATE.format(year=prepared.settle_year))
    return fit_weights(policy, history_frame)


NO_HISTORY_TO_CALIBRATE = "no stays before {year}: weights calibrated on the settlement year itself"


def calibrates(prepared: "PreparedProvince", policy: Policy) -> bool:
    """Whether the weight table of ``policy`` is calibrated on the stays (no table given, published or
    from a DIP directory)."""
    return prepared.weights is None and _policy_table(policy) is None \
        and not (policy.points.is_dip and prepared.dip is not None)


def calibration_stays(policy: Policy, current: pd.DataFrame, past: pd.DataFrame | None, past_years: np.ndarray,
                      settle_year: int, *, rows: bool = False):
    """The stays weights are calibrated on (group, cost, level and year of the settled history stays; the
    settlement year's when there are none), and whether they are the settlement year's. ``rows``: also
    the row of each among its frame's stays (the history's or the year's), returned third."""
    frame, years = past, past_years
    use = settled(frame) if frame is not None else np.zeros(0, dtype=bool)
    on_settlement_year = not use.any()
    if on_settlement_year:
        frame = current
        use = settled(frame)
        years = np.full(len(frame), settle_year)
    columns = [c for c in ("drg", "dip_group", "total_cost", "hospital_level") if c in frame.columns]
    stays = frame_of({**{c: frame[c].array[use] for c in columns}, "year": years[use]})
    return (stays, on_settlement_year, np.flatnonzero(use)) if rows else (stays, on_settlement_year)


def fit_weights(policy: Policy, stays: pd.DataFrame):
    """The weight (DRG) or score (DIP) table calibrated on ``stays`` (:func:`calibration_stays`)."""
    from drgdip.pointvalue import DipScores, DrgWeights
    calibrator = (DipScores if policy.points.is_dip else DrgWeights).from_policy(policy.points)
    return calibrator.fit(stays, quality=False).weight_table()


@dataclass(frozen=True)
class PreparedProvince:
    """A province read, checked, day-cared and grouped once, ready to be settled under many policies.

    Everything here depends on the province and on the policy's day-care rules, grouping (DRG or
    DIP) and year only; :func:`settle_prepared` computes the rest (weights, points, settlement) for
    any policy. ``current`` holds the settlement year's stays, ``past`` the history stays (without
    :data:`NOT_FOR_HISTORY`) and ``past_years`` their years.
    """

    policy: Policy                      # the policy whose day-care rules, grouping and year were applied
    current: pd.DataFrame
    past: pd.DataFrame | None
    past_years: np.ndarray
    settle_year: int
    hospitals: pd.DataFrame | None
    info: dict                          # the province's province.json
    dip: object
    weights: object
    approved: object
    deductions: pd.DataFrame | None
    warnings: tuple[str, ...]
    file: str
    first_row: int
    positions: np.ndarray               # input row (0-based, within the file's stays) of each kept stay
    current_rows: np.ndarray            # row of each ``current`` stay among the kept stays (-1: not from the input)
    past_rows: np.ndarray               # row of each ``past`` stay among the kept stays
    source: CaseSource
    read_columns: tuple[str, ...]
    grouping: Grouping = field(repr=False, compare=False)   # the scheme and DIP directory of the preparation
    remake: dict = field(repr=False, compare=False)   # how to prepare again for other day-care rules
    weight_tables: dict = field(default_factory=dict, repr=False, compare=False)
    history_points: dict = field(default_factory=dict, repr=False, compare=False)   # the last policy's, see _points_key
    year_points: dict = field(default_factory=dict, repr=False, compare=False)
    # the last run's points of the history and of the year, for a policy that changes only coefficients
    kept_points: dict = field(default_factory=dict, repr=False, compare=False)
    settlement_inputs: dict = field(default_factory=dict, repr=False, compare=False)
    of_current: dict = field(default_factory=dict, repr=False, compare=False)   # worked out once of ``current``
    # the settlement inputs of the province this one was drawn from: their history is this one's too
    parent_inputs: dict | None = field(default=None, repr=False, compare=False)
    # (that province's points memory, the row of its ``current`` each stay comes from, whether a step rewrote it)
    parent_points: tuple | None = field(default=None, repr=False, compare=False)

    def with_settlement_year(self, current: pd.DataFrame, drawn_from: tuple | None = None) -> "PreparedProvince":
        """The same province with other settlement-year stays (a scenario's case mix): their rows
        no longer map to the input file, so the per-stay output keeps only the settlement columns.

        ``drawn_from``: (the row of this province's ``current`` each new stay comes from, whether a
        step rewrote it), when the new stays are a draw of these: a stay's points depend on the stay
        alone, so those of the stays not rewritten are taken from this province's.
        """
        kept_weights = {key: entry for key, entry in self.weight_tables.items() if not entry[2]}   # not fitted on them
        parent_points = (self.year_points, *drawn_from) if drawn_from is not None and self.year_points else None
        return replace(self, current=current, current_rows=np.full(len(current), -1, dtype=np.int64),
                       weight_tables=kept_weights, history_points=self.history_points, year_points={},
                       kept_points={kind: kept for kind, kept in self.kept_points.items() if kind[0] == "history"},
                       settlement_inputs={}, of_current={},
                       parent_inputs=self.settlement_inputs if self.settlement_inputs else self.parent_inputs,
                       parent_points=parent_points)

    def same_preparation(self, policy: Policy) -> bool:
        """Whether ``policy`` settles this preparation as it stands (same day care, grouping and year)."""
        base = self.policy
        return (policy.day_care == base.day_care and policy.points.is_dip == base.points.is_dip
                and policy.points.scheme_version == base.points.scheme_version
                and _reads_indicator_inputs(policy) == _reads_indicator_inputs(base)
                and _pays_by_hospital_type(policy) == _pays_by_hospital_type(base)
                and (self.remake["year"] is not None or policy.year == base.year))


def prepare_province(province_or_dir, policy, *, scheme=None, dip=None, weights=None, approved=None,
                     deductions=None, year: int | None = None, regroup: bool = False,
                     clock: StageClock | None = None) -> PreparedProvince:
    """Read, check, apply ``policy``'s day-care rules to and group a province once (see
    :func:`settle_province` for the parameters); settle it with :func:`settle_prepared`."""
    if not isinstance(policy, Policy):
        policy = load_policy(policy)
    remake = {"province_or_dir": province_or_dir, "scheme": scheme, "dip": dip, "weights": weights,
              "approved": approved, "deductions": deductions, "year": year, "regroup": regroup}
    stage = stage_of(clock)
    warnings: list[str] = []
    with stage("read"):
        province, source = _read_input(province_or_dir, policy, scheme=scheme, dip=dip, regroup=regroup)
        grouping = resolve_grouping(policy, scheme=scheme, dip=dip, info=province.info)
        if isinstance(deductions, (str, Path)):
            deductions = read_table(Path(deductions), what="deductions")
        if isinstance(approved, (str, Path)):
            approved = read_table(Path(approved), what="approved")
    file, first_row = province.source, source.first_row
    cases, outpatient = province.cases, province.outpatient
    province = replace(province, cases=pd.DataFrame(), outpatient=None)   # each stay is held once
    everyone = np.arange(len(cases))
    with stage("check"), rows_in_file({KEPT: everyone}, file=file, first_row=first_row):
        cases = check_case_table(_with_hospital_fields(cases, province.hospitals,
                                                       hospital_type=_pays_by_hospital_type(policy)), file=KEPT,
                                 required=SETTLEMENT_COLUMNS)
        read_columns = tuple(cases.columns)
        cases = _leave_out_unpayable_stays(cases, province.hospitals, lambda position: _row_text(
            source, file, first_row, position), warnings)
        cases, years, settle_year, positions = _settlement_years(cases, policy, year, KEPT, warnings)
    with stage("day care"), rows_in_file({KEPT: positions}, file=file, first_row=first_row):
        if province.info.get(DAY_CARE_APPLIED) == day_care_fingerprint(policy.day_care):
            day_care = DayCareResult(cases, {})   # the province was written with these rules applied
        else:
            day_care = apply_day_care(cases, policy.day_care, outpatient, file=KEPT)
        del cases, outpatient
        warnings.extend(day_care.warnings)
    with stage("group"), rows_in_file({KEPT: positions}, file=file, first_row=first_row):
        frame = group_stays(day_care.cases, policy, grouping, regroup=regroup, warnings=warnings,
                            fetch=lambda columns, rows: source.fetch(columns, positions[rows]), file=KEPT)
        del day_care
    current = years == settle_year
    current_frame, past = _split_years(frame, current)
    del frame
    return PreparedProvince(
        policy=policy, current=current_frame, past=past, past_years=years[~current], settle_year=settle_year,
        hospitals=province.hospitals, info=province.info, dip=grouping.dip, weights=weights, approved=approved,
        deductions=deductions, warnings=tuple(warnings), file=file, first_row=first_row, positions=positions,
        current_rows=np.flatnonzero(current), past_rows=np.flatnonzero(~current), source=source, grouping=grouping,
        read_columns=read_columns, remake=remake)


def settle_prepared(prepared: PreparedProvince, policy, *, clock: StageClock | None = None,
                    input_columns: bool = True, per_stay: bool = True) -> Settlement:
    """Settle a :func:`prepare_province` result under ``policy``: weights, points and settlement.

    A policy with other day-care rules, grouping or year than the preparation's prepares the
    province again for itself first. ``input_columns``: the per-stay output carries every input
    column (read back from the input); without it only the settlement's own columns. Without
    ``per_stay`` the money is shared down to the hospitals only (see
    :func:`drgdip.budget.settle.settle_cases`).
    """
    if not isinstance(policy, Policy):
        policy = load_policy(policy)
    if not prepared.same_preparation(policy):
        if len(prepared.current_rows) and (prepared.current_rows < 0).any():
            raise UsageError("this province's settlement year is not its input's (a scenario's case mix), and the "
                             "policy changes what the preparation depends on (day-care rules, grouping, year or "
                             "indicator inputs): preparing again would read the input and lose those stays; "
                             "settle it under a policy with the preparation's rules")
        prepared = prepare_province(**prepared.remake, policy=policy, clock=clock)
    return _settle(prepared, policy, [prepared.current, prepared.past], clock=clock, input_columns=input_columns,
                   per_stay=per_stay)


def _settle(prepared: PreparedProvince, policy: Policy, frames: list, *, clock: StageClock | None,
            input_columns: bool, per_stay: bool = True) -> Settlement:
    """:func:`settle_prepared` of the settlement year's and the history's stays in ``frames``, which
    it empties as it goes (so that a caller holding no other reference frees each when done)."""
    stage = stage_of(clock)
    policy = with_published_coefs(policy)
    warnings = list(prepared.warnings)
    file, first_row, positions = prepared.file, prepared.first_row, prepared.positions
    current_rows, history_rows = prepared.current_rows, prepared.past_rows
    from_input = _once(prepared.of_current, "from_input", lambda: bool((current_rows >= 0).all()))
    settled_rows = current_rows if from_input else np.arange(len(frames[0]))

    def in_file():
        return rows_in_file({KEPT: positions}, file=file, first_row=first_row)

    with stage("weights"), in_file():
        table = _prepared_weights(prepared, policy, frames, warnings)
    points_key = _points_key(policy)
    with stage("history points"), in_file(), rows_in_file({"<DataFrame>": history_rows}, file=KEPT):
        history = by_area = history_key = history_origin = None
        past = frames.pop()
        if past is not None:
            settled_hospitals, hospital_key = _once(prepared.of_current, "hospitals", partial(
                _hospitals_of, frames[0]))
            history_key = (points_key, hospital_key) if points_key is not None else None
            history, by_area, history_origin = _remembered(prepared.history_points, history_key, partial(
                _history_points, prepared.kept_points, past, prepared.past_years, policy, table, settled_hospitals,
                hospital_key), release_first=True)
        del past
    with stage("points"), in_file(), rows_in_file({"<DataFrame>": settled_rows}, file=KEPT):
        current = frames.pop()
        frame, unknown, said, _, year_origin = _remembered(prepared.year_points, points_key, partial(
            _checked_year_points, current, policy, table, approved=prepared.approved, by_area=by_area,
            drawn_from=_drawn_from(prepared, points_key, by_area), kept_points=prepared.kept_points),
            release_first=True)
        del current
        if said:
            first = int(np.flatnonzero(unknown)[0])
            where = _row_text(prepared.source, file, first_row, positions[settled_rows[first]]) if from_input \
                else f"stay {first + 1}"
            warnings.append(f"{said} (first: {where})")
    assessed = bool(policy.settlement.assessment_indicators.weights)
    with stage("settle"), in_file(), rows_in_file({SETTLED: settled_rows, HISTORY: history_rows}, file=KEPT):
        year_input = None
        if prepared.settlement_inputs is not None:
            layout = layout_key(policy)
            key = (points_key, input_key(policy), layout) \
                if points_key is not None and input_key(policy) and layout is not None else None
            like, history_like = _inputs_to_reuse(prepared, key, history_key)
            year_input = _remembered(prepared.settlement_inputs, key, partial(
                read_input, frame, policy, hospitals=prepared.hospitals, history=history, file=SETTLED,
                year=prepared.settle_year, keep=True, like=like, history_like=history_like,
                history_key=history_key, origins=(year_origin, history_origin)))
        elif assessed:   # settled twice: laid out once
            year_input = read_input(frame, policy, hospitals=prepared.hospitals, history=history, file=SETTLED,
                                    year=prepared.settle_year, keep=True)
        result = settle_cases(frame, policy, hospitals=prepared.hospitals, history=history,
                              deductions=prepared.deductions, file=SETTLED, year=prepared.settle_year,
                              year_input=year_input, per_stay=per_stay or assessed)
        last_year_parts = last_year_sums(history, prepared.settle_year) if per_stay or assessed else {}
        last_year = last_year_costs_of(last_year_parts)
        scores = None
        if assessed:
            # the indicators come from the stays alone; the coefficients they give settle the year again
            scores = assessment_scores(indicator_tables(result.cases, result.hospitals, last_year=last_year)
                                       ["indicators"], policy.settlement.assessment_indicators.weights)
            result = settle_cases(frame, assessed_policy(policy, scores), hospitals=prepared.hospitals,
                                  history=history, deductions=prepared.deductions, file=SETTLED,
                                  year=prepared.settle_year, year_input=year_input, per_stay=per_stay)
        del frame, history
    cases_out = result.cases
    if input_columns and from_input and per_stay:
        with stage("input columns"):
            cases_out = _with_input_columns(result.cases, prepared.source, list(prepared.read_columns),
                                            positions[current_rows])
    indicators = {}
    if per_stay:
        with stage("indicators"):
            indicators = indicator_tables(cases_out, result.hospitals, last_year=last_year)
            if scores is not None:
                per_hospital = indicators["indicators"]
                per_hospital["assessment_score"] = per_hospital["hospital_id"].astype(str).map(scores).to_numpy()
    return replace(result, cases=cases_out, indicators=indicators, warnings=tuple(warnings) + result.warnings,
                   last_year_sums=last_year_parts)


def _inputs_to_reuse(prepared: PreparedProvince, key, history_key) -> tuple:
    """(the last policy's settlement input of these stays, when it lays them out alike: only the points
    are read again; else, for a drawn province, the input of the province it was drawn from under the
    same policy and history: its history is taken as it stands). ``key``: (points, input, layout) keys."""
    if key is None:
        return None, None
    like = next((kept for (_, _, kept_layout), kept in prepared.settlement_inputs.items()
                 if kept_layout == key[2]), None)
    if like is not None or history_key is None:
        return like, None
    return None, next((kept for kept_key, kept in (prepared.parent_inputs or {}).items()
                       if kept_key == key and kept.history_key == history_key), None)


def _hospitals_of(current: pd.DataFrame) -> tuple[np.ndarray, frozenset]:
    """The hospitals of the settlement year's stays, and the same as a set of texts (a memory key)."""
    hospitals = pd.unique(current["hospital_id"])
    return hospitals, frozenset(map(str, hospitals))


def _history_points(kept_points: dict | None, past: pd.DataFrame, years: np.ndarray, policy: Policy, table,
                    settled_hospitals, hospital_key) -> tuple[pd.DataFrame, dict, PointsOrigin | None]:
    """:func:`history_with_points`, priced again from the last run's when ``policy`` changes only
    coefficients (:mod:`drgdip.budget.repriced_points`), and kept for the next when ``kept_points`` is
    a memory; with where the points come from (:class:`PointsOrigin`, None: not from a kept run)."""
    kind = ("history", hospital_key)
    if kept_points is not None:
        again = repriced_history(kept_points.get(kind), _coefficient_free_key(policy), years, policy, table,
                                 settled_hospitals)
        if again is not None:
            return again
    parts, memo = ([], {}) if kept_points is not None else (None, None)
    history, by_area = history_with_points(past, years, policy, table, settled_hospitals=settled_hospitals,
                                           recipe_parts=parts, memo=memo)
    if kept_points is not None:
        kept_points.pop(kind, None)
        kept = keep_points(_coefficient_free_key(policy), parts, past, history, policy, table, KEPT, memo=memo,
                           history=True)
        if kept is not None:
            kept_points[kind] = kept
            return history, by_area, PointsOrigin(kept)
    return history, by_area, None


def _checked_year_points(current: pd.DataFrame, policy: Policy, table, *, approved, by_area, drawn_from=None,
                         kept_points: dict | None = None):
    """(the settlement year's stays with their points, which of them carry a group code the weight
    table does not know, what to say of those (:func:`drgdip.pointvalue.points.unknown_groups`), the
    reference point values they were computed at, and where the points come from (:class:`PointsOrigin`,
    None: not from a kept run). ``drawn_from``: :func:`_drawn_from`;
    ``kept_points``: see :func:`_history_points` (without an approval list)."""
    kind = ("year",)
    if kept_points is not None and drawn_from is None and approved is None and kind in kept_points:
        kept = kept_points[kind]
        again = repriced_year(kept, _coefficient_free_key(policy), policy, table, by_area)
        if again is not None:
            frame, origin = again
            return (frame, *kept.extra, by_area, origin)
    parts = [] if kept_points is not None and drawn_from is None and approved is None else None
    if drawn_from is not None:
        frame = _points_of_a_draw(current, *drawn_from, policy, table, by_area)
    else:
        frame = settlement_year_points(current, policy, table, approved=approved, by_area=by_area,
                                       recipe_parts=parts)
    unknown, said = unknown_groups(frame, table, group_col="dip_group" if policy.points.is_dip else "drg",
                                   is_dip=policy.points.is_dip)
    if kept_points is not None:
        kept_points.pop(kind, None)
        kept = keep_points(_coefficient_free_key(policy), parts, current, frame, policy, table, SETTLED,
                           extra=(unknown, said)) if parts is not None else None
        if kept is not None:
            kept_points[kind] = kept
            return frame, unknown, said, by_area, PointsOrigin(kept)
    return frame, unknown, said, by_area, None


def _drawn_from(prepared: PreparedProvince, points_key, by_area):
    """(the points of the province a drawn one comes from, the row each drawn stay comes from, whether
    a step rewrote it), when they were computed under the same points policy at the same reference
    point values and without an approval list (which names stays by case id); else None."""
    if prepared.parent_points is None or points_key is None or prepared.approved is not None:
        return None
    memory, source, changed = prepared.parent_points
    entry = memory.get(points_key)
    if entry is None or entry[3] != by_area:
        return None
    return entry[0], source, changed


def _points_of_a_draw(current: pd.DataFrame, parent: pd.DataFrame, source: np.ndarray, changed: np.ndarray,
                      policy: Policy, table, by_area) -> pd.DataFrame:
    """The drawn stays ``current`` with their points: the points columns of each stay's row of
    ``parent``, those of the stays a step rewrote computed again."""
    written = [c for c in parent.columns if c in POINTS_STAGE_COLUMNS]
    redone, positions = None, np.flatnonzero(changed)
    if len(positions):
        redone = settlement_year_points(current.iloc[positions].reset_index(drop=True), policy, table,
                                        by_area=by_area)
    columns = {}
    for name in written:
        # a rewritten stay differs from its row only in its group: columns the points stage does not
        # write again stay as they are
        new = redone[name] if redone is not None and name in redone.columns else None
        columns[name] = _drawn_column(parent[name].array, source, positions, new)
    return with_columns(current, **columns)


def _drawn_column(values, source: np.ndarray, positions: np.ndarray, new: pd.Series | None):
    """``values`` at the rows ``source``, with ``new`` at ``positions``."""
    if isinstance(values, pd.Categorical):
        categories = values.categories
        if new is not None:
            categories = categories.append(pd.Index(new.dropna().unique()).difference(categories))
        codes = values.codes.take(source)
        if new is not None:
            codes[positions] = categories.get_indexer(new.astype(object).where(new.notna(), None))
        return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories, ordered=values.ordered))
    if isinstance(values, pd.arrays.NumpyExtensionArray) and (new is None or new.dtype == values.dtype):
        out = values.to_numpy().take(source)
        if new is not None:
            out[positions] = new.to_numpy(dtype=out.dtype)
        return out
    column = pd.Series(values.take(source))
    if new is not None:
        column.iloc[positions] = new.to_numpy()
    return column.array


def assessed_policy(policy: Policy, scores: pd.Series) -> Policy:
    """``policy`` with the assessment coefficient of each hospital's score band
    (``settlement.assessment_indicators``); hospitals listed in ``assessment_by_hospital`` keep theirs."""
    rules = policy.settlement.assessment_indicators
    bands = sorted(rules.bands, key=lambda band: -band.min_score)
    coefs = {}
    for hospital, score in scores.items():
        if np.isfinite(score):
            coefs[str(hospital)] = next(b.coef for b in bands if score >= b.min_score)
    settlement = replace(policy.settlement,
                         assessment_by_hospital=FrozenDict({**coefs, **policy.settlement.assessment_by_hospital}))
    return replace(policy, settlement=settlement)


def settle_province(province_or_dir, policy, *, scheme=None, dip=None, weights=None, approved=None,
                    deductions=None, year: int | None = None, regroup: bool = False,
                    clock: StageClock | None = None) -> Settlement:
    """Settle a province under ``policy``: returns a :class:`drgdip.budget.settle.Settlement`.

    :func:`prepare_province` then :func:`settle_prepared`.

    Parameters
    ----------
    province_or_dir : directory, cases file, Province, DataFrame or an object with ``cases`` /
        ``hospitals`` / ``outpatient`` DataFrames (e.g. :func:`drgdip.synth.generate_province`'s result)
    policy : Policy or path of a policy YAML
    scheme : grouping scheme (directory or loaded) for DRG stays that need grouping (default: the
        scheme recorded in the province's ``province.json``)
    dip : DIP directory for DIP stays without ``dip_group`` (its scores become the weights)
    weights : WeightTable, DataFrame, a city's PublishedTable, a WeightsFile, or a path / built-in name (an
        engine table of base points or a published table, told apart by its headers); default: the
        policy's ``points.published_table``, else calibrated on history
    approved : special-review approval list (case ids, or a DataFrame with ``case_id``)
    deductions : audit deductions (``hospital_id``, ``amount``, optional ``month``), DataFrame or path
    year : settlement year (default: ``policy.year``, else the latest year in the input)
    regroup : group every stay again, whatever group columns the cases carry
    clock : records the time and memory of each stage (``drgdip settle --timings``)
    """
    return settle_once(prepare_province(province_or_dir, policy, scheme=scheme, dip=dip, weights=weights,
                                        approved=approved, deductions=deductions, year=year, regroup=regroup,
                                        clock=clock), clock=clock)


def settle_once(prepared: PreparedProvince, *, clock: StageClock | None = None) -> Settlement:
    """Settle a fresh :func:`prepare_province` under its own policy, letting go of its stays stage by stage
    (nothing is kept for another policy; the caller must hold no other reference to them)."""
    frames = [prepared.current, prepared.past]
    prepared = replace(prepared, current=None, past=None, history_points=None, year_points=None, kept_points=None,
                       settlement_inputs=None, of_current=None)
    return _settle(prepared, prepared.policy, frames, clock=clock, input_columns=True)


def _points_key(policy: Policy):
    """What the points of the stays depend on besides the stays: the sections of the policy the points
    stages read (None when they cannot be compared)."""
    key = (policy.points, policy.point_value, policy.day_care, policy.pooling, policy.regions,
           policy.settlement.drg_exclude_los)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _coefficient_free_key(policy: Policy):
    """:func:`_points_key` of ``policy`` with the hospital and remote coefficients left out: policies
    with the same one price the same stays from the same :mod:`drgdip.budget.repriced_points` recipe."""
    return _points_key(replace(policy, points=without_coefficients(policy.points)))


def _once(memory: dict | None, key, compute):
    """``compute()``, kept in ``memory`` under ``key`` for every later call (None: not kept)."""
    if memory is None:
        return compute()
    if key not in memory:
        memory[key] = compute()
    return memory[key]


def _remembered(memory: dict, key, compute, *, release_first: bool = False):
    """``compute()``, or what it gave for the same ``key`` last time. Only the last result is kept, so a
    preparation holds at most one policy's points besides its stays (scenarios that change only the
    budget or settlement rules share them). ``release_first``: let go of the last result before
    computing the next (which does not read it), so that its memory serves the next."""
    if memory is None:
        return compute()
    if key is not None and key in memory:
        return memory[key]
    if release_first:
        memory.clear()
    value = compute()
    memory.clear()
    if key is not None:
        memory[key] = value
    return value


def weights_key(policy: Policy):
    """What the weight table of a prepared province depends on in a policy (None: cannot be compared)."""
    points = policy.points
    key = (points.calibration, points.points_scale, points.is_dip, points.published_table.table)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _prepared_weights(prepared: PreparedProvince, policy: Policy, frames: list, warnings: list[str]):
    """The weight table of ``policy`` for a prepared province (``frames``: its settlement year's and
    history stays), calibrated once per calibration rules: a scenario changing coefficients or outlier
    rules keeps the weights."""
    points = policy.points
    key = weights_key(policy)
    if key is not None and key in prepared.weight_tables:
        table, said, _ = prepared.weight_tables[key]
        warnings.extend(said)
        return table
    said: list[str] = []
    table = _weights(prepared, policy, frames[0], frames[1], said)
    if key is not None:
        if len(prepared.weight_tables) >= 4:
            prepared.weight_tables.clear()
        on_settlement_year = prepared.weights is None and points.published_table.table is None \
            and not (policy.points.is_dip and prepared.dip is not None) \
            and (frames[1] is None or not settled(frames[1]).any())
        prepared.weight_tables[key] = (table, tuple(said), on_settlement_year)
    warnings.extend(said)
    return table


def _row_text(source: CaseSource, file: str, first_row: int, position: int) -> str:
    """``FILE, row N`` of the input stay at ``position``, as the file shows it (a dataset: its part file)."""
    if source.path is not None and source.path.is_dir():
        part, row = row_in_file(source.path, int(position))
        return f"{part}, row {row}"
    return f"{file}, row {int(position) + first_row}"


def _leave_out_unpayable_stays(cases: pd.DataFrame, hospitals: pd.DataFrame | None, where,
                               warnings: list[str]) -> pd.DataFrame:
    """Stays that cannot be paid as they stand (:data:`drgdip.core.checks.STAY_PROBLEMS`) get the status
    ``invalid:<problem>``: left out of the settlement, counted in the summary and named in a warning
    (``where(position)``: the file and row of the stay at ``position``)."""
    known = hospitals["hospital_id"] if hospitals is not None and "hospital_id" in hospitals.columns else None
    problems = stay_problems(cases, known_hospitals=known)
    if not problems.any():
        return cases
    names = list(STAY_PROBLEMS)
    evidence = {"duplicate_case_id": "case_id", "discharge_before_admission": "discharge_time",
                "fund_above_cost": "fund_paid", "unknown_hospital": "hospital_id"}
    given = pd.Categorical(cases["settle_status"] if "settle_status" in cases.columns else [None] * len(cases))
    labels = [str(c) for c in given.categories]
    if "ok" not in labels:
        labels.append("ok")
    ok = labels.index("ok")
    status = np.where(given.codes < 0, ok, given.codes).astype(np.int64)
    for code, name in enumerate(names, start=1):
        rows = np.flatnonzero((problems == code) & (status == ok))
        if not len(rows):
            continue
        labels.append(f"invalid:{name}")
        status[rows] = len(labels) - 1
        field = evidence[name]
        warnings.append(f"{len(rows):,} stay(s) left out of the settlement, {STAY_PROBLEMS[name]}: status "
                        f"invalid:{name} (first: {where(rows[0])}, {field} "
                        f"{cases[field].iloc[rows[0]]!r})")
    return with_columns(cases, settle_status=pd.Categorical.from_codes(status, categories=labels))


def _split_years(frame: pd.DataFrame, current: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(the settlement year's stays, the history stays without :data:`NOT_FOR_HISTORY`), taking the
    columns out of ``frame`` one at a time so that the stays are never held twice."""
    if current.all():
        return frame, None
    settled_year, history = {}, {}
    for name in list(frame.columns):
        column = frame.pop(name).array
        settled_year[name] = column[current]
        if name not in NOT_FOR_HISTORY:
            history[name] = column[~current]
        del column
    return frame_of(settled_year), frame_of(history)


def _pays_by_hospital_type(policy: Policy) -> bool:
    """Whether the policy's coefficients need each stay's hospital_type (conservative groups by type)."""
    return bool(policy.points.hospital_coef.conservative_by_type)


def _reads_indicator_inputs(policy: Policy) -> bool:
    """Whether the policy's assessment coefficients come from the performance indicators, whose inputs
    (drug costs, self-pay...) are then read with the stays."""
    return bool(policy.settlement.assessment_indicators.weights)


def _read_input(source, policy: Policy, *, scheme, dip, regroup: bool):
    """The province with the columns the computation needs (see :mod:`drgdip.budget.case_source`)."""
    tables = ("cases", "hospitals") + (("outpatient",) if policy.day_care.preop_merge.enabled else ())
    if cases_path(source) is None:   # data in memory (or a path that is not there: read_province says so)
        province = read_province(source)
        return province, CaseSource.of(None, province.cases)
    cases_source = CaseSource.of(source, categorical=CATEGORICAL_COLUMNS)
    info = read_province_info(source) if Path(source).is_dir() else {}
    grouped = {"dip_group"} if policy.points.is_dip else {"status", "drg"}
    stale = resolve_grouping(policy, scheme=scheme, dip=None, info=info).stale if scheme is not None else False
    whole = regroup or stale or not grouped <= set(cases_source.columns)
    columns = {"cases": cases_source.compute_columns(with_grouping_inputs=whole) + (
        [c for c in cases_source.columns if c in INDICATOR_INPUTS] if _reads_indicator_inputs(policy) else []),
               "outpatient": OUTPATIENT_COLUMNS}
    province = read_province(source, tables=tables, columns=columns, categorical=CATEGORICAL_COLUMNS)
    return province, cases_source


def _with_input_columns(cases: pd.DataFrame, source: CaseSource, read_columns: list[str],
                        rows: np.ndarray) -> pd.DataFrame:
    """The per-stay output with every input column, in input order, then the settlement's columns."""
    missing = [c for c in source.columns if c not in read_columns and c not in cases.columns]
    if not missing:
        return cases
    extra = check_case_table(source.fetch(missing, rows), file=str(source.path or "<DataFrame>"),
                             file_rows=rows + source.first_row)
    columns = {name: cases[name].array for name in cases.columns}
    columns.update({name: extra[name].array for name in extra.columns})
    order = [c for c in source.columns if c in columns] + [c for c in cases.columns if c not in set(source.columns)]
    return frame_of({name: columns[name] for name in order}, index=cases.index)


def _settlement_years(cases: pd.DataFrame, policy: Policy, year: int | None, file: str,
                      warnings: list[str]) -> tuple[pd.DataFrame, np.ndarray, int, np.ndarray]:
    """The stays up to the settlement year, the year of each, the settlement year, and the input
    position of each stay kept."""
    years = stay_years(cases, file)
    settle_year = int(year or policy.year or years.max())
    if not (years == settle_year).any():
        raise UsageError(f"no stays in the settlement year {settle_year} (years in the input: "
                         f"{', '.join(map(str, np.unique(years)))})", file=file, field="year")
    keep = years <= settle_year
    positions = np.flatnonzero(keep)
    if not keep.all():
        later = ", ".join(map(str, np.unique(years[~keep])))
        warnings.append(f"{int((~keep).sum()):,} stays of later years ({later}) are not part of the "
                        f"{settle_year} settlement and were left out")
        cases, years = cases.loc[keep].reset_index(drop=True), years[keep]
    if (years < settle_year).any():
        warnings.append(f"{int((years < settle_year).sum()):,} stays of "
                        f"{', '.join(map(str, np.unique(years[years < settle_year])))} are history: weights, "
                        f"last year's fund and the budget point value (not in the per-stay output)")
    return cases, years, settle_year, positions
