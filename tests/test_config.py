"""The config engine (drgdip.core.config): conversion, key paths, allowed values, one error class."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal, Mapping

import pytest
import yaml

from drgdip.budget.policy import BudgetRules, SettlementRules, load_policy, policy_from_mapping
from drgdip.core.config import Config, FrozenDict, build, param, require
from drgdip.core.errors import ConfigError, UsageError
from drgdip.pointvalue.rules import BedDayPhase, HighTier, OutlierRules, PointsPolicy, Trim, points_policy_from_mapping
from drgdip.synth.params import SynthParams


@dataclass(frozen=True)
class Band(Config, list_form=True):
    """A band written as a mapping or as ``[upto, share]``."""

    upto: float | None = param(None, gt=0.0)
    share: float = param(1.0, ge=0.0, le=1.0)


@dataclass(frozen=True)
class Rules(Config):
    """A section with one field of every kind the engine converts."""

    mode: Literal["tiered", "whole"] = "tiered"
    rate: float = param(0.5, ge=0.0, lt=1.0)
    days: int = param(14, ge=1, le=60)
    code: str = "000"
    enabled: bool = True
    bands: tuple[Band, ...] = (Band(),)
    window: tuple[int, int] = param((1, 2), ge=0)
    by_level: Mapping[int, float] = param(default_factory=lambda: FrozenDict({3: 1.0}), gt=0.0)
    limit: float | None = param(None, gt=0.0)
    floor: float | None = None

    def check(self) -> None:
        require(self.bands[-1].upto is None, f"bands[{len(self.bands) - 1}].upto",
                "the last band must be open (upto: null)")
        if self.floor is None:
            self.derive(floor=self.rate / 2)


@dataclass(frozen=True)
class Root(Config):
    """A top-level section holding a nested one."""

    name: str = ""
    rules: Rules = field(default_factory=Rules)


def error_of(call) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        call()
    return info.value


# ------------------------------------------------------------------------------------- conversion

def test_mapping_is_converted_to_the_declared_types():
    root = build(Root, {"name": 370800, "rules": {
        "mode": "whole", "rate": 0, "days": 7.0, "code": 222400,
        "bands": [[0.1, 0.5], {"share": 0.2}], "window": [3, 4], "by_level": {"2": 0.9, 3: 1.1}}})
    rules = root.rules
    assert root.name == "370800" and rules.code == "222400"          # codes written as numbers
    assert rules.rate == 0.0 and type(rules.rate) is float
    assert rules.days == 7 and type(rules.days) is int
    assert rules.bands == (Band(0.1, 0.5), Band(None, 0.2))          # list form and mapping form
    assert rules.window == (3, 4) and dict(rules.by_level) == {2: 0.9, 3: 1.1}
    assert rules.floor == 0.0                                         # derived in check()
    assert build(Root, None) == Root()                                # null section = all defaults


def test_sections_are_frozen_and_their_mappings_read_only():
    rules = Rules()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.rate = 0.9  # type: ignore[misc]
    with pytest.raises(TypeError):
        rules.by_level[1] = 0.8  # type: ignore[index]
    assert hash(rules) == hash(Rules())


def test_derived_default_is_kept_when_given():
    assert Rules(rate=0.4).floor == 0.2 and Rules(rate=0.4, floor=0.3).floor == 0.3


# ---------------------------------------------------------------------------------- error messages

@pytest.mark.parametrize("data, message", [
    ({"rules": {"mode": "flat"}}, "rules.mode: 'flat' is not allowed; allowed: tiered, whole"),
    ({"rules": {"rate": 1.0}}, "rules.rate: 1.0 is out of range; allowed: 0.0 <= value < 1.0"),
    ({"rules": {"days": 0}}, "rules.days: 0 is out of range; allowed: 1 <= value <= 60"),
    ({"rules": {"days": 2.5}}, "rules.days: expected a whole number, got number 2.5"),
    ({"rules": {"limit": 0}}, "rules.limit: 0.0 is out of range; allowed: 0.0 < value (or null)"),
    ({"rules": {"limit": "much"}}, "rules.limit: expected a number or null, got text 'much'"),
    ({"rules": {"rate": "5e-1"}}, "rules.rate: expected a number, got text '5e-1' (YAML reads this as text"),
    ({"rules": {"rate": math.nan}}, "rules.rate: expected a number, got .nan"),
    ({"rules": {"enabled": "yes"}}, "rules.enabled: expected true or false, got text 'yes'"),
    ({"rules": {"code": None}}, "rules.code: must not be null; expected text"),
    ({"rules": {"bands": [[0.1, 2.0], [None, 1.0]]}},
     "rules.bands[0].share: 2.0 is out of range; allowed: 0.0 <= value <= 1.0"),
    ({"rules": {"bands": [{"upto": 0.1, "shares": 0.5}]}},
     "rules.bands[0].shares: unknown key (did you mean share?); allowed keys here: upto, share"),
    ({"rules": {"bands": [[0.1, 0.5, 9]]}}, "rules.bands[0]: expected at most 2 values [upto, share], got 3"),
    ({"rules": {"bands": [[0.1, 0.5]]}}, "rules.bands[0].upto: the last band must be open (upto: null)"),
    ({"rules": {"bands": "open"}}, "rules.bands: expected a list (each item: a mapping with keys upto, share"),
    ({"rules": {"window": [1, 2, 3]}}, "rules.window: expected a list of 2 items (each: a whole number), got a list of 3"),
    ({"rules": {"window": [1, -2]}}, "rules.window[1]: -2 is out of range; allowed: 0 <= value"),
    ({"rules": {"by_level": {3: -1}}}, "rules.by_level.3: -1.0 is out of range; allowed: 0.0 < value"),
    ({"rules": {"by_level": {"top": 1}}}, "rules.by_level.top: expected a whole number, got text 'top'"),
    ({"rules": {"by_level": [1, 2]}}, "rules.by_level: expected a mapping of a whole number -> a number, got a list"),
    ({"rules": 3}, "rules: must be a mapping with keys mode, rate, days, code, enabled, bands, window, by_level,"),
    ({"rule": {}}, "rule: unknown key (did you mean rules?); allowed keys here: name, rules"),
    ({"colour": 1}, "colour: unknown key; allowed keys here: name, rules"),
])
def test_messages_name_the_key_path_the_problem_and_what_is_allowed(data, message):
    error = error_of(lambda: build(Root, data))
    assert str(error).startswith(message), str(error)
    assert isinstance(error, UsageError)


def test_missing_required_key():
    assert str(error_of(lambda: build(BedDayPhase, {"from_day": 1}, "phase"))) == \
        "phase.to_day: missing required key; expected a whole number"


# ------------------------------------------------------------------ direct construction = mapping

@pytest.mark.parametrize("cls, values, key", [
    (Rules, {"mode": "flat"}, "mode"),
    (Rules, {"rate": -0.1}, "rate"),
    (Rules, {"bands": [[0.1, 0.5]]}, "bands[0].upto"),
    (Rules, {"bands": [[0.1, 7]]}, "bands[0].share"),
    (Trim, {"method": "top"}, "method"),
    (Trim, {"lo": 90, "hi": 10}, "lo"),
    (OutlierRules, {"drg_high_tiers": [[100, 3], [300, 0.5]]}, "drg_high_tiers[1].ratio"),
    (PointsPolicy, {"calibration": {"trim": {"k": -1}}}, "calibration.trim.k"),
    (PointsPolicy, {"scheme": "drg"}, "scheme"),
    (BudgetRules, {"method": "amount"}, "amount"),
    (SettlementRules, {"overspend": {"bands": [{"upto_pct": 0.1, "fund_share": 0.5}]}}, "overspend.bands[0].upto_pct"),
    (SynthParams, {"mcc_rate": 2.0}, "mcc_rate"),
    (SynthParams, {"level_beds": ((1, 2), (3, 4), (6, 5))}, "level_beds[2]"),
])
def test_direct_construction_is_validated_like_a_mapping(cls, values, key):
    direct = error_of(lambda: cls(**values))
    mapped = error_of(lambda: build(cls, values, "section"))
    assert direct.problem == mapped.problem
    assert str(direct) == f"{cls.__name__}.{key}: {direct.problem}"
    assert str(mapped) == f"section.{key}: {direct.problem}"


def test_direct_construction_converts_like_a_mapping():
    assert Rules(bands=[[None, 0.5]], window=[5, 6], by_level={"1": 2}) == \
        build(Rules, {"bands": [[None, 0.5]], "window": [5, 6], "by_level": {1: 2}})
    assert OutlierRules(drg_high_tiers=[[100, 3], {"max_base_points": None, "ratio": 2}]).drg_high_tiers == \
        (HighTier(100.0, 3.0), HighTier(math.inf, 2.0)) == \
        points_policy_from_mapping({"outliers": {"drg_high_tiers": [[100, 3], [math.inf, 2]]}}).outliers.drg_high_tiers
    assert PointsPolicy(scheme="dip", calibration={"trim": {"method": "sd"}}).calibration.trim.k == 3.0


def test_scheme_dependent_defaults_resolve_either_way():
    for policy in (PointsPolicy(scheme="dip"), points_policy_from_mapping({"scheme": "dip"})):
        assert policy.points_scale == 1000.0 and policy.outliers.high_formula == "dip1"
        assert policy.outliers.outlier_reference == "standard" and policy.special_review.special_quota == 0.005
    assert dataclasses.replace(PointsPolicy(), points_scale=50).points_scale == 50.0


def test_a_section_may_not_define_post_init():
    with pytest.raises(TypeError, match="check"):
        @dataclass(frozen=True)
        class Broken(Config):
            value: int = 1

            def __post_init__(self):
                pass


# ------------------------------------------------------------------------------- files and stages

def test_load_policy_names_the_file_and_the_key_path(tmp_path):
    path = tmp_path / "region.yaml"
    path.write_text("settlement:\n  overspend:\n    bands:\n      - {upto_pct: 0.1, fund_share: 0.5}\n"
                    "      - {upto_pct: null, fund_share: 1.5}\n", encoding="utf-8")
    error = error_of(lambda: load_policy(path))
    assert str(error) == (f"{path}: settlement.overspend.bands[1].fund_share: 1.5 is out of range; "
                          f"allowed: 0.0 <= value <= 1.0")
    assert error.file == str(path) and error.key == "settlement.overspend.bands[1].fund_share"


def test_points_block_errors_come_straight_from_the_engine(tmp_path):
    path = tmp_path / "region.yaml"
    path.write_text("points:\n  calibration:\n    trim: {method: winsor}\n", encoding="utf-8")
    assert str(error_of(lambda: load_policy(path))) == (
        f"{path}: points.calibration.trim.method: 'winsor' is not allowed; allowed: percentile, sd, iqr, none")
    error = error_of(lambda: policy_from_mapping({"points": {"outliers": {"low_ration": 0.4}}}, file="p.yaml"))
    assert str(error).startswith("p.yaml: points.outliers.low_ration: unknown key (did you mean low_ratio?)")


def test_synth_params_use_the_same_error():
    error = error_of(lambda: SynthParams(remote_share=1.5))
    assert str(error) == "SynthParams.remote_share: 1.5 is out of range; allowed: 0.0 <= value <= 1.0"
    error = error_of(lambda: SynthParams.from_mapping(yaml.safe_load("remote_shre: 0.2\n"), file="params.yaml"))
    assert str(error).startswith("params.yaml: remote_shre: unknown key (did you mean remote_share?)")
    error = error_of(lambda: SynthParams.from_mapping({"day_surgery_share": 0.7, "day_chemo_share": 0.5}))
    assert str(error) == "day_surgery_share: the care-type shares add up to 1.230 > 1"
    assert SynthParams.from_mapping({"level_beds": [[1, 2], [3, 4], [5, 6]]}).level_beds == ((1, 2), (3, 4), (5, 6))
    assert SynthParams.from_mapping(None) == SynthParams()


def test_with_file_keeps_the_key():
    error = error_of(lambda: Trim(method="top")).with_file("policy.yaml")
    assert str(error).startswith("policy.yaml: Trim.method: 'top' is not allowed")
    assert error.key == "method" and error.section is Trim


def test_a_key_given_twice_in_a_policy_file_is_named(tmp_path):
    """YAML lets the last of two equal keys win: a doubled reserve_share would silently replace 0.05."""
    from drgdip.budget.policy import load_policy

    path = tmp_path / "policy.yaml"
    path.write_text("budget:\n  reserve_share: 0.05\n  growth_rate: 0.02\n  reserve_share: 0.5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"policy.yaml, line 4: budget.reserve_share: key given twice \(lines 2 and 4\)"):
        load_policy(path)
    path.write_text("settlement:\n  surplus:\n    bands:\n      - {upto_pct: 0.1, keep_share: 1.0, keep_share: 0.5}\n"
                    "      - {upto_pct: null, keep_share: 0.0}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"settlement.surplus.bands\[0\].keep_share: key given twice"):
        load_policy(path)
