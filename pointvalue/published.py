"""Published city DRG weight and payment tables (病组权重 / 支付标准), read as the cities publish them.

A city hands the agency one CSV row per DRG with whatever columns it publishes: RW, payment standards per
hospital tier and insurance type, level coefficients, base rates, basic / unstable / special-review flags.
:func:`read_published_table` reads such a file unchanged:

* **encoding** -- a UTF-8 byte-order mark means UTF-8; otherwise the bytes are decoded strictly as UTF-8
  and, failing that, strictly as GB18030 (which contains GBK and GB2312). Both are strict decodes, so a
  file is never silently mis-decoded into other characters; when neither decodes, the error names the
  line and byte where each failed. A mis-decoding that happens to be valid is caught by the header map:
  its headers would match nothing, and the group column is required.
* **headers** -- the declarative header map ``header_map.yaml`` (package data beside the shipped tables)
  says which engine field each Chinese header fills, with the hospital tier and insurance type of
  per-level columns. Headers it does not know are kept as extra columns under their own name.
* **cells** -- numbers may carry spaces, thousands separators (``12,345.6``) or full-width digits;
  the map's ``not_published`` cells (blank, ``-``, ``无``, ``按项目据实支付``) mean the group has no value;
  anything else that is not a number is an error naming the file, the line and the column. Flags read
  ``是/否/※``; the city's group classes (``病组类型``) read through the map's ``group_types``.

The result is a :class:`PublishedTable`: every published row with its file line (``frame``), the
:class:`~drgdip.pointvalue.weights.WeightTable` of the groups with a positive weight (``weights``, for
``drgdip settle --weights`` and the synthetic costs), and the per-tier payment standards, level
coefficients and base rates. :func:`price_stays` prices stays with it as the city publishes: the
payment standard of the stay's group, tier and insurance type, or RW × base rate × level coefficient
(domain.md §2.3), or standard score × level coefficient.

The 27 tables of OpenDRG/DRG_Datas ship in ``drgdip/data/payment/`` byte for byte; a policy or the CLI
names them by :func:`published_table_names` (``qingdao-2023``).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Literal, Mapping

import numpy as np
import pandas as pd

from drgdip.core.errors import ConfigError, UsageError
from drgdip.core.resources import payment_table_names, payment_tables_dir
from drgdip.pointvalue._io import code_column, group_index
from drgdip.pointvalue.weights import WeightTable

if TYPE_CHECKING:
    from drgdip.pointvalue.rules import PublishedTableRules

__all__ = ["PublishedTable", "PublishedColumn", "HeaderMap", "SchemeCoverage", "read_published_table",
           "published_table_names", "published_table_path", "published_table_info", "load_header_map",
           "decode_table", "is_published_table", "price_stays", "WeightsFile", "table_beside", "published_level_coefs",
           "PRICE_COLUMNS",
           "PRICE_METHODS", "UNPRICED_REASONS"]

UTF8_BOM = b"\xef\xbb\xbf"
FIELDS = ("group", "name", "rw", "standard_score", "payment_standard", "base_rate", "level_coef", "mean_cost",
          "low_threshold", "high_threshold", "group_type", "is_basic", "stable", "special_review", "tcm_advantage",
          "volume_controlled", "volume_cap")
FLAG_FIELDS = ("is_basic", "stable", "special_review", "tcm_advantage", "volume_controlled")
PER_TIER_FIELDS = ("payment_standard", "base_rate", "level_coef", "low_threshold", "high_threshold")
INSURANCE_TYPES = ("employee", "resident")
GROUP_TYPE_FLAGS = ("is_basic", "stable", "covered", "tiered_care")

PRICE_COLUMNS = ("group", "tier", "insurance_type", "price_method", "rw", "base_rate", "level_coef",
                 "published_standard", "price", "unpriced_reason")
UNPRICED_REASONS = ("", "ungrouped", "not_in_table", "listed_twice", "not_covered", "not_published", "no_tier",
                    "no_base_rate", "no_level_coef")
PRICE_METHODS = ("unpriced", "standard", "score", "rw_rate")
_REASON = {name: code for code, name in enumerate(UNPRICED_REASONS)}
_METHOD = {name: code for code, name in enumerate(PRICE_METHODS)}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


# ----------------------------------------------------------------------------------------------
# the header map

@dataclass(frozen=True)
class PublishedColumn:
    """How one header of a published table is read: the engine ``field`` it fills and, for per-level
    columns, its hospital ``tier`` and ``insurance`` type; ``field`` None keeps it as an extra column."""

    header: str
    position: int                 # 0-based column of the file
    field: str | None
    tier: str | None = None
    insurance: str | None = None
    negate: bool = False

    @property
    def key(self) -> str:
        """Column name in :attr:`PublishedTable.frame`: the field, qualified as ``field[tier,insurance]``."""
        if self.field is None:
            return self.header
        qualifiers = [q for q in (self.tier, self.insurance) if q]
        return f"{self.field}[{','.join(qualifiers)}]" if qualifiers else self.field


@dataclass(frozen=True)
class HeaderMap:
    """The declarative header map (``header_map.yaml``): header -> field, tier, insurance type; the
    default tier of each hospital level; the cells meaning "not published"; flag values; group classes."""

    columns: Mapping[str, tuple[str, str | None, str | None, bool]]
    level_tiers: Mapping[int, str]
    not_published: Mapping[str, str]
    true_values: frozenset
    false_values: frozenset
    group_types: Mapping[str, Mapping[str, bool]]
    source: str = "header_map.yaml"

    @classmethod
    def from_mapping(cls, data, source: str) -> "HeaderMap":
        """Validate a parsed header map; errors name the file and the key path."""
        def fail(key: str, problem: str):
            raise ConfigError(problem, file=source, key=key)

        if not isinstance(data, Mapping):
            fail("", "must be a mapping with 'columns', 'level_tiers', 'not_published', ...")
        known = {"columns", "level_tiers", "not_published", "true_values", "false_values", "group_types"}
        for key in data:
            if key not in known:
                fail(str(key), f"unknown key; allowed: {', '.join(sorted(known))}")
        columns: dict[str, tuple] = {}
        for i, entry in enumerate(data.get("columns") or ()):
            where = f"columns[{i}]"
            if not isinstance(entry, Mapping) or "field" not in entry or "headers" not in entry:
                fail(where, "each entry needs 'field' and 'headers'")
            unknown = set(entry) - {"field", "headers", "tier", "insurance", "negate"}
            if unknown:
                fail(f"{where}.{sorted(unknown)[0]}", "unknown key; allowed: field, headers, tier, insurance, negate")
            name = entry["field"]
            if name not in FIELDS:
                fail(f"{where}.field", f"unknown field {name!r}; allowed: {', '.join(FIELDS)}")
            tier, insurance = entry.get("tier"), entry.get("insurance")
            if (tier is not None or insurance is not None) and name not in PER_TIER_FIELDS:
                fail(where, f"only {', '.join(PER_TIER_FIELDS)} take a tier or an insurance type")
            if insurance is not None and insurance not in INSURANCE_TYPES:
                fail(f"{where}.insurance", f"unknown insurance type {insurance!r}; allowed: "
                                           f"{', '.join(INSURANCE_TYPES)}")
            negate = bool(entry.get("negate", False))
            if negate and name not in FLAG_FIELDS:
                fail(f"{where}.negate", f"only flag fields ({', '.join(FLAG_FIELDS)}) can be negated")
            headers = entry["headers"]
            headers = [headers] if isinstance(headers, str) else list(headers)
            for header in headers:
                text = _clean_header(str(header))
                if text in columns:
                    fail(f"{where}.headers", f"header {text!r} is mapped twice")
                columns[text] = (name, None if tier is None else str(tier), insurance, negate)
        if not any(spec[0] == "group" for spec in columns.values()):
            fail("columns", "no header is mapped to the field 'group'")
        tiers = data.get("level_tiers") or {}
        if not isinstance(tiers, Mapping) or not all(isinstance(k, int) for k in tiers):
            fail("level_tiers", "must map hospital levels (integers) to tiers, e.g. {3: 三级}")
        not_published = data.get("not_published") or {}
        if not isinstance(not_published, Mapping):
            fail("not_published", "must map cell texts to what they mean")
        group_types = data.get("group_types") or {}
        for label, flags in group_types.items():
            for flag in flags or {}:
                if flag not in GROUP_TYPE_FLAGS:
                    fail(f"group_types.{label}.{flag}", f"unknown flag; allowed: {', '.join(GROUP_TYPE_FLAGS)}")
        true_values = frozenset(str(v) for v in data.get("true_values") or ())
        false_values = frozenset(str(v) for v in data.get("false_values") or ())
        both = true_values & false_values
        if both:
            fail("true_values", f"{sorted(both)[0]!r} is both a true and a false value")
        return cls(columns=columns, level_tiers={int(k): str(v) for k, v in tiers.items()},
                   not_published={str(k): str(v) for k, v in not_published.items()},
                   true_values=true_values, false_values=false_values,
                   group_types={str(k): dict(v or {}) for k, v in group_types.items()}, source=source)

    def read_header(self, names: list[str]) -> tuple[PublishedColumn, ...]:
        """How each header of a file is read, in file order."""
        columns = []
        for position, raw in enumerate(names):
            header = _clean_header(raw)
            spec = self.columns.get(header)
            if spec is None:
                columns.append(PublishedColumn(header or f"column {position + 1}", position, None))
            else:
                columns.append(PublishedColumn(header, position, spec[0], spec[1], spec[2], spec[3]))
        return tuple(columns)


def _clean_header(text: str) -> str:
    return text.strip().strip("\ufeff").strip()


@lru_cache(maxsize=4)
def _header_map_at(path: str) -> HeaderMap:
    from drgdip.core.config import read_yaml

    return HeaderMap.from_mapping(read_yaml(path, what="header map"), source=path)


def load_header_map(path=None) -> HeaderMap:
    """The header map at ``path``, by default the one shipped with the tables (``header_map.yaml``)."""
    return _header_map_at(str(path if path is not None else payment_tables_dir() / "header_map.yaml"))


# ----------------------------------------------------------------------------------------------
# the shipped tables

@lru_cache(maxsize=1)
def _index() -> pd.DataFrame:
    return pd.read_csv(payment_tables_dir() / "index.csv", dtype=str, keep_default_na=False).set_index("name")


def published_table_names() -> tuple[str, ...]:
    """Names of the published tables shipped with drgdip (``beijing-2022`` ... ``yunnan-2022``)."""
    return payment_table_names()


def published_table_info() -> pd.DataFrame:
    """The shipped tables: ``name`` (index), ``published_as`` (the upstream file name), ``city``,
    ``city_en``, ``year``."""
    return _index().copy()


def published_table_path(name: str) -> Path:
    """Path of a shipped table by name; an unknown name is an error listing the names."""
    if name not in _index().index:
        raise UsageError(f"unknown published table {name!r}; built-in tables: {', '.join(published_table_names())}")
    return payment_tables_dir() / f"{name}.csv"


def table_beside(table: str, policy_file) -> str:
    """A policy's table: a built-in name as it is; a relative CSV path from the policy file's folder when the
    file is there (else as given, from the working directory)."""
    if policy_file and table.lower().endswith((".csv", ".txt")) and not Path(table).is_absolute():
        beside = Path(policy_file).parent / table
        if beside.is_file():
            return str(beside)
    return table


def _resolve(source) -> tuple[Path, str]:
    """(path, name) of a built-in name or a file."""
    if isinstance(source, str) and source in _index().index:
        return published_table_path(source), source
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"published table not found (not a file, nor a built-in table: "
                         f"{', '.join(published_table_names())})", file=str(source))
    return path, path.stem


# ----------------------------------------------------------------------------------------------
# decoding

def decode_table(data: bytes, file: str, encoding: str | None = None) -> tuple[str, str]:
    """``(text, encoding)`` of a table's bytes, decoded strictly.

    ``encoding`` given: that codec. Otherwise a UTF-8 byte-order mark means ``utf-8-sig``; else UTF-8,
    and if that fails GB18030. An undecodable file is a :class:`UsageError` naming the line and byte
    where each encoding failed.
    """
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise UsageError(f"unknown encoding {encoding!r}", file=file) from None
        except UnicodeDecodeError as error:
            raise UsageError(f"not valid {encoding}: {_where(data, error)}", file=file) from None
    if data.startswith(UTF8_BOM):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as error:
            raise UsageError(f"starts with a UTF-8 byte-order mark but is not valid UTF-8: {_where(data, error)}",
                             file=file) from None
    failures = []
    for codec in ("utf-8", "gb18030"):
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError as error:
            failures.append(f"{codec}: {_where(data, error)}")
    raise UsageError("cannot decode the file as UTF-8 or GB18030 (give its encoding): " + "; ".join(failures),
                     file=file)


def _where(data: bytes, error: UnicodeDecodeError) -> str:
    line = data.count(b"\n", 0, error.start) + 1
    column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
    return f"line {line}, byte {column} of the line ({data[error.start:error.end].hex(' ')}: {error.reason})"


def is_published_table(source) -> bool:
    """Whether ``source`` (a built-in name or a CSV file) is a published city table rather than an engine
    weight table: a built-in name, or a CSV whose group column has a header of the header map (the
    engine's own ``group`` / ``drg`` / ``dip_group`` excepted)."""
    if isinstance(source, str) and source in _index().index:
        return True
    path = Path(source)
    if path.suffix.lower() not in (".csv", ".txt") or not path.is_file():
        return False
    with open(path, "rb") as handle:
        head = handle.read(4096)
    line = head.split(b"\n", 1)[0]
    if line.startswith(UTF8_BOM):
        line = line[len(UTF8_BOM):]
    for codec in ("utf-8", "gb18030"):
        try:
            names = next(csv.reader([line.decode(codec)]))
            break
        except (UnicodeDecodeError, StopIteration):
            continue
    else:
        return False
    names = [_clean_header(n) for n in names]
    if {"group", "drg", "dip_group"} & set(names):
        return False
    mapped = load_header_map().columns
    return any(mapped.get(n, ("",))[0] == "group" for n in names)


# ----------------------------------------------------------------------------------------------
# the table

@dataclass(frozen=True)
class SchemeCoverage:
    """Codes of a published table against a grouping scheme: ``not_in_scheme`` (published codes the scheme
    does not have: another version, a typo, a local code such as ``0000``) and ``not_in_table`` (scheme
    DRGs the table does not list)."""

    not_in_scheme: tuple[str, ...]
    not_in_table: tuple[str, ...]


@dataclass(frozen=True)
class PublishedTable:
    """A published city table as read.

    ``frame``: one row per published row, in file order: ``line`` (the file line), ``group``, the mapped
    fields (per-tier columns named ``payment_standard[三级,employee]`` etc., see
    :attr:`PublishedColumn.key`), ``unpriced_reason`` ('' or why no stay of the group is priced: its code
    is listed twice, or its class is not covered) and the extra columns under their headers. ``columns`` says how each
    header was read. ``weights``: the :class:`WeightTable` of the groups with a positive RW (base points =
    RW × points_scale) or, for tables of standard scores, with a positive score (base points = the score,
    points_scale 1); codes listed twice are left out of it. ``notes``: what the reader decided that the
    file does not say itself (short rows, duplicated codes). ``coverage``: the codes against the scheme
    given to the reader (None without one).
    """

    name: str
    source: str
    encoding: str
    frame: pd.DataFrame
    columns: tuple[PublishedColumn, ...]
    weights: WeightTable
    notes: tuple[str, ...] = ()
    coverage: SchemeCoverage | None = None
    header_map: HeaderMap = field(default=None, repr=False)   # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"PublishedTable({self.name!r}: {len(self.frame)} groups, {self.encoding}, fields "
                f"{', '.join(self.fields)}; extra {list(self.extra_columns)})")

    # -- what the file holds ----------------------------------------------------------------
    @property
    def fields(self) -> tuple[str, ...]:
        """Engine fields found in the file, in file order (each once)."""
        return tuple(dict.fromkeys(c.field for c in self.columns if c.field is not None))

    @property
    def extra_columns(self) -> tuple[str, ...]:
        """Headers that fill no field, kept as columns of :attr:`frame` under their own name."""
        return tuple(c.header for c in self.columns if c.field is None)

    @property
    def groups(self) -> pd.Index:
        """Published group codes, in file order."""
        return pd.Index(self.frame["group"].to_numpy(dtype=object))

    def columns_of(self, field_name: str) -> tuple[PublishedColumn, ...]:
        """The columns filling ``field_name`` (several for per-tier fields)."""
        return tuple(c for c in self.columns if c.field == field_name)

    @property
    def tiers(self) -> tuple[str, ...]:
        """Hospital tiers the table publishes standards, rates or coefficients for."""
        return tuple(dict.fromkeys(c.tier for c in self.columns if c.tier is not None))

    def _by_tier(self, field_name: str) -> pd.DataFrame:
        columns = self.columns_of(field_name)
        frame = self.frame[[c.key for c in columns]].copy()
        frame.columns = pd.MultiIndex.from_tuples([(c.tier or "", c.insurance or "") for c in columns],
                                                  names=["tier", "insurance_type"])
        frame.index = self.groups
        return frame

    @property
    def payment_standards(self) -> pd.DataFrame:
        """Payment standards (yuan) by group (rows) and (tier, insurance type) (columns; '' = any)."""
        return self._by_tier("payment_standard")

    @property
    def level_coefs(self) -> pd.DataFrame:
        """Level coefficients by group (rows) and (tier, '') (columns)."""
        return self._by_tier("level_coef")

    @property
    def base_rates(self) -> pd.DataFrame:
        """Base rates (yuan per RW) by group (rows) and (tier, insurance type) (columns; '' = any)."""
        return self._by_tier("base_rate")

    @cached_property
    def _lookup(self) -> tuple[pd.Index, np.ndarray, np.ndarray]:
        """(the codes, each once; the row of each, its first; the unpriced-reason code of every row), worked
        out once per table for :func:`price_stays`."""
        groups = self.groups
        first = np.flatnonzero(~groups.duplicated())   # a code listed twice: its first row, which says so
        reasons = np.asarray([_REASON[r] for r in self.frame["unpriced_reason"]], dtype=np.int8)
        return groups[first], first, reasons

    def missing_codes(self, scheme) -> SchemeCoverage:
        """The table's codes against ``scheme``: a :class:`drgdip.grouper.Scheme` (its DRG codes) or codes."""
        codes = getattr(scheme, "drg_codes", scheme)
        known = pd.Index([str(c) for c in codes]).unique()
        published = self.groups.unique()
        return SchemeCoverage(not_in_scheme=tuple(published[~published.isin(known)]),
                              not_in_table=tuple(sorted(known[~known.isin(published)])))

    def weight_table(self, points_scale: float = 100.0) -> WeightTable:
        """:attr:`weights` at another number of base points per RW."""
        if self.weights.points_scale == points_scale or "rw" not in self.weights.frame.columns:
            return self.weights
        return _weight_table(self.frame, self.columns, self.source, points_scale)

    def price(self, cases, rules: "PublishedTableRules | None" = None, *, group_col: str = "drg") -> pd.DataFrame:
        """:func:`price_stays` with this table."""
        return price_stays(cases, self, rules, group_col=group_col)


@dataclass(frozen=True)
class WeightsFile:
    """A weight table named on the command line or in a policy, and how to read it: ``published`` (a city's
    table, :func:`read_published_table`), ``engine`` (:meth:`WeightTable.from_csv`) or ``auto``
    (:func:`is_published_table` decides)."""

    source: str
    kind: Literal["auto", "engine", "published"] = "auto"

    def load(self, points_scale: float = 100.0) -> WeightTable:
        """The weight table, at ``points_scale`` base points per RW."""
        if self.kind == "published" or (self.kind == "auto" and is_published_table(self.source)):
            return read_published_table(self.source, points_scale=points_scale).weights
        return WeightTable.from_csv(self.source, points_scale=points_scale)


# ----------------------------------------------------------------------------------------------
# reading

def read_published_table(source, *, scheme=None, encoding: str | None = None, header_map=None,
                         points_scale: float = 100.0) -> PublishedTable:
    """Read a published city DRG table (a built-in name such as ``qingdao-2023``, or a CSV file) as it is.

    Parameters
    ----------
    source : str or Path
        Built-in name (:func:`published_table_names`) or CSV path.
    scheme : Scheme or iterable of str, optional
        The grouping scheme the table should match: :attr:`PublishedTable.coverage` lists the codes
        missing on either side.
    encoding : str, optional
        Decode with this codec instead of detecting (see :func:`decode_table`).
    header_map : HeaderMap or path, optional
        Instead of the shipped ``header_map.yaml``.
    points_scale : float
        Base points per RW of :attr:`PublishedTable.weights` (100, the DRG point method).
    """
    path, name = _resolve(source)
    file = str(path)
    hmap = header_map if isinstance(header_map, HeaderMap) else load_header_map(header_map)
    text, used = decode_table(path.read_bytes(), file, encoding)
    rows, lines = _split_rows(text, file)
    notes: list[str] = []
    if not rows:
        raise UsageError("the table is empty (no header line)", file=file, row=1)
    columns = hmap.read_header(rows[0])
    _check_columns(columns, file)
    body, body_lines = rows[1:], lines[1:]
    width = len(columns)
    short = [line for row, line in zip(body, body_lines) if len(row) < width]
    for row, line in zip(body, body_lines):
        if len(row) > width:
            raise UsageError(f"{len(row)} cells in a table of {width} columns", file=file, row=line)
    if short:
        notes.append(f"{len(short)} row(s) have fewer cells than the header (lines {_lines_text(short)}): "
                     f"the missing trailing cells are read as blank")
    cells = [row + [""] * (width - len(row)) for row in body]
    by_column = list(zip(*cells)) if cells else [()] * width
    frame = {"line": np.asarray(body_lines, dtype=np.int64)}
    for column in columns:
        frame[column.key] = _read_column(list(by_column[column.position]), column, hmap, file, body_lines)
    frame = pd.DataFrame(frame)
    frame = _group_types(frame, columns, hmap, file, body_lines)
    frame["unpriced_reason"] = _unpriced_reasons(frame, notes)
    table = PublishedTable(name=name, source=file, encoding=used, frame=frame, columns=columns,
                           weights=_weight_table(frame, columns, file, points_scale), notes=tuple(notes),
                           header_map=hmap)
    if scheme is not None:
        object.__setattr__(table, "coverage", table.missing_codes(scheme))
    return table


def _split_rows(text: str, file: str) -> tuple[list[list[str]], list[int]]:
    """CSV rows (blank lines left out) and the file line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows, lines = [], []
    line = 1
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(line)
            line = reader.line_num + 1
    except csv.Error as error:
        raise UsageError(f"not readable as CSV: {error}", file=file, row=reader.line_num) from None
    return rows, lines


def _lines_text(lines: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(x) for x in lines[:limit])
    return shown + (f" and {len(lines) - limit} more" if len(lines) > limit else "")


def _check_columns(columns: tuple[PublishedColumn, ...], file: str) -> None:
    groups = [c for c in columns if c.field == "group"]
    if not groups:
        raise UsageError(f"no DRG code column: none of the headers ({', '.join(c.header for c in columns)}) is a "
                         f"group header of the header map (is the file in another encoding?)", file=file, row=1)
    seen: dict[str, PublishedColumn] = {}
    for column in columns:
        if column.key in seen:
            raise UsageError(f"columns {seen[column.key].position + 1} ({seen[column.key].header}) and "
                             f"{column.position + 1} ({column.header}) both give {column.key}", file=file, row=1,
                             field=column.header)
        seen[column.key] = column


def _read_column(values: list[str], column: PublishedColumn, hmap: HeaderMap, file: str, lines: list[int]):
    """One column's cells as the field reads them: text (extra columns, name, group class, code), flags or
    numbers (every other field); tables are small, so this is plain Python over the cells."""
    text = [_clean_cell(v) for v in values]
    if column.field is None or column.field in ("name", "group_type"):
        return np.asarray(text, dtype=object)
    if column.field == "group":
        for i, code in enumerate(text):
            if not code:
                raise UsageError(f"column {column.position + 1}: the DRG code is blank", file=file,
                                 row=lines[i], field=column.header)
        return np.asarray(text, dtype=object)
    if column.field in FLAG_FIELDS:
        flags = np.zeros(len(text), dtype=bool)
        for i, cell in enumerate(text):
            if cell in hmap.true_values:
                flags[i] = True
            elif cell not in hmap.false_values:
                allowed = ", ".join(repr(v) for v in sorted(hmap.true_values | hmap.false_values))
                raise UsageError(f"column {column.position + 1}: {cell!r} is not a flag value ({allowed})",
                                 file=file, row=lines[i], field=column.header)
        return flags != column.negate
    return _numbers(text, column, hmap, file, lines)


def _clean_cell(text: str) -> str:
    """NFKC (full-width digits, signs and spaces to ASCII) and trimmed."""
    return unicodedata.normalize("NFKC", text).strip() if not text.isascii() else text.strip()


def _numbers(text: list[str], column: PublishedColumn, hmap: HeaderMap, file: str, lines: list[int]) -> np.ndarray:
    """Numbers of a column: not-published cells missing, thousands separators dropped, others an error."""
    values = np.full(len(text), np.nan)
    for i, cell in enumerate(text):
        if cell in hmap.not_published:
            continue
        plain = cell.replace(",", "") if _THOUSANDS.match(cell) else cell
        if not _NUMBER.match(plain):
            raise UsageError(f"column {column.position + 1}: {cell!r} is not a number (nor a not-published mark: "
                             f"{', '.join(repr(k) for k in hmap.not_published)})", file=file, row=lines[i],
                             field=column.header)
        value = float(plain)
        if value < 0:
            raise UsageError(f"column {column.position + 1}: {cell!r} is negative", file=file, row=lines[i],
                             field=column.header)
        values[i] = value
    return values


def _group_types(frame: pd.DataFrame, columns, hmap: HeaderMap, file: str, lines: list[int]) -> pd.DataFrame:
    """Flags set by the city's group classes (病组类型: 基础组 -> is_basic, 未覆盖组 -> not covered, ...)."""
    flags = {"is_basic": None, "stable": None, "covered": None, "tiered_care": None}
    for column in columns:
        if column.field != "group_type":
            continue
        labels = frame[column.key]
        unknown = ~labels.isin(list(hmap.group_types) + [""]).to_numpy()
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise UsageError(f"column {column.position + 1}: unknown group class {labels.iloc[row]!r} (known: "
                             f"{', '.join(hmap.group_types)}; add it to the header map's group_types)",
                             file=file, row=int(lines[row]), field=column.header)
        for flag in flags:
            per_label = {label: said[flag] for label, said in hmap.group_types.items() if flag in said}
            if per_label:
                value = labels.map(per_label)
                flags[flag] = value if flags[flag] is None else flags[flag].fillna(value)
    defaults = {"is_basic": False, "stable": True, "covered": True, "tiered_care": False}
    for flag, value in flags.items():
        if value is not None and flag not in frame.columns:   # a flag column of its own has the last word
            frame[flag] = np.where(value.isna().to_numpy(), defaults[flag], value.to_numpy() == True)  # noqa: E712
    return frame


def _unpriced_reasons(frame: pd.DataFrame, notes: list[str]) -> pd.Series:
    """Why no stay of a row's group can be priced, whatever its tier: its code is listed twice, or its class
    is not covered ('' otherwise); a duplicated code is also told in ``notes``."""
    reason = pd.Series("", index=frame.index, dtype=object)
    groups = frame["group"]
    twice = groups.duplicated(keep=False).to_numpy()
    if twice.any():
        for code in pd.unique(groups[twice]):
            where = frame.loc[groups == code, "line"].tolist()
            notes.append(f"group {code} is listed {len(where)} times (lines {_lines_text(where)}): it is left out of "
                         f"the weights and its stays are not priced")
        reason[twice] = "listed_twice"
    if "covered" in frame.columns:
        reason[(reason == "") & ~frame["covered"].to_numpy(dtype=bool)] = "not_covered"
    return reason


def _weight_table(frame: pd.DataFrame, columns, file: str, points_scale: float) -> WeightTable:
    """The WeightTable of the groups with a positive weight (RW, else standard score)."""
    usable = (frame["unpriced_reason"] == "").to_numpy(copy=True)
    names = {c.field for c in columns}
    out = pd.DataFrame({"group": frame["group"]})
    scale = points_scale
    if "rw" in names:
        weight = frame["rw"]
        out["rw"] = weight
        out["base_points"] = weight * points_scale
    elif "standard_score" in names:
        weight = frame["standard_score"]
        out["base_points"] = weight
        scale = 1.0
    else:
        raise UsageError("the table has no weight column (RW / 权重 or 标准分值)", file=file, row=1)
    usable &= (weight.fillna(0) > 0).to_numpy()
    for name in ("name", "mean_cost", "is_basic", "stable", "special_review", "tcm_advantage"):
        if name in frame.columns:
            out[name] = frame[name]
    for column in columns:
        if column.field is None:
            out[column.key] = frame[column.key]
    out["line"] = frame["line"]
    return WeightTable(frame=out[usable].reset_index(drop=True), points_scale=float(scale), source=file)


def published_level_coefs(table: PublishedTable, rules: "PublishedTableRules | None" = None
                          ) -> dict[str, dict[int, float]]:
    """The level coefficient the table publishes for each group at each hospital level, as
    ``points.hospital_coef.by_group_level`` takes it (``{group: {level: coef}}``): a level reads the tier
    it is paid at (``tier_of_level``, else the header map's ``level_tiers``). Blank coefficients and codes
    listed twice are left out; a table without level coefficients gives ``{}``."""
    from drgdip.pointvalue.rules import PublishedTableRules

    rules = rules if rules is not None else PublishedTableRules()
    by_level = dict(table.header_map.level_tiers if table.header_map else {})
    by_level.update(rules.tier_of_level)
    columns = {c.tier: c for c in table.columns_of("level_coef")}
    usable = (table.frame["unpriced_reason"] == "").to_numpy()
    groups = table.frame["group"].to_numpy(dtype=object)
    coefs: dict[str, dict[int, float]] = {}
    for level, tier in sorted(by_level.items()):
        if tier not in columns:
            continue
        values = table.frame[columns[tier].key].to_numpy(dtype=np.float64)
        for i in np.flatnonzero(usable & (np.nan_to_num(values) > 0)):
            coefs.setdefault(str(groups[i]), {})[int(level)] = float(values[i])
    return coefs


# ----------------------------------------------------------------------------------------------
# pricing

def price_stays(cases, table: PublishedTable, rules: "PublishedTableRules | None" = None, *,
                group_col: str = "drg") -> pd.DataFrame:
    """The published price (yuan) of each stay: as the city publishes its table (domain.md §2.3).

    ``cases``: a DataFrame with the group column, ``hospital_level`` and, when the table or the rules
    need them, ``insurance_type`` (employee / resident) and ``hospital_id``. ``rules``: a
    :class:`drgdip.pointvalue.rules.PublishedTableRules` (``points.published_table`` of a policy); None
    uses the table alone.

    Each stay gets its hospital tier (``tier_of_hospital``, else ``tier_of_level``, else the header map's
    ``level_tiers``) and is priced, with ``method: auto``, by the first that the table publishes:

    1. ``standard``: the payment standard of its group for its tier and insurance type (a column for the
       tier and the type, for the tier, for the type, or one for all, in that order);
    2. ``score``: standard score × level coefficient;
    3. ``rw_rate``: RW × base rate × level coefficient. The base rate is the table's (per row, by tier
       / insurance type) or the rules' ``base_rate_by_insurance`` / ``base_rate``; the level coefficient
       is the table's for the tier, else the rules' ``level_coefs`` for it; when neither gives any level
       coefficient it is 1 (the same rate at every level). A basic group (基础病组) takes
       ``basic_group_coef`` when the rules give one.

    Returns one row per stay (the input's index) with :data:`PRICE_COLUMNS`: ``price_method``
    (``standard``, ``score``, ``rw_rate`` or ``unpriced``), ``price`` (NaN when unpriced) and
    ``unpriced_reason`` (one of :data:`UNPRICED_REASONS`: ungrouped, group not in the table or listed
    twice, not covered, its value not published (blank or 0), no tier for its level, no base rate, no
    level coefficient for its tier).
    """
    from drgdip.pointvalue.rules import PublishedTableRules

    rules = rules if rules is not None else PublishedTableRules()
    if not isinstance(cases, pd.DataFrame):
        raise UsageError(f"cases: expected a DataFrame, got {type(cases).__name__}")
    for needed in (group_col, "hospital_level"):
        if needed not in cases.columns:
            raise UsageError(f"cases have no {needed} column (needed to price stays with {table.name})",
                             field=needed)
    n = len(cases)
    codes = code_column(cases, group_col)
    frame = table.frame
    unique_groups, first, table_reason = table._lookup
    found_at = group_index(codes, unique_groups)
    row = np.where(found_at >= 0, first[np.maximum(found_at, 0)], -1)
    found = row >= 0
    reason = np.zeros(n, dtype=np.int8)
    reason[codes.isna().to_numpy()] = _REASON["ungrouped"]
    reason[~found & (reason == 0)] = _REASON["not_in_table"]
    reason[found] = table_reason[row[found]]

    tier, tier_names = _stay_tiers(cases, table, rules)
    insurance = _stay_insurance(cases, table, rules)
    rw = np.full(n, np.nan)
    if "rw" in frame.columns:
        rw[found] = frame["rw"].to_numpy(dtype=np.float64)[row[found]]
    out = {"rate": np.full(n, np.nan), "coef": np.full(n, np.nan), "standard": np.full(n, np.nan),
           "price": np.full(n, np.nan), "method": np.zeros(n, dtype=np.int8)}
    combo = (tier.astype(np.int64) + 1) * 3 + (insurance + 1)   # one pass per (tier, insurance type) present
    open_combo = combo[reason == 0]
    for value in np.unique(open_combo):
        stays = np.flatnonzero((combo == value) & (reason == 0))
        stay_tier = tier_names[value // 3 - 1] if value // 3 else None
        stay_insurance = INSURANCE_TYPES[value % 3 - 1] if value % 3 else None
        _price_group(table, rules, stays, row[stays], stay_tier, stay_insurance, rw, out, reason)
    priced = reason == 0
    out["price"][~priced] = np.nan
    out["method"][~priced] = 0
    return pd.DataFrame({
        "group": codes.array, "tier": pd.Categorical.from_codes(tier, tier_names),
        "insurance_type": pd.Categorical.from_codes(insurance, INSURANCE_TYPES),
        "price_method": pd.Categorical.from_codes(out["method"], PRICE_METHODS), "rw": rw,
        "base_rate": out["rate"], "level_coef": out["coef"], "published_standard": out["standard"],
        "price": out["price"], "unpriced_reason": pd.Categorical.from_codes(reason, UNPRICED_REASONS),
    }, index=cases.index)


def _category_codes(values: pd.Series) -> tuple[np.ndarray, list]:
    """(code per stay, -1 where missing; the distinct values), without a Python object per stay for
    categoricals."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), list(values.cat.categories)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), list(uniques)


def _stay_tiers(cases: pd.DataFrame, table: PublishedTable, rules) -> tuple[np.ndarray, list[str]]:
    """(tier code of each stay, -1 where its level has none; the tier names)."""
    by_level = dict(table.header_map.level_tiers if table.header_map else {})
    by_level.update(rules.tier_of_level)
    known = set(table.tiers)
    for name, mapping in (("tier_of_level", rules.tier_of_level), ("tier_of_hospital", rules.tier_of_hospital)):
        for key, value in mapping.items():
            if table.tiers and value not in known:
                raise ConfigError(f"tier {value!r} is not one {table.name} publishes (tiers: "
                                  f"{', '.join(table.tiers)})", key=f"points.published_table.{name}.{key}")
    names = list(dict.fromkeys([*table.tiers, *by_level.values(), *rules.tier_of_hospital.values()]))
    level = pd.to_numeric(cases["hospital_level"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    tier = np.full(len(cases), -1, dtype=np.int64)
    for value, name in by_level.items():
        tier[level == value] = names.index(name)
    if rules.tier_of_hospital and "hospital_id" in cases.columns:
        hospital, ids = _category_codes(cases["hospital_id"])
        per_id = np.asarray([names.index(rules.tier_of_hospital[str(i)]) if str(i) in rules.tier_of_hospital
                             else -1 for i in ids] + [-1], dtype=np.int64)
        named = per_id[hospital]   # -1 (missing id) reads the appended -1
        tier = np.where(named >= 0, named, tier)
    return tier, names


def _stay_insurance(cases: pd.DataFrame, table: PublishedTable, rules) -> np.ndarray:
    """Index into :data:`INSURANCE_TYPES` of each stay (-1 where missing, or when neither the table nor the
    rules price by insurance type)."""
    by_insurance = any(c.insurance for c in table.columns) or bool(rules.base_rate_by_insurance)
    if not by_insurance:
        return np.full(len(cases), -1, dtype=np.int64)
    if "insurance_type" not in cases.columns:
        raise UsageError(f"{table.name} prices by insurance type but the cases have no insurance_type column",
                         field="insurance_type")
    kinds, values = _category_codes(cases["insurance_type"])
    per_value = np.asarray([INSURANCE_TYPES.index(str(v)) if str(v) in INSURANCE_TYPES else -2 for v in values]
                           + [-1], dtype=np.int64)
    insurance = per_value[kinds]
    bad = insurance == -2
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise UsageError(f"insurance type {cases['insurance_type'].iloc[row]!r} is neither of "
                         f"{', '.join(INSURANCE_TYPES)}", row=row + 1, field="insurance_type")
    return insurance


def _pick(columns: Iterable[PublishedColumn], tier: str | None, insurance: str | None) -> PublishedColumn | None:
    """The column for (tier, insurance type): exact, the tier's, the type's, then one for all."""
    columns = list(columns)
    for want_tier, want_insurance in ((tier, insurance), (tier, None), (None, insurance), (None, None)):
        for column in columns:
            if column.tier == want_tier and column.insurance == want_insurance:
                return column
    return None


def _price_group(table: PublishedTable, rules, stays: np.ndarray, rows: np.ndarray, tier: str | None,
                 insurance: str | None, rw: np.ndarray, out: dict, reason: np.ndarray) -> None:
    """Price the stays of one (tier, insurance type); ``rows`` are their table rows."""
    frame = table.frame
    method = rules.method
    standard = _pick(table.columns_of("payment_standard"), tier, insurance)
    if method in ("auto", "standard") and standard is not None:
        value = frame[standard.key].to_numpy(dtype=np.float64)[rows]
        out["standard"][stays] = value
        out["price"][stays] = value
        out["method"][stays] = _METHOD["standard"]
        reason[stays] = np.where(value > 0, 0, _REASON["not_published"])
        return
    if method == "standard":
        reason[stays] = _REASON["no_tier" if tier is None else "not_published"]
        return
    if tier is None and (table.tiers or rules.level_coefs):   # coefficients are per tier
        reason[stays] = _REASON["no_tier"]
        return
    coef = _level_coefs(table, rules, rows, tier)
    if coef is None:
        reason[stays] = _REASON["no_tier" if tier is None else "no_level_coef"]
        return
    if "standard_score" in frame.columns and method == "auto":
        score = frame["standard_score"].to_numpy(dtype=np.float64)[rows]
        out["coef"][stays] = coef
        out["price"][stays] = score * coef
        out["method"][stays] = _METHOD["score"]
        reason[stays] = np.where((score > 0) & (coef > 0), 0,
                                 np.where(score > 0, _REASON["no_level_coef"], _REASON["not_published"]))
        return
    rate = _base_rates(table, rules, rows, tier, insurance)
    if rate is None:
        reason[stays] = _REASON["no_base_rate"]
        return
    weight = rw[stays]
    out["rate"][stays] = rate
    out["coef"][stays] = coef
    out["price"][stays] = weight * rate * coef
    out["method"][stays] = _METHOD["rw_rate"]
    reason[stays] = np.where(~(np.nan_to_num(weight) > 0), _REASON["not_published"],
                             np.where(~(np.nan_to_num(rate) > 0), _REASON["no_base_rate"],
                                      np.where(~(np.nan_to_num(coef) > 0), _REASON["no_level_coef"], 0)))


def _level_coefs(table: PublishedTable, rules, rows: np.ndarray, tier: str | None) -> np.ndarray | None:
    """Level coefficient of each row at ``tier``: the table's column for the tier, else the rules'
    ``level_coefs``; 1 when neither publishes any coefficient (the same rate at every level)."""
    published = table.columns_of("level_coef")
    column = next((c for c in published if c.tier == tier), None) if tier is not None else None
    if column is not None:
        coef = table.frame[column.key].to_numpy(dtype=np.float64)[rows]
    elif tier in rules.level_coefs:
        coef = np.full(len(rows), rules.level_coefs[tier])
    elif not published and not rules.level_coefs:
        coef = np.ones(len(rows))
    else:
        return None
    if rules.basic_group_coef is not None and "is_basic" in table.frame.columns:
        basic = table.frame["is_basic"].to_numpy(dtype=bool)[rows]
        coef = np.where(basic, rules.basic_group_coef, coef)
    return coef


def _base_rates(table: PublishedTable, rules, rows: np.ndarray, tier: str | None,
                insurance: str | None) -> np.ndarray | None:
    """Base rate (yuan per RW) of each row: the table's column for (tier, insurance type), else the rules'."""
    column = _pick(table.columns_of("base_rate"), tier, insurance)
    if column is not None:
        return table.frame[column.key].to_numpy(dtype=np.float64)[rows]
    if insurance is not None and insurance in rules.base_rate_by_insurance:
        return np.full(len(rows), rules.base_rate_by_insurance[insurance])
    if rules.base_rate is not None:
        return np.full(len(rows), rules.base_rate)
    return None
