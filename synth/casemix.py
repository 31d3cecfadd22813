"""Diagnosis and procedure codes that group where they should (病例编码合成).

Two steps, both vectorized over cases grouped by target ADRG:

1. *Cores*: for every ADRG and care class, candidate code combinations (principal diagnosis, the
   procedures and extra diagnoses the MDC and ADRG entry rules require) with grouping-relevant
   demographics (gender, age class, newborn age-day and birth-weight class). Every candidate is
   grouped once with the real grouper; only those that land in their ADRG are kept.
2. *Cases*: each case takes a verified core and adds secondary diagnoses (CC/MCC not excluded by the
   principal, sometimes an excluded one, neutral comorbidities) and non-operating procedures from
   pools that no MDC or ADRG rule looks at. All cases are grouped again; the few that miss their
   ADRG are re-drawn in bounded rounds, the last round falling back to the bare verified core.

Within an age-day or birth-weight class (bounded by the thresholds the scheme tests) every value
groups the same, so varying them per case keeps the verification valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from drgdip.synth._kernels import _compact_codes, _severity_kernel
from drgdip.synth.scheme_profile import DAY_CHEMO, DAY_WARD, SchemeProfile

# core classes: which candidate pool a care class draws from
CORE_GENERAL, CORE_CHEMO, CORE_DAY_WARD = 0, 1, 2
N_CORE_CLASSES = 3
ADULT = -1                 # age class "any age the scheme does not test" (we use >= 1 year)
NEWBORN_DAYS_DEFAULT = 28  # newborn threshold when the scheme has none
MAX_NEUTRAL_DX = 8
MAX_EXTRA_PROC = 4
BIRTH_WEIGHT_RANGE = (400, 5500)

# deliberately invalid inputs and the grouper status each must get (RULES.md section 2)
INVALID_REASONS = ("gender_missing", "gender_invalid", "age_missing", "age_days_missing",
                   "birth_weight_missing")

GroupFn = Callable[[pd.DataFrame], pd.DataFrame]


def core_class_of(care_class: np.ndarray) -> np.ndarray:
    """Core pool used by each care class (chemotherapy classes need chemo/radiotherapy procedures)."""
    out = np.full(np.shape(care_class), CORE_GENERAL, dtype=np.int8)
    out[care_class == DAY_CHEMO] = CORE_CHEMO
    out[care_class == DAY_WARD] = CORE_DAY_WARD
    return out


@dataclass(frozen=True)
class Cores:
    """Verified code combinations; row k is one core, padded with -1."""

    adrg: np.ndarray        # int32[K] ADRG index
    core_class: np.ndarray  # int8[K]
    dx: np.ndarray          # int32[K, Wd] principal first, then required extra diagnoses
    proc: np.ndarray        # int32[K, Wp] main procedure first
    gender: np.ndarray      # int8[K] 0 free, 1, 2
    age: np.ndarray         # int16[K] ADULT or the exact age in years the scheme tests
    age_days: np.ndarray    # int32[K] representative (verified) age in days, -1 for adults
    ad_lo: np.ndarray       # int32[K] age-day class bounds (inclusive), -1 for adults
    ad_hi: np.ndarray
    bw: np.ndarray          # int32[K] representative birth weight, -1 = absent
    bw_lo: np.ndarray       # int32[K] birth-weight class bounds [lo, hi), -1 = absent
    bw_hi: np.ndarray
    ptr: np.ndarray         # int64[N_CORE_CLASSES * n_adrg + 1] cores of (class, ADRG) key

    def count(self, core_class: int, n_adrg: int) -> np.ndarray:
        """int64[n_adrg] number of verified cores per ADRG for a core class."""
        start = core_class * n_adrg
        return np.diff(self.ptr[start:start + n_adrg + 1])


# ------------------------------------------------------------------------------- helpers


def zipf_pick(rng: np.random.Generator, pool: np.ndarray, size: int, exponent: float = 1.0) -> np.ndarray:
    """Draw ``size`` items of ``pool`` with Zipf weights over a random ranking (a few dominate)."""
    if len(pool) == 0:
        return np.full(size, -1, dtype=np.int32)
    order = rng.permutation(len(pool))
    weights = 1.0 / np.arange(1, len(pool) + 1) ** exponent
    idx = rng.choice(len(pool), size=size, p=weights / weights.sum())
    return pool[order[idx]].astype(np.int32)


def nullable_int(values: np.ndarray, missing: np.ndarray, dtype) -> pd.arrays.IntegerArray:
    """Nullable pandas integer array (Int8/Int16/Int32) with ``missing`` as <NA>."""
    values = np.where(missing, 0, values).astype(dtype)
    return pd.arrays.IntegerArray(values, np.asarray(missing, dtype=bool).copy())


def compact(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR (offsets, flat ids) of a padded code matrix, repeats within a row dropped."""
    return _compact_codes(np.ascontiguousarray(matrix, dtype=np.int32))


def join_csr(offsets: np.ndarray, flat: np.ndarray, vocab: pa.Array) -> pa.Array:
    """'|'-joined code strings of each CSR row."""
    values = vocab.take(pa.array(flat))
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), values)
    return pc.binary_join(lists, "|")


def join_codes(matrix: np.ndarray, vocab: pa.Array) -> pa.Array:
    """'|'-joined code strings of the non-negative ids of each row of ``matrix`` (row order kept)."""
    return join_csr(*compact(matrix), vocab)


def _stack(columns: list[np.ndarray], n: int) -> np.ndarray:
    """Per-row code columns (each int32[n], -1 = none) as one padded matrix int32[n, W]."""
    if not columns:
        return np.full((n, 1), -1, dtype=np.int32)
    matrix = np.empty((n, len(columns)), dtype=np.int32)
    for j, column in enumerate(columns):
        matrix[:, j] = column
    return matrix


def _interval(value: np.ndarray, bounds: np.ndarray, low: int, high: int):
    """Class [lo, hi) of each value between sorted ``bounds`` (clipped to [low, high))."""
    k = np.searchsorted(bounds, value, side="right")
    edges = np.concatenate([[low], bounds, [high]])
    return np.maximum(edges[k], low), np.minimum(edges[k + 1], high)


# ------------------------------------------------------------------------------- cores


def _candidates(profile: SchemeProfile, rule, core_class: int, k: int, rng: np.random.Generator,
                thresholds: dict) -> dict | None:
    """``k`` candidate cores of one ADRG, or None if the ADRG cannot serve this core class."""
    atoms, m_atoms = rule.atoms, rule.mdc_atoms
    vocab = profile.proc_vocab
    prefixes = {CORE_GENERAL: (), CORE_CHEMO: profile.class_proc_prefixes[DAY_CHEMO],
                CORE_DAY_WARD: profile.class_proc_prefixes[DAY_WARD]}[core_class]
    if len(rule.principal_pool) == 0:
        return None
    principal = zipf_pick(rng, rule.principal_pool, k)
    extra_dx = []
    if "any_dx" in atoms:
        if len(rule.zd) == 0:
            return None
        need = ~np.isin(principal, rule.zd)
        extra_dx.append(np.where(need, zipf_pick(rng, rule.zd, k), -1))
    if rule.min_trauma_regions >= 2:
        region = profile.dx_trauma_region
        pool = rule.principal_pool[region[rule.principal_pool] >= 0]
        present = np.unique(region[pool])
        if len(present) < rule.min_trauma_regions:
            return None
        principal = zipf_pick(rng, pool, k)
        by_region = [pool[region[pool] == r] for r in present]
        pos = np.searchsorted(present, region[principal])
        n_other = rule.min_trauma_regions - 1
        shifts = np.argsort(rng.random((k, len(present) - 1)), axis=1)[:, :n_other] + 1
        for j in range(n_other):
            target = (pos + shifts[:, j]) % len(present)
            codes = np.full(k, -1, dtype=np.int32)
            for r in range(len(present)):
                rows = np.flatnonzero(target == r)
                codes[rows] = by_region[r][rng.integers(0, len(by_region[r]), len(rows))]
            extra_dx.append(codes)

    valid_needed = "main_proc_valid" in m_atoms
    procs: list[np.ndarray] = []

    def restrict(pool: np.ndarray) -> np.ndarray:
        if prefixes:
            pool = pool[pd.Series(vocab[pool], dtype=object).str.startswith(prefixes).to_numpy(bool)]
        if valid_needed:
            pool = pool[profile.proc_valid[pool]]
        return pool

    if "main_proc" in atoms or "main_proc_valid" in atoms:
        pool = restrict(rule.ss)
        if len(pool) == 0:
            return None
        procs.append(zipf_pick(rng, pool, k))
    elif prefixes:
        if "proc_pair" not in atoms and "proc_groups" not in atoms:
            return None
    if "proc_pair" in atoms:
        if not procs:
            first, second = restrict(rule.ss), rule.ss1
            if len(first) == 0:
                first, second = restrict(rule.ss1), rule.ss
            if len(first) == 0 or len(second) == 0:
                return None
            procs += [zipf_pick(rng, first, k), zipf_pick(rng, second, k)]
        else:
            if len(rule.ss1) == 0:
                return None
            procs.append(np.where(np.isin(procs[0], rule.ss1), -1, zipf_pick(rng, rule.ss1, k)))
    if "proc_groups" in atoms:
        sets = rule.proc_group_sets
        if not sets:
            return None
        choice = rng.integers(0, len(sets), k)
        width = max(len(s) for s in sets)
        columns = [np.full(k, -1, dtype=np.int32) for _ in range(width)]
        for s_index, label_codes in enumerate(sets):
            rows = np.flatnonzero(choice == s_index)
            for j, codes in enumerate(label_codes):
                columns[j][rows] = codes[rng.integers(0, len(codes), len(rows))]
        procs += columns
    if prefixes and not procs:
        return None
    if "principal_dx" not in m_atoms and procs and "any_dx" not in atoms:
        # pre-MDC groups: a principal diagnosis of the body system the main procedure treats
        chapters = pd.Series(vocab[np.maximum(procs[0], 0)], dtype=object).str[:2].to_numpy(object)
        for chapter in np.unique(chapters):
            pool = profile.chapter_principals.get(chapter)
            if pool is not None and len(pool):
                rows = np.flatnonzero(chapters == chapter)
                principal[rows] = zipf_pick(rng, pool, len(rows))

    gender = np.full(k, rule.mdc_gender, dtype=np.int8)
    if rule.mdc_gender == 0:
        gender = profile.dx_sex[principal].astype(np.int8)
        if procs:    # an operation on sex-specific organs fixes the gender of a free case
            gender = np.where(gender == 0, profile.proc_sex[np.maximum(procs[0], 0)] * (procs[0] >= 0),
                              gender).astype(np.int8)
    age = np.full(k, ADULT if rule.mdc_age < 0 else rule.mdc_age, dtype=np.int16)
    age_days = np.full(k, -1, dtype=np.int32)
    ad_lo = np.full(k, -1, dtype=np.int32)
    ad_hi = np.full(k, -1, dtype=np.int32)
    bw = np.full(k, -1, dtype=np.int32)
    bw_lo = np.full(k, -1, dtype=np.int32)
    bw_hi = np.full(k, -1, dtype=np.int32)
    if rule.mdc_age == 0:
        day_bounds = thresholds["age_days"]            # sorted newborn thresholds (inclusive max)
        newborn_max = rule.age_days_max if rule.age_days_max >= 0 else None
        if newborn_max is not None:
            age_days = rng.integers(0, newborn_max + 1, k).astype(np.int32)
        else:   # either side of the newborn threshold
            infant = rng.random(k) < 0.5
            t = int(day_bounds[-1])
            age_days = np.where(infant, rng.integers(t + 1, 365, k), rng.integers(0, t + 1, k))
        edges = np.concatenate([[-1], day_bounds, [364]])
        kk = np.searchsorted(day_bounds, age_days, side="left")
        ad_lo = (edges[kk] + 1).astype(np.int32)
        ad_hi = edges[kk + 1].astype(np.int32)
        ad_hi = np.maximum(ad_hi, ad_lo)
        needs_weight = age_days <= int(day_bounds[-1])
        if "birth_weight" in atoms:
            lo = rule.weight_min if rule.weight_min >= 0 else BIRTH_WEIGHT_RANGE[0]
            hi = rule.weight_max if rule.weight_max >= 0 else BIRTH_WEIGHT_RANGE[1]
            weight = rng.integers(lo, hi, k)
        else:
            weight = np.clip(rng.normal(3200, 450, k), 1000, 5000).astype(np.int64)
        lo, hi = _interval(weight, thresholds["weight"], *BIRTH_WEIGHT_RANGE)
        bw = np.where(needs_weight, weight, -1).astype(np.int32)
        bw_lo = np.where(needs_weight, lo, -1).astype(np.int32)
        bw_hi = np.where(needs_weight, hi, -1).astype(np.int32)
        age_days = age_days.astype(np.int32)
    return {
        "dx": [principal] + extra_dx, "proc": procs, "gender": gender, "age": age,
        "age_days": age_days, "ad_lo": ad_lo, "ad_hi": ad_hi, "bw": bw, "bw_lo": bw_lo, "bw_hi": bw_hi,
    }


def _verification_frame(profile: SchemeProfile, dx: np.ndarray, proc: np.ndarray, gender, age,
                        age_days, bw, prefix: str = "V") -> pd.DataFrame:
    n = len(dx)
    dx_vocab = pa.array(profile.dx_vocab, type=pa.string())
    proc_vocab = pa.array(profile.proc_vocab, type=pa.string())
    return pd.DataFrame({
        "case_id": pc.binary_join_element_wise(
            pa.scalar(prefix), pc.utf8_lpad(pc.cast(pa.array(np.arange(n)), pa.string()), 7, "0"),
            "").to_pandas() if n else pd.Series([], dtype="str"),
        "gender": pd.array(np.where(gender == 0, 1, gender), dtype="Int8"),
        "age": pd.array(np.where(age == ADULT, 50, age), dtype="Int16"),
        "age_days": pd.array(np.where(age_days < 0, 50 * 365, age_days), dtype="Int32"),
        "birth_weight": nullable_int(bw, bw < 0, np.int32),
        "dx": join_codes(dx, dx_vocab).to_pandas(),
        "proc": join_codes(proc, proc_vocab).to_pandas(),
    })


def build_cores(profile: SchemeProfile, group_fn: GroupFn, rng: np.random.Generator,
                pool_size: int, eligible: list[np.ndarray]) -> Cores:
    """Candidate cores per (core class, ADRG), verified with ``group_fn``; see the module docstring.

    ``eligible[c]`` lists the ADRG indices core class ``c`` may use.
    """
    thresholds = {
        "age_days": np.array(sorted({r.age_days_max for r in profile.adrgs if r.age_days_max >= 0}
                                    or {NEWBORN_DAYS_DEFAULT}), dtype=np.int64),
        "weight": np.array(sorted({w for r in profile.adrgs for w in (r.weight_min, r.weight_max)
                                   if w >= 0}), dtype=np.int64),
    }
    accepted: list[dict] = []
    pending = [(c, a) for c in range(N_CORE_CLASSES) for a in eligible[c]]
    for round_no in range(3):
        if not pending:
            break
        k = pool_size * (4 ** round_no)
        batch = []
        for c, a in pending:
            cand = _candidates(profile, profile.adrgs[a], c, k, rng, thresholds)
            if cand is not None:
                batch.append((c, a, cand))
        if not batch:
            break
        frame_parts = _stack_candidates(batch)
        grouped = group_fn(_verification_frame(
            profile, frame_parts["dx"], frame_parts["proc"], frame_parts["gender"],
            frame_parts["age"], frame_parts["age_days"], frame_parts["bw"]))
        adrg_codes = np.array([r.code for r in profile.adrgs], dtype=object)
        ok = ((grouped["status"].to_numpy(dtype=object) == "ok")
              & (grouped["adrg"].to_numpy(dtype=object) == adrg_codes[frame_parts["adrg"]]))
        frame_parts = {key: value[ok] for key, value in frame_parts.items()}
        accepted.append(frame_parts)
        got = np.zeros((N_CORE_CLASSES, profile.n_adrg), dtype=np.int64)
        np.add.at(got, (frame_parts["core_class"], frame_parts["adrg"]), 1)
        total = sum(np.bincount(p["core_class"].astype(np.int64) * profile.n_adrg + p["adrg"],
                                minlength=N_CORE_CLASSES * profile.n_adrg) for p in accepted)
        total = total.reshape(N_CORE_CLASSES, profile.n_adrg)
        pending = [(c, a) for c, a, _ in batch if total[c, a] < max(1, pool_size // 4)]
    return _finish_cores(accepted, profile.n_adrg)


def _stack_candidates(batch) -> dict:
    keys = ("gender", "age", "age_days", "ad_lo", "ad_hi", "bw", "bw_lo", "bw_hi")
    out = {key: np.concatenate([cand[key] for _, _, cand in batch]) for key in keys}
    width_dx = max(len(cand["dx"]) for _, _, cand in batch)
    width_proc = max(max(len(cand["proc"]), 1) for _, _, cand in batch)
    dx_blocks, proc_blocks = [], []
    for _, _, cand in batch:
        n = len(cand["gender"])
        dx_cols = cand["dx"] + [np.full(n, -1, np.int32)] * (width_dx - len(cand["dx"]))
        proc_cols = cand["proc"] + [np.full(n, -1, np.int32)] * (width_proc - len(cand["proc"]))
        dx_blocks.append(np.stack(dx_cols, axis=1))
        proc_blocks.append(np.stack(proc_cols, axis=1))
    out["dx"] = _compact(np.concatenate(dx_blocks).astype(np.int32))
    out["proc"] = _compact(np.concatenate(proc_blocks).astype(np.int32))
    out["adrg"] = np.concatenate([np.full(len(c["gender"]), a, np.int32) for _, a, c in batch])
    out["core_class"] = np.concatenate([np.full(len(c["gender"]), cc, np.int8) for cc, _, c in batch])
    return out


def _compact(matrix: np.ndarray) -> np.ndarray:
    order = np.argsort(matrix < 0, axis=1, kind="stable")
    return np.take_along_axis(matrix, order, axis=1)


def _finish_cores(accepted: list[dict], n_adrg: int) -> Cores:
    if not accepted:
        raise RuntimeError("no candidate case of any ADRG grouped to its ADRG; is the scheme empty?")
    width_dx = max(p["dx"].shape[1] for p in accepted)
    width_proc = max(p["proc"].shape[1] for p in accepted)

    def widen(m, w):
        return np.pad(m, ((0, 0), (0, w - m.shape[1])), constant_values=-1)

    parts = {key: np.concatenate([p[key] for p in accepted]) for key in accepted[0]
             if key not in ("dx", "proc")}
    dx = np.concatenate([widen(p["dx"], width_dx) for p in accepted])
    proc = np.concatenate([widen(p["proc"], width_proc) for p in accepted])
    key = parts["core_class"].astype(np.int64) * n_adrg + parts["adrg"]
    order = np.argsort(key, kind="stable")
    ptr = np.searchsorted(key[order], np.arange(N_CORE_CLASSES * n_adrg + 1)).astype(np.int64)
    take = lambda a: a[order]  # noqa: E731
    return Cores(
        adrg=take(parts["adrg"]), core_class=take(parts["core_class"]), dx=take(dx), proc=take(proc),
        gender=take(parts["gender"]), age=take(parts["age"]), age_days=take(parts["age_days"]),
        ad_lo=take(parts["ad_lo"]), ad_hi=take(parts["ad_hi"]), bw=take(parts["bw"]),
        bw_lo=take(parts["bw_lo"]), bw_hi=take(parts["bw_hi"]), ptr=ptr,
    )


def draw_cores(cores: Cores, core_class: np.ndarray, adrg: np.ndarray, n_adrg: int,
               rng: np.random.Generator) -> np.ndarray:
    """A verified core (index into ``cores``) for each case of the given core class and ADRG."""
    key = core_class.astype(np.int64) * n_adrg + adrg
    start, stop = cores.ptr[key], cores.ptr[key + 1]
    if np.any(stop <= start):
        raise ValueError("a case was given an ADRG without verified cores")
    return (start + np.floor(rng.random(len(key)) * (stop - start)).astype(np.int64)).astype(np.int64)


# ------------------------------------------------------------------------------- cases


@dataclass
class CaseCodes:
    """Per-case codes and grouping-relevant fields of a block of cases."""

    dx: pa.Array              # '|'-joined diagnoses
    proc: pa.Array            # '|'-joined procedures
    severity: np.ndarray      # int8 0 none, 1 CC, 2 MCC (counted, i.e. not excluded)
    n_dx: np.ndarray          # int16 number of diagnoses


def severity_of(profile: SchemeProfile, offsets: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Complication level (0 none, 1 CC, 2 MCC) the DRG split rules see, per case (CSR diagnoses)."""
    return _severity_kernel(offsets, flat, profile.dx_cc_level, profile.dx_cc_table,
                            profile.dx_principal_table)


@dataclass(frozen=True)
class CcSampler:
    """CC/MCC codes per patient population and per exclusion table, for vectorized draws."""

    pools: dict                # population -> (mcc ids, cc ids)
    table_codes: np.ndarray    # all pool codes sorted by exclusion table
    table_ptr: np.ndarray      # int64[n_tables + 1]

    @classmethod
    def build(cls, profile: SchemeProfile) -> "CcSampler":
        codes = np.unique(np.concatenate([np.concatenate(v) for v in profile.cc_pools.values()]))
        table = profile.dx_cc_table[codes]
        codes, table = codes[table >= 0], table[table >= 0]
        order = np.argsort(table, kind="stable")
        n_tables = int(max(profile.dx_cc_table.max(initial=-1),
                           profile.dx_principal_table.max(initial=-1))) + 1
        ptr = np.searchsorted(table[order], np.arange(n_tables + 1)).astype(np.int64)
        return cls(pools=profile.cc_pools, table_codes=codes[order].astype(np.int32), table_ptr=ptr)

    def draw_excluded(self, rng, principal_table: np.ndarray, want: np.ndarray) -> np.ndarray:
        """A CC/MCC code of the principal's own exclusion table (so it does not count)."""
        out = np.full(len(want), -1, dtype=np.int32)
        rows = np.flatnonzero(want & (principal_table >= 0))
        t = principal_table[rows]
        t = np.minimum(t, len(self.table_ptr) - 2)
        start, stop = self.table_ptr[t], self.table_ptr[t + 1]
        has = stop > start
        rows, start, stop = rows[has], start[has], stop[has]
        out[rows] = self.table_codes[start + np.floor(rng.random(len(rows)) * (stop - start)).astype(np.int64)]
        return out


def assemble_codes(profile: SchemeProfile, cores: Cores, core_index: np.ndarray,
                   intended: np.ndarray, excluded_cc: np.ndarray, population: np.ndarray,
                   n_neutral: np.ndarray, n_extra_proc: np.ndarray, sampler: CcSampler,
                   rng: np.random.Generator):
    """Diagnosis and procedure id matrices of a block of cases.

    Parameters
    ----------
    core_index : int64[n]
        Verified core of each case.
    intended : int8[n]
        Intended complication level (0 none, 1 CC, 2 MCC).
    excluded_cc : bool[n]
        Add a CC/MCC that the principal diagnosis excludes.
    population : int8[n]
        0 general, 1 newborn, 2 pregnancy (which CC pools apply).
    n_neutral, n_extra_proc : int[n]
        Numbers of neutral secondary diagnoses and extra non-operating procedures.

    Returns
    -------
    dx : int32[n, Wd], proc : int32[n, Wp]
        Code ids, -1 padded, principal / main procedure first.
    """
    n = len(core_index)
    core_dx = cores.dx[core_index]
    core_proc = cores.proc[core_index]
    principal_table = profile.dx_principal_table[core_dx[:, 0]]
    mcc = np.full(n, -1, np.int32)
    cc = np.full(n, -1, np.int32)
    for pop_id, name in enumerate(("general", "newborn", "pregnancy")):
        in_pop = population == pop_id
        mcc_pool, cc_pool = sampler.pools[name]
        want_mcc = in_pop & (intended == 2)
        want_cc = in_pop & ((intended == 1) | ((intended == 2) & (rng.random(n) < 0.5)))
        got = sampler_draw(sampler, profile, rng, mcc_pool, principal_table, want_mcc)
        mcc[want_mcc] = got[want_mcc]
        got = sampler_draw(sampler, profile, rng, cc_pool, principal_table, want_cc)
        cc[want_cc] = got[want_cc]
    excl = sampler.draw_excluded(rng, principal_table, excluded_cc)
    columns = [core_dx[:, j] for j in range(core_dx.shape[1])] + [mcc, cc, excl]
    if len(profile.neutral_dx):
        columns += _variable_columns(rng, n_neutral, MAX_NEUTRAL_DX, profile.neutral_dx,
                                     np.cumsum(profile.neutral_dx_weights))
    proc_columns = [core_proc[:, j] for j in range(core_proc.shape[1])]
    if len(profile.neutral_proc):
        proc_columns += _variable_columns(rng, n_extra_proc, MAX_EXTRA_PROC, profile.neutral_proc, None)
    # repeats within a case (a neutral code drawn twice) are dropped when the rows are compacted
    return _stack(columns, n), _stack(proc_columns, n)


def _variable_columns(rng, count: np.ndarray, width: int, pool: np.ndarray, cdf) -> list[np.ndarray]:
    """``count[i]`` codes of ``pool`` for row i (weighted by ``cdf`` if given), as -1-padded columns."""
    n = len(count)
    count = np.minimum(count.astype(np.int64), width)
    total = int(count.sum())
    if cdf is None:
        picks = pool[rng.integers(0, len(pool), total)]
    else:
        picks = pool[np.minimum(np.searchsorted(cdf, rng.random(total) * cdf[-1], side="right"),
                                len(pool) - 1)]
    rows = np.repeat(np.arange(n), count)
    position = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    matrix = np.full((n, max(1, int(count.max(initial=0)))), -1, dtype=np.int32)
    matrix[rows, position] = picks
    return [matrix[:, j] for j in range(matrix.shape[1])]


def sampler_draw(sampler: CcSampler, profile: SchemeProfile, rng, pool, principal_table, want):
    out = np.full(len(want), -1, dtype=np.int32)
    if len(pool) == 0:
        return out
    todo = np.flatnonzero(want)
    for _ in range(8):
        if len(todo) == 0:
            break
        pick = pool[rng.integers(0, len(pool), len(todo))]
        t = principal_table[todo]
        fine = ~((t >= 0) & (profile.dx_cc_table[pick] == t))
        out[todo[fine]] = pick[fine]
        todo = todo[~fine]
    return out


def invalid_status(reason: np.ndarray) -> np.ndarray:
    """Expected grouper status per case: 'ok' (reason -1) or invalid_input:<reason>."""
    labels = np.array(["ok"] + [f"invalid_input:{r}" for r in INVALID_REASONS], dtype=object)
    return labels[reason + 1]
