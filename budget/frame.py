"""Settlement input as flat arrays: ids factorized once, money in fen, one status per case.

The settlement stage reads a per-case table that already carries ``case_points`` (final points).
Columns (design.md §3.1 names): ``case_id``, ``hospital_id``, ``total_cost``, ``fund_paid``,
``case_points``; optional ``region`` (else the hospital's region), ``insured_region`` (else local),
``insurance_type`` (``employee`` / ``resident``; 310 / 390 accepted), ``month`` or ``settle_date`` /
``discharge_time`` (monthly prepayment), ``fixed_payment`` (yuan paid outside the point pool),
``settle_status`` (anything but ``ok`` is not settled), ``outlier_class``, ``base_points``,
``hospital_level``, ``fund_part_points`` (the part of ``case_points`` that is the fund's part already,
such as bed-day points at fund shares: under the total-cost basis no fund ratio applies to it).
Extra columns pass through to the per-case output.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from drgdip.budget._kernels import _check_values, _to_fen_checked
from drgdip.core.errors import UsageError
from drgdip.core._kernels import first_appearance_codes
from drgdip.core.checks import number_column

__all__ = ["CaseArrays", "factorize", "case_arrays", "points_again", "INSURANCE_TYPE_CODES", "number", "STATUS_OK"]

STATUS_OK = 0

INSURANCE_TYPE_CODES = {"310": "employee", "390": "resident", "职工": "employee", "居民": "resident",
                        "employee": "employee", "resident": "resident"}


def factorize(values, name: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(integer codes with -1 for missing, labels as an object array of text), numbered by first appearance.

    Categorical columns are factorized on their integer codes (no string per row).
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        # numbered by first appearance, as for text, whatever order the categories have
        codes, used = first_appearance_codes(values.cat.codes.to_numpy(), len(values.cat.categories))
        categories = np.asarray([str(c) for c in values.cat.categories], dtype=object)
        return codes, categories[used]
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = np.asarray([str(u) for u in uniques], dtype=object)
    return codes, labels


def _remap(codes: np.ndarray, remap: np.ndarray) -> np.ndarray:
    """``remap[codes]`` with -1 kept; no copy when the mapping is the identity and nothing is missing."""
    if len(remap) == 0:
        return np.full(len(codes), -1, dtype=np.int32)
    if np.array_equal(remap, np.arange(len(remap))) and (len(codes) == 0 or codes.min() >= 0):
        return codes
    table = np.append(remap, -1).astype(np.int32)   # code -1 picks the last entry
    return table[codes]


def number(frame: pd.DataFrame, column: str, file: str, *, allow_missing: bool = False,
           lo: float | None = 0.0) -> np.ndarray:
    """A numeric column as float64; text, missing (unless allowed), infinite or below ``lo`` is an error."""
    return number_column(frame, column, file=file, lo=lo, allow_missing=allow_missing)


def stay_years(frame: pd.DataFrame, file: str, what: str = "cases") -> np.ndarray:
    """Year of each stay: the ``year`` column, else the year of ``settle_date`` or ``discharge_time``."""
    if "year" in frame.columns:
        return number(frame, "year", file, lo=None).astype(np.int64)
    for column in ("settle_date", "discharge_time"):
        if column in frame.columns:
            years = pd.to_datetime(frame[column], errors="coerce").dt.year
            if years.isna().any():
                row = int(np.flatnonzero(years.isna().to_numpy())[0])
                raise UsageError("cannot read the date", file=file, row=row + 1, field=column)
            return years.to_numpy(dtype=np.int64)
    raise UsageError(f"{what} need a year, settle_date or discharge_time column", file=file, field="year")


@dataclass(frozen=True)
class CaseArrays:
    """One settlement year's stays as flat arrays (n stays).

    ``region`` and ``insured`` index the same ``region_labels`` (``insured`` -1: insured locally);
    ``hospital`` indexes ``hospital_labels``; ``insurance`` indexes ``insurance_labels``. ``status``
    0 marks the stays settled in the budget; ``fixed`` those paid ``fixed_fen`` outside the pool.
    """

    hospital: np.ndarray          # int32[n]
    hospital_labels: np.ndarray   # object[n_hospitals]
    region: np.ndarray            # int32[n]
    insured: np.ndarray           # int32[n], -1 = same as region
    region_labels: np.ndarray     # object[n_regions]
    insurance: np.ndarray         # int32[n]
    insurance_labels: np.ndarray  # object[n_types]
    cost_fen: np.ndarray          # int64[n]
    fund_fen: np.ndarray          # int64[n]
    points: np.ndarray            # float64[n], 0 where not settled by points
    fixed: np.ndarray             # bool[n]
    fixed_fen: np.ndarray         # int64[n]
    month: np.ndarray             # int8[n], 1..12 (0 unknown)
    status: np.ndarray            # int8[n] index into status_labels; 0 is "ok"
    status_labels: np.ndarray     # object[n_status]
    base_points: np.ndarray       # float64[n], NaN where unknown
    outlier_class: np.ndarray | None     # int32[n] index into outlier_labels (-1 missing)
    outlier_labels: np.ndarray | None
    hospital_level: np.ndarray | None    # float64[n] (NaN where unknown)
    fund_part_points: np.ndarray | None = None   # float64[n] points that are the fund's part already
    # the statuses as read from settle_status, before the points (:func:`points_again`)
    read_status: np.ndarray | None = field(default=None, repr=False, compare=False)
    read_status_labels: tuple = field(default=(), repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.hospital)

    @property
    def in_scope(self) -> np.ndarray:
        return self.status == STATUS_OK

    @property
    def insured_region(self) -> np.ndarray:
        """Insured region with local stays filled in (int64[n])."""
        return np.where(self.insured >= 0, self.insured, self.region).astype(np.int64)

    def status_code(self, label: str) -> tuple["CaseArrays", int]:
        """The code of status ``label``, adding it to ``status_labels`` if new."""
        labels = list(self.status_labels)
        if label not in labels:
            labels.append(label)
            return replace(self, status_labels=np.asarray(labels, dtype=object)), len(labels) - 1
        return self, labels.index(label)

    def with_status(self, mask: np.ndarray, label: str) -> "CaseArrays":
        """A copy where the stays in ``mask`` get status ``label`` (taking them out of the budget)."""
        arrays, code = self.status_code(label)
        status = self.status.copy()
        status[mask] = code
        return replace(arrays, status=status)


def _month(frame: pd.DataFrame, file: str) -> np.ndarray:
    if "month" in frame.columns and pd.api.types.is_integer_dtype(frame["month"].dtype) \
            and not isinstance(frame["month"].dtype, pd.ArrowDtype) and not frame["month"].hasnans:
        month = frame["month"].to_numpy()
        if len(month) and (month.min() < 0 or month.max() > 12):
            row = int(np.flatnonzero((month < 0) | (month > 12))[0])
            raise UsageError("month must be a whole number 1-12", file=file, row=row + 1, field="month")
        return month.astype(np.int8, copy=False)
    if "month" in frame.columns:
        month = number(frame, "month", file, allow_missing=True, lo=0)
        month = np.nan_to_num(month, nan=0.0)
        bad = (month > 12) | (month != np.floor(month))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise UsageError("month must be a whole number 1-12", file=file, row=row + 1, field="month")
        return month.astype(np.int8)
    for column in ("settle_date", "discharge_time"):
        if column in frame.columns:
            times = frame[column]
            if not (isinstance(times.dtype, np.dtype) and times.dtype.kind == "M"):
                times = pd.to_datetime(times, errors="coerce")
            stamps = times.to_numpy()
            month = stamps.astype("datetime64[M]").astype(np.int64) % 12 + 1
            return np.where(np.isnat(stamps), 0, month).astype(np.int8)
    return np.zeros(len(frame), dtype=np.int8)


def _float_column(frame: pd.DataFrame, column: str, file: str, *, allow_missing: bool = False,
                  negative: bool = False) -> np.ndarray:
    """A numeric column as float64 (no copy when it already is), validated in one pass."""
    series = frame[column]
    if pd.api.types.is_float_dtype(series.dtype) and not isinstance(series.dtype, pd.ArrowDtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = number(frame, column, file, allow_missing=True, lo=None)
    values = np.ascontiguousarray(values)
    first_nan, first_inf, first_neg, _ = _check_values(values)
    if first_nan >= 0 and not allow_missing:
        raise UsageError("value is missing", file=file, row=int(first_nan) + 1, field=column)
    if first_inf >= 0:
        raise UsageError("value is infinite", file=file, row=int(first_inf) + 1, field=column)
    if first_neg >= 0 and not negative:
        raise UsageError(f"must be >= 0, got {values[first_neg]:g}", file=file, row=int(first_neg) + 1,
                         field=column)
    return values


def _fen(frame: pd.DataFrame, column: str, file: str, rounding: str, allow_missing: bool = False) -> np.ndarray:
    """A yuan column as int64 fen (validated in one pass), rounded by ``rounding`` (:mod:`drgdip.budget.money`)."""
    series = frame[column]
    if pd.api.types.is_float_dtype(series.dtype) and not isinstance(series.dtype, pd.ArrowDtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = number(frame, column, file, allow_missing=True, lo=None)
    fen, bad, kind = _to_fen_checked(np.ascontiguousarray(values), allow_missing, rounding == "half_up")
    if bad >= 0:
        message = {1: "value is missing", 2: "value is infinite",
                   3: f"must be >= 0, got {values[bad]:g}"}[kind]
        raise UsageError(message, file=file, row=int(bad) + 1, field=column)
    return fen


def _codes_into(labels: list, index: dict, found: np.ndarray) -> np.ndarray:
    """Positions of ``found`` labels in the growing label list ``labels``."""
    out = np.empty(len(found), dtype=np.int64)
    for k, label in enumerate(found):
        if label not in index:
            index[label] = len(labels)
            labels.append(label)
        out[k] = index[label]
    return out


def case_arrays(frame: pd.DataFrame, *, hospital_region: dict | None = None, file: str = "<cases>",
                rounding: str = "half_up", like: CaseArrays | None = None) -> CaseArrays:
    """Validate the settlement columns of ``frame`` and turn them into :class:`CaseArrays`.

    ``hospital_region`` maps hospital_id → region for stays without a ``region`` column or value;
    yuan become fen by the ``rounding`` rule (``half_up`` or ``half_even``, :mod:`drgdip.budget.money`).
    ``like``: the arrays of the same stays, in the same order, under another points policy: what
    does not depend on the points (hospitals, regions, insurance, money, months, levels) is taken
    from it, and only the points, statuses and fixed payments are read.
    """
    for column in ("case_id", "hospital_id", "total_cost", "fund_paid", "case_points"):
        if column not in frame.columns:
            raise UsageError(f"missing column '{column}' (settlement needs case_id, hospital_id, "
                             f"total_cost, fund_paid, case_points)", file=file, field=column)
    n = len(frame)
    status_labels = ["ok"]
    if "settle_status" in frame.columns:
        codes, found = factorize(frame["settle_status"])
        lookup = np.append(_codes_into(status_labels, {"ok": 0}, found), STATUS_OK).astype(np.int8)
        status = lookup[codes]
    else:
        status = np.zeros(n, dtype=np.int8)
    read = {"read_status": status, "read_status_labels": tuple(status_labels)}
    if like is not None and like.n == n:
        return _points_part(frame, replace(like, **read), status, status_labels, file, rounding)
    ok = status == STATUS_OK
    hospital, hospital_labels = factorize(frame["hospital_id"])
    missing = (hospital < 0) & ok
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise UsageError("hospital_id is missing", file=file, row=row + 1, field="hospital_id")

    labels: list = []
    index: dict = {}
    if "region" in frame.columns:
        codes, found = factorize(frame["region"])
        region = _remap(codes, _codes_into(labels, index, found))
    else:
        region = np.full(n, -1, dtype=np.int32)
    if hospital_region and (region < 0).any():
        per_hospital = np.asarray([str(hospital_region.get(h, "")) for h in hospital_labels], dtype=object)
        hospital_code = np.full(len(per_hospital), -1, dtype=np.int64)
        given = per_hospital != ""
        hospital_code[given] = _codes_into(labels, index, per_hospital[given])
        fill = (region < 0) & (hospital >= 0)
        region = np.where(fill, hospital_code[np.maximum(hospital, 0)], region).astype(np.int32)
    missing = (region < 0) & ok
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise UsageError("region is missing (give a region column or a hospitals table with region)",
                         file=file, row=row + 1, field="region")
    if "insured_region" in frame.columns:
        codes, found = factorize(frame["insured_region"])
        insured = _remap(codes, _codes_into(labels, index, found))
    else:
        insured = np.full(n, -1, dtype=np.int32)
    region_labels = np.asarray(labels, dtype=object)

    if "insurance_type" in frame.columns:
        ins_codes, ins_found = factorize(frame["insurance_type"])
        names = [INSURANCE_TYPE_CODES.get(str(v).strip(), str(v).strip()) for v in ins_found]
        if (ins_codes < 0).any():
            names.append("unknown")
            ins_codes = np.where(ins_codes < 0, len(names) - 1, ins_codes)
        insurance_labels, inverse = np.unique(np.asarray(names, dtype=object), return_inverse=True)
        insurance = _remap(ins_codes, inverse) if len(names) else np.zeros(n, dtype=np.int32)
    else:
        insurance = np.zeros(n, dtype=np.int64)
        insurance_labels = np.asarray(["all"], dtype=object)

    stays = CaseArrays(
        hospital=hospital.astype(np.int32, copy=False), hospital_labels=hospital_labels,
        region=region.astype(np.int32, copy=False), insured=insured.astype(np.int32, copy=False),
        region_labels=region_labels, insurance=insurance.astype(np.int32, copy=False),
        insurance_labels=insurance_labels.astype(object), cost_fen=_fen(frame, "total_cost", file, rounding),
        fund_fen=_fen(frame, "fund_paid", file, rounding), points=np.zeros(0), fixed=np.zeros(0, dtype=bool),
        fixed_fen=np.zeros(0, dtype=np.int64), month=_month(frame, file), status=status,
        status_labels=np.asarray(status_labels, dtype=object), base_points=np.zeros(0), outlier_class=None,
        outlier_labels=None, hospital_level=(number(frame, "hospital_level", file, allow_missing=True, lo=None)
                                             if "hospital_level" in frame.columns else None), **read)
    return _points_part(frame, stays, status, status_labels, file, rounding)


# the columns :func:`_points_part` reads
POINTS_PART_COLUMNS = frozenset(("case_points", "fixed_payment", "outlier_class", "base_points", "fund_part_points"))


def points_again(stays: CaseArrays, frame: pd.DataFrame, changed: frozenset, *, file: str = "<cases>",
                 rounding: str = "half_up") -> CaseArrays | None:
    """``stays``, read from a frame that differs from ``frame`` only in the columns ``changed`` (a
    scenario's points), with those of the points columns read again; the other columns are not
    looked at. None when ``stays`` does not know its statuses before the points."""
    if stays.read_status is None or len(frame) != stays.n:
        return None
    if not changed & POINTS_PART_COLUMNS:
        return stays
    return _points_part(frame, stays, stays.read_status, list(stays.read_status_labels), file, rounding,
                        changed=changed)


def _points_part(frame: pd.DataFrame, stays: CaseArrays, status: np.ndarray, status_labels: list, file: str,
                 rounding: str, changed: frozenset | None = None) -> CaseArrays:
    """``stays`` with the points, statuses and fixed payments of ``frame`` (``changed``: only these
    columns differ from those ``stays`` has read; the points are read in any case)."""
    n = len(frame)
    ok = status == STATUS_OK

    def again(column: str) -> bool:
        return changed is None or column in changed

    points = _float_column(frame, "case_points", file, allow_missing=True)
    if not again("fixed_payment"):
        fixed, fixed_fen = stays.fixed, stays.fixed_fen
    elif "fixed_payment" in frame.columns:
        fixed_fen_all = _fen(frame, "fixed_payment", file, rounding, allow_missing=True)
        fixed = frame["fixed_payment"].notna().to_numpy()
        fixed_fen = np.where(fixed, fixed_fen_all, 0)
    else:
        fixed = np.zeros(n, dtype=bool)
        fixed_fen = np.zeros(n, dtype=np.int64)
    nan_points = np.isnan(points)
    if nan_points.any():
        no_points = nan_points & ~fixed & ok
        if no_points.any():
            status_labels.append("no_points")
            status = np.where(no_points, len(status_labels) - 1, status).astype(np.int8)
    if nan_points.any() or fixed.any():
        points = np.where(nan_points | fixed, 0.0, points)
    outlier_class, outlier_labels, base_points = stays.outlier_class, stays.outlier_labels, stays.base_points
    if again("outlier_class"):
        outlier_class = outlier_labels = None
        if "outlier_class" in frame.columns:
            outlier_class, outlier_labels = factorize(frame["outlier_class"])
            outlier_class = outlier_class.astype(np.int32)
    if again("base_points"):
        base_points = (_float_column(frame, "base_points", file, allow_missing=True, negative=True)
                       if "base_points" in frame.columns else np.full(n, np.nan))
    fund_part = _fund_part_points(frame, points, file) if "fund_part_points" in frame.columns else None
    # one dtype per array, so that the kernels compile once
    return replace(stays, points=points, fixed=fixed, fixed_fen=fixed_fen, status=status,
                   status_labels=np.asarray(status_labels, dtype=object), base_points=base_points,
                   outlier_class=outlier_class, outlier_labels=outlier_labels, fund_part_points=fund_part)


def _fund_part_points(frame: pd.DataFrame, points: np.ndarray, file: str) -> np.ndarray:
    """``fund_part_points`` (missing: 0), at most the stay's points (0 where it has none)."""
    fund_part = np.nan_to_num(_float_column(frame, "fund_part_points", file, allow_missing=True), nan=0.0)
    beyond = np.flatnonzero(fund_part > points * (1.0 + 1e-12) + 1e-9)
    if len(beyond) and (points[beyond] > 0).any():
        first = int(beyond[points[beyond] > 0][0])
        raise UsageError(f"{fund_part[first]:g} is more than the stay's case_points ({points[first]:g})",
                         file=file, row=first + 1, field="fund_part_points")
    return np.where(points > 0, fund_part, 0.0)
