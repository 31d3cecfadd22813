"""Realism knobs of the synthetic province (合成省份参数), one named and documented field each.

Every rate, share and multiplier that shapes the generated data lives here with a sensible default,
so that a study can state exactly what its synthetic data assumed. Levels are indexed 1, 2, 3
(一级, 二级, 三级 hospitals); tuples indexed by level are written ``(level 1, level 2, level 3)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


class SynthParamsError(ValueError):
    """A parameter is out of range; the message names the field and the allowed values."""


@dataclass(frozen=True)
class SynthParams:
    """Parameters of :func:`drgdip.synth.generate_province`.

    Case mix
    --------
    casemix_zipf_exponent
        ADRG frequencies follow a Zipf law ``1 / rank**s`` over a random ranking of the scheme's ADRGs
        (long tail: a few very common groups, many rare ones).
    casemix_cost_exponent
        ADRG frequency also falls with cost: weights are multiplied by ``(cost / median)**-e``.
    special_mdc_frequency_factor
        Weight multiplier for ADRGs of MDCs entered by procedure, age or multiple trauma (pre-MDC
        transplants and ventilation, newborns, multiple major trauma), which are rare in practice.
    casemix_level_tilt
        Per hospital level (1, 2, 3): case-mix weights are multiplied by ``base_cost**-tilt`` so that
        lower-level hospitals treat cheaper, simpler groups (level 3 has the highest CMI).
    core_pool_size
        Candidate code combinations (principal diagnosis, procedures) drawn per ADRG and care class
        before verification with the grouper; only those that group to the ADRG are used.
    mcc_rate, cc_rate
        Share of ordinary inpatient stays whose secondary diagnoses hold a major complication (MCC,
        严重并发症或合并症) / a complication (CC, 并发症或合并症) but no MCC, not excluded by the
        principal diagnosis.
    excluded_cc_rate
        Share of stays that carry a CC/MCC code excluded by the principal diagnosis (排除表); it does not
        count for the DRG split.
    day_case_severity_factor
        Multiplier on ``mcc_rate``/``cc_rate`` for day-care stays (day patients are low-risk).
    secondary_dx_mean, extra_proc_mean
        Poisson means of neutral secondary diagnoses (common comorbidities) and of extra non-operating
        procedures (imaging, injections) per stay.

    Costs (yuan, 元)
    ----------------
    base_cost_medical, base_cost_surgical, base_cost_premdc
        Median cost of an ADRG at a level-2 hospital in the first year, by ADRG kind (medical:
        principal-diagnosis rule; surgical: procedure rule; pre-MDC: transplants, long ventilation).
    base_cost_sigma
        Log-sd of ADRG median costs around their kind's median.
    severity_cost_multipliers
        Cost multiplier for stays without complication, with CC, with MCC.
    level_cost_multipliers
        Cost multiplier by hospital level (1, 2, 3); level 3 dearer than 2 than 1.
    hospital_cost_sigma
        Log-sd of a hospital's own cost level around its level's.
    case_cost_sigma
        Log-sd of a stay's cost within its group (lognormal costs per DRG).
    low_outlier_share, low_outlier_range
        Share of stays whose cost is multiplied by a uniform factor in the range (费用超低 cases).
    high_outlier_share, high_outlier_range
        Share of stays whose cost is multiplied by a uniform factor in the range (费用超高 cases).
    cost_growth
        Year-on-year growth of costs (first year = 1).
    volume_growth
        Year-on-year growth of the number of stays.
    drug_share_mean, consumable_share_medical, consumable_share_surgical
        Mean drug share of total cost and mean consumable share (medical / surgical groups).

    Length of stay and care types (日间医疗)
    ---------------------------------------
    los_median_medical, los_median_surgical
        Median length of stay (days) of an ADRG's ordinary stays, by kind.
    los_sigma
        Log-sd of a stay's LOS within its group.
    los_cost_correlation
        Correlation between a stay's log cost and log LOS.
    day_surgery_share, day_chemo_share, tcm_day_share, day_ward_share, psych_long_stay_share
        Share of all stays that are day surgery (日间手术), day chemotherapy (日间化疗), TCM day care
        (中医日间), oncology day-ward treatment periods (肿瘤日间病房) and psychiatric long stays for
        bed-day payment (精神类长期住院, 按床日付费). A care type that the scheme or the hospitals
        cannot support becomes ordinary inpatient care.
    day_surgery_window_shares, day_chemo_window_shares
        Shares of day surgeries / day chemotherapies lasting < 24 h, 24-48 h and > 48 h (stays over
        48 h must be converted to ordinary stays by the settlement rules).
    day_surgery_cost_factor, day_chemo_cost_factor
        Cost of a day surgery / one day-chemotherapy session relative to an ordinary stay of the
        same group.
    day_ward_intervals, day_ward_interval_shares
        Days between oncology day-ward sessions of a treatment plan (daily, alternate days, ...)
        and how often each plan occurs.
    psych_long_stay_los
        Range (days) of psychiatric long stays.
    tcm_day_days
        Range of treatment days of a TCM day-care stay (patient goes home every day).
    day_ward_period_days
        Range of the length (days) of an oncology day-ward treatment period (1-3 months).
    tcm_daily_cost, day_ward_visit_cost, psych_daily_cost
        Median cost of one TCM day, one day-ward visit and one psychiatric bed-day at level 2.

    Hospitals, regions and insurance
    --------------------------------
    hospital_level_shares
        Share of hospitals of level 1, 2, 3 (at least one level-3 hospital).
    level_beds
        Ranges of beds per level (1, 2, 3); stays are allocated in proportion to beds.
    tcm_hospital_share, psychiatric_hospital_share
        Share of hospitals that are TCM hospitals (中医院) and psychiatric hospitals (精神专科).
    monthly_volume
        Relative number of discharges in each calendar month (Spring Festival dip in February).
    adult_age_mean, adult_age_sd, child_share
        Age distribution of adult stays (normal, clipped to 18-100) and the share of children
        aged 1-17 among stays that are neither newborn nor pregnancy stays.
    region_size_exponent
        Region populations follow ``1 / rank**e``; the first region is the capital city.
    remote_share
        Share of stays by patients insured in another city of the province (省内异地), 10-20 % in
        practice.
    remote_level_weights
        Relative chance of a remote patient at hospital levels 1, 2, 3 (they seek level-3 care).
    employee_share
        Share of stays of employee-insured patients (职工医保); the rest are residents (居民医保).
    fund_share_employee, fund_share_resident
        Share of total cost paid by the pooled fund (统筹基金) at a level-2 hospital.
    fund_share_level_adjust
        Added to the fund share by hospital level (1, 2, 3): lower levels reimburse more.
    region_fund_share_sd
        Standard deviation of each insured region's own deviation of the fund share (benefits follow
        the insured region's policy).
    remote_fund_share_adjust
        Added to the fund share of in-province remote stays.
    out_of_scope_share_mean
        Mean share of cost outside the insurance catalogue (自费); the rest not paid by the fund is
        the in-scope self-payment (自付).

    Patients, outpatient visits, data quality
    -----------------------------------------
    repeat_patient_share
        Approximate share of stays that belong to patients with several stays (readmissions, cycles).
    preop_visit_share_day_surgery, preop_visit_share_surgical
        Share of day-surgery / surgical inpatient stays with pre-operative outpatient visits at the
        same hospital within ``preop_window_days`` before admission (related_case_id filled).
    preop_window_days
        The pre-operative merge window (days before admission).
    preop_visits_max
        At most this many pre-operative visits per stay (at least one).
    unrelated_visits_per_case
        Unrelated outpatient visits generated per stay.
    outpatient_cost_median
        Median cost of an outpatient visit.
    death_rates
        In-hospital death rate (leaving type 5) without complication, with CC, with MCC.
    transfer_rate, against_advice_rate, community_rate, other_leaving_rate
        Rates of leaving types 2 (transfer), 4 (against advice), 3 (to community care), 9 (other).
    invalid_share
        Share of stays with deliberately invalid demographic input; the grouper must give them the
        documented ``invalid_input:<reason>`` statuses.
    redraw_rounds
        Bounded number of re-draw rounds for stays that do not group to their target ADRG.
    """

    # case mix
    casemix_zipf_exponent: float = 1.0
    casemix_cost_exponent: float = 0.3
    special_mdc_frequency_factor: float = 0.15
    casemix_level_tilt: tuple[float, float, float] = (0.8, 0.3, 0.0)
    core_pool_size: int = 64
    mcc_rate: float = 0.10
    cc_rate: float = 0.22
    excluded_cc_rate: float = 0.03
    day_case_severity_factor: float = 0.3
    secondary_dx_mean: float = 2.0
    extra_proc_mean: float = 0.6
    # costs
    base_cost_medical: float = 7000.0
    base_cost_surgical: float = 22000.0
    base_cost_premdc: float = 150000.0
    base_cost_sigma: float = 0.5
    severity_cost_multipliers: tuple[float, float, float] = (1.0, 1.3, 1.8)
    level_cost_multipliers: tuple[float, float, float] = (0.75, 1.0, 1.3)
    hospital_cost_sigma: float = 0.08
    case_cost_sigma: float = 0.35
    low_outlier_share: float = 0.03
    low_outlier_range: tuple[float, float] = (0.15, 0.45)
    high_outlier_share: float = 0.02
    high_outlier_range: tuple[float, float] = (2.2, 6.0)
    cost_growth: float = 0.05
    volume_growth: float = 0.03
    drug_share_mean: float = 0.30
    consumable_share_medical: float = 0.10
    consumable_share_surgical: float = 0.30
    # length of stay and care types
    los_median_medical: float = 7.0
    los_median_surgical: float = 10.0
    los_sigma: float = 0.45
    los_cost_correlation: float = 0.6
    day_surgery_share: float = 0.06
    day_chemo_share: float = 0.03
    tcm_day_share: float = 0.01
    day_ward_share: float = 0.01
    psych_long_stay_share: float = 0.01
    day_surgery_window_shares: tuple[float, float, float] = (0.90, 0.07, 0.03)
    day_chemo_window_shares: tuple[float, float, float] = (0.97, 0.03, 0.0)
    day_surgery_cost_factor: float = 0.7
    day_chemo_cost_factor: float = 0.45
    day_ward_intervals: tuple[int, ...] = (1, 2, 3, 7)
    day_ward_interval_shares: tuple[float, ...] = (0.15, 0.15, 0.2, 0.5)
    psych_long_stay_los: tuple[int, int] = (30, 180)
    tcm_day_days: tuple[int, int] = (5, 14)
    day_ward_period_days: tuple[int, int] = (28, 90)
    tcm_daily_cost: float = 260.0
    day_ward_visit_cost: float = 2800.0
    psych_daily_cost: float = 380.0
    monthly_volume: tuple[float, ...] = (1.0, 0.8, 1.05, 1.0, 1.0, 1.0, 1.05, 1.05, 1.0, 0.9, 1.05, 1.05)
    adult_age_mean: float = 58.0
    adult_age_sd: float = 17.0
    child_share: float = 0.07
    # hospitals, regions, insurance
    hospital_level_shares: tuple[float, float, float] = (0.40, 0.45, 0.15)
    level_beds: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] = (
        (30, 150), (200, 800), (800, 3000))
    tcm_hospital_share: float = 0.10
    psychiatric_hospital_share: float = 0.05
    region_size_exponent: float = 0.7
    remote_share: float = 0.15
    remote_level_weights: tuple[float, float, float] = (0.3, 1.0, 2.5)
    employee_share: float = 0.42
    fund_share_employee: float = 0.80
    fund_share_resident: float = 0.62
    fund_share_level_adjust: tuple[float, float, float] = (0.05, 0.0, -0.05)
    region_fund_share_sd: float = 0.02
    remote_fund_share_adjust: float = -0.05
    out_of_scope_share_mean: float = 0.06
    # patients, outpatient, quality
    repeat_patient_share: float = 0.25
    preop_visit_share_day_surgery: float = 0.7
    preop_visit_share_surgical: float = 0.3
    preop_window_days: int = 14
    preop_visits_max: int = 3
    unrelated_visits_per_case: float = 0.3
    outpatient_cost_median: float = 350.0
    death_rates: tuple[float, float, float] = (0.003, 0.012, 0.05)
    transfer_rate: float = 0.02
    against_advice_rate: float = 0.03
    community_rate: float = 0.01
    other_leaving_rate: float = 0.005
    invalid_share: float = 0.005
    redraw_rounds: int = 4

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_mapping(cls, mapping: dict, *, source: str = "parameters") -> "SynthParams":
        """Parameters from a mapping (e.g. a YAML file): unknown names are an error, lists become tuples."""
        if not isinstance(mapping, dict):
            raise SynthParamsError(f"{source}: expected a mapping of parameter names to values")
        known = set(field_names())
        unknown = sorted(str(k) for k in mapping if k not in known)
        if unknown:
            raise SynthParamsError(f"{source}: unknown parameter(s) {', '.join(unknown)} "
                                   f"(known: {', '.join(sorted(known))})")
        return cls(**{k: _tuples(v) for k, v in mapping.items()})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (tuples as lists) for a JSON record of the run."""
        return {k: _plain(v) for k, v in asdict(self).items()}


def _tuples(value):
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


_SHARES = (
    "mcc_rate", "cc_rate", "excluded_cc_rate", "day_case_severity_factor", "low_outlier_share",
    "high_outlier_share", "drug_share_mean", "consumable_share_medical", "consumable_share_surgical",
    "los_cost_correlation", "day_surgery_share", "day_chemo_share", "tcm_day_share", "day_ward_share",
    "psych_long_stay_share", "tcm_hospital_share", "psychiatric_hospital_share", "remote_share",
    "employee_share", "fund_share_employee", "fund_share_resident", "out_of_scope_share_mean",
    "repeat_patient_share", "child_share", "preop_visit_share_day_surgery", "preop_visit_share_surgical",
    "transfer_rate", "against_advice_rate", "community_rate", "other_leaving_rate", "invalid_share",
)
_NONNEGATIVE = (
    "casemix_zipf_exponent", "casemix_cost_exponent", "special_mdc_frequency_factor", "secondary_dx_mean", "extra_proc_mean", "base_cost_sigma",
    "hospital_cost_sigma", "case_cost_sigma", "los_sigma", "region_size_exponent",
    "region_fund_share_sd", "unrelated_visits_per_case", "adult_age_sd",
)
_POSITIVE = (
    "base_cost_medical", "base_cost_surgical", "base_cost_premdc", "los_median_medical",
    "los_median_surgical", "tcm_daily_cost", "day_ward_visit_cost", "psych_daily_cost",
    "outpatient_cost_median", "day_surgery_cost_factor", "day_chemo_cost_factor", "adult_age_mean",
)


def _fail(name: str, message: str):
    raise SynthParamsError(f"SynthParams.{name}: {message}")


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(name, f"must be a number, got {value!r}")
    if value != value:  # NaN
        _fail(name, "must not be NaN")
    return float(value)


def _tuple(name: str, value, length: int) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != length:
        _fail(name, f"must be a tuple of {length} values, got {value!r}")
    return tuple(value)


def _range(name: str, value, *, low: float, integer: bool = False) -> None:
    a, b = _tuple(name, value, 2)
    for v in (a, b):
        _number(name, v)
        if integer and int(v) != v:
            _fail(name, f"must hold integers, got {value!r}")
    if not low <= a <= b:
        _fail(name, f"must be (low, high) with {low} <= low <= high, got {value!r}")


def _validate(p: SynthParams) -> None:
    for name in _SHARES:
        v = _number(name, getattr(p, name))
        if not 0.0 <= v <= 1.0:
            _fail(name, f"must be in [0, 1], got {v}")
    for name in _NONNEGATIVE:
        if _number(name, getattr(p, name)) < 0:
            _fail(name, f"must be >= 0, got {getattr(p, name)}")
    for name in _POSITIVE:
        if _number(name, getattr(p, name)) <= 0:
            _fail(name, f"must be > 0, got {getattr(p, name)}")
    for name in ("cost_growth", "volume_growth"):
        if not -0.5 < _number(name, getattr(p, name)) < 1.0:
            _fail(name, f"must be in (-0.5, 1), got {getattr(p, name)}")
    for name in ("core_pool_size", "redraw_rounds", "preop_window_days", "preop_visits_max"):
        v = getattr(p, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            _fail(name, f"must be an integer >= 1, got {v!r}")
    if p.mcc_rate + p.cc_rate + p.excluded_cc_rate > 1:
        _fail("cc_rate", "mcc_rate + cc_rate + excluded_cc_rate must not exceed 1")
    care = (p.day_surgery_share + p.day_chemo_share + p.tcm_day_share + p.day_ward_share
            + p.psych_long_stay_share)
    if care > 1:
        _fail("day_surgery_share", f"the care-type shares add up to {care:.3f} > 1")
    if p.low_outlier_share + p.high_outlier_share > 1:
        _fail("low_outlier_share", "low_outlier_share + high_outlier_share must not exceed 1")
    if p.tcm_hospital_share + p.psychiatric_hospital_share > 1:
        _fail("tcm_hospital_share", "tcm_hospital_share + psychiatric_hospital_share must not exceed 1")
    leaving = p.transfer_rate + p.against_advice_rate + p.community_rate + p.other_leaving_rate
    if leaving + max(p.death_rates) > 1:
        _fail("transfer_rate", "leaving-type rates plus the highest death rate must not exceed 1")
    for name in ("casemix_level_tilt", "level_cost_multipliers", "severity_cost_multipliers",
                 "fund_share_level_adjust", "death_rates", "hospital_level_shares",
                 "day_surgery_window_shares"):
        for v in _tuple(name, getattr(p, name), 3):
            _number(name, v)
    for name in ("level_cost_multipliers", "severity_cost_multipliers"):
        if min(getattr(p, name)) <= 0:
            _fail(name, f"must be positive, got {getattr(p, name)}")
    for name in ("death_rates", "hospital_level_shares", "day_surgery_window_shares"):
        values = getattr(p, name)
        if min(values) < 0 or max(values) > 1:
            _fail(name, f"must hold values in [0, 1], got {values}")
    for name in ("day_chemo_window_shares", "remote_level_weights"):
        values = _tuple(name, getattr(p, name), 3)
        if min(_number(name, v) for v in values) < 0:
            _fail(name, f"must hold non-negative values, got {values}")
    if sum(p.remote_level_weights) <= 0:
        _fail("remote_level_weights", "must not be all zero")
    for name in ("hospital_level_shares", "day_surgery_window_shares", "day_chemo_window_shares",
                 "day_ward_interval_shares"):
        if abs(sum(getattr(p, name)) - 1.0) > 1e-9:
            _fail(name, f"must add up to 1, got {getattr(p, name)}")
    months = _tuple("monthly_volume", p.monthly_volume, 12)
    if min(_number("monthly_volume", v) for v in months) < 0 or sum(months) <= 0:
        _fail("monthly_volume", f"must hold 12 non-negative weights, not all zero, got {months}")
    intervals = _tuple("day_ward_intervals", p.day_ward_intervals, len(p.day_ward_intervals))
    if not intervals or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in intervals):
        _fail("day_ward_intervals", f"must hold whole days >= 1, got {intervals}")
    shares = _tuple("day_ward_interval_shares", p.day_ward_interval_shares, len(intervals))
    if min(_number("day_ward_interval_shares", v) for v in shares) < 0:
        _fail("day_ward_interval_shares", f"must be non-negative, got {shares}")
    _range("low_outlier_range", p.low_outlier_range, low=0.0)
    if p.low_outlier_range[1] >= 1:
        _fail("low_outlier_range", f"must lie below 1, got {p.low_outlier_range}")
    _range("high_outlier_range", p.high_outlier_range, low=1.0)
    _range("psych_long_stay_los", p.psych_long_stay_los, low=1, integer=True)
    _range("tcm_day_days", p.tcm_day_days, low=1, integer=True)
    _range("day_ward_period_days", p.day_ward_period_days, low=1, integer=True)
    for beds in _tuple("level_beds", p.level_beds, 3):
        _range("level_beds", beds, low=1, integer=True)
    for typ, base in (("employee", p.fund_share_employee), ("resident", p.fund_share_resident)):
        for adj in p.fund_share_level_adjust:
            share = base + adj + p.remote_fund_share_adjust
            if not 0.0 <= share <= 1.0 or not 0.0 <= base + adj <= 1.0:
                _fail("fund_share_level_adjust",
                      f"fund share of {typ} stays leaves [0, 1] ({base} + {adj})")


def field_names() -> list[str]:
    """Names of all parameters, in declaration order."""
    return [f.name for f in fields(SynthParams)]
