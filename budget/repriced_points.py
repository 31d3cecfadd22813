"""The points of a settlement run at other hospital or remote coefficients, from an earlier run's.

A scenario that changes only coefficients keeps every stay's outlier class, cost ratio and base
points (:mod:`drgdip.pointvalue.repricing`). Its points are priced again from the earlier run's
:class:`~drgdip.pointvalue.repricing.PointsRecipe`; only the stays with a day-care payment method
of their own go through the payment methods again, since those turn amounts into points at the
reference point value, which the history's points set. Everything else the points stage wrote is
the earlier run's: it does not depend on the coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from drgdip.budget.daycare import PAID_BY_RULE, PAYMENTS
from drgdip.budget.policy import Policy
from drgdip.budget.stay_points import (POINT_COLUMNS, history_layout, history_point_values,
                                       reference_point_values, stay_areas, with_payment_methods)
from drgdip.core.buffers import warm_arrays
from drgdip.core.errors import UsageError
from drgdip.core.frames import with_columns
from drgdip.pointvalue.repricing import PointsRecipe, points_recipe, repriced_points

__all__ = ["KeptPoints", "PointsOrigin", "keep_points", "repriced_history", "repriced_year"]

# what the day-care payment methods write, besides what exclude_by_los writes without regard to points
DAY_PAYMENT_COLUMNS = ("case_points", "fixed_payment", "day_care_amount", "fund_part_points")


@dataclass(frozen=True)
class KeptPoints:
    """An earlier run's points of some stays: its recipe, its result, the stays priced by a day-care
    payment method of their own (their rows, and those stays), anything else the run gave that does
    not depend on the coefficients (``extra``), and what later runs work out once (``memo``)."""

    key: object                 # what the points depend on besides the stays and the coefficients
    recipe: PointsRecipe
    frame: pd.DataFrame
    day_rows: np.ndarray
    day_stays: pd.DataFrame
    extra: tuple = ()
    memo: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True, eq=False)
class PointsOrigin:
    """Where a table of stays with points comes from: the frame of ``kept`` with ``columns`` written
    anew. Two tables of the same ``kept`` differ at most in the columns either wrote anew, so a
    settlement input of one reads only those of the other (:func:`drgdip.budget.frame.points_again`)."""

    kept: KeptPoints
    columns: frozenset = frozenset()

    def differs_from(self, other: "PointsOrigin | None") -> frozenset | None:
        """The columns in which this table may differ from ``other``'s (None: not of the same run)."""
        if other is None or other.kept is not self.kept:
            return None
        return self.columns | other.columns


def keep_points(key, parts: list, stays: pd.DataFrame, result: pd.DataFrame, policy: Policy, table, file: str,
                extra: tuple = (), memo: dict | None = None, history: bool = False) -> KeptPoints | None:
    """The :class:`KeptPoints` of a run that gave ``result`` for ``stays`` (``parts``: its recipe parts;
    ``key``: what its points depend on besides the stays and the coefficients, None: not comparable).
    ``history``: the stays are history, whose later runs keep only their points
    (:func:`repriced_history`). The arrays later runs write into are made ready now, with this run, and
    the day-care stays' payment methods learnt (:class:`DayPrices`)."""
    recipe = points_recipe(parts, stays, policy.points, table, file) if key is not None else None
    if recipe is None:
        return None
    rows = _day_rows(stays)
    memo = memo if memo is not None else {}
    coefficients = not history or policy.points.bed_day.fund_shares   # arrays the repricing fills
    outputs = ("case_points", "applied_hospital_coef", "remote_coef") if coefficients else ("case_points",)
    warm_arrays(memo.setdefault("buffers", {}), outputs, recipe.n)
    kept = KeptPoints(key=key, recipe=recipe, frame=result, day_rows=rows,
                      day_stays=stays.iloc[rows].reset_index(drop=True), extra=extra, memo=memo)
    if len(rows):
        _learn_day_prices(kept, policy, table, history)
    return kept


def _learn_day_prices(kept: KeptPoints, policy: Policy, table, history: bool) -> None:
    """Run the day-care payment methods of the kept stays once, at the run's own coefficients and as
    :func:`repriced_history` or :func:`repriced_year` runs them, so that later runs find their
    :class:`DayPrices` learnt (:func:`_day_payments_again`)."""
    columns = _repriced(kept, kept.key, policy, table, coefficients=not history)
    if columns is None:
        return
    if history:
        columns = {"case_points": columns["case_points"]}
    before = {name: values[kept.day_rows].copy() for name, values in columns.items()
              if name in ("case_points", "fund_part_points")}
    _day_payments_again(kept, before, policy, _reference(kept, policy, table), columns)


def _day_rows(stays: pd.DataFrame) -> np.ndarray:
    if "day_care_payment" not in stays.columns:
        return np.zeros(0, dtype=np.int64)
    method = pd.Categorical(stays["day_care_payment"], categories=list(PAYMENTS)).codes
    return np.flatnonzero(np.isin(method, PAID_BY_RULE))


def _repriced(kept: KeptPoints | None, key, policy: Policy, table, coefficients: bool = True) -> dict | None:
    if kept is None or key is None or key != kept.key:
        return None
    return repriced_points(kept.recipe, policy.points, table, coefficients=coefficients,
                           buffers=kept.memo.setdefault("buffers", {}))


def _day_payments_again(kept: KeptPoints, before: dict, policy: Policy, point_value, into: dict) -> bool:
    """The day-care payment methods of ``kept.day_rows`` again, from their points before them
    (``before``: those stays' values of the columns the points stage wrote anew) at ``point_value``
    (one per such stay), written into the full columns of ``into``, which gets a column of the kept
    run where the payment methods change it; False when they cannot be worked out apart (the points
    stage then runs and says why).

    The first time, the payment methods run on those stays; when what they give is the same function
    of the points and the point value as :class:`DayPrices` works out (checked on that run), later
    calls work it out directly."""
    rows = kept.day_rows
    point_value = np.broadcast_to(np.asarray(point_value, dtype=np.float64), (len(rows),))
    prices = kept.memo.get("day_prices")
    if prices and prices.again(before, point_value, rows, into):
        return True
    had = frozenset(into)
    part = _payment_methods_again(kept, before, policy, point_value, into)
    if part is None:
        return False
    if prices is None:
        kept.memo["day_prices"] = DayPrices.learned(part, policy, before, point_value, rows, into, had)
    return True


def _payment_methods_again(kept: KeptPoints, before: dict, policy: Policy, point_value: np.ndarray,
                           into: dict) -> pd.DataFrame | None:
    """:func:`_day_payments_again` by the payment methods themselves; the day-care stays as they give
    them (None: they cannot be worked out apart)."""
    if "day_stays_with_points" not in kept.memo:   # the same for every scenario
        points = {c: kept.frame[c].array[kept.day_rows] for c in POINT_COLUMNS if c in kept.frame.columns}
        kept.memo["day_stays_with_points"] = with_columns(kept.day_stays, **points)
    rows = kept.day_rows
    part = with_columns(kept.memo["day_stays_with_points"], **before)
    try:
        part = with_payment_methods(part, policy, point_value)
    except UsageError:
        return None
    for name in DAY_PAYMENT_COLUMNS:
        if name not in part.columns or (name not in into and name not in kept.frame.columns):
            continue
        values = part[name].to_numpy(dtype=np.float64, na_value=np.nan)
        if name not in into:
            kept_values = kept.frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
            if np.array_equal(kept_values[rows], values, equal_nan=True):
                continue
            into[name] = kept_values.copy()
        into[name][rows] = values
    return part


@dataclass(frozen=True)
class DayPrices:
    """The day-care payment methods of a kept run's day-care stays as a function of their points and the
    reference point value, when they are one: each paid stay (``special``) gets its amount (which
    depends on neither) in points at the reference point value inside the pool, or no points outside
    it (its fixed payment depends on neither), and no bed-day fund part; the others keep their points."""

    special: np.ndarray   # bool[k] stays paid by their payment method
    amount: np.ndarray    # float64[k] their amounts, yuan
    in_pool: bool

    @classmethod
    def learned(cls, part: pd.DataFrame, policy: Policy, before: dict, point_value: np.ndarray, rows: np.ndarray,
                into: dict, had: frozenset) -> "DayPrices | bool":
        """The prices of the stays ``part`` that the payment methods gave (written into ``into`` at
        ``rows``; ``had``: the columns ``into`` had before), or False when the payment methods wrote
        another column, read the points (a quota's ``group_points`` fallback), or this function of
        the points does not give what they gave."""
        rules = policy.day_care
        written = frozenset(into) & frozenset(DAY_PAYMENT_COLUMNS)
        if frozenset(into) != had or not written <= frozenset(before) or "day_care_amount" not in part.columns:
            return False
        if rules.day_ward.quota_fallback == "group_points" and (part["day_care_payment"] == "quota_minus_fee").any():
            return False
        amount = part["day_care_amount"].to_numpy(dtype=np.float64, na_value=np.nan)
        prices = cls(special=~np.isnan(amount), amount=amount, in_pool=bool(rules.in_pool))
        given = {name: into[name][rows] for name in written}
        check = {name: np.full(len(rows), np.nan) for name in written}
        if not prices.again(before, point_value, np.arange(len(rows)), check):
            return False
        same = all(np.array_equal(check[name], given[name], equal_nan=True) for name in written)
        return prices if same else False

    def again(self, before: dict, point_value: np.ndarray, rows: np.ndarray, into: dict) -> bool:
        """Write the columns of ``before`` that the payment methods change into ``into`` at ``rows``;
        False when a paid stay in the pool has no reference point value (the payment methods say so)."""
        special = self.special
        points = before["case_points"].copy()
        if self.in_pool:
            reference = point_value[special]
            if not (reference > 0).all():
                return False
            points[special] = self.amount[special] / reference
        else:
            points[special] = np.nan
        into["case_points"][rows] = points
        if "fund_part_points" in before:
            fund_part = before["fund_part_points"].copy()
            fund_part[special] = 0.0
            into["fund_part_points"][rows] = fund_part
        return True


def repriced_history(kept: KeptPoints | None, key, years: np.ndarray, policy: Policy, table,
                     settled_hospitals=None) -> tuple[pd.DataFrame, dict, PointsOrigin] | None:
    """:func:`drgdip.budget.stay_points.history_with_points` from the kept run of the same history, and
    where it comes from (None when ``policy``, whose points depend on ``key`` besides the stays and the
    coefficients, differs from its policy in more than the coefficients)."""
    repriced = _repriced(kept, key, policy, table, coefficients=False)   # the history keeps only the points
    if repriced is None:
        return None
    rows = kept.day_rows
    columns = {"case_points": repriced["case_points"]}
    before = {"case_points": columns["case_points"][rows].copy()}
    if len(rows) and not _day_payments_again(kept, before, policy, _reference(kept, policy, table), columns):
        return None
    history = with_columns(kept.frame, **columns)
    by_area = None
    if policy.point_value.budget_point_value is None and policy.day_care.reference_point_value is None:
        if "layout" not in kept.memo:
            kept.memo["layout"] = history_layout(history, policy, settled_hospitals)
        by_area = history_point_values(history, years, policy, settled_hospitals, layout=kept.memo["layout"],
                                       memo=kept.memo.setdefault("reference_sums", {}))
        if by_area and len(rows):
            refined = _reference(kept, policy, table, by_area)
            if not _day_payments_again(kept, before, policy, refined, columns):
                return None
            history = with_columns(history, **columns)
    return history, by_area, PointsOrigin(kept, frozenset(columns))


def repriced_year(kept: KeptPoints | None, key, policy: Policy, table,
                  by_area) -> tuple[pd.DataFrame, PointsOrigin] | None:
    """:func:`drgdip.budget.stay_points.settlement_year_points` (without an approval list) from the
    kept run of the same stays, and where it comes from (None as for :func:`repriced_history`)."""
    columns = _repriced(kept, key, policy, table)
    if columns is None:
        return None
    rows = kept.day_rows
    before = {name: values[rows].copy() for name, values in columns.items()
              if name in ("case_points", "fund_part_points")}
    if len(rows) and not _day_payments_again(kept, before, policy, _reference(kept, policy, table, by_area),
                                             columns):
        return None
    return with_columns(kept.frame, **columns), PointsOrigin(kept, frozenset(columns))


def _reference(kept: KeptPoints, policy: Policy, table, by_area: dict | None = None) -> np.ndarray:
    """:func:`reference_point_values` of the kept run's day-care stays (their areas found once)."""
    if "day_areas" not in kept.memo:
        kept.memo["day_areas"] = stay_areas(kept.day_stays, policy)
    return reference_point_values(kept.day_stays, policy, table, by_area, areas=kept.memo["day_areas"])
