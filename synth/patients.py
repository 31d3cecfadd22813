"""Patients (参保人) behind the stays: who comes back, and a birth date consistent across stays.

Stays that look alike (same hospital, insurance type, insured region, gender, age and admission
year) are chained in admission order into patients: a chain continues with probability
``1 - q`` unless the next stay would start before the previous one ended, which gives
readmissions, chemotherapy cycles and repeated day-ward periods at the same hospital. Each
patient then gets one birth date, and every stay's age and age in days are recomputed from it, so
a patient's ages agree across stays. Newborns, stays whose age class matters for grouping and
deliberately invalid stays stay single.
"""

from __future__ import annotations

import numpy as np

DAY = 86400


def chain_probability(repeat_share: float) -> float:
    """Probability ``q`` of starting a new patient so that about ``repeat_share`` of stays repeat.

    With geometric chain lengths the share of stays in single-stay patients is ``q**2``.
    """
    return float(np.sqrt(max(0.0, 1.0 - repeat_share)))


def assign_patients(rng: np.random.Generator, *, mergeable: np.ndarray, hospital: np.ndarray,
                    employee: np.ndarray, insured_region: np.ndarray, gender: np.ndarray,
                    age: np.ndarray, admit_time: np.ndarray, discharge_time: np.ndarray,
                    repeat_share: float) -> np.ndarray:
    """Patient index (0..P-1, numbered by first stay in case order) of every stay.

    Parameters
    ----------
    mergeable : bool[n]
        Stays that may share a patient with other stays.
    hospital, insured_region : int[n]
        Hospital and insured-region indices.
    employee : bool[n]
    gender, age : int[n]
    admit_time, discharge_time : datetime64[s][n]
    """
    n = len(mergeable)
    q = chain_probability(repeat_share)
    rows = np.flatnonzero(mergeable)
    admit = admit_time[rows].astype(np.int64)
    year = admit_time[rows].astype("datetime64[Y]").astype(np.int64)
    # one composite key (admission year, hospital, insurance, insured region, gender, age),
    # then admission time within it: two stable sorts instead of a seven-key lexsort
    key = year - year.min(initial=0)
    for part, bits in ((hospital[rows], 24), (employee[rows], 1), (insured_region[rows], 8),
                       (gender[rows], 4), (age[rows], 8)):
        key = (key << bits) | np.asarray(part, dtype=np.int64)
    by_time = np.argsort(admit, kind="stable")
    order = rows[by_time[np.argsort(key[by_time], kind="stable")]]
    start = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        same = np.ones(len(order) - 1, dtype=bool)
        for key in (hospital, employee, insured_region, gender, age):
            same &= key[order[1:]] == key[order[:-1]]
        a = admit_time[order].astype(np.int64)
        same &= admit_time[order[1:]].astype("datetime64[Y]") == admit_time[order[:-1]].astype("datetime64[Y]")
        gap_ok = a[1:] >= discharge_time[order[:-1]].astype(np.int64) + DAY
        start[1:] = ~(same & gap_ok & (rng.random(len(order) - 1) >= q))
    chain = np.cumsum(start) - 1
    patient = np.empty(n, dtype=np.int64)
    patient[order] = chain
    singles = np.flatnonzero(~mergeable)
    patient[singles] = chain[-1] + 1 + np.arange(len(singles)) if len(order) else np.arange(len(singles))
    # renumber by first appearance in case order
    first = np.full(patient.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(first, patient, np.arange(n))
    rank = np.empty_like(first)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[patient]


def birth_dates(patient: np.ndarray, admit_date: np.ndarray, age_days: np.ndarray) -> np.ndarray:
    """One birth date per patient: its earliest admission date minus that stay's age in days."""
    n_patients = int(patient.max()) + 1 if len(patient) else 0
    admit = admit_date.astype(np.int64)
    earliest = np.full(n_patients, np.iinfo(np.int64).max)
    np.minimum.at(earliest, patient, admit)
    is_earliest = admit == earliest[patient]
    rows = np.flatnonzero(is_earliest)
    birth = np.zeros(n_patients, dtype=np.int64)
    birth[patient[rows]] = admit[rows] - age_days[rows]
    return birth.astype("datetime64[D]")[patient]


def completed_years(birth: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Age in completed calendar years on date ``on`` of someone born on ``birth`` (datetime64[D])."""
    def ymd(d):
        y = d.astype("datetime64[Y]")
        m = d.astype("datetime64[M]")
        return (y.astype(np.int64) + 1970, (m - y.astype("datetime64[M]")).astype(np.int64),
                (d - m.astype("datetime64[D]")).astype(np.int64))
    by, bm, bd = ymd(birth)
    oy, om, od = ymd(on)
    before_birthday = (om < bm) | ((om == bm) & (od < bd))
    return oy - by - before_birthday.astype(np.int64)
