"""Calibration of group weights and scores from history, and published weight tables (domain.md §2, §3.4).

* :class:`DrgWeights` -- DRG relative weight RW (相对权重) and base points (基准点数), scale 100.
* :class:`DipScores` -- DIP score (病种分值), scale 1000; the same calibration with ``dip_group``.
* :class:`WeightTable` -- the fitted or published table that :func:`drgdip.pointvalue.case_points` reads.

Calibration, for the years of history aligned to the latest ``year_weights`` (oldest first):

1. Trim costs inside each group (and year), :class:`drgdip.pointvalue.rules.Trim`. Percentile trimming is by
   rank: the ``floor(n·lo/100)`` cheapest and ``floor(n·(100−hi)/100)`` dearest cases of a unit are
   dropped, so a unit of fewer than 40 cases keeps every case at 2.5 / 97.5.
2. Weighted mean cost per group ``m_g``: ``mean`` mode ``Σ_y w_y·mean_gy / Σ_y w_y``; ``case`` mode
   ``Σ_y w_y·S_gy / Σ_y w_y·n_gy``; a year in which the group has no case is left out and the weights
   of its other years are renormalised. The all-case mean ``M`` is the same over all grouped cases.
3. ``rw = m_g / M``; ``base_points = rw × scale`` (``average``), ``m_g / M_b × scale``
   (``base_disease``) or ``m_g / M_q`` (``standard_quota``).
4. Quality on the trimmed costs pooled over the years: ``cv = sd/mean`` (``cv_ddof``) per group,
   RIV = 1 − SSW/SST overall and per MDC (the coefficient of determination of the group means).

Ungrouped history cases (group missing, ``''`` or ``'0000'``) do not enter any mean; history years
before the ``len(year_weights)`` latest are not used (``years_`` lists the years used).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Mapping

import numpy as np
import pandas as pd

from drgdip.core.atomic import atomic_path
from drgdip.core.errors import UsageError
from drgdip.core._kernels import counting_order
from drgdip.pointvalue._kernels import _rank_within_units
from drgdip.core.checks import number_column
from drgdip.core.tables import read_table, source_name
from drgdip.pointvalue._io import code_column, group_index
from drgdip.pointvalue.rules import Calibration, PointsPolicy, Trim

if TYPE_CHECKING:  # annotations only: the DIP directory format belongs to the grouper
    from drgdip.grouper.dip_directory import DipDirectory

__all__ = ["GroupWeights", "DrgWeights", "DipScores", "WeightTable", "trim_mask", "weighted_group_means",
           "reduction_in_variance"]

LEVEL_PREFIX = "mean_cost_level_"


# ----------------------------------------------------------------------------------------------
# statistics on flat arrays

def trim_mask(cost: np.ndarray, unit: np.ndarray, n_units: int, trim: Trim, ddof: int = 1) -> np.ndarray:
    """Boolean mask of the costs kept by ``trim`` inside each unit (group or group × year).

    Parameters
    ----------
    cost : float64[n]
        Case costs.
    unit : int64[n]
        Unit id of each case, 0 <= unit < n_units.
    n_units : int
    trim : Trim
    ddof : int
        SD convention for the ``sd`` method.
    """
    n = len(cost)
    if trim.method == "none" or n == 0:
        return np.ones(n, dtype=bool)
    count = np.bincount(unit, minlength=n_units)
    if trim.method == "sd":
        total = np.bincount(unit, weights=cost, minlength=n_units)
        mean = total / np.maximum(count, 1)
        dev = cost - mean[unit]
        ss = np.bincount(unit, weights=dev * dev, minlength=n_units)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(ss / (count - ddof))
        sd = np.where(count > ddof, sd, np.inf)
        return np.abs(dev) <= trim.k * sd[unit]
    order, bounds = counting_order(unit.astype(np.int64), n_units)
    start = bounds[:-1]
    rank = np.empty(n, dtype=np.int64)
    sorted_cost = np.empty(n, dtype=np.float64)
    _rank_within_units(cost.astype(np.float64), order, bounds, rank, sorted_cost)
    if trim.method == "percentile":
        drop_lo = np.floor(count * (trim.lo / 100.0) + 1e-9).astype(np.int64)
        drop_hi = np.floor(count * ((100.0 - trim.hi) / 100.0) + 1e-9).astype(np.int64)
        return (rank >= drop_lo[unit]) & (rank < (count - drop_hi)[unit])

    # iqr: quartiles by linear interpolation between order statistics (numpy's default)
    def quantile(q):
        pos = (count - 1) * q
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, count - 1)
        frac = pos - lo
        safe = count > 0
        lo_v = np.where(safe, sorted_cost[np.where(safe, start + lo, 0)], np.nan)
        hi_v = np.where(safe, sorted_cost[np.where(safe, start + hi, 0)], np.nan)
        return lo_v + (hi_v - lo_v) * frac

    q1, q3 = quantile(0.25), quantile(0.75)
    spread = q3 - q1
    return (cost >= (q1 - trim.k * spread)[unit]) & (cost <= (q3 + trim.k * spread)[unit])


def _sorted_group_codes(codes: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group number of each selected case, the group codes in sorted order); categoricals are numbered
    through their categories, without a string per case."""
    if isinstance(codes.dtype, pd.CategoricalDtype):
        raw = codes.cat.codes.to_numpy()[rows]
        present = np.flatnonzero(np.bincount(raw, minlength=len(codes.cat.categories)))
        labels = np.asarray(codes.cat.categories, dtype=object)[present]
        order = np.argsort(labels.astype(str), kind="stable")
        number = np.full(len(codes.cat.categories), -1, dtype=np.int64)
        number[present[order]] = np.arange(len(present))
        return number[raw], labels[order]
    group_codes, uniques = pd.factorize(codes[rows], sort=True)
    return group_codes.astype(np.int64), np.asarray(uniques, dtype=object)


def reduction_in_variance(cost: np.ndarray, fitted: np.ndarray) -> float:
    """RIV (变异系数降低程度): ``1 − Σ(cost − group mean)² / Σ(cost − mean)²``, the share of the cost
    variance the grouping explains (the coefficient of determination of the group means)."""
    if len(cost) < 2:
        return float("nan")
    total = float(np.sum((cost - cost.mean()) ** 2))
    residual = float(np.sum((cost - fitted) ** 2))
    if total == 0.0:   # every cost equal: the grouping explains all there is, or nothing
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


def weighted_group_means(total: np.ndarray, count: np.ndarray, year_weights: np.ndarray,
                         mode: str) -> np.ndarray:
    """Year-weighted mean cost per group from ``(n_groups, n_years)`` sums and counts.

    Years with no case in a group drop out and the remaining weights are renormalised; a group with
    no weight left gets NaN.
    """
    present = count > 0
    w = np.where(present, year_weights[None, :], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if mode == "mean":
            yearly = np.where(present, total / np.where(present, count, 1), 0.0)
            return (w * yearly).sum(axis=1) / w.sum(axis=1)
        return (w * total).sum(axis=1) / (w * count).sum(axis=1)


# ----------------------------------------------------------------------------------------------
# the weight table

@dataclass(frozen=True)
class WeightTable:
    """Base points (or scores) per group, fitted or published.

    ``frame`` columns: ``group``, ``base_points`` (always); ``rw``, ``mean_cost``, ``n_cases``,
    ``n_used``, ``cv``, ``mdc``, ``is_basic``, ``basic_coef`` and ``mean_cost_level_<k>`` (mean cost of
    the group at level-k hospitals, for the ``same_level_mean`` outlier reference) when known.
    ``points_scale`` is points per RW; ``all_case_mean`` the all-case mean cost M (yuan).
    """

    frame: pd.DataFrame
    points_scale: float
    all_case_mean: float | None = None
    source: str = "<fitted>"

    def __post_init__(self):
        frame = self.frame
        for column in ("group", "base_points"):
            if column not in frame.columns:
                raise UsageError(f"weight table: missing column '{column}'", file=self.source, field=column)
        groups = frame["group"].astype(str)
        duplicated = groups.duplicated()
        if duplicated.any():
            row = int(np.flatnonzero(duplicated.to_numpy())[0])
            raise UsageError(f"weight table: group {groups.iloc[row]!r} is listed twice", file=self.source,
                             row=row + 1, field="group")
        frame = frame.copy()
        frame["group"] = groups.to_numpy(dtype=object)
        frame["base_points"] = number_column(frame, "base_points", file=self.source)
        zero = (frame["base_points"] <= 0).to_numpy()
        if zero.any():
            row = int(np.flatnonzero(zero)[0])
            raise UsageError(f"weight table: group {groups.iloc[row]!r} has base points 0 (must be positive)",
                             file=self.source, row=row + 1, field="base_points")
        for column in ("rw", "mean_cost", "cv", "basic_coef"):
            if column in frame.columns:
                frame[column] = number_column(frame, column, file=self.source, allow_missing=True)
        if "is_basic" in frame.columns:
            frame["is_basic"] = _bool_column(frame, "is_basic", self.source)
        else:
            frame["is_basic"] = False
        if "basic_coef" not in frame.columns:
            frame["basic_coef"] = np.nan
        object.__setattr__(self, "frame", frame.reset_index(drop=True))

    # -- lookups -----------------------------------------------------------------------------
    @property
    def groups(self) -> pd.Index:
        """Group codes, in table order."""
        return pd.Index(self.frame["group"].to_numpy(dtype=object))

    @property
    def level_columns(self) -> dict[int, str]:
        """``{level: column}`` of the same-level mean-cost columns present."""
        return {int(c[len(LEVEL_PREFIX):]): c for c in self.frame.columns
                if c.startswith(LEVEL_PREFIX) and c[len(LEVEL_PREFIX):].isdigit()}

    def index_of(self, codes) -> np.ndarray:
        """Row of each group code in the table (-1 where unknown or missing)."""
        if not isinstance(codes, pd.Series):
            codes = pd.Series(codes)
        return group_index(codes, self.groups)

    def total_weight(self, counts: Mapping[str, float] | pd.Series | None = None) -> float:
        """Σ_g n_g·RW_g (总权重), with ``counts`` per group or the fitted ``n_cases``."""
        rw = self._rw()
        n = self._counts(counts)
        return float(np.nansum(n * rw))

    def _rw(self) -> np.ndarray:
        if "rw" in self.frame.columns and not self.frame["rw"].isna().any():
            return self.frame["rw"].to_numpy(dtype=np.float64)
        return self.frame["base_points"].to_numpy(dtype=np.float64) / self.points_scale

    def _counts(self, counts) -> np.ndarray:
        if counts is None:
            if "n_cases" not in self.frame.columns:
                raise UsageError("weight table has no n_cases column; pass counts per group")
            return self.frame["n_cases"].to_numpy(dtype=np.float64)
        counts = pd.Series(counts, dtype=np.float64)
        return counts.reindex(self.groups).fillna(0.0).to_numpy()

    def cmi(self, cases, group_col: str = "drg") -> pd.Series:
        """Case-mix index per hospital: CMI = Σ_cases RW / N over cases whose group has a weight (§2.2).

        ``cases``: ``hospital_id`` and the group column. Returns a Series indexed by hospital_id.
        """
        file = source_name(cases)
        frame = read_table(cases, required=("hospital_id", group_col), what="cases", columns=("hospital_id", group_col),
                           text=("hospital_id", group_col))
        index = self.index_of(code_column(frame, group_col))
        ok = index >= 0
        hospital = frame["hospital_id"].astype("string")
        missing = ok & hospital.isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise UsageError("hospital_id is missing", file=file, row=row + 1, field="hospital_id")
        series = pd.Series(self._rw()[index[ok]], index=pd.Index(hospital[ok].to_numpy(dtype=object),
                                                                  name="hospital_id"))
        return series.groupby(level=0, sort=True).mean().rename("cmi")

    # -- adjustment --------------------------------------------------------------------------
    def with_adjusted_rw(self, adjusted: Mapping[str, float], counts=None) -> "WeightTable":
        """Expert-review or negotiated RWs for some groups, keeping the total weight Σ n·RW unchanged.

        The listed groups get the new RWs, then every RW is multiplied by one factor so that
        Σ n_g·RW_g equals the original total (domain.md §2.2). Base points follow the RWs.
        """
        rw = self._rw().copy()
        n = self._counts(counts)
        before = float(np.nansum(n * rw))
        index = self.index_of(pd.Series(list(adjusted.keys()), dtype=object))
        unknown = [g for g, i in zip(adjusted, index) if i < 0]
        if unknown:
            raise UsageError(f"cannot adjust unknown group(s): {', '.join(map(str, unknown[:5]))}")
        rw[index] = np.asarray(list(adjusted.values()), dtype=np.float64)
        after = float(np.nansum(n * rw))
        if after <= 0:
            raise UsageError("adjusted weights have a zero total weight")
        rw *= before / after
        frame = self.frame.copy()
        ratio = np.divide(rw, self._rw(), out=np.ones_like(rw), where=self._rw() > 0)
        frame["rw"] = rw
        frame["base_points"] = frame["base_points"].to_numpy() * ratio
        return replace(self, frame=frame)

    # -- CSV ---------------------------------------------------------------------------------
    def to_csv(self, path) -> None:
        """Write the table (one row per group); :meth:`from_csv` reads it back."""
        with atomic_path(path) as temporary:
            self.frame.to_csv(temporary, index=False, float_format="%.10g")

    @classmethod
    def from_csv(cls, path, points_scale: float | None = None, all_case_mean: float | None = None,
                 group_col: str | None = None) -> "WeightTable":
        """Load a published weight / point table (CSV or Parquet) instead of calibrating.

        The group column is ``group`` (or ``drg`` / ``dip_group`` / ``group_col``). Either
        ``base_points`` or ``rw`` must be given (base points = rw × points_scale). ``points_scale``
        and ``all_case_mean`` default to what the columns imply (base_points / rw, mean_cost / rw)
        when they agree on every row, else 100 and unknown.
        """
        name = source_name(path)
        frame = read_table(path, required=(), what="weight table", text=("group", "drg", "dip_group",
                                                                      group_col or "group"))
        candidates = [group_col] if group_col else ["group", "drg", "dip_group"]
        found = [c for c in candidates if c in frame.columns]
        if not found:
            raise UsageError(f"weight table: no group column (expected one of {', '.join(candidates)})",
                             file=name, field=candidates[0])
        frame = frame.rename(columns={found[0]: "group"})
        if "base_points" not in frame.columns and "rw" not in frame.columns:
            raise UsageError("weight table: needs a base_points or an rw column", file=name,
                             field="base_points")
        if "rw" in frame.columns:
            frame["rw"] = number_column(frame, "rw", file=name)
        if "base_points" in frame.columns:
            frame["base_points"] = number_column(frame, "base_points", file=name)
        if points_scale is None:
            points_scale = 100.0
            if "rw" in frame.columns and "base_points" in frame.columns:
                implied = _constant_ratio(frame["base_points"], frame["rw"])
                if implied is not None:
                    points_scale = implied
        if "base_points" not in frame.columns:
            frame["base_points"] = frame["rw"] * points_scale
        if all_case_mean is None and "rw" in frame.columns and "mean_cost" in frame.columns:
            frame["mean_cost"] = number_column(frame, "mean_cost", file=name, allow_missing=True)
            all_case_mean = _constant_ratio(frame["mean_cost"], frame["rw"])
        return cls(frame=frame, points_scale=float(points_scale), all_case_mean=all_case_mean, source=name)

    @classmethod
    def from_dip_directory(cls, directory: DipDirectory) -> "WeightTable":
        """The scores of a DIP directory as a table: ``group``, ``base_points`` = score, ``mean_cost``, ...

        ``rw`` = mean cost / all-case mean when the directory knows both; scale and all-case mean are the
        directory's.
        """
        frame = directory.groups.rename(columns={"dip_group": "group", "score": "base_points"})
        core = frame["dip_type"].astype(str) == "core"
        main = frame["main_proc"].astype(str).replace("nan", "") if "main_proc" in frame.columns else ""
        klass = frame["proc_class"].astype(str) if "proc_class" in frame.columns else ""
        frame["conservative"] = (core & (main == "")) | (~core & (klass == "medical"))   # 保守治疗 groups
        keep = [c for c in ("group", "base_points", "mean_cost", "n_cases", "cv", "is_basic", "basic_coef",
                            "conservative") if c in frame.columns]
        keep += [c for c in frame.columns if c.startswith("mean_cost_level_")]
        frame = frame[keep].copy()
        if "mean_cost" in frame.columns and directory.all_case_mean:
            frame["rw"] = frame["mean_cost"] / directory.all_case_mean
        return cls(frame=frame, points_scale=directory.points_scale, all_case_mean=directory.all_case_mean,
                   source=directory.source)


def _constant_ratio(numerator: pd.Series, denominator: pd.Series) -> float | None:
    num = numerator.to_numpy(dtype=np.float64)
    den = denominator.to_numpy(dtype=np.float64)
    ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
    if not ok.any():
        return None
    ratio = num[ok] / den[ok]
    first = ratio[0]
    if np.allclose(ratio, first, rtol=1e-6):
        return float(first)
    return None


def _bool_column(frame: pd.DataFrame, column: str, file: str) -> np.ndarray:
    series = frame[column]
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.fillna(False).to_numpy(dtype=bool)
    text = series.astype("string").str.strip().str.lower().fillna("")
    true = text.isin(["1", "true", "yes", "y", "t"])
    false = text.isin(["0", "false", "no", "n", "f", ""])
    bad = ~(true | false)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UsageError(f"expected true/false, got {series.iloc[row]!r}", file=file, row=row + 1, field=column)
    return true.to_numpy(dtype=bool)


# ----------------------------------------------------------------------------------------------
# the calibrator

class GroupWeights:
    """Calibrate per-group weights / scores from history (scikit-learn style: configure, ``fit``, use).

    Parameters
    ----------
    year_weights : sequence of float
        Oldest -> latest (1:2:7 [DIP3 §5.1]).
    year_weight_mode : {"mean", "case"}
    trim : Trim
    points_scale : float
        Points per RW (100 DRG point method, 1000 DIP).
    score_method : {"average", "base_disease", "standard_quota"}
    base_group : str, optional
        Group giving M_b for ``base_disease``.
    standard_quota_yuan : float, optional
        Yuan per point M_q for ``standard_quota``.
    cv_ddof : int
    group_col : str
        History column holding the group code.
    mdc_col : str, optional
        History column holding the MDC (for RIV per MDC); DRG codes default to their first letter.

    Fitted attributes
    -----------------
    table_ : DataFrame  (group, mdc, n_cases, n_used, mean_cost, rw, base_points, cv, mean_cost_level_<k>)
    all_case_mean_ : float     M, year-weighted mean cost of all grouped cases
    riv_ : float               RIV of the grouping on trimmed costs
    riv_by_mdc_ : Series       RIV within each MDC
    years_ : tuple             history years used, oldest first, with ``year_weights_`` aligned
    n_ungrouped_ : int         history rows without a group (not used)
    """

    default_group_col = "drg"
    default_points_scale = 100.0

    def __init__(self, year_weights=(1, 2, 7), year_weight_mode: str = "mean", trim: Trim | None = None,
                 points_scale: float | None = None, score_method: str = "average",
                 base_group: str | None = None, standard_quota_yuan: float | None = None,
                 cv_ddof: int = 1, group_col: str | None = None, mdc_col: str | None = "mdc"):
        self.year_weights = year_weights
        self.year_weight_mode = year_weight_mode
        self.trim = trim if trim is not None else Trim()
        self.points_scale = points_scale if points_scale is not None else self.default_points_scale
        self.score_method = score_method
        self.base_group = base_group
        self.standard_quota_yuan = standard_quota_yuan
        self.cv_ddof = cv_ddof
        self.group_col = group_col or self.default_group_col
        self.mdc_col = mdc_col

    @classmethod
    def from_policy(cls, policy: PointsPolicy, **overrides) -> "GroupWeights":
        """Calibrator configured from ``policy.calibration`` and ``policy.points_scale``."""
        c = policy.calibration
        params = dict(year_weights=c.year_weights, year_weight_mode=c.year_weight_mode, trim=c.trim,
                      points_scale=policy.points_scale, score_method=c.score_method,
                      base_group=c.base_group, standard_quota_yuan=c.standard_quota_yuan, cv_ddof=c.cv_ddof,
                      group_col="dip_group" if policy.is_dip else "drg")
        params.update(overrides)
        return cls(**params)

    def _calibration(self) -> Calibration:
        return Calibration(year_weights=tuple(self.year_weights), year_weight_mode=self.year_weight_mode,
                           trim=self.trim, score_method=self.score_method, base_group=self.base_group,
                           standard_quota_yuan=self.standard_quota_yuan, cv_ddof=self.cv_ddof)

    def get_params(self) -> dict:
        """Constructor parameters (scikit-learn convention)."""
        return dict(year_weights=self.year_weights, year_weight_mode=self.year_weight_mode, trim=self.trim,
                    points_scale=self.points_scale, score_method=self.score_method,
                    base_group=self.base_group, standard_quota_yuan=self.standard_quota_yuan,
                    cv_ddof=self.cv_ddof, group_col=self.group_col, mdc_col=self.mdc_col)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()) + ")"

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, history, *, quality: bool = True) -> "GroupWeights":
        """Calibrate on settled history cases (DataFrame or CSV/Parquet path).

        Columns: the group column, ``year``, ``total_cost``; optional ``hospital_level`` (same-level
        mean costs) and the MDC column. ``quality=False`` skips the group-quality statistics (CV,
        RIV; NaN then), which settlement does not use: the weights are the same.
        """
        calibration = self._calibration()
        scale = float(self.points_scale)
        if not (scale > 0 and math.isfinite(scale)):
            raise UsageError(f"points_scale must be a positive number, got {self.points_scale!r}")
        file = source_name(history)
        wanted = (self.group_col, "year", "total_cost", "hospital_level", self.mdc_col or "")
        frame = read_table(history, required=(self.group_col, "year", "total_cost"), what="history",
                           columns=wanted, text=(self.group_col, self.mdc_col or ""))
        codes = code_column(frame, self.group_col)
        grouped = codes.notna().to_numpy()
        year_all = number_column(frame, "year", file=file, lo=None, integer=True)
        cost_all = number_column(frame, "total_cost", file=file)
        level_all = None
        if "hospital_level" in frame.columns:
            level_all = number_column(frame, "hospital_level", file=file, integer=True, allow_missing=True)

        weights = np.asarray(calibration.year_weights, dtype=np.float64)
        if not grouped.any():
            raise UsageError("history has no grouped case to calibrate on", file=file, field=self.group_col)
        first_year = int(year_all[grouped].min())
        years_present = np.flatnonzero(np.bincount(year_all[grouped] - first_year)) + first_year
        years = years_present[-len(weights):]
        weights = weights[-len(years):]
        position_of_year = np.full(int(years_present[-1]) - first_year + 1, -1, dtype=np.int64)
        position_of_year[years - first_year] = np.arange(len(years))
        year_position = position_of_year[np.clip(year_all - first_year, 0, len(position_of_year) - 1)]
        in_years = grouped & (year_all >= first_year) & (year_position >= 0)

        group_codes, uniques = _sorted_group_codes(codes, in_years)
        n_groups = len(uniques)
        n_years = len(years)
        year_pos = year_position[in_years]
        cost = cost_all[in_years]

        if calibration.trim.by == "group_year":
            unit, n_units = group_codes * n_years + year_pos, n_groups * n_years
        else:
            unit, n_units = group_codes, n_groups
        keep = trim_mask(cost, unit, n_units, calibration.trim, calibration.cv_ddof)

        cell = group_codes * n_years + year_pos
        n_cases = np.bincount(group_codes, minlength=n_groups)
        kept_cell = cell[keep]
        kept_cost = cost[keep]
        count = np.bincount(kept_cell, minlength=n_groups * n_years).reshape(n_groups, n_years)
        total = np.bincount(kept_cell, weights=kept_cost, minlength=n_groups * n_years).reshape(n_groups, n_years)
        mean_cost = weighted_group_means(total, count, weights, calibration.year_weight_mode)
        all_mean = float(weighted_group_means(total.sum(axis=0, keepdims=True), count.sum(axis=0, keepdims=True),
                                              weights, calibration.year_weight_mode)[0])
        if not (all_mean > 0):
            raise UsageError("all-case mean cost is zero: weights cannot be computed", file=file,
                             field="total_cost")

        rw = mean_cost / all_mean
        if calibration.score_method == "average":
            base_points = rw * scale
        elif calibration.score_method == "base_disease":
            position = np.flatnonzero(np.asarray(uniques, dtype=object) == str(calibration.base_group))
            if len(position) == 0 or not (mean_cost[position[0]] > 0):
                raise UsageError(f"base group {calibration.base_group!r} has no cases in the history",
                                 file=file, field=self.group_col)
            base_points = mean_cost / mean_cost[position[0]] * scale
        else:
            base_points = mean_cost / calibration.standard_quota_yuan

        # quality, on trimmed costs pooled over years
        n_used = count.sum(axis=1)
        if quality:
            kept_group = group_codes[keep]
            pooled_mean = total.sum(axis=1) / np.maximum(n_used, 1)
            dev = kept_cost - pooled_mean[kept_group]
            ss = np.bincount(kept_group, weights=dev * dev, minlength=n_groups)
            with np.errstate(invalid="ignore", divide="ignore"):
                sd = np.sqrt(ss / (n_used - calibration.cv_ddof))
                cv = np.where(n_used > calibration.cv_ddof, sd / pooled_mean, np.nan)
            fitted = pooled_mean[kept_group]
            self.riv_ = reduction_in_variance(kept_cost, fitted)
        else:
            cv = np.full(n_groups, np.nan)
            self.riv_ = float("nan")

        table = pd.DataFrame({"group": np.asarray(uniques, dtype=object)})
        mdc = self._mdc(frame, codes, in_years, group_codes, n_groups, uniques) if quality else None
        if mdc is not None:
            table["mdc"] = mdc
        table["n_cases"] = n_cases
        table["n_used"] = n_used
        table["mean_cost"] = mean_cost
        table["rw"] = rw
        table["base_points"] = base_points
        table["cv"] = cv
        if level_all is not None:
            kept_level = level_all[in_years][keep]
            known = ~np.isnan(kept_level) & (kept_level >= 0)
            level_code = kept_level[known].astype(np.int64)
            n_cells = n_groups * n_years
            shape = (int(level_code.max()) + 1 if len(level_code) else 0, n_groups, n_years)
            by_level = level_code * n_cells + kept_cell[known]
            c_all = np.bincount(by_level, minlength=shape[0] * n_cells).reshape(shape)
            t_all = np.bincount(by_level, weights=kept_cost[known], minlength=shape[0] * n_cells).reshape(shape)
            for lv in np.flatnonzero(c_all.reshape(shape[0], -1).sum(axis=1)):
                table[f"{LEVEL_PREFIX}{lv}"] = weighted_group_means(t_all[lv], c_all[lv], weights,
                                                                    calibration.year_weight_mode)

        self.riv_by_mdc_ = self._riv_by_mdc(mdc, kept_group, kept_cost, fitted) if quality else \
            pd.Series(dtype=np.float64, name="riv")
        usable = np.isfinite(mean_cost)
        self.dropped_groups_ = tuple(table.loc[~usable, "group"])
        self.table_ = table.loc[usable].reset_index(drop=True)
        self.all_case_mean_ = all_mean
        self.years_ = tuple(int(y) for y in years)
        self.year_weights_ = tuple(float(w) for w in weights)
        self.n_ungrouped_ = int((~grouped).sum())
        self.n_cases_used_ = int(keep.sum())
        return self

    def _mdc(self, frame, codes, in_years, group_codes, n_groups, uniques):
        if self.mdc_col and self.mdc_col in frame.columns:
            mdc_codes, mdc_names = pd.factorize(frame[self.mdc_col], use_na_sentinel=True)
            last = np.full(n_groups, -1, dtype=np.int64)
            last[group_codes] = mdc_codes[in_years]   # the MDC of a group's last case (a group has one MDC)
            names = np.append(np.asarray([str(m) for m in mdc_names], dtype=object), None)
            return names[last]
        if self.group_col == "drg":
            return np.array([str(g)[:1] for g in uniques], dtype=object)
        return None

    @staticmethod
    def _riv_by_mdc(mdc, kept_group, kept_cost, fitted) -> pd.Series:
        """RIV inside each MDC: 1 − SSW/SST over the MDC's cases (numpy sums by MDC)."""
        if mdc is None or len(kept_cost) == 0:
            return pd.Series(dtype=np.float64, name="riv")
        group_mdc, names = pd.factorize(pd.Series(mdc, dtype=object))
        case_mdc = group_mdc[kept_group]
        n_mdc = len(names)
        count = np.bincount(case_mdc, minlength=n_mdc)
        mean = np.bincount(case_mdc, weights=kept_cost, minlength=n_mdc) / np.maximum(count, 1)
        sst = np.bincount(case_mdc, weights=(kept_cost - mean[case_mdc]) ** 2, minlength=n_mdc)
        ssw = np.bincount(case_mdc, weights=(kept_cost - fitted) ** 2, minlength=n_mdc)
        with np.errstate(invalid="ignore", divide="ignore"):
            riv = np.where((count > 1) & (sst > 0), 1.0 - ssw / sst, np.nan)
        return pd.Series(riv, index=pd.Index(names, dtype=object), name="riv").sort_index()

    # -- use ---------------------------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "table_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(history) first")

    def weight_table(self) -> WeightTable:
        """The fitted table as a :class:`WeightTable` for :func:`drgdip.pointvalue.case_points`."""
        self._check_fitted()
        return WeightTable(frame=self.table_.copy(), points_scale=float(self.points_scale),
                           all_case_mean=self.all_case_mean_)

    def cmi(self, cases, group_col: str | None = None) -> pd.Series:
        """Case-mix index per hospital: CMI = Σ_cases RW / N over grouped cases with a weight (§2.2).

        ``cases``: ``hospital_id`` and the group column. Returns a Series indexed by hospital_id.
        """
        self._check_fitted()
        return self.weight_table().cmi(cases, group_col or self.group_col)

    def to_csv(self, path) -> None:
        """Write the fitted table (:meth:`WeightTable.from_csv` reads it back)."""
        self.weight_table().to_csv(path)

    def quality(self, cv_max: float = 1.0, riv_min: float = 0.70) -> dict:
        """Summary of group quality against the gates (CV < cv_max per group, RIV >= riv_min)."""
        self._check_fitted()
        cv = self.table_["cv"]
        return {"riv": self.riv_, "riv_ok": bool(self.riv_ >= riv_min), "n_groups": int(len(cv)),
                "n_groups_cv_ok": int((cv < cv_max).sum()), "n_groups_cv_lt_0_5": int((cv < 0.5).sum()),
                "n_groups_cv_gt_1": int((cv > 1).sum())}


class DrgWeights(GroupWeights):
    """DRG relative weights (RW) and base points (基准点数 = RW × 100) from history."""

    default_group_col = "drg"
    default_points_scale = 100.0


class DipScores(GroupWeights):
    """DIP scores (病种分值 = m_g / M × 1000) from history grouped into DIP groups."""

    default_group_col = "dip_group"
    default_points_scale = 1000.0

    def __init__(self, *args, mdc_col: str | None = None, **kwargs):
        super().__init__(*args, mdc_col=mdc_col, **kwargs)
