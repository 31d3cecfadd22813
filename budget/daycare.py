"""Day care (日间医疗) rules, applied to the stays before points are computed (§8).

:func:`apply_day_care` keeps one output row per input row, in order, and says what happened to
each stay:

* ``day_care_status``: ``valid`` (within ``window_h``), ``extended`` (within ``extended_h``, a
  documented exception), ``converted`` (overran: now an ordinary inpatient stay), ``ineligible_level``
  (hospital below the category's level: ordinary stay), ``not_covered`` (category switched off:
  ordinary stay), ``outpatient_rules`` (day surgery registered but not operated [YB]), ``merged``
  (absorbed into the stay named in ``merged_into``), ``absorbed_day_stay`` (a ward stay that took in a
  converted day stay), ``period`` (an oncology day-ward treatment period); empty for ordinary stays.
* ``settle_status``: ``ok``; ``merged`` and ``outpatient_rules`` stays leave inpatient settlement
  (their cost moved to the surviving stay, or to outpatient rules).
* ``day_care_payment``: ``points``, ``value``, ``bed_day``, ``ffs`` or ``quota_minus_fee``; turned
  into points or a fixed payment by :func:`apply_day_payments` once points exist.

Pre-operative outpatient bills at the same hospital within ``preop_merge.days`` before admission
are added to the stay (``preop_cost``), and the fund share grows at the stay's own fund ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit

from budget.policy import DayCareRules
from drgdip.errors import UsageError

__all__ = ["DayCareResult", "apply_day_care", "apply_day_payments", "normalise_care_type", "CARE_TYPE_ALIASES",
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


def normalise_care_type(values: pd.Series, file: str = "<cases>") -> np.ndarray:
    """Care types as the contract's tokens (``1``/``2`` and Chinese names accepted); unknown → error."""
    codes, uniques = pd.factorize(values.astype("string").fillna("").str.strip(), use_na_sentinel=False)
    mapped = []
    for k, value in enumerate(uniques):
        token = CARE_TYPE_ALIASES.get(str(value), CARE_TYPE_ALIASES.get(str(value).lower()))
        if token is None:
            row = int(np.flatnonzero(codes == k)[0])
            raise UsageError(f"unknown care type {value!r}; allowed: inpatient, day_surgery, day_chemo, "
                             f"tcm_day, day_ward", file=file, row=row + 1, field="care_type")
        mapped.append(token)
    return np.asarray(mapped, dtype=object)[codes] if len(mapped) else np.full(len(values), "inpatient",
                                                                               dtype=object)


def _times(frame: pd.DataFrame, column: str, file: str) -> np.ndarray:
    """A datetime column as int64 nanoseconds (NaT → min int64)."""
    times = pd.to_datetime(frame[column], errors="coerce")
    bad = times.isna().to_numpy() & frame[column].notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise UsageError(f"cannot read the time {frame[column].iloc[row]!r}", file=file, row=row + 1, field=column)
    return times.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _text(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    return frame[column].astype("string").fillna("").to_numpy(dtype=object)


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


def apply_day_care(cases: pd.DataFrame, rules: DayCareRules, outpatient: pd.DataFrame | None = None,
                   file: str = "<cases>") -> DayCareResult:
    """Apply the day-care rules of ``rules`` (see the module docstring); one output row per input row."""
    n = len(cases)
    warnings: list[str] = []
    frame = cases.copy()
    care_in = (normalise_care_type(frame["care_type"], file) if "care_type" in frame.columns
               else np.full(n, "inpatient", dtype=object))
    care = care_in.copy()
    status = np.full(n, "", dtype=object)
    settle = (frame["settle_status"].astype("string").fillna("ok").to_numpy(dtype=object)
              if "settle_status" in frame.columns else np.full(n, "ok", dtype=object))
    merged_into = np.full(n, "", dtype=object)
    method = np.full(n, "points", dtype=object)
    needs_regroup = np.zeros(n, dtype=bool)
    cost = frame["total_cost"].to_numpy(dtype=np.float64, na_value=np.nan)
    fund = frame["fund_paid"].to_numpy(dtype=np.float64, na_value=np.nan)
    preop_cost = np.zeros(n)
    session_days = np.zeros(n, dtype=np.int64)
    dayward_fee = np.zeros(n)
    fee_difference = np.zeros(n)
    case_id = frame["case_id"].astype("string").fillna("").to_numpy(dtype=object)
    level = (pd.to_numeric(frame["hospital_level"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
             if "hospital_level" in frame.columns else np.full(n, np.nan))
    los = (pd.to_numeric(frame["los"], errors="coerce").fillna(0).to_numpy(dtype=np.float64)
           if "los" in frame.columns else np.zeros(n))

    has_times = "admit_time" in frame.columns and "discharge_time" in frame.columns
    admit = _times(frame, "admit_time", file) if has_times else None
    discharge = _times(frame, "discharge_time", file) if has_times else None
    if not rules.enabled:
        return _result(frame, care_in, care_in, status, settle, merged_into, method, needs_regroup, cost, fund,
                       preop_cost, session_days, dayward_fee, fee_difference, warnings)

    day = care != "inpatient"
    # categories switched off and hospitals below the category's level: ordinary inpatient stays
    for name in ("day_surgery", "day_chemo", "tcm_day", "day_ward"):
        category = getattr(rules, name)
        rows = care == name
        if not rows.any():
            continue
        if not category.enabled:
            status[rows], care[rows] = "not_covered", "inpatient"
            continue
        low = rows & ~(level >= category.min_hospital_level)
        status[low], care[low] = "ineligible_level", "inpatient"
        rows &= ~low
        status[rows] = "valid"
        method[rows] = category.payment

    # time windows of day surgery and day chemotherapy
    windowed = (care == "day_surgery") | (care == "day_chemo")
    if windowed.any():
        if not has_times:
            warnings.append("no admit_time / discharge_time: day-care time windows not checked")
        else:
            hours = (discharge - admit) / HOUR_NS
            exception = (frame["day_exception"].fillna(False).astype(bool).to_numpy()
                         if "day_exception" in frame.columns else np.zeros(n, dtype=bool))
            extended = windowed & (hours > rules.window_h) & (hours <= rules.extended_h)
            if rules.extended_needs_flag:
                overrun = windowed & ((hours > rules.extended_h) | (extended & ~exception))
                extended &= exception
            else:
                overrun = windowed & (hours > rules.extended_h)
            status[extended] = "extended"
            status[overrun], care[overrun], method[overrun] = "converted", "inpatient", "points"

    # day surgery registered but not operated
    if rules.no_procedure == "outpatient":
        proc_len = (frame["proc"].astype("string").fillna("").str.strip().str.len().to_numpy(dtype=np.int64)
                    if "proc" in frame.columns else np.zeros(n, dtype=np.int64))
        no_proc = (care == "day_surgery") & (proc_len == 0)
        status[no_proc], settle[no_proc] = "outpatient_rules", "outpatient_rules"

    patient = _text(frame, "patient_id")
    hospital = _text(frame, "hospital_id")

    # converted day stays merged with a following ward stay of the same patient and hospital
    converted = status == "converted"
    if rules.merge_converted and converted.any() and has_times and "patient_id" in frame.columns:
        ward = (care_in == "inpatient") & (settle == "ok")
        left = pd.DataFrame({"row": np.flatnonzero(converted), "t": discharge[converted],
                             "patient": patient[converted], "hospital": hospital[converted]})
        right = pd.DataFrame({"ward_row": np.flatnonzero(ward), "t": admit[ward],
                              "patient": patient[ward], "hospital": hospital[ward]})
        left = left[left["patient"] != ""].sort_values("t", kind="stable")
        right = right[right["patient"] != ""].sort_values("t", kind="stable")
        if len(left) and len(right):
            link = pd.merge_asof(left, right, on="t", by=["patient", "hospital"], direction="forward",
                                 tolerance=int(rules.link_gap_h * HOUR_NS))
            link = link.dropna(subset=["ward_row"])
            link = link.drop_duplicates(subset=["ward_row"], keep="first")
            day_rows = link["row"].to_numpy(dtype=np.int64)
            ward_rows = link["ward_row"].to_numpy(dtype=np.int64)
            if len(day_rows):
                cost[ward_rows] += cost[day_rows]
                fund[ward_rows] += fund[day_rows]
                admit_new = np.minimum(admit[ward_rows], admit[day_rows])
                frame.loc[frame.index[ward_rows], "admit_time"] = pd.to_datetime(admit_new)
                if "los" in frame.columns:
                    span = np.ceil((discharge[ward_rows] - admit_new) / DAY_NS)
                    frame.loc[frame.index[ward_rows], "los"] = np.maximum(span, 1).astype(np.int64)
                if "proc" in frame.columns:
                    proc = frame["proc"].astype("string").fillna("").to_numpy(dtype=object)
                    frame.loc[frame.index[ward_rows], "proc"] = [
                        "|".join(p for p in (a, b) if p) for a, b in zip(proc[day_rows], proc[ward_rows])]
                needs_regroup[ward_rows] = True
                status[day_rows], settle[day_rows] = "merged", "merged"
                merged_into[day_rows] = case_id[ward_rows]
                status[ward_rows] = np.where(status[ward_rows] == "", "absorbed_day_stay", status[ward_rows])

    # oncology day ward: visits of one treatment period settled as one stay
    ward_day = (care == "day_ward") & (settle == "ok")
    if ward_day.any():
        dw = rules.day_ward
        single = ward_day.copy()
        if has_times:
            single &= (discharge - admit) < DAY_NS
        sessions = np.where(ward_day, np.maximum(los, 1), 0).astype(np.int64)
        rows = np.flatnonzero(single & (patient != ""))
        if len(rows) > 1 and has_times:
            key_codes, _ = pd.factorize(pd.Series(patient[rows]) + "\x1f" + pd.Series(hospital[rows]))
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
                frame.loc[frame.index[heads], "discharge_time"] = pd.to_datetime(last[heads])
                if "los" in frame.columns:
                    frame.loc[frame.index[heads], "los"] = sessions[heads]
            status[src], settle[src], merged_into[src] = "merged", "merged", case_id[dst]
            sessions[src] = 0
        ward_day &= settle == "ok"
        status[ward_day] = "period"
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
        method[ward_day] = dw.payment
    method[settle != "ok"] = ""

    # pre-operative outpatient bills merged into the stay
    if rules.preop_merge.enabled:
        if outpatient is None:
            warnings.append("preop_merge is on but no outpatient table was given: nothing merged")
        elif not has_times:
            warnings.append("preop_merge needs admit_time: nothing merged")
        else:
            added = _preop_costs(outpatient, rules, case_id, patient, hospital, admit, care_in, settle)
            ratio = np.divide(fund, cost, out=np.zeros(n), where=cost > 0)
            preop_cost = added
            cost = cost + added
            fund = fund + added * ratio

    counts = {k: int(v) for k, v in pd.Series(status[status != ""]).value_counts().items()}
    return _result(frame, care_in, care, status, settle, merged_into, method, needs_regroup, cost, fund,
                   preop_cost, session_days, dayward_fee, fee_difference, warnings, counts)


def _per_level(fees, level: np.ndarray) -> np.ndarray:
    """Daily bed + nursing + consultation fee of each stay's hospital level (0 where not listed)."""
    table = np.zeros(10)
    for lv, day_fees in fees.items():
        if 0 <= int(lv) < len(table):
            table[int(lv)] = day_fees.total
    index = np.where(np.isnan(level), 0, np.clip(np.nan_to_num(level), 0, len(table) - 1)).astype(np.int64)
    return np.where(np.isnan(level), 0.0, table[index])


def _preop_costs(outpatient: pd.DataFrame, rules: DayCareRules, case_id, patient, hospital, admit, care_in,
                 settle) -> np.ndarray:
    """Outpatient cost (yuan) merged into each stay."""
    n = len(case_id)
    for column in ("hospital_id", "visit_time", "cost"):
        if column not in outpatient.columns:
            raise UsageError(f"outpatient table: missing column '{column}'", file="outpatient", field=column)
    merge = rules.preop_merge
    eligible = np.isin(care_in, np.asarray(merge.care_types, dtype=object)) & (settle == "ok")
    visit = _times(outpatient, "visit_time", "outpatient")
    out_cost = pd.to_numeric(outpatient["cost"], errors="coerce").fillna(0.0).to_numpy(dtype=np.float64)
    out_hospital = _text(outpatient, "hospital_id")
    out_patient = _text(outpatient, "patient_id")
    window = int(merge.days) * DAY_NS
    if merge.require_related:
        if "related_case_id" not in outpatient.columns:
            return np.zeros(n)
        related = _text(outpatient, "related_case_id")
        lookup = pd.Series(np.arange(n), index=pd.Index(case_id, dtype=object))
        lookup = lookup[~lookup.index.duplicated(keep="first")]
        row = lookup.reindex(pd.Index(related, dtype=object)).fillna(-1).to_numpy(dtype=np.int64)
        ok = (row >= 0) & (related != "")
        r = np.where(ok, row, 0)
        ok &= eligible[r] & (out_hospital == hospital[r]) & (visit < admit[r]) & (visit >= admit[r] - window)
        ok &= (out_patient == "") | (patient[r] == "") | (out_patient == patient[r])
        return np.bincount(r[ok], weights=out_cost[ok], minlength=n)
    rows = np.flatnonzero(eligible & (patient != ""))
    left = pd.DataFrame({"t": visit, "patient": out_patient, "hospital": out_hospital, "cost": out_cost})
    left = left[left["patient"] != ""].sort_values("t", kind="stable")
    right = pd.DataFrame({"t": admit[rows], "patient": patient[rows], "hospital": hospital[rows], "row": rows})
    right = right.sort_values("t", kind="stable")
    if not len(left) or not len(right):
        return np.zeros(n)
    link = pd.merge_asof(left, right, on="t", by=["patient", "hospital"], direction="forward",
                         tolerance=window, allow_exact_matches=False).dropna(subset=["row"])
    return np.bincount(link["row"].to_numpy(dtype=np.int64), weights=link["cost"].to_numpy(), minlength=n)


def _result(frame, care_in, care, status, settle, merged_into, method, needs_regroup, cost, fund, preop_cost,
            session_days, dayward_fee, fee_difference, warnings, counts=None) -> DayCareResult:
    out = frame.assign(
        care_type_input=care_in, care_type=care, day_care_status=status, settle_status=settle,
        merged_into=merged_into, day_care_payment=method, needs_regroup=needs_regroup,
        total_cost=cost, fund_paid=fund, preop_cost=preop_cost, session_days=session_days,
        dayward_fee=dayward_fee, fee_difference=fee_difference,
    )
    return DayCareResult(cases=out, counts=counts or {}, warnings=tuple(warnings))


def apply_day_payments(frame: pd.DataFrame, rules: DayCareRules, reference_point_value: float) -> pd.DataFrame:
    """Turn the non-points day-care payment methods into points or fixed payments (§8).

    ``value``: total cost × value_factor; ``bed_day``: days × daily_std; ``ffs``: the stay's cost;
    ``quota_minus_fee``: the group standard (points × reference PV) minus ``fee_difference``.
    With ``rules.in_pool`` the amount becomes points at ``reference_point_value`` (yuan per point)
    and is cleared inside the point pool [PZH]; otherwise the fund's part of it (at the stay's fund
    ratio; ``ffs`` pays the recorded fund) is a ``fixed_payment`` outside the pool.
    Adds ``day_care_amount`` (yuan, total-cost terms) and rewrites ``case_points`` / ``fixed_payment``.
    """
    n = len(frame)
    method = frame["day_care_payment"].astype("string").fillna("").to_numpy(dtype=object)
    points = frame["case_points"].to_numpy(dtype=np.float64, na_value=np.nan).copy()
    cost = frame["total_cost"].to_numpy(dtype=np.float64)
    fund = frame["fund_paid"].to_numpy(dtype=np.float64)
    care = frame["care_type"].astype("string").fillna("").to_numpy(dtype=object)
    los = (pd.to_numeric(frame["los"], errors="coerce").fillna(0).to_numpy(dtype=np.float64)
           if "los" in frame.columns else np.zeros(n))
    amount = np.full(n, np.nan)
    for name in ("day_surgery", "day_chemo", "tcm_day"):
        category = getattr(rules, name)
        rows = care == name
        if category.payment == "value":
            amount = np.where(rows & (method == "value"), cost * category.value_factor, amount)
        elif category.payment == "bed_day":
            amount = np.where(rows & (method == "bed_day"), np.maximum(los, 1) * (category.daily_std or 0.0), amount)
    amount = np.where(method == "ffs", cost, amount)
    if "fee_difference" in frame.columns:
        diff = frame["fee_difference"].to_numpy(dtype=np.float64)
        quota = method == "quota_minus_fee"
        amount = np.where(quota, np.maximum(np.nan_to_num(points) * reference_point_value - diff, 0.0), amount)
    special = ~np.isnan(amount)
    fixed = np.full(n, np.nan)
    if "fixed_payment" in frame.columns:
        fixed = frame["fixed_payment"].to_numpy(dtype=np.float64, na_value=np.nan).copy()
    if rules.in_pool:
        if not (reference_point_value and reference_point_value > 0):
            raise UsageError("day-care payments in the point pool need a reference point value",
                             field="day_care.reference_point_value")
        points = np.where(special, amount / reference_point_value, points)
    else:
        ratio = np.divide(fund, cost, out=np.zeros(n), where=cost > 0)
        fixed = np.where(special, np.where(method == "ffs", fund, amount * ratio), fixed)
        points = np.where(special, np.nan, points)
    return frame.assign(day_care_amount=amount, case_points=points, fixed_payment=fixed)
