"""Points policy: every parameter that turns a grouped case into points, as frozen validated dataclasses.

A policy YAML holds these as nested mappings with exactly the field names below; build them with
:func:`points_policy_from_mapping` or construct them in Python. Both go through the config engine
(:mod:`drgdip.core.config`): unknown keys, wrong types and out-of-range values raise
:class:`~drgdip.core.errors.ConfigError` naming the key path and the allowed values. Defaults follow
domain.md §12.

``PointsPolicy`` (top level)
    scheme                  ``drg_points`` | ``drg_rate`` | ``dip``
    scheme_version          built-in grouping scheme version the stays are grouped under (``drgdip schemes``:
                            ``chs-drg-1.1``, ``qingdao-2023``, ...); None: the scheme given or recorded
    points_scale            points per RW (None: 100 for DRG, 1000 for DIP)
    calibration             :class:`Calibration`
    outliers                :class:`OutlierRules`
    hospital_coef           :class:`HospitalCoefTable`
    remote                  :class:`RemoteRules`
    special_review          :class:`SpecialReviewRules`
    bed_day                 :class:`BedDayRules`
    dip                     :class:`DipBuildRules`
    published_table         :class:`PublishedTableRules`

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
    extreme_ratio, extreme_inclusive    extreme bound (false: ratio > bound); ``scheme_default`` (the
                            default): 5.0 for DIP [DIP1, NODE], no band for DRG (§5.3 has none);
                            null: no band
    drg_high_tiers          ``[[max_base_points, ratio], ...]`` (:class:`HighTier`), the last max is ``.inf`` (or null)
    coefs_on_outliers       re-apply the hospital coefficient on low / high cases (true)
    blank_group             factor on the cost-ratio score of ungrouped cases (0.7)
    blank_group_coefs       apply coefficients to ungrouped cases (false)

``HospitalCoefTable`` (§4.2, §4.3)
    by_level                ``{3: 1.2, 2: 1.0, 1: 0.85}`` hospital_level_coef (等级系数)
    by_insurance            ``{employee: 0.611, resident: 0.631}``: the coefficient of a stay by its
                            insurance type, in place of by_level [NODE Tai'an]
    conservative_by_type    ``{general: 1.0, tcm: 0.9}``: conservative (medical) groups are paid by the
                            hospital's type (``hospital_type``), not its level [DIP3 §5.2]
    by_group_level          ``{group: {level: coef}}``: the level coefficient of a group (coef_level,g)
    by_hospital             ``{hospital_id: coef}`` overrides by_level for that hospital
                            Precedence, first found: basic-group rule (basic groups), by_hospital,
                            by_group_level, conservative_by_type, by_insurance, by_level, default
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
    bedday_phases           ``[[from_day, to_day, daily_std, fund_share], ...]`` contiguous, from day 1;
                            the fund pays ``fund_share`` of the phase's daily standard (1.0) and the
                            points count that part
    groups                  group codes paid per bed-day
    acute_phase             ``bed_day`` (every phase per bed-day) | ``points`` (the first phase, the
                            acute phase, paid per disease by the group's points; the later phases per
                            bed-day [HN §6.2.3])
    mean_cost_per_case      regional mean cost per case that turns yuan into points (None: the
                            calibrated all-case mean)
    pay_actual_if_below     cost under the standard -> paid at cost (false)

``PublishedTableRules`` (a city's published weight / payment table, :mod:`drgdip.pointvalue.published`)
    table                   built-in table name (``qingdao-2023``) or a CSV path; its RWs are the weights
    method                  ``auto`` (the table's payment standard, else standard score × level coef, else
                            RW × base rate × level coef) | ``standard`` | ``rw_rate``
    tier_of_level           ``{3: 三甲}``: the published tier a hospital level is priced at (default: the
                            header map's 三级 / 二级 / 一级)
    tier_of_hospital        ``{hospital_id: tier}`` overrides tier_of_level
    base_rate               yuan per RW (费率) where the table publishes none
    base_rate_by_insurance  ``{employee: .., resident: ..}`` instead of one base rate
    level_coefs             ``{tier: coef}`` where the table publishes no level coefficients
    basic_group_coef        level coefficient of basic groups at every level (None: their own)
    all_case_mean           yuan RW 1 stands for, the all-case mean cost ungrouped stays are paid from, where
                            the weight table does not give it (None: a table of RWs alone cannot pay them)

``DipBuildRules`` (§3)
    core_threshold          minimum history cases for a core group (15)
    core_coverage           instead: smallest threshold whose core groups cover this share (None)
    related_proc_min_uplift related procedure forms its own group if it raises cost by >= this (0.10)
    comprehensive_min_cases comprehensive groups under this are dropped to the next fallback (1)
    comprehensive_fallback  diagnosis prefix lengths tried for comprehensive groups (``[3]``; NODE: [3, 2, 1])
    comprehensive_cv_max    a comprehensive group whose cost CV is above this passes its cases on (None: no limit)
    basic_group_cv_max      basic-group selection CV gate (0.7)
    basic_group_min_cases   basic-group selection case gate (core_threshold)
    basic_group_medical_only basic groups only among medical (conservative) core groups (true)
    interventional_as       ``surgery`` | ``therapeutic``
    attribute_source        case class from the ``main`` procedure (DIP 3.0) or the ``highest`` attribute
    aux                     :class:`AuxTypingRules` ``{aux_trigger_cv_drop, aux_min_cases_group,
                            aux_min_cases_sub, kinds (death | severity | age | icu | tumour | cci),
                            severity_min_los}``
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, NamedTuple, get_args

from drgdip.core.config import Config, FrozenDict, build, param, require
from drgdip.core.resources import payment_table_names
from drgdip.core.errors import ConfigError

__all__ = [
    "Trim", "Calibration", "HighTier", "OutlierRules", "HospitalCoefTable", "RemoteRules",
    "SpecialReviewRules", "BedDayPhase", "BedDayRules", "AuxTypingRules", "DipBuildRules",
    "PublishedTableRules", "PointsPolicy", "points_policy_from_mapping",
    "SCHEMES", "HIGH_FORMULAS", "OUTLIER_REFERENCES", "SCORE_METHODS", "TRIM_METHODS", "APPROVED_PAYMENTS",
]

Scheme = Literal["drg_points", "drg_rate", "dip"]
TrimMethod = Literal["percentile", "sd", "iqr", "none"]
ScoreMethod = Literal["average", "base_disease", "standard_quota"]
OutlierReference = Literal["standard", "same_level_mean", "score_x_factor", "group_mean"]
HighFormula = Literal["dip1", "jining", "review_only", "drg_tiered"]
ApprovedPayment = Literal["ffs", "standard"]

SCHEMES = get_args(Scheme)
TRIM_METHODS = get_args(TrimMethod)
SCORE_METHODS = get_args(ScoreMethod)
OUTLIER_REFERENCES = get_args(OutlierReference)
HIGH_FORMULAS = get_args(HighFormula)          # order = index used by the points kernel
APPROVED_PAYMENTS = get_args(ApprovedPayment)  # order = index used by the points kernel
DIP_EXTREME_RATIO = 5.0                        # DIP 1.0 "≥ 5× → expert review"; Jining > 5 (§5.2)


# ----------------------------------------------------------------------------------------------
# calibration

@dataclass(frozen=True)
class Trim(Config):
    """Which costs are dropped before group means are taken (截尾) [DIP3 §5.4].

    ``percentile`` keeps costs in [P_lo, P_hi] (lo/hi in percent, 2.5 / 97.5); ``sd`` keeps
    mean ± k·SD (k default 3); ``iqr`` keeps [Q1 − k·IQR, Q3 + k·IQR] (k default 1.5); ``none`` keeps all.
    ``by`` is the unit trimmed: each group within each year (``group_year``) or each group over all years.
    """

    method: TrimMethod = "percentile"
    lo: float = param(2.5, ge=0.0, le=100.0)
    hi: float = param(97.5, ge=0.0, le=100.0)
    k: float | None = param(None, gt=0.0)
    by: Literal["group_year", "group"] = "group_year"

    def check(self) -> None:
        require(self.lo < self.hi, "lo", f"must be below hi ({self.hi}), got {self.lo}")
        if self.k is None:
            self.derive(k=3.0 if self.method == "sd" else 1.5)


@dataclass(frozen=True)
class Calibration(Config):
    """How weights (DRG RW / base points) and scores (DIP 分值) are computed from history (§2, §3.4)."""

    year_weights: tuple[float, ...] = param((1.0, 2.0, 7.0), ge=0.0)
    year_weight_mode: Literal["mean", "case"] = "mean"
    trim: Trim = field(default_factory=Trim)
    score_method: ScoreMethod = "average"
    base_group: str | None = None
    standard_quota_yuan: float | None = param(None, gt=0.0)
    cv_ddof: int = param(1, ge=0, le=1)
    cv_max_drg: float = param(1.0, gt=0.0)
    riv_min: float = param(0.70, ge=0.0, le=1.0)

    def check(self) -> None:
        require(len(self.year_weights) > 0, "year_weights", "must be a non-empty list of numbers (oldest first)")
        require(sum(self.year_weights) > 0, "year_weights",
                f"must have a positive sum, got {list(self.year_weights)!r}")
        if self.score_method == "base_disease":
            require(bool(self.base_group), "base_group",
                    "is required when score_method is 'base_disease' (the group giving M_b)")
        if self.score_method == "standard_quota":
            require(self.standard_quota_yuan is not None, "standard_quota_yuan",
                    "is required when score_method is 'standard_quota' (yuan per point M_q)")


# ----------------------------------------------------------------------------------------------
# outliers

class HighTier(NamedTuple):
    """One DRG high-outlier tier: groups with base points up to ``max_base_points`` are high from ``ratio``.

    The last tier is open: ``max_base_points`` ``.inf`` (null is read as ``.inf``).
    """

    max_base_points: float | None
    ratio: float


@dataclass(frozen=True)
class OutlierRules(Config):
    """Cost-ratio bands and their formulas (费用偏差病例, §5).

    ``ratio = total_cost / reference``. Classes: ``low`` (低倍率), ``normal``, ``high`` (高倍率),
    ``extreme`` and, outside the ratio bands, ``ungrouped`` (blank group 空白病组), ``special_review``
    (approved 特例单议) and ``bed_day``. Formulas (base = group base points / score, coef = hospital
    coefficient):

    * low: ``base × ratio`` (× coef when ``coefs_on_outliers``, and always under the ``standard``
      reference, whose ratio divides by the coefficient: the low case earns cost ÷ point value at every
      level, domain §5.2)
    * high ``dip1``: ``base × (ratio − high_ratio + 1)`` (× coef when ``coefs_on_outliers``)
    * high ``jining``: ``base × (ratio − high_ratio + coef)``; coef is inside the factor, never applied twice
    * high ``drg_tiered``: ``base × coef + (ratio − threshold) × base``, threshold from ``drg_high_tiers``
    * high ``review_only``: paid as normal and listed for special review
    * extreme: ``base × coef`` and listed for expert review
    * ungrouped: ``points_scale × cost / all-case mean × blank_group``

    The extreme band is a DIP rule (DIP 1.0 "≥ 5× → expert review", Jining [NODE]): its points fall
    back to the standard as the cost crosses the bound, and the case is left to special review. The
    DRG point method (§5.3) has no such band, so ``extreme_ratio`` defaults to ``scheme_default``,
    resolved by :class:`PointsPolicy` to 5.0 for DIP and no band (None) for DRG; null switches the
    band off whatever the scheme.
    """

    outlier_reference: OutlierReference | None = None
    reference_factor: float | None = param(None, gt=0.0)
    low_ratio: float = param(0.5, ge=0.0, le=1.0)
    low_inclusive: bool = False
    drg_low_ratio: float = param(0.4, ge=0.0, le=1.0)
    drg_low_inclusive: bool = True
    high_ratio: float = param(2.0, ge=1.0)
    high_inclusive: bool = True
    high_formula: HighFormula | None = None
    extreme_ratio: float | Literal["scheme_default"] | None = param("scheme_default", ge=1.0)
    extreme_inclusive: bool = False
    drg_high_tiers: tuple[HighTier, ...] = ((100.0, 3.0), (300.0, 2.0), (math.inf, 1.5))
    coefs_on_outliers: bool = True
    blank_group: float = param(0.7, ge=0.0)
    blank_group_coefs: bool = False

    def check(self) -> None:
        if self.outlier_reference == "score_x_factor":
            require(self.reference_factor is not None, "reference_factor",
                    "is required when outlier_reference is 'score_x_factor' (yuan per point)")
        if isinstance(self.extreme_ratio, float):
            require(self.extreme_ratio > self.high_ratio, "extreme_ratio",
                    f"must be above high_ratio ({self.high_ratio}), got {self.extreme_ratio}")
        tiers = tuple(HighTier(math.inf if top is None else top, ratio) for top, ratio in self.drg_high_tiers)
        self.derive(drg_high_tiers=tiers)
        require(len(tiers) > 0, "drg_high_tiers",
                "needs at least one tier [max_base_points, ratio]; the last has max_base_points .inf")
        for i, tier in enumerate(tiers):
            require(tier.max_base_points > 0, f"drg_high_tiers[{i}].max_base_points",
                    f"{tier.max_base_points!r} is out of range; allowed: 0 < value")
            require(tier.ratio >= 1, f"drg_high_tiers[{i}].ratio",
                    f"{tier.ratio!r} is out of range; allowed: 1 <= value")
        tops = [tier.max_base_points for tier in tiers]
        require(all(b > a for a, b in zip(tops, tops[1:])), "drg_high_tiers",
                f"max_base_points must increase from tier to tier, got {tops}")
        require(tops[-1] == math.inf, f"drg_high_tiers[{len(tiers) - 1}].max_base_points",
                "the last tier must be open (max_base_points .inf)")
        require(self.low_ratio < self.high_ratio, "low_ratio",
                f"must be below high_ratio ({self.high_ratio}), got {self.low_ratio}")
        lowest_tier = min(tier.ratio for tier in tiers)
        require(self.drg_low_ratio < lowest_tier, "drg_low_ratio",
                f"must be below the lowest drg_high_tiers ratio ({lowest_tier}), got {self.drg_low_ratio}")


# ----------------------------------------------------------------------------------------------
# coefficients

@dataclass(frozen=True)
class HospitalCoefTable(Config):
    """Hospital coefficient (医疗机构调节系数 / 等级系数): by level, and more specifically by insurance type,
    by hospital type for conservative groups, by group and level, per hospital; basic-group rule (§4.2,
    §4.3). Precedence, the first that applies: the basic-group rule (basic groups), ``by_hospital``,
    ``by_group_level``, ``conservative_by_type``, ``by_insurance``, ``by_level``, ``default``."""

    by_level: Mapping[int, float] = param(default_factory=lambda: FrozenDict({3: 1.0, 2: 1.0, 1: 1.0}), gt=0.0)
    by_hospital: Mapping[str, float] = param(default_factory=FrozenDict, gt=0.0)
    by_group_level: Mapping[str, Mapping[int, float]] = param(default_factory=FrozenDict, gt=0.0)
    conservative_by_type: Mapping[str, float] = param(default_factory=FrozenDict, gt=0.0)
    by_insurance: Mapping[str, float] = param(default_factory=FrozenDict, gt=0.0)
    default: float | None = param(None, gt=0.0)
    basic_group_coef_mode: Literal["one", "secondary_level", "per_group"] = "one"
    basic_group_coef: float = param(1.0, gt=0.0)
    secondary_level: int = 2

    def check(self) -> None:
        self.derive(by_level=FrozenDict(sorted(self.by_level.items())))
        if self.basic_group_coef_mode == "secondary_level" and self.default is None:
            require(self.secondary_level in self.by_level, "secondary_level",
                    f"level {self.secondary_level} has no coefficient in by_level (levels: {sorted(self.by_level)})")

    def level_coef(self, level: int) -> float:
        """Coefficient of a hospital level (default when the level is not listed)."""
        if int(level) in self.by_level:
            return self.by_level[int(level)]
        if self.default is None:
            raise ConfigError(f"no coefficient for hospital level {level} (levels: {sorted(self.by_level)}; "
                              f"set 'default' to cover others)", key="by_level", section=HospitalCoefTable)
        return self.default


@dataclass(frozen=True)
class RemoteRules(Config):
    """In-province remote care (省内异地): cases whose insured region differs but shares the province."""

    remote_mode: Literal["coef", "separate_standard"] = "coef"
    remote_coef: float = param(1.0, gt=0.0)
    province_prefix_len: int = param(2, ge=1, le=6)


@dataclass(frozen=True)
class SpecialReviewRules(Config):
    """Special-case review (特例单议): who may apply, the quota and how approved cases are paid (§5.4)."""

    special_quota: float | None = param(None, ge=0.0, le=1.0)
    special_min_ratio: float = param(2.0, gt=0.0)
    quota_excess: Literal["error", "rank"] = "error"
    approved_payment: ApprovedPayment = "ffs"


@dataclass(frozen=True)
class BedDayPhase(Config, list_form=True):
    """Days ``from_day``..``to_day`` (1-based, inclusive) paid ``daily_std`` yuan a day (§9).

    ``fund_share`` is the fund's share of the phase's daily standard [SS]: the fund pays
    ``fund_share × daily_std`` for each day of the phase, the rest is the patient's; the stay's
    bed-day points count the fund's part, and settlement does not apply a fund ratio to them again.
    Without fund shares (all phases leave it out) the daily standard is a cost standard like any
    group's and the pool's fund ratio applies. In YAML a phase is a mapping or the list
    ``[from_day, to_day, daily_std]`` / ``[from_day, to_day, daily_std, fund_share]``.
    """

    from_day: int = param(ge=1)
    to_day: int = param(ge=1)
    daily_std: float = param(ge=0.0)
    fund_share: float | None = param(None, ge=0.0, le=1.0)

    def check(self) -> None:
        require(self.to_day >= self.from_day, "to_day",
                f"must be >= from_day ({self.from_day}), got {self.to_day}")


@dataclass(frozen=True)
class BedDayRules(Config):
    """Per-bed-day payment (按床日付费): phased daily standards turned into points (§9).

    A stay of a bed-day group is paid, for each day, its phase's daily standard (with fund shares:
    the fund's part of it, ``fund_share × daily_std``), converted into points at
    ``mean_cost_per_case`` [JH]; days after the last phase are not paid.

    ``acute_phase: points`` pays the acute phase per disease and the later phases per bed-day [HN §3,
    §6.2.3]; the first phase is the acute phase ([SS]: days 1-30). A stay that ends within it is an
    ordinary case of its group (all outlier rules); a longer one gets its group's points (base ×
    hospital coefficient × aux, no cost-ratio band: the cost of the acute days alone is not known)
    plus the bed-day points of its days in the later phases. A bed-day stay without a group (marked
    ``payment_method: bed_day``) cannot be paid per disease and is paid per bed-day from day 1.
    ``pay_actual_if_below`` caps the bed-day part at the stay's cost (the fund keeping its share).
    """

    bedday_phases: tuple[BedDayPhase, ...] = ()
    groups: tuple[str, ...] = ()
    acute_phase: Literal["bed_day", "points"] = "bed_day"
    mean_cost_per_case: float | None = param(None, gt=0.0)
    pay_actual_if_below: bool = False

    @property
    def fund_shares(self) -> bool:
        """Whether the phases give fund shares: bed-day points are then the fund's part already."""
        return bool(self.bedday_phases) and self.bedday_phases[0].fund_share is not None

    def check(self) -> None:
        phases = self.bedday_phases
        if phases:
            require(phases[0].from_day == 1, "bedday_phases[0].from_day",
                    f"the first phase must start on day 1, got {phases[0].from_day}")
        for i, (before, after) in enumerate(zip(phases, phases[1:]), start=1):
            require(after.from_day == before.to_day + 1, f"bedday_phases[{i}].from_day",
                    f"phases must be contiguous: day {before.to_day} is followed by a phase starting on "
                    f"day {after.from_day}")
        shares = [p.fund_share is not None for p in phases]
        if any(shares):
            require(all(shares), f"bedday_phases[{shares.index(False) if not all(shares) else 0}].fund_share",
                    "give a fund_share for every phase or for none")
        if self.groups:
            require(bool(phases), "bedday_phases", "bed-day groups are listed but no phases are given")
        if self.acute_phase == "points":
            require(len(phases) >= 2, "bedday_phases",
                    "acute_phase 'points' pays the first phase by the group's points, so a later phase "
                    f"must pay the days after it per bed-day; got {len(phases)} phase(s)")


# ----------------------------------------------------------------------------------------------
# DIP directory building

@dataclass(frozen=True)
class AuxTypingRules(Config):
    """Auxiliary typing (辅助分型) gates (§3.5); the N's are local."""

    aux_trigger_cv_drop: float = param(0.20, ge=0.0, le=1.0)
    aux_min_cases_group: int = param(100, ge=1)
    aux_min_cases_sub: int = param(10, ge=1)
    kinds: tuple[Literal["death", "severity", "age", "icu", "tumour", "cci"], ...] = ("death", "severity", "age")
    severity_min_los: int = param(4, ge=0)


@dataclass(frozen=True)
class DipBuildRules(Config):
    """How a DIP directory is derived from history (§3.1–3.5)."""

    core_threshold: int = param(15, ge=1)
    core_coverage: float | None = param(None, gt=0.0, le=1.0)
    related_proc_min_uplift: float = param(0.10, ge=0.0)
    comprehensive_min_cases: int = param(1, ge=1)
    comprehensive_fallback: tuple[Literal[3, 2, 1], ...] = (3,)
    comprehensive_cv_max: float | None = param(None, gt=0.0)
    basic_group_cv_max: float = param(0.7, gt=0.0)
    basic_group_min_cases: int | None = param(None, ge=1)
    basic_group_medical_only: bool = True
    interventional_as: Literal["surgery", "therapeutic"] = "surgery"
    attribute_source: Literal["main", "highest"] = "main"
    aux: AuxTypingRules = field(default_factory=AuxTypingRules)

    def check(self) -> None:
        fallback = self.comprehensive_fallback
        require(len(fallback) > 0, "comprehensive_fallback",
                "must be a non-empty list of prefix lengths from [3, 2, 1]")
        require(all(b < a for a, b in zip(fallback, fallback[1:])), "comprehensive_fallback",
                f"prefix lengths must strictly decrease, got {list(fallback)}")
        if self.basic_group_min_cases is None:
            self.derive(basic_group_min_cases=self.core_threshold)


# ----------------------------------------------------------------------------------------------
# a city's published table

@dataclass(frozen=True)
class PublishedTableRules(Config):
    """Price with a city's published DRG table (病组权重 / 支付标准), as the city publishes it.

    ``table`` names a table shipped with drgdip (``qingdao-2023``, see
    :func:`drgdip.pointvalue.published.published_table_names`) or a CSV file; its RWs become the weights
    (no calibration) and :func:`drgdip.pointvalue.published.price_stays` prices each stay: the published
    payment standard of its group at its hospital tier (and insurance type), or RW × base rate × level
    coefficient (domain.md §2.3). The table's own standards, rates and coefficients come first; the
    keys here give what the city publishes elsewhere (a base rate, level coefficients) and which
    published tier each hospital level (or hospital) is paid at. ``all_case_mean`` is the cost RW 1
    stands for (the rate method's base rate), from which the point pool pays ungrouped stays.
    """

    table: str | None = None
    method: Literal["auto", "standard", "rw_rate"] = "auto"
    tier_of_level: Mapping[int, str] = param(default_factory=FrozenDict)
    tier_of_hospital: Mapping[str, str] = param(default_factory=FrozenDict)
    base_rate: float | None = param(None, gt=0.0)
    base_rate_by_insurance: Mapping[str, float] = param(default_factory=FrozenDict, gt=0.0)
    level_coefs: Mapping[str, float] = param(default_factory=FrozenDict, gt=0.0)
    basic_group_coef: float | None = param(None, gt=0.0)
    all_case_mean: float | None = param(None, gt=0.0)

    def check(self) -> None:
        for kind in self.base_rate_by_insurance:
            require(kind in ("employee", "resident"), f"base_rate_by_insurance.{kind}",
                    "unknown insurance type; allowed: employee, resident")
        if self.table is None:
            require(not (self.tier_of_level or self.tier_of_hospital or self.base_rate is not None
                         or self.base_rate_by_insurance or self.level_coefs or self.all_case_mean is not None), "table",
                    "is required when other published_table keys are given")
            return
        names = payment_table_names()
        if not self.table.lower().endswith((".csv", ".txt")):
            near = difflib.get_close_matches(self.table, names, n=1)
            require(self.table in names, "table",
                    f"unknown published table {self.table!r}" + (f" (did you mean {near[0]}?)" if near else "")
                    + f"; built-in tables: {', '.join(names)}, or a .csv path")


# ----------------------------------------------------------------------------------------------
# the whole points policy

@dataclass(frozen=True)
class PointsPolicy(Config):
    """Everything that turns grouped cases into points, for one pooling region and year.

    Scheme-dependent defaults are resolved here: ``points_scale`` (100 DRG / 1000 DIP),
    ``outliers.high_formula`` (drg_tiered / dip1), ``outliers.outlier_reference`` (group_mean /
    standard), ``outliers.extreme_ratio`` (no band / 5.0) and ``special_review.special_quota``
    (0.05 / 0.005).
    """

    scheme: Scheme = "drg_points"
    scheme_version: str | None = None
    points_scale: float | None = param(None, gt=0.0)
    calibration: Calibration = field(default_factory=Calibration)
    outliers: OutlierRules = field(default_factory=OutlierRules)
    hospital_coef: HospitalCoefTable = field(default_factory=HospitalCoefTable)
    remote: RemoteRules = field(default_factory=RemoteRules)
    special_review: SpecialReviewRules = field(default_factory=SpecialReviewRules)
    bed_day: BedDayRules = field(default_factory=BedDayRules)
    dip: DipBuildRules = field(default_factory=DipBuildRules)
    published_table: PublishedTableRules = field(default_factory=PublishedTableRules)

    def check(self) -> None:
        dip = self.is_dip
        if self.scheme_version is not None:
            from drgdip.grouper.builtin import builtin_names

            known = builtin_names()
            require(self.scheme_version in known, "scheme_version",
                    f"unknown built-in scheme version {self.scheme_version!r}; known: {', '.join(known)}")
            require(not dip, "scheme_version", "a DIP policy groups with its DIP directory (--dip), not with a DRG "
                                               "scheme version")
        if self.points_scale is None:
            self.derive(points_scale=1000.0 if dip else 100.0)
        outliers = self.outliers
        if outliers.high_formula is None:
            outliers = dataclasses.replace(outliers, high_formula="dip1" if dip else "drg_tiered")
        if outliers.outlier_reference is None:
            outliers = dataclasses.replace(outliers, outlier_reference="standard" if dip else "group_mean")
        if outliers.extreme_ratio == "scheme_default":
            outliers = dataclasses.replace(outliers, extreme_ratio=DIP_EXTREME_RATIO if dip else None)
        self.derive(outliers=outliers)
        if self.special_review.special_quota is None:
            self.derive(special_review=dataclasses.replace(self.special_review,
                                                           special_quota=0.005 if dip else 0.05))

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


def points_policy_from_mapping(data: Mapping[str, Any] | None, path: str = "points") -> PointsPolicy:
    """Build a :class:`PointsPolicy` from a nested mapping (e.g. the ``points:`` block of a policy YAML);
    ``path`` is the key path that error messages start from."""
    return build(PointsPolicy, data, path)
