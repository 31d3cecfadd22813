"""Points at other hospital and remote coefficients without the points stage again (scenarios).

A case's outlier class, cost ratio and base points do not depend on the hospital or remote
coefficient unless the reference cost includes the coefficient (the ``standard`` outlier reference).
:class:`PointsRecipe` keeps, per case, what :func:`drgdip.pointvalue.points.points_at` found besides
the coefficients; :func:`repriced_points` prices the cases again at a policy's coefficients with the
same pricing rule as the points kernel (:func:`drgdip.pointvalue._kernels._priced`), so the points
are the same floats as a full run gives. The hospital coefficient is worked out once per distinct
combination of what it reads (hospital, level, insurance type, basic group), by the same function as
a full run (:func:`drgdip.pointvalue.points.stay_coefficients`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from drgdip.core.buffers import reusable_array
from drgdip.core.errors import UsageError
from drgdip.pointvalue import _kernels as K
from drgdip.pointvalue.points import CasePointInputs, stay_coefficients
from drgdip.pointvalue.rules import APPROVED_PAYMENTS, HIGH_FORMULAS, HospitalCoefTable, PointsPolicy
from drgdip.pointvalue.weights import WeightTable

__all__ = ["PointsRecipe", "recipe_part", "points_recipe", "repriced_points", "without_coefficients",
           "follows_coefficients"]

KEY_COLUMNS = ("hospital_id", "hospital_level", "insurance_type")


NO_HOSPITAL_COEFS = HospitalCoefTable()


def without_coefficients(policy: PointsPolicy) -> PointsPolicy:
    """``policy`` with the hospital and remote coefficients at their defaults: two policies equal here
    differ only in what :func:`repriced_points` can apply."""
    return replace(policy, hospital_coef=NO_HOSPITAL_COEFS, remote=replace(policy.remote, remote_coef=1.0))


def follows_coefficients(policy: PointsPolicy) -> bool:
    """Whether the outlier classes under ``policy`` are the same at any coefficients, and its
    coefficients read only the hospital, its level, the insurance type and the basic group."""
    coefs = policy.hospital_coef
    return (policy.outliers.outlier_reference != "standard" and not coefs.by_group_level
            and not coefs.conservative_by_type)


def recipe_part(inputs: CasePointInputs, breakdown: pd.DataFrame) -> dict:
    """What a recipe keeps of one block of cases: their inputs and the kernel's classes and ratios."""
    klass = breakdown["outlier_class"].cat.codes.to_numpy(dtype=np.int8)
    ratio = breakdown["cost_ratio"].to_numpy(dtype=np.float64)
    return {"klass": klass, "base": inputs.base, "term": np.where(klass == K.HIGH, ratio - inputs.high_threshold, ratio),
            "pool_code": inputs.pool_code.astype(np.int8, copy=False), "aux": inputs.aux, "other": inputs.other,
            "bed_acute": inputs.bed_acute, "bed_points": inputs.bed_points, "bed_day": inputs.bed_day,
            "safe_row": inputs.safe_row, "ungrouped": inputs.ungrouped, "level": inputs.level,
            "basic": ~np.isnan(inputs.basic_coef)}


@dataclass(frozen=True)
class PointsRecipe:
    """Per case, everything the points need besides the hospital and remote coefficients (see the module)."""

    policy: PointsPolicy          # the points policy, coefficients aside (:func:`without_coefficients`)
    table: WeightTable
    file: str
    klass: np.ndarray             # int8[n] outlier class
    base: np.ndarray              # float64[n] the group's base points (NaN: ungrouped)
    term: np.ndarray              # float64[n] cost ratio, less the high threshold for high cases
    pool_code: np.ndarray         # int8[n]
    aux: np.ndarray               # float64[n], or [1] when every case has the same
    other: np.ndarray             # float64[n] or [1]
    bed_acute: np.ndarray         # bool[n], or [1] when no case is paid per bed-day
    bed_points: np.ndarray        # float64[n] or [1]
    coef_key: np.ndarray          # int32[n] row of each case in ``key_frame``
    key_frame: pd.DataFrame       # one case per distinct coefficient input (KEY_COLUMNS that the cases have)
    key_safe_row: np.ndarray
    key_ungrouped: np.ndarray

    @property
    def n(self) -> int:
        return len(self.klass)


def points_recipe(parts: list[dict], frame: pd.DataFrame, policy: PointsPolicy, table: WeightTable,
                  file: str) -> PointsRecipe | None:
    """The recipe of the cases of ``frame`` from the :func:`recipe_part` of each block, in order; None
    when their points do not follow the coefficients alone (:func:`follows_coefficients`)."""
    if not follows_coefficients(policy) or not parts:
        return None
    whole = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    n = len(frame)
    combined = np.zeros(n, dtype=np.int64)
    level = whole["level"]
    codes = [pd.factorize(frame[c], use_na_sentinel=True)[0] + 1 if c in frame.columns else np.zeros(n, np.int64)
             for c in ("hospital_id", "insurance_type")]
    codes.insert(1, np.where(np.isnan(level), 0, np.nan_to_num(level) - np.nanmin(level, initial=0) + 1)
                 .astype(np.int64) if n else np.zeros(0, np.int64))
    codes.append(np.where(whole["basic"], whole["safe_row"] + 1, 0))
    codes.append(whole["ungrouped"].astype(np.int64))
    for part in codes:
        combined = combined * (int(part.max(initial=0)) + 1) + part
    coef_key, _ = pd.factorize(combined)
    first = np.flatnonzero(coef_key > np.maximum.accumulate(np.concatenate(([-1], coef_key[:-1]))))
    key_frame = frame[[c for c in KEY_COLUMNS if c in frame.columns]].iloc[first].reset_index(drop=True)
    bed = bool(whole["bed_day"].any())
    return PointsRecipe(
        policy=without_coefficients(policy), table=table, file=file, klass=whole["klass"], base=whole["base"],
        term=whole["term"], pool_code=whole["pool_code"], aux=_one_if_alike(whole["aux"]),
        other=_one_if_alike(whole["other"]),
        bed_acute=whole["bed_acute"] if bed else np.zeros(1, dtype=bool),
        bed_points=whole["bed_points"] if bed else np.zeros(1),
        coef_key=coef_key.astype(np.int32), key_frame=key_frame, key_safe_row=whole["safe_row"][first],
        key_ungrouped=whole["ungrouped"][first])


def _one_if_alike(values: np.ndarray) -> np.ndarray:
    return values[:1].copy() if len(values) and (values == values[0]).all() else values


def repriced_points(recipe: PointsRecipe, policy: PointsPolicy, table: WeightTable, *,
                    coefficients: bool = True, buffers: dict | None = None) -> dict | None:
    """``case_points`` (before day-care payment methods), ``applied_hospital_coef``, ``remote_coef`` (not
    without ``coefficients``) and, with bed-day fund shares, ``fund_part_points`` of the recipe's cases
    under ``policy``; None when
    ``policy`` differs from the recipe's in more than its coefficients, or its coefficients cannot be
    worked out per combination (then the points stage runs and says why). ``buffers``: where the
    output arrays of earlier calls are kept for reuse (:func:`drgdip.core.buffers.reusable_array`)."""
    if table is not recipe.table or not follows_coefficients(policy) or without_coefficients(policy) != recipe.policy:
        return None
    try:
        *_, coef_of_key = stay_coefficients(recipe.key_frame, policy.hospital_coef, table, recipe.key_safe_row,
                                            recipe.key_ungrouped, None, recipe.file)
    except UsageError:
        return None
    rules = policy.outliers
    remote_of_pool = np.ones(3)
    if policy.remote.remote_mode == "coef":
        remote_of_pool[1] = policy.remote.remote_coef
    n = recipe.n
    n_coefs = n if coefficients or policy.bed_day.fund_shares else 0
    points, applied, remote = (reusable_array(buffers, name, size) for name, size in
                               (("case_points", n), ("applied_hospital_coef", n_coefs), ("remote_coef", n_coefs)))
    K._repriced_kernel(
        recipe.klass, recipe.base, recipe.term, recipe.coef_key, coef_of_key.astype(np.float64), recipe.pool_code,
        remote_of_pool, recipe.aux, recipe.other, recipe.bed_acute, recipe.bed_points,
        HIGH_FORMULAS.index(rules.high_formula), bool(rules.coefs_on_outliers),
        bool(rules.coefs_on_outliers or rules.outlier_reference == "standard"), float(rules.blank_group),
        bool(rules.blank_group_coefs), APPROVED_PAYMENTS.index(policy.special_review.approved_payment),
        float(policy.points_scale), points, applied, remote)
    out = {"case_points": points}
    if coefficients:
        out.update(applied_hospital_coef=applied, remote_coef=remote)
    if policy.bed_day.fund_shares:
        bed_points = recipe.bed_points if len(recipe.bed_points) == n else np.zeros(n)
        out["fund_part_points"] = np.where(recipe.klass == K.BED_DAY, bed_points * remote * recipe.other, 0.0)
    return out
