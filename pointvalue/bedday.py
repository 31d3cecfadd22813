"""Per-bed-day payment (按床日付费): phased daily standards, and their points (domain.md §9).

A stay of ``los`` days is cut into the policy's phases (days ``from_day``..``to_day``); each day is paid
the daily standard of its phase and days past the last phase are not paid (the cap). Of each phase's
daily standard the fund pays ``fund_share`` [SS], the rest is the patient's (no fund shares: the
whole standard counts). In the point method [JH] a case's points are the fund's part of that payment
divided by the regional mean cost per case, times the points scale.
"""

from __future__ import annotations

import numpy as np

from drgdip.pointvalue.rules import BedDayPhase

__all__ = ["bed_day_payment", "bed_day_fund_payment", "bed_day_points", "days_in_phases"]


def days_in_phases(los, phases) -> np.ndarray:
    """Days of each stay falling in each phase: int64[n, n_phases] (negative or missing LOS -> 0 days)."""
    los = np.nan_to_num(np.asarray(los, dtype=np.float64), nan=0.0)
    los = np.maximum(np.floor(los), 0.0)
    start = np.array([p.from_day - 1 for p in phases], dtype=np.float64)
    stop = np.array([p.to_day for p in phases], dtype=np.float64)
    return (np.clip(los[:, None], start[None, :], stop[None, :]) - start[None, :]).astype(np.int64)


def _phases(phases) -> tuple[BedDayPhase, ...]:
    return tuple(p if isinstance(p, BedDayPhase) else BedDayPhase(*p) for p in phases)


def bed_day_payment(los, phases, total_cost=None, pay_actual_if_below: bool = False) -> np.ndarray:
    """Yuan per case: ``Σ_phase days_in_phase × daily_std``; with ``pay_actual_if_below`` a case
    whose cost is under that standard is paid its cost.

    Example: 45 days at 300 (days 1-30) and 250 (31-60) -> 9,000 + 3,750 = 12,750.
    """
    return _payments(los, _phases(phases), total_cost, pay_actual_if_below)[0]


def bed_day_fund_payment(los, phases, total_cost=None, pay_actual_if_below: bool = False) -> np.ndarray:
    """The fund's part of :func:`bed_day_payment`, yuan per case: ``Σ_phase days × daily_std × fund_share``.

    A case paid its cost (``pay_actual_if_below``) keeps the fund's share of its standard:
    ``cost × fund part / standard``.
    Example: 45 days at 300 × 0.8 (days 1-30) and 250 × 0.6 (31-60) -> 7,200 + 2,250 = 9,450.
    """
    return _payments(los, _phases(phases), total_cost, pay_actual_if_below)[1]


def _payments(los, phases: tuple[BedDayPhase, ...], total_cost, pay_actual_if_below: bool
              ) -> tuple[np.ndarray, np.ndarray]:
    """(payment, the fund's part of it) per case, yuan."""
    los = np.atleast_1d(los)
    if not phases:
        return np.zeros(len(los)), np.zeros(len(los))
    daily = np.array([p.daily_std for p in phases], dtype=np.float64)
    fund_daily = daily * np.array([1.0 if p.fund_share is None else p.fund_share for p in phases], dtype=np.float64)
    days = days_in_phases(los, phases)
    payment = days @ daily
    fund = days @ fund_daily
    if pay_actual_if_below:
        if total_cost is None:
            raise ValueError("pay_actual_if_below needs total_cost")
        paid = np.minimum(payment, np.asarray(total_cost, dtype=np.float64))
        fund = np.divide(fund * paid, payment, out=np.zeros_like(fund), where=payment > 0)
        payment = paid
    return payment, fund


def bed_day_points(los, rules, mean_cost_per_case: float, points_scale: float, total_cost=None, *,
                   phases=None) -> np.ndarray:
    """Points per case: the fund's part of the bed-day payment / regional mean cost per case ×
    points_scale [JH].

    ``rules`` is a :class:`drgdip.pointvalue.rules.BedDayRules`; ``phases`` are the phases paid per
    bed-day (default all of ``rules.bedday_phases``; the later ones when the acute phase is paid per
    disease). ``mean_cost_per_case`` (yuan) turns yuan into points, e.g. mean 10,000 and scale 100: a
    stay whose fund part is 12,750 yuan is 127.5 points.
    """
    if not (mean_cost_per_case and mean_cost_per_case > 0):
        raise ValueError(f"mean_cost_per_case must be positive, got {mean_cost_per_case!r}")
    phases = rules.bedday_phases if phases is None else phases
    fund = bed_day_fund_payment(los, phases, total_cost, rules.pay_actual_if_below)
    return fund / float(mean_cost_per_case) * float(points_scale)
