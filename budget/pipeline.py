"""Settle a province end to end (§1): read and check → day care → group what needs it → weights →
points → settlement.

:func:`settle_province` reads a province (directory, files or DataFrames) once, code columns as
categoricals; checks the case table at the boundary (:func:`drgdip.core.checks.check_case_table`:
money, whole numbers, times, flags) before any rule touches a column; keeps the stays up to the
settlement year; applies the policy's day-care rules to every year; groups only the stays that need
it (:mod:`drgdip.budget.grouping`), the scheme and DIP directory each loaded once; takes the weight
table (given, the DIP directory's scores, or calibrated on the years before the settlement year);
computes points (:mod:`drgdip.pointvalue.points`, inputs prepared once per year range), turns
day-care payment methods into points or fixed payments, and settles the settlement year with
:func:`drgdip.budget.settle.settle_cases`. The earlier years are the history: weights, last year's
fund and the budget point value.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from drgdip.budget.daycare import apply_day_care, apply_day_payments
from drgdip.budget.frame import stay_years
from drgdip.budget.case_source import CaseSource
from drgdip.budget.grouping import group_stays, resolve_grouping
from drgdip.budget.point_value import history_point_value
from drgdip.budget.policy import Policy, load_policy
from drgdip.budget.settle import Settlement, settle_cases
from drgdip.core.checks import check_case_table
from drgdip.core.errors import UsageError
from drgdip.core.province import cases_path, read_province, read_province_info
from drgdip.core.tables import read_table
from drgdip.core.timing import StageClock, stage_of
from drgdip.core.frames import frame_of, with_columns

__all__ = ["settle_province", "add_points", "reference_point_values", "history_point_values",
           "SETTLEMENT_COLUMNS", "CATEGORICAL_COLUMNS"]

POINT_COLUMNS = ("base_points", "cost_ratio", "outlier_class", "applied_hospital_coef", "remote_coef",
                 "special_review_candidate", "review_status")
SETTLEMENT_COLUMNS = ("case_id", "hospital_id", "total_cost", "fund_paid")
# code columns read as categoricals: one small integer per stay instead of a string
CATEGORICAL_COLUMNS = ("hospital_id", "region", "insured_region", "insurance_type", "care_type", "dept",
                       "status", "mdc", "adrg", "drg", "dip_group", "dip_type", "settle_status")
OUTPATIENT_COLUMNS = ("patient_id", "hospital_id", "visit_time", "cost", "related_case_id")
# what settlement reads of the history stays besides their points (budget, last year's fund, point value)
HISTORY_COLUMNS = ("case_id", "hospital_id", "hospital_level", "region", "insured_region", "insurance_type",
                   "month", "settle_date", "discharge_time", "total_cost", "fund_paid", "settle_status")
HISTORY_BLOCK_ROWS = 2_000_000
# columns of the settlement year's input that the history years do not need once grouped and pointed
NOT_FOR_HISTORY = ("dx", "proc", "patient_id", "dept", "gender", "age", "age_days", "birth_weight",
                   "admit_time", "self_pay_in_scope", "self_pay_out_scope", "drug_cost", "consumable_cost",
                   "merged_into", "care_type_input", "day_care_status", "preop_cost", "session_days", "dayward_fee",
                   "needs_regroup", "mdc", "adrg")


def _with_hospital_fields(cases: pd.DataFrame, hospitals: pd.DataFrame | None) -> pd.DataFrame:
    """Fill hospital_level and region from the hospitals table where the cases lack them."""
    if hospitals is None or "hospital_id" not in hospitals.columns or "hospital_id" not in cases.columns:
        return cases
    wanted = [(target, source) for target, source in (("hospital_level", "level"), ("region", "region"))
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


def _weights(frame: pd.DataFrame, years: np.ndarray, settle_year: int, policy: Policy, weights, dip,
             warnings: list[str]):
    """The weight / score table: given, a DIP directory's scores, or calibrated on earlier years."""
    from drgdip.pointvalue import DipScores, DrgWeights, WeightTable
    if weights is not None:
        if isinstance(weights, (str, Path)):
            return WeightTable.from_csv(weights, points_scale=policy.points.points_scale)
        return weights
    if policy.points.is_dip and dip is not None:
        return WeightTable.from_dip_directory(dip)
    history = years < settle_year
    ok = _settled(frame)
    use = history & ok
    if not use.any():
        warnings.append(f"no stays before {settle_year}: weights calibrated on the settlement year itself")
        use = ok
    calibrator = (DipScores if policy.points.is_dip else DrgWeights).from_policy(policy.points)
    columns = [c for c in ("drg", "dip_group", "total_cost", "hospital_level") if c in frame.columns]
    history_frame = frame_of({**{c: frame[c].array[use] for c in columns}, "year": years[use]})
    return calibrator.fit(history_frame, quality=False).weight_table()


def _settled(frame: pd.DataFrame) -> np.ndarray:
    """Stays whose ``settle_status`` is ok (all when the column is absent)."""
    if "settle_status" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    return (frame["settle_status"] == "ok").fillna(False).to_numpy(dtype=bool)


def _areas(frame: pd.DataFrame, policy: Policy) -> tuple[np.ndarray, list[str]]:
    """Pooling area of each stay as (code, -1 where unknown; area labels): its treatment region, or the
    region's province prefix when the province pools."""
    if "region" not in frame.columns:
        return np.full(len(frame), -1, dtype=np.int64), []
    codes, uniques = pd.factorize(frame["region"], use_na_sentinel=True)
    labels = [str(u) for u in uniques]
    if policy.pooling == "province":
        labels = [u[: policy.points.remote.province_prefix_len] for u in labels]
    area_codes, areas = pd.factorize(pd.Series(labels, dtype=object))
    return np.where(codes >= 0, area_codes[np.maximum(codes, 0)], -1), [str(a) for a in areas]


def reference_point_values(frame: pd.DataFrame, policy: Policy, table, by_area: dict | None = None) -> np.ndarray:
    """Yuan per point of each stay for the ``standard`` outlier reference and day-care conversions.

    First found: ``day_care.reference_point_value``; the policy's budget point value (one value or
    per area); ``by_area`` (the budget point value of the area from history); the all-case mean
    cost ÷ points scale of the weight table (NaN when none is known).
    """
    n = len(frame)
    if policy.day_care.reference_point_value is not None:
        return np.full(n, float(policy.day_care.reference_point_value))
    given = policy.point_value.budget_point_value
    scale = float(getattr(table, "points_scale", None) or policy.points.points_scale)
    mean = getattr(table, "all_case_mean", None)
    fallback = float(mean) / scale if mean else np.nan
    if given is not None and not hasattr(given, "keys"):
        return np.full(n, float(given))
    values = dict(given) if given is not None else dict(by_area or {})
    if not values:
        return np.full(n, fallback)
    area, labels = _areas(frame, policy)
    per_area = np.asarray([float(values.get(label, fallback)) for label in labels] + [fallback])
    return per_area[area]


def history_point_values(history: pd.DataFrame, years: np.ndarray, policy: Policy,
                         settled_hospitals=None) -> dict:
    """Budget point value of each pooling area from the history stays with points, by the one formula
    of :func:`drgdip.budget.point_value.history_point_value`, over the stays settlement uses for it:
    settled, paid by points (no fixed payment), treated in a region the policy settles, insured in
    the province, at a hospital with stays in the settlement year (``settled_hospitals``; all when
    None)."""
    from drgdip.pointvalue.coefs import pool_codes

    points = history["case_points"].to_numpy(dtype=np.float64, na_value=np.nan)
    use = _settled(history) & np.isfinite(points)
    if "fixed_payment" in history.columns:
        use &= history["fixed_payment"].isna().to_numpy()
    if "insured_region" in history.columns and "region" in history.columns:
        use &= pool_codes(history["region"], history["insured_region"],
                          policy.points.remote.province_prefix_len) != 2   # insured in another province
    area, labels = _areas(history, policy)
    if policy.regions:
        region_codes, regions = pd.factorize(history["region"], use_na_sentinel=True)
        wanted = np.append(np.isin(np.asarray([str(r) for r in regions]), list(policy.regions)), False)
        use &= wanted[region_codes]
    hospital, hospital_labels = pd.factorize(history["hospital_id"], use_na_sentinel=True)
    if settled_hospitals is not None:
        present = np.append(pd.Index(np.asarray(hospital_labels, dtype=object).astype(str))
                            .isin(pd.Index(settled_hospitals).astype(str)), False)
        use &= present[hospital]
    use &= (area >= 0) & (hospital >= 0)
    if not use.any():
        return {}
    value = history["fund_paid" if policy.point_value.basis == "fund_only" else "total_cost"] \
        .to_numpy(dtype=np.float64)
    per_area = history_point_value(value, points, years, area, hospital, len(labels), len(hospital_labels),
                                   policy, use)
    return {label: float(pv) for label, pv in zip(labels, per_area) if np.isfinite(pv)}


def add_points(frame: pd.DataFrame, policy: Policy, table, *, approved=None,
               point_value: np.ndarray | None = None) -> pd.DataFrame:
    """``frame`` with the points breakdown (``case_points`` = final points) and day-care payments.

    ``point_value`` (yuan per point of each stay, default :func:`reference_point_values`) is the
    point value of the ``standard`` outlier reference and of day-care conversions.
    """
    if point_value is None:
        point_value = reference_point_values(frame, policy, table)
    frame = with_columns(frame, **point_breakdown(frame, policy, table, point_value, approved=approved))
    return with_payment_methods(frame, policy, point_value)


def point_breakdown(frame: pd.DataFrame, policy: Policy, table, point_value: np.ndarray, *,
                    approved=None) -> dict:
    """The points columns of ``frame``'s stays (:data:`POINT_COLUMNS` and ``case_points``) before
    day-care payment methods; the point value matters only for the ``standard`` outlier reference."""
    from drgdip.pointvalue.points import case_point_inputs, points_at
    needs_value = policy.points.outliers.outlier_reference == "standard"
    if needs_value and len(frame) and not np.isfinite(point_value).all():
        raise UsageError("the 'standard' outlier reference needs a point value: give "
                         "point_value.budget_point_value or a weight table with its all-case mean",
                         field="point_value.budget_point_value")
    breakdown = points_at(case_point_inputs(frame, table, policy.points),
                          point_value=point_value if needs_value else None, approved=approved)
    added = {c: breakdown[c].array for c in POINT_COLUMNS if c in breakdown.columns}
    added["case_points"] = breakdown["final_points"].to_numpy()
    return added


def with_payment_methods(frame: pd.DataFrame, policy: Policy, point_value: np.ndarray) -> pd.DataFrame:
    """Day-care payment methods turned into points or fixed payments at ``point_value``, then stays
    outside DRG/DIP payment by length of stay (:func:`exclude_by_los`)."""
    if "day_care_payment" in frame.columns:
        frame = apply_day_payments(frame, policy.day_care, point_value)
    return exclude_by_los(frame, policy)


def _depends_on_point_value(frame: pd.DataFrame, policy: Policy) -> bool:
    """Whether day-care payments change with the reference point value: payment methods other than
    points (the ``standard`` outlier reference makes the points themselves depend on it)."""
    if "day_care_payment" not in frame.columns:
        return False
    return bool(frame["day_care_payment"].isin(("value", "bed_day", "ffs", "quota_minus_fee")).any())


def history_with_points(past: pd.DataFrame, years: np.ndarray, policy: Policy, table,
                        settled_hospitals=None) -> tuple[pd.DataFrame, dict]:
    """The history stays with their points, and the budget point value of each area they give.

    Points at the policy's point value (or the weight table's all-case mean per point) give the
    history's point value per area; what depends on the point value is then evaluated once more at
    that value: the points themselves under the ``standard`` outlier reference, else only the
    day-care payment methods. Points are computed in blocks of :data:`HISTORY_BLOCK_ROWS` stays (a
    stay's points depend on the stay alone), so that the per-stay breakdown of tens of millions of
    history stays is never held at once; the result keeps only what settlement reads of the history
    (:data:`HISTORY_COLUMNS` and the points).
    """
    history = past[[c for c in HISTORY_COLUMNS if c in past.columns]]
    columns, kernel_points = _points_in_blocks(past, policy, table, None)
    history = with_columns(history, **columns)
    outlier_class = columns["outlier_class"]
    by_area = None
    if policy.point_value.budget_point_value is None and policy.day_care.reference_point_value is None:
        by_area = history_point_values(history, years, policy, settled_hospitals)
        standard = policy.points.outliers.outlier_reference == "standard"
        if by_area and (standard or _depends_on_point_value(past, policy)):
            refined = reference_point_values(past, policy, table, by_area)
            columns, _ = _points_in_blocks(past, policy, table, refined,
                                           known=None if standard else (kernel_points, outlier_class))
            history = with_columns(history, **columns)
    return with_columns(history, year=years), by_area


def _points_in_blocks(stays: pd.DataFrame, policy: Policy, table, point_value: np.ndarray | None, *,
                      known: tuple | None = None) -> tuple[dict, np.ndarray]:
    """``case_points``, ``fixed_payment``, ``base_points`` and ``outlier_class`` of ``stays``, block by
    block, and the points before day-care payment methods. With ``known`` (those points and the
    outlier classes, when they do not depend on the point value) only the payment methods are
    applied again."""
    kernel_points, known_class = known if known is not None else (None, None)
    from drgdip.pointvalue.points import OUTLIER_CLASSES
    n = len(stays)
    out = {"case_points": np.empty(n), "fixed_payment": np.full(n, np.nan), "base_points": np.empty(n)}
    before = np.empty(n) if kernel_points is None else kernel_points
    outlier = np.empty(n, dtype=np.int8)
    for start in range(0, n, HISTORY_BLOCK_ROWS):
        stop = min(n, start + HISTORY_BLOCK_ROWS)
        block = stays.iloc[start:stop]
        value = reference_point_values(block, policy, table) if point_value is None else point_value[start:stop]
        if kernel_points is None:
            block = with_columns(block, **point_breakdown(block, policy, table, value))
            before[start:stop] = block["case_points"].to_numpy()
        else:
            block = with_columns(block, case_points=kernel_points[start:stop],
                                 outlier_class=known_class[start:stop])
        block = with_payment_methods(block, policy, value)
        for name, values in out.items():
            if name in block.columns:
                values[start:stop] = block[name].to_numpy(dtype=np.float64, na_value=np.nan)
        if "outlier_class" in block.columns:
            outlier[start:stop] = pd.Categorical(block["outlier_class"], categories=OUTLIER_CLASSES).codes
    columns = {name: values for name, values in out.items() if kernel_points is None or name != "base_points"}
    if kernel_points is None:
        columns["outlier_class"] = pd.Categorical.from_codes(outlier, categories=OUTLIER_CLASSES)
    return columns, before


def exclude_by_los(frame: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Stays outside DRG/DIP payment by length of stay [QY] get their recorded fund as a fixed payment."""
    rule = policy.settlement.drg_exclude_los
    if (rule.at_most is None and rule.at_least is None) or "los" not in frame.columns:
        return frame
    los = pd.to_numeric(frame["los"], errors="coerce").to_numpy(dtype=np.float64)
    out = np.zeros(len(frame), dtype=bool)
    if rule.at_most is not None:
        out |= los <= rule.at_most
    if rule.at_least is not None:
        out |= los >= rule.at_least
    if "outlier_class" in frame.columns:
        out &= (frame["outlier_class"] != "bed_day").to_numpy(dtype=bool)   # bed-day stays keep their rule
    if not out.any():
        return frame
    fixed = (frame["fixed_payment"].to_numpy(dtype=np.float64, na_value=np.nan).copy()
             if "fixed_payment" in frame.columns else np.full(len(frame), np.nan))
    fixed = np.where(out & np.isnan(fixed), frame["fund_paid"].to_numpy(dtype=np.float64), fixed)
    return with_columns(frame, fixed_payment=fixed, excluded_by_los=out)


def settle_province(province_or_dir, policy, *, scheme=None, dip=None, weights=None, approved=None,
                    deductions=None, year: int | None = None, regroup: bool = False,
                    clock: StageClock | None = None) -> Settlement:
    """Settle a province under ``policy``: returns a :class:`drgdip.budget.settle.Settlement`.

    Parameters
    ----------
    province_or_dir : directory, cases file, Province, DataFrame or an object with ``cases`` /
        ``hospitals`` / ``outpatient`` DataFrames (e.g. :func:`drgdip.synth.generate_province`'s result)
    policy : Policy or path of a policy YAML
    scheme : grouping scheme (directory or loaded) for DRG stays that need grouping (default: the
        scheme recorded in the province's ``province.json``)
    dip : DIP directory for DIP stays without ``dip_group`` (its scores become the weights)
    weights : WeightTable, DataFrame or CSV path of base points; default: calibrated on history
    approved : special-review approval list (case ids, or a DataFrame with ``case_id``)
    deductions : audit deductions (``hospital_id``, ``amount``, optional ``month``), DataFrame or path
    year : settlement year (default: ``policy.year``, else the latest year in the input)
    regroup : group every stay again, whatever group columns the cases carry
    clock : records the time and memory of each stage (``drgdip settle --timings``)
    """
    if not isinstance(policy, Policy):
        policy = load_policy(policy)
    stage = stage_of(clock)
    warnings: list[str] = []
    with stage("read"):
        province, source = _read_input(province_or_dir, policy, scheme=scheme, dip=dip, regroup=regroup)
        grouping = resolve_grouping(policy, scheme=scheme, dip=dip, info=province.info)
        if isinstance(deductions, (str, Path)):
            deductions = read_table(Path(deductions), what="deductions")
        if isinstance(approved, (str, Path)):
            approved = read_table(Path(approved), what="approved")
    file = province.source
    cases, outpatient = province.cases, province.outpatient
    province = replace(province, cases=pd.DataFrame(), outpatient=None)   # each stay is held once
    with stage("check"):
        cases = check_case_table(_with_hospital_fields(cases, province.hospitals), file=file,
                                 required=SETTLEMENT_COLUMNS)
        read_columns = list(cases.columns)
        cases, years, settle_year, positions = _settlement_years(cases, policy, year, file, warnings)
    with stage("day care"):
        day_care = apply_day_care(cases, policy.day_care, outpatient, file=file)
        del cases, outpatient
        warnings.extend(day_care.warnings)
    with stage("group"):
        frame = group_stays(day_care.cases, policy, grouping, regroup=regroup, warnings=warnings,
                            fetch=lambda columns, rows: source.fetch(columns, positions[rows]))
        del day_care
    with stage("weights"):
        table = _weights(frame, years, settle_year, policy, weights, grouping.dip, warnings)
    current = years == settle_year
    with stage("history points"):
        frame, past = _split_years(frame, current)
        history = by_area = None
        if past is not None:
            history, by_area = history_with_points(past, years[~current], policy, table,
                                                   settled_hospitals=pd.unique(frame["hospital_id"]))
            del past
    with stage("points"):
        point_value = reference_point_values(frame, policy, table, by_area)
        if approved is None or policy.pooling == "province":
            frame = add_points(frame, policy, table, approved=approved, point_value=point_value)
        else:
            frame = _points_by_region(frame, policy, table, approved, point_value)
    with stage("settle"):
        result = settle_cases(frame, policy, hospitals=province.hospitals, history=history,
                              deductions=deductions, file=file, year=settle_year)
        del frame, history
    with stage("input columns"):
        cases_out = _with_input_columns(result.cases, source, read_columns, positions[current])
    return replace(result, cases=cases_out, warnings=tuple(warnings) + result.warnings)


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
    columns = {"cases": cases_source.compute_columns(with_grouping_inputs=whole),
               "outpatient": OUTPATIENT_COLUMNS}
    province = read_province(source, tables=tables, columns=columns, categorical=CATEGORICAL_COLUMNS)
    return province, cases_source


def _with_input_columns(cases: pd.DataFrame, source: CaseSource, read_columns: list[str],
                        rows: np.ndarray) -> pd.DataFrame:
    """The per-stay output with every input column, in input order, then the settlement's columns."""
    missing = [c for c in source.columns if c not in read_columns and c not in cases.columns]
    if not missing:
        return cases
    extra = check_case_table(source.fetch(missing, rows), file=str(source.path or "<cases>"), file_rows=rows + 1)
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


def _points_by_region(frame: pd.DataFrame, policy: Policy, table, approved, point_value: np.ndarray
                      ) -> pd.DataFrame:
    """Points region by region, so that the special-review quota is that of each pooling region (§5.4)."""
    if isinstance(approved, pd.DataFrame):
        approved_ids = approved["case_id"].astype(str)
    else:
        approved = pd.DataFrame({"case_id": [str(a) for a in approved]})
        approved_ids = approved["case_id"]
    region = frame["region"].astype("string").fillna("").to_numpy(dtype=object)
    ids = frame["case_id"].astype(str)
    unknown = ~approved_ids.isin(ids)
    if unknown.any():
        raise UsageError(f"approval list names {int(unknown.sum())} stay(s) not in the settlement year, e.g. "
                         f"{approved_ids[unknown].iloc[0]!r}", file="<approvals>", field="case_id")
    parts = []
    for label in pd.unique(region):
        rows = np.flatnonzero(region == label)
        part = frame.iloc[rows]
        mine = approved[approved_ids.isin(ids.iloc[rows]).to_numpy()]
        points = add_points(part, policy, table, approved=mine if len(mine) else None,
                            point_value=point_value[rows])
        parts.append(points.assign(_row=rows))
    return pd.concat(parts).sort_values("_row").drop(columns="_row").reset_index(drop=True)
