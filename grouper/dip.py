"""DIP grouping (按病种分值付费) of cases: encode them against a directory, run the kernel, label the result.

The directory, its format and loader are :mod:`drgdip.grouper.dip_directory`; why one case gets its group
is :func:`drgdip.grouper.dip_trace.explain_dip`.

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

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from drgdip.core.cluster import is_dask_frame
from drgdip.core.errors import UsageError
from drgdip.core.tables import read_table, source_name
from drgdip.grouper import _dip_kernels as K
from drgdip.grouper._dip_kernels import HIGH_COST_FACTOR
from drgdip.grouper.dip_codes import code_lists, diagnosis_subcategory, positions_in
from drgdip.grouper.comorbidity import charlson_index
from drgdip.grouper.dip_directory import SUBTYPES, DipDirectory, category_code, load_dip_directory

__all__ = ["group_dip", "group_dip_dask", "dip_result_meta", "prepare_dip_cases", "PreparedCases", "kernel_args",
           "DIP_TYPES", "DIP_STATUSES", "RESULT_COLUMNS", "HIGH_COST_FACTOR"]

DIP_TYPES = ("core", "comprehensive", "ungrouped")  # index = the kernel's dip type
# why a case was not grouped for its input, as the DRG side says it (index = PreparedCases.status)
DIP_STATUSES = ("ok", "invalid_input:parse_error", "unknown_proc", "excluded_dx")
RESULT_COLUMNS = ("dip_group", "dip_type", "dip_score", "dip_basic", "dip_subtype", "dip_aux_coef", "dip_status")
DEATH = 5  # leaving_type of death in the settlement list (离院方式 5 死亡)


@dataclass(frozen=True)
class PreparedCases:
    """Cases encoded for the DIP kernel (see :func:`drgdip.grouper._dip_kernels._dip_cases` for each array)."""

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
    status: np.ndarray = None    # int8[n] index into DIP_STATUSES: cases not ok are not grouped
    category: np.ndarray = None  # int64[n] the principal diagnosis' category as a number (-1 none)
    surgery_level: np.ndarray = None   # int64[n] highest surgery level (1-4) of the case's procedures, 0 none
    newborn_weight: np.ndarray = None  # int64[n] birth weight (g) of a baby under 29 days old, else -1

    def __len__(self) -> int:
        return len(self.has_dx)


def _integer_column(frame: pd.DataFrame, column: str, file: str,
                    unreadable: np.ndarray | None = None) -> np.ndarray:
    """Optional number column as float64 (NaN where absent); cases whose value is given but is not a
    number are marked in ``unreadable``."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    given = frame[column]
    values = pd.to_numeric(given, errors="coerce")
    if unreadable is not None and not pd.api.types.is_numeric_dtype(given.dtype):
        text = given.astype("string").str.strip()
        unreadable |= (values.isna() & text.notna() & (text != "")).to_numpy(dtype=bool)
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def prepare_dip_cases(frame: pd.DataFrame, directory: DipDirectory, file: str = "<DataFrame>", *,
                      subtypes=None) -> PreparedCases:
    """Encode the dx / proc lists and typing fields of ``frame`` against ``directory`` (vectorised).

    ``subtypes``: names from ``SUBTYPES`` whose flags must be worked out even when no group of the
    directory types by them (the directory builder); by default only the directory's own.
    """
    c = directory.compiled
    n = len(frame)
    if "dx" not in frame.columns:
        raise UsageError("missing column 'dx'", file=file, field="dx")
    dx_ptr, dx_flat, no_principal = code_lists(frame["dx"], n, "dx", file, first_empty=True)
    proc_ptr, proc_flat = code_lists(frame["proc"] if "proc" in frame.columns else None, n, "proc", file)
    if len(directory.excluded_proc) and len(proc_flat):   # excluded procedures are dropped before matching
        keep = ~pc.is_in(proc_flat, value_set=pa.array(directory.excluded_proc["proc"].tolist(), pa.string())) \
            .to_numpy(zero_copy_only=False)
        owner = np.repeat(np.arange(n), np.diff(proc_ptr))
        proc_flat = proc_flat.filter(pa.array(keep))
        proc_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner[keep], minlength=n), out=proc_ptr[1:])
    has_dx = (np.diff(dx_ptr) > 0) & ~no_principal   # an empty principal diagnosis groups nowhere
    first = dx_ptr[:-1][has_dx]
    principal_present = dx_flat.take(pa.array(first, pa.int64())) if len(first) else pa.array([], pa.string())
    subcategory = diagnosis_subcategory(principal_present)
    used = set(c.aux_subtype.tolist())   # subtypes no group of the directory types by are not worked out
    used |= {SUBTYPES.index(name) for name in (subtypes or ())}
    tumour = bool(used & set(range(K.SUB_TUMOUR_HIGH_COST_1, K.SUB_TUMOUR_CHEMOTHERAPY + 1)))
    comorbidity = bool(used & {K.SUB_CCI_1_2, K.SUB_CCI_3_4, K.SUB_CCI_5_PLUS})
    category = np.full(n, -1, dtype=np.int64)
    if has_dx.any() and (len(c.range_lo) or tumour):   # a few thousand distinct categories: each coded once
        category[has_dx] = _category_codes(principal_present)
    excluded = np.zeros(n, dtype=bool)
    if len(directory.excluded_dx) and has_dx.any():   # by exact code, subcategory or category
        listed = pa.array(directory.excluded_dx["dx"].tolist(), pa.string())
        hit = np.zeros(int(has_dx.sum()), dtype=bool)
        for candidate in (principal_present, subcategory, pc.utf8_slice_codeunits(principal_present, 0, 3)):
            hit |= pc.is_in(candidate, value_set=listed).to_numpy(zero_copy_only=False)
        excluded[has_dx] = hit
    core_dx = np.full(n, -1, dtype=np.int64)
    core_dx[has_dx] = positions_in(subcategory, c.core_dx_vocab)
    prefix_ids = np.full((n, max(len(c.prefix_lengths), 1)), -1, dtype=np.int64)
    offset = 0
    for level, length in enumerate(c.prefix_lengths):
        ids = positions_in(pc.utf8_slice_codeunits(principal_present, 0, length), c.prefix_vocab[level])
        prefix_ids[has_dx, level] = np.where(ids >= 0, ids + offset, -1)
        offset += len(c.prefix_vocab[level])
    if len(c.prefix_lengths) == 0:
        prefix_ids = prefix_ids[:, :0]
    proc_ids = positions_in(proc_flat, c.proc_vocab)
    proc_class = np.where(proc_ids >= 0, c.proc_class[np.maximum(proc_ids, 0)] if len(c.proc_class) else 0,
                          K.MEDICAL).astype(np.int8)
    surgery_level = np.zeros(n, dtype=np.int64)
    if c.proc_surgery_level.any() and len(proc_ids):
        item_level = np.where(proc_ids >= 0, c.proc_surgery_level[np.maximum(proc_ids, 0)], 0)
        np.maximum.at(surgery_level, np.repeat(np.arange(n), np.diff(proc_ptr)), item_level)

    # severity from secondary diagnoses: exact code, subcategory or category listed
    severity = np.zeros(n, dtype=np.int8)
    codes, owner = _secondary_diagnoses(dx_flat, dx_ptr, no_principal, n)
    if len(c.severity_vocab) and len(codes):
        level = np.zeros(len(owner), dtype=np.int8)
        for candidate in (codes, diagnosis_subcategory(codes), pc.utf8_slice_codeunits(codes, 0, 3)):
            ids = positions_in(candidate, c.severity_vocab)
            level = np.maximum(level, np.where(ids >= 0, c.severity_level[np.maximum(ids, 0)], 0))
        np.maximum.at(severity, owner, level)

    unreadable = np.zeros(n, dtype=bool)
    los = _integer_column(frame, "los", file, unreadable)
    age = _integer_column(frame, "age", file, unreadable)
    age_days = _integer_column(frame, "age_days", file, unreadable)
    leaving = _integer_column(frame, "leaving_type", file, unreadable)
    flags = np.zeros((n, K.N_SUBTYPES), dtype=np.bool_)
    long_enough = los >= directory.severity_min_los
    flags[:, K.SUB_DEATH] = leaving == DEATH
    flags[:, K.SUB_SEVERE] = (severity == 2) & long_enough
    flags[:, K.SUB_MODERATE] = (severity == 1) & long_enough
    infant = age == 0
    weight = _integer_column(frame, "birth_weight", file, unreadable)
    newborn_weight = np.where((age_days < 29) & (np.isnan(age) | (age == 0)) & (weight >= 0),
                              np.nan_to_num(weight, nan=-1.0), -1.0).astype(np.int64)
    flags[:, K.SUB_AGE_0_28D] = infant & (age_days <= 28)
    flags[:, K.SUB_AGE_29D_1Y] = infant & (age_days > 28)
    flags[:, K.SUB_AGE_1_6Y] = (age >= 1) & (age <= 6)
    flags[:, K.SUB_AGE_7_17Y] = (age >= 7) & (age <= 17)
    flags[:, K.SUB_AGE_65Y_PLUS] = age >= 65
    icu_days = _integer_column(frame, "icu_hours", file, unreadable) / 24.0
    flags[:, K.SUB_ICU_2_7D] = (icu_days >= 2) & (icu_days < 8)
    flags[:, K.SUB_ICU_8_14D] = (icu_days >= 8) & (icu_days < 15)
    flags[:, K.SUB_ICU_15_30D] = (icu_days >= 15) & (icu_days < 31)
    flags[:, K.SUB_ICU_31D_PLUS] = icu_days >= 31
    cost = _integer_column(frame, "total_cost", file, unreadable)
    if tumour or comorbidity:
        _tumour_and_comorbidity_flags(flags, frame, file, unreadable, category, codes, owner, cost, proc_flat,
                                      proc_ptr, los, n, tumour=tumour, comorbidity=comorbidity)
    else:   # still read: a number field that is not a number keeps the case out in either case
        for column in ("drug_cost", "treatment_cost"):
            _integer_column(frame, column, file, unreadable)
    # a procedure the directory's attribute list does not know has no class: the case cannot be placed
    unknown_proc = np.zeros(n, dtype=bool)
    unknown_items = np.flatnonzero(proc_ids < 0)
    if len(unknown_items):
        unknown_proc[np.searchsorted(proc_ptr, unknown_items, side="right") - 1] = True
    status = np.select([unreadable, unknown_proc, excluded], [1, 2, 3], 0).astype(np.int8)
    return PreparedCases(has_dx=has_dx, core_dx=core_dx, prefix_ids=prefix_ids, proc_ptr=proc_ptr,
                         proc_ids=proc_ids, proc_class=proc_class, cost=cost, subtype_flags=flags,
                         principal=_principal_per_case(dx_flat, dx_ptr, has_dx), procs=proc_flat,
                         severity=severity, status=status, category=category,
                         surgery_level=surgery_level, newborn_weight=newborn_weight)


def _secondary_diagnoses(dx_flat: pa.Array, dx_ptr: np.ndarray, no_principal: np.ndarray,
                         n: int) -> tuple[pa.Array, np.ndarray]:
    """The secondary diagnoses (every code after the principal, all of them when the principal is
    empty) and the case each belongs to."""
    every_owner = np.repeat(np.arange(n), np.diff(dx_ptr))
    secondary = ((np.arange(len(dx_flat)) - dx_ptr[:-1][every_owner]) > 0) | no_principal[every_owner]
    codes = dx_flat.filter(pa.array(secondary)) if len(dx_flat) else dx_flat
    return codes, every_owner[secondary]


def _tumour_and_comorbidity_flags(flags: np.ndarray, frame: pd.DataFrame, file: str, unreadable: np.ndarray,
                                  category: np.ndarray, codes: pa.Array, holders: np.ndarray, cost: np.ndarray,
                                  proc_flat: pa.Array, proc_ptr: np.ndarray, los: np.ndarray, n: int, *,
                                  tumour: bool, comorbidity: bool) -> None:
    """The malignant-tumour and Charlson subtypes of each case (domain §3.5), into ``flags``; the
    high-cost tumour subtypes hold here all but their cost bound, which the kernel checks against the
    group's mean cost."""
    malignant = (category >= MALIGNANT[0]) & (category <= MALIGNANT[1])
    if tumour and len(codes):
        secondary_category = _category_codes(codes)
        spread = (secondary_category >= SECONDARY_MALIGNANT[0]) & (secondary_category <= SECONDARY_MALIGNANT[1]) \
            & (secondary_category != category[holders])
        metastasis = np.zeros(n, dtype=bool)
        metastasis[holders[spread]] = True
        flags[:, K.SUB_TUMOUR_METASTASIS] = malignant & metastasis & (los > 3)
    for subtype, column in ((K.SUB_TUMOUR_HIGH_COST_1, "treatment_cost"), (K.SUB_TUMOUR_HIGH_COST_2, "drug_cost")):
        part = _integer_column(frame, column, file, unreadable)
        with np.errstate(invalid="ignore", divide="ignore"):
            flags[:, subtype] = tumour & malignant & (part >= 0.5 * cost) & (cost > 0)
    if tumour and len(proc_flat):
        proc_owner = np.repeat(np.arange(n), np.diff(proc_ptr))
        for subtype, prefixes in ((K.SUB_TUMOUR_RADIOTHERAPY, RADIOTHERAPY), (K.SUB_TUMOUR_CHEMOTHERAPY, CHEMOTHERAPY)):
            hit = np.zeros(len(proc_flat), dtype=bool)
            for prefix in prefixes:
                hit |= pc.starts_with(proc_flat, prefix).to_numpy(zero_copy_only=False)
            treated = np.zeros(n, dtype=bool)
            treated[proc_owner[hit]] = True
            flags[:, subtype] = malignant & treated
    if not comorbidity:
        return
    cci = charlson_index(codes, holders, n)
    flags[:, K.SUB_CCI_1_2] = (cci >= 1) & (cci <= 2)
    flags[:, K.SUB_CCI_3_4] = (cci >= 3) & (cci <= 4)
    flags[:, K.SUB_CCI_5_PLUS] = cci >= 5


def _category_codes(codes: pa.Array) -> np.ndarray:
    """:func:`category_code` of many codes, each distinct category coded once."""
    if isinstance(codes, pa.ChunkedArray):
        codes = codes.combine_chunks()
    encoded = pc.dictionary_encode(pc.utf8_slice_codeunits(codes, 0, 3))
    return category_code(encoded.dictionary.to_pylist())[encoded.indices.to_numpy(zero_copy_only=False)]


def _principal_per_case(dx_flat: pa.Array, dx_ptr: np.ndarray, has_dx: np.ndarray) -> pa.Array:
    """Principal diagnosis of every case (null where the case has none)."""
    index = pa.array(np.where(has_dx, dx_ptr[:-1], 0), pa.int64(), mask=~has_dx)
    return dx_flat.take(index) if len(dx_flat) else pa.nulls(len(has_dx), pa.string())


def kernel_args(p: PreparedCases, d: DipDirectory) -> tuple:
    """The leading arguments of the DIP kernels for cases ``p`` prepared against directory ``d``.

    The batch kernel and the one-case trace take the same arguments, so they decide alike.
    """
    c = d.compiled
    return (p.has_dx, p.core_dx, p.prefix_ids, p.category, p.surgery_level, p.newborn_weight, p.proc_ptr,
            p.proc_ids, p.proc_class, p.cost, p.subtype_flags, d.attribute_source == "highest", len(c.proc_vocab),
            c.any_dx_id, c.core_keys, c.core_rows, c.core_rel_ptr, c.core_slot_ptr, c.core_rel_ids, c.core_mean,
            c.core_kind, c.newborn_lo, c.newborn_hi, c.newborn_rows, c.comp_keys, c.comp_rows, c.comp_band_lo,
            c.comp_band_hi, c.range_lo, c.range_hi, c.range_class, c.range_rows, c.group_mean, c.aux_ptr,
            c.aux_subtype, c.aux_trigger)


DIP_INPUT_COLUMNS = ("dx", "proc", "los", "age", "age_days", "leaving_type", "icu_hours", "total_cost", "drug_cost",
                     "treatment_cost", "birth_weight")
MALIGNANT = (200, 297)        # category codes of C00-C97
SECONDARY_MALIGNANT = (277, 279)   # C77-C79
RADIOTHERAPY = ("92.2", "92.3", "92.4")
CHEMOTHERAPY = ("99.25", "99.28")


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
    ``dip_subtype`` (auxiliary subtype applied, or empty), ``dip_aux_coef`` (1 without typing) and
    ``dip_status``: ``ok``, or why the case's input keeps it out of every group, as the DRG side says it:
    ``invalid_input:parse_error`` (a number field such as age, LOS or cost that is not a number) or
    ``unknown_proc`` (a procedure missing from ``proc_attributes.csv``, whose class is unknown: counting
    it as conservative would pay a surgery as a medical group).

    A Dask DataFrame gives a lazy Dask DataFrame of the same columns, partition by partition
    (:func:`group_dip_dask`).
    """
    if is_dask_frame(cases):
        return group_dip_dask(cases, directory)
    if not isinstance(directory, DipDirectory):
        directory = load_dip_directory(directory)
    frame = read_table(cases, what="cases", required=("dx",), columns=DIP_INPUT_COLUMNS)
    file = source_name(cases)
    prepared = prepare_dip_cases(frame, directory, file)
    n = len(prepared)
    group = np.empty(n, dtype=np.int64)
    dip_type = np.empty(n, dtype=np.int8)
    aux_row = np.empty(n, dtype=np.int64)
    K._group_dip_kernel(*kernel_args(prepared, directory), group, dip_type, aux_row)
    not_ok = prepared.status > 0
    group[not_ok], dip_type[not_ok], aux_row[not_ok] = -1, DIP_TYPES.index("ungrouped"), -1
    return _result_frame(group, dip_type, aux_row, directory, prepared.status)


def dip_result_meta(directory: DipDirectory) -> pd.DataFrame:
    """An empty DIP grouping result with the dtypes every partition of :func:`group_dip_dask` will have."""
    empty = np.empty(0, dtype=np.int64)
    return _result_frame(empty, np.empty(0, dtype=np.int8), empty, directory, np.empty(0, dtype=np.int8))


def _group_dip_partition(partition: pd.DataFrame, directory: DipDirectory) -> pd.DataFrame:
    grouped = group_dip(partition, directory)
    grouped.index = partition.index
    return grouped


def group_dip_dask(cases, directory: DipDirectory | str | Path):
    """DIP groups of a ``dask.dataframe.DataFrame`` of cases; returns a lazy Dask DataFrame with the
    columns of :func:`group_dip` (fixed categories), the input's index and partitions, one row per input row."""
    if not isinstance(directory, DipDirectory):
        directory = load_dip_directory(directory)
    return cases.map_partitions(_group_dip_partition, directory, meta=dip_result_meta(directory))


def _result_frame(group: np.ndarray, dip_type: np.ndarray, aux_row: np.ndarray, d: DipDirectory,
                  status: np.ndarray) -> pd.DataFrame:
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
        "dip_status": pd.Categorical.from_codes(status.astype(np.int64), categories=list(DIP_STATUSES)),
    })
