"""Budget and settlement policy: one YAML file per pooling region and year, as frozen dataclasses.

The file is read with ``yaml.safe_load`` and converted by the config engine (:mod:`drgdip.core.config`):
an unknown key, a missing required key, a wrong type or an out-of-range value raises
:class:`~drgdip.core.errors.ConfigError` naming the file, the key path and the allowed values.
Sections (domain.md §12):

``points``        the points policy of :mod:`drgdip.pointvalue.rules` (:class:`drgdip.pointvalue.PointsPolicy`,
                  same keys), including the payment scheme ``points.scheme``
``budget``        regional total budget (区域总额预算) and reserve (调剂金) §6.1
``point_value``   budgeted and settlement point value (预算点值 / 结算点值) §6.2
``settlement``    assessment, monthly prepayment (月度预付), year-end clearing (年度清算),
                  surplus retention / overspend sharing (结余留用 / 合理超支分担) §6.3–6.6
``day_care``      day surgery, day chemotherapy, TCM day care, oncology day ward (日间医疗) §8
``remote_pool``   where the fund money of in-province remote stays (省内异地) is pooled §7

Money figures in the file are yuan (元); the engine works in integer fen (分).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Mapping


from drgdip.core.config import Config, FrozenDict, build, param, read_yaml, require
from drgdip.core.errors import ConfigError
from drgdip.pointvalue.rules import PointsPolicy

__all__ = [
    "Policy", "BudgetRules", "PointValueRules", "SettlementRules", "SurplusBand",
    "OverspendBand", "SurplusRules", "OverspendRules", "LosExclusion", "DayCareRules", "DayCategory", "DayWardRules",
    "DayFees", "PreopMerge", "RemotePoolRules", "load_policy", "policy_from_mapping",
    "CARE_TYPES", "INSURANCE_TYPES",
]

CARE_TYPES = ("inpatient", "day_surgery", "day_chemo", "tcm_day", "day_ward")
INSURANCE_TYPES = ("employee", "resident")

YuanByRegion = float | Mapping[str, float]


# ---------------------------------------------------------------------------------------- budget

@dataclass(frozen=True)
class BudgetRules(Config):
    """Regional total budget (区域总额预算 / 按病种付费总额) and the reserve kept back from it (§6.1).

    ``method``:
      ``amount``       the total is given (``amount``, yuan; one number or ``{region: yuan}``)
      ``growth``       ``last_year_fund × (1 + growth_rate)``; ``last_year_fund`` null = the pooled
                       fund paid for the previous year's stays in the input
      ``share``        ``inpatient_fund_budget × last_year_share``
      ``items``        ``inpatient_fund_budget − items_reserve − items_remote − items_other``
      ``actual_fund``  the fund paid for the settled year's stays × ``actual_fund_factor`` (simulation)
    ``reserve_share`` of the total is held back as the regional reserve (调剂金 / 风险金, 5% [PTS]);
    the rest is distributed by points. The money of a pooling area is split over its pools
    (insurance types, remote pool) by ``split``.
    """

    method: Literal["amount", "growth", "share", "items", "actual_fund"] = "growth"
    amount: YuanByRegion | None = param(None, ge=0.0)
    last_year_fund: YuanByRegion | None = param(None, ge=0.0)
    growth_rate: float = param(0.0, gt=-1.0, le=1.0)
    inpatient_fund_budget: YuanByRegion | None = param(None, ge=0.0)
    last_year_share: float | None = param(None, gt=0.0, le=1.0)
    items_reserve: YuanByRegion = param(0.0, ge=0.0)
    items_remote: YuanByRegion = param(0.0, ge=0.0)
    items_other: YuanByRegion = param(0.0, ge=0.0)
    actual_fund_factor: float = param(1.0, gt=0.0, le=10.0)
    reserve_share: float = param(0.05, ge=0.0, lt=1.0)
    split: Literal["actual_fund", "last_year_fund", "shares"] = "actual_fund"
    insurance_type_shares: Mapping[str, float] = param(default_factory=FrozenDict, ge=0.0, le=1.0)

    def check(self) -> None:
        needs = {"amount": ("amount",), "share": ("inpatient_fund_budget", "last_year_share"),
                 "items": ("inpatient_fund_budget",)}
        for key in needs.get(self.method, ()):
            require(getattr(self, key) is not None, key, f"is required when method is {self.method!r}")
        if self.split == "shares":
            shares = self.insurance_type_shares
            require(bool(shares), "insurance_type_shares",
                    "is required when split is 'shares' (e.g. {employee: 0.6, resident: 0.4})")
            for name in shares:
                require(name in INSURANCE_TYPES, f"insurance_type_shares.{name}",
                        f"unknown insurance type; allowed: {', '.join(INSURANCE_TYPES)}")
            require(math.isclose(sum(shares.values()), 1.0, abs_tol=1e-9), "insurance_type_shares",
                    f"shares must add up to 1, got {sum(shares.values())!r}")


# ----------------------------------------------------------------------------------- point value

@dataclass(frozen=True)
class PointValueRules(Config):
    """Budgeted point value (年初 / 预算点值) and settlement point value (结算点值) (§6.2).

    ``basis``:
      ``total_cost``     PV = (money / fund_payment_ratio) / points; fund due = points × PV × ratio
      ``patient_share``  PV = (money + patients' share) / points; fund due = points × PV − patients' share
      ``fund_only``      PV = money / points; fund due = points × PV
    ``fund_ratio``: ``pool`` uses one fund payment ratio per pool (Σ fund / Σ cost); ``insured_region``
    uses the ratio of the stays of the same insured region in the pool, so remote stays follow the
    insured location's benefit policy (§7); with uniform ratios both give the domain formula.
    ``budget_point_value``: yuan per point for prepayment; null = from history,
    Σ_y w_y·cost_y / Σ_y w_y·points_y with ``year_weights`` (null: points.calibration.year_weights).
    ``floor`` / ``cap`` bound the settlement PV relative to the budget PV (the difference is taken
    from or returned to the reserve). ``elastic_base_share`` (8:2 → 0.8) pays that share of every
    point at the fixed budget PV and the rest at a floating PV (floor/cap then bound the floating part).
    ``smoothing`` selects the history used for the budget PV: ``percentile`` drops hospitals whose
    cost per point lies outside [smoothing_lo, smoothing_hi] percent; ``best_interval_1d`` keeps
    hospitals whose cost per point is at or below the regional mean (优值区间, 1-D).
    """

    basis: Literal["total_cost", "patient_share", "fund_only"] = "total_cost"
    by_insurance_type: bool = False
    fund_ratio: Literal["pool", "insured_region"] = "pool"
    budget_point_value: YuanByRegion | None = param(None, gt=0.0)
    year_weights: tuple[float, ...] | None = param(None, ge=0.0)
    smoothing: Literal["none", "percentile", "best_interval_1d"] = "none"
    smoothing_lo: float = param(2.5, ge=0.0, le=100.0)
    smoothing_hi: float = param(97.5, ge=0.0, le=100.0)
    floor: float | None = param(None, gt=0.0, le=1.0)
    cap: float | None = param(None, ge=1.0)
    elastic_base_share: float | None = param(None, gt=0.0, lt=1.0)

    def check(self) -> None:
        require(self.smoothing_lo < self.smoothing_hi, "smoothing_lo",
                f"must be below smoothing_hi ({self.smoothing_hi}), got {self.smoothing_lo}")
        if self.year_weights is not None:
            require(len(self.year_weights) > 0 and sum(self.year_weights) > 0, "year_weights",
                    "must be a non-empty list of non-negative numbers with a positive sum")


# ------------------------------------------------------------------------------------ settlement

@dataclass(frozen=True)
class SurplusBand(Config):
    """Surplus up to ``upto_pct`` of the fund due (null: no upper bound) is kept at ``keep_share``."""

    upto_pct: float | None = param(None, gt=0.0)
    keep_share: float = param(1.0, ge=0.0, le=1.0)


@dataclass(frozen=True)
class OverspendBand(Config):
    """Overspend up to ``upto_pct`` of the fund due (null: no upper bound): the fund pays ``fund_share``."""

    upto_pct: float | None = param(None, gt=0.0)
    fund_share: float = param(0.0, ge=0.0, le=1.0)


def _check_bands(bands, key: str) -> None:
    require(len(bands) > 0, key, "needs at least one band; the last has upto_pct null")
    limits = [b.upto_pct for b in bands]
    require(limits[-1] is None, f"{key}[{len(bands) - 1}].upto_pct",
            "the last band must be open (upto_pct: null)")
    require(all(x is not None for x in limits[:-1]), key, "only the last band may have upto_pct null")
    inner = limits[:-1]
    require(all(b > a for a, b in zip(inner, inner[1:])), key,
            f"upto_pct must increase from band to band, got {inner}")


@dataclass(frozen=True)
class SurplusRules(Config):
    """Surplus retention (结余留用) (§6.6): surplus = fund due − fee-for-service fund.

    ``mode``: ``tiered`` applies each band's share to the part of the surplus inside the band
    (like tax brackets); ``whole`` applies the share of the band the surplus falls in to all of it.
    Percentages are of the hospital's fund due. Surplus not kept returns to the reserve.
    """

    mode: Literal["tiered", "whole"] = "tiered"
    bands: tuple[SurplusBand, ...] = (SurplusBand(None, 1.0),)

    def check(self) -> None:
        _check_bands(self.bands, "bands")


@dataclass(frozen=True)
class OverspendRules(Config):
    """Reasonable overspend sharing (合理超支分担) (§6.6): overspend = FFS fund − fund due.

    Bands as in :class:`SurplusRules`; the fund's share is paid from the reserve.
    Example: due 8.62 M, FFS 9.2 M (6.7 %), band ``{upto_pct: 0.10, fund_share: 0.5}`` → +0.29 M.
    """

    mode: Literal["tiered", "whole"] = "tiered"
    bands: tuple[OverspendBand, ...] = (OverspendBand(None, 0.0),)

    def check(self) -> None:
        _check_bands(self.bands, "bands")


@dataclass(frozen=True)
class LosExclusion(Config):
    """Stays outside DRG/DIP payment by length of stay [QY]: LOS <= ``at_most`` or >= ``at_least`` days
    are paid fee-for-service (their recorded fund) outside the point pool; null switches a bound off."""

    at_most: int | None = param(None, ge=0, le=30)
    at_least: int | None = param(None, ge=1)


@dataclass(frozen=True)
class ScoreBand(Config):
    """Hospitals whose assessment score is at least ``min_score`` get the assessment coefficient ``coef``."""

    min_score: float = param(0.0, ge=0.0, le=100.0)
    coef: float = param(1.0, ge=0.0, le=2.0)


@dataclass(frozen=True)
class IndicatorAssessment(Config):
    """考核系数 from the performance indicators (:mod:`drgdip.budget.indicators`, domain §10).

    ``weights``: indicator → weight. On each, a hospital earns ``weight × (n − rank) / (n − 1)``
    with its rank among the n hospitals of its level that have the indicator (1 = best; ties share the
    better rank; all of it when it is alone). The score is 100 × earned ÷ the weights of the
    indicators it has. ``bands``: the first band (highest ``min_score`` first) the score reaches gives
    the coefficient; the last must start at 0. Hospitals listed in ``assessment_by_hospital`` (or with
    an ``assessment_coef`` in the hospitals table) keep that coefficient.
    """

    weights: Mapping[str, float] = param(default_factory=FrozenDict, ge=0.0)
    bands: tuple[ScoreBand, ...] = ()

    def check(self) -> None:
        from drgdip.budget.indicators import INDICATORS

        ranked = sorted(name for name, better in INDICATORS.items() if better is not None)
        for name in self.weights:
            require(name in ranked, f"weights.{name}",
                    f"is not an indicator with a better direction (one of {', '.join(ranked)})")
        if not self.weights:
            require(not self.bands, "weights", "give the indicators' weights for the score bands")
            return
        require(sum(self.weights.values()) > 0, "weights", "at least one weight must be positive")
        require(len(self.bands) > 0, "bands", "needs at least one band ({min_score, coef})")
        scores = [b.min_score for b in self.bands]
        require(all(b < a for a, b in zip(scores, scores[1:])), "bands",
                f"min_score must fall from band to band, got {scores}")
        require(scores[-1] == 0, f"bands[{len(scores) - 1}].min_score", "the last band must start at 0")


@dataclass(frozen=True)
class SettlementRules(Config):
    """Hospital annual amount, monthly prepayment and year-end clearing (§6.3–6.6).

    fund due_h = distributed money × ``assessment_coef`` (考核系数; per hospital in
    ``assessment_by_hospital`` or a hospitals-table column ``assessment_coef``, or from the
    performance indicators by ``assessment_indicators``) − audit deductions.
    Monthly prepayment at the budget point value × ``monthly_pay_ratio`` (the rest is the quality
    deposit 质量保证金, ``quality_deposit``: when given, it must equal 1 − monthly_pay_ratio).
    A revolving fund of ``prepay_fund_months`` months of the hospital's fund (预付金) is recovered
    at clearing. ``overspend_within_reserve``: overspend sharing is scaled down to what the reserve holds.
    ``drg_exclude_los``: stays paid outside the points by their length of stay (:class:`LosExclusion`).
    ``rounding``: how money is rounded to the fen — ``half_up`` (四舍五入, half a fen away from zero,
    as settlement systems do) or ``half_even``; input yuan are rounded on their decimal value
    (1.005 yuan → 101 fen half up, 100 half to even; :mod:`drgdip.budget.money`).
    """

    assessment_coef: float = param(1.0, ge=0.0, le=2.0)
    assessment_by_hospital: Mapping[str, float] = param(default_factory=FrozenDict, ge=0.0, le=2.0)
    assessment_indicators: IndicatorAssessment = field(default_factory=IndicatorAssessment)
    monthly_pay_ratio: float = param(0.9, ge=0.0, le=1.0)
    quality_deposit: float | None = param(None, ge=0.0, le=1.0)
    prepay_fund_months: float = param(0.0, ge=0.0, le=12.0)
    surplus: SurplusRules = field(default_factory=SurplusRules)
    overspend: OverspendRules = field(default_factory=OverspendRules)
    overspend_within_reserve: bool = True
    drg_exclude_los: LosExclusion = field(default_factory=LosExclusion)
    rounding: Literal["half_up", "half_even"] = "half_up"

    def check(self) -> None:
        if self.quality_deposit is not None:
            require(math.isclose(self.quality_deposit + self.monthly_pay_ratio, 1.0, abs_tol=1e-9),
                    "quality_deposit", f"must equal 1 − monthly_pay_ratio ({1 - self.monthly_pay_ratio:.4g}), "
                                       f"got {self.quality_deposit}")


# -------------------------------------------------------------------------------------- day care

@dataclass(frozen=True)
class DayCategory(Config):
    """One day-care category (日间手术 / 日间化疗 / 中医日间): eligibility and payment method (§8).

    ``payment``: ``points`` (DRG/DIP points of the group), ``value`` (按价值: points = total cost ×
    ``value_factor`` ÷ reference point value; the seed leaves the term undefined, §14), ``bed_day``
    (``daily_std`` yuan per day of stay), ``ffs`` (fee-for-service). Stays at hospitals below
    ``min_hospital_level`` are not eligible and are paid as ordinary inpatient stays.
    """

    enabled: bool = True
    payment: Literal["points", "value", "bed_day", "ffs"] = "points"
    min_hospital_level: int = param(1, ge=1, le=3)
    value_factor: float = param(1.0, gt=0.0, le=10.0)
    daily_std: float | None = param(None, gt=0.0)

    def check(self) -> None:
        if self.payment == "bed_day":
            require(self.daily_std is not None, "daily_std", "is required when payment is 'bed_day' (yuan per day)")


@dataclass(frozen=True)
class DayFees(Config):
    """Fixed per-session-day fees of the oncology day ward by hospital level (yuan) [JN]."""

    bed: float = param(0.0, ge=0.0)
    nursing: float = param(0.0, ge=0.0)
    consult: float = param(0.0, ge=0.0)

    @property
    def total(self) -> float:
        return self.bed + self.nursing + self.consult


@dataclass(frozen=True)
class DayWardRules(Config):
    """Oncology day ward (肿瘤日间病房) [JN]: visits of one treatment period settled as one stay.

    Visits (care_type ``day_ward``) of one patient at one hospital form a period until
    ``period_max_days`` after its first visit (or by a ``treatment_period_id`` column when present).
    A chemotherapy session day carries ``fees[level]`` (bed + nursing + consultation);
    radiotherapy days (main procedure starting with one of ``radiotherapy_procs``) carry none.
    ``payment``: ``ffs`` pays the period's fund; ``quota_minus_fee`` pays the quota (定额) of the
    period's group minus (``ward_fees[level]`` − ``fees[level]``) × session days, times the period's
    fund ratio [JN]; ``points`` pays the period's points.

    A quota is a fixed amount per group and hospital level: ``quotas: {group: {level: yuan}}`` (the
    period's DIP group when the stays carry one, else its DRG). A period whose group and level have
    no quota is paid by ``quota_fallback``: ``ffs`` (fee-for-service, as [JN] pays diseases without a
    fixed amount) or ``group_points`` (the old reading, which is not a 定额: the period's own case
    points × the reference point value, so a one-visit period gets a small "quota").
    """

    enabled: bool = False
    period_max_days: int = param(90, ge=1, le=92)
    min_hospital_level: int = param(2, ge=1, le=3)
    fees: Mapping[int, DayFees] = field(default_factory=lambda: FrozenDict({
        3: DayFees(20.0, 19.0, 13.0), 2: DayFees(17.0, 16.0, 11.0)}))
    ward_fees: Mapping[int, DayFees] = field(default_factory=FrozenDict)
    payment: Literal["ffs", "quota_minus_fee", "points"] = "ffs"
    quotas: Mapping[str, Mapping[int, float]] = param(default_factory=FrozenDict, ge=0.0)
    quota_fallback: Literal["ffs", "group_points"] = "ffs"
    radiotherapy_procs: tuple[str, ...] = ("92.2", "92.3", "92.4")

    def check(self) -> None:
        if self.payment == "quota_minus_fee":
            missing = sorted(set(self.fees) - set(self.ward_fees))
            require(not missing, "ward_fees", f"needs the normal-ward fees of levels {missing} "
                                              f"when payment is 'quota_minus_fee'")
            require(bool(self.quotas) or self.quota_fallback == "group_points", "quotas",
                    "payment 'quota_minus_fee' needs the quota (定额) of each group, {group: {level: yuan}}, "
                    "or quota_fallback: group_points (case points × reference point value)")


@dataclass(frozen=True)
class PreopMerge(Config):
    """Pre-operative outpatient costs merged into the stay (术前门诊费用并入) [YB, PZH].

    Bills of the same patient at the same hospital dated in [admit − ``days``, admit) are added to the
    stay's total cost (and to its fund share at the stay's fund ratio). ``require_related``: only bills
    whose ``related_case_id`` names the stay.
    """

    enabled: bool = False
    days: int = param(14, ge=1, le=60)
    require_related: bool = True
    care_types: tuple[Literal["inpatient", "day_surgery", "day_chemo", "tcm_day", "day_ward"], ...] = \
        ("day_surgery",)


@dataclass(frozen=True)
class DayCareRules(Config):
    """Day care (日间医疗) rules applied before points (§8).

    A day surgery / chemotherapy stay is valid within ``window_h`` hours of admission, tolerated up to
    ``extended_h`` (flagged; with ``extended_needs_flag`` only when a ``day_exception`` column is
    true); longer stays become ordinary inpatient stays and, with ``merge_converted``, are merged with
    a ward stay of the same patient and hospital admitted within ``link_gap_h`` hours of the day
    stay's discharge. ``no_procedure``: day surgery registered but not operated → ``outpatient``
    (outside inpatient settlement, [YB]) or ``keep``. Non-points payments are turned into points at
    ``reference_point_value`` (null: the budget point value) when ``in_pool`` (cleared inside the
    point pool [PZH]); otherwise they are paid in yuan before the pool is shared out.
    """

    enabled: bool = True
    window_h: float = param(24.0, gt=0.0, le=72.0)
    extended_h: float = param(48.0, gt=0.0, le=168.0)
    extended_needs_flag: bool = False
    no_procedure: Literal["keep", "outpatient"] = "keep"
    merge_converted: bool = True
    link_gap_h: float = param(24.0, ge=0.0, le=168.0)
    in_pool: bool = True
    reference_point_value: float | None = param(None, gt=0.0)
    preop_merge: PreopMerge = field(default_factory=PreopMerge)
    day_surgery: DayCategory = field(default_factory=DayCategory)
    day_chemo: DayCategory = field(default_factory=DayCategory)
    tcm_day: DayCategory = field(default_factory=DayCategory)
    day_ward: DayWardRules = field(default_factory=DayWardRules)

    def check(self) -> None:
        require(self.extended_h >= self.window_h, "extended_h",
                f"must be at least window_h ({self.window_h}), got {self.extended_h}")


# ---------------------------------------------------------------------------------------- remote

@dataclass(frozen=True)
class RemotePoolRules(Config):
    """In-province remote stays (省内异地就医) in the treatment location's budget (§7, [REM]).

    Remote stays are grouped and paid at the treatment location; their points carry
    ``points.remote.remote_coef``. ``pool``: ``common`` (one point value with local stays) or
    ``separate`` (own budget and point value: the separate payment standard). ``budget_method``:
    ``included`` (the budget method's figures already contain the remote money), ``amount``
    (``amount`` yuan added) or ``actual_fund`` (the remote stays' fund × ``actual_fund_factor``
    added; the budget method then counts local stays only). Stays insured in another province are
    outside the budget (status ``out_of_scope:cross_province``).
    """

    pool: Literal["common", "separate"] = "common"
    budget_method: Literal["included", "amount", "actual_fund"] = "included"
    amount: YuanByRegion | None = param(None, ge=0.0)
    actual_fund_factor: float = param(1.0, gt=0.0, le=10.0)

    def check(self) -> None:
        if self.budget_method == "amount":
            require(self.amount is not None, "amount", "is required when budget_method is 'amount'")


# ---------------------------------------------------------------------------------------- policy

@dataclass(frozen=True)
class Policy(Config):
    """A whole budget and settlement policy (one pooling region and year).

    Top-level keys: ``name`` and ``region`` (descriptive), ``year`` (settlement year; null = the
    latest year in the input), ``pooling`` (``region``: every treatment region is a pooling area with
    its own budget; ``province``: one area per province prefix), ``regions`` (treatment regions
    settled; empty = all, stays treated elsewhere get status ``out_of_scope:region``), and the
    sections ``points``, ``budget``, ``point_value``, ``settlement``, ``day_care``, ``remote_pool``.
    """

    name: str = ""
    region: str | None = None
    year: int | None = param(None, ge=1990, le=2100)
    pooling: Literal["region", "province"] = "region"
    regions: tuple[str, ...] = ()
    points: PointsPolicy = field(default_factory=PointsPolicy)
    budget: BudgetRules = field(default_factory=BudgetRules)
    point_value: PointValueRules = field(default_factory=PointValueRules)
    settlement: SettlementRules = field(default_factory=SettlementRules)
    day_care: DayCareRules = field(default_factory=DayCareRules)
    remote_pool: RemotePoolRules = field(default_factory=RemotePoolRules)
    source: str = field(default="", init=False, compare=False)

    def check(self) -> None:
        if self.budget.split == "shares":
            require(self.point_value.by_insurance_type, "budget.split",
                    "'shares' splits the budget by insurance type, so point_value.by_insurance_type "
                    "must be true")
            require(not (self.remote_pool.pool == "separate" and self.remote_pool.budget_method == "included"),
                    "budget.split", "'shares' cannot size a separate remote pool whose money is included in "
                                    "the budget; use split actual_fund or give remote_pool.budget_method "
                                    "amount / actual_fund")

    @property
    def scheme(self) -> str:
        """Payment method: ``drg_points``, ``drg_rate`` or ``dip`` (from ``points.scheme``)."""
        return self.points.scheme

    @property
    def budget_year_weights(self) -> tuple[float, ...]:
        """Year weights (oldest → latest) of the budget point value."""
        return self.point_value.year_weights or self.points.calibration.year_weights


def policy_from_mapping(data, file: str | None = None) -> Policy:
    """Build a :class:`Policy` from a parsed YAML mapping; errors name ``file`` and the key path."""
    try:
        policy = build(Policy, data)
    except ConfigError as error:
        raise (error.with_file(file) if file is not None else error) from None
    if file is not None:
        object.__setattr__(policy, "source", str(file))
    return policy


def load_policy(path) -> Policy:
    """Read a policy YAML file (``yaml.safe_load``; a key given twice is an error) into a validated
    :class:`Policy`."""
    data = read_yaml(path, what="policy")
    if data is None:
        raise ConfigError("the policy file is empty", file=str(path))
    return policy_from_mapping(data, file=str(path))
