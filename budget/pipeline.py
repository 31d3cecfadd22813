"""Settle a province end to end: day care → grouping → points → settlement (§1).

:func:`settle_province` reads a province (directory, files or DataFrames), applies the policy's
day-care rules to every year, groups the stays that have no group yet (DRG with ``grouper``, DIP
with a DIP directory), calibrates weights on the years before the settlement year (or uses the
given table), computes points with :func:`drgdip.pointvalue.case_points`, turns day-care payment methods
into points or fixed payments, and settles the settlement year with :func:`drgdip.budget.settle.settle_cases`.
The earlier years are the history: weights, last year's fund, the budget point value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from drgdip.budget.daycare import apply_day_care, apply_day_payments
from drgdip.budget.frame import stay_years
from drgdip.budget.policy import Policy, load_policy
from drgdip.core.province import read_province
from drgdip.core.tables import read_table
from drgdip.budget.settle import Settlement, settle_cases
from drgdip.core.errors import UsageError

__all__ = ["settle_province", "case_years", "prepare_points", "reference_point_values", "history_point_values"]

POINT_COLUMNS = ("base_points", "cost_ratio", "outlier_class", "applied_hospital_coef", "remote_coef",
                 "special_review_candidate", "review_status")


def case_years(cases: pd.DataFrame, file: str = "<cases>") -> np.ndarray:
    """Settlement year of each stay: ``year``, else the year of ``settle_date`` or ``discharge_time``."""
    return stay_years(cases, file)


def _with_hospital_fields(cases: pd.DataFrame, hospitals: pd.DataFrame | None) -> pd.DataFrame:
    """Fill hospital_level and region from the hospitals table where the cases lack them."""
    if hospitals is None or "hospital_id" not in hospitals.columns or "hospital_id" not in cases.columns:
        return cases
    table = hospitals.drop_duplicates("hospital_id").set_index(hospitals["hospital_id"].drop_duplicates()
                                                               .astype(str).to_numpy())
    ids = cases["hospital_id"].astype(str)
    added = {}
    for target, source in (("hospital_level", "level"), ("region", "region")):
        if source in table.columns and (target not in cases.columns or cases[target].isna().any()):
            values = ids.map(table[source])
            added[target] = values if target not in cases.columns else cases[target].where(cases[target].notna(),
                                                                                           values)
    return cases.assign(**added) if added else cases


def _group(frame: pd.DataFrame, policy: Policy, scheme, dip, warnings: list[str]) -> pd.DataFrame:
    """Group the stays that have no group (or whose codes changed by a day-care merge)."""
    regroup = frame["needs_regroup"].to_numpy(dtype=bool) if "needs_regroup" in frame.columns \
        else np.zeros(len(frame), dtype=bool)
    if policy.points.is_dip:
        if "dip_group" in frame.columns and not regroup.any():
            return frame
        if dip is None:
            if "dip_group" not in frame.columns:
                raise UsageError("the cases have no dip_group column: give a DIP directory (--dip)",
                                 field="dip_group")
            warnings.append(f"{int(regroup.sum())} merged stay(s) keep the DIP group of their ward stay "
                            "(no DIP directory given to regroup them)")
            return frame
        from drgdip.grouper.dip import group_dip
        rows = regroup if "dip_group" in frame.columns else np.ones(len(frame), dtype=bool)
        grouped = group_dip(frame.loc[rows].reset_index(drop=True), dip)
        return _put(frame, rows, grouped, ("dip_group", "dip_type", "dip_score", "dip_basic", "dip_aux_coef"))
    if "drg" in frame.columns and not regroup.any():
        return frame
    if scheme is None:
        if "drg" not in frame.columns:
            raise UsageError("the cases have no drg column: give a grouping scheme (--scheme)", field="drg")
        warnings.append(f"{int(regroup.sum())} merged stay(s) keep the DRG of their ward stay "
                        "(no scheme given to regroup them)")
        return frame
    from drgdip.grouper import group_cases, load_scheme
    if not hasattr(scheme, "compiled"):
        scheme = load_scheme(scheme)
    rows = regroup if "drg" in frame.columns else np.ones(len(frame), dtype=bool)
    grouped = group_cases(frame.loc[rows].reset_index(drop=True), scheme)
    return _put(frame, rows, grouped, ("status", "mdc", "adrg", "drg"))


def _put(frame: pd.DataFrame, rows: np.ndarray, grouped: pd.DataFrame, columns) -> pd.DataFrame:
    if rows.all():
        return frame.assign(**{c: grouped[c].to_numpy() for c in columns if c in grouped.columns})
    out = frame.copy()
    for column in columns:
        if column not in grouped.columns:
            continue
        values = grouped[column].astype(object).to_numpy() if column in out.columns else None
        if column not in out.columns:
            out[column] = pd.Series([None] * len(out), dtype=object)
        else:
            out[column] = out[column].astype(object)
        out.loc[out.index[rows], column] = values
    return out


def _weights(frame: pd.DataFrame, years: np.ndarray, settle_year: int, policy: Policy, weights, dip,
             warnings: list[str]):
    """The weight / score table: given, a DIP directory's scores, or calibrated on earlier years."""
    from drgdip.pointvalue import DipScores, DrgWeights, WeightTable
    if weights is not None:
        if isinstance(weights, (str, Path)):
            return WeightTable.from_csv(weights, points_scale=policy.points.points_scale)
        return weights
    if policy.points.is_dip and dip is not None:
        from drgdip.grouper.dip_directory import DipDirectory, load_dip_directory
        directory = dip if isinstance(dip, DipDirectory) else load_dip_directory(dip)
        return WeightTable.from_dip_directory(directory)
    history = years < settle_year
    ok = _settled(frame)
    use = history & ok
    if not use.any():
        warnings.append(f"no stays before {settle_year}: weights calibrated on the settlement year itself")
        use = ok
    calibrator = (DipScores if policy.points.is_dip else DrgWeights).from_policy(policy.points)
    columns = [c for c in ("drg", "dip_group", "mdc", "total_cost", "hospital_level") if c in frame.columns]
    history_frame = frame.loc[use, columns].assign(year=years[use])
    return calibrator.fit(history_frame).weight_table()


def _settled(frame: pd.DataFrame) -> np.ndarray:
    """Stays whose ``settle_status`` is ok (all when the column is absent)."""
    if "settle_status" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    return (frame["settle_status"] == "ok").fillna(False).to_numpy(dtype=bool)


def _area_labels(frame: pd.DataFrame, policy: Policy) -> np.ndarray:
    """Pooling-area label of each stay (its treatment region, or the region's province prefix)."""
    if "region" not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    codes, uniques = pd.factorize(frame["region"], use_na_sentinel=True)
    labels = [str(u) for u in uniques]
    if policy.pooling == "province":
        labels = [u[: policy.points.remote.province_prefix_len] for u in labels]
    return np.asarray(labels + [""], dtype=object)[codes]


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
    areas = _area_labels(frame, policy)
    return pd.Series(areas).map(values).fillna(fallback).to_numpy(dtype=np.float64)


def history_point_values(history: pd.DataFrame, years: np.ndarray, policy: Policy) -> dict:
    """Budget point value per pooling area from history stays with points (§6.2):
    Σ_y w_y·cost_y / Σ_y w_y·points_y over the latest ``len(year_weights)`` years."""
    settled = _settled(history)
    points = history["case_points"].to_numpy(dtype=np.float64, na_value=np.nan)
    use = settled & np.isfinite(points) & (points > 0)
    if not use.any():
        return {}
    weights = np.asarray(policy.budget_year_weights, dtype=np.float64)
    kept = np.unique(years[use])[-len(weights):]
    weight = dict(zip(kept, weights[-len(kept):]))
    use &= np.isin(years, kept)
    value = history["fund_paid" if policy.point_value.basis == "fund_only" else "total_cost"] \
        .to_numpy(dtype=np.float64)
    w = pd.Series(years[use]).map(weight).to_numpy(dtype=np.float64)
    frame = pd.DataFrame({"area": _area_labels(history, policy)[use], "num": w * value[use], "den": w * points[use]})
    sums = frame.groupby("area").sum()
    return (sums["num"] / sums["den"]).to_dict()


def prepare_points(frame: pd.DataFrame, policy: Policy, table, approved=None,
                   point_value: np.ndarray | None = None) -> pd.DataFrame:
    """Add the points breakdown (``case_points`` = final points) and day-care payments to ``frame``.

    ``point_value`` (yuan per point of each stay, default :func:`reference_point_values`) is the
    point value of the ``standard`` outlier reference and of day-care conversions.
    """
    from drgdip.pointvalue import case_points
    if point_value is None:
        point_value = reference_point_values(frame, policy, table)
    needs_value = policy.points.outliers.outlier_reference == "standard"
    if needs_value and len(frame) and not np.isfinite(point_value).all():
        raise UsageError("the 'standard' outlier reference needs a point value: give "
                         "point_value.budget_point_value or a weight table with its all-case mean",
                         field="point_value.budget_point_value")
    breakdown = case_points(frame, table, policy.points, point_value=point_value if needs_value else None,
                            approved=approved)
    added = {c: breakdown[c].to_numpy() for c in POINT_COLUMNS if c in breakdown.columns}
    added["case_points"] = breakdown["final_points"].to_numpy()
    frame = frame.assign(**added)
    if "day_care_payment" in frame.columns:
        frame = apply_day_payments(frame, policy.day_care, point_value)
    return exclude_by_los(frame, policy)


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
    return frame.assign(fixed_payment=fixed, excluded_by_los=out)


def settle_province(province_or_dir, policy, *, scheme=None, dip=None, weights=None, approved=None,
                    deductions=None, year: int | None = None) -> Settlement:
    """Settle a province under ``policy``: returns a :class:`drgdip.budget.settle.Settlement`.

    Parameters
    ----------
    province_or_dir : directory, cases file, Province, DataFrame or an object with ``cases`` /
        ``hospitals`` / ``outpatient`` DataFrames (e.g. :func:`drgdip.synth.generate_province`'s result)
    policy : Policy or path of a policy YAML
    scheme : grouping scheme (directory or loaded) for DRG stays without a ``drg`` column
    dip : DIP directory for DIP stays without ``dip_group`` (its scores become the weights)
    weights : WeightTable, DataFrame or CSV path of base points; default: calibrated on history
    approved : special-review approval list (case ids, or a DataFrame with ``case_id``)
    deductions : audit deductions (``hospital_id``, ``amount``, optional ``month``), DataFrame or path
    year : settlement year (default: ``policy.year``, else the latest year in the input)
    """
    if not isinstance(policy, Policy):
        policy = load_policy(policy)
    province = read_province(province_or_dir)
    if isinstance(deductions, (str, Path)):
        deductions = read_table(Path(deductions), what="deductions")
    if isinstance(approved, (str, Path)):
        approved = read_table(Path(approved), what="approved")
    warnings: list[str] = []
    cases = _with_hospital_fields(province.cases, province.hospitals)
    file = province.source
    years = case_years(cases, file)
    settle_year = int(year or policy.year or years.max())
    if not (years == settle_year).any():
        raise UsageError(f"no stays in the settlement year {settle_year} (years in the input: "
                         f"{', '.join(map(str, np.unique(years)))})", file=file, field="year")
    keep = years <= settle_year
    if not keep.all():
        later = ", ".join(map(str, np.unique(years[~keep])))
        warnings.append(f"{int((~keep).sum()):,} stays of later years ({later}) are not part of the "
                        f"{settle_year} settlement and were left out")
        cases, years = cases.loc[keep].reset_index(drop=True), years[keep]
    if (years < settle_year).any():
        warnings.append(f"{int((years < settle_year).sum()):,} stays of "
                        f"{', '.join(map(str, np.unique(years[years < settle_year])))} are history: weights, "
                        f"last year's fund and the budget point value (not in the per-stay output)")

    day_care = apply_day_care(cases, policy.day_care, province.outpatient, file=file)
    warnings.extend(day_care.warnings)
    frame = _group(day_care.cases, policy, scheme, dip, warnings)
    table = _weights(frame, years, settle_year, policy, weights, dip, warnings)
    current = years == settle_year
    history = None
    by_area = None
    if not current.all():
        past = frame.loc[~current].reset_index(drop=True)
        history = prepare_points(past, policy, table)
        if policy.point_value.budget_point_value is None and policy.day_care.reference_point_value is None:
            # refine: the budget point value of each area from history becomes the reference point value
            by_area = history_point_values(history, years[~current], policy)
            if by_area:
                history = prepare_points(past, policy, table,
                                         point_value=reference_point_values(past, policy, table, by_area))
        history = history.assign(year=years[~current])
    frame = frame.loc[current].reset_index(drop=True)
    point_value = reference_point_values(frame, policy, table, by_area)
    if approved is None or policy.pooling == "province":
        frame = prepare_points(frame, policy, table, approved=approved, point_value=point_value)
    else:
        frame = _points_by_region(frame, policy, table, approved, point_value)
    result = settle_cases(frame, policy, hospitals=province.hospitals, history=history, deductions=deductions,
                          file=file, year=settle_year)
    return Settlement(cases=result.cases, hospitals=result.hospitals, clearing=result.clearing,
                      summary=result.summary, pools=result.pools, monthly=result.monthly,
                      clearing_matrix=result.clearing_matrix,
                      warnings=tuple(warnings) + result.warnings)


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
        points = prepare_points(part, policy, table, approved=mine if len(mine) else None,
                                point_value=point_value[rows])
        parts.append(points.assign(_row=rows))
    return pd.concat(parts).sort_values("_row").drop(columns="_row").reset_index(drop=True)
