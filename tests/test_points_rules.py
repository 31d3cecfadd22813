"""The points policy dataclasses: defaults by scheme, validation messages, building from nested mappings."""

from __future__ import annotations

import math

import pytest
import yaml

from drgdip.pointvalue.rules import (BedDayPhase, BedDayRules, Calibration, DipBuildRules, HospitalCoefTable, OutlierRules,
                              PointsPolicy, Trim, points_policy_from_mapping)
from drgdip.core.errors import ConfigError


def test_scheme_dependent_defaults():
    dip = PointsPolicy(scheme="dip")
    assert dip.points_scale == 1000.0
    assert dip.outliers.high_formula == "dip1" and dip.outliers.outlier_reference == "standard"
    assert dip.special_review.special_quota == 0.005
    assert dip.low_bound == (0.5, False)
    drg = PointsPolicy(scheme="drg_points")
    assert drg.points_scale == 100.0
    assert drg.outliers.high_formula == "drg_tiered" and drg.outliers.outlier_reference == "group_mean"
    assert drg.special_review.special_quota == 0.05
    assert drg.low_bound == (0.4, True)
    explicit = PointsPolicy(scheme="dip", points_scale=100, outliers=OutlierRules(high_formula="jining"))
    assert explicit.points_scale == 100.0 and explicit.outliers.high_formula == "jining"
    assert Trim(method="sd").k == 3.0 and Trim(method="iqr").k == 1.5


def test_yaml_block_with_every_section():
    text = """
    scheme: dip
    points_scale: 1000
    calibration:
      year_weights: [2, 3, 5]
      year_weight_mode: case
      trim: {method: iqr, k: 3}
      score_method: base_disease
      base_group: K35.8:47.0100
      cv_ddof: 0
    outliers:
      outlier_reference: score_x_factor
      reference_factor: 9.5
      low_ratio: 0.4
      low_inclusive: true
      high_ratio: 2.5
      high_formula: review_only
      extreme_ratio: null
      drg_high_tiers: [[100, 3], [300, 2], [.inf, 1.5]]
      coefs_on_outliers: false
      blank_group: 0.4368
    hospital_coef:
      by_level: {3: 1.2, 2: 1.0, 1: 0.85}
      by_hospital: {H001: 1.3}
      basic_group_coef_mode: secondary_level
    remote: {remote_mode: coef, remote_coef: 0.95}
    special_review: {special_quota: 0.005, special_min_ratio: 2, quota_excess: rank}
    bed_day:
      bedday_phases: [[1, 30, 300, 0.8], [31, 60, 250, 0.6], {from_day: 61, to_day: 90, daily_std: 200, fund_share: 0.5}]
      groups: [MDCT]
    dip:
      core_threshold: 50
      comprehensive_fallback: [3, 2, 1]
      interventional_as: therapeutic
      aux: {aux_min_cases_group: 200, kinds: [death, severity]}
    """
    policy = points_policy_from_mapping(yaml.safe_load(text))
    assert policy.calibration.trim.k == 3.0 and policy.calibration.year_weights == (2.0, 3.0, 5.0)
    assert policy.outliers.extreme_ratio is None
    assert policy.outliers.drg_high_tiers[-1] == (math.inf, 1.5)
    assert policy.hospital_coef.level_coef(1) == 0.85 and policy.hospital_coef.by_hospital == {"H001": 1.3}
    assert policy.bed_day.bedday_phases[2] == BedDayPhase(61, 90, 200, 0.5)
    assert policy.dip.aux.kinds == ("death", "severity") and policy.dip.basic_group_min_cases == 50
    with pytest.raises(AttributeError):
        policy.scheme = "drg_points"  # frozen


@pytest.mark.parametrize("mapping, message", [
    ({"scheme": "fee_for_service"}, "points.scheme: 'fee_for_service' is not allowed; allowed: drg_points, drg_rate, dip"),
    ({"colour": 1}, "points.colour: unknown key; allowed keys here: scheme, scheme_version, points_scale, calibration,"),
    ({"outliers": {"low_ration": 0.4}}, "points.outliers.low_ration: unknown key (did you mean low_ratio?)"),
    ({"outliers": {"high_formula": "zhejiang"}},
     "points.outliers.high_formula: 'zhejiang' is not allowed; allowed: dip1, jining, review_only, drg_tiered (or null)"),
    ({"outliers": {"low_ratio": 1.5}}, "points.outliers.low_ratio: 1.5 is out of range; allowed: 0.0 <= value <= 1.0"),
    ({"outliers": {"low_ratio": 1.0, "high_ratio": 1.0}}, "points.outliers.low_ratio: must be below high_ratio"),
    ({"outliers": {"extreme_ratio": 1.5}}, "points.outliers.extreme_ratio: must be above high_ratio"),
    ({"outliers": {"drg_high_tiers": [[300, 2], [100, 3]]}}, "points.outliers.drg_high_tiers: max_base_points must increase"),
    ({"outliers": {"drg_high_tiers": [[100, 3]]}},
     "points.outliers.drg_high_tiers[0].max_base_points: the last tier must be open"),
    ({"outliers": {"drg_high_tiers": [[100, 3], [math.inf, 0.5]]}},
     "points.outliers.drg_high_tiers[1].ratio: 0.5 is out of range; allowed: 1 <= value"),
    ({"outliers": {"drg_high_tiers": [[100, 3, 4]]}}, "points.outliers.drg_high_tiers[0]: expected at most 2 values"),
    ({"outliers": {"outlier_reference": "score_x_factor"}}, "points.outliers.reference_factor: is required"),
    ({"outliers": {"coefs_on_outliers": "yes"}}, "points.outliers.coefs_on_outliers: expected true or false, got text 'yes'"),
    ({"calibration": {"year_weights": []}}, "points.calibration.year_weights: must be a non-empty list"),
    ({"calibration": {"year_weights": [1, -2]}},
     "points.calibration.year_weights[1]: -2.0 is out of range; allowed: 0.0 <= value"),
    ({"calibration": {"trim": {"method": "winsor"}}}, "points.calibration.trim.method: 'winsor' is not allowed"),
    ({"calibration": {"trim": {"lo": 90, "hi": 10}}}, "points.calibration.trim.lo: must be below hi"),
    ({"calibration": {"score_method": "base_disease"}}, "points.calibration.base_group: is required"),
    ({"calibration": {"cv_ddof": 2}}, "points.calibration.cv_ddof: 2 is out of range; allowed: 0 <= value <= 1"),
    ({"hospital_coef": {"by_level": {"three": 1.2}}},
     "points.hospital_coef.by_level.three: expected a whole number, got text 'three'"),
    ({"hospital_coef": {"by_level": {3: 0}}}, "points.hospital_coef.by_level.3: 0.0 is out of range; allowed: 0.0 < value"),
    ({"hospital_coef": {"by_level": {3: 1.2}, "basic_group_coef_mode": "secondary_level"}},
     "points.hospital_coef.secondary_level: level 2 has no coefficient"),
    ({"remote": {"remote_coef": -1}}, "points.remote.remote_coef: -1.0 is out of range; allowed: 0.0 < value"),
    ({"special_review": {"special_quota": 2}},
     "points.special_review.special_quota: 2.0 is out of range; allowed: 0.0 <= value <= 1.0 (or null)"),
    ({"bed_day": {"bedday_phases": [[1, 30, 300], [40, 60, 250]]}},
     "points.bed_day.bedday_phases[1].from_day: phases must be contiguous"),
    ({"bed_day": {"bedday_phases": [[2, 30, 300]]}},
     "points.bed_day.bedday_phases[0].from_day: the first phase must start on day 1"),
    ({"bed_day": {"bedday_phases": [[1, 30]]}}, "points.bed_day.bedday_phases[0].daily_std: missing required key"),
    ({"bed_day": {"groups": ["X"]}}, "points.bed_day.bedday_phases: bed-day groups are listed but no phases are given"),
    ({"bed_day": {"bedday_phases": [[1, 30, 300]], "acute_phase": "points"}},
     "points.bed_day.bedday_phases: acute_phase 'points' pays the first phase by the group's points"),
    ({"bed_day": {"acute_phase": "disease"}},
     "points.bed_day.acute_phase: 'disease' is not allowed; allowed: bed_day, points"),
    ({"bed_day": {"bedday_phases": [[1, 30, 300, 1.2]]}},
     "points.bed_day.bedday_phases[0].fund_share: 1.2 is out of range; allowed: 0.0 <= value <= 1.0"),
    ({"outliers": {"extreme_ratio": "never"}},
     "points.outliers.extreme_ratio: 'never' is not allowed; allowed: scheme_default"),
    ({"dip": {"comprehensive_fallback": [2, 3]}}, "points.dip.comprehensive_fallback: prefix lengths must strictly decrease"),
    ({"dip": {"comprehensive_fallback": [4]}}, "points.dip.comprehensive_fallback[0]: 4 is not allowed; allowed: 3, 2, 1"),
    ({"dip": {"interventional_as": "medical"}},
     "points.dip.interventional_as: 'medical' is not allowed; allowed: surgery, therapeutic"),
    ({"dip": {"aux": {"kinds": ["tumor"]}}},
     "points.dip.aux.kinds[0]: 'tumor' is not allowed; allowed: death, severity, age, icu, tumour, cci"),
    ({"dip": {"core_threshold": 2.5}}, "points.dip.core_threshold: expected a whole number, got number 2.5"),
])
def test_validation_messages_name_the_key_and_allowed_values(mapping, message):
    with pytest.raises(ConfigError) as error:
        points_policy_from_mapping(mapping)
    assert message in str(error.value)


def test_direct_construction_validates_too():
    with pytest.raises(ConfigError, match=r"^Trim\.method: 'top' is not allowed; allowed: percentile, sd, iqr, none$"):
        Trim(method="top")
    with pytest.raises(ConfigError, match=r"^BedDayPhase\.to_day: must be >= from_day \(10\), got 5$"):
        BedDayPhase(10, 5, 100)
    with pytest.raises(ConfigError, match=r"^Calibration\.trim: must be a mapping with keys method, lo, hi, k, by; "
                                          r"got text 'percentile'$"):
        Calibration(trim="percentile")
    with pytest.raises(ConfigError, match=r"^Calibration\.trim\.k: 0\.0 is out of range; allowed: 0\.0 < value"):
        Calibration(trim={"method": "sd", "k": 0})
    with pytest.raises(ConfigError, match=r"^PointsPolicy\.outliers\.low_ratio: 2\.0 is out of range"):
        PointsPolicy(outliers={"low_ratio": 2})
    with pytest.raises(ConfigError, match="HospitalCoefTable.by_level: no coefficient for hospital level 4"):
        HospitalCoefTable(by_level={3: 1.1}).level_coef(4)
    assert HospitalCoefTable(by_level={3: 1.1}, default=0.9).level_coef(4) == 0.9
    assert DipBuildRules(core_coverage=0.95).core_coverage == 0.95
    assert BedDayRules().bedday_phases == ()


@pytest.mark.parametrize("scheme, written, expected", [
    ("drg_points", {}, None), ("drg_rate", {}, None), ("dip", {}, 5.0),
    ("drg_points", {"extreme_ratio": "scheme_default"}, None), ("dip", {"extreme_ratio": "scheme_default"}, 5.0),
    ("dip", {"extreme_ratio": None}, None), ("drg_points", {"extreme_ratio": 6}, 6.0),
])
def test_extreme_band_defaults_by_scheme(scheme, written, expected):
    # the extreme band is a DIP rule (§5.2); the DRG point method (§5.3) has none; null switches it off
    policy = points_policy_from_mapping({"scheme": scheme, "outliers": written})
    assert policy.outliers.extreme_ratio == expected
