"""Load, validate and compile a CHS-DRG scheme directory (分组方案) into flat numpy arrays.

A scheme is a folder of CSV tables in the layout of the national CHS-DRG 1.1 tables
(``mdc.csv``, ``mdc_dx.csv``, ``adrg.csv``, ``adrg_codes.csv``, ``drg.csv``, ``cc.csv``,
``cc_exclusion.csv``, ``valid_proc.csv``; optionally ``dx_names.csv``, ``proc_names.csv``,
``dx_map.csv``, ``proc_map.csv`` and the parameter table ``scheme.csv``). The national 1.0 and the
city versions use the same layout with a few more rule atoms and columns (RULES-ADDENDUM.md): the
column ``variant`` (several entry rules for one ADRG), the split parameters ``age_max``,
``los_min``, ``los_max``; a column a version does not use may be left out. The engine holds no
scheme logic beyond the rule atoms defined here; every problem in a table is reported with its
file, line and cause.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from drgdip.grouper._text_kernels import CodeTable, build_code_table
from drgdip.grouper.builtin import SchemeTable, builtin_dir, builtin_names, read_packed

# MDC entry atoms (bit flags of CompiledScheme.mdc_atoms).
MDC_MAIN_PROC_VALID = 1
MDC_PRINCIPAL_DX = 2
MDC_GENDER = 4
MDC_AGE_YEARS = 8
MDC_TRAUMA_REGIONS = 16
MDC_ANY_DX = 32
MDC_AGE_YEARS_STRICT = 64
MDC_ATOMS = {
    "main_proc_valid": MDC_MAIN_PROC_VALID,
    "principal_dx": MDC_PRINCIPAL_DX,
    "gender": MDC_GENDER,
    "age_years": MDC_AGE_YEARS,
    "trauma_regions": MDC_TRAUMA_REGIONS,
    "any_dx": MDC_ANY_DX,
    "age_years_strict": MDC_AGE_YEARS_STRICT,
}

# ADRG entry atoms (bit flags of CompiledScheme.adrg_atoms).
ADRG_PRINCIPAL_DX = 1
ADRG_ANY_DX = 2
ADRG_MAIN_PROC = 4
ADRG_MAIN_PROC_VALID = 8
ADRG_PROC_PAIR = 16
ADRG_PROC_GROUPS = 32
ADRG_NO_VALID_PROC = 64
ADRG_NEWBORN = 128
ADRG_BIRTH_WEIGHT = 256
ADRG_ALWAYS = 512
ADRG_ANY_PROC = 1024
ADRG_MAIN_PROC_NOT_VALID = 2048
ADRG_SECONDARY_DX1 = 4096
ADRG_ANY_PROC_SS2 = 8192
ADRG_ATOMS = {
    "principal_dx": ADRG_PRINCIPAL_DX,
    "any_dx": ADRG_ANY_DX,
    "main_proc": ADRG_MAIN_PROC,
    "main_proc_valid": ADRG_MAIN_PROC_VALID,
    "proc_pair": ADRG_PROC_PAIR,
    "proc_groups": ADRG_PROC_GROUPS,
    "no_valid_proc": ADRG_NO_VALID_PROC,
    "newborn": ADRG_NEWBORN,
    "birth_weight": ADRG_BIRTH_WEIGHT,
    "always": ADRG_ALWAYS,
    "any_proc": ADRG_ANY_PROC,
    "main_proc_not_valid": ADRG_MAIN_PROC_NOT_VALID,
    "secondary_dx1": ADRG_SECONDARY_DX1,
    "any_proc_ss2": ADRG_ANY_PROC_SS2,
}
# Code lists of adrg_codes.csv: diagnoses (zd, zd1 for secondary_dx1), procedures (ss, ss1, ss2).
CODE_LISTS = ("zd", "ss", "ss1", "zd1", "ss2")
DX_LISTS = ("zd", "zd1")

# DRG split atoms (bit flags of CompiledScheme.drg_split; a rule is a ``+``-joined conjunction).
SPLIT_ALWAYS = 0
SPLIT_MCC = 1
SPLIT_MCC_OR_CC = 2
SPLIT_AGE_LE = 4
SPLIT_AGE_LE_RAW = 8
SPLIT_LOS_RANGE = 16
SPLIT_ATOMS = {"always": SPLIT_ALWAYS, "mcc": SPLIT_MCC, "mcc_or_cc": SPLIT_MCC_OR_CC,
               "age_le": SPLIT_AGE_LE, "age_le_raw": SPLIT_AGE_LE_RAW, "los_range": SPLIT_LOS_RANGE}

# Ambiguous-group check of an MDC (CompiledScheme.mdc_qy_test).
QY_OFF, QY_ANY_PROC, QY_MAIN_PROC = 0, 1, 2
QY_TESTS = {"any_proc": QY_ANY_PROC, "main_proc": QY_MAIN_PROC}

# Version parameters of scheme.csv: allowed values, the first is the default.
SCHEME_PARAMETERS = {
    "gender_typing": ("integer", "text"),
    "qy_test": ("any_proc", "main_proc"),
}

# Complication levels (CompiledScheme.dx_cc_level).
CC_NONE, CC_CC, CC_MCC = 0, 1, 2
CC_LEVELS = {"CC": CC_CC, "MCC": CC_MCC}

# Parameter value meaning "not given" for integer parameters of rules.
NOT_GIVEN = np.iinfo(np.int64).min
MAX_PROC_GROUP_LABELS = 12

REQUIRED_TABLES = {
    "mdc": ["mdc", "name", "eval_order", "entry_rule", "gender", "age_years",
            "min_trauma_regions", "qy_code", "qy_enabled"],
    "mdc_dx": ["mdc", "code", "trauma_region"],
    "adrg": ["adrg", "mdc", "name", "eval_order", "section", "entry_rule", "age_days_max",
             "weight_min", "weight_max", "proc_groups"],
    "adrg_codes": ["adrg", "list", "code", "proc_group"],
    "drg": ["drg", "adrg", "mdc", "name", "eval_order", "split_rule"],
    "cc": ["code", "level", "exclusion_table"],
    "cc_exclusion": ["principal_dx", "exclusion_table"],
    "valid_proc": ["code"],
}
OPTIONAL_TABLES = {
    "dx_names": ["code", "name"],
    "proc_names": ["code", "name"],
    "dx_map": ["source_code", "target_code"],
    "proc_map": ["source_code", "target_code"],
    "scheme": ["key", "value"],
}
# Columns a version may leave out when it does not use them (then empty in every row).
OPTIONAL_COLUMNS = {
    "adrg": ["variant"],
    "adrg_codes": ["variant"],
    "drg": ["age_max", "los_min", "los_max"],
}


class SchemeError(ValueError):
    """A scheme table is missing or wrong; the message names the file, the line and the problem."""

    def __init__(self, file: str, problem: str, line: int | None = None):
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {problem}")
        self.file, self.line, self.problem = file, line, problem


class CompiledScheme(NamedTuple):
    """The scheme as flat arrays for the numba kernels.

    MDCs are numbered in evaluation order, ADRG entry rules (rows of adrg.csv: one per ADRG, or
    one per ``variant``) by (MDC order, ADRG order) so that the rules of MDC ``m`` are
    ``mdc_adrg_ptr[m]:mdc_adrg_ptr[m+1]``; the DRGs of a rule's ADRG are
    ``adrg_drg_start[a]:adrg_drg_stop[a]``, in evaluation order.
    Diagnosis and procedure codes are integer ids into ``Scheme.dx_codes`` / ``Scheme.proc_codes``;
    an input code the scheme does not know has id -1 and no property.
    """

    mdc_atoms: np.ndarray          # int32[n_mdc] MDC_* flags
    mdc_gender: np.ndarray         # int64[n_mdc] required gender (1/2) or NOT_GIVEN
    mdc_age_years: np.ndarray      # int64[n_mdc] required age in years or NOT_GIVEN
    mdc_min_regions: np.ndarray    # int64[n_mdc] minimum distinct trauma regions
    mdc_trauma_slot: np.ndarray    # int32[n_mdc] row of dx_trauma_region, -1 if no trauma rule
    mdc_qy_test: np.ndarray        # int8[n_mdc] QY_OFF / QY_ANY_PROC / QY_MAIN_PROC
    mdc_any_dx_used: np.ndarray    # bool[1] some MDC is entered on any diagnosis (any_dx)
    mdc_qy_pos: np.ndarray         # int32[n_mdc] ADRG index before which the QY check sits
    mdc_adrg_ptr: np.ndarray       # int32[n_mdc + 1]
    adrg_atoms: np.ndarray         # int32[n_adrg] ADRG_* flags
    adrg_age_days_max: np.ndarray  # int64[n_adrg]
    adrg_weight_min: np.ndarray    # int64[n_adrg] inclusive, NOT_GIVEN if open
    adrg_weight_max: np.ndarray    # int64[n_adrg] exclusive, NOT_GIVEN if open
    adrg_pg_slot: np.ndarray       # int32[n_adrg] row of proc_group_labels / pg_truth, -1 if none
    adrg_drg_start: np.ndarray     # int32[n_adrg] first DRG of the ADRG (shared by its variants)
    adrg_drg_stop: np.ndarray      # int32[n_adrg] one past its last DRG (= start: no DRG row)
    drg_split: np.ndarray          # int32[n_drg] SPLIT_* flags, all must hold (0 = always)
    drg_age_max: np.ndarray        # int64[n_drg] age_le / age_le_raw limit, NOT_GIVEN if none
    drg_los_min: np.ndarray        # int64[n_drg] los_range inclusive lower bound, NOT_GIVEN if open
    drg_los_max: np.ndarray        # int64[n_drg] los_range exclusive upper bound, NOT_GIVEN if open
    dx_mdc_bits: np.ndarray        # uint64[n_dx, Wm] principal-diagnosis lists of the MDCs
    dx_trauma_region: np.ndarray   # int8[n_trauma_mdcs, n_dx] region id, -1 if none
    dx_zd_bits: np.ndarray         # uint64[n_dx, Wa] ADRG diagnosis lists (zd)
    dx_zd1_bits: np.ndarray        # uint64[n_dx, Wa] secondary-diagnosis lists (zd1)
    proc_ss_bits: np.ndarray       # uint64[n_proc, Wa] ADRG procedure lists (ss)
    proc_ss1_bits: np.ndarray      # uint64[n_proc, Wa] second procedure lists (ss1)
    proc_ss2_bits: np.ndarray      # uint64[n_proc, Wa] third procedure lists (ss2)
    proc_group_labels: np.ndarray  # uint16[n_pg_adrgs, n_proc] bit set of group labels
    pg_truth: np.ndarray           # bool[n_pg_adrgs, 2**MAX_PROC_GROUP_LABELS] expression value
    proc_valid: np.ndarray         # bool[n_proc] operating-room ("valid") procedure
    dx_cc_level: np.ndarray        # int8[n_dx] CC_NONE / CC_CC / CC_MCC
    dx_cc_table: np.ndarray        # int32[n_dx] exclusion table of the code as a complication, -1
    dx_principal_table: np.ndarray  # int32[n_dx] exclusion table of the code as principal, -1


@dataclass(frozen=True)
class Scheme:
    """A loaded, validated and compiled grouping scheme.

    ``tables`` holds the raw tables (all columns as text) by file stem; ``compiled`` the arrays
    the kernels use; the ``*_codes`` arrays turn kernel indices back into scheme codes.
    """

    path: Path
    tables: dict[str, pd.DataFrame] = field(repr=False)
    compiled: CompiledScheme = field(repr=False)
    mdc_codes: np.ndarray = field(repr=False)      # str[n_mdc], evaluation order
    adrg_codes: np.ndarray = field(repr=False)     # str[n_adrg], compiled order (an ADRG with
    #                                                several entry rules appears once per variant)
    adrg_variants: np.ndarray = field(repr=False)  # str[n_adrg] variant of each rule, "" if single
    drg_codes: np.ndarray = field(repr=False)      # str[n_drg], compiled order
    drg_adrg: np.ndarray = field(repr=False)       # int32[n_drg] (first) ADRG rule index of each DRG
    adrg_mdc: np.ndarray = field(repr=False)       # int32[n_adrg] MDC index of each ADRG
    qy_codes: np.ndarray = field(repr=False)       # str[n_mdc] ambiguous-group code per MDC
    dx_codes: pd.Index = field(repr=False)         # diagnosis vocabulary (id = position)
    proc_codes: pd.Index = field(repr=False)       # procedure vocabulary (id = position)
    dx_table: CodeTable = field(repr=False)        # hash table of dx_codes for encoding input
    proc_table: CodeTable = field(repr=False)      # hash table of proc_codes
    trauma_regions: tuple[str, ...] = ()
    proc_group_names: tuple[tuple[str, ...], ...] = ()  # labels of each proc-groups ADRG slot
    parameters: dict[str, str] = field(default_factory=dict)  # scheme.csv with defaults filled in
    fingerprint: str = ""   # SHA-256 of the tables' bytes: two schemes group alike when it is equal

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def gender_typing(self) -> str:
        """How the gender field is typed and validated: ``integer`` (RULES.md) or ``text``."""
        return self.parameters.get("gender_typing", SCHEME_PARAMETERS["gender_typing"][0])

    @property
    def uses_age_typing(self) -> bool:
        """Whether an atom tells an age typed as an integer from text that int() accepts."""
        c = self.compiled
        return bool((c.mdc_atoms & MDC_AGE_YEARS_STRICT).any() or (c.drg_split & SPLIT_AGE_LE_RAW).any())

    @property
    def uses_los(self) -> bool:
        """Whether a split rule reads the length of stay (then ``los`` is a grouping input)."""
        return bool((self.compiled.drg_split & SPLIT_LOS_RANGE).any())

    def __repr__(self) -> str:
        return (f"Scheme({self.name!r}: {len(self.mdc_codes)} MDCs, {len(set(self.adrg_codes))} ADRGs, "
                f"{len(self.drg_codes)} DRGs)")


def load_scheme(path: str | Path) -> Scheme:
    """Read a scheme directory or a built-in scheme by name, validate every table and compile it for the
    kernels.

    An existing directory is read as a scheme folder; any other ``path`` must be the name of a
    built-in scheme (:func:`drgdip.grouper.builtin.builtin_names`).
    """
    path = resolve_scheme_path(path)
    tables, fingerprint = _read_tables(path)
    _validate(tables)
    parameters = _parameters(tables)
    return replace(_compile(path, tables, parameters), parameters=parameters, fingerprint=fingerprint)


# ---------------------------------------------------------------- reading and validation


def resolve_scheme_path(path: str | Path) -> Path:
    """The folder of a scheme given as a directory or as the name of a built-in scheme."""
    if Path(path).is_dir():
        return Path(path)
    packed = builtin_dir(str(path))
    if packed is None:
        raise SchemeError(str(path), "neither a scheme directory nor a built-in scheme (built-in: "
                                     f"{', '.join(builtin_names()) or 'none'})")
    return packed


def read_table_csv(content: bytes, file: str) -> pd.DataFrame:
    """A scheme table from its CSV bytes, every column as text (``file`` names it in errors)."""
    try:
        return pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, na_filter=False,
                           encoding="utf-8")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise SchemeError(file, f"cannot be read as UTF-8 CSV ({error})") from None


def _read_csv_file(file: Path) -> SchemeTable | None:
    """A table of a scheme folder, None if the folder lacks it."""
    if not file.is_file():
        return None
    content = file.read_bytes()
    return SchemeTable(read_table_csv(content, file.name), hashlib.sha256(content).hexdigest(), len(content))


def _read_tables(path: Path) -> tuple[dict[str, pd.DataFrame], str]:
    """The scheme's tables by file stem (all text), and the SHA-256 over each table's stem, size and
    hash of its CSV bytes (equal for a folder and the built-in packed from it)."""
    stems = {**REQUIRED_TABLES, **OPTIONAL_TABLES}
    packed = read_packed(path, stems)
    tables: dict[str, pd.DataFrame] = {}
    digest = hashlib.sha256()
    for stem, columns in stems.items():
        file = path / f"{stem}.csv"
        table = packed.get(stem) if packed is not None else _read_csv_file(file)
        if table is None:
            if stem in REQUIRED_TABLES:
                raise SchemeError(file.name, "required table is missing")
            continue
        digest.update(f"{stem}:{table.size}:{table.sha256}\n".encode())
        frame = table.frame
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise SchemeError(file.name, f"missing column(s) {', '.join(missing)}", line=1)
        for column in OPTIONAL_COLUMNS.get(stem, ()):
            if column not in frame.columns:
                frame[column] = ""
        tables[stem] = frame
    return tables, digest.hexdigest()


def _line(index: int) -> int:
    """CSV line of a data row (the header is line 1)."""
    return int(index) + 2


def _fail_where(file: str, frame: pd.DataFrame, mask, problem) -> None:
    """Raise for the first row where ``mask`` holds; ``problem`` may use the row."""
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        row = frame.iloc[i]
        raise SchemeError(file, problem(row) if callable(problem) else problem, line=_line(i))


def _check_unique(file: str, frame: pd.DataFrame, columns: list[str]) -> None:
    duplicated = frame.duplicated(subset=columns, keep="first").to_numpy()
    _fail_where(file, frame, duplicated,
                lambda r: "duplicate " + ", ".join(f"{c} {r[c]!r}" for c in columns))


def _check_nonempty(file: str, frame: pd.DataFrame, columns: list[str]) -> None:
    for column in columns:
        _fail_where(file, frame, frame[column].to_numpy() == "", f"empty {column}")


def _check_int(file: str, frame: pd.DataFrame, column: str, *, optional: bool) -> None:
    values = frame[column]
    bad = ~values.str.fullmatch(r"-?[0-9]+")
    if optional:
        bad &= values != ""
    _fail_where(file, frame, bad, lambda r: f"{column} must be an integer, got {r[column]!r}")


def _check_tokens(file: str, frame: pd.DataFrame, column: str, allowed: dict) -> None:
    for i, rule in enumerate(frame[column].to_numpy()):
        tokens = rule.split("+") if rule else [""]
        for token in tokens:
            if token not in allowed:
                raise SchemeError(
                    file, f"unknown rule token {token!r} in {column} {rule!r} "
                          f"(allowed: {', '.join(allowed)})", line=_line(i))


def _check_reference(file: str, frame: pd.DataFrame, column: str, known, what: str) -> None:
    unknown = ~frame[column].isin(known).to_numpy()
    _fail_where(file, frame, unknown, lambda r: f"{what} {r[column]!r} does not exist")


def _uses(rules: pd.Series, atom: str) -> pd.Series:
    """Whether each ``+``-joined rule contains ``atom``."""
    return rules.str.split("+").apply(lambda tokens: atom in tokens)


def _rule_key(frame: pd.DataFrame) -> pd.Series:
    """ADRG code and variant of each row, as one key (``AH1`` or ``AH1/2``)."""
    return frame["adrg"] + np.where(frame["variant"] != "", "/" + frame["variant"], "")


def _parameters(t: dict[str, pd.DataFrame]) -> dict[str, str]:
    """The version parameters of scheme.csv, defaults filled in."""
    given = dict(zip(t["scheme"]["key"], t["scheme"]["value"])) if "scheme" in t else {}
    return {key: given.get(key, values[0]) for key, values in SCHEME_PARAMETERS.items()}


def _validate(t: dict[str, pd.DataFrame]) -> None:
    mdc, adrg, drg = t["mdc"], t["adrg"], t["drg"]

    _check_nonempty("mdc.csv", mdc, ["mdc", "entry_rule"])
    _check_unique("mdc.csv", mdc, ["mdc"])
    _check_int("mdc.csv", mdc, "eval_order", optional=False)
    _check_unique("mdc.csv", mdc, ["eval_order"])
    _check_tokens("mdc.csv", mdc, "entry_rule", MDC_ATOMS)
    for column in ("gender", "age_years", "min_trauma_regions"):
        _check_int("mdc.csv", mdc, column, optional=True)
    _fail_where("mdc.csv", mdc, ~mdc["qy_enabled"].isin(["true", "false", ""]),
                lambda r: f"qy_enabled must be true or false, got {r['qy_enabled']!r}")
    for atom, column in (("gender", "gender"), ("age_years", "age_years"),
                         ("age_years_strict", "age_years"), ("trauma_regions", "min_trauma_regions")):
        needs = _uses(mdc["entry_rule"], atom)
        _fail_where("mdc.csv", mdc, needs & (mdc[column] == ""),
                    f"entry rule uses {atom} but column {column} is empty")
    _fail_where("mdc.csv", mdc, (mdc["qy_enabled"] == "true") & (mdc["qy_code"] == ""),
                "qy_enabled is true but qy_code is empty")
    if len(mdc) > 64:
        raise SchemeError("mdc.csv", f"at most 64 MDCs are supported, found {len(mdc)}")

    mdc_dx = t["mdc_dx"]
    _check_nonempty("mdc_dx.csv", mdc_dx, ["mdc", "code"])
    _check_reference("mdc_dx.csv", mdc_dx, "mdc", mdc["mdc"], "MDC")
    _check_unique("mdc_dx.csv", mdc_dx, ["mdc", "code"])

    _check_nonempty("adrg.csv", adrg, ["adrg", "mdc", "entry_rule"])
    _check_int("adrg.csv", adrg, "variant", optional=True)
    _check_unique("adrg.csv", adrg, ["adrg", "variant"])
    several = adrg["adrg"].duplicated(keep=False).to_numpy()
    _fail_where("adrg.csv", adrg, several & (adrg["variant"] == "").to_numpy(),
                lambda r: f"ADRG {r['adrg']} has several rows (entry rules) but this one has no variant")
    first = adrg.drop_duplicates("adrg").set_index("adrg")
    for column in ("mdc", "name"):
        expected = adrg["adrg"].map(first[column])
        _fail_where("adrg.csv", adrg, adrg[column] != expected,
                    lambda r, c=column: f"variant {r['variant']} of ADRG {r['adrg']} has {c} {r[c]!r}, "
                                        f"another row of it {first.loc[r['adrg'], c]!r}")
    _check_reference("adrg.csv", adrg, "mdc", mdc["mdc"], "MDC")
    _check_int("adrg.csv", adrg, "eval_order", optional=False)
    _check_unique("adrg.csv", adrg, ["mdc", "eval_order"])
    _check_tokens("adrg.csv", adrg, "entry_rule", ADRG_ATOMS)
    _fail_where("adrg.csv", adrg, ~adrg["section"].isin(["surgical", "medical", ""]),
                lambda r: f"section must be surgical or medical, got {r['section']!r}")
    # An enabled ambiguous-group check sits between an MDC's surgical and its medical ADRGs.
    checked = adrg["mdc"].isin(mdc.loc[mdc["qy_enabled"] == "true", "mdc"])
    ordered = adrg.assign(_o=adrg["eval_order"].astype(int)).sort_values(["mdc", "_o"], kind="stable")
    after_medical = (ordered["section"] == "medical").groupby(ordered["mdc"]).cummax()
    late = (ordered["section"] == "surgical") & after_medical
    _fail_where("adrg.csv", adrg, checked & late.reindex(adrg.index),
                lambda r: f"surgical ADRG {r['adrg']} comes after a medical ADRG of {r['mdc']}, whose "
                          f"ambiguous-group check (qy_enabled) sits between its surgical and medical ADRGs")
    for column in ("age_days_max", "weight_min", "weight_max"):
        _check_int("adrg.csv", adrg, column, optional=True)
    _fail_where("adrg.csv", adrg, _uses(adrg["entry_rule"], "newborn") & (adrg["age_days_max"] == ""),
                "entry rule uses newborn but age_days_max is empty")
    _fail_where("adrg.csv", adrg, _uses(adrg["entry_rule"], "proc_groups") & (adrg["proc_groups"] == ""),
                "entry rule uses proc_groups but column proc_groups is empty")

    codes = t["adrg_codes"]
    _check_nonempty("adrg_codes.csv", codes, ["adrg", "list", "code"])
    _check_reference("adrg_codes.csv", codes, "adrg", adrg["adrg"], "ADRG")
    _check_int("adrg_codes.csv", codes, "variant", optional=True)
    rule_keys = _rule_key(adrg)
    _fail_where("adrg_codes.csv", codes, ~_rule_key(codes).isin(rule_keys).to_numpy(),
                lambda r: f"ADRG {r['adrg']} has no row with variant {r['variant']!r} in adrg.csv")
    _fail_where("adrg_codes.csv", codes, ~codes["list"].isin(CODE_LISTS),
                lambda r: f"list must be one of {', '.join(CODE_LISTS)}, got {r['list']!r}")
    _check_unique("adrg_codes.csv", codes, ["adrg", "variant", "list", "code"])
    pg_rules = set(rule_keys[_uses(adrg["entry_rule"], "proc_groups")])
    needs_label = _rule_key(codes).isin(pg_rules) & (codes["list"] == "ss")
    _fail_where("adrg_codes.csv", codes, needs_label & (codes["proc_group"] == ""),
                lambda r: f"procedure {r['code']!r} of proc_groups ADRG {r['adrg']} has no proc_group")

    _check_nonempty("drg.csv", drg, ["drg", "adrg", "split_rule"])
    _check_unique("drg.csv", drg, ["drg"])
    _check_reference("drg.csv", drg, "adrg", adrg["adrg"], "ADRG")
    _check_int("drg.csv", drg, "eval_order", optional=False)
    _check_unique("drg.csv", drg, ["adrg", "eval_order"])
    _check_tokens("drg.csv", drg, "split_rule", SPLIT_ATOMS)
    for column in ("age_max", "los_min", "los_max"):
        _check_int("drg.csv", drg, column, optional=True)
    uses_age = _uses(drg["split_rule"], "age_le") | _uses(drg["split_rule"], "age_le_raw")
    uses_los = _uses(drg["split_rule"], "los_range")
    _fail_where("drg.csv", drg, uses_age & (drg["age_max"] == ""),
                "split rule uses age_le or age_le_raw but age_max is empty")
    _fail_where("drg.csv", drg, ~uses_age & (drg["age_max"] != ""),
                "age_max is given but the split rule uses neither age_le nor age_le_raw")
    _fail_where("drg.csv", drg, uses_los & (drg["los_min"] == "") & (drg["los_max"] == ""),
                "split rule uses los_range but both los_min and los_max are empty")
    _fail_where("drg.csv", drg, ~uses_los & ((drg["los_min"] != "") | (drg["los_max"] != "")),
                "los_min or los_max is given but the split rule does not use los_range")
    adrg_mdc = dict(zip(adrg["adrg"], adrg["mdc"]))
    _fail_where("drg.csv", drg, (drg["mdc"] != "") & (drg["mdc"] != drg["adrg"].map(adrg_mdc)),
                lambda r: f"DRG {r['drg']} says MDC {r['mdc']} but its ADRG {r['adrg']} "
                          f"belongs to {adrg_mdc[r['adrg']]}")
    # An ADRG may have no DRG row, or no `always` one: a case no split rule takes gets the ADRG
    # code as its DRG (RULES-ADDENDUM.md A6).

    cc = t["cc"]
    _check_nonempty("cc.csv", cc, ["code", "level"])
    _check_unique("cc.csv", cc, ["code"])
    _fail_where("cc.csv", cc, ~cc["level"].isin(list(CC_LEVELS)),
                lambda r: f"level must be MCC or CC, got {r['level']!r}")
    excl = t["cc_exclusion"]
    _check_nonempty("cc_exclusion.csv", excl, ["principal_dx", "exclusion_table"])
    _check_unique("cc_exclusion.csv", excl, ["principal_dx"])

    vp = t["valid_proc"]
    _check_nonempty("valid_proc.csv", vp, ["code"])
    _check_unique("valid_proc.csv", vp, ["code"])
    for stem in ("dx_names", "proc_names"):
        if stem in t:
            _check_unique(f"{stem}.csv", t[stem], ["code"])
    for stem in ("dx_map", "proc_map"):
        if stem in t:
            _check_nonempty(f"{stem}.csv", t[stem], ["source_code"])
            _check_unique(f"{stem}.csv", t[stem], ["source_code"])
    if "scheme" in t:
        params = t["scheme"]
        _check_nonempty("scheme.csv", params, ["key", "value"])
        _check_unique("scheme.csv", params, ["key"])
        _fail_where("scheme.csv", params, ~params["key"].isin(list(SCHEME_PARAMETERS)),
                    lambda r: f"unknown key {r['key']!r} (known: {', '.join(SCHEME_PARAMETERS)})")
        allowed = params["key"].map(SCHEME_PARAMETERS)
        _fail_where("scheme.csv", params, [v not in a for v, a in zip(params["value"], allowed)],
                    lambda r: f"{r['key']} must be one of {', '.join(SCHEME_PARAMETERS[r['key']])}, "
                              f"got {r['value']!r}")


# ---------------------------------------------------------------- proc-group expressions


def _parse_group_expression(text: str, file: str, line: int):
    """Parse ``1|(2&3)`` into (labels, predicate over a set of labels)."""
    tokens = re.findall(r"[A-Za-z0-9_]+|[&|()]|\S", text)
    position = 0

    def peek():
        return tokens[position] if position < len(tokens) else None

    def take():
        nonlocal position
        position += 1
        return tokens[position - 1]

    def parse_or():
        terms = [parse_and()]
        while peek() == "|":
            take()
            terms.append(parse_and())
        return lambda s: any(term(s) for term in terms)

    def parse_and():
        factors = [parse_atom()]
        while peek() == "&":
            take()
            factors.append(parse_atom())
        return lambda s: all(factor(s) for factor in factors)

    def parse_atom():
        token = peek()
        if token == "(":
            take()
            inner = parse_or()
            if take() != ")":
                raise SchemeError(file, f"unbalanced parentheses in proc_groups {text!r}", line)
            return inner
        if token is None or not re.fullmatch(r"[A-Za-z0-9_]+", token):
            raise SchemeError(file, f"unexpected {token!r} in proc_groups {text!r}", line)
        take()
        return lambda s, label=token: label in s

    try:
        predicate = parse_or()
    except IndexError:
        raise SchemeError(file, f"incomplete proc_groups expression {text!r}", line) from None
    if position != len(tokens):
        raise SchemeError(file, f"unexpected {tokens[position]!r} in proc_groups {text!r}", line)
    labels = sorted({tok for tok in tokens if re.fullmatch(r"[A-Za-z0-9_]+", tok)})
    return labels, predicate


# ---------------------------------------------------------------- compilation


def _bitset(rows: np.ndarray, bits: np.ndarray, n_rows: int, n_bits: int) -> np.ndarray:
    """uint64[n_rows, ceil(n_bits/64)] with bit ``bits[k]`` set in row ``rows[k]``."""
    words = max(1, (n_bits + 63) // 64)
    out = np.zeros((n_rows, words), dtype=np.uint64)
    rows = np.asarray(rows, dtype=np.int64)
    bits = np.asarray(bits, dtype=np.int64)
    np.bitwise_or.at(out, (rows, bits >> 6), np.left_shift(np.uint64(1), (bits & 63).astype(np.uint64)))
    return out


def _int_or(values: pd.Series) -> np.ndarray:
    return np.array([int(v) if v != "" else NOT_GIVEN for v in values], dtype=np.int64)


def _compile(path: Path, t: dict[str, pd.DataFrame], parameters: dict[str, str]) -> Scheme:
    mdc = t["mdc"].assign(_o=t["mdc"]["eval_order"].astype(int)).sort_values("_o", kind="stable")
    mdc = mdc.reset_index(drop=True)
    mdc_index = {code: i for i, code in enumerate(mdc["mdc"])}

    adrg = t["adrg"].copy()
    adrg["_m"] = adrg["mdc"].map(mdc_index)
    adrg["_o"] = adrg["eval_order"].astype(int)
    adrg["_line"] = np.arange(len(adrg)) + 2
    adrg = adrg.sort_values(["_m", "_o"], kind="stable").reset_index(drop=True)
    rule_index = {key: i for i, key in enumerate(_rule_key(adrg))}
    # the DRGs of an ADRG are listed once, under its first rule; every variant points to them
    first_rule = adrg.drop_duplicates("adrg").reset_index()
    adrg_first = dict(zip(first_rule["adrg"], first_rule["index"]))

    drg = t["drg"].copy()
    drg["_a"] = drg["adrg"].map(adrg_first)
    drg["_o"] = drg["eval_order"].astype(int)
    drg = drg.sort_values(["_a", "_o"], kind="stable").reset_index(drop=True)

    n_mdc, n_adrg = len(mdc), len(adrg)
    mdc_adrg_ptr = np.searchsorted(adrg["_m"].to_numpy(), np.arange(n_mdc + 1)).astype(np.int32)
    own_first = adrg["adrg"].map(adrg_first).to_numpy()
    adrg_drg_start = np.searchsorted(drg["_a"].to_numpy(), own_first, side="left").astype(np.int32)
    adrg_drg_stop = np.searchsorted(drg["_a"].to_numpy(), own_first, side="right").astype(np.int32)

    codes = t["adrg_codes"]
    cc, excl, mdc_dx = t["cc"], t["cc_exclusion"], t["mdc_dx"]
    is_dx_list = codes["list"].isin(DX_LISTS)
    dx_codes = pd.Index(pd.unique(pd.concat([
        mdc_dx["code"], codes.loc[is_dx_list, "code"], cc["code"], excl["principal_dx"],
    ], ignore_index=True)), dtype=object)
    proc_codes = pd.Index(pd.unique(pd.concat([
        codes.loc[~is_dx_list, "code"], t["valid_proc"]["code"],
    ], ignore_index=True)), dtype=object)
    n_dx, n_proc = len(dx_codes), len(proc_codes)

    # MDC rules
    mdc_atoms = np.array([sum(MDC_ATOMS[a] for a in r.split("+")) for r in mdc["entry_rule"]],
                         dtype=np.int32)
    dx_mdc_bits = _bitset(dx_codes.get_indexer(mdc_dx["code"]), mdc_dx["mdc"].map(mdc_index),
                          n_dx, n_mdc)
    trauma_mdcs = [i for i in range(n_mdc) if mdc_atoms[i] & MDC_TRAUMA_REGIONS]
    mdc_trauma_slot = np.full(n_mdc, -1, dtype=np.int32)
    regions = sorted(set(mdc_dx.loc[mdc_dx["trauma_region"] != "", "trauma_region"]))
    if len(regions) > 63:
        raise SchemeError("mdc_dx.csv", f"at most 63 trauma regions are supported, found {len(regions)}")
    region_id = {name: k for k, name in enumerate(regions)}
    dx_trauma_region = np.full((max(1, len(trauma_mdcs)), n_dx), -1, dtype=np.int8)
    for slot, m in enumerate(trauma_mdcs):
        mdc_trauma_slot[m] = slot
        rows = mdc_dx[(mdc_dx["mdc"] == mdc["mdc"][m]) & (mdc_dx["trauma_region"] != "")]
        dx_trauma_region[slot, dx_codes.get_indexer(rows["code"])] = rows["trauma_region"].map(region_id)

    # The ambiguous-group check sits just before the MDC's first medical ADRG (after its last
    # ADRG if it has none); what it tests is a version parameter.
    mdc_qy_pos = np.empty(n_mdc, dtype=np.int32)
    sections = adrg["section"].to_numpy()
    for m in range(n_mdc):
        start, stop = mdc_adrg_ptr[m], mdc_adrg_ptr[m + 1]
        medical = np.flatnonzero(sections[start:stop] == "medical")
        mdc_qy_pos[m] = start + medical[0] if len(medical) else stop
    mdc_qy_test = np.where(mdc["qy_enabled"] == "true", QY_TESTS[parameters["qy_test"]], QY_OFF)

    # ADRG rules
    adrg_atoms = np.array([sum(ADRG_ATOMS[a] for a in r.split("+")) for r in adrg["entry_rule"]],
                          dtype=np.int32)
    code_adrg = _rule_key(codes).map(rule_index).to_numpy()

    def list_bits(name: str, vocabulary: pd.Index, n_codes: int) -> np.ndarray:
        rows = (codes["list"] == name).to_numpy()
        return _bitset(vocabulary.get_indexer(codes["code"][rows]), code_adrg[rows], n_codes, n_adrg)

    ss = (codes["list"] == "ss").to_numpy()

    pg_rows = np.flatnonzero(adrg_atoms & ADRG_PROC_GROUPS)
    adrg_pg_slot = np.full(n_adrg, -1, dtype=np.int32)
    proc_group_labels = np.zeros((max(1, len(pg_rows)), n_proc), dtype=np.uint16)
    pg_truth = np.zeros((max(1, len(pg_rows)), 2 ** MAX_PROC_GROUP_LABELS), dtype=np.bool_)
    group_names = []
    for slot, a in enumerate(pg_rows):
        expression = adrg["proc_groups"][a]
        line = int(adrg["_line"][a])
        labels, predicate = _parse_group_expression(expression, "adrg.csv", line)
        rows = codes[ss & (code_adrg == a)]
        labels = sorted(set(labels) | set(rows["proc_group"]))
        if len(labels) > MAX_PROC_GROUP_LABELS:
            raise SchemeError("adrg.csv", f"proc_groups of {adrg['adrg'][a]} use more than "
                                          f"{MAX_PROC_GROUP_LABELS} labels", line)
        bit = {label: k for k, label in enumerate(labels)}
        adrg_pg_slot[a] = slot
        group_names.append(tuple(labels))
        np.bitwise_or.at(proc_group_labels[slot], proc_codes.get_indexer(rows["code"]),
                         np.left_shift(1, rows["proc_group"].map(bit).to_numpy()).astype(np.uint16))
        for mask in range(2 ** len(labels)):
            pg_truth[slot, mask] = predicate({lab for lab, k in bit.items() if mask >> k & 1})

    # DRG split rules and complications
    drg_split = np.array([sum(SPLIT_ATOMS[a] for a in r.split("+")) for r in drg["split_rule"]],
                         dtype=np.int32)
    table_ids = {name: k for k, name in enumerate(pd.unique(pd.concat(
        [cc.loc[cc["exclusion_table"] != "", "exclusion_table"], excl["exclusion_table"]])))}
    dx_cc_level = np.zeros(n_dx, dtype=np.int8)
    dx_cc_table = np.full(n_dx, -1, dtype=np.int32)
    dx_principal_table = np.full(n_dx, -1, dtype=np.int32)
    cc_ids = dx_codes.get_indexer(cc["code"])
    dx_cc_level[cc_ids] = cc["level"].map(CC_LEVELS).to_numpy()
    dx_cc_table[cc_ids] = cc["exclusion_table"].map(table_ids).fillna(-1).to_numpy()
    dx_principal_table[dx_codes.get_indexer(excl["principal_dx"])] = excl["exclusion_table"].map(table_ids)

    proc_valid = np.zeros(n_proc, dtype=np.bool_)
    proc_valid[proc_codes.get_indexer(t["valid_proc"]["code"])] = True

    compiled = CompiledScheme(
        mdc_atoms=mdc_atoms,
        mdc_gender=_int_or(mdc["gender"]),
        mdc_age_years=_int_or(mdc["age_years"]),
        mdc_min_regions=_int_or(mdc["min_trauma_regions"]),
        mdc_trauma_slot=mdc_trauma_slot,
        mdc_qy_test=mdc_qy_test.astype(np.int8),
        mdc_any_dx_used=np.array([bool((mdc_atoms & MDC_ANY_DX).any())]),
        mdc_qy_pos=mdc_qy_pos,
        mdc_adrg_ptr=mdc_adrg_ptr,
        adrg_atoms=adrg_atoms,
        adrg_age_days_max=_int_or(adrg["age_days_max"]),
        adrg_weight_min=_int_or(adrg["weight_min"]),
        adrg_weight_max=_int_or(adrg["weight_max"]),
        adrg_pg_slot=adrg_pg_slot,
        adrg_drg_start=adrg_drg_start,
        adrg_drg_stop=adrg_drg_stop,
        drg_split=drg_split,
        drg_age_max=_int_or(drg["age_max"]),
        drg_los_min=_int_or(drg["los_min"]),
        drg_los_max=_int_or(drg["los_max"]),
        dx_mdc_bits=dx_mdc_bits,
        dx_trauma_region=dx_trauma_region,
        dx_zd_bits=list_bits("zd", dx_codes, n_dx),
        dx_zd1_bits=list_bits("zd1", dx_codes, n_dx),
        proc_ss_bits=list_bits("ss", proc_codes, n_proc),
        proc_ss1_bits=list_bits("ss1", proc_codes, n_proc),
        proc_ss2_bits=list_bits("ss2", proc_codes, n_proc),
        proc_group_labels=proc_group_labels,
        pg_truth=pg_truth,
        proc_valid=proc_valid,
        dx_cc_level=dx_cc_level,
        dx_cc_table=dx_cc_table,
        dx_principal_table=dx_principal_table,
    )
    return Scheme(
        path=path,
        tables=t,
        compiled=compiled,
        mdc_codes=mdc["mdc"].to_numpy(dtype=object),
        adrg_codes=adrg["adrg"].to_numpy(dtype=object),
        adrg_variants=adrg["variant"].to_numpy(dtype=object),
        drg_codes=drg["drg"].to_numpy(dtype=object),
        drg_adrg=drg["_a"].to_numpy().astype(np.int32),
        adrg_mdc=adrg["_m"].to_numpy().astype(np.int32),
        qy_codes=mdc["qy_code"].to_numpy(dtype=object),
        dx_codes=dx_codes,
        proc_codes=proc_codes,
        dx_table=build_code_table(dx_codes),
        proc_table=build_code_table(proc_codes),
        trauma_regions=tuple(regions),
        proc_group_names=tuple(group_names),
    )
