"""Points policy: every parameter that turns a grouped case into points, as frozen validated dataclasses.

A policy YAML holds these as nested mappings with exactly the field names below; build them with
:func:`points_policy_from_mapping` (unknown keys, wrong types and out-of-range values fail with a
message naming the key path and the allowed values). Defaults follow domain.md §12.

``PointsPolicy`` (top level)
    scheme                  ``drg_points`` | ``drg_rate`` | ``dip``
    points_scale            points per RW (None: 100 for DRG, 1000 for DIP)
    calibration             :class:`Calibration`
    outliers                :class:`OutlierRules`
    hospital_coef           :class:`HospitalCoefTable`
    remote                  :class:`RemoteRules`
    special_review          :class:`SpecialReviewRules`
    bed_day                 :class:`BedDayRules`
    dip                     :class:`DipBuildRules`

``Calibration`` (weights / scores from history, §2, §3.4)
    year_weights            oldest -> latest, e.g. ``[1, 2, 7]``
    year_weight_mode        ``mean`` (weight yearly means) | ``case`` (weight cases)
    trim                    :class:`Trim` ``{method: percentile|sd|iqr|none, lo, hi, k, by}``
    score_method            ``average`` | ``base_disease`` | ``standard_quota``
    base_group              group whose mean cost is M_b (``base_disease``)
    standard_quota_yuan     yuan per point M_q (``standard_quota``)
    cv_ddof                 SD convention for CV (1 = sample)
    cv_max_drg, riv_min     quality gates (1.0, 0.70)

``OutlierRules`` (§5)
    outlier_reference       ``standard`` | ``same_level_mean`` | ``score_x_factor`` | ``group_mean``
    reference_factor        yuan per point for ``score_x_factor``
    low_ratio, low_inclusive            DIP low bound (0.5, false: ratio < 0.5)
    drg_low_ratio, drg_low_inclusive    DRG low bound (0.4, true: ratio <= 0.4)
    high_ratio, high_inclusive          high bound (2.0, true: ratio >= 2)
    high_formula            ``dip1`` | ``jining`` | ``review_only`` | ``drg_tiered`` (None: dip1 for DIP,
                            drg_tiered for DRG)
    extreme_ratio, extreme_inclusive    extreme bound (5.0, false: ratio > 5); None disables the band
    drg_high_tiers          ``[[max_base_points, ratio_threshold], ...]``, last max may be ``.inf``
    coefs_on_outliers       re-apply the hospital coefficient on low / high cases (true)
    blank_group             factor on the cost-ratio score of ungrouped cases (0.7)
    blank_group_coefs       apply coefficients to ungrouped cases (false)

``HospitalCoefTable`` (§4.2, §4.3)
    by_level                ``{3: 1.2, 2: 1.0, 1: 0.85}`` hospital_level_coef (等级系数)
    by_hospital             ``{hospital_id: coef}`` overrides by_level for that hospital
    default                 coefficient for a level not in by_level (None: such a case is an error)
    basic_group_coef_mode   ``one`` | ``secondary_level`` | ``per_group``
    basic_group_coef        coefficient of basic groups under ``one`` (1.0)
    secondary_level         level whose coefficient basic groups get under ``secondary_level`` (2)

``RemoteRules`` (§7)
    remote_mode             ``coef`` (remote_coef on the local standard) | ``separate_standard`` (no
                            coefficient here: score remote cases with their own weight table)
    remote_coef             multiplier for in-province remote cases (1.0)
    province_prefix_len     digits of the region code naming the province (2)

``SpecialReviewRules`` (§5.4)
    special_quota           share of the pool's discharges that may be approved (None: 0.05 DRG, 0.005 DIP)
    special_min_ratio       DIP cases with ratio >= this may apply (2.0)
    quota_excess            ``error`` | ``rank`` (keep the highest cost ratios up to the quota)
    approved_payment        ``ffs`` (cost / point value, i.e. ratio x standard) | ``standard``

``BedDayRules`` (§9)
    bedday_phases           ``[[from_day, to_day, daily_std, fund_share], ...]`` contiguous, from day 1
    groups                  group codes paid per bed-day
    mean_cost_per_case      regional mean cost per case that turns yuan into points (None: the
                            calibrated all-case mean)
    pay_actual_if_below     cost under the standard -> paid at cost (false)

``DipBuildRules`` (§3)
    core_threshold          minimum history cases for a core group (15)
    core_coverage           instead: smallest threshold whose core groups cover this share (None)
    related_proc_min_uplift related procedure forms its own group if it raises cost by >= this (0.10)
    comprehensive_min_cases comprehensive groups under this are dropped to the next fallback (1)
    comprehensive_fallback  diagnosis prefix lengths tried for comprehensive groups (``[3]``; NODE: [3, 2, 1])
    basic_group_cv_max      basic-group selection CV gate (0.7)
    basic_group_min_cases   basic-group selection case gate (core_threshold)
    basic_group_medical_only basic groups only among medical (conservative) core groups (true)
    interventional_as       ``surgery`` | ``therapeutic``
    attribute_source        case class from the ``main`` procedure (DIP 3.0) or the ``highest`` attribute
    aux                     :class:`AuxTypingRules` ``{aux_trigger_cv_drop, aux_min_cases_group,
                            aux_min_cases_sub, kinds (death | severity | age | icu), severity_min_los}``
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = [
    "PolicyError", "Trim", "Calibration", "OutlierRules", "HospitalCoefTable", "RemoteRules",
    "SpecialReviewRules", "BedDayPhase", "BedDayRules", "AuxTypingRules", "DipBuildRules",
    "PointsPolicy", "points_policy_from_mapping", "from_mapping",
    "SCHEMES", "HIGH_FORMULAS", "OUTLIER_REFERENCES", "SCORE_METHODS", "TRIM_METHODS",
]


class PolicyError(ValueError):
    """A points parameter is missing, of the wrong type or out of range; the message names it."""


SCHEMES = ("drg_points", "drg_rate", "dip")
TRIM_METHODS = ("percentile", "sd", "iqr", "none")
TRIM_BY = ("group_year", "group")
YEAR_WEIGHT_MODES = ("mean", "case")
SCORE_METHODS = ("average", "base_disease", "standard_quota")
OUTLIER_REFERENCES = ("standard", "same_level_mean", "score_x_factor", "group_mean")
HIGH_FORMULAS = ("dip1", "jining", "review_only", "drg_tiered")
BASIC_GROUP_COEF_MODES = ("one", "secondary_level", "per_group")
REMOTE_MODES = ("coef", "separate_standard")
QUOTA_EXCESS = ("error", "rank")
APPROVED_PAYMENTS = ("ffs", "standard")
INTERVENTIONAL_AS = ("surgery", "therapeutic")
ATTRIBUTE_SOURCES = ("main", "highest")
AUX_KINDS = ("death", "severity", "age", "icu")


# ----------------------------------------------------------------------------------------------
# validation helpers: one message style everywhere ("<Class>.<field>: <problem>; allowed: ...")

def _fail(owner: str, name: str, message: str) -> None:
    raise PolicyError(f"{owner}.{name}: {message}")


def _choice(owner: str, name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        _fail(owner, name, f"{value!r} is not allowed; allowed: {', '.join(map(str, allowed))}")


def _number(owner: str, name: str, value: Any, *, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, hi_open: bool = False, allow_none: bool = False,
            integer: bool = False) -> None:
    if value is None:
        if allow_none:
            return
        _fail(owner, name, "is required (got None)")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(owner, name, f"must be a number, got {type(value).__name__} {value!r}")
    if integer and float(value) != int(value):
        _fail(owner, name, f"must be a whole number, got {value!r}")
    if math.isnan(float(value)):
        _fail(owner, name, "must be a number, got NaN")
    if lo is not None and (value <= lo if lo_open else value < lo):
        _fail(owner, name, f"must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and (value >= hi if hi_open else value > hi):
        _fail(owner, name, f"must be {'<' if hi_open else '<='} {hi}, got {value!r}")


def _flag(owner: str, name: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(owner, name, f"must be true or false, got {value!r}")


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


# ----------------------------------------------------------------------------------------------
# calibration

@dataclass(frozen=True)
class Trim:
    """Which costs are dropped before group means are taken (截尾) [DIP3 §5.4].

    ``percentile`` keeps costs in [P_lo, P_hi] (lo/hi in percent, 2.5 / 97.5); ``sd`` keeps
    mean ± k·SD (k default 3); ``iqr`` keeps [Q1 − k·IQR, Q3 + k·IQR] (k default 1.5); ``none`` keeps all.
    ``by`` is the unit trimmed: each group within each year (``group_year``) or each group over all years.
    """

    method: str = "percentile"
    lo: float = 2.5
    hi: float = 97.5
    k: float | None = None
    by: str = "group_year"

    def __post_init__(self):
        o = "Trim"
        _choice(o, "method", self.method, TRIM_METHODS)
        _choice(o, "by", self.by, TRIM_BY)
        _number(o, "lo", self.lo, lo=0, hi=100)
        _number(o, "hi", self.hi, lo=0, hi=100)
        if self.lo >= self.hi:
            _fail(o, "lo", f"must be below hi ({self.hi}), got {self.lo}")
        _number(o, "k", self.k, lo=0, lo_open=True, allow_none=True)
        if self.k is None:
            _set(self, "k", 3.0 if self.method == "sd" else 1.5)
        _set(self, "lo", float(self.lo))
        _set(self, "hi", float(self.hi))
        _set(self, "k", float(self.k))


@dataclass(frozen=True)
class Calibration:
    """How weights (DRG RW / base points) and scores (DIP 分值) are computed from history (§2, §3.4)."""

    year_weights: tuple[float, ...] = (1.0, 2.0, 7.0)
    year_weight_mode: str = "mean"
    trim: Trim = field(default_factory=Trim)
    score_method: str = "average"
    base_group: str | None = None
    standard_quota_yuan: float | None = None
    cv_ddof: int = 1
    cv_max_drg: float = 1.0
    riv_min: float = 0.70

    def __post_init__(self):
        o = "Calibration"
        weights = self.year_weights
        if isinstance(weights, (str, bytes)) or not isinstance(weights, (list, tuple)) or not weights:
            _fail(o, "year_weights", f"must be a non-empty list of numbers (oldest first), got {weights!r}")
        for w in weights:
            _number(o, "year_weights", w, lo=0)
        if sum(weights) <= 0:
            _fail(o, "year_weights", f"must have a positive sum, got {list(weights)!r}")
        _set(self, "year_weights", tuple(float(w) for w in weights))
        _choice(o, "year_weight_mode", self.year_weight_mode, YEAR_WEIGHT_MODES)
        if isinstance(self.trim, Mapping):
            _set(self, "trim", from_mapping(Trim, self.trim, "Calibration.trim"))
        if not isinstance(self.trim, Trim):
            _fail(o, "trim", f"must be a Trim, got {self.trim!r}")
        _choice(o, "score_method", self.score_method, SCORE_METHODS)
        if self.score_method == "base_disease" and not self.base_group:
            _fail(o, "base_group", "is required when score_method is 'base_disease' (the group giving M_b)")
        if self.score_method == "standard_quota":
            if self.standard_quota_yuan is None:
                _fail(o, "standard_quota_yuan",
                      "is required when score_method is 'standard_quota' (yuan per point M_q)")
        _number(o, "standard_quota_yuan", self.standard_quota_yuan, lo=0, lo_open=True, allow_none=True)
        _number(o, "cv_ddof", self.cv_ddof, lo=0, hi=1, integer=True)
        _set(self, "cv_ddof", int(self.cv_ddof))
        _number(o, "cv_max_drg", self.cv_max_drg, lo=0, lo_open=True)
        _number(o, "riv_min", self.riv_min, lo=0, hi=1)


# ----------------------------------------------------------------------------------------------
# outliers

@dataclass(frozen=True)
class OutlierRules:
    """Cost-ratio bands and their formulas (费用偏差病例, §5).

    ``ratio = total_cost / reference``. Classes: ``low`` (低倍率), ``normal``, ``high`` (高倍率),
    ``extreme`` and, outside the ratio bands, ``ungrouped`` (blank group 空白病组), ``special_review``
    (approved 特例单议) and ``bed_day``. Formulas (base = group base points / score, coef = hospital
    coefficient):

    * low: ``base × ratio`` (× coef when ``coefs_on_outliers``)
    * high ``dip1``: ``base × (ratio − high_ratio + 1)`` (× coef when ``coefs_on_outliers``)
    * high ``jining``: ``base × (ratio − high_ratio + coef)``; coef is inside the factor, never applied twice
    * high ``drg_tiered``: ``base × coef + (ratio − threshold) × base``, threshold from ``drg_high_tiers``
    * high ``review_only``: paid as normal and listed for special review
    * extreme: ``base × coef`` and listed for expert review
    * ungrouped: ``points_scale × cost / all-case mean × blank_group``
    """

    outlier_reference: str | None = None
    reference_factor: float | None = None
    low_ratio: float = 0.5
    low_inclusive: bool = False
    drg_low_ratio: float = 0.4
    drg_low_inclusive: bool = True
    high_ratio: float = 2.0
    high_inclusive: bool = True
    high_formula: str | None = None
    extreme_ratio: float | None = 5.0
    extreme_inclusive: bool = False
    drg_high_tiers: tuple[tuple[float, float], ...] = ((100.0, 3.0), (300.0, 2.0), (math.inf, 1.5))
    coefs_on_outliers: bool = True
    blank_group: float = 0.7
    blank_group_coefs: bool = False

    def __post_init__(self):
        o = "OutlierRules"
        if self.outlier_reference is not None:
            _choice(o, "outlier_reference", self.outlier_reference, OUTLIER_REFERENCES)
        _number(o, "reference_factor", self.reference_factor, lo=0, lo_open=True, allow_none=True)
        if self.outlier_reference == "score_x_factor" and self.reference_factor is None:
            _fail(o, "reference_factor", "is required when outlier_reference is 'score_x_factor' "
                                         "(yuan per point)")
        _number(o, "low_ratio", self.low_ratio, lo=0, hi=1)
        _number(o, "drg_low_ratio", self.drg_low_ratio, lo=0, hi=1)
        _number(o, "high_ratio", self.high_ratio, lo=1)
        for name in ("low_inclusive", "drg_low_inclusive", "high_inclusive", "extreme_inclusive",
                     "coefs_on_outliers", "blank_group_coefs"):
            _flag(o, name, getattr(self, name))
        if self.high_formula is not None:
            _choice(o, "high_formula", self.high_formula, HIGH_FORMULAS)
        _number(o, "extreme_ratio", self.extreme_ratio, lo=1, allow_none=True)
        if self.extreme_ratio is not None and self.extreme_ratio <= self.high_ratio:
            _fail(o, "extreme_ratio", f"must be above high_ratio ({self.high_ratio}), got {self.extreme_ratio}")
        tiers = self.drg_high_tiers
        if isinstance(tiers, (str, bytes)) or not isinstance(tiers, (list, tuple)) or not tiers:
            _fail(o, "drg_high_tiers", f"must be a non-empty list of [max_base_points, ratio], got {tiers!r}")
        clean = []
        for tier in tiers:
            if isinstance(tier, Mapping):
                tier = (tier.get("max_base_points"), tier.get("ratio"))
            if not isinstance(tier, (list, tuple)) or len(tier) != 2:
                _fail(o, "drg_high_tiers", f"each tier is [max_base_points, ratio], got {tier!r}")
            top = math.inf if tier[0] in (None, "inf", ".inf") else tier[0]
            _number(o, "drg_high_tiers", top, lo=0, lo_open=True)
            _number(o, "drg_high_tiers", tier[1], lo=1)
            clean.append((float(top), float(tier[1])))
        tops = [t for t, _ in clean]
        if any(b <= a for a, b in zip(tops, tops[1:])):
            _fail(o, "drg_high_tiers", f"max_base_points must increase, got {tops}")
        if tops[-1] != math.inf:
            _fail(o, "drg_high_tiers", "the last tier must be open (max_base_points .inf)")
        _set(self, "drg_high_tiers", tuple(clean))
        if self.low_ratio >= self.high_ratio:
            _fail(o, "low_ratio", f"must be below high_ratio ({self.high_ratio}), got {self.low_ratio}")
        lowest_tier = min(r for _, r in clean)
        if self.drg_low_ratio >= lowest_tier:
            _fail(o, "drg_low_ratio", f"must be below the lowest drg_high_tiers ratio ({lowest_tier}), "
                                      f"got {self.drg_low_ratio}")
        _number(o, "blank_group", self.blank_group, lo=0)


# ----------------------------------------------------------------------------------------------
# coefficients

@dataclass(frozen=True)
class HospitalCoefTable:
    """Hospital coefficient (医疗机构调节系数 / 等级系数) by level, per-hospital overrides, basic-group rule."""

    by_level: Mapping[int, float] = field(default_factory=lambda: {3: 1.0, 2: 1.0, 1: 1.0})
    by_hospital: Mapping[str, float] = field(default_factory=dict)
    default: float | None = None
    basic_group_coef_mode: str = "one"
    basic_group_coef: float = 1.0
    secondary_level: int = 2

    def __post_init__(self):
        o = "HospitalCoefTable"
        if not isinstance(self.by_level, Mapping):
            _fail(o, "by_level", f"must map hospital level -> coefficient, got {self.by_level!r}")
        levels = {}
        for level, coef in self.by_level.items():
            try:
                key = int(level)
            except (TypeError, ValueError):
                _fail(o, "by_level", f"level {level!r} is not a whole number")
            _number(o, f"by_level[{level}]", coef, lo=0, lo_open=True)
            levels[key] = float(coef)
        _set(self, "by_level", dict(sorted(levels.items())))
        if not isinstance(self.by_hospital, Mapping):
            _fail(o, "by_hospital", f"must map hospital_id -> coefficient, got {self.by_hospital!r}")
        hospitals = {}
        for hospital_id, coef in self.by_hospital.items():
            _number(o, f"by_hospital[{hospital_id}]", coef, lo=0, lo_open=True)
            hospitals[str(hospital_id)] = float(coef)
        _set(self, "by_hospital", hospitals)
        _number(o, "default", self.default, lo=0, lo_open=True, allow_none=True)
        _choice(o, "basic_group_coef_mode", self.basic_group_coef_mode, BASIC_GROUP_COEF_MODES)
        _number(o, "basic_group_coef", self.basic_group_coef, lo=0, lo_open=True)
        _number(o, "secondary_level", self.secondary_level, integer=True)
        _set(self, "secondary_level", int(self.secondary_level))
        if self.basic_group_coef_mode == "secondary_level" and self.secondary_level not in self.by_level \
                and self.default is None:
            _fail(o, "secondary_level", f"level {self.secondary_level} has no coefficient in by_level "
                                        f"(levels: {sorted(self.by_level)})")

    def level_coef(self, level: int) -> float:
        """Coefficient of a hospital level (default when the level is not listed)."""
        if int(level) in self.by_level:
            return self.by_level[int(level)]
        if self.default is None:
            raise PolicyError(f"HospitalCoefTable.by_level: no coefficient for hospital level {level} "
                              f"(levels: {sorted(self.by_level)}; set 'default' to cover others)")
        return self.default


@dataclass(frozen=True)
class RemoteRules:
    """In-province remote care (省内异地): cases whose insured region differs but shares the province."""

    remote_mode: str = "coef"
    remote_coef: float = 1.0
    province_prefix_len: int = 2

    def __post_init__(self):
        o = "RemoteRules"
        _choice(o, "remote_mode", self.remote_mode, REMOTE_MODES)
        _number(o, "remote_coef", self.remote_coef, lo=0, lo_open=True)
        _number(o, "province_prefix_len", self.province_prefix_len, lo=1, hi=6, integer=True)
        _set(self, "province_prefix_len", int(self.province_prefix_len))


@dataclass(frozen=True)
class SpecialReviewRules:
    """Special-case review (特例单议): who may apply, the quota and how approved cases are paid (§5.4)."""

    special_quota: float | None = None
    special_min_ratio: float = 2.0
    quota_excess: str = "error"
    approved_payment: str = "ffs"

    def __post_init__(self):
        o = "SpecialReviewRules"
        _number(o, "special_quota", self.special_quota, lo=0, hi=1, allow_none=True)
        _number(o, "special_min_ratio", self.special_min_ratio, lo=0, lo_open=True)
        _choice(o, "quota_excess", self.quota_excess, QUOTA_EXCESS)
        _choice(o, "approved_payment", self.approved_payment, APPROVED_PAYMENTS)


@dataclass(frozen=True)
class BedDayPhase:
    """Days ``from_day``..``to_day`` (1-based, inclusive) paid ``daily_std`` yuan a day (§9)."""

    from_day: int
    to_day: int
    daily_std: float
    fund_share: float = 1.0

    def __post_init__(self):
        o = "BedDayPhase"
        _number(o, "from_day", self.from_day, lo=1, integer=True)
        _number(o, "to_day", self.to_day, lo=1, integer=True)
        if self.to_day < self.from_day:
            _fail(o, "to_day", f"must be >= from_day ({self.from_day}), got {self.to_day}")
        _number(o, "daily_std", self.daily_std, lo=0)
        _number(o, "fund_share", self.fund_share, lo=0, hi=1)
        _set(self, "from_day", int(self.from_day))
        _set(self, "to_day", int(self.to_day))


@dataclass(frozen=True)
class BedDayRules:
    """Per-bed-day payment (按床日付费): phased daily standards turned into points (§9)."""

    bedday_phases: tuple[BedDayPhase, ...] = ()
    groups: tuple[str, ...] = ()
    mean_cost_per_case: float | None = None
    pay_actual_if_below: bool = False

    def __post_init__(self):
        o = "BedDayRules"
        phases = []
        for phase in self.bedday_phases:
            if isinstance(phase, Mapping):
                phase = from_mapping(BedDayPhase, phase, "BedDayRules.bedday_phases")
            elif isinstance(phase, (list, tuple)):
                phase = BedDayPhase(*phase)
            if not isinstance(phase, BedDayPhase):
                _fail(o, "bedday_phases", f"each phase is [from_day, to_day, daily_std, fund_share], got {phase!r}")
            phases.append(phase)
        for before, after in zip(phases, phases[1:]):
            if after.from_day != before.to_day + 1:
                _fail(o, "bedday_phases", f"phases must be contiguous: day {before.to_day} is followed by "
                                          f"a phase starting on day {after.from_day}")
        if phases and phases[0].from_day != 1:
            _fail(o, "bedday_phases", f"the first phase must start on day 1, got {phases[0].from_day}")
        _set(self, "bedday_phases", tuple(phases))
        if isinstance(self.groups, str) or not isinstance(self.groups, (list, tuple, set, frozenset)):
            _fail(o, "groups", f"must be a list of group codes, got {self.groups!r}")
        _set(self, "groups", tuple(str(g) for g in self.groups))
        if self.groups and not phases:
            _fail(o, "bedday_phases", "bed-day groups are listed but no phases are given")
        _number(o, "mean_cost_per_case", self.mean_cost_per_case, lo=0, lo_open=True, allow_none=True)
        _flag(o, "pay_actual_if_below", self.pay_actual_if_below)


# ----------------------------------------------------------------------------------------------
# DIP directory building

@dataclass(frozen=True)
class AuxTypingRules:
    """Auxiliary typing (辅助分型) gates (§3.5); the N's are local."""

    aux_trigger_cv_drop: float = 0.20
    aux_min_cases_group: int = 100
    aux_min_cases_sub: int = 10
    kinds: tuple[str, ...] = ("death", "severity", "age")
    severity_min_los: int = 4

    def __post_init__(self):
        o = "AuxTypingRules"
        _number(o, "aux_trigger_cv_drop", self.aux_trigger_cv_drop, lo=0, hi=1)
        _number(o, "aux_min_cases_group", self.aux_min_cases_group, lo=1, integer=True)
        _number(o, "aux_min_cases_sub", self.aux_min_cases_sub, lo=1, integer=True)
        _set(self, "aux_min_cases_group", int(self.aux_min_cases_group))
        _set(self, "aux_min_cases_sub", int(self.aux_min_cases_sub))
        if isinstance(self.kinds, str) or not isinstance(self.kinds, (list, tuple)):
            _fail(o, "kinds", f"must be a list, allowed items: {', '.join(AUX_KINDS)}; got {self.kinds!r}")
        for kind in self.kinds:
            _choice(o, "kinds", kind, AUX_KINDS)
        _set(self, "kinds", tuple(self.kinds))
        _number(o, "severity_min_los", self.severity_min_los, lo=0, integer=True)
        _set(self, "severity_min_los", int(self.severity_min_los))


@dataclass(frozen=True)
class DipBuildRules:
    """How a DIP directory is derived from history (§3.1–3.5)."""

    core_threshold: int = 15
    core_coverage: float | None = None
    related_proc_min_uplift: float = 0.10
    comprehensive_min_cases: int = 1
    comprehensive_fallback: tuple[int, ...] = (3,)
    basic_group_cv_max: float = 0.7
    basic_group_min_cases: int | None = None
    basic_group_medical_only: bool = True
    interventional_as: str = "surgery"
    attribute_source: str = "main"
    aux: AuxTypingRules = field(default_factory=AuxTypingRules)

    def __post_init__(self):
        o = "DipBuildRules"
        _number(o, "core_threshold", self.core_threshold, lo=1, integer=True)
        _set(self, "core_threshold", int(self.core_threshold))
        _number(o, "core_coverage", self.core_coverage, lo=0, hi=1, lo_open=True, allow_none=True)
        _number(o, "related_proc_min_uplift", self.related_proc_min_uplift, lo=0)
        _number(o, "comprehensive_min_cases", self.comprehensive_min_cases, lo=1, integer=True)
        _set(self, "comprehensive_min_cases", int(self.comprehensive_min_cases))
        fallback = self.comprehensive_fallback
        if isinstance(fallback, (str, bytes)) or not isinstance(fallback, (list, tuple)) or not fallback:
            _fail(o, "comprehensive_fallback", f"must be a non-empty list of prefix lengths from "
                                               f"[3, 2, 1], got {fallback!r}")
        for n in fallback:
            _choice(o, "comprehensive_fallback", n, (1, 2, 3))
        if list(fallback) != sorted(fallback, reverse=True) or len(set(fallback)) != len(fallback):
            _fail(o, "comprehensive_fallback", f"prefix lengths must strictly decrease, got {list(fallback)}")
        _set(self, "comprehensive_fallback", tuple(int(n) for n in fallback))
        _number(o, "basic_group_cv_max", self.basic_group_cv_max, lo=0, lo_open=True)
        _number(o, "basic_group_min_cases", self.basic_group_min_cases, lo=1, integer=True, allow_none=True)
        if self.basic_group_min_cases is None:
            _set(self, "basic_group_min_cases", self.core_threshold)
        _flag(o, "basic_group_medical_only", self.basic_group_medical_only)
        _choice(o, "interventional_as", self.interventional_as, INTERVENTIONAL_AS)
        _choice(o, "attribute_source", self.attribute_source, ATTRIBUTE_SOURCES)
        if isinstance(self.aux, Mapping):
            _set(self, "aux", from_mapping(AuxTypingRules, self.aux, "DipBuildRules.aux"))
        if not isinstance(self.aux, AuxTypingRules):
            _fail(o, "aux", f"must be AuxTypingRules, got {self.aux!r}")


# ----------------------------------------------------------------------------------------------
# the whole points policy

@dataclass(frozen=True)
class PointsPolicy:
    """Everything that turns grouped cases into points, for one pooling region and year.

    Scheme-dependent defaults are resolved here: ``points_scale`` (100 DRG / 1000 DIP),
    ``outliers.high_formula`` (drg_tiered / dip1), ``outliers.outlier_reference`` (group_mean /
    standard) and ``special_review.special_quota`` (0.05 / 0.005).
    """

    scheme: str = "drg_points"
    points_scale: float | None = None
    calibration: Calibration = field(default_factory=Calibration)
    outliers: OutlierRules = field(default_factory=OutlierRules)
    hospital_coef: HospitalCoefTable = field(default_factory=HospitalCoefTable)
    remote: RemoteRules = field(default_factory=RemoteRules)
    special_review: SpecialReviewRules = field(default_factory=SpecialReviewRules)
    bed_day: BedDayRules = field(default_factory=BedDayRules)
    dip: DipBuildRules = field(default_factory=DipBuildRules)

    def __post_init__(self):
        o = "PointsPolicy"
        _choice(o, "scheme", self.scheme, SCHEMES)
        for name, cls in (("calibration", Calibration), ("outliers", OutlierRules),
                          ("hospital_coef", HospitalCoefTable), ("remote", RemoteRules),
                          ("special_review", SpecialReviewRules), ("bed_day", BedDayRules),
                          ("dip", DipBuildRules)):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                value = from_mapping(cls, value, f"PointsPolicy.{name}")
                _set(self, name, value)
            if not isinstance(value, cls):
                _fail(o, name, f"must be a {cls.__name__}, got {value!r}")
        dip = self.scheme == "dip"
        if self.points_scale is None:
            _set(self, "points_scale", 1000.0 if dip else 100.0)
        _number(o, "points_scale", self.points_scale, lo=0, lo_open=True)
        _set(self, "points_scale", float(self.points_scale))
        outliers = self.outliers
        if outliers.high_formula is None:
            outliers = dataclasses.replace(outliers, high_formula="dip1" if dip else "drg_tiered")
        if outliers.outlier_reference is None:
            outliers = dataclasses.replace(outliers, outlier_reference="standard" if dip else "group_mean")
        _set(self, "outliers", outliers)
        if self.special_review.special_quota is None:
            _set(self, "special_review",
                 dataclasses.replace(self.special_review, special_quota=0.005 if dip else 0.05))

    @property
    def is_dip(self) -> bool:
        """True for the DIP score scheme, False for the DRG point / rate methods."""
        return self.scheme == "dip"

    @property
    def low_bound(self) -> tuple[float, bool]:
        """(low ratio, inclusive) for this scheme: DIP low_ratio or DRG drg_low_ratio."""
        if self.is_dip:
            return self.outliers.low_ratio, self.outliers.low_inclusive
        return self.outliers.drg_low_ratio, self.outliers.drg_low_inclusive


# ----------------------------------------------------------------------------------------------
# building from nested mappings (YAML)

def from_mapping(cls: type, data: Mapping[str, Any], path: str | None = None):
    """Build the frozen dataclass ``cls`` from a mapping with its field names (nested mappings allowed).

    Unknown keys fail with the key path and the allowed names; lists become tuples.
    """
    path = path or cls.__name__
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise PolicyError(f"{path}: must be a mapping of {', '.join(f.name for f in dataclasses.fields(cls))}, "
                          f"got {data!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(map(str, data)) - names)
    if unknown:
        raise PolicyError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        hint = hints.get(key)
        if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
            value = from_mapping(hint, value, f"{path}.{key}")
        elif isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except PolicyError as error:
        message = str(error)
        prefix = f"{cls.__name__}."
        raise PolicyError(f"{path}.{message[len(prefix):]}" if message.startswith(prefix) else message) \
            from None
    except TypeError as error:
        raise PolicyError(f"{path}: {error}") from None


def points_policy_from_mapping(data: Mapping[str, Any], path: str = "points") -> PointsPolicy:
    """Build a :class:`PointsPolicy` from a nested mapping (e.g. the ``points:`` block of a policy YAML)."""
    return from_mapping(PointsPolicy, data, path)
