"""Realism knobs of the synthetic province (合成省份参数), one named and documented field each.

Every rate, share and multiplier that shapes the generated data lives here with a sensible default,
so that a study can state exactly what its synthetic data assumed. Levels are indexed 1, 2, 3
(一级, 二级, 三级 hospitals); tuples indexed by level are written ``(level 1, level 2, level 3)``.
Each field declares its range; a value outside it, or an inconsistent combination, raises
:class:`~drgdip.core.errors.ConfigError` naming the parameter and what is allowed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from drgdip.core.config import Config, build, param, require
from drgdip.core.errors import ConfigError


@dataclass(frozen=True)
class SynthParams(Config):
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
    base_rate
        Base rate (费率) when costs follow a weight table (``generate_province(weights=...)``, ``drgdip
        synth --weights``): the mean cost of an ordinary stay of a DRG with RW 1 at a level-2 hospital in
        the first year; a DRG's level-2 mean is RW x base rate. The default, 9,000 yuan, goes with the
        shipped CHS-DRG 1.1 table (Linyi 2022): Linyi pays level-2 hospitals 9,651 yuan per RW for
        employees and 8,501 for residents, 8,984 at the default ``employee_share``. The ``base_cost_*``
        medians apply only without a table.
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
    casemix_zipf_exponent: float = param(1.0, ge=0.0)
    casemix_cost_exponent: float = param(0.3, ge=0.0)
    special_mdc_frequency_factor: float = param(0.15, ge=0.0)
    casemix_level_tilt: tuple[float, float, float] = (0.8, 0.3, 0.0)
    core_pool_size: int = param(64, ge=1)
    mcc_rate: float = param(0.10, ge=0.0, le=1.0)
    cc_rate: float = param(0.22, ge=0.0, le=1.0)
    excluded_cc_rate: float = param(0.03, ge=0.0, le=1.0)
    day_case_severity_factor: float = param(0.3, ge=0.0, le=1.0)
    secondary_dx_mean: float = param(2.0, ge=0.0)
    extra_proc_mean: float = param(0.6, ge=0.0)
    # costs
    base_cost_medical: float = param(7000.0, gt=0.0)
    base_cost_surgical: float = param(22000.0, gt=0.0)
    base_cost_premdc: float = param(150000.0, gt=0.0)
    base_cost_sigma: float = param(0.5, ge=0.0)
    base_rate: float = param(9000.0, gt=0.0)
    severity_cost_multipliers: tuple[float, float, float] = param((1.0, 1.3, 1.8), gt=0.0)
    level_cost_multipliers: tuple[float, float, float] = param((0.75, 1.0, 1.3), gt=0.0)
    hospital_cost_sigma: float = param(0.08, ge=0.0)
    case_cost_sigma: float = param(0.35, ge=0.0)
    low_outlier_share: float = param(0.03, ge=0.0, le=1.0)
    low_outlier_range: tuple[float, float] = param((0.15, 0.45), ge=0.0, lt=1.0)
    high_outlier_share: float = param(0.02, ge=0.0, le=1.0)
    high_outlier_range: tuple[float, float] = param((2.2, 6.0), ge=1.0)
    cost_growth: float = param(0.05, gt=-0.5, lt=1.0)
    volume_growth: float = param(0.03, gt=-0.5, lt=1.0)
    drug_share_mean: float = param(0.30, ge=0.0, le=1.0)
    consumable_share_medical: float = param(0.10, ge=0.0, le=1.0)
    consumable_share_surgical: float = param(0.30, ge=0.0, le=1.0)
    # length of stay and care types
    los_median_medical: float = param(7.0, gt=0.0)
    los_median_surgical: float = param(10.0, gt=0.0)
    los_sigma: float = param(0.45, ge=0.0)
    los_cost_correlation: float = param(0.6, ge=0.0, le=1.0)
    day_surgery_share: float = param(0.06, ge=0.0, le=1.0)
    day_chemo_share: float = param(0.03, ge=0.0, le=1.0)
    tcm_day_share: float = param(0.01, ge=0.0, le=1.0)
    day_ward_share: float = param(0.01, ge=0.0, le=1.0)
    psych_long_stay_share: float = param(0.01, ge=0.0, le=1.0)
    day_surgery_window_shares: tuple[float, float, float] = param((0.90, 0.07, 0.03), ge=0.0, le=1.0)
    day_chemo_window_shares: tuple[float, float, float] = param((0.97, 0.03, 0.0), ge=0.0, le=1.0)
    day_surgery_cost_factor: float = param(0.7, gt=0.0)
    day_chemo_cost_factor: float = param(0.45, gt=0.0)
    day_ward_intervals: tuple[int, ...] = param((1, 2, 3, 7), ge=1)
    day_ward_interval_shares: tuple[float, ...] = param((0.15, 0.15, 0.2, 0.5), ge=0.0)
    psych_long_stay_los: tuple[int, int] = param((30, 180), ge=1)
    tcm_day_days: tuple[int, int] = param((5, 14), ge=1)
    day_ward_period_days: tuple[int, int] = param((28, 90), ge=1)
    tcm_daily_cost: float = param(260.0, gt=0.0)
    day_ward_visit_cost: float = param(2800.0, gt=0.0)
    psych_daily_cost: float = param(380.0, gt=0.0)
    monthly_volume: tuple[float, ...] = param(
        (1.0, 0.8, 1.05, 1.0, 1.0, 1.0, 1.05, 1.05, 1.0, 0.9, 1.05, 1.05), ge=0.0)
    adult_age_mean: float = param(58.0, gt=0.0)
    adult_age_sd: float = param(17.0, ge=0.0)
    child_share: float = param(0.07, ge=0.0, le=1.0)
    # hospitals, regions, insurance
    hospital_level_shares: tuple[float, float, float] = param((0.40, 0.45, 0.15), ge=0.0, le=1.0)
    level_beds: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] = param(
        ((30, 150), (200, 800), (800, 3000)), ge=1)
    tcm_hospital_share: float = param(0.10, ge=0.0, le=1.0)
    psychiatric_hospital_share: float = param(0.05, ge=0.0, le=1.0)
    region_size_exponent: float = param(0.7, ge=0.0)
    remote_share: float = param(0.15, ge=0.0, le=1.0)
    remote_level_weights: tuple[float, float, float] = param((0.3, 1.0, 2.5), ge=0.0)
    employee_share: float = param(0.42, ge=0.0, le=1.0)
    fund_share_employee: float = param(0.80, ge=0.0, le=1.0)
    fund_share_resident: float = param(0.62, ge=0.0, le=1.0)
    fund_share_level_adjust: tuple[float, float, float] = (0.05, 0.0, -0.05)
    region_fund_share_sd: float = param(0.02, ge=0.0)
    remote_fund_share_adjust: float = -0.05
    out_of_scope_share_mean: float = param(0.06, ge=0.0, le=1.0)
    # patients, outpatient, quality
    repeat_patient_share: float = param(0.25, ge=0.0, le=1.0)
    preop_visit_share_day_surgery: float = param(0.7, ge=0.0, le=1.0)
    preop_visit_share_surgical: float = param(0.3, ge=0.0, le=1.0)
    preop_window_days: int = param(14, ge=1)
    preop_visits_max: int = param(3, ge=1)
    unrelated_visits_per_case: float = param(0.3, ge=0.0)
    outpatient_cost_median: float = param(350.0, gt=0.0)
    death_rates: tuple[float, float, float] = param((0.003, 0.012, 0.05), ge=0.0, le=1.0)
    transfer_rate: float = param(0.02, ge=0.0, le=1.0)
    against_advice_rate: float = param(0.03, ge=0.0, le=1.0)
    community_rate: float = param(0.01, ge=0.0, le=1.0)
    other_leaving_rate: float = param(0.005, ge=0.0, le=1.0)
    invalid_share: float = param(0.005, ge=0.0, le=1.0)
    redraw_rounds: int = param(4, ge=1)

    def check(self) -> None:
        require(self.mcc_rate + self.cc_rate + self.excluded_cc_rate <= 1, "cc_rate",
                "mcc_rate + cc_rate + excluded_cc_rate must not exceed 1")
        care = (self.day_surgery_share + self.day_chemo_share + self.tcm_day_share + self.day_ward_share
                + self.psych_long_stay_share)
        require(care <= 1, "day_surgery_share", f"the care-type shares add up to {care:.3f} > 1")
        require(self.low_outlier_share + self.high_outlier_share <= 1, "low_outlier_share",
                "low_outlier_share + high_outlier_share must not exceed 1")
        require(self.tcm_hospital_share + self.psychiatric_hospital_share <= 1, "tcm_hospital_share",
                "tcm_hospital_share + psychiatric_hospital_share must not exceed 1")
        leaving = self.transfer_rate + self.against_advice_rate + self.community_rate + self.other_leaving_rate
        require(leaving + max(self.death_rates) <= 1, "transfer_rate",
                "leaving-type rates plus the highest death rate must not exceed 1")
        require(sum(self.remote_level_weights) > 0, "remote_level_weights", "must not be all zero")
        for name in ("hospital_level_shares", "day_surgery_window_shares", "day_chemo_window_shares",
                     "day_ward_interval_shares"):
            require(abs(sum(getattr(self, name)) - 1.0) <= 1e-9, name, f"must add up to 1, got {getattr(self, name)}")
        require(len(self.monthly_volume) == 12 and sum(self.monthly_volume) > 0, "monthly_volume",
                f"must hold 12 non-negative weights, not all zero, got {self.monthly_volume}")
        require(len(self.day_ward_intervals) > 0, "day_ward_intervals", "must hold at least one interval (days)")
        require(len(self.day_ward_interval_shares) == len(self.day_ward_intervals), "day_ward_interval_shares",
                f"must hold one share per day_ward_intervals entry ({len(self.day_ward_intervals)}), "
                f"got {self.day_ward_interval_shares}")
        for name in ("low_outlier_range", "high_outlier_range", "psych_long_stay_los", "tcm_day_days",
                     "day_ward_period_days"):
            low, high = getattr(self, name)
            require(low <= high, name, f"must be (low, high) with low <= high, got {getattr(self, name)}")
        for level, (low, high) in enumerate(self.level_beds):
            require(low <= high, f"level_beds[{level}]", f"must be (low, high) with low <= high, got {(low, high)}")
        for typ, base in (("employee", self.fund_share_employee), ("resident", self.fund_share_resident)):
            for adjust in self.fund_share_level_adjust:
                share = base + adjust + self.remote_fund_share_adjust
                require(0.0 <= share <= 1.0 and 0.0 <= base + adjust <= 1.0, "fund_share_level_adjust",
                        f"fund share of {typ} stays leaves [0, 1] ({base} + {adjust})")

    @classmethod
    def from_mapping(cls, mapping: Any, *, file: str | None = None) -> "SynthParams":
        """Parameters from a parsed mapping (e.g. a YAML file); errors name ``file`` and the parameter."""
        try:
            return build(cls, mapping)
        except ConfigError as error:
            raise (error.with_file(file) if file is not None else error) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (tuples as lists) for a JSON record of the run."""
        return {k: _plain(v) for k, v in asdict(self).items()}


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
