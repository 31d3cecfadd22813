"""The points policy dataclasses: defaults by scheme, validation messages, building from nested mappings."""

from __future__ import annotations

import math

import pytest
import yaml

from drgdip.pointvalue.rules import (BedDayPhase, BedDayRules, Calibration, DipBuildRules, HospitalCoefTable, OutlierRules,
                              PointsPolicy, PolicyError, Trim, points_policy_from_mapping)


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
      bedday_phases: [[1, 30, 300, 0.8], [31, 60, 250, 0.6], {from_day: 61, to_day: 90, daily_std: 200}]
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
    assert policy.bed_day.bedday_phases[2] == BedDayPhase(61, 90, 200)
    assert policy.dip.aux.kinds == ("death", "severity") and policy.dip.basic_group_min_cases == 50
    with pytest.raises(AttributeError):
        policy.scheme = "drg_points"  # frozen


@pytest.mark.parametrize("mapping, message", [
    ({"scheme": "fee_for_service"}, "points.scheme: 'fee_for_service' is not allowed; allowed: drg_points, drg_rate, dip"),
    ({"colour": 1}, "points: unknown key(s) colour; allowed:"),
    ({"outliers": {"high_formula": "zhejiang"}}, "points.outliers.high_formula: 'zhejiang' is not allowed"),
    ({"outliers": {"low_ratio": 1.5}}, "points.outliers.low_ratio: must be <= 1"),
    ({"outliers": {"low_ratio": 1.0, "high_ratio": 1.0}}, "points.outliers.low_ratio: must be below high_ratio"),
    ({"outliers": {"extreme_ratio": 1.5}}, "points.outliers.extreme_ratio: must be above high_ratio"),
    ({"outliers": {"drg_high_tiers": [[300, 2], [100, 3]]}}, "max_base_points must increase"),
    ({"outliers": {"drg_high_tiers": [[100, 3]]}}, "the last tier must be open"),
    ({"outliers": {"outlier_reference": "score_x_factor"}}, "reference_factor: is required"),
    ({"outliers": {"coefs_on_outliers": "yes"}}, "coefs_on_outliers: must be true or false"),
    ({"calibration": {"year_weights": []}}, "points.calibration.year_weights: must be a non-empty list"),
    ({"calibration": {"year_weights": [1, -2]}}, "year_weights: must be >= 0"),
    ({"calibration": {"trim": {"method": "winsor"}}}, "points.calibration.trim.method: 'winsor' is not allowed"),
    ({"calibration": {"trim": {"lo": 90, "hi": 10}}}, "trim.lo: must be below hi"),
    ({"calibration": {"score_method": "base_disease"}}, "base_group: is required"),
    ({"calibration": {"cv_ddof": 2}}, "cv_ddof: must be <= 1"),
    ({"hospital_coef": {"by_level": {"three": 1.2}}}, "by_level: level 'three' is not a whole number"),
    ({"hospital_coef": {"by_level": {3: 0}}}, "by_level[3]: must be > 0"),
    ({"hospital_coef": {"by_level": {3: 1.2}, "basic_group_coef_mode": "secondary_level"}},
     "secondary_level: level 2 has no coefficient"),
    ({"remote": {"remote_coef": -1}}, "points.remote.remote_coef: must be > 0"),
    ({"special_review": {"special_quota": 2}}, "special_quota: must be <= 1"),
    ({"bed_day": {"bedday_phases": [[1, 30, 300], [40, 60, 250]]}}, "phases must be contiguous"),
    ({"bed_day": {"bedday_phases": [[2, 30, 300]]}}, "the first phase must start on day 1"),
    ({"bed_day": {"groups": ["X"]}}, "no phases are given"),
    ({"dip": {"comprehensive_fallback": [2, 3]}}, "prefix lengths must strictly decrease"),
    ({"dip": {"interventional_as": "medical"}}, "points.dip.interventional_as"),
    ({"dip": {"aux": {"kinds": ["tumour"]}}}, "points.dip.aux.kinds: 'tumour' is not allowed"),
    ({"dip": {"core_threshold": 2.5}}, "core_threshold: must be a whole number"),
])
def test_validation_messages_name_the_key_and_allowed_values(mapping, message):
    with pytest.raises(PolicyError) as error:
        points_policy_from_mapping(mapping)
    assert message in str(error.value)


def test_direct_construction_validates_too():
    with pytest.raises(PolicyError, match="Trim.method"):
        Trim(method="top")
    with pytest.raises(PolicyError, match="BedDayPhase.to_day"):
        BedDayPhase(10, 5, 100)
    with pytest.raises(PolicyError, match="Calibration.trim"):
        Calibration(trim="percentile")
    with pytest.raises(PolicyError, match="HospitalCoefTable.by_level: no coefficient for hospital level 4"):
        HospitalCoefTable(by_level={3: 1.1}).level_coef(4)
    assert HospitalCoefTable(by_level={3: 1.1}, default=0.9).level_coef(4) == 0.9
    assert DipBuildRules(core_coverage=0.95).core_coverage == 0.95
    assert BedDayRules().bedday_phases == ()
