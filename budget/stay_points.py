"""The points of a settlement run: the history's (in blocks, refined at the history's own point value)
and the settlement year's, with day-care payment methods and length-of-stay exclusions applied.

The history's points give the budget point value of each area (:func:`history_point_values`, the one
formula of :func:`drgdip.budget.point_value.history_point_value`); that value is the reference point
value (:func:`reference_point_values`) of the ``standard`` outlier reference and of day-care amounts
turned into points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drgdip.budget.daycare import apply_day_payments
from drgdip.budget.point_value import history_point_value
from drgdip.budget.policy import Policy
from drgdip.core.errors import UsageError, rows_in_file
from drgdip.core.frames import with_columns

__all__ = ["settlement_year_points", "add_points", "point_breakdown", "with_payment_methods", "history_with_points",
           "history_point_values", "history_layout", "stay_areas",
           "reference_point_values", "exclude_by_los", "points_by_region", "settled", "POINT_COLUMNS",
           "HISTORY_COLUMNS"]

POINT_COLUMNS = ("base_points", "cost_ratio", "outlier_class", "applied_hospital_coef", "remote_coef",
                 "special_review_candidate", "review_status")
# every column the points stage writes (added, or rewritten from the input's)
POINTS_STAGE_COLUMNS = POINT_COLUMNS + ("case_points", "fund_part_points", "day_care_amount", "fixed_payment",
                                        "excluded_by_los")
# what settlement reads of the history stays besides their points (budget, last year's fund, point value)
HISTORY_COLUMNS = ("case_id", "hospital_id", "hospital_level", "region", "insured_region", "insurance_type",
                   "month", "settle_date", "discharge_time", "total_cost", "fund_paid", "settle_status")
HISTORY_BLOCK_ROWS = 2_000_000


def settled(frame: pd.DataFrame) -> np.ndarray:
    """Stays whose ``settle_status`` is ok (all when the column is absent)."""
    if "settle_status" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    return (frame["settle_status"] == "ok").fillna(False).to_numpy(dtype=bool)


def stay_areas(frame: pd.DataFrame, policy: Policy) -> tuple[np.ndarray, list[str]]:
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


def reference_point_values(frame: pd.DataFrame, policy: Policy, table, by_area: dict | None = None, *,
                           areas: tuple | None = None) -> np.ndarray:
    """Yuan per point of each stay for the ``standard`` outlier reference and day-care conversions.

    First found: ``day_care.reference_point_value``; the policy's budget point value (one value or
    per area); ``by_area`` (the budget point value of the area from history); the all-case mean
    cost ÷ points scale of the weight table (NaN when none is known). ``areas``: :func:`stay_areas`
    of the same stays and policy, when known.
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
    area, labels = areas if areas is not None else stay_areas(frame, policy)
    per_area = np.asarray([float(values.get(label, fallback)) for label in labels] + [fallback])
    return per_area[area]


def history_point_values(history: pd.DataFrame, years: np.ndarray, policy: Policy,
                         settled_hospitals=None, *, layout: tuple | None = None, memo: dict | None = None) -> dict:
    """Budget point value of each pooling area from the history stays with points, by the one formula
    of :func:`drgdip.budget.point_value.history_point_value`, over the stays settlement uses for it:
    settled, paid by points (no fixed payment), treated in a region the policy settles, insured in
    the province, at a hospital with stays in the settlement year (``settled_hospitals``; all when
    None). ``layout``: :func:`history_layout` of the same stays, policy and hospitals, when known;
    ``memo``: kept with it (see :func:`~drgdip.budget.point_value.history_point_value`)."""
    use, area, labels, hospital, n_hospitals, value = layout or history_layout(history, policy, settled_hospitals)
    points = history["case_points"].to_numpy(dtype=np.float64, na_value=np.nan)
    if "fixed_payment" in history.columns:
        use = _without_fixed_payments(use, history["fixed_payment"], memo)
    per_area = history_point_value(value, points, years, area, hospital, len(labels), n_hospitals, policy, use,
                                   memo=memo)
    return {label: float(pv) for label, pv in zip(labels, per_area) if np.isfinite(pv)}


def _without_fixed_payments(use: np.ndarray, fixed_payment: pd.Series, memo: dict | None) -> np.ndarray:
    """``use`` less the stays with a fixed payment; kept in ``memo`` for the same ``use`` and the same
    column (a scenario's history keeps the last one's fixed payments)."""
    values = fixed_payment.to_numpy()
    owner = values.base if isinstance(values.base, np.ndarray) else values
    signature = (values.__array_interface__["data"], values.shape, values.strides)
    kept = memo.get("without_fixed") if memo is not None else None
    if kept is not None and kept[0] is use and kept[1] is owner and kept[2] == signature:
        return kept[3]
    out = use & fixed_payment.isna().to_numpy()
    if memo is not None:   # holding the column's array, so that no other can take its place in memory
        memo["without_fixed"] = (use, owner, signature, out)
    return out


def history_layout(history: pd.DataFrame, policy: Policy, settled_hospitals=None) -> tuple:
    """What :func:`history_point_values` reads of the history besides its points: (the stays it may use
    whatever their points, their area, the area labels, their hospital, the number of hospitals, the
    yuan of each stay)."""
    from drgdip.pointvalue.coefs import pool_codes

    use = settled(history).copy()
    if "insured_region" in history.columns and "region" in history.columns:
        use &= pool_codes(history["region"], history["insured_region"],
                          policy.points.remote.province_prefix_len) != 2   # insured in another province
    area, labels = stay_areas(history, policy)
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
    value = history["fund_paid" if policy.point_value.basis == "fund_only" else "total_cost"] \
        .to_numpy(dtype=np.float64)
    return use, area, labels, hospital, len(hospital_labels), value


def settlement_year_points(frame: pd.DataFrame, policy: Policy, table, *, approved=None,
                           by_area: dict | None = None, recipe_parts: list | None = None) -> pd.DataFrame:
    """The settlement year's stays with their points, at the reference point value of their area
    (``by_area``: the history's budget point value of each area). ``recipe_parts``: see
    :func:`point_breakdown` (without an approval list)."""
    point_value = reference_point_values(frame, policy, table, by_area)
    if approved is None or policy.pooling == "province":
        return add_points(frame, policy, table, approved=approved, point_value=point_value,
                          recipe_parts=recipe_parts if approved is None else None)
    return points_by_region(frame, policy, table, approved, point_value)


def add_points(frame: pd.DataFrame, policy: Policy, table, *, approved=None,
               point_value: np.ndarray | None = None, recipe_parts: list | None = None) -> pd.DataFrame:
    """``frame`` with the points breakdown (``case_points`` = final points) and day-care payments.

    ``point_value`` (yuan per point of each stay, default :func:`reference_point_values`) is the
    point value of the ``standard`` outlier reference and of day-care conversions.
    """
    if point_value is None:
        point_value = reference_point_values(frame, policy, table)
    frame = with_columns(frame, **point_breakdown(frame, policy, table, point_value, approved=approved,
                                                  recipe_parts=recipe_parts))
    return with_payment_methods(frame, policy, point_value)


def point_breakdown(frame: pd.DataFrame, policy: Policy, table, point_value: np.ndarray, *,
                    approved=None, recipe_parts: list | None = None) -> dict:
    """The points columns of ``frame``'s stays (:data:`POINT_COLUMNS` and ``case_points``) before
    day-care payment methods; the point value matters only for the ``standard`` outlier reference.
    ``recipe_parts``: gets what :mod:`drgdip.pointvalue.repricing` keeps of these stays."""
    from drgdip.pointvalue.points import case_point_inputs, points_at
    from drgdip.pointvalue.repricing import recipe_part
    needs_value = policy.points.outliers.outlier_reference == "standard"
    if needs_value and len(frame) and not np.isfinite(point_value).all():
        raise UsageError("the 'standard' outlier reference needs a point value: give "
                         "point_value.budget_point_value or a weight table with its all-case mean",
                         field="point_value.budget_point_value")
    inputs = case_point_inputs(frame, table, policy.points)
    breakdown = points_at(inputs, point_value=point_value if needs_value else None, approved=approved)
    if recipe_parts is not None:
        recipe_parts.append(recipe_part(inputs, breakdown))
    added = {c: breakdown[c].array for c in POINT_COLUMNS if c in breakdown.columns}
    added["case_points"] = breakdown["final_points"].to_numpy()
    if policy.points.bed_day.fund_shares:
        added["fund_part_points"] = breakdown["fund_part_points"].to_numpy()
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
                        settled_hospitals=None, recipe_parts: list | None = None,
                        memo: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """The history stays with their points, and the budget point value of each area they give.

    Points at the policy's point value (or the weight table's all-case mean per point) give the
    history's point value per area; what depends on the point value is then evaluated once more at
    that value: the points themselves under the ``standard`` outlier reference, else only the
    day-care payment methods. Points are computed in blocks of :data:`HISTORY_BLOCK_ROWS` stays (a
    stay's points depend on the stay alone), so that the per-stay breakdown of tens of millions of
    history stays is never held at once; the result keeps only what settlement reads of the history
    (:data:`HISTORY_COLUMNS` and the points). ``recipe_parts``: see :func:`point_breakdown`;
    ``memo``: gets the :func:`history_layout` used, for later runs on the same stays.
    """
    history = past[[c for c in HISTORY_COLUMNS if c in past.columns]]
    columns, kernel_points = _points_in_blocks(past, policy, table, None, recipe_parts=recipe_parts)
    history = with_columns(history, **columns)
    outlier_class = columns["outlier_class"]
    by_area = None
    if policy.point_value.budget_point_value is None and policy.day_care.reference_point_value is None:
        layout = history_layout(history, policy, settled_hospitals)
        if memo is not None:
            memo["layout"] = layout
        by_area = history_point_values(history, years, policy, settled_hospitals, layout=layout,
                                       memo=memo.setdefault("reference_sums", {}) if memo is not None else None)
        standard = policy.points.outliers.outlier_reference == "standard"
        if by_area and (standard or _depends_on_point_value(past, policy)):
            refined = reference_point_values(past, policy, table, by_area)
            columns, _ = _points_in_blocks(past, policy, table, refined,
                                           known=None if standard else (kernel_points, outlier_class))
            history = with_columns(history, **columns)
    return with_columns(history, year=years), by_area


def _points_in_blocks(stays: pd.DataFrame, policy: Policy, table, point_value: np.ndarray | None, *,
                      known: tuple | None = None, recipe_parts: list | None = None) -> tuple[dict, np.ndarray]:
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
            with rows_in_file({"<DataFrame>": range(start, stop)}, file="<DataFrame>"):   # rows of ``stays``
                block = with_columns(block, **point_breakdown(block, policy, table, value,
                                                              recipe_parts=recipe_parts))
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


def points_by_region(frame: pd.DataFrame, policy: Policy, table, approved, point_value: np.ndarray
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
