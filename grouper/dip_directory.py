"""The DIP directory (病种目录库): its file format, validation, loader and the arrays the grouping kernel reads.

Directory format (a folder of UTF-8 CSV files with a header row, plus ``meta.yaml``)
-----------------------------------------------------------------------------------
``groups.csv`` -- one row per DIP group (病种):

=============== ================================================================================
dip_group       group code, unique (builder: ``K35.8:47.0100``, ``K35.8:47.0100+54.5100``,
                ``K35.8`` for a medical core group, ``K35/surgery`` for a comprehensive group)
dip_type        ``core`` (核心病种) or ``comprehensive`` (综合病种)
birth_weight    a pre_grouping group for any diagnosis (``dx *``) of newborns: the birth-weight band in
                grams (``750-999``) of babies under 29 days old; such a group needs no procedure and is
                matched before every other group (DIP 3.0 §3.2); optional
core_kind       core: ``pre_grouping`` (先期分组), ``merged`` (并项), ``diagnosis_assisted`` (辅助细分) or
                ``basic_rule`` (the default): a case matching core groups of several kinds takes the
                first kind in this order (DIP 3.0 §3.3); optional
dx              core: principal-diagnosis subcategory (ICD-10 four characters, e.g. ``K35.8``; a
                code without a dot gives its three-character category), ``/``-separated alternatives
                for a merged group (``K35.8/K35.3``), or ``*`` (any diagnosis) for a pre-grouping group
                keyed by its procedure alone (a transplant); comprehensive: a prefix
                of the principal diagnosis of 1 to 3 characters (e.g. ``K35``, ``K3``, ``K``), or
                an ICD-10 category range such as ``A00-B99``, tried after every prefix, in file order
main_proc       core: the main procedure code, or ``/``-separated alternatives (any one of them);
                empty for a medical (保守治疗) core group
related_procs   core: ``+``-joined related procedures that must all be present, each of them possibly
                ``/``-separated alternatives (``54.5100/54.2100+99.2500``); may be empty
proc_class      comprehensive: ``medical`` | ``diagnostic`` | ``therapeutic`` | ``surgery``
surgery_level   comprehensive surgery groups split by surgery level (Jining): ``1``, ``2`` or a band
                ``3-4``; a case takes the group whose band holds the highest level of its surgeries
                (``proc_attributes.csv``'s ``surgery_level``), else the unsplit group; optional
score           the group's score (病种分值), > 0
mean_cost       mean cost of the group (yuan; outlier reference, tie-breaks); optional
n_cases, cv     history cases and cost CV (informational); optional
is_basic        ``true`` for a basic group (基层病种, same pay at every hospital level); optional
basic_coef      per-group basic coefficient (``basic_group_coef_mode: per_group``); optional
name            free text; optional
=============== ================================================================================

``proc_attributes.csv`` -- ``proc, attribute`` (and optional ``surgery_level``, 1-4 手术级别, for the
split of comprehensive surgery groups): the attribute of each ICD-9-CM-3 code,
``conservative`` | ``diagnostic`` | ``therapeutic`` | ``surgery`` | ``interventional``. A case with a
code not listed is not grouped (``dip_status`` ``unknown_proc``): its class cannot be known.

``excluded_dx.csv`` (optional) -- ``dx``: principal diagnoses (exact code, subcategory or category)
whose cases are not grouped (``dip_status`` ``excluded_dx``; the national exclusion lists, §3.3 step 1).

``excluded_proc.csv`` (optional) -- ``proc``: procedures dropped from a case's list before matching
(they neither make a main procedure nor count as related procedures or as unknown).

``aux.csv`` (optional) -- auxiliary typing (辅助分型): ``dip_group, subtype, aux_coef, trigger``,
subtype one of ``SUBTYPES``; ``trigger`` (default ``aux_coef``) chooses among several met subtypes.
Besides death, severity (``severity_dx.csv``), age and ICU days (domain §3.5):

* malignant-tumour subtypes, for a principal diagnosis C00-C97: ``tumour_high_cost_1`` (cost at least
  3 × the group's mean cost and ``treatment_cost``, the treatment fee without surgery, at least half of
  it), ``tumour_high_cost_2`` (the same with ``drug_cost``), ``tumour_metastasis`` (a secondary
  malignant diagnosis C77-C79 of another category, LOS > 3), ``tumour_radiotherapy`` (a procedure
  92.2-92.4), ``tumour_chemotherapy`` (99.25 chemotherapy or 99.28 immunotherapy);
* the Charlson comorbidity index of the secondary diagnoses (DIP 1.0; :mod:`drgdip.grouper.comorbidity`):
  ``cci_1_2``, ``cci_3_4``, ``cci_5_plus``.

``severity_dx.csv`` (optional) -- ``dx, severity``: secondary diagnoses (exact code, subcategory
such as ``J96.0`` or category such as ``A41``) that make a case ``severe`` or ``moderate``.

``meta.yaml`` -- ``name``, ``points_scale`` (1000), ``all_case_mean`` (yuan), ``interventional_as``
(``surgery`` | ``therapeutic``), ``attribute_source`` (``main`` | ``highest``), ``severity_min_los`` (4).

The grouping itself is :mod:`drgdip.grouper.dip`; scores as a weight table are
:meth:`drgdip.pointvalue.WeightTable.from_dip_directory`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from drgdip.core.atomic import atomic_open, atomic_path
from drgdip.core.errors import UsageError
from drgdip.grouper import _dip_kernels as K
from drgdip.grouper.dip_codes import diagnosis_subcategory

__all__ = ["DipDirectory", "CompiledDipDirectory", "load_dip_directory", "class_of_attribute", "ATTRIBUTES",
           "PROC_CLASSES", "SUBTYPES", "SEVERITIES", "META_KEYS"]

ATTRIBUTES = ("conservative", "diagnostic", "therapeutic", "surgery", "interventional")
PROC_CLASSES = ("medical", "diagnostic", "therapeutic", "surgery")  # index = the kernel's class rank
SUBTYPES = ("death", "severe", "moderate", "age_0_28d", "age_29d_1y", "age_1_6y", "age_7_17y", "age_65y_plus",
            "icu_2_7d", "icu_8_14d", "icu_15_30d", "icu_31d_plus",
            "tumour_high_cost_1", "tumour_high_cost_2", "tumour_metastasis", "tumour_radiotherapy",
            "tumour_chemotherapy", "cci_1_2", "cci_3_4", "cci_5_plus")  # index = the kernel's subtype number
SEVERITIES = ("moderate", "severe")
CORE_KINDS = ("pre_grouping", "merged", "diagnosis_assisted", "basic_rule")   # matching order
ANY_DIAGNOSIS = "*"
META_KEYS = ("name", "points_scale", "all_case_mean", "interventional_as", "attribute_source",
             "severity_min_los")


@dataclass(frozen=True)
class CompiledDipDirectory:
    """A directory as the plain arrays the DIP kernels search (built once per :class:`DipDirectory`).

    Group rows are positions in ``DipDirectory.groups``; "CSR" pairs are offsets ``ptr`` (one more than
    the entries they index) and the flat values.
    """

    core_dx_vocab: pd.Index     # diagnosis subcategories that have core groups (id len(vocab): any diagnosis)
    prefix_vocab: list          # per prefix level (longest first): the comprehensive prefixes of that length
    prefix_lengths: tuple       # prefix length of each level, longest first
    proc_vocab: pd.Index        # procedure codes of proc_attributes.csv
    proc_class: np.ndarray      # int8 class (index into PROC_CLASSES) of each proc_vocab code
    core_keys: np.ndarray       # sorted: subcategory id * (len(proc_vocab) + 1) + main procedure id + 1
    core_rows: np.ndarray       # group row of each core key
    core_rel_ptr: np.ndarray    # CSR over core keys: the related-procedure slots each requires
    core_slot_ptr: np.ndarray   # CSR over slots: the alternatives (any one of them) of each slot
    core_rel_ids: np.ndarray    # proc_vocab ids of the alternatives
    core_mean: np.ndarray       # mean cost of each core key's group (inf when unknown), for tie-breaks
    core_kind: np.ndarray       # index into CORE_KINDS of each core key's group: the earlier kind wins
    newborn_lo: np.ndarray      # newborn pre-grouping groups (file order): birth-weight band in grams, group row
    newborn_hi: np.ndarray
    newborn_rows: np.ndarray
    any_dx_id: int              # diagnosis id of the any-diagnosis core groups (-1: the directory has none)
    comp_keys: np.ndarray       # sorted: prefix id * 4 + class, prefix ids numbered level after level
    comp_rows: np.ndarray       # group row of each comprehensive key
    comp_band_lo: np.ndarray    # surgery-level band of each comprehensive key (0, 0: not split)
    comp_band_hi: np.ndarray
    proc_surgery_level: np.ndarray  # surgery level (1-4, 0 none) of each proc_vocab code
    group_mean: np.ndarray      # mean cost of each group row (NaN unknown), for the high-cost tumour subtypes
    range_lo: np.ndarray        # comprehensive groups by category range, in file order: lowest category code,
    range_hi: np.ndarray        #   highest (category_code), procedure class and group row
    range_class: np.ndarray
    range_rows: np.ndarray
    aux_ptr: np.ndarray         # CSR over group rows: the group's auxiliary subtypes
    aux_subtype: np.ndarray     # index into SUBTYPES
    aux_trigger: np.ndarray
    aux_coef: np.ndarray
    severity_vocab: pd.Index    # codes of severity_dx.csv
    severity_level: np.ndarray  # int8 per severity_vocab entry: 1 moderate, 2 severe


@dataclass(frozen=True)
class DipDirectory:
    """A DIP directory (病种目录库): groups with scores, procedure attributes, auxiliary typing.

    Build one with :func:`load_dip_directory` or :func:`drgdip.pointvalue.build_dip_directory`; write it
    with :meth:`to_dir`. ``groups`` has the columns of ``groups.csv`` (see module docstring); ``compiled``
    holds the arrays the grouping kernel searches.
    """

    groups: pd.DataFrame
    proc_attributes: pd.DataFrame
    aux: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"dip_group": pd.Series(dtype=object), "subtype": pd.Series(dtype=object),
         "aux_coef": pd.Series(dtype=float), "trigger": pd.Series(dtype=float)}))
    severity_dx: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"dx": pd.Series(dtype=object), "severity": pd.Series(dtype=object)}))
    excluded_dx: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"dx": pd.Series(dtype=object)}))
    excluded_proc: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"proc": pd.Series(dtype=object)}))
    name: str = "dip"
    points_scale: float = 1000.0
    all_case_mean: float | None = None
    interventional_as: str = "surgery"
    attribute_source: str = "main"
    severity_min_los: int = 4
    source: str = "<directory>"
    compiled: CompiledDipDirectory = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        groups, attributes, aux, severity = _validate(self)
        for name, column in (("excluded_dx", "dx"), ("excluded_proc", "proc")):
            object.__setattr__(self, name, _code_list(getattr(self, name), column, f"{self.source}/{name}.csv"))
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
        tables = {"groups": (groups, "%.10g"), "proc_attributes": (self.proc_attributes, None)}
        if len(self.aux):
            tables["aux"] = (self.aux, "%.10g")
        for name in ("severity_dx", "excluded_dx", "excluded_proc"):
            if len(getattr(self, name)):
                tables[name] = (getattr(self, name), None)
        for name, (frame, float_format) in tables.items():
            with atomic_path(path / f"{name}.csv") as temporary:
                frame.to_csv(temporary, index=False, float_format=float_format)
        meta = {"name": self.name, "points_scale": float(self.points_scale),
                "all_case_mean": None if self.all_case_mean is None else float(self.all_case_mean),
                "interventional_as": self.interventional_as, "attribute_source": self.attribute_source,
                "severity_min_los": int(self.severity_min_los)}
        with atomic_open(path / "meta.yaml") as handle:
            yaml.safe_dump(meta, handle, allow_unicode=True, sort_keys=False)


def _fail(file: str, message: str, row: int | None = None, field_name: str | None = None):
    raise UsageError(message, file=file, row=row, field=field_name)


def _code_list(frame: pd.DataFrame, column: str, file: str) -> pd.DataFrame:
    """An exclusion list: one code per row, none empty or twice."""
    if column not in frame.columns:
        _fail(file, f"missing column '{column}'", field_name=column)
    codes = _text(frame.reset_index(drop=True), column)
    for bad, problem in ((codes == "", "value is missing"), (codes.duplicated(), "listed twice")):
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            _fail(file, f"{codes.iloc[row]!r} {problem}" if problem == "listed twice" else problem, row + 1, column)
    return pd.DataFrame({column: codes.to_numpy(dtype=object)})


RANGE_PATTERN = r"[A-Z]\d\d-[A-Z]\d\d"


def category_code(category) -> np.ndarray:
    """An ICD-10 category (``K35``) as a number that orders like the code (letter × 100 + the two
    digits); -1 for anything else. Category ranges such as ``A00-B99`` compare these numbers."""
    text = pd.Series(category, dtype="string").str.slice(0, 3)
    ok = text.str.fullmatch(r"[A-Z]\d\d").fillna(False).to_numpy(dtype=bool)
    letters = text.str.slice(0, 1).fillna("A").map(lambda c: ord(c) - 65 if c else 0).to_numpy(dtype=np.int64)
    digits = pd.to_numeric(text.str.slice(1, 3), errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    return np.where(ok, letters * 100 + digits, -1)


def _alternatives(text: str) -> list[str]:
    return [code for code in text.split("/") if code]


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
    if not len(g):   # a header alone would leave every case ungrouped without a word
        _fail(gfile, "has no groups (only a header): a DIP directory needs its core and comprehensive groups", 1)
    out = pd.DataFrame({"dip_group": _text(g, "dip_group"), "dip_type": _text(g, "dip_type"),
                        "dx": _text(g, "dx"), "main_proc": _text(g, "main_proc"),
                        "related_procs": _text(g, "related_procs"), "proc_class": _text(g, "proc_class"),
                        "core_kind": _text(g, "core_kind"), "surgery_level": _text(g, "surgery_level"),
                        "birth_weight": _text(g, "birth_weight")})
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
    is_range = out["dx"].str.fullmatch(RANGE_PATTERN).to_numpy()
    bad_prefix = comp & ~(out["dx"].str.len().between(1, 3)).to_numpy() & ~is_range
    if bad_prefix.any():
        row = int(np.flatnonzero(bad_prefix)[0])
        _fail(gfile, f"a comprehensive group's dx is a 1-3 character prefix or a category range such as A00-B99, "
                     f"got {out['dx'].iloc[row]!r}", row + 1, "dx")
    backwards = comp & is_range & (category_code(out["dx"].str.slice(0, 3)) > category_code(out["dx"].str.slice(4, 7)))
    if backwards.any():
        row = int(np.flatnonzero(backwards)[0])
        _fail(gfile, f"a category range must run from low to high, got {out['dx'].iloc[row]!r}", row + 1, "dx")
    out.loc[core & (out["core_kind"] == "").to_numpy(), "core_kind"] = "basic_rule"
    bad_kind = core & ~out["core_kind"].isin(CORE_KINDS).to_numpy()
    if bad_kind.any():
        row = int(np.flatnonzero(bad_kind)[0])
        _fail(gfile, f"core_kind must be one of {', '.join(CORE_KINDS)}, got {out['core_kind'].iloc[row]!r}",
              row + 1, "core_kind")
    any_dx = core & (out["dx"] == ANY_DIAGNOSIS).to_numpy()
    newborn = (out["birth_weight"] != "").to_numpy()
    bad_band = newborn & ~(any_dx & (out["core_kind"] == "pre_grouping").to_numpy()
                           & out["birth_weight"].str.fullmatch(r"\d{1,4}-\d{1,4}").to_numpy())
    if bad_band.any():
        row = int(np.flatnonzero(bad_band)[0])
        _fail(gfile, f"birth_weight is a band of grams such as 750-999, for a pre_grouping group with dx '*'; got "
                     f"{out['birth_weight'].iloc[row]!r}", row + 1, "birth_weight")
    wild = any_dx & (out["core_kind"] != "pre_grouping").to_numpy() \
        | any_dx & (out["main_proc"] == "").to_numpy() & ~newborn
    if wild.any():
        row = int(np.flatnonzero(wild)[0])
        _fail(gfile, "dx '*' (any diagnosis) is for a pre_grouping core group with a main_proc or a birth_weight "
                     "band", row + 1, "dx")
    out["dx"] = np.where(core & ~any_dx, out["dx"].map(lambda s: "/".join(sorted(set(_alternatives(s))))),
                         out["dx"])
    for row in np.flatnonzero(core & ~any_dx):
        alternatives = _alternatives(out["dx"].iloc[row])
        sub = diagnosis_subcategory(pa.array(alternatives, pa.string())).to_pylist()
        if not alternatives or sub != alternatives:
            _fail(gfile, f"a core group's dx is a diagnosis subcategory such as K35.8 (or alternatives "
                         f"K35.8/K35.3), got {out['dx'].iloc[row]!r}", row + 1, "dx")
    related_without_main = core & (out["main_proc"] == "").to_numpy() & (out["related_procs"] != "").to_numpy()
    if related_without_main.any():
        row = int(np.flatnonzero(related_without_main)[0])
        _fail(gfile, "related_procs need a main_proc", row + 1, "related_procs")
    # canonical related-procedure sets (each slot's alternatives sorted) and unique keys
    related = out["related_procs"].map(
        lambda s: "+".join(sorted({"/".join(sorted(set(_alternatives(slot)))) for slot in s.split("+") if slot})))
    out["related_procs"] = related
    out["main_proc"] = out["main_proc"].map(lambda s: "/".join(sorted(set(_alternatives(s)))))
    core_key = out["dx"] + "\x1f" + out["main_proc"] + "\x1f" + related + "\x1f" + out["birth_weight"]
    banded = (out["surgery_level"] != "").to_numpy()
    bad_band = banded & (core | (out["proc_class"] != "surgery").to_numpy()
                         | ~out["surgery_level"].str.fullmatch(r"[1-4](-[1-4])?").to_numpy())
    if bad_band.any():
        row = int(np.flatnonzero(bad_band)[0])
        _fail(gfile, f"surgery_level is for comprehensive surgery groups: 1-4 or a band such as 3-4, got "
                     f"{out['surgery_level'].iloc[row]!r}", row + 1, "surgery_level")
    comp_key = out["dx"] + "\x1f" + out["proc_class"] + "\x1f" + out["surgery_level"]
    key = pd.Series(np.where(core, "c\x1f" + core_key, "k\x1f" + comp_key), dtype=object)
    dup = key.duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        _fail(gfile, f"group {out['dip_group'].iloc[row]!r} has the same matching key as an earlier group",
              row + 1, "dip_group")
    out.loc[~core, ["main_proc", "related_procs", "core_kind"]] = ""
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
    if "surgery_level" in a.columns:
        level = _text(a, "surgery_level")
        bad_level = ~level.isin(("", "1", "2", "3", "4")).to_numpy()
        if bad_level.any():
            row = int(np.flatnonzero(bad_level)[0])
            _fail(afile, f"surgery_level must be 1 to 4 (or empty), got {level.iloc[row]!r}", row + 1,
                  "surgery_level")
        attributes["surgery_level"] = level
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
    procs_used = set()
    for main in out.loc[core & (out["main_proc"] != "").to_numpy(), "main_proc"]:
        procs_used.update(_alternatives(main))
    for rel in out.loc[core, "related_procs"]:
        for slot in filter(None, rel.split("+")):
            procs_used.update(_alternatives(slot))
    non_conservative = set(attributes.loc[attributes["attribute"] != "conservative", "proc"])
    missing = sorted(procs_used - non_conservative)
    if missing:
        uses = out["main_proc"].map(lambda s: missing[0] in _alternatives(s)) | out["related_procs"].map(
            lambda s: any(missing[0] in _alternatives(slot) for slot in s.split("+")))
        row = int(np.flatnonzero(uses.to_numpy())[0])
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


def class_of_attribute(attributes: pd.Series, interventional_as: str) -> np.ndarray:
    """Class (int8 index into :data:`PROC_CLASSES`) of each procedure attribute; interventional procedures
    count as ``interventional_as`` (surgery or therapeutic), conservative ones as medical."""
    mapping = {"conservative": K.MEDICAL, "diagnostic": K.DIAGNOSTIC, "therapeutic": K.THERAPEUTIC,
               "surgery": K.SURGERY,
               "interventional": K.SURGERY if interventional_as == "surgery" else K.THERAPEUTIC}
    return attributes.map(mapping).to_numpy(dtype=np.int8)


def _compile(d: DipDirectory) -> CompiledDipDirectory:
    g = d.groups
    core = (g["dip_type"] == "core").to_numpy()
    core_rows = np.flatnonzero(core)
    comp_rows = np.flatnonzero(~core)

    proc_vocab = pd.Index(d.proc_attributes["proc"].to_numpy(dtype=object))
    proc_class = class_of_attribute(d.proc_attributes["attribute"], d.interventional_as)
    n_vocab = len(proc_vocab)

    # one key per (group, diagnosis alternative, main-procedure alternative); '*' is the last dx id
    entry_rows, entry_dx, entry_main = [], [], []
    weights = g["birth_weight"].to_numpy(dtype=object) if "birth_weight" in g.columns else \
        np.full(len(g), "", dtype=object)
    newborn_rows = np.asarray([r for r in core_rows if weights[r]], dtype=np.int64)
    for row, dx, main in zip(core_rows, g["dx"].to_numpy(dtype=object)[core_rows],
                             g["main_proc"].to_numpy(dtype=object)[core_rows]):
        if weights[row]:   # newborn groups are matched by weight band, not by key
            continue
        for diagnosis in ([dx] if dx == ANY_DIAGNOSIS else _alternatives(dx)):
            for alternative in (_alternatives(main) or [""]):
                entry_rows.append(row)
                entry_dx.append(diagnosis)
                entry_main.append(alternative)
    entry_rows = np.asarray(entry_rows, dtype=np.int64)
    entry_main = np.asarray(entry_main, dtype=object)
    core_dx_vocab = pd.Index(sorted({d for d in entry_dx if d != ANY_DIAGNOSIS}))
    dx_id = np.asarray([len(core_dx_vocab) if d == ANY_DIAGNOSIS else core_dx_vocab.get_loc(d) for d in entry_dx],
                       dtype=np.int64)
    main_id = np.where(entry_main == "", -1, proc_vocab.get_indexer(entry_main) if len(entry_main) else
                       np.zeros(0, np.int64)).astype(np.int64)
    keys = dx_id * (n_vocab + 1) + main_id + 1
    order = np.lexsort((entry_rows, keys))
    core_keys = keys[order]
    core_rows_sorted = entry_rows[order]
    slots = [[_alternatives(slot) for slot in r.split("+") if slot]
             for r in g["related_procs"].to_numpy(dtype=object)[core_rows_sorted]]
    rel_ptr = np.zeros(len(slots) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in slots], out=rel_ptr[1:])
    flat_slots = [alternatives for r in slots for alternatives in r]
    slot_ptr = np.zeros(len(flat_slots) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in flat_slots], out=slot_ptr[1:])
    codes = [code for alternatives in flat_slots for code in alternatives]
    rel_ids = proc_vocab.get_indexer(codes).astype(np.int64) if codes else np.zeros(0, dtype=np.int64)
    core_mean = g["mean_cost"].to_numpy(dtype=np.float64)[core_rows_sorted]
    core_mean = np.where(np.isnan(core_mean), np.inf, core_mean)
    kinds = g["core_kind"].to_numpy(dtype=object)[core_rows_sorted] if "core_kind" in g.columns else \
        np.full(len(core_rows_sorted), "basic_rule", dtype=object)
    core_kind = np.asarray([CORE_KINDS.index(k or "basic_rule") for k in kinds], dtype=np.int64)

    ranged = ~core & g["dx"].str.fullmatch(RANGE_PATTERN).to_numpy()
    range_rows = np.flatnonzero(ranged)
    range_dx = g["dx"].to_numpy(dtype=object)[range_rows]
    range_lo = category_code([d[:3] for d in range_dx]) if len(range_dx) else np.zeros(0, np.int64)
    range_hi = category_code([d[4:7] for d in range_dx]) if len(range_dx) else np.zeros(0, np.int64)
    range_class = g["proc_class"].to_numpy(dtype=object)[range_rows]
    range_class = np.asarray([PROC_CLASSES.index(c) for c in range_class], dtype=np.int64)
    comp_rows = np.flatnonzero(~core & ~ranged)

    prefixes = g["dx"].to_numpy(dtype=object)[comp_rows]
    lengths = tuple(sorted({len(p) for p in prefixes}, reverse=True))
    prefix_vocab = [pd.Index(sorted({p for p in prefixes if len(p) == n})) for n in lengths]
    offsets = np.cumsum([0] + [len(v) for v in prefix_vocab])
    pid = np.empty(len(comp_rows), dtype=np.int64)
    for level, n in enumerate(lengths):
        sel = np.array([len(p) == n for p in prefixes], dtype=bool)
        pid[sel] = prefix_vocab[level].get_indexer(prefixes[sel]) + offsets[level]
    klass = g["proc_class"].iloc[comp_rows].map({c: i for i, c in enumerate(PROC_CLASSES)}).to_numpy(dtype=np.int64)
    ckeys = pid * 4 + klass
    corder = np.argsort(ckeys, kind="stable")
    bands = g["surgery_level"].to_numpy(dtype=object)[comp_rows] if "surgery_level" in g.columns else \
        np.full(len(comp_rows), "", dtype=object)
    band_lo = np.asarray([int(b.split("-")[0]) if b else 0 for b in bands], dtype=np.int64)
    band_hi = np.asarray([int(b.split("-")[-1]) if b else 0 for b in bands], dtype=np.int64)
    levels = d.proc_attributes["surgery_level"].to_numpy(dtype=object) if "surgery_level" in \
        d.proc_attributes.columns else np.full(len(proc_vocab), "", dtype=object)
    proc_surgery_level = np.asarray([int(v) if v else 0 for v in levels], dtype=np.int64)

    aux = d.aux
    aux_group = pd.Index(g["dip_group"]).get_indexer(aux["dip_group"].to_numpy(dtype=object)).astype(np.int64)
    aorder = np.argsort(aux_group, kind="stable")
    aux_ptr = np.zeros(len(g) + 1, dtype=np.int64)
    np.cumsum(np.bincount(aux_group, minlength=len(g)), out=aux_ptr[1:])
    aux_subtype = aux["subtype"].map({s: i for i, s in enumerate(SUBTYPES)}).to_numpy(dtype=np.int64)[aorder]

    severity_vocab = pd.Index(d.severity_dx["dx"].to_numpy(dtype=object))
    severity_level = d.severity_dx["severity"].map({"moderate": 1, "severe": 2}).to_numpy(dtype=np.int8)
    return CompiledDipDirectory(
        core_dx_vocab=core_dx_vocab, prefix_vocab=prefix_vocab, prefix_lengths=lengths, proc_vocab=proc_vocab,
        proc_class=proc_class, core_keys=core_keys, core_rows=core_rows_sorted.astype(np.int64),
        core_rel_ptr=rel_ptr, core_slot_ptr=slot_ptr, core_rel_ids=rel_ids, core_mean=core_mean,
        newborn_lo=np.asarray([int(weights[r].split("-")[0]) for r in newborn_rows], dtype=np.int64),
        newborn_hi=np.asarray([int(weights[r].split("-")[1]) for r in newborn_rows], dtype=np.int64),
        newborn_rows=newborn_rows,
        core_kind=core_kind, any_dx_id=len(core_dx_vocab) if ANY_DIAGNOSIS in entry_dx else -1,
        comp_keys=ckeys[corder], comp_rows=comp_rows[corder].astype(np.int64),
        comp_band_lo=band_lo[corder], comp_band_hi=band_hi[corder], proc_surgery_level=proc_surgery_level,
        group_mean=g["mean_cost"].to_numpy(dtype=np.float64),
        range_lo=range_lo.astype(np.int64), range_hi=range_hi.astype(np.int64), range_class=range_class,
        range_rows=range_rows.astype(np.int64),
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
    for name in ("excluded_dx", "excluded_proc"):
        listed = read(f"{name}.csv", False)
        if listed is not None:
            kwargs[name] = listed
    if aux is not None:
        kwargs["aux"] = aux
    if severity is not None:
        kwargs["severity_dx"] = severity
    return DipDirectory(groups=read("groups.csv", True), proc_attributes=read("proc_attributes.csv", True),
                        source=str(path), **kwargs)
