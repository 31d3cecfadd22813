"""DIP grouping (按病种分值付费): a directory of disease groups, its loader, and the grouper.

Directory format (a folder of UTF-8 CSV files with a header row, plus ``meta.yaml``)
-----------------------------------------------------------------------------------
``groups.csv`` -- one row per DIP group (病种):

=============== ================================================================================
dip_group       group code, unique (builder: ``K35.8:47.0100``, ``K35.8:47.0100+54.5100``,
                ``K35.8`` for a medical core group, ``K35/surgery`` for a comprehensive group)
dip_type        ``core`` (核心病种) or ``comprehensive`` (综合病种)
dx              core: principal-diagnosis subcategory (ICD-10 four characters, e.g. ``K35.8``; a
                code without a dot gives its three-character category); comprehensive: a prefix
                of the principal diagnosis of 1 to 3 characters (e.g. ``K35``, ``K3``, ``K``)
main_proc       core: the main procedure code; empty for a medical (保守治疗) core group
related_procs   core: ``+``-joined related procedures that must all be present; may be empty
proc_class      comprehensive: ``medical`` | ``diagnostic`` | ``therapeutic`` | ``surgery``
score           the group's score (病种分值), > 0
mean_cost       mean cost of the group (yuan; outlier reference, tie-breaks); optional
n_cases, cv     history cases and cost CV (informational); optional
is_basic        ``true`` for a basic group (基层病种, same pay at every hospital level); optional
basic_coef      per-group basic coefficient (``basic_group_coef_mode: per_group``); optional
name            free text; optional
=============== ================================================================================

``proc_attributes.csv`` -- ``proc, attribute``: the attribute of each ICD-9-CM-3 code,
``conservative`` | ``diagnostic`` | ``therapeutic`` | ``surgery`` | ``interventional``. A code not
listed is conservative (it neither makes a procedural core group nor raises the class).

``aux.csv`` (optional) -- auxiliary typing (辅助分型): ``dip_group, subtype, aux_coef, trigger``,
subtype one of ``SUBTYPES``; ``trigger`` (default ``aux_coef``) chooses among several met subtypes.

``severity_dx.csv`` (optional) -- ``dx, severity``: secondary diagnoses (exact code, subcategory
such as ``J96.0`` or category such as ``A41``) that make a case ``severe`` or ``moderate``.

``meta.yaml`` -- ``name``, ``points_scale`` (1000), ``all_case_mean`` (yuan), ``interventional_as``
(``surgery`` | ``therapeutic``), ``attribute_source`` (``main`` | ``highest``), ``severity_min_los`` (4).

Matching (domain.md §3.3)
-------------------------
1. Principal diagnosis = first dx code; no dx: ungrouped. Main procedure = the first procedure whose
   attribute is not conservative; the case's class is that procedure's (or the highest over all
   procedures with ``attribute_source: highest``), interventional counted as ``interventional_as``.
2. Core groups of (subcategory, main procedure) -- (subcategory, none) for a medical case: among those
   whose related procedures are all on the case, the one requiring most; ties: mean cost closest to
   the case's cost, then directory order.
3. Else the comprehensive group of (longest listed diagnosis prefix, class), trying 3, 2, 1 characters.
4. Else ungrouped (空白病组): ``dip_group`` empty, ``dip_type`` ``ungrouped``, ``dip_score`` NaN.

Auxiliary typing: of the group's subtypes the case meets (death: ``leaving_type`` 5; severe /
moderate: a listed secondary diagnosis and ``los >= severity_min_los``; age bands from ``age`` /
``age_days``: 0-28 days, 29 days-1 year, 1-6, 7-17, 65+ years; ICU / clean-ward days ``icu_hours / 24``:
2-7, 8-14, 15-30, 31+ (a day band holds days >= its lower bound and < the next one)), the one with the
highest trigger gives ``dip_aux_coef``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from drgdip.core.errors import UsageError
from drgdip.grouper import _dip_kernels as K

__all__ = ["DipDirectory", "load_dip_directory", "group_dip", "explain_dip", "prepare_dip_cases",
           "diagnosis_subcategory", "ATTRIBUTES", "PROC_CLASSES", "DIP_TYPES", "SUBTYPES", "RESULT_COLUMNS"]

ATTRIBUTES = ("conservative", "diagnostic", "therapeutic", "surgery", "interventional")
PROC_CLASSES = ("medical", "diagnostic", "therapeutic", "surgery")
DIP_TYPES = ("core", "comprehensive", "ungrouped")
SUBTYPES = ("death", "severe", "moderate", "age_0_28d", "age_29d_1y", "age_1_6y", "age_7_17y", "age_65y_plus",
            "icu_2_7d", "icu_8_14d", "icu_15_30d", "icu_31d_plus")
SEVERITIES = ("moderate", "severe")
RESULT_COLUMNS = ("dip_group", "dip_type", "dip_score", "dip_basic", "dip_subtype", "dip_aux_coef")
META_KEYS = ("name", "points_scale", "all_case_mean", "interventional_as", "attribute_source",
             "severity_min_los")
DEATH = 5  # leaving_type of death in the settlement list (离院方式 5 死亡)


# ----------------------------------------------------------------------------------------------
# code helpers (vectorised over Arrow string arrays)

def diagnosis_subcategory(codes) -> pa.Array:
    """ICD-10 subcategory (four characters, e.g. ``K35.8`` of ``K35.800x001``); ``K35`` when there is no dot."""
    codes = _as_string_array(codes)
    dot = pc.equal(pc.utf8_slice_codeunits(codes, 3, 4), ".")
    return pc.if_else(pc.and_(dot, pc.greater_equal(pc.utf8_length(codes), 5)),
                      pc.utf8_slice_codeunits(codes, 0, 5), pc.utf8_slice_codeunits(codes, 0, 3))


def _as_string_array(values) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(values, type=pa.string(), from_pandas=True)
    if values.type != pa.string():
        values = pc.cast(values, pa.string())
    return values


def _arrow_index(values: pa.Array, vocabulary: pd.Index) -> np.ndarray:
    """Position of each text value in ``vocabulary`` (-1 where absent), hashed by Arrow."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(vocabulary) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    value_set = pa.array(np.asarray(vocabulary, dtype=object), type=pa.string())
    index = pc.index_in(_as_string_array(values), value_set=value_set)
    return pc.fill_null(index, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _mixed_code_lists(column: pd.Series, file: str, field_name: str) -> pa.Array:
    """A column mixing lists and text (rare, hand-made frames): each text value split on ``|`` / ``,``."""
    def as_list(value):
        if isinstance(value, (list, tuple, np.ndarray)):
            return [str(v) for v in value]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if isinstance(value, str):
            return value.replace(",", "|").split("|")
        raise UsageError(f"expected text or a list of codes, got {type(value).__name__}", file=file,
                         field=field_name)
    return pa.array(column.map(as_list).tolist(), type=pa.list_(pa.string()))


def _code_lists(column, n: int, field_name: str, file: str) -> tuple[np.ndarray, pa.Array]:
    """``|``/``,``-joined text or lists -> (ptr int64[n+1], flat codes) with empty items removed."""
    if column is None:
        return np.zeros(n + 1, dtype=np.int64), pa.array([], pa.string())
    if isinstance(column, pd.Series):
        try:  # text, or lists of codes: Arrow converts either without a Python loop of ours
            array = pa.array(column, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            array = _mixed_code_lists(column, file, field_name)
        if pa.types.is_null(array.type):
            array = pa.nulls(len(array), pa.string())
    else:
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        lists = array
    else:
        array = pc.cast(array, pa.string()) if array.type != pa.string() else array
        array = pc.fill_null(array, "")
        if pc.any(pc.match_substring(array, ",")).as_py():
            lists = pc.split_pattern_regex(array, r"[|,]")
        else:  # the common case: plain splitting is several times faster than a regex
            lists = pc.split_pattern(array, "|")
    flat = pc.cast(pc.list_flatten(lists), pa.string())
    parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    keep = pc.fill_null(pc.greater(pc.utf8_length(flat), 0), False).to_numpy(zero_copy_only=False)
    flat = flat.filter(pa.array(keep))
    parent = parent[keep]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(parent, minlength=n), out=ptr[1:])
    return ptr, flat


# ----------------------------------------------------------------------------------------------
# the directory

@dataclass(frozen=True)
class _Compiled:
    core_dx_vocab: pd.Index
    prefix_vocab: list          # per level (longest first): pd.Index of prefixes of that length
    prefix_lengths: tuple
    proc_vocab: pd.Index
    proc_class: np.ndarray      # int8[n_proc_vocab]
    core_keys: np.ndarray
    core_rows: np.ndarray
    core_rel_ptr: np.ndarray
    core_rel_ids: np.ndarray
    core_mean: np.ndarray
    comp_keys: np.ndarray
    comp_rows: np.ndarray
    aux_ptr: np.ndarray
    aux_subtype: np.ndarray
    aux_trigger: np.ndarray
    aux_coef: np.ndarray
    severity_vocab: pd.Index
    severity_level: np.ndarray  # int8 per severity_vocab entry: 1 moderate, 2 severe


@dataclass(frozen=True)
class DipDirectory:
    """A DIP directory (病种目录库): groups with scores, procedure attributes, auxiliary typing.

    Build one with :func:`load_dip_directory` or :func:`drgdip.pointvalue.build_dip_directory`; write it
    with :meth:`to_dir`. ``groups`` has the columns of ``groups.csv`` (see module docstring).
    """

    groups: pd.DataFrame
    proc_attributes: pd.DataFrame
    aux: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"dip_group": pd.Series(dtype=object), "subtype": pd.Series(dtype=object),
         "aux_coef": pd.Series(dtype=float), "trigger": pd.Series(dtype=float)}))
    severity_dx: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"dx": pd.Series(dtype=object), "severity": pd.Series(dtype=object)}))
    name: str = "dip"
    points_scale: float = 1000.0
    all_case_mean: float | None = None
    interventional_as: str = "surgery"
    attribute_source: str = "main"
    severity_min_los: int = 4
    source: str = "<directory>"
    compiled: _Compiled = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        groups, attributes, aux, severity = _validate(self)
        object.__setattr__(self, "groups", groups)
        object.__setattr__(self, "proc_attributes", attributes)
        object.__setattr__(self, "aux", aux)
        object.__setattr__(self, "severity_dx", severity)
        object.__setattr__(self, "compiled", _compile(self))

    def __repr__(self) -> str:
        counts = self.groups["dip_type"].value_counts()
        return (f"DipDirectory({self.name!r}: {int(counts.get('core', 0))} core, "
                f"{int(counts.get('comprehensive', 0))} comprehensive, "
                f"{int(self.groups['is_basic'].sum())} basic, {len(self.aux)} aux subtypes)")

    def weight_table(self):
        """The scores as a :class:`drgdip.pointvalue.WeightTable` (group, base_points = score, mean_cost, ...)."""
        from drgdip.pointvalue.weights import WeightTable
        frame = self.groups.rename(columns={"dip_group": "group", "score": "base_points"})
        keep = [c for c in ("group", "base_points", "mean_cost", "n_cases", "cv", "is_basic", "basic_coef")
                if c in frame.columns]
        keep += [c for c in frame.columns if c.startswith("mean_cost_level_")]
        frame = frame[keep].copy()
        if "mean_cost" in frame.columns and self.all_case_mean:
            frame["rw"] = frame["mean_cost"] / self.all_case_mean
        return WeightTable(frame=frame, points_scale=self.points_scale, all_case_mean=self.all_case_mean,
                           source=self.source)

    def with_scores(self, scores: Mapping[str, float] | pd.Series) -> "DipDirectory":
        """A copy with new scores for the listed groups (other groups keep theirs)."""
        groups = self.groups.copy()
        update = pd.Series(scores, dtype=np.float64)
        position = pd.Index(groups["dip_group"]).get_indexer(update.index)
        if (position < 0).any():
            raise UsageError(f"unknown DIP group(s): {', '.join(map(str, update.index[position < 0][:5]))}")
        groups.loc[position, "score"] = update.to_numpy()
        return replace(self, groups=groups)

    def to_dir(self, path) -> None:
        """Write the directory as CSV files plus ``meta.yaml`` (readable by :func:`load_dip_directory`)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        groups = self.groups.copy()
        groups["is_basic"] = np.where(groups["is_basic"], "true", "false")
        groups.to_csv(path / "groups.csv", index=False, float_format="%.10g")
        self.proc_attributes.to_csv(path / "proc_attributes.csv", index=False)
        if len(self.aux):
            self.aux.to_csv(path / "aux.csv", index=False, float_format="%.10g")
        if len(self.severity_dx):
            self.severity_dx.to_csv(path / "severity_dx.csv", index=False)
        meta = {"name": self.name, "points_scale": float(self.points_scale),
                "all_case_mean": None if self.all_case_mean is None else float(self.all_case_mean),
                "interventional_as": self.interventional_as, "attribute_source": self.attribute_source,
                "severity_min_los": int(self.severity_min_los)}
        with open(path / "meta.yaml", "w", encoding="utf-8") as handle:
            yaml.safe_dump(meta, handle, allow_unicode=True, sort_keys=False)


def _fail(file: str, message: str, row: int | None = None, field_name: str | None = None):
    raise UsageError(message, file=file, row=row, field=field_name)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series([""] * len(frame), index=frame.index, dtype=object)
    return frame[column].astype("string").fillna("").str.strip().astype(object)


def _numbers(frame: pd.DataFrame, column: str, file: str, *, required: bool, positive: bool) -> np.ndarray:
    if column not in frame.columns:
        if required:
            _fail(file, f"missing column '{column}'", field_name=column)
        return np.full(len(frame), np.nan)
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    text = raw.astype("string").fillna("").str.strip()
    bad = (text != "").to_numpy() & np.isnan(values)
    if required:
        bad |= np.isnan(values)
    if positive:
        bad |= ~np.isnan(values) & ~(values > 0)
    bad |= np.isinf(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        _fail(file, f"expected a {'positive ' if positive else ''}number, got {raw.iloc[row]!r}", row + 1, column)
    return values


def _validate(d: DipDirectory):
    file = d.source
    if d.interventional_as not in ("surgery", "therapeutic"):
        _fail(f"{file}/meta.yaml", f"interventional_as must be surgery or therapeutic, got {d.interventional_as!r}",
              field_name="interventional_as")
    if d.attribute_source not in ("main", "highest"):
        _fail(f"{file}/meta.yaml", f"attribute_source must be main or highest, got {d.attribute_source!r}",
              field_name="attribute_source")
    if not (isinstance(d.points_scale, (int, float)) and d.points_scale > 0):
        _fail(f"{file}/meta.yaml", f"points_scale must be a positive number, got {d.points_scale!r}",
              field_name="points_scale")
    if d.all_case_mean is not None and not (isinstance(d.all_case_mean, (int, float)) and d.all_case_mean > 0):
        _fail(f"{file}/meta.yaml", f"all_case_mean must be a positive number, got {d.all_case_mean!r}",
              field_name="all_case_mean")

    gfile = f"{file}/groups.csv"
    g = d.groups.reset_index(drop=True)
    for column in ("dip_group", "dip_type", "dx", "score"):
        if column not in g.columns:
            _fail(gfile, f"missing column '{column}'", field_name=column)
    out = pd.DataFrame({"dip_group": _text(g, "dip_group"), "dip_type": _text(g, "dip_type"),
                        "dx": _text(g, "dx"), "main_proc": _text(g, "main_proc"),
                        "related_procs": _text(g, "related_procs"), "proc_class": _text(g, "proc_class")})
    for column, values in out.items():
        if column in ("dip_group", "dip_type", "dx"):
            empty = (values == "").to_numpy()
            if empty.any():
                _fail(gfile, "value is missing", int(np.flatnonzero(empty)[0]) + 1, column)
    dup = out["dip_group"].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        _fail(gfile, f"group {out['dip_group'].iloc[row]!r} is listed twice", row + 1, "dip_group")
    bad_type = ~out["dip_type"].isin(("core", "comprehensive")).to_numpy()
    if bad_type.any():
        row = int(np.flatnonzero(bad_type)[0])
        _fail(gfile, f"dip_type must be core or comprehensive, got {out['dip_type'].iloc[row]!r}", row + 1, "dip_type")
    core = (out["dip_type"] == "core").to_numpy()
    comp = ~core
    bad_class = comp & ~out["proc_class"].isin(PROC_CLASSES).to_numpy()
    if bad_class.any():
        row = int(np.flatnonzero(bad_class)[0])
        _fail(gfile, f"a comprehensive group needs proc_class {', '.join(PROC_CLASSES)}; got "
                     f"{out['proc_class'].iloc[row]!r}", row + 1, "proc_class")
    bad_prefix = comp & ~(out["dx"].str.len().between(1, 3)).to_numpy()
    if bad_prefix.any():
        row = int(np.flatnonzero(bad_prefix)[0])
        _fail(gfile, f"a comprehensive group's dx is a 1-3 character prefix, got {out['dx'].iloc[row]!r}",
              row + 1, "dx")
    sub = diagnosis_subcategory(pa.array(out["dx"].tolist(), pa.string())).to_pylist()
    bad_core_dx = core & (np.asarray(sub, dtype=object) != out["dx"].to_numpy())
    if bad_core_dx.any():
        row = int(np.flatnonzero(bad_core_dx)[0])
        _fail(gfile, f"a core group's dx is a diagnosis subcategory such as K35.8, got {out['dx'].iloc[row]!r}",
              row + 1, "dx")
    related_without_main = core & (out["main_proc"] == "").to_numpy() & (out["related_procs"] != "").to_numpy()
    if related_without_main.any():
        row = int(np.flatnonzero(related_without_main)[0])
        _fail(gfile, "related_procs need a main_proc", row + 1, "related_procs")
    # canonical related-procedure sets and unique keys
    related = out["related_procs"].map(lambda s: "+".join(sorted(set(filter(None, s.split("+"))))))
    out["related_procs"] = related
    core_key = out["dx"] + "\x1f" + out["main_proc"] + "\x1f" + related
    comp_key = out["dx"] + "\x1f" + out["proc_class"]
    key = pd.Series(np.where(core, "c\x1f" + core_key, "k\x1f" + comp_key), dtype=object)
    dup = key.duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        _fail(gfile, f"group {out['dip_group'].iloc[row]!r} has the same matching key as an earlier group",
              row + 1, "dip_group")
    out.loc[~core, ["main_proc", "related_procs"]] = ""
    out.loc[core, "proc_class"] = ""
    out["score"] = _numbers(g, "score", gfile, required=True, positive=True)
    for column in ("mean_cost", "basic_coef"):
        out[column] = _numbers(g, column, gfile, required=False, positive=True)
    for column in ("n_cases", "cv"):
        out[column] = _numbers(g, column, gfile, required=False, positive=False)
    for column in g.columns:
        if str(column).startswith("mean_cost_level_"):
            out[column] = _numbers(g, column, gfile, required=False, positive=True)
    basic = _text(g, "is_basic").str.lower()
    bad = ~basic.isin(("", "true", "false", "1", "0", "yes", "no")).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        _fail(gfile, f"is_basic must be true or false, got {g['is_basic'].iloc[row]!r}", row + 1, "is_basic")
    out["is_basic"] = basic.isin(("true", "1", "yes")).to_numpy()
    if (out["is_basic"].to_numpy() & comp).any():
        row = int(np.flatnonzero(out["is_basic"].to_numpy() & comp)[0])
        _fail(gfile, "a basic group must be a core group", row + 1, "is_basic")
    if "name" in g.columns:
        out["name"] = _text(g, "name")

    afile = f"{file}/proc_attributes.csv"
    a = d.proc_attributes.reset_index(drop=True)
    for column in ("proc", "attribute"):
        if column not in a.columns:
            _fail(afile, f"missing column '{column}'", field_name=column)
    attributes = pd.DataFrame({"proc": _text(a, "proc"), "attribute": _text(a, "attribute")})
    bad = ~attributes["attribute"].isin(ATTRIBUTES).to_numpy() | (attributes["proc"] == "").to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        _fail(afile, f"attribute must be one of {', '.join(ATTRIBUTES)} (with a proc code), got "
                     f"{attributes['attribute'].iloc[row]!r}", row + 1, "attribute")
    dup = attributes["proc"].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        _fail(afile, f"procedure {attributes['proc'].iloc[row]!r} is listed twice", row + 1, "proc")
    known = set(attributes["proc"])
    procs_used = set(out.loc[core & (out["main_proc"] != "").to_numpy(), "main_proc"])
    for rel in out.loc[core, "related_procs"]:
        procs_used.update(filter(None, rel.split("+")))
    non_conservative = set(attributes.loc[attributes["attribute"] != "conservative", "proc"])
    missing = sorted(procs_used - non_conservative)
    if missing:
        row = int(np.flatnonzero((out["main_proc"].isin(missing) |
                                  out["related_procs"].map(lambda s: bool(set(s.split("+")) & set(missing))))
                                 .to_numpy())[0])
        reason = "is not in proc_attributes.csv" if missing[0] not in known else "is conservative there"
        _fail(gfile, f"procedure {missing[0]!r} of a core group {reason}; core-group procedures must be "
                     f"diagnostic, therapeutic, surgery or interventional", row + 1, "main_proc")

    xfile = f"{file}/aux.csv"
    x = d.aux.reset_index(drop=True)
    if len(x):
        for column in ("dip_group", "subtype", "aux_coef"):
            if column not in x.columns:
                _fail(xfile, f"missing column '{column}'", field_name=column)
    aux = pd.DataFrame({"dip_group": _text(x, "dip_group"), "subtype": _text(x, "subtype")})
    aux["aux_coef"] = _numbers(x, "aux_coef", xfile, required=len(x) > 0, positive=True) if len(x) else []
    trigger = _numbers(x, "trigger", xfile, required=False, positive=True) if len(x) else np.array([])
    aux["trigger"] = np.where(np.isnan(trigger), aux["aux_coef"].to_numpy(dtype=np.float64), trigger)
    for extra in ("n_cases", "cv_drop"):
        if extra in x.columns:
            aux[extra] = _numbers(x, extra, xfile, required=False, positive=False)
    unknown = ~aux["dip_group"].isin(set(out["dip_group"])).to_numpy()
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        _fail(xfile, f"unknown DIP group {aux['dip_group'].iloc[row]!r}", row + 1, "dip_group")
    bad = ~aux["subtype"].isin(SUBTYPES).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        _fail(xfile, f"subtype must be one of {', '.join(SUBTYPES)}, got {aux['subtype'].iloc[row]!r}",
              row + 1, "subtype")
    dup = aux[["dip_group", "subtype"]].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        _fail(xfile, "the subtype is listed twice for its group", row + 1, "subtype")

    sfile = f"{file}/severity_dx.csv"
    s = d.severity_dx.reset_index(drop=True)
    if len(s):
        for column in ("dx", "severity"):
            if column not in s.columns:
                _fail(sfile, f"missing column '{column}'", field_name=column)
    severity = pd.DataFrame({"dx": _text(s, "dx"), "severity": _text(s, "severity")})
    bad = ~severity["severity"].isin(SEVERITIES).to_numpy() | (severity["dx"] == "").to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        _fail(sfile, f"severity must be severe or moderate (with a dx), got {severity['severity'].iloc[row]!r}",
              row + 1, "severity")
    dup = severity["dx"].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        _fail(sfile, f"diagnosis {severity['dx'].iloc[row]!r} is listed twice", row + 1, "dx")
    if not (isinstance(d.severity_min_los, (int, np.integer)) and d.severity_min_los >= 0):
        _fail(f"{file}/meta.yaml", f"severity_min_los must be a whole number >= 0, got {d.severity_min_los!r}",
              field_name="severity_min_los")
    return out, attributes, aux, severity


def _class_of_attribute(attributes: pd.Series, interventional_as: str) -> np.ndarray:
    mapping = {"conservative": K.MEDICAL, "diagnostic": K.DIAGNOSTIC, "therapeutic": K.THERAPEUTIC,
               "surgery": K.SURGERY,
               "interventional": K.SURGERY if interventional_as == "surgery" else K.THERAPEUTIC}
    return attributes.map(mapping).to_numpy(dtype=np.int8)


def _compile(d: DipDirectory) -> _Compiled:
    g = d.groups
    core = (g["dip_type"] == "core").to_numpy()
    core_rows = np.flatnonzero(core)
    comp_rows = np.flatnonzero(~core)

    proc_vocab = pd.Index(d.proc_attributes["proc"].to_numpy(dtype=object))
    proc_class = _class_of_attribute(d.proc_attributes["attribute"], d.interventional_as)
    n_vocab = len(proc_vocab)

    core_dx_vocab = pd.Index(pd.unique(g.loc[core, "dx"].to_numpy(dtype=object)))
    dx_id = core_dx_vocab.get_indexer(g.loc[core, "dx"].to_numpy(dtype=object)).astype(np.int64)
    main = g.loc[core, "main_proc"].to_numpy(dtype=object)
    main_id = np.where(main == "", -1, proc_vocab.get_indexer(main)).astype(np.int64)
    keys = dx_id * (n_vocab + 1) + main_id + 1
    order = np.lexsort((core_rows, keys))
    core_keys = keys[order]
    core_rows_sorted = core_rows[order]
    related = [list(filter(None, r.split("+"))) for r in g["related_procs"].to_numpy(dtype=object)[core_rows_sorted]]
    rel_ptr = np.zeros(len(related) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in related], out=rel_ptr[1:])
    rel_ids = proc_vocab.get_indexer([p for r in related for p in r]).astype(np.int64) if rel_ptr[-1] else \
        np.zeros(0, dtype=np.int64)
    core_mean = g["mean_cost"].to_numpy(dtype=np.float64)[core_rows_sorted]
    core_mean = np.where(np.isnan(core_mean), np.inf, core_mean)

    prefixes = g.loc[~core, "dx"].to_numpy(dtype=object)
    lengths = tuple(sorted({len(p) for p in prefixes}, reverse=True))
    prefix_vocab = [pd.Index(sorted({p for p in prefixes if len(p) == n})) for n in lengths]
    offsets = np.cumsum([0] + [len(v) for v in prefix_vocab])
    pid = np.empty(len(comp_rows), dtype=np.int64)
    for level, n in enumerate(lengths):
        sel = np.array([len(p) == n for p in prefixes], dtype=bool)
        pid[sel] = prefix_vocab[level].get_indexer(prefixes[sel]) + offsets[level]
    klass = g.loc[~core, "proc_class"].map({c: i for i, c in enumerate(PROC_CLASSES)}).to_numpy(dtype=np.int64)
    ckeys = pid * 4 + klass
    corder = np.argsort(ckeys, kind="stable")

    aux = d.aux
    aux_group = pd.Index(g["dip_group"]).get_indexer(aux["dip_group"].to_numpy(dtype=object)).astype(np.int64)
    aorder = np.argsort(aux_group, kind="stable")
    aux_ptr = np.zeros(len(g) + 1, dtype=np.int64)
    np.cumsum(np.bincount(aux_group, minlength=len(g)), out=aux_ptr[1:])
    aux_subtype = aux["subtype"].map({s: i for i, s in enumerate(SUBTYPES)}).to_numpy(dtype=np.int64)[aorder]

    severity_vocab = pd.Index(d.severity_dx["dx"].to_numpy(dtype=object))
    severity_level = d.severity_dx["severity"].map({"moderate": 1, "severe": 2}).to_numpy(dtype=np.int8)
    return _Compiled(
        core_dx_vocab=core_dx_vocab, prefix_vocab=prefix_vocab, prefix_lengths=lengths, proc_vocab=proc_vocab,
        proc_class=proc_class, core_keys=core_keys, core_rows=core_rows_sorted.astype(np.int64),
        core_rel_ptr=rel_ptr, core_rel_ids=rel_ids, core_mean=core_mean,
        comp_keys=ckeys[corder], comp_rows=comp_rows[corder].astype(np.int64),
        aux_ptr=aux_ptr, aux_subtype=aux_subtype,
        aux_trigger=aux["trigger"].to_numpy(dtype=np.float64)[aorder],
        aux_coef=aux["aux_coef"].to_numpy(dtype=np.float64)[aorder],
        severity_vocab=severity_vocab, severity_level=severity_level)


def load_dip_directory(path) -> DipDirectory:
    """Read a DIP directory folder (``groups.csv``, ``proc_attributes.csv``, optional ``aux.csv``,
    ``severity_dx.csv``, ``meta.yaml``). Bad content raises :class:`UsageError` naming file, row, field."""
    path = Path(path)
    if not path.is_dir():
        raise UsageError("DIP directory: not a folder", file=str(path))

    def read(name: str, required: bool) -> pd.DataFrame | None:
        file = path / name
        if not file.is_file():
            if required:
                raise UsageError("DIP directory: missing file", file=str(file))
            return None
        try:
            return pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise UsageError(f"cannot read CSV: {error}", file=str(file)) from None

    meta: dict[str, Any] = {}
    meta_file = path / "meta.yaml"
    if meta_file.is_file():
        try:
            meta = yaml.safe_load(meta_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise UsageError(f"cannot parse YAML: {error}", file=str(meta_file)) from None
        if not isinstance(meta, dict):
            raise UsageError("expected a mapping of " + ", ".join(META_KEYS), file=str(meta_file))
        unknown = sorted(set(map(str, meta)) - set(META_KEYS))
        if unknown:
            raise UsageError(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(META_KEYS)}",
                             file=str(meta_file), field=unknown[0])
    kwargs = {k: meta[k] for k in META_KEYS if k in meta and meta[k] is not None}
    aux = read("aux.csv", False)
    severity = read("severity_dx.csv", False)
    if aux is not None:
        kwargs["aux"] = aux
    if severity is not None:
        kwargs["severity_dx"] = severity
    return DipDirectory(groups=read("groups.csv", True), proc_attributes=read("proc_attributes.csv", True),
                        source=str(path), **kwargs)


# ----------------------------------------------------------------------------------------------
# preparing cases

@dataclass(frozen=True)
class PreparedCases:
    """Cases encoded for the DIP kernel (see :func:`drgdip.grouper._dip_kernels._dip_case` for each array)."""

    has_dx: np.ndarray
    core_dx: np.ndarray
    prefix_ids: np.ndarray
    proc_ptr: np.ndarray
    proc_ids: np.ndarray
    proc_class: np.ndarray
    cost: np.ndarray
    subtype_flags: np.ndarray
    principal: pa.Array          # principal diagnosis codes (null when none)
    procs: pa.Array              # flat procedure codes (CSR with proc_ptr)
    severity: np.ndarray         # int8[n] 0 none, 1 moderate, 2 severe (secondary diagnoses)

    def __len__(self) -> int:
        return len(self.has_dx)


def _integer_column(frame: pd.DataFrame, column: str, file: str) -> np.ndarray:
    """Optional integer column as float64 (NaN where absent or not a number)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[column], errors="coerce")
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def prepare_dip_cases(frame: pd.DataFrame, directory: DipDirectory, file: str = "<DataFrame>") -> PreparedCases:
    """Encode the dx / proc lists and typing fields of ``frame`` against ``directory`` (vectorised)."""
    c = directory.compiled
    n = len(frame)
    if "dx" not in frame.columns:
        raise UsageError("missing column 'dx'", file=file, field="dx")
    dx_ptr, dx_flat = _code_lists(frame["dx"], n, "dx", file)
    proc_ptr, proc_flat = _code_lists(frame["proc"] if "proc" in frame.columns else None, n, "proc", file)
    has_dx = np.diff(dx_ptr) > 0
    first = dx_ptr[:-1][has_dx]
    principal_present = dx_flat.take(pa.array(first, pa.int64())) if len(first) else pa.array([], pa.string())
    subcategory = diagnosis_subcategory(principal_present)
    core_dx = np.full(n, -1, dtype=np.int64)
    core_dx[has_dx] = _arrow_index(subcategory, c.core_dx_vocab)
    prefix_ids = np.full((n, max(len(c.prefix_lengths), 1)), -1, dtype=np.int64)
    offset = 0
    for level, length in enumerate(c.prefix_lengths):
        ids = _arrow_index(pc.utf8_slice_codeunits(principal_present, 0, length), c.prefix_vocab[level])
        prefix_ids[has_dx, level] = np.where(ids >= 0, ids + offset, -1)
        offset += len(c.prefix_vocab[level])
    if len(c.prefix_lengths) == 0:
        prefix_ids = prefix_ids[:, :0]
    proc_ids = _arrow_index(proc_flat, c.proc_vocab)
    proc_class = np.where(proc_ids >= 0, c.proc_class[np.maximum(proc_ids, 0)] if len(c.proc_class) else 0,
                          K.MEDICAL).astype(np.int8)

    # severity from secondary diagnoses: exact code, subcategory or category listed
    severity = np.zeros(n, dtype=np.int8)
    if len(c.severity_vocab) and len(dx_flat):
        position = np.arange(len(dx_flat)) - np.repeat(dx_ptr[:-1], np.diff(dx_ptr))
        secondary = position > 0
        owner = np.repeat(np.arange(n), np.diff(dx_ptr))[secondary]
        codes = dx_flat.filter(pa.array(secondary))
        level = np.zeros(len(owner), dtype=np.int8)
        for candidate in (codes, diagnosis_subcategory(codes), pc.utf8_slice_codeunits(codes, 0, 3)):
            ids = _arrow_index(candidate, c.severity_vocab)
            level = np.maximum(level, np.where(ids >= 0, c.severity_level[np.maximum(ids, 0)], 0))
        np.maximum.at(severity, owner, level)

    los = _integer_column(frame, "los", file)
    age = _integer_column(frame, "age", file)
    age_days = _integer_column(frame, "age_days", file)
    leaving = _integer_column(frame, "leaving_type", file)
    flags = np.zeros((n, K.N_SUBTYPES), dtype=np.bool_)
    long_enough = los >= directory.severity_min_los
    flags[:, K.SUB_DEATH] = leaving == DEATH
    flags[:, K.SUB_SEVERE] = (severity == 2) & long_enough
    flags[:, K.SUB_MODERATE] = (severity == 1) & long_enough
    infant = age == 0
    flags[:, K.SUB_AGE_0_28D] = infant & (age_days <= 28)
    flags[:, K.SUB_AGE_29D_1Y] = infant & (age_days > 28)
    flags[:, K.SUB_AGE_1_6Y] = (age >= 1) & (age <= 6)
    flags[:, K.SUB_AGE_7_17Y] = (age >= 7) & (age <= 17)
    flags[:, K.SUB_AGE_65Y_PLUS] = age >= 65
    icu_days = _integer_column(frame, "icu_hours", file) / 24.0
    flags[:, K.SUB_ICU_2_7D] = (icu_days >= 2) & (icu_days < 8)
    flags[:, K.SUB_ICU_8_14D] = (icu_days >= 8) & (icu_days < 15)
    flags[:, K.SUB_ICU_15_30D] = (icu_days >= 15) & (icu_days < 31)
    flags[:, K.SUB_ICU_31D_PLUS] = icu_days >= 31
    cost = _integer_column(frame, "total_cost", file)
    return PreparedCases(has_dx=has_dx, core_dx=core_dx, prefix_ids=prefix_ids, proc_ptr=proc_ptr,
                         proc_ids=proc_ids, proc_class=proc_class, cost=cost, subtype_flags=flags,
                         principal=_principal_per_case(dx_flat, dx_ptr, has_dx), procs=proc_flat,
                         severity=severity)


def _principal_per_case(dx_flat: pa.Array, dx_ptr: np.ndarray, has_dx: np.ndarray) -> pa.Array:
    """Principal diagnosis of every case (null where the case has none)."""
    index = pa.array(np.where(has_dx, dx_ptr[:-1], 0), pa.int64(), mask=~has_dx)
    return dx_flat.take(index) if len(dx_flat) else pa.nulls(len(has_dx), pa.string())


def _kernel_args(p: PreparedCases, d: DipDirectory) -> tuple:
    c = d.compiled
    return (p.has_dx, p.core_dx, p.prefix_ids, p.proc_ptr, p.proc_ids, p.proc_class, p.cost, p.subtype_flags,
            d.attribute_source == "highest", len(c.proc_vocab), c.core_keys, c.core_rows, c.core_rel_ptr,
            c.core_rel_ids, c.core_mean, c.comp_keys, c.comp_rows, c.aux_ptr, c.aux_subtype, c.aux_trigger)


# ----------------------------------------------------------------------------------------------
# grouping

def _read_cases(cases) -> tuple[pd.DataFrame, str]:
    if isinstance(cases, pd.DataFrame):
        return cases, "<DataFrame>"
    path = Path(cases)
    if not path.is_file():
        raise UsageError("no such file", file=str(path))
    wanted = {"dx", "proc", "los", "age", "age_days", "leaving_type", "icu_hours", "total_cost"}
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq
            names = pq.ParquetFile(path).schema_arrow.names
            return pd.read_parquet(path, columns=[c for c in names if c in wanted]), str(path)
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
        return pd.read_csv(path, usecols=[c for c in header if c in wanted], encoding="utf-8-sig",
                           dtype={"dx": str, "proc": str}, keep_default_na=False, na_values=[""]), str(path)
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError, OSError) as error:
        raise UsageError(f"cannot read cases: {error}", file=str(path)) from None


def group_dip(cases, directory: DipDirectory | str | Path) -> pd.DataFrame:
    """DIP group of every case: one row per input row, in input order.

    Parameters
    ----------
    cases : DataFrame or path (CSV / Parquet)
        ``dx`` (principal first) and ``proc`` (main first) as ``|``-joined text or lists; optional
        ``los``, ``age``, ``age_days``, ``leaving_type``, ``icu_hours`` (auxiliary typing) and ``total_cost``
        (tie-breaks between core groups).
    directory : DipDirectory or a directory path

    Returns
    -------
    DataFrame with ``dip_group`` (None when ungrouped), ``dip_type`` (core / comprehensive /
    ungrouped), ``dip_score`` (NaN when ungrouped), ``dip_basic`` (basic group 基层病种),
    ``dip_subtype`` (auxiliary subtype applied, or empty) and ``dip_aux_coef`` (1 without typing).
    """
    if not isinstance(directory, DipDirectory):
        directory = load_dip_directory(directory)
    frame, file = _read_cases(cases)
    prepared = prepare_dip_cases(frame, directory, file)
    n = len(prepared)
    group = np.empty(n, dtype=np.int64)
    dip_type = np.empty(n, dtype=np.int8)
    aux_row = np.empty(n, dtype=np.int64)
    K._group_dip_kernel(*_kernel_args(prepared, directory), group, dip_type, aux_row)
    return _result_frame(group, dip_type, aux_row, directory)


def _result_frame(group: np.ndarray, dip_type: np.ndarray, aux_row: np.ndarray, d: DipDirectory) -> pd.DataFrame:
    g = d.groups
    c = d.compiled
    n_groups = len(g)
    code = np.where(group >= 0, group, n_groups)
    labels = pd.Categorical.from_codes(np.where(group >= 0, group, -1), categories=pd.Index(g["dip_group"]))
    score = np.append(g["score"].to_numpy(dtype=np.float64), np.nan)[code]
    basic = np.append(g["is_basic"].to_numpy(dtype=bool), False)[code]
    subtype_codes = np.where(aux_row >= 0, c.aux_subtype[np.maximum(aux_row, 0)] if len(c.aux_subtype) else 0, -1)
    aux_coef = np.where(aux_row >= 0, c.aux_coef[np.maximum(aux_row, 0)] if len(c.aux_coef) else 1.0, 1.0)
    return pd.DataFrame({
        "dip_group": labels,
        "dip_type": pd.Categorical.from_codes(dip_type.astype(np.int64), categories=list(DIP_TYPES)),
        "dip_score": score,
        "dip_basic": basic,
        "dip_subtype": pd.Categorical.from_codes(subtype_codes, categories=list(SUBTYPES)),
        "dip_aux_coef": aux_coef,
    })


def explain_dip(case: Mapping[str, Any], directory: DipDirectory | str | Path):
    """Why one case gets its DIP group: a :class:`drgdip.grouper.dip_trace.DipTrace` (``to_text()``, ``to_dict()``)."""
    from drgdip.grouper.dip_trace import trace_dip_case
    if not isinstance(directory, DipDirectory):
        directory = load_dip_directory(directory)
    return trace_dip_case(case, directory)
