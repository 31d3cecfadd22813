"""Case points (病例点数 / 病例分值): the full, auditable per-case breakdown (domain.md §4, §5, §9).

``final_points = base_points × outlier_factor × applied_hospital_coef × aux_coef × remote_coef × other_coef``

Per case, in this order:

1. **bed_day** -- group listed in ``policy.bed_day.groups`` (or ``payment_method == 'bed_day'``):
   base points = the fund's part of the bed-day payment / mean cost per case × scale; no hospital or
   aux coefficient. With ``bed_day.acute_phase: points`` a stay of a group that ends within the first
   (acute) phase is an ordinary case; a longer one keeps base = the group's base points and the
   hospital and aux coefficients of a normal case, and ``outlier_factor = 1 + bed-day points /
   (base × coef × aux)`` adds the bed-day points of its days in the later phases; its reference
   cost is the group's plus the bed-day standard of those days. With fund shares in the phases the
   bed-day points are the fund's part already: ``fund_part_points`` (bed-day points × remote and
   other coefficients, else 0) tells settlement not to apply the fund ratio to them again.
2. **ungrouped** (blank group 空白病组) -- no group, DRG status other than ``ok``, DIP type
   ``ungrouped`` or a group missing from the table: base = ``points_scale`` (the all-case mean),
   reference = all-case mean cost, factor = ``blank_group × ratio``; coefficients only with
   ``blank_group_coefs``.
3. **special_review** -- approved by review (``approved``): ``approved_points`` when given, else
   ``ffs`` = base × ratio × coef (= cost / point value under the ``standard`` reference) or
   ``standard`` = base × coef.
4. by ``ratio = total_cost / reference``: **low**, **extreme**, **high** or **normal**, with the formulas
   of :class:`drgdip.pointvalue.rules.OutlierRules`.

The reference cost is that of the case's (sub)group: ``standard`` = base × point value × coef × aux
(the payment standard at the hospital's level), ``group_mean`` = the group's mean cost × aux,
``same_level_mean`` = the group's mean cost at hospitals of the case's level × aux (the group mean where
the table has no value for that level), ``score_x_factor`` = base × reference_factor × aux.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from drgdip.core.errors import UsageError
from drgdip.pointvalue import _kernels as K
from drgdip.core.checks import number_column
from drgdip.core.tables import read_table, source_name
from drgdip.pointvalue._io import code_column, group_index
from drgdip.pointvalue.bedday import bed_day_payment, bed_day_points
from drgdip.pointvalue.coefs import POOLS, pool_codes
from drgdip.pointvalue.rules import APPROVED_PAYMENTS, HIGH_FORMULAS, HospitalCoefTable, PointsPolicy
from drgdip.pointvalue.special import special_review_quota
from drgdip.pointvalue.weights import WeightTable

__all__ = ["case_points", "case_point_inputs", "points_at", "unknown_groups", "CasePointInputs", "OUTLIER_CLASSES",
           "BREAKDOWN_COLUMNS", "REVIEW_STATUSES"]

OUTLIER_CLASSES = ("normal", "low", "high", "extreme", "ungrouped", "special_review", "bed_day")
REVIEW_STATUSES = ("none", "approved", "over_quota")

BREAKDOWN_COLUMNS = (
    "case_id", "group", "hospital_id", "hospital_level", "pool", "total_cost", "base_points",
    "reference_cost", "cost_ratio", "outlier_class", "hospital_level_coef", "basic_group_coef",
    "applied_hospital_coef", "aux_coef", "remote_coef", "other_coef", "outlier_factor", "final_points",
    "fund_part_points", "special_review_candidate", "review_status",
)

_FLOAT_COLUMNS = tuple(c for c in BREAKDOWN_COLUMNS if c not in (
    "case_id", "group", "hospital_id", "hospital_level", "pool", "outlier_class", "special_review_candidate",
    "review_status"))

_INPUT_COLUMNS = ("case_id", "total_cost", "hospital_id", "hospital_level", "region", "insured_region",
                  "los", "status", "dip_type", "aux_coef", "other_coef", "insurance_type", "payment_method",
                  "hospital_type")


def _as_weight_table(weights) -> WeightTable:
    if isinstance(weights, WeightTable):
        return weights
    if isinstance(weights, pd.DataFrame):
        frame = weights.rename(columns={"score": "base_points"}) if "base_points" not in weights.columns \
            else weights
        if "group" not in frame.columns:
            for name in ("drg", "dip_group"):
                if name in frame.columns:
                    frame = frame.rename(columns={name: "group"})
                    break
        scale = 100.0
        if "rw" in frame.columns and "base_points" in frame.columns:
            ratio = frame["base_points"] / frame["rw"]
            if len(ratio) and np.allclose(ratio, ratio.iloc[0]):
                scale = float(ratio.iloc[0])
        return WeightTable(frame=frame, points_scale=scale)
    to_table = getattr(weights, "weight_table", None)
    if callable(to_table):  # a fitted calibrator
        return to_table()
    from drgdip.grouper.dip_directory import DipDirectory  # the grouper loads only when weights need it
    if isinstance(weights, DipDirectory):
        return WeightTable.from_dip_directory(weights)
    raise UsageError(f"weights: expected a WeightTable, DipDirectory or DataFrame, got {type(weights).__name__}")


def _equals(values: pd.Series, text: str) -> np.ndarray:
    """``values == text`` as bool (missing is False), one comparison per category for categoricals."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        hit = np.append(np.asarray([str(c) == text for c in values.cat.categories], dtype=bool), False)
        return hit[values.cat.codes.to_numpy()]
    return (values.astype("string") == text).fillna(False).to_numpy(dtype=bool)


def _point_value_per_case(point_value, frame: pd.DataFrame, n: int, file: str) -> np.ndarray | None:
    if point_value is None:
        return None
    if isinstance(point_value, Mapping):
        if "insurance_type" not in frame.columns:
            raise UsageError("point_value is given per insurance type but the cases have no insurance_type",
                             file=file, field="insurance_type")
        kinds = frame["insurance_type"].astype("string")
        values = kinds.map({str(k): float(v) for k, v in point_value.items()})
        missing = values.isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise UsageError(f"no point value for insurance type {kinds.iloc[row]!r} "
                             f"(given: {', '.join(map(str, point_value))})", file=file, row=row + 1,
                             field="insurance_type")
        pv = values.to_numpy(dtype=np.float64)
    elif np.ndim(point_value) == 0:
        pv = np.full(n, float(point_value))
    else:
        pv = np.asarray(point_value, dtype=np.float64)
        if pv.shape != (n,):
            raise UsageError(f"point_value has {pv.size} values for {n} cases")
    if not np.all(np.isfinite(pv) & (pv > 0)):
        raise UsageError("point_value must be positive and finite")
    return pv


def _hospital_coef(frame: pd.DataFrame, table: HospitalCoefTable, n: int, file: str) -> tuple[np.ndarray, np.ndarray]:
    """Per case (hospital_level_coef, hospital_level as float with NaN where absent)."""
    if "hospital_level" in frame.columns:
        level = number_column(frame, "hospital_level", file=file, integer=True, allow_missing=True)
    else:
        level = np.full(n, np.nan)
    coef = np.full(n, np.nan)
    known = ~np.isnan(level)
    if known.any():
        given = level[known].astype(np.int64)
        if np.ptp(given) > 1000:
            position, levels = pd.factorize(given)
        else:
            levels, position = _small_codes(given)   # a handful of levels, each looked up once
        per_level = np.full(len(levels), np.nan)
        for k, lv in enumerate(levels):
            if lv in table.by_level or table.default is not None:
                per_level[k] = table.level_coef(int(lv))
        coef[known] = per_level[position]
    if table.by_hospital and "hospital_id" in frame.columns:
        hospitals = pd.Index(list(table.by_hospital))
        hospital_id = frame["hospital_id"]
        if not isinstance(hospital_id.dtype, pd.CategoricalDtype):
            hospital_id = hospital_id.astype("string")
        index = group_index(hospital_id, hospitals)
        override = np.asarray(list(table.by_hospital.values()), dtype=np.float64)
        has = index >= 0
        coef[has] = override[index[has]]
    missing = np.isnan(coef)
    if missing.any():
        distinct = set(table.by_level.values())
        if table.default is not None:
            coef[missing] = table.default
        elif len(distinct) == 1 and not known[missing].any():
            coef[missing] = distinct.pop()
        else:
            row = int(np.flatnonzero(missing)[0])
            if np.isnan(level[row]):
                raise UsageError("hospital_level is needed for the hospital coefficient (or list the hospital "
                                 "in hospital_coef.by_hospital, or set hospital_coef.default)",
                                 file=file, row=row + 1, field="hospital_level")
            raise UsageError(f"no hospital coefficient for level {int(level[row])} (levels: "
                             f"{sorted(table.by_level)}); set hospital_coef.default or add the level",
                             file=file, row=row + 1, field="hospital_level")
    return coef, level


def _small_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the values present, each value's position among them) for integers of a small range."""
    lowest = int(values.min())
    present = np.flatnonzero(np.bincount(values - lowest))
    position = np.full(int(values.max()) - lowest + 1, -1, dtype=np.int64)
    position[present] = np.arange(len(present))
    return present + lowest, position[values - lowest]


def _conservative_groups(tf: pd.DataFrame) -> np.ndarray | None:
    """Which groups of a weight table are conservative (medical, 保守治疗): its ``conservative`` column
    (a DIP directory's core groups without a procedure and medical comprehensive groups), else for
    CHS-DRG codes the medical ADRGs, whose second letter is R to Z; None when neither is known."""
    if "conservative" in tf.columns:
        return tf["conservative"].to_numpy(dtype=bool)
    groups = tf["group"].astype(str)
    if len(groups) and groups.str.fullmatch(r"[A-Z]{2}\w{1,2}").all():
        return groups.str[1].isin(list("RSTUVWXYZ")).to_numpy()
    return None


def _specific_coefs(coef: np.ndarray, level: np.ndarray, frame: pd.DataFrame, table: HospitalCoefTable,
                    tf: pd.DataFrame, safe_row: np.ndarray, ungrouped: np.ndarray, codes: pd.Series, file: str,
                    weights_file: str) -> np.ndarray:
    """The coefficients more specific than the level's, over ``coef`` (by_level / by_hospital), in
    reverse precedence so that the more specific wins: by insurance type, by hospital type for
    conservative groups, by group and level; a hospital's own coefficient (by_hospital) stays on top."""
    coef = coef.copy()
    if table.by_insurance:
        if "insurance_type" not in frame.columns:
            raise UsageError("hospital_coef.by_insurance needs the cases' insurance_type", file=file,
                             field="insurance_type")
        kinds = frame["insurance_type"].astype("string")
        given = kinds.map({str(k): float(v) for k, v in table.by_insurance.items()}).to_numpy(dtype=np.float64,
                                                                                          na_value=np.nan)
        coef = np.where(np.isnan(given), coef, given)
    if table.conservative_by_type:
        conservative = _conservative_groups(tf)
        if conservative is None:
            raise UsageError("hospital_coef.conservative_by_type needs to know the conservative groups: give the "
                             "weight table a 'conservative' column (true for medical groups)", file=weights_file,
                             field="conservative")
        if "hospital_type" not in frame.columns:
            raise UsageError("hospital_coef.conservative_by_type needs each hospital's hospital_type (a column of "
                             "the cases or of the hospitals table)", file=file, field="hospital_type")
        hit = ~ungrouped & (conservative[safe_row] if len(conservative) else False)
        kind = frame["hospital_type"].astype("string")
        given = kind.map({str(k): float(v) for k, v in table.conservative_by_type.items()}) \
            .to_numpy(dtype=np.float64, na_value=np.nan)
        lacking = hit & np.isnan(given)
        if lacking.any():
            row = int(np.flatnonzero(lacking)[0])
            raise UsageError(f"no conservative_by_type coefficient for hospital type {kind.iloc[row]!r} "
                             f"(types: {', '.join(map(str, table.conservative_by_type))})", file=file, row=row + 1,
                             field="hospital_type")
        coef = np.where(hit, given, coef)
    if table.by_group_level:
        group_text = codes.astype("string")
        for group, levels in table.by_group_level.items():
            in_group = (group_text == str(group)).fillna(False).to_numpy(dtype=bool) & ~ungrouped
            for lv, value in levels.items():
                coef = np.where(in_group & (level == int(lv)), float(value), coef)
    if table.by_hospital and "hospital_id" in frame.columns:   # a hospital's own coefficient stays on top
        own = frame["hospital_id"].astype("string").map({str(k): float(v) for k, v in table.by_hospital.items()})
        own = own.to_numpy(dtype=np.float64, na_value=np.nan)
        coef = np.where(np.isnan(own), coef, own)
    return coef


def stay_coefficients(frame: pd.DataFrame, coef_table: HospitalCoefTable, table: WeightTable, safe_row: np.ndarray,
                      ungrouped: np.ndarray, codes: pd.Series | None, file: str
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per case (hospital_level_coef, hospital level as float with NaN where absent, basic-group
    coefficient with NaN for other groups, the coefficient applied): the coefficients of ``coef_table``
    for the cases of ``frame`` (hospital_id, hospital_level, insurance_type, hospital_type), whose
    group is at ``safe_row`` of ``table`` unless ``ungrouped``. Each case's values depend on that case
    alone. ``codes`` (the group codes) are needed for ``by_group_level`` only."""
    n = len(frame)
    tf = table.frame
    level_coef, level = _hospital_coef(frame, coef_table, n, file)
    level_coef = _specific_coefs(level_coef, level, frame, coef_table, tf, safe_row, ungrouped, codes, file,
                                 table.source)
    is_basic = ~ungrouped & tf["is_basic"].to_numpy(dtype=bool)[safe_row] if len(tf) else np.zeros(n, bool)
    basic_coef = np.full(n, np.nan)
    if is_basic.any():
        mode = coef_table.basic_group_coef_mode
        if mode == "one":
            basic_coef[is_basic] = coef_table.basic_group_coef
        elif mode == "secondary_level":
            basic_coef[is_basic] = coef_table.level_coef(coef_table.secondary_level)
        else:
            per_group = tf["basic_coef"].to_numpy(dtype=np.float64)[safe_row]
            lacking = is_basic & np.isnan(per_group)
            if lacking.any():
                group = tf["group"].iloc[safe_row[np.flatnonzero(lacking)[0]]]
                raise UsageError(f"basic group {group!r} has no basic_coef (basic_group_coef_mode is per_group)",
                                 file=table.source, field="basic_coef")
            basic_coef[is_basic] = per_group[is_basic]
    coef = np.where(is_basic, basic_coef, level_coef)
    return level_coef, level, basic_coef, coef


def _optional_coef(frame: pd.DataFrame, column: str, n: int, file: str) -> np.ndarray:
    if column not in frame.columns:
        return np.ones(n)
    values = number_column(frame, column, file=file, allow_missing=True)
    return np.where(np.isnan(values), 1.0, values)


def _approvals(approved, case_ids: pd.Series, file: str) -> tuple[np.ndarray, np.ndarray]:
    n = len(case_ids)
    flag = np.zeros(n, dtype=bool)
    points = np.full(n, np.nan)
    if approved is None:
        return flag, points
    case_ids = case_ids.astype("string")
    if isinstance(approved, pd.DataFrame):
        if "case_id" not in approved.columns:
            raise UsageError("approval list: missing column 'case_id'", file="<approvals>", field="case_id")
        ids = approved["case_id"].astype("string")
        given = number_column(approved, "approved_points", file="<approvals>", allow_missing=True) \
            if "approved_points" in approved.columns else np.full(len(approved), np.nan)
    else:
        if isinstance(approved, (str, bytes)) or not isinstance(approved, (Sequence, np.ndarray, pd.Series, set)):
            raise UsageError("approved: expected a DataFrame with case_id (and approved_points) or a list of ids")
        ids = pd.Series(list(approved), dtype="string")
        given = np.full(len(ids), np.nan)
    if ids.duplicated().any():
        dup = ids[ids.duplicated()].iloc[0]
        raise UsageError(f"approval list: case {dup!r} is listed twice", file="<approvals>", field="case_id")
    index = pd.Index(case_ids)
    if not index.is_unique and len(ids):
        raise UsageError("case_id values are not unique, so approvals cannot be matched", file=file,
                         field="case_id")
    pos = index.get_indexer(ids)
    unknown = pos < 0
    if unknown.any():
        raise UsageError(f"approval list names {int(unknown.sum())} case(s) not in the cases, e.g. "
                         f"{ids[unknown].iloc[0]!r}", file="<approvals>", field="case_id")
    flag[pos] = True
    points[pos] = given
    return flag, points


@dataclass(frozen=True)
class CasePointInputs:
    """The cases' groups, coefficients and bed-day points, prepared for the points kernel (n cases).

    Built by :func:`case_point_inputs`; :func:`points_at` turns it into the breakdown at a point value.
    """

    policy: PointsPolicy
    table: WeightTable
    frame: pd.DataFrame          # case_id, hospital_id, insurance_type of the cases (those given)
    file: str
    group_col: str
    cost: np.ndarray             # float64[n] total cost, yuan
    codes: pd.Series             # group code of each case (missing: ungrouped)
    ungrouped: np.ndarray        # bool[n] blank group
    safe_row: np.ndarray         # int64[n] row of the group in the weight table (0 where ungrouped)
    base: np.ndarray             # float64[n] base points (NaN where ungrouped)
    level_coef: np.ndarray       # float64[n] hospital_level_coef
    level: np.ndarray            # float64[n] hospital level (NaN where unknown)
    basic_coef: np.ndarray       # float64[n] basic-group coefficient (NaN for other groups)
    coef: np.ndarray             # float64[n] coefficient applied (basic-group or level)
    aux: np.ndarray              # float64[n] auxiliary-typing coefficient
    other: np.ndarray            # float64[n] other coefficient
    remote: np.ndarray           # float64[n] in-province remote coefficient
    pool_code: np.ndarray        # int8[n] local / remote in province / out of province
    bed_day: np.ndarray          # bool[n] paid per bed-day
    bed_acute: np.ndarray        # bool[n] bed-day stays whose acute phase is paid by the group's points
    bed_points: np.ndarray       # float64[n] bed-day points
    bed_standard: np.ndarray     # float64[n] bed-day standard, yuan
    high_threshold: np.ndarray   # float64[n] high-ratio threshold

    @property
    def n(self) -> int:
        return len(self.cost)


def case_points(cases, weights, policy: PointsPolicy, *, point_value=None, group_col: str | None = None,
                approved=None, hospital_coef: HospitalCoefTable | None = None) -> pd.DataFrame:
    """Points of every case, with every factor that produced them (one row per input row, in order).

    Parameters
    ----------
    cases : DataFrame or path (CSV / Parquet)
        Grouped cases: ``case_id``, the group column (``drg`` for DRG schemes, ``dip_group`` for DIP,
        or ``group_col``), ``total_cost``; ``hospital_id`` and ``hospital_level`` for coefficients;
        optional ``region`` / ``insured_region`` (remote coefficient), ``los`` (bed-day groups),
        ``status`` (DRG grouper status: anything but ``ok`` is ungrouped; ignored under DIP), ``dip_type``
        (``ungrouped`` is ungrouped), ``aux_coef`` (DIP auxiliary typing, default 1; ``dip_aux_coef``
        is used when ``aux_coef`` is absent), ``other_coef`` (any further multiplier, default 1),
        ``insurance_type`` (when ``point_value`` is a mapping), ``payment_method`` (``bed_day``).
    weights : WeightTable, DipDirectory, fitted calibrator or DataFrame
        Base points / scores per group (``group``, ``base_points``; ``mean_cost`` for the
        ``group_mean`` reference; ``mean_cost_level_<k>`` for ``same_level_mean``; ``is_basic`` and
        ``basic_coef`` for basic groups).
    policy : PointsPolicy
    point_value : float, mapping insurance_type -> float, or array per case, optional
        The budget point value (预算点值), needed when ``outlier_reference`` is ``standard``.
    group_col : str, optional
        Name of the group column (default ``drg`` or ``dip_group`` by scheme).
    approved : DataFrame, sequence of case ids, or None
        Special-review approval list (特例单议): ``case_id`` and optionally ``approved_points``.
        The quota ``floor(special_quota × number of cases)`` is enforced (``quota_excess``: ``error``
        or ``rank`` = keep the highest cost ratios); for DIP an approved case must have
        ``ratio >= special_min_ratio``.
    hospital_coef : HospitalCoefTable, optional
        Overrides ``policy.hospital_coef``.

    Returns
    -------
    DataFrame with the columns ``BREAKDOWN_COLUMNS``: ``group`` is the group code, ``pool`` one of
    local / remote_in_province / remote_out_of_province, ``outlier_class`` one of ``OUTLIER_CLASSES``,
    ``basic_group_coef`` NaN for non-basic groups, ``review_status`` none / approved / over_quota.
    """
    return points_at(case_point_inputs(cases, weights, policy, group_col=group_col, hospital_coef=hospital_coef),
                     point_value=point_value, approved=approved)


def case_point_inputs(cases, weights, policy: PointsPolicy, *, group_col: str | None = None,
                      hospital_coef: HospitalCoefTable | None = None) -> CasePointInputs:
    """Everything :func:`case_points` needs that does not depend on the point value, computed once.

    Parameters as in :func:`case_points`; evaluate with :func:`points_at` at one or more point values.
    """
    if not isinstance(policy, PointsPolicy):
        raise TypeError(f"policy must be a PointsPolicy, got {type(policy).__name__}")
    table = _as_weight_table(weights)
    coef_table = hospital_coef if hospital_coef is not None else policy.hospital_coef
    rules = policy.outliers
    group_col = group_col or ("dip_group" if policy.is_dip else "drg")
    file = source_name(cases)
    frame = read_table(cases, required=("case_id", group_col, "total_cost"), what="cases",
                       columns=_INPUT_COLUMNS + (group_col, "dip_aux_coef"),
                       text=("case_id", group_col, "hospital_id", "region", "insured_region", "status"))
    n = len(frame)
    cost = number_column(frame, "total_cost", file=file)
    codes = code_column(frame, group_col)
    row = table.index_of(codes)
    ungrouped = row < 0
    if "status" in frame.columns and not policy.is_dip:   # the DRG grouper's status says nothing of DIP
        ungrouped |= ~_equals(frame["status"], "ok")
    if "dip_type" in frame.columns:
        ungrouped |= _equals(frame["dip_type"], "ungrouped")
    safe_row = np.where(ungrouped, 0, row)

    tf = table.frame
    base = np.where(ungrouped, np.nan, tf["base_points"].to_numpy(dtype=np.float64)[safe_row]) if len(tf) \
        else np.full(n, np.nan)

    level_coef, level, basic_coef, coef = stay_coefficients(frame, coef_table, table, safe_row, ungrouped, codes, file)
    aux = _optional_coef(frame, "aux_coef" if "aux_coef" in frame.columns else "dip_aux_coef", n, file)
    other = _optional_coef(frame, "other_coef", n, file)
    if "region" in frame.columns and "insured_region" in frame.columns:
        pool_code = pool_codes(frame["region"], frame["insured_region"], policy.remote.province_prefix_len)
    else:
        pool_code = np.zeros(n, dtype=np.int8)
    remote = np.ones(n)
    if policy.remote.remote_mode == "coef":
        remote[pool_code == 1] = policy.remote.remote_coef

    bed_day, bed_acute, bed_points, bed_standard = _bed_days(frame, policy, table, codes, ungrouped, cost,
                                                             file, group_col)

    if rules.high_formula == "drg_tiered":
        tops = np.array([t for t, _ in rules.drg_high_tiers])
        ratios = np.array([r for _, r in rules.drg_high_tiers])
        tier = np.searchsorted(tops, np.nan_to_num(base, nan=0.0), side="left")
        high_threshold = ratios[np.minimum(tier, len(ratios) - 1)].astype(np.float64)
    else:
        high_threshold = np.full(n, float(rules.high_ratio))
    keep = [c for c in ("case_id", "hospital_id", "insurance_type") if c in frame.columns]
    return CasePointInputs(policy=policy, table=table, frame=frame[keep], file=file, group_col=group_col,
                           cost=cost, codes=codes, ungrouped=ungrouped, safe_row=safe_row, base=base,
                           level_coef=level_coef, level=level, basic_coef=basic_coef, coef=coef, aux=aux,
                           other=other, remote=remote, pool_code=pool_code, bed_day=bed_day, bed_acute=bed_acute,
                           bed_points=bed_points, bed_standard=bed_standard, high_threshold=high_threshold)


def _bed_days(frame: pd.DataFrame, policy: PointsPolicy, table: WeightTable, codes: pd.Series,
              ungrouped: np.ndarray, cost: np.ndarray, file: str, group_col: str
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per case: (paid per bed-day, acute phase paid by the group's points, bed-day points, bed-day
    standard in yuan) (§9)."""
    n = len(frame)
    rules = policy.bed_day
    bed_day = np.zeros(n, dtype=bool)
    if rules.groups:
        bed_day |= ~ungrouped & codes.isin(rules.groups).fillna(False).to_numpy(dtype=bool)
    if "payment_method" in frame.columns:
        bed_day |= (frame["payment_method"].astype("string") == "bed_day").fillna(False).to_numpy(dtype=bool)
    bed_acute = np.zeros(n, dtype=bool)
    bed_points = np.zeros(n)
    bed_standard = np.zeros(n)
    if not bed_day.any():
        return bed_day, bed_acute, bed_points, bed_standard
    if not rules.bedday_phases:
        raise UsageError("cases are paid per bed-day but the policy has no bed_day.bedday_phases",
                         file=file, row=int(np.flatnonzero(bed_day)[0]) + 1, field=group_col)
    if "los" not in frame.columns:
        raise UsageError("bed-day cases need the los column", file=file, field="los")
    mean_cost = rules.mean_cost_per_case or table.all_case_mean
    if not mean_cost:
        raise UsageError("bed-day points need bed_day.mean_cost_per_case (the weight table has no "
                         "all-case mean)", field="mean_cost_per_case")
    los = number_column(frame, "los", file=file, allow_missing=True)
    sel = np.flatnonzero(bed_day)
    missing_los = np.isnan(los[sel])
    if missing_los.any():
        raise UsageError("los is missing for a bed-day case", file=file, row=int(sel[missing_los][0]) + 1,
                         field="los")
    phases = rules.bedday_phases
    if rules.acute_phase == "points":
        # the acute phase per disease: a stay within it is an ordinary case, a longer one is paid its
        # group's points plus its later phases per bed-day; a stay without a group stays per bed-day
        grouped = bed_day & ~ungrouped
        bed_acute = grouped & (np.floor(np.nan_to_num(los, nan=0.0)) > phases[0].to_day)
        bed_day &= ~grouped | bed_acute
    whole = np.flatnonzero(bed_day & ~bed_acute)
    later = np.flatnonzero(bed_acute)
    for rows, paid_phases in ((whole, phases), (later, phases[1:])):
        if len(rows):
            bed_standard[rows] = bed_day_payment(los[rows], paid_phases, cost[rows], rules.pay_actual_if_below)
            bed_points[rows] = bed_day_points(los[rows], rules, mean_cost, policy.points_scale, cost[rows],
                                              phases=paid_phases)
    return bed_day, bed_acute, bed_points, bed_standard


def points_at(inputs: CasePointInputs, *, point_value=None, approved=None) -> pd.DataFrame:
    """The points breakdown of :func:`case_points` from prepared inputs at ``point_value``.

    Only the reference cost of the ``standard`` outlier reference depends on the point value, so
    evaluating the same inputs at another point value costs one pass of the points kernel.
    """
    policy, table, frame, file, n = inputs.policy, inputs.table, inputs.frame, inputs.file, inputs.n
    rules = policy.outliers
    cost, codes, ungrouped, safe_row, base = inputs.cost, inputs.codes, inputs.ungrouped, inputs.safe_row, inputs.base
    level_coef, level, basic_coef, coef = inputs.level_coef, inputs.level, inputs.basic_coef, inputs.coef
    aux, other, remote, pool_code = inputs.aux, inputs.other, inputs.remote, inputs.pool_code
    bed_day, bed_acute, bed_points, bed_standard = (inputs.bed_day, inputs.bed_acute, inputs.bed_points,
                                                    inputs.bed_standard)
    high_threshold, group_col = inputs.high_threshold, inputs.group_col
    point_values = _point_value_per_case(point_value, frame, n, file)
    reference = _reference(rules.outlier_reference, table, safe_row, ungrouped | (bed_day & ~bed_acute), base,
                           coef, aux, level, point_values, rules.reference_factor, file)
    reference = np.where(bed_day, np.where(bed_acute, reference, 0.0) + bed_standard, reference)
    all_mean = table.all_case_mean
    if (ungrouped & ~bed_day).any() and not all_mean:
        raise UsageError("ungrouped cases are paid from the all-case mean cost, which the weight table "
                         "does not give (fit the weights or pass all_case_mean to WeightTable.from_csv)",
                         file=file, row=int(np.flatnonzero(ungrouped)[0]) + 1, field=group_col)

    approved_flag, approved_points = _approvals(approved, frame["case_id"], file)
    low_ratio, low_inclusive = policy.low_bound
    candidate_min = policy.special_review.special_min_ratio if policy.is_dip else np.nan
    review_status = np.zeros(n, dtype=np.int8)

    floats = np.empty((len(_FLOAT_COLUMNS), n))
    column = {name: floats[i] for i, name in enumerate(_FLOAT_COLUMNS)}
    column["total_cost"][:] = cost
    column["hospital_level_coef"][:] = level_coef
    column["basic_group_coef"][:] = basic_coef
    klass = np.empty(n, dtype=np.int8)
    candidate = np.empty(n, dtype=bool)

    def run(approved_mask):
        K._points_kernel(
            base, reference, cost, coef, aux, remote, other, approved_mask, approved_points, bed_day,
            bed_acute, bed_points, high_threshold,
            float(low_ratio), bool(low_inclusive), bool(rules.high_inclusive),
            np.nan if rules.extreme_ratio is None else float(rules.extreme_ratio), bool(rules.extreme_inclusive),
            HIGH_FORMULAS.index(rules.high_formula),
            bool(not policy.is_dip or rules.high_formula == "review_only"), bool(rules.coefs_on_outliers),
            bool(rules.coefs_on_outliers or rules.outlier_reference == "standard"), float(rules.blank_group),
            bool(rules.blank_group_coefs),
            APPROVED_PAYMENTS.index(policy.special_review.approved_payment),
            float(candidate_min), float(policy.points_scale), float(all_mean or np.nan),
            column["base_points"], column["reference_cost"], column["cost_ratio"], klass,
            column["outlier_factor"], column["applied_hospital_coef"], column["aux_coef"], column["remote_coef"],
            column["other_coef"], column["final_points"], candidate)
        return {"ratio": column["cost_ratio"], "class": klass}

    if approved_flag.any():
        approved_flag = _enforce_quota(approved_flag, approved_points, run, policy, n, frame, file, review_status)
    run(approved_flag)
    column["fund_part_points"][:] = (
        np.where(klass == K.BED_DAY, bed_points * column["remote_coef"] * column["other_coef"], 0.0)
        if policy.bed_day.fund_shares else 0.0)

    missing_level = np.isnan(level)
    others = {
        "case_id": frame["case_id"].array,
        "group": codes.array,
        "hospital_id": frame["hospital_id"].array if "hospital_id" in frame.columns else np.full(n, None, object),
        "hospital_level": pd.arrays.IntegerArray(np.where(missing_level, 0, level).astype(np.int64), missing_level),
        "pool": pd.Categorical.from_codes(pool_code, categories=list(POOLS)),
        "outlier_class": pd.Categorical.from_codes(klass, categories=list(OUTLIER_CLASSES)),
        "special_review_candidate": candidate,
        "review_status": pd.Categorical.from_codes(review_status, categories=list(REVIEW_STATUSES)),
    }
    floats_by_name = dict(zip(_FLOAT_COLUMNS, floats))
    return pd.DataFrame({name: others[name] if name in others else floats_by_name[name]
                         for name in BREAKDOWN_COLUMNS}, copy=False)


def _reference(method: str, table: WeightTable, safe_row: np.ndarray, no_reference: np.ndarray,
               base: np.ndarray, coef: np.ndarray, aux: np.ndarray, level: np.ndarray,
               point_values: np.ndarray | None, reference_factor: float | None, file: str) -> np.ndarray:
    """Reference cost (yuan) of each grouped case; NaN where the case has none (ungrouped, bed-day)."""
    n = len(base)
    tf = table.frame
    needs = ~no_reference
    if method == "standard":
        if point_values is None:
            if needs.any():
                raise UsageError("outlier_reference 'standard' needs the budget point_value "
                                 "(or choose group_mean / same_level_mean / score_x_factor)", field="point_value")
            return np.full(n, np.nan)
        reference = base * point_values * coef * aux
    elif method == "score_x_factor":
        reference = base * float(reference_factor) * aux
    else:
        if "mean_cost" not in tf.columns:
            raise UsageError(f"outlier_reference '{method}' needs the mean_cost column of the weight table",
                             file=table.source, field="mean_cost")
        group_mean = tf["mean_cost"].to_numpy(dtype=np.float64)[safe_row] if len(tf) else np.full(n, np.nan)
        mean = group_mean.copy()
        if method == "same_level_mean":
            for lv, column in table.level_columns.items():
                at_level = needs & (level == lv)
                values = tf[column].to_numpy(dtype=np.float64)[safe_row]
                use = at_level & np.isfinite(values) & (values > 0)
                mean[use] = values[use]
        reference = mean * aux
    reference = np.where(no_reference, np.nan, reference)
    bad = needs & ~(np.isfinite(reference) & (reference > 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        group = tf["group"].iloc[safe_row[row]]
        raise UsageError(f"no usable reference cost for group {group!r} ({method}): check its mean_cost / "
                         f"base_points and the coefficients", file=file, row=row + 1, field="total_cost")
    return reference


def _enforce_quota(approved_flag, approved_points, run, policy: PointsPolicy, n: int, frame, file,
                   review_status) -> np.ndarray:
    """Check DIP eligibility and the region-wide quota; returns the approvals that stand."""
    trial = run(np.zeros(n, dtype=bool))
    ratio = trial["ratio"]
    klass = trial["class"]
    if policy.is_dip:
        eligible = (klass == K.UNGROUPED) | (ratio >= policy.special_review.special_min_ratio)
        bad = approved_flag & ~eligible & (klass != K.BED_DAY)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise UsageError(f"case {frame['case_id'].iloc[row]!r} is approved for special review but its cost "
                             f"ratio {ratio[row]:.3f} is below special_min_ratio "
                             f"{policy.special_review.special_min_ratio}", file=file, row=row + 1, field="case_id")
    quota = special_review_quota(n, policy)
    chosen = np.flatnonzero(approved_flag)
    if len(chosen) > quota:
        if policy.special_review.quota_excess == "error":
            raise UsageError(f"{len(chosen)} cases approved for special review but the quota is {quota} "
                             f"(special_quota {policy.special_review.special_quota} of {n} discharges)",
                             file="<approvals>", field="case_id")
        order = np.lexsort((chosen, -np.nan_to_num(ratio[chosen], nan=-np.inf)))
        keep = chosen[order[:quota]]
        review_status[chosen] = 2
        approved_flag = np.zeros(n, dtype=bool)
        approved_flag[keep] = True
    review_status[approved_flag] = 1
    return approved_flag


def unknown_groups(cases: pd.DataFrame, weights, *, group_col: str, is_dip: bool) -> tuple[np.ndarray, str | None]:
    """Stays that carry a group code the weight table (or DIP directory) does not know, which are paid as
    the blank group (空白病组): (bool[n], a sentence naming the codes, or None when there are none).

    A stay the grouper itself left without a group (DRG status other than ok, DIP type ungrouped) is
    not one of them: only codes that were given and cannot be found, such as a mistyped DIP code.
    """
    if group_col not in cases.columns:
        return np.zeros(len(cases), dtype=bool), None
    table = _as_weight_table(weights)
    codes = code_column(cases, group_col)
    unknown = codes.notna().to_numpy(dtype=bool) & (table.index_of(codes) < 0)
    if "status" in cases.columns and not is_dip:
        unknown &= _equals(cases["status"], "ok")
    if "dip_type" in cases.columns:
        unknown &= ~_equals(cases["dip_type"], "ungrouped")
    if not unknown.any():
        return unknown, None
    counts = codes[unknown].astype(str).value_counts()
    named = ", ".join(f"{code!r} ({count:,})" for code, count in counts.head(5).items())
    more = f" and {len(counts) - 5:,} more" if len(counts) > 5 else ""
    what = "no score in the DIP directory or weights" if is_dip else "no weight in the weight table"
    return unknown, (f"{int(unknown.sum()):,} stay(s) carry a {group_col} with {what}, paid as the blank group "
                     f"(空白病组): {named}{more}")
