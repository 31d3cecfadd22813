"""Scenario files, policy overrides and reproducible Monte Carlo draws (drgdip.simulate.scenarios)."""

from __future__ import annotations

import math
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings, strategies as st

from drgdip.budget.policy import load_policy, policy_from_mapping
from drgdip.core.config import read_yaml
from drgdip.core.errors import ConfigError
from drgdip.core.resources import policies_dir
from drgdip.simulate.scenarios import (BASELINE, CASE_MIX, Distribution, MonteCarlo, Scenario, ScenarioSpec,
                                       Sweep, apply_overrides, draw_policy, draw_values, load_scenarios,
                                       policy_to_mapping)

POLICY_FILES = {path.stem.split("_")[0]: path for path in sorted(policies_dir().glob("*.yaml"))}
POLICIES = {name: load_policy(path) for name, path in POLICY_FILES.items()}
PANZHIHUA = POLICIES["panzhihua"]

EXAMPLE = """\
scenarios:
  - name: level3_up
    set: {points.hospital_coef.by_level.3: 1.10}
  - name: tight_budget
    set: {budget.growth_rate: 0.02, budget.reserve_share: 0.03}
sweeps:
  - key: points.hospital_coef.by_level.3
    values: [1.00, 1.05, 1.10, 1.15, 1.20]
monte_carlo:
  draws: 1000
  seed: 20251
  vary:
    budget.growth_rate: {dist: normal, mean: 0.04, sd: 0.01}
    volume_growth: {dist: lognormal, mean: 0.05, sd: 0.03, per: hospital}
    coding_upshift: {dist: uniform, low: 0.0, high: 0.05, per: hospital}
"""


def write(tmp_path, text: str, name: str = "scenarios.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def monte_carlo(vary: dict, draws: int = 100, seed: int = 20251) -> MonteCarlo:
    return MonteCarlo(draws, seed, {name: Distribution(**spec) for name, spec in vary.items()})


def yaml_edited(name: str, path: tuple, value):
    """The shipped policy file's mapping with one key set, as a user would edit the file."""
    data = read_yaml(POLICY_FILES[name])
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
    node[path[-1]] = value
    return policy_from_mapping(data)


# ------------------------------------------------------------------------------------------ parsing

def test_the_example_file_parses(tmp_path):
    spec = load_scenarios(write(tmp_path, EXAMPLE), PANZHIHUA)
    assert [s.name for s in spec.scenarios] == ["level3_up", "tight_budget"]
    assert dict(spec.scenarios[1].overrides) == {"budget.growth_rate": 0.02, "budget.reserve_share": 0.03}
    assert spec.sweeps == (Sweep("points.hospital_coef.by_level.3", (1.0, 1.05, 1.1, 1.15, 1.2)),)
    assert [s.name for s in spec.all_scenarios()][2:] == [
        f"points.hospital_coef.by_level.3={v}" for v in ("1.0", "1.05", "1.1", "1.15", "1.2")]
    mc = spec.monte_carlo
    assert (mc.draws, mc.seed) == (1000, 20251)
    assert list(mc.policy_keys) == ["budget.growth_rate"]
    assert list(mc.case_mix) == ["volume_growth", "coding_upshift"]
    assert mc.vary["volume_growth"] == Distribution("lognormal", {"mean": 0.05, "sd": 0.03}, "hospital")
    assert mc.vary["budget.growth_rate"].per == "all"


def test_scenarios_apply_to_the_base_policy(tmp_path):
    spec = load_scenarios(write(tmp_path, EXAMPLE), PANZHIHUA)
    level3_up, tight = (s.apply(PANZHIHUA) for s in spec.scenarios)
    assert level3_up.points.hospital_coef.by_level == {1: 1.0, 2: 1.0, 3: 1.1}
    assert (tight.budget.growth_rate, tight.budget.reserve_share) == (0.02, 0.03)
    swept = [s.apply(PANZHIHUA).points.hospital_coef.by_level[3] for s in spec.sweeps[0].scenarios()]
    assert swept == [1.0, 1.05, 1.1, 1.15, 1.2]
    assert PANZHIHUA.points.hospital_coef.by_level[3] == 1.0, "the base policy is left as it was"


def test_a_parsed_mapping_is_accepted_and_errors_name_the_file_given():
    data = yaml.safe_load(EXAMPLE)
    assert load_scenarios(data, PANZHIHUA) == load_scenarios(data, PANZHIHUA, file="given.yaml")
    data["scenarios"][0]["set"] = {"budget.growth_rte": 0.1}
    with pytest.raises(ConfigError, match=r"^given\.yaml: scenarios\[0\]\.set\.budget\.growth_rte: "):
        load_scenarios(data, PANZHIHUA, file="given.yaml")
    with pytest.raises(ConfigError, match=r"^scenarios\[0\]\.set\.budget\.growth_rte: "):
        load_scenarios(data, PANZHIHUA)


MC_HEAD = "monte_carlo:\n  draws: 10\n  seed: 1\n  vary:\n"
ONE_SET = "scenarios:\n  - name: a\n    set: {%s}\n"

INVALID = [
    # file shape
    ("unknown_top_key", "sweep: []\n", "sweep", "did you mean sweeps?"),
    ("missing_name", "scenarios:\n  - set: {budget.growth_rate: 0.02}\n", "scenarios[0].name", "missing required key"),
    ("unknown_entry_key", "scenarios:\n  - name: a\n    sets: {budget.growth_rate: 0.02}\n", "scenarios[0].sets",
     "did you mean set?"),
    ("reserved_baseline", "scenarios:\n  - name: baseline\n    set: {budget.growth_rate: 0.02}\n",
     "scenarios[0].name", "reserved"),
    ("reserved_Baseline", "scenarios:\n  - name: Baseline\n    set: {budget.growth_rate: 0.02}\n",
     "scenarios[0].name", "reserved"),
    ("empty_name", "scenarios:\n  - name: ' '\n    set: {budget.growth_rate: 0.02}\n", "scenarios[0].name", "empty"),
    ("empty_set", ONE_SET % "", "scenarios[0].set", "at least one key path"),
    ("set_not_a_mapping", "scenarios:\n  - name: a\n    set: [1]\n", "scenarios[0].set", "expected a mapping"),
    ("duplicate_names", ("scenarios:\n  - name: a\n    set: {budget.growth_rate: 0.02}\n"
                         "  - name: a\n    set: {budget.growth_rate: 0.03}\n"), "scenarios[1].name", "given twice"),
    # key paths of scenarios
    ("unknown_key", ("scenarios:\n  - name: a\n    set: {budget.growth_rate: 0.02}\n"
                     "  - name: b\n    set: {budget.growth_rte: 0.03}\n"),
     "scenarios[1].set.budget.growth_rte", "did you mean growth_rate?"),
    ("unknown_section", ONE_SET % "bugdet.growth_rate: 0.02", "scenarios[0].set.bugdet.growth_rate",
     "did you mean budget?"),
    ("bad_key_path", ONE_SET % "budget..growth_rate: 0.02", "scenarios[0].set.budget..growth_rate", "not a key path"),
    ("list_index_out_of_range", ONE_SET % "settlement.surplus.bands.5.keep_share: 0.5",
     "scenarios[0].set.settlement.surplus.bands.5.keep_share", "from 0 to 1"),
    ("mapping_key_of_wrong_type", ONE_SET % "points.hospital_coef.by_level.x: 1.1",
     "scenarios[0].set.points.hospital_coef.by_level.x", "whole number"),
    ("number_has_no_keys", ONE_SET % "budget.growth_rate.x: 1", "scenarios[0].set.budget.growth_rate.x",
     "has no keys"),
    ("null_has_no_keys", ONE_SET % "budget.amount.510400: 1", "scenarios[0].set.budget.amount.510400",
     "null in the base policy"),
    ("missing_entry", ONE_SET % "day_care.day_ward.fees.1.bed: 3", "scenarios[0].set.day_care.day_ward.fees.1.bed",
     "set day_care.day_ward.fees.1 whole"),
    # values of scenarios
    ("out_of_range", ONE_SET % "budget.growth_rate: 2.0", "scenarios[0].set.budget.growth_rate", "out of range"),
    ("wrong_type", ONE_SET % "budget.growth_rate: fast", "scenarios[0].set.budget.growth_rate", "expected a number"),
    ("not_allowed", ONE_SET % "budget.method: grow", "scenarios[0].set.budget.method", "allowed: amount, growth"),
    ("list_item", ONE_SET % "'settlement.surplus.bands[1].keep_share': 1.5",
     "scenarios[0].set.settlement.surplus.bands[1].keep_share", "out of range"),
    ("whole_list", ONE_SET % "settlement.overspend.bands: [{upto_pct: 0.1, fund_share: 0.5}]",
     "scenarios[0].set.settlement.overspend.bands", "the last band must be open"),
    ("cross_field_one_key", ONE_SET % "budget.method: amount", "scenarios[0].set.budget.method",
     "budget.amount: is required when method is 'amount'"),
    ("cross_field_several_keys", ONE_SET % "budget.method: amount, budget.reserve_share: 0.1", "scenarios[0].set",
     "fails at budget.amount: is required"),
    # sweeps
    ("sweep_without_values", "sweeps:\n  - key: budget.growth_rate\n    values: []\n", "sweeps[0].values",
     "at least one value"),
    ("sweep_values_not_a_list", "sweeps:\n  - key: budget.growth_rate\n    values: 0.1\n", "sweeps[0].values",
     "expected a list"),
    ("sweep_unknown_key", "sweeps:\n  - key: budget.growth_rte\n    values: [0.1]\n", "sweeps[0].key",
     "did you mean growth_rate?"),
    ("sweep_bad_value", "sweeps:\n  - key: budget.growth_rate\n    values: [0.1, 2.0]\n", "sweeps[0].values[1]",
     "out of range"),
    ("sweep_value_twice", "sweeps:\n  - key: budget.growth_rate\n    values: [0.1, 0.2, 0.1]\n",
     "sweeps[0].values[2]", "given twice"),
    ("sweep_name_taken", ("scenarios:\n  - name: budget.growth_rate=0.02\n    set: {budget.growth_rate: 0.02}\n"
                          "sweeps:\n  - key: budget.growth_rate\n    values: [0.02]\n"), "sweeps[0].values[0]",
     "given twice"),
    # monte carlo
    ("mc_unknown_key", "monte_carlo:\n  draw: 10\n  seed: 1\n", "monte_carlo.draw", "did you mean draws?"),
    ("mc_missing_draws", "monte_carlo:\n  seed: 1\n  vary: {volume_growth: {dist: fixed, value: 0}}\n",
     "monte_carlo.draws", "missing required key"),
    ("mc_no_draws", "monte_carlo:\n  draws: 0\n  seed: 1\n", "monte_carlo.draws", "1 <= value"),
    ("mc_fraction_of_draws", "monte_carlo:\n  draws: 1.5\n  seed: 1\n", "monte_carlo.draws", "whole number"),
    ("mc_seed_text", "monte_carlo:\n  draws: 10\n  seed: abc\n", "monte_carlo.seed", "whole number"),
    ("mc_negative_seed", "monte_carlo:\n  draws: 10\n  seed: -1\n", "monte_carlo.seed", "0 <= value"),
    ("mc_nothing_varied", MC_HEAD + "    {}\n", "monte_carlo.vary", "at least one"),
    ("mc_vary_missing", "monte_carlo:\n  draws: 10\n  seed: 1\n", "monte_carlo.vary", "at least one"),
    ("mc_vary_a_list", MC_HEAD + "    - volume_growth\n", "monte_carlo.vary", "expected a mapping"),
    ("mc_number_for_distribution", MC_HEAD + "    budget.growth_rate: 0.05\n", "monte_carlo.vary.budget.growth_rate",
     "dist: fixed"),
    ("mc_unknown_dist", MC_HEAD + "    volume_growth: {dist: gamma, mean: 1}\n", "monte_carlo.vary.volume_growth.dist",
     "allowed: normal, lognormal, uniform, triangular, fixed"),
    ("mc_missing_dist", MC_HEAD + "    volume_growth: {mean: 1, sd: 1}\n", "monte_carlo.vary.volume_growth.dist",
     "missing required key"),
    ("mc_missing_parameter", MC_HEAD + "    volume_growth: {dist: normal, mean: 1}\n",
     "monte_carlo.vary.volume_growth.sd", "missing"),
    ("mc_unknown_parameter", MC_HEAD + "    volume_growth: {dist: normal, mean: 1, stdev: 1}\n",
     "monte_carlo.vary.volume_growth.stdev", "did you mean sd?"),
    ("mc_parameter_text", MC_HEAD + "    volume_growth: {dist: normal, mean: abc, sd: 1}\n",
     "monte_carlo.vary.volume_growth.mean", "expected a number"),
    ("mc_infinite_parameter", MC_HEAD + "    volume_growth: {dist: normal, mean: 0, sd: .inf}\n",
     "monte_carlo.vary.volume_growth.sd", "finite"),
    ("mc_negative_sd", MC_HEAD + "    volume_growth: {dist: normal, mean: 0, sd: -0.1}\n",
     "monte_carlo.vary.volume_growth.sd", "at least 0"),
    ("mc_low_above_high", MC_HEAD + "    volume_growth: {dist: uniform, low: 0.2, high: 0.1}\n",
     "monte_carlo.vary.volume_growth.low", "at most high"),
    ("mc_mode_outside", MC_HEAD + "    volume_growth: {dist: triangular, low: 0, mode: 0.3, high: 0.1}\n",
     "monte_carlo.vary.volume_growth.mode", "between low"),
    ("mc_lognormal_mean", MC_HEAD + "    volume_growth: {dist: lognormal, mean: 0, sd: 0.1}\n",
     "monte_carlo.vary.volume_growth.mean", "above 0"),
    ("mc_unknown_per", MC_HEAD + "    volume_growth: {dist: fixed, value: 0, per: ward}\n",
     "monte_carlo.vary.volume_growth.per", "allowed: all, hospital, level, region"),
    ("mc_policy_key_per_hospital", MC_HEAD + "    budget.growth_rate: {dist: fixed, value: 0.1, per: hospital}\n",
     "monte_carlo.vary.budget.growth_rate.per", "one value per draw"),
    ("mc_unknown_name", MC_HEAD + "    volume_grwoth: {dist: fixed, value: 0}\n", "monte_carlo.vary.volume_grwoth",
     "did you mean volume_growth?"),
    ("mc_unknown_policy_key", MC_HEAD + "    budget.growth_rte: {dist: fixed, value: 0}\n",
     "monte_carlo.vary.budget.growth_rte", "did you mean growth_rate?"),
    ("mc_whole_number_key", MC_HEAD + "    points.dip.core_threshold: {dist: fixed, value: 20}\n",
     "monte_carlo.vary.points.dip.core_threshold", "real number"),
    ("mc_text_key", MC_HEAD + "    budget.method: {dist: fixed, value: 1}\n", "monte_carlo.vary.budget.method",
     "real number"),
    ("mc_bound_out_of_range", MC_HEAD + "    budget.growth_rate: {dist: uniform, low: 0.0, high: 1.5}\n",
     "monte_carlo.vary.budget.growth_rate.high", "out of range"),
    ("mc_mean_out_of_range", MC_HEAD + "    budget.reserve_share: {dist: normal, mean: 1.2, sd: 0.1}\n",
     "monte_carlo.vary.budget.reserve_share.mean", "out of range"),
]


@pytest.mark.parametrize("text, key, fragment", [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_every_problem_names_the_file_and_the_key_path(tmp_path, text, key, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_scenarios(path, PANZHIHUA)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert fragment in message, message
    assert info.value.key == key


def test_a_key_given_twice_is_an_error(tmp_path):
    path = write(tmp_path, "scenarios:\n  - name: a\n    set:\n      budget.growth_rate: 0.02\n"
                           "      budget.growth_rate: 0.03\n")
    with pytest.raises(ConfigError, match=r"line 5.*scenarios\[0\]\.set\.budget\.growth_rate: key given twice"):
        load_scenarios(path, PANZHIHUA)


@pytest.mark.parametrize("text, fragment", [("", "the scenario file is empty"), ("{}\n", "names no scenarios"),
                                            ("- a\n", "must be a mapping"), ("a: [\n", "not valid YAML")])
def test_unusable_files(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=fragment) as info:
        load_scenarios(path, PANZHIHUA)
    assert str(path) in str(info.value)


def test_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="scenario file not found"):
        load_scenarios(tmp_path / "absent.yaml", PANZHIHUA)


def test_values_of_one_scenario_are_checked_together():
    yanbian = POLICIES["yanbian"]          # quality_deposit 0.05 must equal 1 - monthly_pay_ratio
    data = {"scenarios": [{"name": "a", "set": {"settlement.monthly_pay_ratio": 0.9}}]}
    with pytest.raises(ConfigError, match=r"set\.settlement\.monthly_pay_ratio: settlement\.quality_deposit: must"):
        load_scenarios(data, yanbian)
    data["scenarios"][0]["set"]["settlement.quality_deposit"] = 0.1
    policy = load_scenarios(data, yanbian).scenarios[0].apply(yanbian)
    assert (policy.settlement.monthly_pay_ratio, policy.settlement.quality_deposit) == (0.9, 0.1)


def test_sections_built_in_python_are_checked():
    with pytest.raises(ConfigError, match=r"^Distribution\.params\.sd: missing"):
        Distribution("normal", {"mean": 0.0})
    with pytest.raises(ConfigError, match=r"^Scenario\.name: 'baseline' is reserved"):
        Scenario(BASELINE, {"budget.growth_rate": 0.02})
    with pytest.raises(ConfigError, match=r"^Sweep\.values: needs at least one value"):
        Sweep("budget.growth_rate", ())
    with pytest.raises(ConfigError, match=r"^MonteCarlo\.vary\.budget\.growth_rate\.per: "):
        monte_carlo({"budget.growth_rate": {"dist": "fixed", "params": {"value": 0.1}, "per": "region"}})
    with pytest.raises(ConfigError, match=r"^ScenarioSpec\.scenarios\[1\]\.name: the scenario name 'a'"):
        ScenarioSpec((Scenario("a", {"year": 2024}), Scenario("a", {"year": 2023})))


# ------------------------------------------------------------------------------- policy mappings

@pytest.mark.parametrize("name", POLICIES)
def test_policy_to_mapping_rebuilds_every_shipped_policy(name):
    policy = POLICIES[name]
    mapping = policy_to_mapping(policy)
    assert policy_from_mapping(mapping) == policy
    assert policy_from_mapping(yaml.safe_load(yaml.safe_dump(mapping, allow_unicode=True))) == policy
    assert mapping["points"]["points_scale"] is None, "a derived value is left to be derived"
    assert mapping["points"]["calibration"]["trim"]["k"] is None


ALL_POLICIES = ("hainan", "jining", "panzhihua", "remote", "yanbian")
WITH_LEVELS = ("hainan", "jining", "panzhihua", "yanbian")     # files writing points.hospital_coef.by_level
EDITS = [  # key path, the same key in the policy file, value, the shipped policies it applies to
    ("budget.growth_rate", ("budget", "growth_rate"), 0.02, ALL_POLICIES),
    ("budget.method", ("budget", "method"), "actual_fund", ALL_POLICIES),
    ("budget", ("budget",), {"method": "amount", "amount": 1.0e8}, ALL_POLICIES),
    ("point_value.floor", ("point_value", "floor"), 0.9, ALL_POLICIES),
    ("year", ("year",), 2024, ALL_POLICIES),
    ("regions", ("regions",), ["510400", "510411"], ALL_POLICIES),
    ("points.calibration.year_weights", ("points", "calibration", "year_weights"), [1, 1, 1], ALL_POLICIES),
    ("points.calibration.trim.method", ("points", "calibration", "trim", "method"), "sd", ALL_POLICIES),
    ("points.dip.core_threshold", ("points", "dip", "core_threshold"), 30, ALL_POLICIES),
    ("settlement.assessment_by_hospital.H001", ("settlement", "assessment_by_hospital", "H001"), 0.95, ALL_POLICIES),
    ("settlement.assessment_by_hospital[H.01]", ("settlement", "assessment_by_hospital", "H.01"), 0.95, ALL_POLICIES),
    ("settlement.overspend.bands", ("settlement", "overspend", "bands"),
     [{"upto_pct": 0.05, "fund_share": 0.7}, {"upto_pct": None, "fund_share": 0.0}], ALL_POLICIES),
    ("points.hospital_coef.by_level.3", ("points", "hospital_coef", "by_level", 3), 1.15, WITH_LEVELS),
    ("points.hospital_coef.by_level.4", ("points", "hospital_coef", "by_level", 4), 0.7, WITH_LEVELS),
    ("settlement.surplus.bands.0.keep_share", ("settlement", "surplus", "bands", 0, "keep_share"), 0.8,
     ("panzhihua",)),
    ("settlement.overspend.bands[1].fund_share", ("settlement", "overspend", "bands", 1, "fund_share"), 0.2,
     ("panzhihua",)),
    ("day_care.day_ward.fees.3.bed", ("day_care", "day_ward", "fees", 3, "bed"), 25.0, ("jining",)),
    ("points.bed_day.bedday_phases.1.daily_std", ("points", "bed_day", "bedday_phases", 1, 2), 240.0, ("hainan",)),
    ("points.scheme", ("points", "scheme"), "dip", ("remote", "yanbian")),
]
EDIT_CASES = [(name, key, path, value) for key, path, value, names in EDITS for name in names]


@pytest.mark.parametrize("name, key, path, value", EDIT_CASES, ids=[f"{c[0]}-{c[1]}" for c in EDIT_CASES])
def test_an_override_equals_the_policy_file_edited(name, key, path, value):
    policy = POLICIES[name]
    changed = apply_overrides(policy, {key: value})
    assert changed == yaml_edited(name, path, value)
    assert changed != policy
    assert changed.source == policy.source


def test_derived_defaults_follow_the_changed_key():
    yanbian = POLICIES["yanbian"]
    assert yanbian.points.calibration.trim.k == 1.5
    assert apply_overrides(yanbian, {"points.calibration.trim.method": "sd"}).points.calibration.trim.k == 3.0
    assert apply_overrides(yanbian, {"points.dip.core_threshold": 30}).points.dip.basic_group_min_cases == 30
    dip = apply_overrides(yanbian, {"points.scheme": "dip"}).points
    assert (dip.points_scale, dip.outliers.high_formula, dip.outliers.extreme_ratio,
            dip.special_review.special_quota) == (1000.0, "dip1", 5.0, 0.005)


def test_a_written_value_equal_to_the_derived_one_counts_as_derived():
    panzhihua = POLICIES["panzhihua"]       # writes high_formula: drg_tiered, what a DRG policy derives
    assert apply_overrides(panzhihua, {"points.scheme": "dip"}).points.outliers.high_formula == "dip1"
    assert yaml_edited("panzhihua", ("points", "scheme"), "dip").points.outliers.high_formula == "drg_tiered"


def test_overrides_apply_in_the_order_written():
    policy = apply_overrides(PANZHIHUA, {"settlement.surplus": {"mode": "whole"},
                                         "settlement.surplus.bands.0.keep_share": 0.4})
    assert policy.settlement.surplus.mode == "whole"
    assert [band.keep_share for band in policy.settlement.surplus.bands] == [0.4]


def test_apply_overrides_errors_name_the_policy_key_path():
    with pytest.raises(ConfigError) as info:
        apply_overrides(PANZHIHUA, {"points.hospital_coef.by_level.3": -1})
    assert info.value.key == "points.hospital_coef.by_level.3" and "out of range" in str(info.value)
    with pytest.raises(ConfigError, match="did you mean hospital_coef"):
        apply_overrides(PANZHIHUA, {"points.hospital_coefs.by_level.3": 1.1})


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(sorted(POLICIES)), rate=st.floats(-1.0, 1.0, exclude_min=True))
def test_any_growth_rate_equals_the_file_edited(name, rate):
    assert apply_overrides(POLICIES[name], {"budget.growth_rate": rate}) == \
        yaml_edited(name, ("budget", "growth_rate"), rate)


@settings(max_examples=30, deadline=None)
@given(levels=st.dictionaries(st.integers(1, 5), st.floats(0.01, 5.0), min_size=1, max_size=4),
       bracketed=st.booleans())
def test_level_coefficients_set_one_by_one_or_whole(levels, bracketed):
    one_by_one = {f"points.hospital_coef.by_level[{lv}]" if bracketed else f"points.hospital_coef.by_level.{lv}": c
                  for lv, c in levels.items()}
    expected = {**PANZHIHUA.points.hospital_coef.by_level, **levels}
    assert apply_overrides(PANZHIHUA, one_by_one).points.hospital_coef.by_level == expected
    whole = apply_overrides(PANZHIHUA, {"points.hospital_coef.by_level": {str(lv): c for lv, c in levels.items()}})
    assert whole.points.hospital_coef.by_level == levels


# ------------------------------------------------------------------------------------------ draws

FULL = {
    "budget.growth_rate": {"dist": "normal", "params": {"mean": 0.04, "sd": 0.01}},
    "volume_growth": {"dist": "lognormal", "params": {"mean": 0.05, "sd": 0.03}, "per": "hospital"},
    "coding_upshift": {"dist": "uniform", "params": {"low": 0.0, "high": 0.05}, "per": "level"},
    "remote_share": {"dist": "triangular", "params": {"low": 0.0, "mode": 0.05, "high": 0.2}, "per": "region"},
}
UNITS = {"hospital": ["H03", "H01", "H02"], "level": [3, 1, 2], "region": ["510411", "510402"]}


def assert_same_values(left: dict, right: dict) -> None:
    assert list(left) == list(right)
    for name, value in left.items():
        if isinstance(value, pd.Series):
            pd.testing.assert_series_equal(value, right[name])
        else:
            assert value == right[name]


def test_draw_values_give_one_value_per_unit_in_sorted_order():
    values = draw_values(monte_carlo(FULL), 0, UNITS)
    assert isinstance(values["budget.growth_rate"], float)
    assert list(values["volume_growth"].index) == ["H01", "H02", "H03"]
    assert values["volume_growth"].index.name == "hospital" and values["volume_growth"].name == "volume_growth"
    assert list(values["coding_upshift"].index) == [1, 2, 3]
    assert list(values["remote_share"].index) == ["510402", "510411"]
    assert values["volume_growth"].nunique() == 3 and (values["volume_growth"] > 0).all()


def test_a_draw_comes_from_its_own_seeded_stream():
    mc = monte_carlo(FULL, seed=7)
    rng = np.random.default_rng([7, 5, zlib.crc32(b"budget.growth_rate")])
    assert draw_values(mc, 5, UNITS)["budget.growth_rate"] == rng.normal(0.04, 0.01, 1)[0]


def test_draws_are_reproducible_and_independent_of_how_they_run():
    mc = monte_carlo(FULL)
    forward = [draw_values(mc, k, UNITS) for k in range(20)]
    backward = [draw_values(mc, k, UNITS) for k in reversed(range(20))][::-1]
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = list(pool.map(lambda k: draw_values(mc, k, UNITS), range(20)))
    longer = monte_carlo(FULL, draws=10_000)
    for k in range(20):
        assert_same_values(forward[k], backward[k])
        assert_same_values(forward[k], threaded[k])
        assert_same_values(forward[k], draw_values(longer, k, UNITS))
    growth = [values["budget.growth_rate"] for values in forward]
    assert len(set(growth)) == 20, "each draw has its own values"


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**63), draw=st.integers(0, 99), order=st.permutations(list(FULL)),
       keep=st.sets(st.sampled_from(list(FULL)), min_size=1), units_order=st.permutations(UNITS["hospital"]))
def test_a_variable_does_not_depend_on_the_others_nor_on_their_order(seed, draw, order, keep, units_order):
    everything = draw_values(monte_carlo(FULL, seed=seed), draw, UNITS)
    some = [name for name in order if name in keep]
    units = {**UNITS, "hospital": units_order}
    part = draw_values(monte_carlo({name: FULL[name] for name in some}, seed=seed), draw, units)
    assert list(part) == some
    assert_same_values(part, {name: everything[name] for name in some})


def test_names_and_seeds_give_different_streams():
    same = {"dist": "normal", "params": {"mean": 0.0, "sd": 1.0}}
    values = draw_values(monte_carlo({"point_value.cap": same, "budget.growth_rate": same}), 0)
    assert values["point_value.cap"] != values["budget.growth_rate"]
    other_seed = draw_values(monte_carlo({"budget.growth_rate": same}, seed=1), 0)
    assert other_seed["budget.growth_rate"] != values["budget.growth_rate"]


def test_draw_values_refuse_missing_units_and_out_of_range_draws():
    mc = monte_carlo(FULL, draws=10)
    with pytest.raises(ValueError, match=r"volume_growth is drawn per hospital: give units\['hospital'\]"):
        draw_values(mc, 0, {"level": [1, 2, 3], "region": ["A"]})
    with pytest.raises(ValueError, match="more than once"):
        draw_values(mc, 0, {**UNITS, "hospital": ["H01", "H01"]})
    with pytest.raises(ValueError, match="outside 0 to 9"):
        draw_values(mc, 10, UNITS)


def test_draw_policy_sets_the_drawn_policy_keys():
    mc = monte_carlo(FULL)
    for k in range(3):
        policy = draw_policy(PANZHIHUA, mc, k)
        assert policy.budget.growth_rate == draw_values(mc, k, UNITS)["budget.growth_rate"]
        assert policy.budget.reserve_share == PANZHIHUA.budget.reserve_share


def test_a_draw_outside_the_range_of_its_key_names_the_draw():
    mc = monte_carlo({"budget.growth_rate": {"dist": "normal", "params": {"mean": 0.5, "sd": 1.0}}}, draws=50)
    failing = [k for k in range(50) if draw_values(mc, k)["budget.growth_rate"] > 1.0]
    assert failing
    with pytest.raises(ConfigError, match=rf"monte_carlo\.vary\.budget\.growth_rate: draw {failing[0]} gives "
                                          r"budget\.growth_rate = .*out of range"):
        draw_policy(PANZHIHUA, mc, failing[0])


# ---------------------------------------------------------------------------------- distributions

N = 200_000


def sample(dist: str, **params) -> np.ndarray:
    return Distribution(dist, params).draw(np.random.default_rng(12345), N)


def test_normal_moments():
    values = sample("normal", mean=0.04, sd=0.01)
    assert values.mean() == pytest.approx(0.04, abs=1e-4)
    assert values.std() == pytest.approx(0.01, rel=0.02)


def test_lognormal_mean_and_sd_are_those_of_the_variable_itself():
    values = sample("lognormal", mean=0.05, sd=0.03)
    assert (values > 0).all()
    assert values.mean() == pytest.approx(0.05, rel=0.01)
    assert values.std() == pytest.approx(0.03, rel=0.03)
    sigma2 = math.log1p((0.03 / 0.05) ** 2)
    assert np.median(values) == pytest.approx(0.05 * math.exp(-sigma2 / 2), rel=0.01)


def test_uniform_moments():
    values = sample("uniform", low=0.0, high=0.05)
    assert 0.0 <= values.min() and values.max() <= 0.05
    assert values.mean() == pytest.approx(0.025, rel=0.01)
    assert values.std() == pytest.approx(0.05 / math.sqrt(12), rel=0.02)


def test_triangular_moments():
    low, mode, high = 0.0, 0.05, 0.2
    values = sample("triangular", low=low, mode=mode, high=high)
    assert low <= values.min() and values.max() <= high
    assert values.mean() == pytest.approx((low + mode + high) / 3, rel=0.01)
    variance = (low ** 2 + mode ** 2 + high ** 2 - low * mode - low * high - mode * high) / 18
    assert values.std() == pytest.approx(math.sqrt(variance), rel=0.02)


def test_fixed_and_degenerate_distributions_give_one_value():
    assert (sample("fixed", value=0.3) == 0.3).all()
    assert (sample("normal", mean=0.1, sd=0.0) == 0.1).all()
    assert np.allclose(sample("lognormal", mean=0.1, sd=0.0), 0.1)
    assert (sample("uniform", low=0.2, high=0.2) == 0.2).all()
    assert (sample("triangular", low=0.2, mode=0.2, high=0.2) == 0.2).all()


def test_case_mix_names_are_not_policy_keys():
    mc = monte_carlo({name: {"dist": "fixed", "params": {"value": 0.0}, "per": "region"} for name in CASE_MIX})
    assert set(mc.case_mix) == set(CASE_MIX) and not mc.policy_keys
    assert not set(CASE_MIX) & set(policy_to_mapping(PANZHIHUA)), "no policy section is named like one"
