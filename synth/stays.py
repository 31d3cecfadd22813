"""Dates, times and lengths of stay by care type (住院时间, 日间医疗时间窗).

``los`` follows the settlement-list convention: calendar days from admission to discharge date,
at least 1 (a same-day stay counts one day). Exceptions, as the day-care rules define them
(domain.md section 8): a TCM day-care stay counts its treatment days, an oncology day-ward
treatment period counts its visit (session) days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drgdip.synth.params import SynthParams
from drgdip.synth.scheme_profile import DAY_CHEMO, DAY_SURGERY, DAY_WARD, GENERAL, PSYCH_LONG, TCM_DAY

HOUR = 3600
DAY = 86400
DAY_WARD_MAX_VISITS = 40
MAX_ORDINARY_LOS = 120


def discharge_dates(rng: np.random.Generator, year: np.ndarray, monthly_volume) -> np.ndarray:
    """A discharge date (datetime64[D]) in each case's year, days weighted by month volume."""
    out = np.empty(len(year), dtype="datetime64[D]")
    months = np.asarray(monthly_volume, dtype=np.float64)
    for y in np.unique(year):
        rows = np.flatnonzero(year == y)
        days = np.arange(np.datetime64(f"{int(y)}-01-01"), np.datetime64(f"{int(y) + 1}-01-01"))
        month = days.astype("datetime64[M]").astype(np.int64) % 12
        w = months[month]
        cdf = np.cumsum(w / w.sum())
        pick = np.minimum(np.searchsorted(cdf, rng.random(len(rows)), side="right"), len(days) - 1)
        out[rows] = days[pick]
    return out


@dataclass
class StayTimes:
    """Admission/discharge times, LOS and day-ward session dates of each case."""

    admit_time: np.ndarray       # datetime64[s]
    discharge_time: np.ndarray   # datetime64[s]
    los: np.ndarray              # int16
    window_hours: np.ndarray     # float64, discharge - admit in hours
    visit_case: np.ndarray       # int64[n_visits] row of the day-ward case of each visit
    visit_date: np.ndarray       # datetime64[D][n_visits]


def _window_hours(rng, n: int, shares) -> np.ndarray:
    """Stay windows in hours: < 24 h, 24-48 h, > 48 h in the given shares."""
    u = rng.random(n)
    short = rng.uniform(4.0, 23.5, n)
    middle = rng.uniform(24.5, 47.5, n)
    long = rng.uniform(49.0, 96.0, n)
    return np.where(u < shares[0], short, np.where(u < shares[0] + shares[1], middle, long))


def stay_times(rng: np.random.Generator, care_class: np.ndarray, discharge_date: np.ndarray,
               base_los: np.ndarray, los_multiplier: np.ndarray, z_los: np.ndarray,
               params: SynthParams) -> StayTimes:
    """Times of every stay from its care class and discharge date.

    Parameters
    ----------
    care_class : int8[n]
        Care class (scheme_profile constants).
    discharge_date : datetime64[D][n]
    base_los : float64[n]
        Median LOS of the case's ADRG (ordinary stays).
    los_multiplier : float64[n]
        Severity multiplier of the LOS.
    z_los : float64[n]
        Standard-normal LOS deviate of the case (correlated with its cost deviate).
    """
    n = len(care_class)
    day0 = discharge_date.astype("datetime64[s]")
    los = np.ones(n, dtype=np.int64)
    admit = np.empty(n, dtype="datetime64[s]")
    discharge = np.empty(n, dtype="datetime64[s]")

    def seconds(lo_h, hi_h, size):
        return (rng.uniform(lo_h, hi_h, size) * HOUR).astype(np.int64)

    # ordinary inpatient stays
    rows = np.flatnonzero(care_class == GENERAL)
    days = np.rint(base_los[rows] * los_multiplier[rows] * np.exp(params.los_sigma * z_los[rows]))
    days = np.clip(days, 1, MAX_ORDINARY_LOS).astype(np.int64)
    los[rows] = days
    discharge[rows] = day0[rows] + seconds(8, 17, len(rows))
    admit[rows] = day0[rows] - days * DAY + seconds(7, 20, len(rows))

    # psychiatric long stays (bed-day payment)
    rows = np.flatnonzero(care_class == PSYCH_LONG)
    lo, hi = params.psych_long_stay_los
    days = (lo + np.floor(rng.beta(1.5, 3.0, len(rows)) * (hi - lo + 1))).astype(np.int64)
    days = np.minimum(days, hi)
    los[rows] = days
    discharge[rows] = day0[rows] + seconds(8, 17, len(rows))
    admit[rows] = day0[rows] - days * DAY + seconds(8, 17, len(rows))

    # day surgery and day chemotherapy: a window in hours, discharged on the drawn date
    for care, shares in ((DAY_SURGERY, params.day_surgery_window_shares),
                         (DAY_CHEMO, params.day_chemo_window_shares)):
        rows = np.flatnonzero(care_class == care)
        window = _window_hours(rng, len(rows), shares)
        # admitted from 07:00 where the window allows a same-day discharge before 21:00
        earliest = np.maximum(window + 7.0, 9.0)
        same_day = earliest <= 21.0
        tod = np.where(same_day, rng.uniform(0, 1, len(rows)) * (21.0 - earliest) + earliest,
                       rng.uniform(8.0, 18.0, len(rows)))
        discharge[rows] = day0[rows] + (tod * HOUR).astype(np.int64)
        admit[rows] = discharge[rows] - (window * HOUR).astype(np.int64)
        span = (discharge[rows].astype("datetime64[D]") - admit[rows].astype("datetime64[D]"))
        los[rows] = np.maximum(span.astype(np.int64), 1)

    # TCM day care: consecutive treatment days, home every evening
    rows = np.flatnonzero(care_class == TCM_DAY)
    lo, hi = params.tcm_day_days
    days = rng.integers(lo, hi + 1, len(rows))
    los[rows] = days
    discharge[rows] = day0[rows] + seconds(15, 18, len(rows))
    admit[rows] = day0[rows] - (days - 1) * DAY + seconds(7.5, 9.5, len(rows))

    # oncology day ward: one treatment period, sessions every `interval` days
    rows = np.flatnonzero(care_class == DAY_WARD)
    lo, hi = params.day_ward_period_days
    intervals = np.asarray(params.day_ward_intervals, dtype=np.int64)
    shares = np.asarray(params.day_ward_interval_shares, dtype=np.float64)
    interval = intervals[rng.choice(len(intervals), len(rows), p=shares / shares.sum())]
    period = rng.integers(lo, hi + 1, len(rows))
    visits = np.clip(period // interval + 1, 2, DAY_WARD_MAX_VISITS)
    los[rows] = visits
    span_days = (visits - 1) * interval
    discharge[rows] = day0[rows] + seconds(11, 17, len(rows))
    admit[rows] = day0[rows] - span_days * DAY + seconds(7.5, 10, len(rows))
    visit_case = np.repeat(rows, visits)
    first = np.repeat(day0[rows].astype("datetime64[D]") - span_days, visits)
    step = np.arange(len(visit_case)) - np.repeat(np.cumsum(visits) - visits, visits)
    visit_date = first + step * np.repeat(interval, visits)

    window_hours = (discharge - admit).astype(np.int64) / HOUR
    return StayTimes(admit_time=admit, discharge_time=discharge, los=los.astype(np.int16),
                     window_hours=window_hours, visit_case=visit_case.astype(np.int64),
                     visit_date=visit_date.astype("datetime64[D]"))


def leaving_types(rng: np.random.Generator, care_class: np.ndarray, severity: np.ndarray,
                  params: SynthParams) -> np.ndarray:
    """Discharge way (离院方式): 1 ordinary, 2 transfer, 3 community, 4 against advice, 5 death, 9 other.

    Day-care stays end ordinarily; deaths follow the severity-specific rates.
    """
    n = len(care_class)
    death = np.asarray(params.death_rates)[severity]
    cuts = np.cumsum(np.stack([
        death,
        np.full(n, params.transfer_rate),
        np.full(n, params.community_rate),
        np.full(n, params.against_advice_rate),
        np.full(n, params.other_leaving_rate),
    ]), axis=0)
    u = rng.random(n)
    codes = np.array([5, 2, 3, 4, 9, 1], dtype=np.int8)
    out = codes[(u[None, :] >= cuts).sum(axis=0)]
    ordinary_only = (care_class != GENERAL) & (care_class != PSYCH_LONG)
    out[ordinary_only] = 1
    return out
