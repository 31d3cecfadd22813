"""What the synthetic province needs to know about a grouping scheme (分组方案画像).

Reads the raw tables of a loaded :class:`drgdip.grouper.Scheme` once and derives, as integer-coded numpy
arrays: every ADRG's entry requirements (its MDC's and its own rule atoms with their code lists),
the ADRG's kind (medical, surgical, pre-MDC) and the care classes it can serve (day surgery, day
chemotherapy, oncology day ward, TCM day care, psychiatric long stay), and the code pools from which
secondary diagnoses and extra procedures are drawn without changing the MDC or ADRG a case enters
(CC/MCC codes with their exclusion tables, neutral comorbidities, non-operating procedures).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# care classes of the case skeleton (a care class picks eligible ADRGs, hospitals, LOS and costs)
GENERAL, DAY_SURGERY, DAY_CHEMO, TCM_DAY, DAY_WARD, PSYCH_LONG = range(6)
CARE_CLASS_NAMES = ("inpatient", "day_surgery", "day_chemo", "tcm_day", "day_ward", "psych_long_stay")
# care_type column value of each class (psychiatric long stays are ordinary inpatient stays)
CARE_TYPE_OF_CLASS = ("inpatient", "day_surgery", "day_chemo", "tcm_day", "day_ward", "inpatient")

KIND_MEDICAL, KIND_SURGICAL, KIND_PREMDC = 0, 1, 2
PROCEDURE_ATOMS = {"main_proc", "main_proc_valid", "proc_pair", "proc_groups"}

# ICD-10 code prefixes of conditions that occur in one sex only (used for realistic genders)
FEMALE_PREFIXES = ("O", "N7", "N8", "N9", "C51", "C52", "C53", "C54", "C55", "C56", "C57", "C58",
                   "D25", "D26", "D27", "D28")
MALE_PREFIXES = ("N40", "N41", "N42", "N43", "N44", "N45", "N46", "N47", "N48", "N49", "N50", "N51",
                 "C60", "C61", "C62", "C63", "D29")
# common comorbidities preferred as neutral secondary diagnoses when the scheme knows them
COMMON_COMORBIDITY_PREFIXES = ("I10", "E11", "E78", "I25", "K21", "E03", "M47", "K76", "H25",
                               "J30", "E66", "Z95", "I48", "E14", "K29", "M54", "Z86", "Z92")
# chapters never used as neutral secondary diagnoses (perinatal, pregnancy, injuries, external causes)
NON_NEUTRAL_CHAPTERS = ("O", "P", "S", "T", "V", "W", "X", "Y")
# ICD-9-CM-3 chapters of operations on male (60-64) and female genital organs and obstetrics (65-75)
MALE_PROC_CHAPTERS = tuple(f"{c}." for c in range(60, 65))
FEMALE_PROC_CHAPTERS = tuple(f"{c}." for c in range(65, 76))
CHEMO_PROC_PREFIXES = ("99.25",)
RADIOTHERAPY_PROC_PREFIXES = ("92.2",)


@dataclass(frozen=True)
class AdrgRule:
    """Entry requirements of one ADRG, with the requirements of its MDC folded in."""

    code: str
    mdc: str
    index: int                       # position in SchemeProfile.adrgs
    atoms: frozenset                 # ADRG entry atoms
    mdc_atoms: frozenset             # MDC entry atoms
    principal_pool: np.ndarray       # dx ids a principal diagnosis may take (before verification)
    zd: np.ndarray                   # dx ids of the ADRG diagnosis list
    ss: np.ndarray                   # proc ids of the procedure list
    ss1: np.ndarray                  # proc ids of the second procedure list (proc_pair)
    proc_group_sets: tuple           # minimal label sets satisfying proc_groups: tuple of tuples of proc-id arrays
    mdc_gender: int                  # required gender (0 = none)
    mdc_age: int                     # required age in years (-1 = none)
    min_trauma_regions: int          # 0 = no trauma rule
    age_days_max: int                # newborn threshold (-1 = no newborn atom)
    weight_min: int                  # -1 = open
    weight_max: int                  # -1 = open
    kind: int                        # KIND_*


@dataclass(frozen=True)
class SchemeProfile:
    """Integer-coded view of a scheme for case synthesis (codes are ids into dx_vocab / proc_vocab)."""

    dx_vocab: np.ndarray = field(repr=False)        # str[n_dx]
    proc_vocab: np.ndarray = field(repr=False)      # str[n_proc]
    dx_cc_level: np.ndarray = field(repr=False)     # int8[n_dx] 0 none, 1 CC, 2 MCC
    dx_cc_table: np.ndarray = field(repr=False)     # int32[n_dx] exclusion table as complication, -1
    dx_principal_table: np.ndarray = field(repr=False)  # int32[n_dx] exclusion table as principal, -1
    dx_trauma_region: np.ndarray = field(repr=False)    # int16[n_dx] trauma region id, -1
    dx_sex: np.ndarray = field(repr=False)          # int8[n_dx] 0 any, 1 male only, 2 female only
    dx_pregnancy: np.ndarray = field(repr=False)    # bool[n_dx] pregnancy chapter (O)
    proc_sex: np.ndarray = field(repr=False)        # int8[n_proc] 0 any, 1 male, 2 female organs
    proc_valid: np.ndarray = field(repr=False)      # bool[n_proc] operating-room procedure
    adrgs: tuple = field(repr=False)                # AdrgRule per ADRG (scheme table order)
    drg_codes: np.ndarray = field(repr=False)       # str[n_drg]
    drg_adrg: np.ndarray = field(repr=False)        # int32[n_drg] ADRG index
    drg_split_level: np.ndarray = field(repr=False)  # int8[n_drg] complication level the split rule asks
                                                     # for: 2 mcc, 1 mcc_or_cc, 0 otherwise
    neutral_dx: np.ndarray = field(repr=False)      # dx ids of neutral comorbidities (common ones first)
    neutral_dx_weights: np.ndarray = field(repr=False)
    neutral_proc: np.ndarray = field(repr=False)    # proc ids that no rule looks at
    cc_pools: dict = field(repr=False)              # population -> (MCC ids, CC ids), population in
                                                    # {"general", "newborn", "pregnancy"}
    class_adrgs: tuple = field(repr=False)          # per care class: ADRG indices it may use
    class_proc_prefixes: tuple = field(repr=False)  # per care class: required main-procedure prefixes
    chapter_principals: dict = field(repr=False)    # procedure chapter (2 chars) -> principal dx ids of
                                                    # the MDCs whose surgical ADRGs use that chapter
    age_years_values: tuple = ()                    # ages (years) that some MDC rule tests for

    @property
    def n_adrg(self) -> int:
        return len(self.adrgs)


def _atoms(rule: str) -> frozenset:
    return frozenset(t for t in rule.split("+") if t)


def _int(text: str, default: int = -1) -> int:
    return int(text) if text != "" else default


def _startswith(codes: pd.Series, prefixes: tuple) -> np.ndarray:
    return codes.str.startswith(prefixes).to_numpy(dtype=bool)


def build_profile(scheme) -> SchemeProfile:
    """Derive the :class:`SchemeProfile` of a loaded scheme (deterministic, no randomness)."""
    t = scheme.tables
    mdc, mdc_dx, adrg, codes = t["mdc"], t["mdc_dx"], t["adrg"], t["adrg_codes"]
    drg, cc, excl, valid = t["drg"], t["cc"], t["cc_exclusion"], t["valid_proc"]

    dx_parts = [mdc_dx["code"], codes.loc[codes["list"] == "zd", "code"], cc["code"], excl["principal_dx"]]
    if "dx_names" in t:
        dx_parts.append(t["dx_names"]["code"])
    dx_vocab = pd.Index(pd.unique(pd.concat(dx_parts, ignore_index=True)))
    dx_vocab = dx_vocab[dx_vocab != ""]
    proc_parts = [codes.loc[codes["list"] != "zd", "code"], valid["code"]]
    if "proc_names" in t:
        proc_parts.append(t["proc_names"]["code"])
    proc_vocab = pd.Index(pd.unique(pd.concat(proc_parts, ignore_index=True)))
    proc_vocab = proc_vocab[proc_vocab != ""]
    n_dx, n_proc = len(dx_vocab), len(proc_vocab)
    dx_series = pd.Series(dx_vocab.to_numpy(dtype=object), dtype=object)
    proc_series = pd.Series(proc_vocab.to_numpy(dtype=object), dtype=object)

    # complications and exclusion tables (table names compared as text, coded as ints)
    table_ids = {name: k for k, name in enumerate(pd.unique(pd.concat(
        [cc["exclusion_table"], excl["exclusion_table"]], ignore_index=True))) if name != ""}
    dx_cc_level = np.zeros(n_dx, dtype=np.int8)
    dx_cc_table = np.full(n_dx, -1, dtype=np.int32)
    dx_principal_table = np.full(n_dx, -1, dtype=np.int32)
    ids = dx_vocab.get_indexer(cc["code"])
    dx_cc_level[ids] = cc["level"].map({"CC": 1, "MCC": 2}).to_numpy()
    dx_cc_table[ids] = cc["exclusion_table"].map(table_ids).fillna(-1).to_numpy()
    ids = dx_vocab.get_indexer(excl["principal_dx"])
    dx_principal_table[ids] = excl["exclusion_table"].map(table_ids).to_numpy()

    # trauma regions (any MDC with a trauma rule lists its codes with a region)
    regions = sorted(set(mdc_dx.loc[mdc_dx["trauma_region"] != "", "trauma_region"]))
    region_id = {name: k for k, name in enumerate(regions)}
    dx_trauma_region = np.full(n_dx, -1, dtype=np.int16)
    rows = mdc_dx[mdc_dx["trauma_region"] != ""]
    dx_trauma_region[dx_vocab.get_indexer(rows["code"])] = rows["trauma_region"].map(region_id).to_numpy()

    dx_sex = np.zeros(n_dx, dtype=np.int8)
    dx_sex[_startswith(dx_series, MALE_PREFIXES)] = 1
    dx_sex[_startswith(dx_series, FEMALE_PREFIXES)] = 2

    proc_valid = np.zeros(n_proc, dtype=bool)
    proc_valid[proc_vocab.get_indexer(valid["code"])] = True
    proc_sex = np.zeros(n_proc, dtype=np.int8)
    proc_sex[_startswith(proc_series, MALE_PROC_CHAPTERS)] = 1
    proc_sex[_startswith(proc_series, FEMALE_PROC_CHAPTERS)] = 2

    # MDC entry requirements
    mdc_rules = {}
    mdc_lists = {m: dx_vocab.get_indexer(g["code"]).astype(np.int32)
                 for m, g in mdc_dx.groupby("mdc", sort=False)}
    for row in mdc.itertuples(index=False):
        mdc_rules[row.mdc] = (_atoms(row.entry_rule), _int(row.gender, 0), _int(row.age_years),
                              _int(row.min_trauma_regions, 0))
    age_values = tuple(sorted({v[2] for v in mdc_rules.values() if "age_years" in v[0]}))
    plain_mdcs = [m for m, v in mdc_rules.items() if v[0] == frozenset({"principal_dx"})]
    general_principals = np.unique(np.concatenate(
        [mdc_lists.get(m, np.zeros(0, np.int32)) for m in plain_mdcs] or [np.zeros(0, np.int32)]))

    # gender implied by a principal diagnosis listed under a gender-specific MDC
    for m, (atoms, gender, _, _) in mdc_rules.items():
        if "gender" in atoms and gender in (1, 2) and m in mdc_lists:
            dx_sex[mdc_lists[m]] = gender

    # code lists of each ADRG
    code_lists: dict[tuple[str, str], np.ndarray] = {}
    for (a, lst), g in codes.groupby(["adrg", "list"], sort=False):
        vocab = dx_vocab if lst == "zd" else proc_vocab
        code_lists[(a, lst)] = vocab.get_indexer(g["code"]).astype(np.int32)
    empty = np.zeros(0, dtype=np.int32)
    compiled_index = {code: i for i, code in enumerate(scheme.adrg_codes)}
    premdc_ss = np.unique(np.concatenate(
        [code_lists.get((a, lst), empty) for a, m in zip(adrg["adrg"], adrg["mdc"])
         if "principal_dx" not in mdc_rules[m][0] for lst in ("ss", "ss1")] or [empty]))

    rules = []
    for index, row in enumerate(adrg.itertuples(index=False)):
        atoms = _atoms(row.entry_rule)
        m_atoms, m_gender, m_age, m_regions = mdc_rules[row.mdc]
        zd = code_lists.get((row.adrg, "zd"), empty)
        ss = code_lists.get((row.adrg, "ss"), empty)
        ss1 = code_lists.get((row.adrg, "ss1"), empty)
        mdc_list = mdc_lists.get(row.mdc, empty)
        if "principal_dx" in atoms:
            pool = np.intersect1d(zd, mdc_list) if "principal_dx" in m_atoms else zd
        elif "principal_dx" in m_atoms:
            pool = mdc_list
        else:
            pool = general_principals
        if "main_proc_valid" in atoms and "main_proc" not in atoms:
            # any operating-room procedure not on a sex-specific organ; avoid those that pre-MDC
            # groups capture
            ss = np.setdiff1d(np.flatnonzero(proc_valid & (proc_sex == 0)).astype(np.int32), premdc_ss)
        group_sets = ()
        if "proc_groups" in atoms:
            group_sets = _proc_group_sets(scheme, compiled_index[row.adrg], row.adrg, codes, proc_vocab)
        if "principal_dx" not in m_atoms and "main_proc_valid" in m_atoms:
            kind = KIND_PREMDC
        elif atoms & PROCEDURE_ATOMS:
            kind = KIND_SURGICAL
        else:
            kind = KIND_MEDICAL
        rules.append(AdrgRule(
            code=row.adrg, mdc=row.mdc, index=index, atoms=atoms, mdc_atoms=m_atoms,
            principal_pool=np.asarray(pool, dtype=np.int32), zd=zd, ss=np.asarray(ss, dtype=np.int32),
            ss1=ss1, proc_group_sets=group_sets, mdc_gender=m_gender if "gender" in m_atoms else 0,
            mdc_age=m_age if "age_years" in m_atoms else -1,
            min_trauma_regions=m_regions if "trauma_regions" in m_atoms else 0,
            age_days_max=_int(row.age_days_max) if "newborn" in atoms else -1,
            weight_min=_int(row.weight_min) if "birth_weight" in atoms else -1,
            weight_max=_int(row.weight_max) if "birth_weight" in atoms else -1,
            kind=kind,
        ))

    # codes that can change the MDC or ADRG from a secondary position: trauma codes (multiple
    # trauma MDCs count regions over all diagnoses) and diagnoses of any_dx lists
    risky = dx_trauma_region >= 0
    for r in rules:
        if "any_dx" in r.atoms:
            risky[r.zd] = True
    chapter_ok = ~_startswith(dx_series, NON_NEUTRAL_CHAPTERS)
    neutral_mask = (dx_cc_level == 0) & ~risky & chapter_ok & (dx_sex == 0)
    neutral, neutral_weights = _neutral_weights(np.flatnonzero(neutral_mask).astype(np.int32), dx_series)

    in_lists = np.zeros(n_proc, dtype=bool)
    listed = codes.loc[codes["list"] != "zd", "code"]
    in_lists[proc_vocab.get_indexer(listed)] = True
    neutral_proc = np.flatnonzero(~proc_valid & ~in_lists & (proc_sex == 0)).astype(np.int32)

    is_p = _startswith(dx_series, ("P",))
    is_o = _startswith(dx_series, ("O",))
    cc_ok = (dx_cc_level > 0) & ~risky

    def pool(mask):
        return (np.flatnonzero(mask & (dx_cc_level == 2)).astype(np.int32),
                np.flatnonzero(mask & (dx_cc_level == 1)).astype(np.int32))

    general_mask = cc_ok & ~is_p & ~is_o & (dx_sex == 0)
    cc_pools = {
        "general": pool(general_mask),
        "newborn": pool(cc_ok & is_p) if (cc_ok & is_p).any() else pool(general_mask),
        "pregnancy": pool(general_mask | (cc_ok & is_o)),
    }

    class_adrgs, class_prefixes = _care_classes(rules, dx_series, proc_series)

    chapter_mdcs: dict[str, set] = {}
    for r in rules:
        if r.kind == KIND_SURGICAL and r.mdc_atoms <= frozenset({"principal_dx", "gender"}):
            for chapter in {str(c)[:2] for c in proc_vocab[r.ss]}:
                chapter_mdcs.setdefault(chapter, set()).add(r.mdc)
    chapter_principals = {ch: np.unique(np.concatenate([mdc_lists[m] for m in sorted(ms) if m in mdc_lists]))
                          .astype(np.int32) for ch, ms in chapter_mdcs.items()
                          if any(m in mdc_lists for m in ms)}

    drg_codes = drg["drg"].to_numpy(dtype=object)
    adrg_index = {r.code: r.index for r in rules}
    drg_adrg = drg["adrg"].map(adrg_index).to_numpy().astype(np.int32)
    split_atoms = drg["split_rule"].map(_atoms)
    drg_split_level = np.select([split_atoms.map(lambda a: "mcc" in a).to_numpy(bool),
                                 split_atoms.map(lambda a: "mcc_or_cc" in a).to_numpy(bool)], [2, 1], 0
                                ).astype(np.int8)
    return SchemeProfile(
        dx_vocab=dx_vocab.to_numpy(dtype=object), proc_vocab=proc_vocab.to_numpy(dtype=object),
        dx_cc_level=dx_cc_level, dx_cc_table=dx_cc_table, dx_principal_table=dx_principal_table,
        dx_trauma_region=dx_trauma_region, dx_sex=dx_sex, dx_pregnancy=is_o, proc_sex=proc_sex, proc_valid=proc_valid, adrgs=tuple(rules), drg_codes=drg_codes,
        drg_adrg=drg_adrg, drg_split_level=drg_split_level, neutral_dx=neutral,
        neutral_dx_weights=neutral_weights,
        neutral_proc=neutral_proc, cc_pools=cc_pools, class_adrgs=class_adrgs,
        class_proc_prefixes=class_prefixes, chapter_principals=chapter_principals,
        age_years_values=age_values,
    )


COMMON_SHARE = 0.75   # share of neutral secondary diagnoses that are common comorbidities


def _neutral_weights(neutral: np.ndarray, dx_series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Neutral diagnoses with draw weights: common comorbidities (equal weight per category, the
    plainest code of a category first) take ``COMMON_SHARE``, all other codes share the rest evenly."""
    if len(neutral) == 0:
        return neutral, np.zeros(0)
    codes = dx_series.iloc[neutral].reset_index(drop=True)
    weights = np.zeros(len(neutral))
    prefix_of = np.full(len(neutral), -1)
    for k, prefix in enumerate(COMMON_COMORBIDITY_PREFIXES):
        prefix_of[(codes.str.startswith(prefix).to_numpy(bool)) & (prefix_of < 0)] = k
    common = prefix_of >= 0
    present = np.unique(prefix_of[common])
    for k in present:
        rows = np.flatnonzero(prefix_of == k)
        rows = rows[np.argsort(codes.iloc[rows].str.len().to_numpy(), kind="stable")]
        w = 1.0 / np.arange(1, len(rows) + 1) ** 1.5
        weights[rows] = COMMON_SHARE / len(present) * w / w.sum()
    rest = np.flatnonzero(~common)
    if len(rest):
        weights[rest] = (1.0 - COMMON_SHARE if len(present) else 1.0) / len(rest)
    return neutral, weights / weights.sum()


def _proc_group_sets(scheme, compiled_index: int, adrg: str, codes: pd.DataFrame,
                     proc_vocab: pd.Index) -> tuple:
    """Minimal label sets that satisfy an ADRG's proc_groups expression, each as code-id arrays."""
    slot = int(scheme.compiled.adrg_pg_slot[compiled_index])
    labels = scheme.proc_group_names[slot]
    truth = scheme.compiled.pg_truth[slot]
    rows = codes[(codes["adrg"] == adrg) & (codes["list"] == "ss")]
    by_label = [proc_vocab.get_indexer(rows.loc[rows["proc_group"] == lab, "code"]).astype(np.int32)
                for lab in labels]
    feasible = [len(ids) > 0 for ids in by_label]
    satisfying = [mask for mask in range(2 ** len(labels)) if truth[mask]
                  and all(feasible[k] for k in range(len(labels)) if mask >> k & 1)]
    minimal = [mask for mask in satisfying
               if not any(other != mask and other & mask == other for other in satisfying)]
    return tuple(tuple(by_label[k] for k in range(len(labels)) if mask >> k & 1) for mask in minimal)


def _care_classes(rules, dx_series: pd.Series, proc_series: pd.Series):
    """ADRGs each care class may use, and the main-procedure prefixes the class requires."""
    chemo = _startswith(proc_series, CHEMO_PROC_PREFIXES)
    radio = _startswith(proc_series, RADIOTHERAPY_PROC_PREFIXES)
    f_chapter = _startswith(dx_series, ("F",))
    m_chapter = _startswith(dx_series, ("M",))
    plain = frozenset({"principal_dx"})
    general, day_surgery, day_chemo, tcm, day_ward, psych = [], [], [], [], [], []
    for r in rules:
        general.append(r.index)
        simple_mdc = r.mdc_atoms <= frozenset({"principal_dx", "gender"})
        listed = "main_proc" in r.atoms and len(r.ss) > 0   # the ADRG's own procedure list
        # Chemotherapy and radiotherapy groups are day chemo / day ward, not day surgery.
        oncology_therapy = listed and (chemo[r.ss] | radio[r.ss]).any()
        if r.kind == KIND_SURGICAL and "main_proc" in r.atoms and simple_mdc and not oncology_therapy:
            day_surgery.append(r.index)
        if listed and chemo[r.ss].any() and simple_mdc:
            day_chemo.append(r.index)
        if listed and (chemo[r.ss] | radio[r.ss]).any() and simple_mdc:
            day_ward.append(r.index)
        medical = r.kind == KIND_MEDICAL and r.atoms == plain and r.mdc_atoms == plain
        if medical and len(r.principal_pool):
            if f_chapter[r.principal_pool].mean() >= 0.5:
                psych.append(r.index)
            if m_chapter[r.principal_pool].mean() >= 0.5:
                tcm.append(r.index)
    as_array = lambda xs: np.asarray(xs, dtype=np.int32)  # noqa: E731
    classes = (as_array(general), as_array(day_surgery), as_array(day_chemo), as_array(tcm),
               as_array(day_ward), as_array(psych))
    prefixes = ((), (), CHEMO_PROC_PREFIXES, (), CHEMO_PROC_PREFIXES + RADIOTHERAPY_PROC_PREFIXES, ())
    return classes, prefixes
