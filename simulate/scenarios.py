"""Scenarios, parameter sweeps and Monte Carlo draws over a base policy (情景模拟 / 敏感性分析).

A scenario file is YAML, read like a policy file (``yaml.safe_load``; a key given twice is an error)::

    scenarios:                      # named overrides of the base policy, by key path
      - name: level3_up
        set: {points.hospital_coef.by_level.3: 1.10}
    sweeps:                         # one key over a list of values, each value a scenario
      - key: points.hospital_coef.by_level.3
        values: [1.00, 1.05, 1.10, 1.15, 1.20]
    monte_carlo:
      draws: 1000
      seed: 20251
      vary:                         # policy keys and case-mix perturbations, each a distribution
        budget.growth_rate: {dist: normal, mean: 0.04, sd: 0.01}
        volume_growth: {dist: lognormal, mean: 0.05, sd: 0.03, per: hospital}

**Key paths** name any key of the policy file: sections and their keys by name
(``budget.growth_rate``), mapping entries by key (``points.hospital_coef.by_level.3``; a new key adds
an entry), list items by number (``settlement.surplus.bands.0.keep_share`` or ``bands[0]``), and a key
that itself holds dots in brackets (``settlement.assessment_by_hospital[H.01]``; inside a YAML
``{...}`` a key with brackets is quoted). A value replaces what the path names whole: a section or a
list set whole takes the defaults for whatever it leaves out. The keys of one scenario are applied in
the order written.

**Derived defaults.** Some keys default to a value derived from others (``points.points_scale`` from
``points.scheme``, ``points.calibration.trim.k`` from the trim method, ...). An override is applied to
the policy's mapping (:func:`policy_to_mapping`) and the policy is built anew, so such values are
derived again from the changed key. A value that equals what the policy would derive by itself counts
as derived (the mapping cannot tell a written ``points_scale: 1000`` under ``scheme: dip`` from the
default).

**Distributions** (``dist``): ``normal`` (mean, sd), ``lognormal`` (mean, sd: the mean and standard
deviation of the variable itself, not of its logarithm), ``uniform`` (low, high), ``triangular``
(low, mode, high), ``fixed`` (value). ``per`` draws one value per ``hospital``, ``level`` or
``region``, or one for ``all`` (the default); policy keys take one value per draw (``per: all``).

**Draws are reproducible one by one.** Variable ``name`` of draw ``k`` comes from its own random
stream, seeded by ``(seed, k, crc32(name))``: its values do not depend on how many draws run, in which
order or on how many threads, nor on the other variables of the file.

Every problem in a scenario file is a :class:`~drgdip.core.errors.ConfigError` naming the file and the
key path in it (``scenarios[1].set.budget.growth_rte``).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import difflib
import json
import math
import re
import types
import typing
import zlib
from dataclasses import MISSING, dataclass
from os import PathLike
from typing import Any, Iterator, Literal, Mapping, Sequence, Union

import numpy as np
import pandas as pd

from drgdip.budget.policy import Policy
from drgdip.core.config import (Config, FrozenDict, _fields, _is_mapping, _is_named_tuple, _is_section,
                                _mapping_key, _type_name, build, convert, describe, param, read_yaml, require)
from drgdip.core.errors import ConfigError

__all__ = [
    "Distribution", "Scenario", "Sweep", "MonteCarlo", "ScenarioSpec", "load_scenarios", "apply_overrides",
    "policy_to_mapping", "draw_values", "draw_policy", "CASE_MIX", "DISTRIBUTIONS", "PARAMETERS", "UNITS",
    "BASELINE",
]

DistributionName = Literal["normal", "lognormal", "uniform", "triangular", "fixed"]
Unit = Literal["all", "hospital", "level", "region"]

DISTRIBUTIONS = typing.get_args(DistributionName)
UNITS = typing.get_args(Unit)
PARAMETERS: Mapping[str, tuple[str, ...]] = FrozenDict({
    "normal": ("mean", "sd"), "lognormal": ("mean", "sd"), "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"), "fixed": ("value",)})
CASE_MIX: Mapping[str, str] = FrozenDict({
    "volume_growth": "relative change in the number of stays (0.05: 5 % more stays)",
    "coding_upshift": "share of stays coded into a higher-paying group (高套编码)",
    "remote_share": "share of stays that are in-province remote stays (省内异地)",
})
"""Case-mix perturbations a Monte Carlo draw may vary besides policy keys (applied by the simulation)."""

BASELINE = "baseline"
"""Reserved scenario name: the base policy itself."""


# ---------------------------------------------------------------------------------- distributions

@dataclass(frozen=True)
class Distribution(Config):
    """How one varied quantity is drawn: ``dist`` with its ``params`` (see :data:`PARAMETERS`), and
    whether one value is drawn ``per`` hospital, level, region or for ``all``.

    ``lognormal``'s ``mean`` and ``sd`` are those of the variable itself (its log has
    σ² = ln(1 + sd²/mean²) and μ = ln(mean) − σ²/2), so ``{mean: 0.05, sd: 0.03}`` draws positive values
    averaging 0.05.
    """

    dist: DistributionName
    params: Mapping[str, float] = param(default_factory=FrozenDict)
    per: Unit = "all"

    def check(self) -> None:
        _check_parameters(self.dist, self.params)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` values (float64) from ``rng``."""
        return _SAMPLERS[self.dist](rng, int(size), **self.params)


def _check_parameters(dist: str, params: Mapping[str, float]) -> None:
    """Each parameter of ``dist`` given once, nothing else, finite and in its range."""
    names = PARAMETERS[dist]
    for name in params:
        if name not in names:
            raise ConfigError(f"not a parameter of {dist}{_did_you_mean(name, names, cutoff=0.5)}; "
                              f"its parameters: {', '.join(names)}", key=f"params.{name}")
    for name in names:
        require(name in params, f"params.{name}", f"missing; {dist} needs {', '.join(names)}")
        require(math.isfinite(params[name]), f"params.{name}", f"must be finite, got {params[name]!r}")
    if "sd" in params:
        require(params["sd"] >= 0, "params.sd", f"must be at least 0, got {params['sd']!r}")
    if dist == "lognormal":
        require(params["mean"] > 0, "params.mean",
                f"the mean of a lognormal variable must be above 0, got {params['mean']!r}")
    if "low" in params:
        require(params["low"] <= params["high"], "params.low",
                f"must be at most high ({params['high']!r}), got {params['low']!r}")
    if "mode" in params:
        require(params["low"] <= params["mode"] <= params["high"], "params.mode",
                f"must lie between low ({params['low']!r}) and high ({params['high']!r}), got {params['mode']!r}")


def _normal(rng: np.random.Generator, size: int, mean: float, sd: float) -> np.ndarray:
    return rng.normal(mean, sd, size)


def _lognormal(rng: np.random.Generator, size: int, mean: float, sd: float) -> np.ndarray:
    """The lognormal whose own mean and standard deviation are ``mean`` and ``sd``."""
    log_variance = math.log1p((sd / mean) ** 2)
    return rng.lognormal(math.log(mean) - log_variance / 2, math.sqrt(log_variance), size)


def _uniform(rng: np.random.Generator, size: int, low: float, high: float) -> np.ndarray:
    return rng.uniform(low, high, size)


def _triangular(rng: np.random.Generator, size: int, low: float, mode: float, high: float) -> np.ndarray:
    if low == high:
        return np.full(size, float(low))
    return rng.triangular(low, mode, high, size)


def _fixed(rng: np.random.Generator, size: int, value: float) -> np.ndarray:
    return np.full(size, float(value))


_SAMPLERS = {"normal": _normal, "lognormal": _lognormal, "uniform": _uniform, "triangular": _triangular,
             "fixed": _fixed}


# -------------------------------------------------------------------------------------- scenarios

def _check_scenario(name: str, overrides: Mapping[str, Any], overrides_key: str) -> None:
    require(bool(name.strip()), "name", "must not be empty")
    require(name.strip().lower() != BASELINE, "name",
            f"{name!r} is reserved for the base policy itself; choose another name")
    require(len(overrides) > 0, overrides_key,
            "needs at least one key path and its value, e.g. {budget.growth_rate: 0.02}")


@dataclass(frozen=True)
class Scenario(Config):
    """A named what-if: the base policy with each key path of ``overrides`` set to its value."""

    name: str
    overrides: Mapping[str, Any]

    def check(self) -> None:
        _check_scenario(self.name, self.overrides, "overrides")

    def apply(self, base_policy: Policy) -> Policy:
        """The scenario's policy (:func:`apply_overrides`)."""
        return apply_overrides(base_policy, self.overrides)


def _value_text(value: Any) -> str:
    """A value as a scenario name shows it: text as written, anything else as JSON (``1.05``, ``true``)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Sweep(Config):
    """One key path over a list of values (敏感性分析); each value is a scenario named ``key=value``."""

    key: str
    values: tuple[Any, ...]

    def check(self) -> None:
        require(len(self.values) > 0, "values", "needs at least one value")
        seen: dict[str, int] = {}
        for position, value in enumerate(self.values):
            text = _value_text(value)
            if text in seen:
                raise ConfigError(f"{text} is given twice (also values[{seen[text]}])", key=f"values[{position}]")
            seen[text] = position

    def scenario_name(self, value: Any) -> str:
        """``points.hospital_coef.by_level.3=1.05``."""
        return f"{self.key}={_value_text(value)}"

    def scenarios(self) -> tuple[Scenario, ...]:
        """One scenario per value, in the order written."""
        return tuple(Scenario(self.scenario_name(value), {self.key: value}) for value in self.values)


@dataclass(frozen=True)
class MonteCarlo(Config):
    """``draws`` random variants of the base policy and case mix, reproducible from ``seed``.

    ``vary`` maps a policy key path or a case-mix perturbation (:data:`CASE_MIX`) to its
    :class:`Distribution`; policy keys take one value per draw.
    """

    draws: int = param(ge=1)
    seed: int = param(ge=0)
    vary: Mapping[str, Distribution] = param(default_factory=FrozenDict)

    def check(self) -> None:
        require(len(self.vary) > 0, "vary",
                f"needs at least one policy key or case-mix perturbation ({', '.join(CASE_MIX)}) to vary")
        for name, distribution in self.vary.items():
            if name not in CASE_MIX:
                require(distribution.per == "all", f"vary.{name}.per",
                        f"{name} is a policy key: it takes one value per draw (per: all); per: {distribution.per} "
                        f"is for the case-mix perturbations {', '.join(CASE_MIX)}")
        streams: dict[int, str] = {}
        for name in self.vary:
            other = streams.setdefault(zlib.crc32(name.encode("utf-8")), name)
            require(other == name, f"vary.{name}", f"shares its random stream with {other}; rename one of them")

    @property
    def policy_keys(self) -> Mapping[str, Distribution]:
        """The varied policy key paths and their distributions."""
        return FrozenDict({name: d for name, d in self.vary.items() if name not in CASE_MIX})

    @property
    def case_mix(self) -> Mapping[str, Distribution]:
        """The varied case-mix perturbations and their distributions."""
        return FrozenDict({name: d for name, d in self.vary.items() if name in CASE_MIX})


@dataclass(frozen=True)
class ScenarioSpec(Config):
    """Everything a scenario file asks for: named scenarios, sweeps and an optional Monte Carlo."""

    scenarios: tuple[Scenario, ...] = ()
    sweeps: tuple[Sweep, ...] = ()
    monte_carlo: MonteCarlo | None = None

    def check(self) -> None:
        seen: dict[str, str] = {}
        for position, scenario in enumerate(self.scenarios):
            _claim_name(seen, scenario.name, f"scenarios[{position}].name")
        for position, sweep in enumerate(self.sweeps):
            for item, value in enumerate(sweep.values):
                _claim_name(seen, sweep.scenario_name(value), f"sweeps[{position}].values[{item}]")

    def all_scenarios(self) -> tuple[Scenario, ...]:
        """The named scenarios, then each sweep's scenarios."""
        return self.scenarios + tuple(s for sweep in self.sweeps for s in sweep.scenarios())


def _claim_name(seen: dict[str, str], name: str, key: str) -> None:
    if name in seen:
        raise ConfigError(f"the scenario name {name!r} is given twice (also at {seen[name]})", key=key)
    seen[name] = key


# ------------------------------------------------------------------------------ the file as written

@dataclass(frozen=True)
class _ScenarioEntry(Config):
    """One entry of ``scenarios:`` as the file writes it."""

    name: str
    set: Mapping[str, Any]

    def check(self) -> None:
        _check_scenario(self.name, self.set, "set")


@dataclass(frozen=True)
class _ScenarioFile(Config):
    """The top level of a scenario file; ``monte_carlo`` is read on by :func:`_checked_monte_carlo`."""

    scenarios: tuple[_ScenarioEntry, ...] = ()
    sweeps: tuple[Sweep, ...] = ()
    monte_carlo: Mapping[str, Any] | None = None

    def check(self) -> None:
        require(bool(self.scenarios or self.sweeps or self.monte_carlo is not None), "",
                "the file names no scenarios, sweeps or monte_carlo")


def load_scenarios(source: str | PathLike | Mapping[str, Any], base_policy: Policy, *,
                   file: str | None = None) -> ScenarioSpec:
    """Read and check a scenario file (or its parsed mapping) against ``base_policy``.

    Every key path must exist in the base policy and every value must be valid there (each scenario and
    each sweep value is applied to it; a Monte Carlo policy key is tried at its distribution's mean or
    bounds). Errors are :class:`ConfigError` naming the file (``file`` for a mapping) and the key path.
    """
    data, file = _scenario_data(source, file)
    try:
        return _spec_from_mapping(data, base_policy)
    except ConfigError as error:
        raise ConfigError(error.problem, file=file, key=error.key or None) from None


def _scenario_data(source: Any, file: str | None) -> tuple[Any, str | None]:
    if isinstance(source, Mapping):
        return source, file
    if isinstance(source, (str, PathLike)):
        data = read_yaml(source, what="scenario")
        if data is None:
            raise ConfigError("the scenario file is empty", file=str(source))
        return data, str(source)
    raise ConfigError(f"expected a scenario file or a parsed mapping, got {type(source).__name__}", file=file)


def _spec_from_mapping(data: Any, base_policy: Policy) -> ScenarioSpec:
    written = build(_ScenarioFile, data)
    base = policy_to_mapping(base_policy)
    scenarios = tuple(_checked_scenario(entry, position, base_policy, base)
                      for position, entry in enumerate(written.scenarios))
    for position, sweep in enumerate(written.sweeps):
        _check_sweep(sweep, position, base_policy, base)
    monte_carlo = (None if written.monte_carlo is None
                   else _checked_monte_carlo(written.monte_carlo, base_policy, base))
    return ScenarioSpec(scenarios, written.sweeps, monte_carlo)


def _checked_scenario(entry: _ScenarioEntry, position: int, policy: Policy, base: dict) -> Scenario:
    prefix = f"scenarios[{position}].set"
    try:
        _apply(policy, base, entry.set)
    except ConfigError as error:
        raise _blamed(error, prefix, entry.set) from None
    return Scenario(entry.name, entry.set)


def _check_sweep(sweep: Sweep, position: int, policy: Policy, base: dict) -> None:
    try:
        _locate(base, sweep.key)
    except ConfigError as error:
        raise ConfigError(error.problem, key=f"sweeps[{position}].key") from None
    for item, value in enumerate(sweep.values):
        try:
            _apply(policy, base, {sweep.key: value})
        except ConfigError as error:
            raise ConfigError(_reworded(error, sweep.key), key=f"sweeps[{position}].values[{item}]") from None


def _checked_monte_carlo(written: Mapping[str, Any], policy: Policy, base: dict) -> MonteCarlo:
    data = dict(written)
    if "vary" in data:
        data["vary"] = _written_distributions(data["vary"], base)
    monte_carlo = build(MonteCarlo, data, "monte_carlo")
    for name, distribution in monte_carlo.policy_keys.items():
        _check_support(name, distribution, policy, base)
    return monte_carlo


def _written_distributions(vary: Any, base: dict) -> dict[str, Distribution]:
    """``vary:`` as written: each name checked, each flat ``{dist, <params>, per}`` a Distribution."""
    if not isinstance(vary, Mapping):
        raise ConfigError(f"expected a mapping of names to distributions such as "
                          f"{{budget.growth_rate: {{dist: normal, mean: 0.04, sd: 0.01}}}}, got {_type_name(vary)}",
                          key="monte_carlo.vary")
    found = {}
    for name, entry in vary.items():
        path = f"monte_carlo.vary.{name}"
        found[str(name)] = _written_distribution(entry, path)
        if str(name) not in CASE_MIX:
            _check_varied_key(base, str(name), path)
    return found


def _written_distribution(entry: Any, path: str) -> Distribution:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"expected a distribution such as {{dist: normal, mean: 0.04, sd: 0.01}} "
                          f"(one value: {{dist: fixed, value: ...}}), got {_type_name(entry)}", key=path)
    if "dist" not in entry:
        raise ConfigError(f"missing required key; one of {', '.join(DISTRIBUTIONS)}", key=f"{path}.dist")
    params = {key: value for key, value in entry.items() if key not in ("dist", "per")}
    try:
        return Distribution(entry["dist"], params, entry.get("per", "all"))
    except ConfigError as error:
        key = (error.key or "").removeprefix("params.")
        raise ConfigError(error.problem, key=f"{path}.{key}" if key else path) from None


def _check_varied_key(base: dict, name: str, path: str) -> None:
    """A varied name is a case-mix perturbation or a policy key that takes real numbers."""
    try:
        slot = _locate(base, name)
    except ConfigError as error:
        if "." in name or "[" in name:
            raise ConfigError(error.problem, key=path) from None
        known = [*CASE_MIX, *(spec.name for spec in _fields(Policy))]
        raise ConfigError(f"neither a case-mix perturbation ({', '.join(CASE_MIX)}) nor a policy key path"
                          f"{_did_you_mean(name, known)}", key=path) from None
    if not _takes_real(slot.type):
        raise ConfigError(f"a draw is a real number, but {name} takes {describe(slot.type)}; "
                          f"set it in a scenario or sweep it instead", key=path)


def _takes_real(tp: Any) -> bool:
    if tp is float:
        return True
    return typing.get_origin(tp) in (Union, types.UnionType) and float in typing.get_args(tp)


def _support(distribution: Distribution) -> dict[str, float]:
    """The values a distribution's draws centre on or are bounded by, to try on the base policy."""
    params = distribution.params
    if distribution.dist in ("normal", "lognormal"):
        return {"mean": params["mean"]}
    if distribution.dist == "fixed":
        return {"value": params["value"]}
    return {"low": params["low"], "high": params["high"]}


def _check_support(name: str, distribution: Distribution, policy: Policy, base: dict) -> None:
    for parameter, value in _support(distribution).items():
        try:
            _apply(policy, base, {name: value})
        except ConfigError as error:
            raise ConfigError(_reworded(error, name), key=f"monte_carlo.vary.{name}.{parameter}") from None


def _blamed(error: ConfigError, prefix: str, overrides: Mapping[str, Any]) -> ConfigError:
    """An error of a policy built with ``overrides``, placed at the override that caused it."""
    culprit = _culprit(error.key, overrides)
    if culprit is None:
        return ConfigError(f"with these values the policy fails at {error.key}: {error.problem}", key=prefix)
    return ConfigError(_reworded(error, culprit), key=f"{prefix}.{culprit}")


def _culprit(error_key: str | None, overrides: Mapping[str, Any]) -> str | None:
    """The override key path that ``error_key`` lies under, or the only override."""
    found = _parsed(error_key)
    for key in overrides:
        segments = _parsed(key)
        if found is not None and segments is not None and found[:len(segments)] == segments:
            return key
    return next(iter(overrides)) if len(overrides) == 1 else None


def _reworded(error: ConfigError, key_path: str) -> str:
    """The problem, prefixed with the policy key path when that is not ``key_path`` itself."""
    if error.key is None or _parsed(error.key) == _parsed(key_path):
        return error.problem
    return f"{error.key}: {error.problem}"


# -------------------------------------------------------------------------------- policy mappings

def policy_to_mapping(policy: Policy) -> dict:
    """The policy as the plain mapping a policy file would hold (``policy_from_mapping`` rebuilds it).

    Every key is written, except that a derived value (``points.points_scale``, ``trim.k``, ...) is
    left at its declared default when the policy would derive the same value by itself, so that an
    override of what it derives from derives it again.
    """
    return copy.deepcopy(_mapping_of(policy))


def _mapping_of(policy: Policy) -> dict:
    """:func:`policy_to_mapping`, worked out once per policy (it builds the policy a few times over):
    a Monte Carlo applies its draws to the same base policy again and again. Not to be changed."""
    try:
        return _remembered_mapping(policy)
    except TypeError:   # a policy that cannot be hashed
        return _policy_mapping(policy)


def _policy_mapping(policy: Policy) -> dict:
    mapping = _plain(policy)
    for path, default in _derivable(policy):
        trial = copy.deepcopy(mapping)
        _set_nested(trial, path, _plain(default))
        if _builds(trial, policy):
            mapping = trial
    return mapping


_remembered_mapping = functools.lru_cache(maxsize=8)(_policy_mapping)


def _plain(value: Any) -> Any:
    """Sections and records as dicts, tuples as lists, mappings as dicts: what YAML would hold."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {spec.name: _plain(getattr(value, spec.name)) for spec in _fields(type(value))}
    if _is_named_tuple(type(value)):
        return {name: _plain(item) for name, item in zip(value._fields, value)}
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _default(spec: dataclasses.Field) -> Any:
    if spec.default is not MISSING:
        return spec.default
    if spec.default_factory is not MISSING:
        return spec.default_factory()
    return MISSING


def _derivable(section: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Fields of nested sections whose value may have been derived: it differs from the declared
    default in kind (``None`` or a marker such as ``scheme_default`` became a number or a name)."""
    for spec in dataclasses.fields(section):
        default = _default(spec)
        if not spec.init or default is MISSING:
            continue
        value = getattr(section, spec.name)
        if dataclasses.is_dataclass(value) and type(value) is type(default):
            yield from _derivable(value, (*path, spec.name))
        elif value != default and type(value) is not type(default):
            yield (*path, spec.name), default


def _set_nested(mapping: dict, path: tuple[str, ...], value: Any) -> None:
    for name in path[:-1]:
        mapping = mapping[name]
    mapping[path[-1]] = value


def _builds(mapping: dict, policy: Policy) -> bool:
    try:
        return build(Policy, mapping) == policy
    except ConfigError:
        return False


def apply_overrides(policy: Policy, overrides: Mapping[str, Any]) -> Policy:
    """A new policy: ``policy`` with each key path of ``overrides`` set to its value, in order.

    The policy is rebuilt from its mapping by the config engine, so every value is converted and
    checked as in a policy file and derived defaults follow the changed keys. An unknown key path or
    a bad value raises :class:`ConfigError` naming the policy key path. The new policy keeps the base
    policy's ``source``.
    """
    return _apply(policy, _mapping_of(policy), overrides)


def _apply(policy: Policy, base: dict, overrides: Mapping[str, Any]) -> Policy:
    mapping = copy.deepcopy(base)
    for key_path, value in overrides.items():
        _put(mapping, str(key_path), value)
    changed = build(Policy, mapping)
    object.__setattr__(changed, "source", policy.source)
    return changed


def _put(mapping: dict, key_path: str, value: Any) -> None:
    """Set ``key_path`` in a policy mapping, checking the value's type and range on the way."""
    slot = _locate(mapping, key_path)
    convert(slot.type, value, key_path, slot.meta)
    slot.container[slot.key] = _plain(value)


# ------------------------------------------------------------------------------------- key paths

_NAME = r"[^.\[\]]+"
_BRACKETED = r"\[[^\[\]]+\]"
_KEY_PATH = re.compile(rf"(?:{_NAME}|{_BRACKETED})(?:\.{_NAME}|{_BRACKETED})*")
_SEGMENT = re.compile(rf"({_NAME})|\[([^\[\]]+)\]")


def _segments(key_path: str) -> list[str]:
    """``a.b[0].c`` -> ``["a", "b", "0", "c"]``; ``quotas[F20.0]`` keeps the dots of a bracketed key."""
    if not _KEY_PATH.fullmatch(key_path):
        raise ConfigError("not a key path; write section.key, a list item as bands.0 or bands[0], "
                          "a key holding dots in brackets as quotas[F20.0]", key=key_path)
    return [_unquoted(name or bracketed) for name, bracketed in _SEGMENT.findall(key_path)]


def _unquoted(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _parsed(key_path: str | None) -> list[str] | None:
    if not key_path:
        return None
    try:
        return _segments(key_path)
    except ConfigError:
        return None


@dataclass(frozen=True)
class _Slot:
    """Where a key path lands in a policy mapping: the dict or list holding it, its key there, the
    annotation and range of the value, and the declared default of a section's key."""

    container: Any
    key: Any
    type: Any
    meta: Mapping[str, Any]
    default: Any = None
    has_default: bool = False


def _locate(mapping: dict, key_path: str) -> _Slot:
    """The slot of ``key_path`` in a policy mapping; a :class:`ConfigError` at ``key_path`` when the
    policy has no such key (a new key of a mapping is allowed as the last step)."""
    segments = _segments(key_path)
    tp, meta, node = Policy, {}, mapping
    for depth, segment in enumerate(segments):
        where = ".".join(segments[:depth]) or "the policy"
        tp = _variant(tp, node, key_path, where)
        slot = _step(tp, meta, node, segment, key_path, where)
        if depth < len(segments) - 1:
            node = _entry(slot, key_path, ".".join(segments[:depth + 1]))
            tp, meta = slot.type, slot.meta
    return slot


def _no_key(key_path: str, reason: str) -> ConfigError:
    return ConfigError(f"no policy key {key_path!r}: {reason}", key=key_path)


def _did_you_mean(name: str, names: Sequence[str], cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(str(name), list(names), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]}?)" if close else ""


def _variant(tp: Any, node: Any, key_path: str, where: str) -> Any:
    """The member of a union annotation that the current value has (``float | Mapping``: a mapping)."""
    if typing.get_origin(tp) not in (Union, types.UnionType):
        return tp
    if node is None:
        raise _no_key(key_path, f"{where} is null in the base policy; set {where} whole")
    for option in typing.get_args(tp):
        if option is not type(None) and _holds(option, node):
            return option
    raise _no_key(key_path, f"{where} is {_type_name(node)} and has no keys")


def _holds(tp: Any, node: Any) -> bool:
    if _is_section(tp) or _is_named_tuple(tp) or _is_mapping(typing.get_origin(tp)):
        return isinstance(node, dict)
    return typing.get_origin(tp) is tuple and isinstance(node, list)


def _step(tp: Any, meta: Mapping[str, Any], node: Any, segment: str, key_path: str, where: str) -> _Slot:
    """One step down: a section's key, a list's item or a mapping's entry."""
    origin = typing.get_origin(tp)
    if _is_section(tp) or _is_named_tuple(tp):
        specs = {spec.name: spec for spec in _fields(tp)}
        if segment not in specs:
            raise _no_key(key_path, f"{where} has no key {segment!r}{_did_you_mean(segment, list(specs))}; "
                                    f"its keys: {', '.join(specs)}")
        _expect(node, dict, key_path, where)
        default = _declared_default(tp, segment)
        return _Slot(node, segment, specs[segment].type, specs[segment].metadata, default, default is not MISSING)
    if origin is tuple:
        _expect(node, list, key_path, where)
        return _Slot(node, _index(node, segment, key_path, where), _item_type(tp, segment), meta)
    if _is_mapping(origin):
        _expect(node, dict, key_path, where)
        key_type, value_type = typing.get_args(tp)
        try:
            key = _mapping_key(key_type, segment, where)
        except ConfigError:
            raise _no_key(key_path, f"the keys of {where} are {describe(key_type)}, not {segment!r}") from None
        return _Slot(node, key, value_type, meta)
    raise _no_key(key_path, f"{where} is {describe(tp)} and has no keys")


def _declared_default(tp: Any, name: str) -> Any:
    if _is_named_tuple(tp):
        return tp._field_defaults.get(name, MISSING)
    return _default(next(spec for spec in dataclasses.fields(tp) if spec.name == name))


def _expect(node: Any, kind: type, key_path: str, where: str) -> None:
    if not isinstance(node, kind):
        raise _no_key(key_path, f"{where} is set to {_type_name(node)} by an earlier key; set its parts there")


def _index(node: list, segment: str, key_path: str, where: str) -> int:
    if not node:
        raise _no_key(key_path, f"{where} is an empty list; set {where} whole")
    if not segment.isdigit() or int(segment) >= len(node):
        raise _no_key(key_path, f"{where} is a list of {len(node)} item{'s' if len(node) > 1 else ''}: "
                                f"give an item number from 0 to {len(node) - 1}, not {segment!r}")
    return int(segment)


def _item_type(tp: Any, segment: str) -> Any:
    args = typing.get_args(tp)
    return args[0] if len(args) == 2 and args[1] is Ellipsis else args[int(segment)]


def _entry(slot: _Slot, key_path: str, where: str) -> Any:
    """The value a slot holds, to step into; a key left out of a section set whole holds its default."""
    if isinstance(slot.container, dict) and slot.key not in slot.container:
        if slot.has_default:
            slot.container[slot.key] = _plain(slot.default)
            return slot.container[slot.key]
        raise _no_key(key_path, f"{where} has no entry in the base policy to set a part of; set {where} whole")
    return slot.container[slot.key]


# ------------------------------------------------------------------------------------------ draws

def draw_values(monte_carlo: MonteCarlo, draw: int,
                units: Mapping[str, Sequence[Any]] | None = None) -> dict[str, float | pd.Series]:
    """The values of draw ``draw`` (0 to draws − 1) of every varied quantity, in ``vary`` order.

    A quantity drawn for ``all`` is a float; one drawn per hospital, level or region is a Series
    indexed by the sorted ids of ``units[per]`` (e.g. ``{"hospital": hospital_ids, "level": [1, 2, 3]}``).
    Each quantity comes from its own random stream, so a value depends only on the seed, the draw,
    the quantity's name and the set of units (not on their order, nor on the other quantities).
    """
    draw = _draw_index(monte_carlo, draw)
    return {name: _drawn(monte_carlo, draw, name, units) for name in monte_carlo.vary}


def draw_policy(base_policy: Policy, monte_carlo: MonteCarlo, draw: int) -> Policy:
    """The base policy with the policy keys of draw ``draw`` set to their drawn values.

    A drawn value outside its key's range (a normal draw has no bounds) raises :class:`ConfigError`
    at ``monte_carlo.vary.<key>`` naming the draw (``error.with_file(scenario_file)`` names the file).
    """
    draw = _draw_index(monte_carlo, draw)
    overrides = {name: _drawn(monte_carlo, draw, name, None) for name in monte_carlo.policy_keys}
    try:
        return apply_overrides(base_policy, overrides)
    except ConfigError as error:
        culprit = _culprit(error.key, overrides)
        key = "monte_carlo.vary" if culprit is None else f"monte_carlo.vary.{culprit}"
        drawn = f"{culprit} = {overrides[culprit]!r}" if culprit is not None else f"{overrides}"
        problem = _reworded(error, culprit) if culprit is not None else f"{error.key}: {error.problem}"
        raise ConfigError(f"draw {draw} gives {drawn}: {problem}", key=key) from None


def _draw_index(monte_carlo: MonteCarlo, draw: int) -> int:
    if not 0 <= int(draw) < monte_carlo.draws:
        raise ValueError(f"draw {draw} is outside 0 to {monte_carlo.draws - 1}")
    return int(draw)


def _stream(seed: int, draw: int, name: str) -> np.random.Generator:
    """The random stream of quantity ``name`` in draw ``draw``: seeded by (seed, draw, crc32(name)),
    never by Python's salted ``hash``."""
    return np.random.default_rng([seed, draw, zlib.crc32(name.encode("utf-8"))])


def _drawn(monte_carlo: MonteCarlo, draw: int, name: str,
           units: Mapping[str, Sequence[Any]] | None) -> float | pd.Series:
    distribution = monte_carlo.vary[name]
    rng = _stream(monte_carlo.seed, draw, name)
    if distribution.per == "all":
        return float(distribution.draw(rng, 1)[0])
    ids = _unit_ids(units, distribution.per, name)
    return pd.Series(distribution.draw(rng, len(ids)), index=ids, name=name)


def _unit_ids(units: Mapping[str, Sequence[Any]] | None, kind: str, name: str) -> pd.Index:
    """The sorted ids of one kind of unit, so a unit's value does not depend on the order given."""
    if units is None or kind not in units:
        raise ValueError(f"{name} is drawn per {kind}: give units[{kind!r}], the {kind} ids")
    ids = pd.Index(units[kind], name=kind)
    if not ids.is_unique:
        raise ValueError(f"units[{kind!r}] names {', '.join(map(str, ids[ids.duplicated()].unique()))} "
                         f"more than once")
    return ids.sort_values()
