"""Day care (日间医疗) rules, applied to the stays before points are computed (§8).

:func:`apply_day_care` keeps one output row per input row, in order, and says what happened to
each stay:

* ``day_care_status``: ``valid`` (within ``window_h``), ``extended`` (within ``extended_h``, a
  documented exception), ``converted`` (overran: now an ordinary inpatient stay), ``ineligible_level``
  (hospital below the category's level: ordinary stay), ``not_covered`` (category switched off:
  ordinary stay), ``outpatient_rules`` (day surgery registered but not operated [YB]), ``merged``
  (absorbed into the stay named in ``merged_into``, which is missing for every other stay), ``absorbed_day_stay`` (a ward stay that took in a
  converted day stay), ``period`` (an oncology day-ward treatment period); empty for ordinary stays.
* ``settle_status``: ``ok``; ``merged`` and ``outpatient_rules`` stays leave inpatient settlement
  (their cost moved to the surviving stay, or to outpatient rules).
* ``day_care_payment``: ``points``, ``value``, ``bed_day``, ``ffs`` or ``quota_minus_fee``; turned
  into points or a fixed payment by :func:`apply_day_payments` once points exist.

Pre-operative outpatient bills at the same hospital within ``preop_merge.days`` before admission
are added to the stay (``preop_cost``), and the fund share grows at the stay's own fund ratio.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from drgdip.budget.policy import DayCareRules
from drgdip.core.checks import flag_column
from drgdip.core.errors import UsageError
from drgdip.core.frames import with_columns

__all__ = ["DayCareResult", "apply_day_care", "apply_day_payments", "normalise_care_type", "CARE_TYPE_ALIASES",
           "DAY_CARE_APPLIED", "day_care_fingerprint",
           "dayward_periods"]

CARE_TYPE_ALIASES = {
    "": "inpatient", "1": "inpatient", "2": "day_surgery", "inpatient": "inpatient", "day_surgery": "day_surgery",
    "day_chemo": "day_chemo", "tcm_day": "tcm_day", "day_ward": "day_ward", "住院": "inpatient",
    "日间手术": "day_surgery", "日间化疗": "day_chemo", "中医日间": "tcm_day", "日间病房": "day_ward",
}
HOUR_NS = 3_600_000_000_000
DAY_NS = 24 * HOUR_NS


@dataclass(frozen=True)
class DayCareResult:
    """Stays after the day-care rules, and counts of what the rules did."""

    cases: pd.DataFrame
    counts: dict
    warnings: tuple[str, ...] = ()


CARE_CODES = ("inpatient", "day_surgery", "day_chemo", "tcm_day", "day_ward")
(INPATIENT, DAY_SURGERY, DAY_CHEMO, TCM_DAY, DAY_WARD) = range(len(CARE_CODES))
DAY_STATUSES = ("", "valid", "extended", "converted", "ineligible_level", "not_covered", "outpatient_rules",
                "merged", "absorbed_day_stay", "period")
(S_NONE, S_VALID, S_EXTENDED, S_CONVERTED, S_INELIGIBLE, S_NOT_COVERED, S_OUTPATIENT, S_MERGED, S_ABSORBED,
 S_PERIOD) = range(len(DAY_STATUSES))
PAYMENTS = ("", "points", "value", "bed_day", "ffs", "quota_minus_fee")


def normalise_care_type(values: pd.Series, file: str = "<cases>") -> np.ndarray:
    """Care type codes (index into ``CARE_CODES``; ``1``/``2`` and Chinese names accepted); unknown → error."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=np.int8)
    mapped[-1] = INPATIENT                           # missing care type: ordinary inpatient stay
    for k, value in enumerate(uniques):
        text = str(value).strip()
        token = CARE_TYPE_ALIASES.get(text, CARE_TYPE_ALIASES.get(text.lower()))
        if token is None:
            row = int(np.flatnonzero(codes == k)[0])
            raise UsageError(f"unknown care type {value!r}; allowed: inpatient, day_surgery, day_chemo, "
                             f"tcm_day, day_ward", file=file, row=row + 1, field="care_type")
        mapped[k] = CARE_CODES.index(token)
    return mapped[codes]


def _times(frame: pd.DataFrame, column: str, file: str) -> np.ndarray:
    """A datetime column as int64 nanoseconds (NaT → min int64)."""
    values = frame[column]
    if not (pd.api.types.is_datetime64_dtype(values.dtype) and isinstance(values.dtype, np.dtype)):
        times = pd.to_datetime(values, errors="coerce")
        bad = times.isna().to_numpy() & values.notna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise UsageError(f"cannot read the time {values.iloc[row]!r}", file=file, row=row + 1, field=column)
        values = times
    return values.to_numpy(dtype="datetime64[ns]").view(np.int64)


def _numbers(values: pd.Series) -> np.ndarray:
    """A column checked at the boundary (or given by a caller) as float64, NaN where missing or not a number."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _arrow(values: pd.Series) -> pa.Array:
    """A column as an Arrow array without copying it (categoricals as dictionary arrays)."""
    array = pa.array(values.array, from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _as_text(array: pa.Array) -> pa.Array:
    """An Arrow array as text (a dictionary array decoded)."""
    return array.cast(pa.large_string()) if not pa.types.is_large_string(array.type) else array


def _codes(values: pd.Series, tokens: tuple[str, ...]) -> np.ndarray:
    """Position of each value in ``tokens`` (-1 for anything else), without a string per row for categoricals."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        lookup = np.asarray([tokens.index(str(c)) if str(c) in tokens else -1 for c in values.cat.categories] + [-1])
        return lookup[values.cat.codes.to_numpy()]
    return pd.Index(tokens).get_indexer(values.astype("string").fillna(""))


def _text(frame: pd.DataFrame, column: str, rows: np.ndarray | None = None) -> np.ndarray:
    """Text of ``column`` ('' where missing) for ``rows`` (all rows by default), as an object array."""
    if column not in frame.columns:
        return np.full(len(frame) if rows is None else len(rows), "", dtype=object)
    series = frame[column] if rows is None else frame[column].iloc[rows]
    if isinstance(series.dtype, pd.CategoricalDtype):   # categories once, then a take
        labels = np.append(np.asarray([str(c) for c in series.cat.categories], dtype=object), "")
        return labels[series.cat.codes.to_numpy()]
    return series.astype("string").fillna("").to_numpy(dtype=object)


@njit(cache=True)
def dayward_periods(key, admit_ns, max_span_ns):
    """Treatment periods of day-ward visits sorted by (key, admit time).

    Parameters
    ----------
    key : int64[m]
        Patient × hospital of each visit (sorted).
    admit_ns : int64[m]
        Visit admission time, ascending within a key.
    max_span_ns : int
        A period holds the visits that start less than this after its first visit.

    Returns
    -------
    int64[m]
        Position (in the sorted order) of the first visit of each visit's period.
    """
    m = key.shape[0]
    first = np.empty(m, dtype=np.int64)
    start = 0
    for i in range(m):
        if i == 0 or key[i] != key[start] or admit_ns[i] - admit_ns[start] >= max_span_ns:
            start = i
        first[i] = start
    return first


def _settle_codes(frame: pd.DataFrame) -> tuple[np.ndarray, list]:
    """Input ``settle_status`` as codes into a label list that starts ok, merged, outpatient_rules."""
    labels = ["ok", "merged", "outpatient_rules"]
    n = len(frame)
    if "settle_status" not in frame.columns:
        return np.zeros(n, dtype=np.int8), labels
    codes, uniques = pd.factorize(frame["settle_status"], use_na_sentinel=True)
    table = np.zeros(len(uniques) + 1, dtype=np.int8)
    for k, value in enumerate(uniques):
        if str(value) not in labels:
            labels.append(str(value))
        table[k] = labels.index(str(value))
    return table[codes], labels


DAY_CARE_APPLIED = "day_care_applied"
"""Key of ``province.json`` naming the day-care rules already applied to the province's stays
(:func:`day_care_fingerprint`): settling it under the same rules applies them no second time."""


def day_care_fingerprint(rules: DayCareRules) -> str:
    """A short, stable name of a set of day-care rules (the hash of their full text)."""
    return hashlib.sha256(repr(rules).encode("utf-8")).hexdigest()[:16]


def apply_day_care(cases: pd.DataFrame, rules: DayCareRules, outpatient: pd.DataFrame | None = None,
                   file: str = "<cases>") -> DayCareResult:
    """Apply the day-care rules of ``rules`` (see the module docstring); one output row per input row."""
    n = len(cases)
    warnings: list[str] = []
    frame = cases.copy(deep=False)   # columns are replaced, never written in place
    care_in = (normalise_care_type(frame["care_type"], file) if "care_type" in frame.columns
               else np.zeros(n, dtype=np.int8))
    care = care_in.copy()
    status = np.zeros(n, dtype=np.int8)
    settle, settle_labels = _settle_codes(frame)
    ok_code, merged_code, outpatient_code = 0, 1, 2
    merged_rows: list[np.ndarray] = []
    merged_targets: list[np.ndarray] = []
    rewritten: dict[str, tuple[np.ndarray, np.ndarray]] = {}   # column -> (rows, new values) of merged stays
    method = np.ones(n, dtype=np.int8)               # points
    needs_regroup = np.zeros(n, dtype=bool)
    cost = frame["total_cost"].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    fund = frame["fund_paid"].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    preop_cost = np.zeros(n)
    session_days = np.zeros(n, dtype=np.int64)
    dayward_fee = np.zeros(n)
    fee_difference = np.zeros(n)
    level = (_numbers(frame["hospital_level"])
             if "hospital_level" in frame.columns else np.full(n, np.nan))

    has_times = "admit_time" in frame.columns and "discharge_time" in frame.columns
    admit = _times(frame, "admit_time", file) if has_times else None
    discharge = _times(frame, "discharge_time", file) if has_times else None
    if not rules.enabled or not (care != INPATIENT).any() and not rules.preop_merge.enabled:
        if not rules.enabled:
            care = care_in
        return _result(frame, care_in, care, status, settle, settle_labels, merged_rows, merged_targets, method,
                       needs_regroup, cost, fund, preop_cost, session_days, dayward_fee, fee_difference, warnings)

    # categories switched off and hospitals below the category's level: ordinary inpatient stays
    for code, name in enumerate(CARE_CODES):
        if code == INPATIENT:
            continue
        category = getattr(rules, name)
        rows = care == code
        if not rows.any():
            continue
        if not category.enabled:
            status[rows], care[rows] = S_NOT_COVERED, INPATIENT
            continue
        low = rows & ~(level >= category.min_hospital_level)
        status[low], care[low] = S_INELIGIBLE, INPATIENT
        rows &= ~low
        status[rows] = S_VALID
        method[rows] = PAYMENTS.index(category.payment)

    # time windows of day surgery and day chemotherapy
    windowed = (care == DAY_SURGERY) | (care == DAY_CHEMO)
    if windowed.any():
        if not has_times:
            warnings.append("no admit_time / discharge_time: day-care time windows not checked")
        else:
            rows = np.flatnonzero(windowed)
            hours = (discharge[rows] - admit[rows]) / HOUR_NS
            exception = (flag_column(frame, "day_exception", file=file)[rows]
                         if "day_exception" in frame.columns else np.zeros(len(rows), dtype=bool))
            extended = (hours > rules.window_h) & (hours <= rules.extended_h)
            if rules.extended_needs_flag:
                overrun = (hours > rules.extended_h) | (extended & ~exception)
                extended &= exception
            else:
                overrun = hours > rules.extended_h
            status[rows[extended]] = S_EXTENDED
            overrun = rows[overrun]
            status[overrun], care[overrun], method[overrun] = S_CONVERTED, INPATIENT, 1

    # day surgery registered but not operated
    if rules.no_procedure == "outpatient" and (care == DAY_SURGERY).any():
        rows = np.flatnonzero(care == DAY_SURGERY)
        empty = np.char.str_len(np.char.strip(_text(frame, "proc", rows).astype(str))) == 0
        status[rows[empty]], settle[rows[empty]] = S_OUTPATIENT, outpatient_code

    # converted day stays merged with a following ward stay of the same patient and hospital
    converted = np.flatnonzero(status == S_CONVERTED)
    if rules.merge_converted and len(converted) and has_times and "patient_id" in frame.columns:
        day_patient = _text(frame, "patient_id", converted)
        candidates = (care_in == INPATIENT) & (settle == ok_code) & \
            frame["patient_id"].isin(pd.unique(day_patient[day_patient != ""])).to_numpy(dtype=bool)
        ward = np.flatnonzero(candidates)
        left = pd.DataFrame({"row": converted, "t": discharge[converted], "patient": day_patient,
                             "hospital": _text(frame, "hospital_id", converted)})
        right = pd.DataFrame({"ward_row": ward, "t": admit[ward], "patient": _text(frame, "patient_id", ward),
                              "hospital": _text(frame, "hospital_id", ward)})
        left = left[left["patient"] != ""].sort_values("t", kind="stable")
        right = right.sort_values("t", kind="stable")
        if len(left) and len(right):
            link = pd.merge_asof(left, right, on="t", by=["patient", "hospital"], direction="forward",
                                 tolerance=int(rules.link_gap_h * HOUR_NS))
            link = link.dropna(subset=["ward_row"]).drop_duplicates(subset=["ward_row"], keep="first")
            day_rows = link["row"].to_numpy(dtype=np.int64)
            ward_rows = link["ward_row"].to_numpy(dtype=np.int64)
            if len(day_rows):
                cost[ward_rows] += cost[day_rows]
                fund[ward_rows] += fund[day_rows]
                admit_new = np.minimum(admit[ward_rows], admit[day_rows])
                rewritten["admit_time"] = (ward_rows, admit_new)
                if "los" in frame.columns:
                    span = np.ceil((discharge[ward_rows] - admit_new) / DAY_NS)
                    rewritten["los"] = (ward_rows, np.maximum(span, 1).astype(np.int64))
                if "proc" in frame.columns:
                    rewritten["proc"] = (ward_rows, np.asarray([
                        "|".join(p for p in (a, b) if p)
                        for a, b in zip(_text(frame, "proc", day_rows), _text(frame, "proc", ward_rows))], dtype=object))
                needs_regroup[ward_rows] = True
                status[day_rows], settle[day_rows] = S_MERGED, merged_code
                merged_rows.append(day_rows)
                merged_targets.append(ward_rows)
                status[ward_rows] = np.where(status[ward_rows] == S_NONE, S_ABSORBED, status[ward_rows])

    # oncology day ward: visits of one treatment period settled as one stay
    ward_day = (care == DAY_WARD) & (settle == ok_code)
    if ward_day.any():
        dw = rules.day_ward
        single = ward_day.copy()
        if has_times:
            single &= (discharge - admit) < DAY_NS
        los = np.nan_to_num(_numbers(frame["los"]), copy=False) if "los" in frame.columns else np.zeros(n)
        sessions = np.where(ward_day, np.maximum(los, 1), 0).astype(np.int64)
        rows = np.flatnonzero(single)
        patients = _text(frame, "patient_id", rows)
        rows = rows[patients != ""]
        if len(rows) > 1 and has_times:
            key_codes, _ = pd.factorize(pd.Series(_text(frame, "patient_id", rows)) + "\x1f"
                                        + pd.Series(_text(frame, "hospital_id", rows)))
            order = np.lexsort((admit[rows], key_codes))
            sorted_rows = rows[order]
            first = dayward_periods(key_codes[order].astype(np.int64), admit[sorted_rows],
                                    int(dw.period_max_days) * DAY_NS)
            head = sorted_rows[first]
            absorbed = head != sorted_rows
            src, dst = sorted_rows[absorbed], head[absorbed]
            np.add.at(cost, dst, cost[src])
            np.add.at(fund, dst, fund[src])
            np.add.at(sessions, dst, np.where(los[src] > 0, los[src], 1).astype(np.int64))
            last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
            np.maximum.at(last, head, discharge[sorted_rows])
            heads = np.unique(head[absorbed])
            if len(heads):
                rewritten["discharge_time"] = (heads, last[heads])
                if "los" in frame.columns:
                    rewritten["los"] = _merged_rows(rewritten.get("los"), heads, sessions[heads])
            status[src], settle[src] = S_MERGED, merged_code
            merged_rows.append(src)
            merged_targets.append(dst)
            sessions[src] = 0
        ward_day &= settle == ok_code
        status[ward_day] = S_PERIOD
        session_days[ward_day] = sessions[ward_day]
        rows = np.flatnonzero(ward_day)
        radio = np.zeros(n, dtype=bool)
        if "proc" in frame.columns and dw.radiotherapy_procs:
            main_proc = frame["proc"].iloc[rows].astype("string").fillna("").str.split(r"[|,]", regex=True).str[0]
            radio[rows] = main_proc.str.strip().str.startswith(tuple(dw.radiotherapy_procs)).fillna(False) \
                .to_numpy(dtype=bool)
        fee_day = _per_level(dw.fees, level)
        ward_fee_day = _per_level(dw.ward_fees, level)
        dayward_fee = np.where(ward_day & ~radio, session_days * fee_day, 0.0)
        fee_difference = np.where(ward_day, session_days * ward_fee_day - dayward_fee, 0.0)
        method[ward_day] = PAYMENTS.index(dw.payment)
    method[settle != ok_code] = 0

    # pre-operative outpatient bills merged into the stay
    if rules.preop_merge.enabled:
        if outpatient is None:
            warnings.append("preop_merge is on but no outpatient table was given: nothing merged")
        elif not has_times:
            warnings.append("preop_merge needs admit_time: nothing merged")
        else:
            preop_cost = _preop_costs(frame, outpatient, rules, admit, care_in, settle == ok_code)
            billed = np.flatnonzero(preop_cost)
            ratio = np.divide(fund[billed], cost[billed], out=np.zeros(len(billed)), where=cost[billed] > 0)
            cost[billed] += preop_cost[billed]
            fund[billed] += preop_cost[billed] * ratio

    frame = _rewrite(frame, rewritten, file)
    return _result(frame, care_in, care, status, settle, settle_labels, merged_rows, merged_targets, method,
                   needs_regroup, cost, fund, preop_cost, session_days, dayward_fee, fee_difference, warnings)


def _merged_rows(previous: tuple | None, rows: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, values) of a column two rules rewrite, the later rule's values winning."""
    if previous is None:
        return rows, values
    earlier_rows, earlier_values = previous
    keep = ~np.isin(earlier_rows, rows)
    return np.concatenate([earlier_rows[keep], rows]), np.concatenate([earlier_values[keep], values])


def _rewrite(frame: pd.DataFrame, rewritten: dict, file: str) -> pd.DataFrame:
    """``frame`` with the new admission / discharge times, lengths of stay and procedures of the stays
    day care merged. A rewritten column is replaced, not written into, so it takes one type whatever
    the input's (times as datetime64, lengths of stay as whole numbers): a CSV read as text and Parquet
    with narrow integers behave as a DataFrame does."""
    columns = {}
    for name, (rows, values) in rewritten.items():
        if name in ("admit_time", "discharge_time"):
            times = _times(frame, name, file).copy()
            times[rows] = values
            columns[name] = times.view("datetime64[ns]")
        elif name == "los":
            los = _numbers(frame["los"]).copy()
            los[rows] = values
            missing = np.isnan(los)
            columns[name] = (pd.arrays.IntegerArray(np.where(missing, 0, los).astype(np.int64), missing)
                             if missing.any() else los.astype(np.int64))
        else:
            text = frame[name].astype("string").copy()
            text.iloc[rows] = values
            columns[name] = text.array
    return with_columns(frame, **columns) if columns else frame


def _per_level(fees, level: np.ndarray) -> np.ndarray:
    """Daily bed + nursing + consultation fee of each stay's hospital level (0 where not listed)."""
    table = np.zeros(10)
    for lv, day_fees in fees.items():
        if 0 <= int(lv) < len(table):
            table[int(lv)] = day_fees.total
    index = np.where(np.isnan(level), 0, np.clip(np.nan_to_num(level), 0, len(table) - 1)).astype(np.int64)
    return np.where(np.isnan(level), 0.0, table[index])


def _preop_costs(frame: pd.DataFrame, outpatient: pd.DataFrame, rules: DayCareRules, admit: np.ndarray,
                 care_in: np.ndarray, settled: np.ndarray) -> np.ndarray:
    """Outpatient cost (yuan) merged into each stay."""
    n = len(frame)
    for column in ("hospital_id", "visit_time", "cost"):
        if column not in outpatient.columns:
            raise UsageError(f"outpatient table: missing column '{column}'", file="outpatient", field=column)
    merge = rules.preop_merge
    wanted = np.asarray([CARE_CODES.index(c) for c in merge.care_types], dtype=np.int8)
    eligible = np.flatnonzero(np.isin(care_in, wanted) & settled)
    if not len(eligible):
        return np.zeros(n)
    window = int(merge.days) * DAY_NS
    if merge.require_related:
        if "related_case_id" not in outpatient.columns:
            return np.zeros(n)
        stay_ids = _arrow(frame["case_id"]).take(pa.array(eligible))
        related = _arrow(outpatient["related_case_id"])
        named = np.flatnonzero(related.is_valid().to_numpy(zero_copy_only=False))
        found = pc.index_in(related.take(pa.array(named)), value_set=stay_ids)
        bills = named[found.is_valid().to_numpy(zero_copy_only=False)]
        if not len(bills):
            return np.zeros(n)
        row = eligible[found.drop_null().to_numpy(zero_copy_only=False)]
        taken_bills, taken_rows = pa.array(bills), pa.array(row)
        same_hospital = pc.equal(_as_text(_arrow(outpatient["hospital_id"]).take(taken_bills)),
                                 _as_text(_arrow(frame["hospital_id"]).take(taken_rows)))
        ok = same_hospital.fill_null(False).to_numpy(zero_copy_only=False)
        visit = outpatient["visit_time"].to_numpy()[bills]
        visit = pd.to_datetime(visit).to_numpy(dtype="datetime64[ns]").astype(np.int64) if len(visit) else \
            np.zeros(0, dtype=np.int64)
        ok &= (visit < admit[row]) & (visit >= admit[row] - window)
        if "patient_id" in outpatient.columns and "patient_id" in frame.columns:
            bill_patient = _as_text(_arrow(outpatient["patient_id"]).take(taken_bills)).fill_null("")
            stay_patient = _as_text(_arrow(frame["patient_id"]).take(taken_rows)).fill_null("")
            same = pc.or_(pc.or_(pc.equal(bill_patient, ""), pc.equal(stay_patient, "")),
                          pc.equal(bill_patient, stay_patient))
            ok &= same.to_numpy(zero_copy_only=False)
        cost = pd.to_numeric(outpatient["cost"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)[bills]
        return np.bincount(row[ok], weights=np.nan_to_num(cost[ok]), minlength=n)
    patient = _text(frame, "patient_id", eligible)
    keep = patient != ""
    stays_key, bills_key = _joint_codes(
        pd.Series(patient[keep]) + "\x1f" + pd.Series(_text(frame, "hospital_id", eligible[keep])),
        pd.Series(_text(outpatient, "patient_id")) + "\x1f" + pd.Series(_text(outpatient, "hospital_id")))
    out_patient = _text(outpatient, "patient_id")
    left = pd.DataFrame({"t": _times(outpatient, "visit_time", "outpatient"), "key": bills_key,
                         "cost": pd.to_numeric(outpatient["cost"], errors="coerce").fillna(0.0).to_numpy()})
    left = left[(out_patient != "") & (bills_key >= 0)].sort_values("t", kind="stable")
    right = pd.DataFrame({"t": admit[eligible[keep]], "key": stays_key, "row": eligible[keep]}).sort_values(
        "t", kind="stable")
    if not len(left) or not len(right):
        return np.zeros(n)
    link = pd.merge_asof(left, right, on="t", by="key", direction="forward", tolerance=window,
                         allow_exact_matches=False).dropna(subset=["row"])
    return np.bincount(link["row"].to_numpy(dtype=np.int64), weights=link["cost"].to_numpy(), minlength=n)


def _joint_codes(stays: pd.Series, bills: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of two text columns over one vocabulary (-1 for a bill's value no stay has)."""
    stay_codes, vocabulary = pd.factorize(stays)
    return stay_codes, pd.Index(vocabulary).get_indexer(bills)


def _result(frame, care_in, care, status, settle, settle_labels, merged_rows, merged_targets, method,
            needs_regroup, cost, fund, preop_cost, session_days, dayward_fee, fee_difference,
            warnings) -> DayCareResult:
    n = len(frame)
    merged_into = pa.nulls(n, pa.large_string()).to_pandas().array
    if merged_rows:
        rows = np.concatenate(merged_rows)
        target_of = np.full(n, -1, dtype=np.int64)
        target_of[rows] = np.concatenate(merged_targets)
        merged = target_of >= 0
        targets = np.unique(target_of[merged])
        target_ids, id_code = np.unique(_text(frame, "case_id", targets).astype(str), return_inverse=True)
        codes = np.full(n, -1, dtype=np.int64)
        codes[merged] = id_code.reshape(-1)[np.searchsorted(targets, target_of[merged])]
        merged_into = pa.DictionaryArray.from_arrays(
            pa.array(codes, mask=codes < 0, type=pa.int64()),
            pa.array(target_ids, type=pa.large_string())).dictionary_decode().to_pandas().array
    out = with_columns(
        frame,
        care_type_input=pd.Categorical.from_codes(care_in, categories=list(CARE_CODES)),
        care_type=pd.Categorical.from_codes(care, categories=list(CARE_CODES)),
        day_care_status=pd.Categorical.from_codes(status, categories=list(DAY_STATUSES)),
        settle_status=pd.Categorical.from_codes(settle, categories=settle_labels),
        merged_into=merged_into,
        day_care_payment=pd.Categorical.from_codes(method, categories=list(PAYMENTS)),
        needs_regroup=needs_regroup, total_cost=cost, fund_paid=fund, preop_cost=preop_cost,
        session_days=session_days, dayward_fee=dayward_fee, fee_difference=fee_difference,
    )
    counts = {DAY_STATUSES[k]: int(v) for k, v in enumerate(np.bincount(status[status != S_NONE],
                                                                          minlength=len(DAY_STATUSES))) if k and v}
    return DayCareResult(cases=out, counts=counts, warnings=tuple(warnings))


def apply_day_payments(frame: pd.DataFrame, rules: DayCareRules, reference_point_value, *,
                       group_col: str | None = None) -> pd.DataFrame:
    """Turn the non-points day-care payment methods into points or fixed payments (§8).

    ``value``: total cost × value_factor; ``bed_day``: days × daily_std; ``ffs``: the stay's cost;
    ``quota_minus_fee``: the quota (定额) of the period's group and hospital level
    (``day_ward.quotas``, looked up in ``group_col``: default ``dip_group`` when the stays carry it,
    else ``drg``) minus ``fee_difference``; a period without a quota is paid by
    ``day_ward.quota_fallback`` (``ffs``, or ``group_points``: its points × reference PV).
    With ``rules.in_pool`` the amount becomes points at ``reference_point_value`` (yuan per point, one
    value or one per stay) and is cleared inside the point pool [PZH]; otherwise the fund's part of it
    (at the stay's fund ratio; ``ffs`` pays the recorded fund) is a ``fixed_payment`` outside the pool.
    Adds ``day_care_amount`` (yuan, total-cost terms) and rewrites ``case_points`` / ``fixed_payment``
    (and ``fund_part_points``, which such a stay no longer has).
    """
    n = len(frame)
    reference = np.broadcast_to(np.asarray(reference_point_value, dtype=np.float64), (n,))
    method = _codes(frame["day_care_payment"], PAYMENTS)
    points = frame["case_points"].to_numpy(dtype=np.float64, na_value=np.nan).copy()
    fixed = (frame["fixed_payment"].to_numpy(dtype=np.float64, na_value=np.nan).copy()
             if "fixed_payment" in frame.columns else np.full(n, np.nan))
    amount = np.full(n, np.nan)
    # only the stays with a payment method of their own are worked on: a few among millions
    rows = np.flatnonzero(np.isin(method, PAID_BY_RULE))
    amount[rows], ffs = _day_care_amounts(frame, rules, rows, method[rows], points[rows], reference[rows], group_col)
    paid = ~np.isnan(amount[rows])
    special, ffs = rows[paid], ffs[paid]
    if rules.in_pool:
        lacking = ~(reference[special] > 0)
        if lacking.any():
            raise UsageError("day-care payments in the point pool need a reference point value",
                             row=int(special[lacking][0]) + 1, field="day_care.reference_point_value")
        points[special] = amount[special] / reference[special]
    else:
        cost = frame["total_cost"].to_numpy(dtype=np.float64)[special]
        fund = frame["fund_paid"].to_numpy(dtype=np.float64)[special]
        ratio = np.divide(fund, cost, out=np.zeros(len(special)), where=cost > 0)
        fixed[special] = np.where(ffs, fund, amount[special] * ratio)
        points[special] = np.nan
    rewritten = {"day_care_amount": amount, "case_points": points, "fixed_payment": fixed}
    if "fund_part_points" in frame.columns:   # a stay paid by its day-care rule has no bed-day points left
        fund_part = frame["fund_part_points"].to_numpy(dtype=np.float64).copy()
        fund_part[special] = 0.0
        rewritten["fund_part_points"] = fund_part
    return with_columns(frame, **rewritten)


PAID_BY_RULE = [PAYMENTS.index(m) for m in ("value", "bed_day", "ffs", "quota_minus_fee")]


def _day_care_amounts(frame: pd.DataFrame, rules: DayCareRules, rows: np.ndarray, method: np.ndarray,
                      points: np.ndarray, reference: np.ndarray, group_col: str | None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(the amount in yuan, NaN where none; whether it is fee-for-service) of the stays ``rows``, whose
    payment ``method``, ``points`` and ``reference`` point values are given."""
    k = len(rows)
    cost = frame["total_cost"].to_numpy(dtype=np.float64)[rows]
    care = _codes(frame["care_type"], CARE_CODES)[rows] if "care_type" in frame.columns else np.zeros(k, dtype=np.int8)
    los = np.nan_to_num(_numbers(frame["los"].iloc[rows]), copy=False) if "los" in frame.columns else np.zeros(k)
    amount = np.full(k, np.nan)
    for code in (DAY_SURGERY, DAY_CHEMO, TCM_DAY):
        category = getattr(rules, CARE_CODES[code])
        here = care == code
        if category.payment == "value":
            amount = np.where(here & (method == PAYMENTS.index("value")), cost * category.value_factor, amount)
        elif category.payment == "bed_day":
            amount = np.where(here & (method == PAYMENTS.index("bed_day")),
                              np.maximum(los, 1) * (category.daily_std or 0.0), amount)
    ffs = method == PAYMENTS.index("ffs")
    by_quota = (method == PAYMENTS.index("quota_minus_fee")) & ("fee_difference" in frame.columns)
    if by_quota.any():
        wanted = np.zeros(len(frame), dtype=bool)
        wanted[rows[by_quota]] = True
        quota = _day_ward_quotas(frame, rules.day_ward, wanted, group_col)[rows]
        if rules.day_ward.quota_fallback == "group_points":
            quota = np.where(np.isnan(quota), np.nan_to_num(points) * reference, quota)
        else:
            ffs = ffs | (by_quota & np.isnan(quota))
        diff = frame["fee_difference"].to_numpy(dtype=np.float64)[rows]
        amount = np.where(by_quota, np.maximum(quota - diff, 0.0), amount)
    return np.where(ffs, cost, amount), ffs


def _day_ward_quotas(frame: pd.DataFrame, rules, rows: np.ndarray, group_col: str | None) -> np.ndarray:
    """The quota (定额, yuan) of each period's group and hospital level where ``rows``; NaN where none."""
    quota = np.full(len(frame), np.nan)
    if not rules.quotas:
        return quota
    column = group_col or ("dip_group" if "dip_group" in frame.columns else "drg")
    if column not in frame.columns or "hospital_level" not in frame.columns:
        return quota
    listed = [(str(group), float(lv), yuan) for group, by_level in rules.quotas.items()
              for lv, yuan in by_level.items()]
    table = pd.MultiIndex.from_tuples([(group, lv) for group, lv, _ in listed])
    periods = np.flatnonzero(rows)
    keys = pd.MultiIndex.from_arrays([_text(frame, column, periods).astype(str),
                                      _numbers(frame["hospital_level"].iloc[periods])])
    found = table.get_indexer(keys)
    yuan = np.append(np.asarray([y for _, _, y in listed], dtype=np.float64), np.nan)
    quota[periods] = yuan[found]
    return quota
