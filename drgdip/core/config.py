"""The config engine: typed, frozen configuration sections whose errors name the key path and what is allowed.

A section is a frozen dataclass deriving from :class:`Config`. Each field declares its type (``float``,
``int``, ``bool``, ``str``, ``Literal[...]``, ``tuple[X, ...]``, ``tuple[X, Y]``, ``Mapping[K, V]``,
``X | None``, a nested section or a ``NamedTuple``) and, through :func:`param`, its range and doc. Every
construction, from a parsed YAML mapping with :func:`build` or directly in Python, converts each field
with the same :func:`convert` and then runs the section's own :meth:`Config.check` (cross-field checks,
derived defaults). A bad value raises :class:`~drgdip.core.errors.ConfigError` naming the key path
(``settlement.overspend.bands[1].fund_share``, or ``Trim.method`` for a section built in Python), the
problem and the allowed values or range; an unknown key gets a "did you mean" suggestion.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import types
import typing
from dataclasses import MISSING
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping, NamedTuple, Union

from drgdip.core.errors import ConfigError

__all__ = ["Config", "ConfigError", "FrozenDict", "build", "convert", "describe", "param", "require", "read_yaml"]


class FrozenDict(dict):
    """A read-only dict (mapping-valued fields stay immutable inside frozen sections)."""

    def _readonly(self, *args, **kwargs):
        raise TypeError("configuration mappings are read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore
    __ior__ = _readonly  # type: ignore

    def __hash__(self):
        return hash(tuple(sorted(self.items(), key=lambda kv: str(kv[0]))))

    def __reduce__(self):
        return (FrozenDict, (dict(self),))


def param(default: Any = MISSING, *, ge: float | None = None, gt: float | None = None,
          le: float | None = None, lt: float | None = None, doc: str = "",
          default_factory: Any = MISSING) -> Any:
    """A dataclass field with a range (``ge``/``gt`` lower, ``le``/``lt`` upper bound) and a doc line.

    The range applies to a number, to every item of a tuple and to every value of a mapping.
    """
    metadata = {"ge": ge, "gt": gt, "le": le, "lt": lt, "doc": doc}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def require(condition: bool, key: str, problem: str) -> None:
    """A cross-field check inside :meth:`Config.check`: fail at ``key`` (relative to the section)."""
    if not condition:
        raise ConfigError(problem, key=key)


class _Field(NamedTuple):
    name: str
    type: Any
    metadata: Mapping[str, Any]
    required: bool


_FIELDS: dict[type, tuple[_Field, ...]] = {}


def _fields(cls: type) -> tuple[_Field, ...]:
    """The init fields of a section or NamedTuple with their resolved annotations (cached per class)."""
    found = _FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        if _is_named_tuple(cls):
            found = tuple(_Field(name, hints[name], {}, name not in cls._field_defaults) for name in cls._fields)
        else:
            found = tuple(_Field(f.name, hints[f.name], f.metadata,
                                 f.default is MISSING and f.default_factory is MISSING)
                          for f in dataclasses.fields(cls) if f.init)
        _FIELDS[cls] = found
    return found


class Config:
    """Base of a configuration section (decorate the subclass with ``@dataclass(frozen=True)``).

    On construction every field is converted to its declared type and range, then :meth:`check` runs.
    ``class Phase(Config, list_form=True)`` also accepts the section written as a list of its field
    values in declaration order (``[1, 30, 300.0, 0.8]``).
    """

    list_form: ClassVar[bool] = False

    def __init_subclass__(cls, list_form: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__post_init__" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: put cross-field checks in check(), not __post_init__")
        cls.list_form = list_form

    def __post_init__(self) -> None:
        cls = type(self)
        try:
            for spec in _fields(cls):
                value = convert(spec.type, getattr(self, spec.name), spec.name, spec.metadata)
                object.__setattr__(self, spec.name, value)
            self.check()
        except ConfigError as error:
            if error.section is not None:
                raise
            raise ConfigError(error.problem, key=error.key, section=cls) from None

    def check(self) -> None:
        """Cross-field checks and derived defaults, after every field is converted (override).

        Fail with :func:`require`; set a derived value with :meth:`derive`.
        """

    def derive(self, **values: Any) -> None:
        """Set fields whose default depends on other fields (during :meth:`check` only)."""
        for name, value in values.items():
            object.__setattr__(self, name, value)


# ------------------------------------------------------------------------------------------ messages

def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _is_mapping(origin: Any) -> bool:
    return origin is not None and getattr(origin, "__name__", "") in ("Mapping", "dict")


def _is_named_tuple(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _record_names(tp: Any) -> list[str]:
    return [spec.name for spec in _fields(tp)]


def describe(tp: Any) -> str:
    """Human description of an annotation, for messages."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is str:
        return "text"
    if tp is Any:
        return "any value"
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else describe(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list (each item: {describe(args[0])})"
        if len(set(args)) == 1:
            return f"a list of {len(args)} items (each: {describe(args[0])})"
        return "a list [" + ", ".join(describe(a) for a in args) + "]"
    if _is_mapping(origin):
        return f"a mapping of {describe(args[0])} -> {describe(args[1])}"
    if _is_named_tuple(tp):
        return f"a list [{', '.join(tp._fields)}] or a mapping with those keys"
    if _is_section(tp):
        names = ", ".join(_record_names(tp))
        if getattr(tp, "list_form", False):
            return f"a mapping with keys {names} or a list of their values in that order"
        return f"a mapping with keys {names}"
    return getattr(tp, "__name__", str(tp))


def _number_hint(value: Any) -> str:
    """A hint for numbers YAML 1.1 reads as text (``1e9`` needs a decimal point: ``1.0e+9``)."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (YAML reads this as text: write it as a plain number such as 1000000000, 1.0e+9 or .inf)"
    return ""


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, numbers.Real):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _range_text(meta: Mapping[str, Any]) -> str | None:
    lower = (f"{meta['ge']} <=" if meta.get("ge") is not None
             else f"{meta['gt']} <" if meta.get("gt") is not None else "")
    upper = (f"<= {meta['le']}" if meta.get("le") is not None
             else f"< {meta['lt']}" if meta.get("lt") is not None else "")
    if not lower and not upper:
        return None
    return " ".join(p for p in (lower, "value", upper) if p)


def _check_range(value: Any, meta: Mapping[str, Any], path: str) -> None:
    bad = ((meta.get("ge") is not None and value < meta["ge"])
           or (meta.get("gt") is not None and value <= meta["gt"])
           or (meta.get("le") is not None and value > meta["le"])
           or (meta.get("lt") is not None and value >= meta["lt"]))
    if bad:
        raise ConfigError(f"{value!r} is out of range; allowed: {_range_text(meta)}", key=path)


# ---------------------------------------------------------------------------------------- conversion

def _is_number(value: Any) -> bool:
    kind = type(value)
    if kind is float or kind is int:
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def convert(tp: Any, value: Any, path: str, meta: Mapping[str, Any] | None = None) -> Any:
    """Convert one value (parsed YAML or Python) to annotation ``tp``; raise ConfigError at ``path``."""
    meta = meta or {}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"must not be null; expected {describe(tp)}", key=path)
        options = [a for a in args if a is not type(None)]
        for option in options:
            if _accepts(option, value):
                try:
                    return convert(option, value, path, meta)
                except ConfigError as error:
                    if len(options) == 1 and error.key == path:   # X | None: say that null is allowed too
                        raise ConfigError(f"{error.problem} (or null)", key=path) from None
                    raise
        for option in options:
            try:
                return convert(option, value, path, meta)
            except ConfigError:
                pass
        raise ConfigError(f"expected {describe(tp)}, got {_type_name(value)}{_number_hint(value)}", key=path)
    if value is None:
        raise ConfigError(f"must not be null; expected {describe(tp)}", key=path)
    if origin is Literal:
        for allowed in args:
            if isinstance(allowed, str) and isinstance(value, str) and value == allowed:
                return allowed
            if _is_number(allowed) and _is_number(value) and value == allowed:
                return allowed
        raise ConfigError(f"{value!r} is not allowed; allowed: {', '.join(map(str, args))}", key=path)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"expected true or false, got {_type_name(value)}", key=path)
    if tp is int:
        if not _is_number(value) or not (isinstance(value, numbers.Integral) or float(value).is_integer()):
            raise ConfigError(f"expected a whole number, got {_type_name(value)}{_number_hint(value)}", key=path)
        value = int(value)
        _check_range(value, meta, path)
        return value
    if tp is float:
        if not _is_number(value):
            raise ConfigError(f"expected a number, got {_type_name(value)}{_number_hint(value)}", key=path)
        value = float(value)
        if math.isnan(value):
            raise ConfigError("expected a number, got .nan", key=path)
        _check_range(value, meta, path)
        return value
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return str(value)   # codes such as 222400 written without quotes
        raise ConfigError(f"expected text, got {_type_name(value)}", key=path)
    if origin is tuple:
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"expected {describe(tp)}, got {_type_name(value)}", key=path)
        if len(args) == 2 and args[1] is Ellipsis:
            items = [args[0]] * len(value)
        elif len(value) != len(args):
            raise ConfigError(f"expected {describe(tp)}, got {_type_name(value)}", key=path)
        else:
            items = list(args)
        return tuple(convert(item, v, f"{path}[{i}]", meta) for i, (item, v) in enumerate(zip(items, value)))
    if _is_mapping(origin):
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected {describe(tp)}, got {_type_name(value)}", key=path)
        key_tp, value_tp = args
        return FrozenDict({_mapping_key(key_tp, key, path): convert(value_tp, item, _join(path, key), meta)
                           for key, item in value.items()})
    if _is_named_tuple(tp):
        if isinstance(value, (list, tuple)) and not isinstance(value, str):
            value = _positional(tp, value, path)
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected {describe(tp)}, got {_type_name(value)}", key=path)
        return tp(**_convert_fields(tp, value, path))
    if _is_section(tp):
        if isinstance(value, tp):
            return value
        return build(tp, value, path)
    raise TypeError(f"unsupported annotation {tp!r} at {path}")  # programming error, not user input


def _mapping_key(tp: Any, key: Any, path: str) -> Any:
    """A mapping key; whole numbers written as text (``"3": 1.2``) count as numbers."""
    if tp is int and isinstance(key, str) and key.strip().lstrip("-").isdigit():
        return int(key)
    return convert(tp, key, _join(path, key))


def _accepts(tp: Any, value: Any) -> bool:
    """Whether ``value`` has the Python type ``tp`` expects (to pick a Union member)."""
    origin = typing.get_origin(tp)
    if tp is bool:
        return isinstance(value, bool)
    if tp in (int, float):
        return _is_number(value)
    if tp is str:
        return isinstance(value, str)
    if origin is Literal:
        return isinstance(value, (str, numbers.Real)) and not isinstance(value, bool)
    if origin is tuple:
        return isinstance(value, (list, tuple))
    if _is_section(tp):
        return isinstance(value, (Mapping, tp))
    if _is_mapping(origin):
        return isinstance(value, Mapping)
    return False


def _positional(tp: Any, values: Any, path: str) -> dict:
    """A record written as a list of its field values in declaration order."""
    names = _record_names(tp)
    if len(values) > len(names):
        raise ConfigError(f"expected at most {len(names)} values [{', '.join(names)}], got {len(values)}",
                          key=path)
    return dict(zip(names, values))


def _convert_fields(tp: Any, data: Mapping, path: str) -> dict:
    """Convert the values of a record mapping: unknown keys, missing required keys, each field's type."""
    specs = _fields(tp)
    names = [spec.name for spec in specs]
    for key in data:
        if str(key) not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            suggestion = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"unknown key{suggestion}; allowed keys here: {', '.join(names)}",
                              key=_join(path, key))
    values = {}
    for spec in specs:
        key_path = _join(path, spec.name)
        if spec.name not in data:
            if spec.required:
                raise ConfigError(f"missing required key; expected {describe(spec.type)}", key=key_path)
            continue
        values[spec.name] = convert(spec.type, data[spec.name], key_path, spec.metadata)
    return values


def build(cls: type, data: Any, path: str = "") -> Any:
    """Build section ``cls`` from a parsed mapping (None = all defaults); ``path`` is the key path of ``data``."""
    if data is None:
        data = {}
    if getattr(cls, "list_form", False) and isinstance(data, (list, tuple)):
        data = _positional(cls, data, path)
    if not isinstance(data, Mapping):
        raise ConfigError(f"must be {describe(cls)}; got {_type_name(data)}", key=path or None)
    values = _convert_fields(cls, data, path)
    try:
        return cls(**values)
    except ConfigError as error:
        if error.section is not cls:
            raise
        key = _join(path, error.key) if error.key else (path or None)
        raise ConfigError(error.problem, key=key) from None


def read_yaml(path, *, what: str = "configuration") -> Any:
    """A YAML file parsed with ``yaml.safe_load``; unreadable text or a key given twice in one mapping is
    a :class:`ConfigError` naming the file, the line and the key path.

    YAML lets the last of two equal keys win without a word (a doubled ``reserve_share`` line would
    silently replace the first), so duplicates are looked for in the document's node tree first.
    """
    import yaml

    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found", file=name) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the {what} file: {error}", file=name) from None
    try:
        _reject_duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader), "", name)
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"not valid YAML{where}: {problem}", file=name) from None


def _reject_duplicate_keys(node, path: str, file: str) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(f"key given twice (lines {seen[key]} and {line}); only one value may stand",
                                  file=f"{file}, line {line}", key=_join(path, key))
            seen[key] = line
            _reject_duplicate_keys(value_node, _join(path, key), file)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _reject_duplicate_keys(item, f"{path}[{position}]", file)
