"""Typed conversion of parsed YAML mappings into frozen dataclasses, with key-path error messages.

One validation layer for the budget policy: each dataclass field declares its type (``float``,
``int``, ``bool``, ``str``, ``Literal[...]``, ``tuple[X, ...]``, ``Mapping[str, X]``, ``X | None``,
a nested dataclass) and, through :func:`param`, its range. :func:`build` walks a mapping, converts
every value, checks every range and raises :class:`PolicyError` naming the key path
(``settlement.overspend.bands[1].fund_share``), the problem and the allowed values or range.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import MISSING
from typing import Any, Literal, Mapping, Union

from drgdip.core.errors import UsageError


class PolicyError(UsageError):
    """A policy file is unusable; the message names the file, the key path and what is allowed."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        super().__init__(message, file=file, field=key)
        self.key, self.raw_message = key, message

    def with_file(self, file: str) -> "PolicyError":
        """The same error, naming ``file``."""
        return PolicyError(self.raw_message, file=file, key=self.key)


class FrozenDict(dict):
    """A read-only dict (mapping-valued policy fields stay immutable inside frozen dataclasses)."""

    def _readonly(self, *args, **kwargs):
        raise TypeError("policy mappings are read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore

    def __hash__(self):
        return hash(tuple(sorted(self.items(), key=lambda kv: str(kv[0]))))

    def __reduce__(self):
        return (FrozenDict, (dict(self),))


def param(default: Any = MISSING, *, ge: float | None = None, gt: float | None = None,
          le: float | None = None, lt: float | None = None, doc: str = "",
          default_factory: Any = MISSING) -> Any:
    """A dataclass field with a documented range (``ge``/``gt`` lower, ``le``/``lt`` upper bound)."""
    metadata = {"ge": ge, "gt": gt, "le": le, "lt": lt, "doc": doc}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


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
        return f"a list of {describe(args[0])}"
    if _is_mapping(origin):
        return f"a mapping of {describe(args[0])} -> {describe(args[1])}"
    if dataclasses.is_dataclass(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    return getattr(tp, "__name__", str(tp))


def _number_hint(value: Any) -> str:
    """A hint for numbers YAML 1.1 reads as text (``1e9`` needs a decimal point: ``1.0e+9``)."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (YAML reads this as text: write it as a plain number such as 1000000000 or 1.0e+9)"
    return ""


def _is_mapping(origin: Any) -> bool:
    return origin is not None and getattr(origin, "__name__", "") in ("Mapping", "dict")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
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
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    bad = ((meta.get("ge") is not None and value < meta["ge"])
           or (meta.get("gt") is not None and value <= meta["gt"])
           or (meta.get("le") is not None and value > meta["le"])
           or (meta.get("lt") is not None and value >= meta["lt"]))
    if bad:
        raise PolicyError(f"{value!r} is out of range; allowed: {_range_text(meta)}", key=path)


def convert(tp: Any, value: Any, path: str, meta: Mapping[str, Any] | None = None) -> Any:
    """Convert one parsed YAML value to annotation ``tp``; raise :class:`PolicyError` at ``path``."""
    meta = meta or {}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise PolicyError(f"must not be null; expected {describe(tp)}", key=path)
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            if _accepts(option, value):
                return convert(option, value, path, meta)
        for option in options:
            try:
                return convert(option, value, path, meta)
            except PolicyError as error:
                errors.append(error)
        raise PolicyError(f"expected {describe(tp)}, got {_type_name(value)}{_number_hint(value)}",
                          key=path)
    if value is None:
        raise PolicyError(f"must not be null; expected {describe(tp)}", key=path)
    if origin is Literal:
        for allowed in args:
            if value == allowed and type(value) is type(allowed):
                return value
        raise PolicyError(f"{value!r} is not allowed; allowed: {', '.join(map(str, args))}", key=path)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise PolicyError(f"expected true or false, got {_type_name(value)}", key=path)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise PolicyError(f"expected a whole number, got {_type_name(value)}", key=path)
        _check_range(value, meta, path)
        return int(value)
    if tp is float:
        if isinstance(value, str):
            raise PolicyError(f"expected a number, got {_type_name(value)}{_number_hint(value)}", key=path)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PolicyError(f"expected a number, got {_type_name(value)}", key=path)
        if math.isnan(value):
            raise PolicyError("expected a number, got .nan", key=path)
        _check_range(value, meta, path)
        return float(value)
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)   # codes such as 222400 written without quotes
        raise PolicyError(f"expected text, got {_type_name(value)}", key=path)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise PolicyError(f"expected {describe(tp)}, got {_type_name(value)}", key=path)
        item = args[0]
        return tuple(convert(item, v, f"{path}[{i}]", meta) for i, v in enumerate(value))
    if _is_mapping(origin):
        if not isinstance(value, Mapping):
            raise PolicyError(f"expected {describe(tp)}, got {_type_name(value)}", key=path)
        key_tp, value_tp = args
        out = {}
        for key, item in value.items():
            converted_key = convert(key_tp, key, f"{path}.{key}")
            out[converted_key] = convert(value_tp, item, _join(path, key), meta)
        return FrozenDict(out)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, path)
    raise TypeError(f"unsupported annotation {tp!r} at {path}")  # programming error, not user input


def _accepts(tp: Any, value: Any) -> bool:
    """Whether ``value`` has the Python type ``tp`` expects (to pick a Union member)."""
    origin = typing.get_origin(tp)
    if tp is bool:
        return isinstance(value, bool)
    if tp in (int, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is Literal:
        return value in typing.get_args(tp)
    if origin is tuple:
        return isinstance(value, (list, tuple))
    if dataclasses.is_dataclass(tp) or _is_mapping(origin):
        return isinstance(value, Mapping)
    return False


def build(cls: type, data: Any, path: str = "") -> Any:
    """Build frozen dataclass ``cls`` from a parsed mapping; ``path`` is the key path of ``data``."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        where = path or "the policy"
        raise PolicyError(f"{where} must be {describe(cls)}; got {_type_name(data)}", key=path or None)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for key in data:
        if str(key) not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            suggestion = f" (did you mean {close[0]}?)" if close else ""
            raise PolicyError(f"unknown key{suggestion}; allowed keys here: {', '.join(fields)}",
                              key=_join(path, key))
    kwargs = {}
    for name, spec in fields.items():
        key_path = _join(path, name)
        if name not in data:
            if spec.default is MISSING and spec.default_factory is MISSING:
                raise PolicyError(f"missing required key; expected {describe(hints[name])}", key=key_path)
            continue
        kwargs[name] = convert(hints[name], data[name], key_path, spec.metadata)
    try:
        return cls(**kwargs)
    except PolicyError as error:
        if error.key is None:
            raise PolicyError(error.raw_message, key=path or None) from None
        raise
    except _RelativeError as error:
        raise PolicyError(error.message, key=_join(path, error.key)) from None
    except ValueError as error:
        raise PolicyError(str(error), key=path or None) from None


def check(condition: bool, key: str, message: str) -> None:
    """Cross-field check inside ``__post_init__``: raise at ``key`` (relative to the dataclass)."""
    if not condition:
        raise _RelativeError(key, message)


class _RelativeError(ValueError):
    """Raised by :func:`check`; :func:`build` prefixes the dataclass's own key path."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key, self.message = key, message
