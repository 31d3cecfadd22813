"""Outpatient visits (门诊): pre-operative visits linked to a stay, and unrelated visits.

A share of surgical stays (more of day surgery) have 1..N visits at the same hospital by the same
patient within the pre-operative window before admission; these carry the stay's case id in
``related_case_id`` so that settlement can merge their cost into the stay. Unrelated visits are
drawn for random patients of the province at their own hospital or another of their region, at
any time of the years covered; ``related_case_id`` is empty for them, even when one happens to
fall inside a window.
"""

from __future__ import annotations

import numpy as np

from drgdip.synth.params import SynthParams

DAY = 86400
HOUR = 3600


def preop_visits(rng: np.random.Generator, *, candidate_share: np.ndarray, admit_time: np.ndarray,
                 params: SynthParams):
    """Pre-operative visits: (case row of each visit, visit time datetime64[s], cost in fen).

    Parameters
    ----------
    candidate_share : float64[n]
        Probability that a stay has pre-operative visits (0 for stays that are not surgical).
    admit_time : datetime64[s][n]
    """
    n = len(admit_time)
    has = rng.random(n) < candidate_share
    rows = np.flatnonzero(has)
    count = rng.integers(1, params.preop_visits_max + 1, len(rows))
    case_row = np.repeat(rows, count)
    # on one of the days before the admission day, during opening hours, inside the window
    days_before = rng.integers(1, max(1, params.preop_window_days - 1) + 1, len(case_row))
    tod = rng.integers(8 * HOUR, 17 * HOUR, len(case_row))
    admit = admit_time[case_row]
    visit_time = admit.astype("datetime64[D]").astype("datetime64[s]") - days_before * DAY + tod
    earliest = admit - params.preop_window_days * DAY + 60
    visit_time = np.maximum(visit_time, earliest)
    cost = _visit_cost_fen(rng, len(case_row), params.outpatient_cost_median * 1.5)
    order = np.lexsort((visit_time.astype(np.int64), case_row))
    return case_row[order], visit_time[order], cost[order]


def unrelated_visits(rng: np.random.Generator, *, n_cases: int, case_hospital: np.ndarray,
                     hospital_region: np.ndarray, years: tuple[int, ...], params: SynthParams):
    """Unrelated visits: (case row whose patient visits, hospital index, visit time, cost in fen)."""
    m = int(round(n_cases * params.unrelated_visits_per_case))
    case_row = rng.integers(0, n_cases, m) if n_cases else np.zeros(0, dtype=np.int64)
    own = case_hospital[case_row]
    # half of the visits at the patient's own hospital, the rest at a hospital of its region
    other = np.empty(m, dtype=np.int64)
    region = hospital_region[own]
    order = np.argsort(hospital_region, kind="stable")
    sorted_regions = hospital_region[order]
    lo = np.searchsorted(sorted_regions, region, side="left")
    hi = np.searchsorted(sorted_regions, region, side="right")
    other[:] = order[lo + np.floor(rng.random(m) * (hi - lo)).astype(np.int64)]
    hospital = np.where(rng.random(m) < 0.5, own, other)
    start = np.datetime64(f"{min(years)}-01-01T00:00:00", "s").astype(np.int64)
    stop = np.datetime64(f"{max(years) + 1}-01-01T00:00:00", "s").astype(np.int64)
    day = rng.integers(0, (stop - start) // DAY, m)
    tod = rng.integers(8 * HOUR, 17 * HOUR, m)
    visit_time = (start + day * DAY + tod).astype("datetime64[s]")
    cost = _visit_cost_fen(rng, m, params.outpatient_cost_median)
    return case_row, hospital, visit_time, cost


def _visit_cost_fen(rng: np.random.Generator, m: int, median: float) -> np.ndarray:
    return np.maximum(np.rint(median * np.exp(0.6 * rng.standard_normal(m)) * 100), 500).astype(np.int64)
