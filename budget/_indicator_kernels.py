"""numba kernel of the performance indicators: for each stay, the days to the patient's next stay at the
same hospital (readmission) and to the next one in a related group (suspected split admission)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["days_to_next"]

NANOSECONDS_PER_DAY = 86_400e9


@njit(cache=True)
def days_to_next(order, patient, hospital, related, admit, discharge, planned):
    """``order``: the stays sorted by patient, then admission. Returns per stay (by row) the days from its
    discharge to the admission of the same patient's next stay at the same hospital (NaN when none, or
    when that stay was a planned readmission), and to the next stay at the same hospital in the same
    related group (NaN when none). Patients have a handful of stays, so each scans its own few."""
    n = len(order)
    to_same = np.full(n, np.nan)
    to_related = np.full(n, np.nan)
    start = 0
    while start < n:
        person = patient[order[start]]
        end = start + 1
        while end < n and patient[order[end]] == person:
            end += 1
        if person >= 0:
            for a in range(start, end):
                i = order[a]
                if hospital[i] < 0:
                    continue
                found_same = False
                found_related = related[i] < 0
                for b in range(a + 1, end):
                    j = order[b]
                    if hospital[j] != hospital[i]:
                        continue
                    if not found_same:
                        found_same = True
                        if not planned[j]:
                            to_same[i] = (admit[j] - discharge[i]) / NANOSECONDS_PER_DAY
                    if not found_related and related[j] == related[i]:
                        found_related = True
                        to_related[i] = (admit[j] - discharge[i]) / NANOSECONDS_PER_DAY
                    if found_same and found_related:
                        break
        start = end
    return to_same, to_related
