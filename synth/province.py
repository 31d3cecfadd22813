"""Generate a synthetic province: multi-year settled stays, hospitals, outpatient visits (合成省份).

:func:`generate_province` is the entry point. Generation order, all vectorized over cases:

1. regions and hospitals; per-ADRG median cost and LOS; which care classes the scheme and the
   hospitals support; verified code cores per ADRG (:mod:`drgdip.synth.casemix`);
2. a skeleton per stay: year, care class, discharge date (stays are numbered in discharge-date
   order), hospital, insurance type, insured region, target ADRG (Zipf case mix tilted by hospital
   level), core, intended complication level, deliberately invalid fields, demographics;
3. codes in blocks, grouped with the real grouper and re-drawn until every stay lands in its
   target ADRG (or gets the documented invalid-input status);
4. times and LOS by care type, leaving type, department, costs and payments, patients (repeat stays
   with consistent ages), pre-operative and unrelated outpatient visits, day-ward sessions.

Same arguments and seed give identical tables: every random stream is seeded from the seed and a
fixed stream number (and block number), never from the clock or the machine.

A province of more than :data:`SHARD_ROWS` stays is generated shard by shard (:class:`SyntheticProvince`)
so that memory holds one shard, not the province: the discharge dates of all stays are drawn and
sorted first (a few bytes a stay), then each run of :data:`SHARD_ROWS` consecutive stays is generated
from its own random streams ([seed, stream(, block), SHARD_STREAM, shard]) with case ids, patient
numbers and visit ids continuing those of the shards before. Stays stay in discharge-date order; a
patient's repeat stays fall within one shard. Smaller provinces are one shard, generated as before.
How the province is written (one file or part files) does not change a single value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from drgdip.core.province import Province, read_province
from drgdip.synth import casemix
from drgdip.synth.casemix import (ADULT, INVALID_REASONS, CcSampler, assemble_codes, build_cores,
                           compact, core_class_of, draw_cores, invalid_status, join_codes, join_csr,
                           nullable_int, severity_of)
from drgdip.synth.costs import apply_outliers, case_costs, fund_shares, split_payments
from drgdip.synth.group_costs import AUTO, GroupCosts, group_costs
from drgdip.synth.hospitals import (GENERAL_HOSPITAL, PSYCHIATRIC_HOSPITAL, TCM_HOSPITAL, make_hospitals,
                             region_codes, region_weights)
from drgdip.synth.outpatient import preop_visits, unrelated_visits
from drgdip.synth.params import SynthParams
from drgdip.synth.patients import assign_patients, birth_dates, completed_years
from drgdip.synth.scheme_profile import (CARE_CLASS_NAMES, CARE_TYPE_OF_CLASS, DAY_CHEMO, DAY_SURGERY,
                                  DAY_WARD, GENERAL, KIND_MEDICAL, KIND_PREMDC, PSYCH_LONG, TCM_DAY,
                                  SchemeProfile, build_profile)
from drgdip.synth.stays import discharge_dates, leaving_types, stay_times

BLOCK_ROWS = 1 << 20
SHARD_ROWS = 1 << 22    # stays generated at once (about 2.5 GB); larger provinces go shard by shard
SHARD_STREAM = 99       # marks the random streams of a shard

# random streams (one generator per stream, seeded with [seed, stream(, block)])
(S_HOSPITALS, S_ADRG, S_CORES, S_SKELETON, S_CODES, S_STAYS, S_COSTS, S_PATIENTS,
 S_OUTPATIENT) = range(1, 10)

# the grouper's result written with the stays, so that settlement does not group them again
GROUP_COLUMNS = ("status", "mdc", "adrg", "drg")
CASE_COLUMNS = (
    "case_id", "patient_id", "year", "hospital_id", "hospital_level", "region", "insured_region",
    "insurance_type", "care_type", "dept", "gender", "age", "age_days", "birth_weight",
    "admit_time", "discharge_time", "los", "leaving_type", "dx", "proc", "total_cost", "fund_paid",
    "self_pay_in_scope", "self_pay_out_scope", "drug_cost", "consumable_cost", "status", "mdc", "adrg", "drg",
)
CASE_DTYPES = {
    "case_id": "str", "patient_id": "str", "year": "int16", "hospital_id": "str",
    "hospital_level": "int8", "region": "str", "insured_region": "str", "insurance_type": "str",
    "care_type": "str", "dept": "str", "gender": "Int8", "age": "Int16", "age_days": "Int32",
    "birth_weight": "Int32", "admit_time": "datetime64[s]", "discharge_time": "datetime64[s]",
    "los": "int16", "leaving_type": "int8", "dx": "str", "proc": "str", "total_cost": "float64",
    "fund_paid": "float64", "self_pay_in_scope": "float64", "self_pay_out_scope": "float64",
    "drug_cost": "float64", "consumable_cost": "float64",
    "status": "category", "mdc": "category", "adrg": "category", "drg": "category",
}
HOSPITAL_DTYPES = {"hospital_id": "str", "name": "str", "level": "int8", "region": "str",
                   "beds": "int32", "hospital_type": "str"}
OUTPATIENT_DTYPES = {"visit_id": "str", "patient_id": "str", "hospital_id": "str",
                     "visit_time": "datetime64[s]", "cost": "float64", "related_case_id": "str"}
DAY_WARD_VISIT_DTYPES = {"case_id": "str", "visit_date": "datetime64[s]"}
TABLE_DTYPES = {"cases": CASE_DTYPES, "hospitals": HOSPITAL_DTYPES, "outpatient": OUTPATIENT_DTYPES,
                "day_ward_visits": DAY_WARD_VISIT_DTYPES}

# discharge department (出院科别) by MDC letter, following the national clinical-department list
DEPT_MEDICAL = {"B": "A03", "C": "A10", "D": "A11", "J": "A13", "M": "A04", "N": "A05", "O": "A05",
                "P": "A07", "R": "A19", "S": "A16", "T": "A15", "U": "A15", "Y": "A16"}
DEPT_SURGICAL = {"C": "A10", "D": "A11", "N": "A05", "O": "A05", "P": "A07"}
DEPT_OF_CLASS = {DAY_CHEMO: "A19", DAY_WARD: "A19", TCM_DAY: "A50", PSYCH_LONG: "A15"}

GroupFn = Callable[[pd.DataFrame], pd.DataFrame]


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *stream])


@dataclass(frozen=True)
class _Streams:
    """The random streams of one shard: [seed, stream, ...] for a province of one shard, with
    [SHARD_STREAM, shard] appended for shard ``shard`` of a larger one."""

    seed: int
    shard: int | None = None

    def rng(self, *stream: int) -> np.random.Generator:
        return _rng(self.seed, *stream) if self.shard is None else _rng(self.seed, *stream, SHARD_STREAM, self.shard)


def _str_column(labels: Sequence[str], index: np.ndarray) -> pd.Series:
    """A str column holding ``labels[index]`` (Arrow-backed, no Python object per row)."""
    return pa.array(list(labels), type=pa.string()).take(pa.array(np.asarray(index, dtype=np.int64))).to_pandas()


def _year_counts(n: int, years: tuple[int, ...], growth: float) -> np.ndarray:
    w = (1.0 + growth) ** np.arange(len(years))
    raw = n * w / w.sum()
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts


def _check_args(cases, years, hospitals, seed) -> tuple[int, tuple[int, ...], int, int]:
    if isinstance(cases, bool) or not isinstance(cases, (int, np.integer)) or cases < 0:
        raise ValueError(f"cases must be a non-negative integer, got {cases!r}")
    years = tuple(int(y) for y in years)
    if not years or len(set(years)) != len(years) or any(not 1900 < y < 2200 for y in years):
        raise ValueError(f"years must be distinct calendar years, got {years!r}")
    if isinstance(hospitals, bool) or not isinstance(hospitals, (int, np.integer)) or hospitals < 1:
        raise ValueError(f"hospitals must be a positive integer, got {hospitals!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(cases), tuple(sorted(years)), int(hospitals), int(seed)


def generate_province(scheme, cases: int = 100_000, years: Sequence[int] = (2023, 2024, 2025),
                      hospitals: int = 20, regions: int | Sequence[str] = 4, seed: int = 0,
                      params: SynthParams | None = None, *, weights=AUTO, group_fn: GroupFn | None = None,
                      ) -> Province:
    """Generate a synthetic province whose stays group under ``scheme``.

    Parameters
    ----------
    scheme : grouper.Scheme or path
        The grouping scheme the case mix is drawn from (a loaded scheme or its directory).
    cases : int
        Number of stays over all years (volume grows by ``params.volume_growth`` a year).
    years : sequence of int
        Settlement years (the discharge year of each stay).
    hospitals : int
        Number of hospitals.
    regions : int or sequence of str
        Number of prefecture-level regions (Shandong codes by default) or their 6-digit codes.
    seed : int
        Seed of every random stream; same arguments give identical output.
    params : SynthParams
        Realism knobs (defaults when omitted).
    weights : "auto", None, WeightTable or path
        What group costs follow (:mod:`drgdip.synth.group_costs`): a weight table (RW per DRG; a DRG's
        level-2 mean cost is RW x ``params.base_rate``), ``None`` for synth's own ADRG cost model, or
        ``"auto"``: the table shipped for the scheme if there is one (the national CHS-DRG 1.1 scheme
        has one), else synth's own model.
    group_fn : callable, optional
        ``DataFrame -> DataFrame`` with ``status`` and ``adrg`` columns; defaults to
        :func:`drgdip.grouper.group_cases` under ``scheme``.
    """
    generator = SyntheticProvince(scheme, cases=cases, years=years, hospitals=hospitals, regions=regions, seed=seed,
                                  params=params, weights=weights, group_fn=group_fn)
    shards = list(generator.shards())
    if len(shards) == 1:
        cases_df, outpatient, day_ward = shards[0].cases, shards[0].outpatient, shards[0].day_ward_visits
    else:
        cases_df, outpatient, day_ward = (pd.concat([getattr(shard, name) for shard in shards], ignore_index=True)
                                          for name in ("cases", "outpatient", "day_ward_visits"))
    del shards
    return Province(cases=cases_df, hospitals=generator.hospitals, outpatient=outpatient, day_ward_visits=day_ward,
                    info=generator.info)


class SyntheticProvince:
    """A synthetic province generated shard by shard (see the module docstring); arguments as
    :func:`generate_province`.

    :meth:`shards` yields each shard's ``cases``, ``outpatient`` and ``day_ward_visits`` (a
    :class:`Province` without hospitals) in order; their concatenation is the province. ``hospitals``
    is known from the start, ``info`` once every shard has been generated.
    """

    def __init__(self, scheme, cases: int = 100_000, years: Sequence[int] = (2023, 2024, 2025),
                 hospitals: int = 20, regions: int | Sequence[str] = 4, seed: int = 0,
                 params: SynthParams | None = None, *, weights=AUTO, group_fn: GroupFn | None = None):
        from drgdip.grouper import group_cases, load_scheme

        n, years, n_hospitals, seed = _check_args(cases, years, hospitals, seed)
        params = params if params is not None else SynthParams()
        if not isinstance(params, SynthParams):
            raise TypeError("params must be a SynthParams")
        if isinstance(scheme, (str, Path)):
            scheme = load_scheme(scheme)
        if group_fn is None:
            def group_fn(frame: pd.DataFrame) -> pd.DataFrame:
                return group_cases(frame, scheme)

        profile = build_profile(scheme)
        region_list = region_codes(regions)
        hospitals_df = make_hospitals(n_hospitals, region_list, params, _rng(seed, S_HOSPITALS))
        self.world = _World.build(profile, hospitals_df, region_list, params, seed, group_fn, weight_table=weights)
        self.scheme, self.n, self.years, self.seed = scheme, n, years, seed
        self.hospitals = _typed({c: self.world.hospitals[c] for c in HOSPITAL_DTYPES}, HOSPITAL_DTYPES)
        self._info: dict | None = None

    @property
    def info(self) -> dict:
        """The content of ``province.json`` (after :meth:`shards` has run to its end)."""
        if self._info is None:
            raise RuntimeError("the province information is known once every shard has been generated")
        return self._info

    def shards(self) -> Iterator[Province]:
        """Generate the province shard by shard."""
        world, n, years, seed = self.world, self.n, self.years, self.seed
        redrawn = fallback = patients = visits = 0
        grouped = True
        if n <= SHARD_ROWS:
            plans = [(_Streams(seed), None)]
        else:
            dates = _sorted_discharge_dates(world, n, years, seed)
            plans = ((_Streams(seed, k), (dates, start, min(n, start + SHARD_ROWS)))
                     for k, start in enumerate(range(0, n, SHARD_ROWS)))
        for streams, rows in plans:
            if rows is None:
                skeleton = _skeleton(world, n, years, streams)
            else:
                skeleton = _shard_skeleton(world, *rows, streams)
            codes = _codes(world, skeleton, streams)
            shard = _finish(world, skeleton, codes, years, streams, patients, visits)
            del skeleton
            redrawn, fallback = redrawn + codes.redrawn, fallback + codes.fallback
            grouped = grouped and codes.groups is not None and codes.groups.usable
            patients, visits = patients + shard.patients, visits + len(shard.outpatient)
            del codes
            tables = Province(cases=shard.cases, outpatient=shard.outpatient, day_ward_visits=shard.day_ward_visits)
            del shard
            yield tables
            del tables   # the next shard is generated without this one in memory
        self._info = _province_info(world, self.scheme, n, years, seed, redrawn, fallback, grouped)


# ------------------------------------------------------------------------------------ world


@dataclass
class _World:
    """Everything fixed before the first stay is drawn."""

    profile: SchemeProfile
    params: SynthParams
    hospitals: pd.DataFrame
    regions: list[str]
    region_pop: np.ndarray
    hosp_level: np.ndarray
    hosp_type: np.ndarray
    hosp_region: np.ndarray
    costs: GroupCosts           # cost centres of the ADRGs and DRGs
    adrg_cost: np.ndarray       # float64[n_adrg] median cost without complication, level 2, first year
    adrg_los: np.ndarray        # float64[n_adrg] median LOS
    adrg_kind: np.ndarray       # int8[n_adrg]
    adrg_rank_weight: np.ndarray  # float64[n_adrg] Zipf case-mix weight
    class_adrgs: list           # per care class: usable ADRG indices
    class_hospital_weight: list  # per care class: float64[n_hospitals]
    class_share: np.ndarray     # float64[6] effective shares
    cores: casemix.Cores
    sampler: CcSampler
    group_fn: GroupFn
    notes: list

    @classmethod
    def build(cls, profile, hospitals_df, region_list, params, seed, group_fn, weight_table=AUTO) -> "_World":
        rng = _rng(seed, S_ADRG)
        n_adrg = profile.n_adrg
        kind = np.array([r.kind for r in profile.adrgs], dtype=np.int8)
        costs = group_costs(profile, params, rng.standard_normal(n_adrg), weight_table)
        adrg_cost, z = costs.adrg_cost, costs.adrg_z
        los_median = np.where(kind == KIND_MEDICAL, params.los_median_medical, params.los_median_surgical)
        los_median = np.where(kind == KIND_PREMDC, 2.5 * params.los_median_surgical, los_median)
        adrg_los = los_median * np.exp(0.35 * (0.6 * z + 0.8 * rng.standard_normal(n_adrg)))
        ranking = rng.permutation(n_adrg)
        rank_weight = np.empty(n_adrg)
        rank_weight[ranking] = 1.0 / np.arange(1, n_adrg + 1) ** params.casemix_zipf_exponent
        rank_weight *= (adrg_cost / np.median(adrg_cost)) ** (-params.casemix_cost_exponent)
        special = np.array([not (r.mdc_atoms <= {"principal_dx", "gender"}) for r in profile.adrgs])
        rank_weight[special] *= params.special_mdc_frequency_factor

        notes = list(costs.notes)
        eligible = [np.asarray(a, dtype=np.int32) for a in profile.class_adrgs]
        ds = eligible[DAY_SURGERY]
        if len(ds):
            eligible[DAY_SURGERY] = ds[adrg_cost[ds] <= np.median(adrg_cost[ds])]
        cores = build_cores(profile, group_fn, _rng(seed, S_CORES), params.core_pool_size,
                            [eligible[GENERAL], eligible[DAY_CHEMO], eligible[DAY_WARD]])
        class_adrgs = []
        for care in range(len(CARE_CLASS_NAMES)):
            core_cls = int(core_class_of(np.array([care]))[0])
            have = cores.count(core_cls, n_adrg) > 0
            class_adrgs.append(eligible[care][have[eligible[care]]])
        missing = [r.code for r in profile.adrgs if not have_any(cores, r.index, n_adrg)]
        if missing:
            notes.append(f"{len(missing)} ADRG(s) could not be reached by any verified case and do "
                         f"not appear: {', '.join(missing[:20])}{' ...' if len(missing) > 20 else ''}")

        level = hospitals_df["level"].to_numpy(np.int8)
        htype = pd.Series(hospitals_df["hospital_type"]).map(
            {"general": GENERAL_HOSPITAL, "tcm": TCM_HOSPITAL, "psychiatric": PSYCHIATRIC_HOSPITAL}
        ).to_numpy(np.int8)
        beds = hospitals_df["beds"].to_numpy(np.float64)
        region_index = {code: i for i, code in enumerate(region_list)}
        hosp_region = hospitals_df["region"].map(region_index).to_numpy(np.int64)
        psych_h = htype == PSYCHIATRIC_HOSPITAL
        general_h = htype == GENERAL_HOSPITAL
        upper = level >= 2
        weights = [
            beds * ~psych_h,
            beds * upper * ~psych_h,
            beds * (level == 3) * general_h,
            beds * upper * ~psych_h * np.where(htype == TCM_HOSPITAL, 4.0, 1.0),
            beds * upper * general_h,
            beds * psych_h if psych_h.any() else beds * upper * general_h,
        ]
        shares = np.array([0.0, params.day_surgery_share, params.day_chemo_share,
                           params.tcm_day_share, params.day_ward_share, params.psych_long_stay_share])
        for care in range(1, len(CARE_CLASS_NAMES)):
            reason = None
            if shares[care] > 0 and len(class_adrgs[care]) == 0:
                reason = "the scheme has no suitable ADRG"
            elif shares[care] > 0 and weights[care].sum() <= 0:
                reason = "no hospital offers it"
            if reason:
                notes.append(f"care type {CARE_CLASS_NAMES[care]} not generated ({reason}); its "
                             f"share {shares[care]:g} became ordinary inpatient care")
                shares[care] = 0.0
        if shares[PSYCH_LONG] == 0 or not (weights[GENERAL] > 0).any():
            weights[GENERAL] = beds.copy()   # psychiatric hospitals then take ordinary stays
        shares[GENERAL] = 1.0 - shares[1:].sum()
        return cls(profile=profile, params=params, hospitals=hospitals_df, regions=region_list,
                   region_pop=region_weights(len(region_list), params.region_size_exponent),
                   hosp_level=level, hosp_type=htype, hosp_region=hosp_region, costs=costs,
                   adrg_cost=adrg_cost, adrg_los=adrg_los, adrg_kind=kind, adrg_rank_weight=rank_weight,
                   class_adrgs=class_adrgs, class_hospital_weight=weights, class_share=shares,
                   cores=cores, sampler=CcSampler.build(profile), group_fn=group_fn, notes=notes)


def have_any(cores: casemix.Cores, adrg: int, n_adrg: int) -> bool:
    return any(cores.count(c, n_adrg)[adrg] > 0 for c in range(casemix.N_CORE_CLASSES))


def _categorical_draw(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    cdf = np.cumsum(weights / weights.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(weights) - 1)


# --------------------------------------------------------------------------------- skeleton


@dataclass
class _Skeleton:
    year: np.ndarray
    care_class: np.ndarray
    discharge_date: np.ndarray
    hospital: np.ndarray
    level: np.ndarray
    region: np.ndarray
    insured_region: np.ndarray
    employee: np.ndarray
    adrg: np.ndarray
    core: np.ndarray
    intended: np.ndarray
    excluded_cc: np.ndarray
    invalid: np.ndarray          # int8 reason index or -1
    gender: np.ndarray           # int8, 0 where missing
    gender_na: np.ndarray
    age: np.ndarray              # int16
    age_na: np.ndarray
    age_days: np.ndarray         # int32
    age_days_na: np.ndarray
    birth_weight: np.ndarray     # int32
    birth_weight_na: np.ndarray
    population: np.ndarray       # int8 0 general, 1 newborn, 2 pregnancy
    n_neutral: np.ndarray
    n_extra_proc: np.ndarray
    case_id: pa.Array


def _skeleton(world: _World, n: int, years: tuple[int, ...], streams: _Streams) -> _Skeleton:
    """The skeleton of a province generated as one shard."""
    p = world.params
    rng = streams.rng(S_SKELETON)
    year = np.repeat(np.array(years, dtype=np.int16), _year_counts(n, years, p.volume_growth))
    care_class = rng.choice(len(CARE_CLASS_NAMES), n, p=world.class_share).astype(np.int8)
    discharge_date = discharge_dates(rng, year, p.monthly_volume)
    order = np.argsort(discharge_date.astype(np.int64), kind="stable")
    year, care_class, discharge_date = year[order], care_class[order], discharge_date[order]
    seq = np.arange(n, dtype=np.int64) - np.searchsorted(year, year, side="left") + 1
    return _skeleton_stays(world, rng, year, care_class, discharge_date, seq)


@dataclass(frozen=True)
class _DischargeDates:
    """The sorted discharge days of every stay of a province generated in shards, and where each year starts."""

    days: np.ndarray           # int32 days since 1970-01-01, ascending
    year_first: dict           # year -> row of its first stay


def _sorted_discharge_dates(world: _World, n: int, years: tuple[int, ...], seed: int) -> _DischargeDates:
    """Discharge dates of all stays, drawn from their own stream and sorted (stays are numbered in this order)."""
    counts = _year_counts(n, years, world.params.volume_growth)
    year = np.repeat(np.array(years, dtype=np.int16), counts)
    days = discharge_dates(_rng(seed, S_SKELETON, SHARD_STREAM), year, world.params.monthly_volume)
    del year
    days.sort()
    firsts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return _DischargeDates(days=days.astype(np.int64).astype(np.int32),
                           year_first={y: int(f) for y, f in zip(years, firsts)})


def _shard_skeleton(world: _World, dates: _DischargeDates, start: int, stop: int, streams: _Streams) -> _Skeleton:
    """The skeleton of stays ``start:stop`` of a province generated in shards."""
    rng = streams.rng(S_SKELETON)
    discharge_date = dates.days[start:stop].astype("datetime64[D]")
    year = discharge_date.astype("datetime64[Y]").astype(np.int64).astype(np.int16) + 1970
    care_class = rng.choice(len(CARE_CLASS_NAMES), stop - start, p=world.class_share).astype(np.int8)
    first = np.array([dates.year_first[int(y)] for y in np.unique(year)], dtype=np.int64)
    rows = np.arange(start, stop, dtype=np.int64)
    seq = rows - first[np.searchsorted(np.unique(year), year)] + 1
    return _skeleton_stays(world, rng, year, care_class, discharge_date, seq)


def _skeleton_stays(world: _World, rng: np.random.Generator, year: np.ndarray, care_class: np.ndarray,
                    discharge_date: np.ndarray, seq: np.ndarray) -> _Skeleton:
    """Hospital, insurance, case mix, demographics and invalid fields of stays in discharge order;
    ``seq`` numbers each stay within its year (the case id)."""
    p, profile, cores = world.params, world.profile, world.cores
    n = len(year)
    hospital = np.zeros(n, dtype=np.int32)
    for care in range(len(CARE_CLASS_NAMES)):
        rows = np.flatnonzero(care_class == care)
        if len(rows):
            hospital[rows] = _categorical_draw(rng, world.class_hospital_weight[care], len(rows))
    level = world.hosp_level[hospital]
    region = world.hosp_region[hospital].astype(np.int16)
    employee = rng.random(n) < p.employee_share

    insured_region = region.copy()
    n_regions = len(world.regions)
    if n_regions > 1 and p.remote_share > 0:
        w = np.asarray(p.remote_level_weights)[level - 1]
        chance = np.minimum(p.remote_share * w / w.mean(), 0.95) if n else w
        remote = rng.random(n) < chance
        for r in range(n_regions):
            rows = np.flatnonzero(remote & (region == r))
            pop = world.region_pop.copy()
            pop[r] = 0.0
            insured_region[rows] = _categorical_draw(rng, pop, len(rows))

    adrg = np.zeros(n, dtype=np.int32)
    tilt = np.asarray(p.casemix_level_tilt)
    for care in range(len(CARE_CLASS_NAMES)):
        allowed = world.class_adrgs[care]
        for lv in (1, 2, 3):
            rows = np.flatnonzero((care_class == care) & (level == lv))
            if not len(rows):
                continue
            w = world.adrg_rank_weight[allowed] * world.adrg_cost[allowed] ** (-tilt[lv - 1])
            adrg[rows] = allowed[_categorical_draw(rng, w, len(rows))]
    core = draw_cores(cores, core_class_of(care_class), adrg, profile.n_adrg, rng).astype(np.int32)

    day_case = (care_class != GENERAL) & (care_class != PSYCH_LONG)
    factor = np.where(day_case, p.day_case_severity_factor, 1.0)
    u = rng.random(n)
    intended = np.where(u < p.mcc_rate * factor, 2,
                        np.where(u < (p.mcc_rate + p.cc_rate) * factor, 1, 0)).astype(np.int8)
    excluded_cc = rng.random(n) < p.excluded_cc_rate

    principal = cores.dx[core, 0]
    pregnancy = profile.dx_pregnancy[principal]
    core_age = cores.age[core]
    adult = core_age == ADULT

    gender = cores.gender[core].astype(np.int8)
    free = gender == 0
    gender[free] = np.where(rng.random(int(free.sum())) < 0.5, 1, 2)

    age = np.where(adult, 0, core_age).astype(np.int64)
    rows = np.flatnonzero(adult)
    child = rng.random(len(rows)) < p.child_share
    adult_age = np.clip(np.rint(rng.normal(p.adult_age_mean, p.adult_age_sd, len(rows))), 18, 100)
    child_age = rng.integers(1, 18, len(rows))
    a = np.where(child, child_age, adult_age)
    a = np.where(pregnancy[rows], np.clip(np.rint(rng.normal(30, 5, len(rows))), 16, 48), a)
    a = np.where(care_class[rows] == PSYCH_LONG, np.clip(np.rint(rng.normal(45, 15, len(rows))), 14, 90), a)
    for _ in profile.age_years_values:      # never an age some MDC rule tests for
        for v in profile.age_years_values:
            a = np.where(a == v, a + 1, a)
    age[rows] = a
    age_days = np.zeros(n, dtype=np.int64)
    age_days[rows] = np.floor(a * 365.25 + rng.uniform(1, 364, len(rows))).astype(np.int64)
    rows = np.flatnonzero(~adult)
    lo, hi = cores.ad_lo[core[rows]], cores.ad_hi[core[rows]]
    age_days[rows] = lo + np.floor(rng.random(len(rows)) * (hi - lo + 1)).astype(np.int64)
    birth_weight = np.zeros(n, dtype=np.int32)
    bw_na = np.ones(n, dtype=bool)
    rows = np.flatnonzero(cores.bw_lo[core] >= 0)
    blo, bhi = cores.bw_lo[core[rows]].astype(np.float64), cores.bw_hi[core[rows]].astype(np.float64)
    typical = (blo <= 3200) & (bhi > 3200)
    mid = np.where(typical, 3200.0, (blo + bhi) / 2.0)
    sd = np.where(typical, 450.0, np.maximum(bhi - blo, 1) / 4.0)
    birth_weight[rows] = np.clip(np.rint(rng.normal(mid, sd)), blo, bhi - 1)
    bw_na[rows] = False

    population = np.where(~adult, 1, np.where(pregnancy, 2, 0)).astype(np.int8)
    lam = np.where(adult, p.secondary_dx_mean * np.clip(age / 55.0, 0.2, 1.8), 0.0)
    n_neutral = rng.poisson(lam).astype(np.int16)
    n_extra_proc = rng.poisson(p.extra_proc_mean, n).astype(np.int16)

    # deliberately invalid inputs (RULES.md section 2)
    invalid = np.where(rng.random(n) < p.invalid_share,
                       rng.integers(0, len(INVALID_REASONS), n), -1).astype(np.int8)
    gender_na = invalid == INVALID_REASONS.index("gender_missing")
    bad_gender = invalid == INVALID_REASONS.index("gender_invalid")
    gender[bad_gender] = np.where(rng.random(int(bad_gender.sum())) < 0.5, 0, 9)
    gender[gender_na] = 0
    age_na = invalid == INVALID_REASONS.index("age_missing")
    no_days = invalid == INVALID_REASONS.index("age_days_missing")
    no_weight = invalid == INVALID_REASONS.index("birth_weight_missing")
    age[no_days | no_weight] = 0
    age[age_na] = 0
    age_days_na = no_days.copy()
    age_days[no_days] = 0
    age_days[no_weight] = rng.integers(0, 29, int(no_weight.sum()))
    bw_na |= no_days | no_weight
    birth_weight[bw_na] = 0

    case_id = pc.binary_join_element_wise(
        pc.cast(pa.array(year.astype(np.int32)), pa.string()),
        pc.utf8_lpad(pc.cast(pa.array(seq), pa.string()), 9, "0"), "")
    case_id = pc.binary_join_element_wise(pa.scalar("C"), case_id, "")
    return _Skeleton(
        year=year, care_class=care_class, discharge_date=discharge_date, hospital=hospital,
        level=level.astype(np.int8), region=region, insured_region=insured_region, employee=employee,
        adrg=adrg, core=core, intended=intended, excluded_cc=excluded_cc, invalid=invalid,
        gender=gender, gender_na=gender_na, age=age.astype(np.int16), age_na=age_na,
        age_days=age_days.astype(np.int32), age_days_na=age_days_na,
        birth_weight=birth_weight.astype(np.int32), birth_weight_na=bw_na, population=population,
        n_neutral=n_neutral, n_extra_proc=n_extra_proc, case_id=case_id,
    )


# ------------------------------------------------------------------------------------ codes


@dataclass
class _Codes:
    dx: pa.ChunkedArray
    proc: pa.ChunkedArray
    severity: np.ndarray
    redrawn: int
    fallback: int
    groups: "_GroupColumns | None" = None



class _GroupColumns:
    """The grouper's status / mdc / adrg / drg of every stay as categorical codes, filled block by block.

    Kept only when the grouping function returns categoricals (the real grouper does), so that the
    result of verifying the codes is written with the cases instead of being computed again later.
    """

    def __init__(self, n: int):
        self.codes = {name: np.full(n, -1, dtype=np.int32) for name in GROUP_COLUMNS}
        self.categories: dict = {}
        self.usable = True

    def put(self, rows: np.ndarray, grouped: pd.DataFrame) -> None:
        if not self.usable:
            return
        for name in GROUP_COLUMNS:
            column = grouped[name] if name in grouped.columns else None
            if column is None or not isinstance(column.dtype, pd.CategoricalDtype):
                self.usable = False
                return
            known = self.categories.setdefault(name, column.cat.categories)
            if not known.equals(column.cat.categories):
                self.usable = False
                return
            self.codes[name][rows] = column.cat.codes.to_numpy()

    def columns(self) -> dict[str, pd.Categorical]:
        """The four columns, or nothing when the grouping function gave no categoricals."""
        if not self.usable:
            return {}
        if not self.categories:   # no stay at all
            return {name: pd.Categorical([]) for name in GROUP_COLUMNS}
        return {name: pd.Categorical.from_codes(self.codes[name], categories=self.categories[name])
                for name in GROUP_COLUMNS}


def _grouping_frame(sk: _Skeleton, rows: np.ndarray, dx: pa.Array, proc: pa.Array) -> pd.DataFrame:
    return pd.DataFrame({
        "case_id": sk.case_id.take(pa.array(rows)).to_pandas(),
        "gender": nullable_int(sk.gender[rows], sk.gender_na[rows], np.int8),
        "age": nullable_int(sk.age[rows], sk.age_na[rows], np.int16),
        "age_days": nullable_int(sk.age_days[rows], sk.age_days_na[rows], np.int32),
        "birth_weight": nullable_int(sk.birth_weight[rows], sk.birth_weight_na[rows], np.int32),
        "dx": dx.to_pandas(),
        "proc": proc.to_pandas(),
    })


def _codes(world: _World, sk: _Skeleton, streams: _Streams) -> _Codes:
    profile, cores, p = world.profile, world.cores, world.params
    n = len(sk.year)
    dx_vocab = pa.array(profile.dx_vocab, type=pa.string())
    proc_vocab = pa.array(profile.proc_vocab, type=pa.string())
    adrg_codes = np.array([r.code for r in profile.adrgs], dtype=object)
    expected_all = invalid_status(sk.invalid.astype(np.int64))
    dx_blocks, proc_blocks, severity = [], [], np.zeros(n, dtype=np.int8)
    groups = _GroupColumns(n)
    redrawn = fallback = 0
    for b, start in enumerate(range(0, n, BLOCK_ROWS)):
        rng = streams.rng(S_CODES, b)
        rows = np.arange(start, min(n, start + BLOCK_ROWS))

        def assemble(sub: np.ndarray, bare: bool = False):
            k = len(sub)
            zero = np.zeros(k, dtype=np.int16)
            return assemble_codes(
                profile, cores, sk.core[sub],
                np.zeros(k, np.int8) if bare else sk.intended[sub],
                np.zeros(k, bool) if bare else sk.excluded_cc[sub], sk.population[sub],
                zero if bare else sk.n_neutral[sub], zero if bare else sk.n_extra_proc[sub],
                world.sampler, rng)

        dx_m, proc_m = assemble(rows)
        dx_csr, proc_csr = compact(dx_m), compact(proc_m)
        dx_s, proc_s = join_csr(*dx_csr, dx_vocab), join_csr(*proc_csr, proc_vocab)
        grouped = world.group_fn(_grouping_frame(sk, rows, dx_s, proc_s))
        groups.put(rows, grouped)
        bad = ~_as_expected(grouped, expected_all[rows], sk.invalid[rows], adrg_codes[sk.adrg[rows]])
        redrawn_here = bool(bad.any())
        for round_no in range(p.redraw_rounds):
            if not bad.any():
                break
            local = np.flatnonzero(bad)
            sub = rows[local]
            redrawn += len(sub)
            last = round_no == p.redraw_rounds - 1
            if round_no >= p.redraw_rounds - 2:
                core_cls = core_class_of(sk.care_class[sub])
                sk.core[sub] = draw_cores(cores, core_cls, sk.adrg[sub], profile.n_adrg, rng)
            if last:
                fallback += len(sub)
                _reset_demographics(sk, cores, sub)
            new_dx, new_proc = assemble(sub, bare=last)
            dx_m = _put_rows(dx_m, local, new_dx)
            proc_m = _put_rows(proc_m, local, new_proc)
            regrouped = world.group_fn(_grouping_frame(sk, sub, join_codes(new_dx, dx_vocab),
                                                       join_codes(new_proc, proc_vocab)))
            groups.put(sub, regrouped)
            bad[local] = ~_as_expected(regrouped, expected_all[sub], sk.invalid[sub],
                                       adrg_codes[sk.adrg[sub]])
        if bad.any():
            i = int(np.flatnonzero(bad)[0]) + start
            raise RuntimeError(
                f"{int(bad.sum())} synthetic case(s) do not group as intended even after "
                f"{p.redraw_rounds} re-draw rounds (first: target ADRG {adrg_codes[sk.adrg[i]]}, "
                f"expected status {expected_all[i]}); the grouper and the scheme disagree")
        if redrawn_here:
            dx_csr, proc_csr = compact(dx_m), compact(proc_m)
            dx_s, proc_s = join_csr(*dx_csr, dx_vocab), join_csr(*proc_csr, proc_vocab)
        severity[rows] = severity_of(profile, *dx_csr)
        dx_blocks.append(dx_s)
        proc_blocks.append(proc_s)
    empty = pa.array([], pa.string())
    return _Codes(dx=pa.chunked_array(dx_blocks or [empty]), proc=pa.chunked_array(proc_blocks or [empty]),
                  severity=severity, redrawn=redrawn, fallback=fallback, groups=groups)


def _as_expected(grouped: pd.DataFrame, expected: np.ndarray, invalid: np.ndarray,
                 target_adrg: np.ndarray) -> np.ndarray:
    status = np.asarray(grouped["status"].astype(object))
    adrg = np.asarray(grouped["adrg"].astype(object))
    return (status == expected) & ((invalid >= 0) | (adrg == target_adrg))


def _put_rows(matrix: np.ndarray, local: np.ndarray, new: np.ndarray):
    width = max(matrix.shape[1], new.shape[1])
    if matrix.shape[1] < width:
        matrix = np.pad(matrix, ((0, 0), (0, width - matrix.shape[1])), constant_values=-1)
    matrix[local] = -1
    matrix[local, :new.shape[1]] = new
    return matrix


def _reset_demographics(sk: _Skeleton, cores: casemix.Cores, sub: np.ndarray) -> None:
    """Give valid cases the exact demographics their core was verified with."""
    sub = sub[sk.invalid[sub] < 0]
    core = sk.core[sub]
    newborn = cores.age[core] != ADULT
    sk.age[sub[newborn]] = cores.age[core[newborn]]
    sk.age_days[sub[newborn]] = cores.age_days[core[newborn]]
    has_bw = cores.bw[core] >= 0
    sk.birth_weight[sub] = np.where(has_bw, cores.bw[core], 0)
    sk.birth_weight_na[sub] = ~has_bw
    fixed = cores.gender[core] != 0
    sk.gender[sub[fixed]] = cores.gender[core[fixed]]


# ----------------------------------------------------------------------------------- finish


def _dept(world: _World, adrg: np.ndarray, care_class: np.ndarray) -> pd.Series:
    labels = ["A03", "A04"] + sorted(set(DEPT_MEDICAL.values()) | set(DEPT_SURGICAL.values())
                                     | set(DEPT_OF_CLASS.values()))
    index = {lab: i for i, lab in enumerate(labels)}
    per_adrg = np.empty(world.profile.n_adrg, dtype=np.int64)
    for r in world.profile.adrgs:
        letter = r.mdc[-1:]
        if r.kind == KIND_MEDICAL:
            per_adrg[r.index] = index[DEPT_MEDICAL.get(letter, "A03")]
        else:
            per_adrg[r.index] = index[DEPT_SURGICAL.get(letter, "A04")]
    dept = per_adrg[adrg]
    for care, lab in DEPT_OF_CLASS.items():
        dept[care_class == care] = index[lab]
    return _str_column(labels, dept)


def _stay_drgs(world: _World, sk: _Skeleton, codes: _Codes, grouped: dict) -> np.ndarray:
    """Each stay's DRG as an index into the scheme's DRGs (-1 none), when group costs follow DRGs.

    Taken from the grouping that verified the codes; a grouping function that keeps no categoricals
    is asked once more.
    """
    n = len(sk.year)
    if world.costs.drg_centre is None:
        return np.full(n, -1, dtype=np.int64)
    drg_codes = pd.Index(world.profile.drg_codes.astype(str))
    if grouped:
        drg = grouped["drg"]
        per_category = drg_codes.get_indexer(pd.Index(drg.categories.astype(str)))
        return np.where(drg.codes >= 0, per_category[drg.codes], -1).astype(np.int64)
    frame = world.group_fn(_grouping_frame(sk, np.arange(n), codes.dx, codes.proc))
    return drg_codes.get_indexer(pd.Index(frame["drg"].astype(str))).astype(np.int64)


@dataclass
class _ShardTables:
    """The tables of one shard, and how many patients it numbered."""

    cases: pd.DataFrame
    outpatient: pd.DataFrame
    day_ward_visits: pd.DataFrame
    patients: int


def _finish(world: _World, sk: _Skeleton, codes: _Codes, years: tuple[int, ...], streams: _Streams,
            first_patient: int = 0, first_visit: int = 0) -> _ShardTables:
    """Times, costs, patients and visits of a shard's stays, and its tables; patient numbers and visit
    ids continue from ``first_patient`` and ``first_visit`` (those of the shards before)."""
    p, profile = world.params, world.profile
    n = len(sk.year)
    rng = streams.rng(S_STAYS)
    severity = codes.severity
    sev_mult = np.asarray(p.severity_cost_multipliers)
    z_cost = rng.standard_normal(n)
    z_los = p.los_cost_correlation * z_cost + np.sqrt(1 - p.los_cost_correlation ** 2) * rng.standard_normal(n)
    times = stay_times(rng, sk.care_class, sk.discharge_date, world.adrg_los[sk.adrg],
                       sev_mult[severity] ** 0.6, z_los, p)
    leaving = leaving_types(rng, sk.care_class, severity, p)

    rng = streams.rng(S_COSTS)
    hospital_effect = np.exp(p.hospital_cost_sigma * rng.standard_normal(len(world.hosp_level)))
    region_dev = rng.normal(0.0, p.region_fund_share_sd, len(world.regions))
    grouped = codes.groups.columns() if codes.groups is not None else {}
    group_cost = world.costs.stay_cost(sk.adrg, _stay_drgs(world, sk, codes, grouped), severity,
                                       sk.care_class == GENERAL, p)
    cost = case_costs(rng, care_class=sk.care_class, group_cost=group_cost,
                      level=sk.level, hospital_effect=hospital_effect[sk.hospital],
                      year_index=(sk.year - years[0]).astype(np.int64), z_cost=z_cost,
                      los=times.los.astype(np.int64), window_hours=times.window_hours, params=p)
    cost, outlier = apply_outliers(rng, cost, sk.care_class, p)
    remote = sk.insured_region != sk.region
    share = fund_shares(employee=sk.employee, level=sk.level, insured_region_dev=region_dev[sk.insured_region],
                        remote=remote, params=p)
    surgical = world.adrg_kind[sk.adrg] != KIND_MEDICAL
    pay = split_payments(rng, cost, share, sk.care_class, surgical, outlier, p)

    # patients and consistent ages
    rng = streams.rng(S_PATIENTS)
    valid_adult = (sk.invalid < 0) & (world.cores.age[sk.core] == ADULT)
    mergeable = valid_adult & bool(set(profile.age_years_values) <= {0})
    patient = assign_patients(rng, mergeable=mergeable, hospital=sk.hospital, employee=sk.employee,
                              insured_region=sk.insured_region, gender=sk.gender, age=sk.age,
                              admit_time=times.admit_time, discharge_time=times.discharge_time,
                              repeat_share=p.repeat_patient_share)
    admit_date = times.admit_time.astype("datetime64[D]")
    birth = birth_dates(patient, admit_date, sk.age_days.astype(np.int64))
    rows = np.flatnonzero(valid_adult)
    sk.age_days[rows] = (admit_date[rows] - birth[rows]).astype(np.int64)
    sk.age[rows] = completed_years(birth[rows], admit_date[rows])
    region_labels = world.regions
    patient_id = pc.binary_join_element_wise(
        pa.array(region_labels, pa.string()).take(pa.array(sk.insured_region)),
        pc.utf8_lpad(pc.cast(pa.array(patient + first_patient), pa.string()), 10, "0"), "")

    hospital_ids = world.hospitals["hospital_id"].tolist()
    cases = _typed({
        "case_id": sk.case_id.to_pandas(),
        "patient_id": patient_id.to_pandas(),
        "year": sk.year.astype(np.int16),
        "hospital_id": _str_column(hospital_ids, sk.hospital),
        "hospital_level": sk.level.astype(np.int8),
        "region": _str_column(region_labels, sk.region),
        "insured_region": _str_column(region_labels, sk.insured_region),
        "insurance_type": _str_column(["resident", "employee"], sk.employee.astype(np.int64)),
        "care_type": _str_column(CARE_TYPE_OF_CLASS, sk.care_class),
        "dept": _dept(world, sk.adrg, sk.care_class),
        "gender": nullable_int(sk.gender, sk.gender_na, np.int8),
        "age": nullable_int(sk.age, sk.age_na, np.int16),
        "age_days": nullable_int(sk.age_days, sk.age_days_na, np.int32),
        "birth_weight": nullable_int(sk.birth_weight, sk.birth_weight_na, np.int32),
        "admit_time": times.admit_time.astype("datetime64[s]"),
        "discharge_time": times.discharge_time.astype("datetime64[s]"),
        "los": times.los.astype(np.int16),
        "leaving_type": leaving.astype(np.int8),
        "dx": codes.dx.to_pandas(),
        "proc": codes.proc.to_pandas(),
        "total_cost": pay.total / 100.0,
        "fund_paid": pay.fund / 100.0,
        "self_pay_in_scope": pay.self_in_scope / 100.0,
        "self_pay_out_scope": pay.self_out_scope / 100.0,
        "drug_cost": pay.drug / 100.0,
        "consumable_cost": pay.consumable / 100.0,
        **grouped,
    }, {c: d for c, d in CASE_DTYPES.items() if c not in GROUP_COLUMNS or grouped})
    del pay, cost, group_cost, share, z_cost, z_los

    # outpatient visits
    rng = streams.rng(S_OUTPATIENT)
    candidate = np.where(sk.care_class == DAY_SURGERY, p.preop_visit_share_day_surgery,
                         np.where((sk.care_class == GENERAL) & surgical, p.preop_visit_share_surgical, 0.0))
    pre_row, pre_time, pre_cost = preop_visits(rng, candidate_share=candidate,
                                               admit_time=times.admit_time, params=p)
    un_row, un_hospital, un_time, un_cost = unrelated_visits(
        rng, n_cases=n, case_hospital=sk.hospital, hospital_region=world.hosp_region, years=years,
        params=p)
    visit_row = np.concatenate([pre_row, un_row])
    visit_hospital = np.concatenate([sk.hospital[pre_row], un_hospital])
    visit_time = np.concatenate([pre_time, un_time])
    visit_cost = np.concatenate([pre_cost, un_cost])
    related = np.concatenate([np.ones(len(pre_row), bool), np.zeros(len(un_row), bool)])
    order = np.lexsort((np.arange(len(visit_row)), visit_time.astype(np.int64)))
    visit_row, visit_hospital, visit_time, visit_cost, related = (
        visit_row[order], visit_hospital[order], visit_time[order], visit_cost[order], related[order])
    m = len(visit_row)
    related_id = sk.case_id.take(pa.array(visit_row.astype(np.int64)))
    related_id = pc.if_else(pa.array(related), related_id, pa.scalar(None, pa.string()))
    visit_id = pc.binary_join_element_wise(
        pa.scalar("V"),
        pc.utf8_lpad(pc.cast(pa.array(np.arange(first_visit + 1, first_visit + m + 1)), pa.string()), 10, "0"), "")
    outpatient = _typed({
        "visit_id": visit_id.to_pandas() if m else pd.Series([], dtype="str"),
        "patient_id": patient_id.take(pa.array(visit_row.astype(np.int64))).to_pandas(),
        "hospital_id": _str_column(hospital_ids, visit_hospital),
        "visit_time": visit_time.astype("datetime64[s]"),
        "cost": visit_cost / 100.0,
        "related_case_id": related_id.to_pandas() if m else pd.Series([], dtype="str"),
    }, OUTPATIENT_DTYPES)
    day_ward = _typed({
        "case_id": sk.case_id.take(pa.array(times.visit_case)).to_pandas(),
        "visit_date": times.visit_date.astype("datetime64[s]"),
    }, DAY_WARD_VISIT_DTYPES)
    return _ShardTables(cases=cases, outpatient=outpatient, day_ward_visits=day_ward,
                        patients=int(patient.max()) + 1 if n else 0)


def _province_info(world: _World, scheme, n: int, years: tuple[int, ...], seed: int, redrawn: int, fallback: int,
                   grouped: bool) -> dict:
    """The content of ``province.json``: how the province was made."""
    p = world.params
    info = {
        "scheme": getattr(scheme, "name", str(scheme)),
        "seed": seed,
        "cases": n,
        "years": list(years),
        "hospitals": len(world.hospitals),
        "regions": list(world.regions),
        "params": p.to_dict(),
        "costs": dict(world.costs.info),
        "care_class_shares": {name: float(s) for name, s in zip(CARE_CLASS_NAMES, world.class_share)},
        "redrawn_cases": int(redrawn),
        "fallback_cases": int(fallback),
        "notes": list(world.notes),
    }
    if grouped:
        info["grouping"] = {"columns": list(GROUP_COLUMNS), "scheme": getattr(scheme, "name", str(scheme)),
                            "scheme_fingerprint": getattr(scheme, "fingerprint", ""),
                            "scheme_path": str(Path(scheme.path).resolve()) if hasattr(scheme, "path") else ""}
    return info


def _typed(columns: dict, dtypes: dict) -> pd.DataFrame:
    """A DataFrame of ``columns`` with the documented dtypes, without copying what already fits."""
    out = {}
    for column, dtype in dtypes.items():
        s = columns[column]
        s = s if isinstance(s, pd.Series) else pd.Series(s, copy=False)
        if str(s.dtype) != dtype:
            s = s.astype(dtype)
        out[column] = s.reset_index(drop=True)
    return pd.DataFrame(out, copy=False)


def read_synthetic_province(directory) -> Province:
    """Read a province written by :func:`drgdip.core.province.write_province` with the column types of
    :data:`TABLE_DTYPES` (CSV files give back the same DataFrames as Parquet)."""
    return read_province(directory, dtypes=TABLE_DTYPES)
