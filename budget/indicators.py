"""Performance assessment indicators (绩效考核指标, domain reference §10) of each hospital, hospital level
and region, from the settled stays of the year (and last year's history stays for the growth).

Over the settled stays of a hospital (level, region), N of them:

==========================  ==========================================================  ======
indicator                   formula                                                      better
==========================  ==========================================================  ======
cost_per_case               Σ total_cost / N  (次均费用)                                   lower
cost_growth                 cost_per_case / last year's cost_per_case − 1                 lower
average_los                 Σ los / N  (平均住院日)                                         lower
cost_consumption_index      Σ (total_cost_i / mean cost of i's group in i's area) / N_g   lower
                            (费用消耗指数; N_g stays with a group; 1 = area average)
time_consumption_index      Σ (los_i / mean los of i's group in i's area) / N_g           lower
cmi                         Σ weight / N of the settlement (病例组合指数)                   higher
grouping_rate               stays in a group / N (入组率; DRG: status ok, DIP: not typed     higher
                            ungrouped); only these count in the consumption indices
core_share, comprehensive_  DIP stays of core / comprehensive groups / N                   —
share
share_low, share_high,      stays of each outlier class / N                                lower
share_extreme,
share_ungrouped
special_review_share        stays paid by special review (特例单议) / N                     —
death_rate                  stays ending in death (leaving_type 5) / N                     lower
readmission_14d, _30d       stays not ending in death followed by an unplanned stay of     lower
                            the same patient at the same hospital admitted 0–14 (0–30)
                            days after discharge / such stays (needs patient_id)
split_admission_share       stays followed by a stay of the same patient at the same       lower
                            hospital in the same ADRG (DIP: group) admitted 0–15 days
                            after discharge / N  (疑似分解住院)
drug_share,                 Σ drug_cost / Σ total_cost, Σ consumable_cost / Σ total_cost   lower
consumable_share            (药占比, 耗占比)
self_pay_share              Σ self_pay_out_scope / Σ total_cost  (自费比例)                lower
self_payment_share          Σ self_pay_in_scope / Σ total_cost  (自付比例)                 lower
surplus_coverage            hospitals with a surplus (结余) / hospitals                     —
==========================  ==========================================================  ======

An indicator whose inputs are absent (no ``patient_id``, no history, a DRG province's DIP shares) is
left out of the table; one that has no stays to count is empty (NaN), never 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drgdip.budget._indicator_kernels import days_to_next
from drgdip.budget._kernels import FIXED_WORDS, chunk_bounds, fixed_values, year_sums

__all__ = ["indicator_tables", "indicator_cells", "hospital_regions", "tables_of_cells", "last_year_costs",
           "last_year_sums", "add_last_year_sums", "last_year_costs_of", "assessment_scores", "INDICATOR_INPUTS", "INDICATORS", "READMISSION_DAYS", "SPLIT_ADMISSION_DAYS"]

READMISSION_DAYS = (14, 30)
SPLIT_ADMISSION_DAYS = 15
DEATH = 5
# indicator: which way is better (for ranks within a level); None when neither is
INDICATORS = {
    "cost_per_case": "lower", "cost_growth": "lower", "average_los": "lower", "cost_consumption_index": "lower",
    "time_consumption_index": "lower", "cmi": "higher", "grouping_rate": "higher", "core_share": None,
    "comprehensive_share": None, "share_low": "lower", "share_high": "lower", "share_extreme": "lower",
    "share_ungrouped": "lower", "special_review_share": None, "death_rate": "lower",
    "readmission_14d": "lower", "readmission_30d": "lower", "split_admission_share": "lower",
    "drug_share": "lower", "consumable_share": "lower", "self_pay_share": "lower", "self_payment_share": "lower",
    "surplus_coverage": None,
}
# input columns only the indicators read (besides those settlement reads anyway)
INDICATOR_INPUTS = ("adrg", "drug_cost", "consumable_cost", "self_pay_in_scope", "self_pay_out_scope",
                    "readmit_plan_31d")
# scope: its column of the stays, the hospitals table's column placing a hospital in it, the output table
SCOPES = {"hospital": "hospital_id", "level": "hospital_level", "region": "region"}
HOSPITAL_COLUMN = {"hospital": "hospital_id", "level": "level", "region": "region"}
TABLE_NAME = {"hospital": "indicators", "level": "indicators_by_level", "region": "indicators_by_region"}


def _settled(cases: pd.DataFrame) -> pd.DataFrame:
    if "settle_status" not in cases.columns:
        return cases
    return cases[(cases["settle_status"] == "ok").fillna(False).to_numpy(dtype=bool)]


def _number(frame: pd.DataFrame, column: str) -> np.ndarray | None:
    if column not in frame.columns:
        return None
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)


def _group_column(cases: pd.DataFrame) -> str | None:
    """The stays' payment group: the DIP group of stays the DIP grouper typed, else the DRG."""
    order = ("dip_group", "drg", "group") if {"dip_group", "dip_type"} <= set(cases.columns) \
        else ("drg", "dip_group", "group")
    return next((c for c in order if c in cases.columns), None)


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(integer code of each value, −1 where missing or empty; the values as text by code): categoricals
    by their codes, anything else factorized, so millions of stays are never compared as strings."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        uniques = values.cat.categories
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        codes = codes.astype(np.int64)
    labels = np.asarray(pd.Index(uniques).astype(str), dtype=object)
    empty = np.flatnonzero(labels == "")
    if len(empty):
        codes[np.isin(codes, empty)] = -1
    return codes, labels


def _combined(*codes: np.ndarray) -> np.ndarray:
    """One int64 key per stay from several codes (−1 where any is missing)."""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    valid = np.ones(len(codes[0]), dtype=bool)
    for code in codes:
        key = key * (int(code.max(initial=0)) + 1) + np.maximum(code, 0)
        valid &= code >= 0
    return np.where(valid, key, -1)


def _consumption(cell: np.ndarray, cells: int, value: np.ndarray) -> np.ndarray:
    """value_i / mean value of the stays of i's cell (area × group; −1: no group, NaN)."""
    use = (cell >= 0) & np.isfinite(value)
    total = np.bincount(cell[use], weights=value[use], minlength=cells)
    count = np.bincount(cell[use], minlength=cells)
    mean = total / np.maximum(count, 1)
    ratio = np.full(len(value), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio[use] = np.where(mean[cell[use]] > 0, value[use] / mean[cell[use]], np.nan)
    return ratio


def _related_group(cases: pd.DataFrame, group: str) -> np.ndarray:
    """Codes of the group that counts as related for split admissions: the ADRG of a DRG (its code's
    first three characters, as CHS-DRG codes are built), else the group itself."""
    if group == "drg" and "adrg" in cases.columns:
        return _codes(cases["adrg"])[0]
    codes, labels = _codes(cases[group])
    if group != "drg":
        return codes
    adrg_codes, _ = pd.factorize(pd.Series(labels, dtype=object).str[:3])
    return np.where(codes >= 0, adrg_codes[np.maximum(codes, 0)], -1)


def _nanoseconds(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    stamps = pd.to_datetime(values, errors="coerce")
    return stamps.to_numpy("datetime64[ns]").astype(np.int64), stamps.isna().to_numpy()


def _cell_sums(cases: pd.DataFrame, stays: dict[str, np.ndarray]) -> pd.DataFrame:
    """Each quantity summed over the stays of each cell (hospital × level × region; NaN stays skipped,
    NaN when a cell has none), with the cell's hospital, level and region: one pass over the stays,
    whose sums every scope then adds up."""
    keys = [key for key in SCOPES.values() if key in cases.columns]
    coded = [_codes(cases[key]) for key in keys]
    cell = _combined(*[codes + 1 for codes, _ in coded])   # 0: a missing key is a value of its own here
    inverse, cells = pd.factorize(cell)
    sums = {}
    for name, values in stays.items():
        finite = np.isfinite(values)
        if finite.all():
            sums[name] = np.bincount(inverse, weights=values, minlength=len(cells))
            continue
        total = np.bincount(inverse[finite], weights=values[finite], minlength=len(cells))
        counted = np.bincount(inverse[finite], minlength=len(cells))
        sums[name] = np.where(counted > 0, total, np.nan)
    sums["cases"] = np.bincount(inverse, minlength=len(cells)).astype(float)
    frame = pd.DataFrame(sums)
    first = np.zeros(len(cells), dtype=np.int64)
    first[inverse] = np.arange(len(inverse))
    for key, (codes, labels) in zip(keys, coded):
        code = codes[first]
        frame[f"key:{key}"] = pd.array(np.where(code >= 0, labels[np.maximum(code, 0)], None), dtype=object)
    return frame


def _sums(cells: pd.DataFrame, key: str) -> pd.DataFrame:
    """The cell sums added up per value of ``key`` (cells without one left out)."""
    columns = [c for c in cells.columns if not c.startswith("key:")]
    return cells.groupby(f"key:{key}", sort=True, dropna=True)[columns].sum(min_count=1)


def _per_stay(cases: pd.DataFrame) -> dict[str, np.ndarray]:
    """One column per stay-level quantity the indicators add up (NaN where an input is missing)."""
    cost = _number(cases, "total_cost")
    group = _group_column(cases)
    group_codes = _codes(cases[group])[0] if group is not None else np.full(len(cases), -1)
    if "dip_type" in cases.columns and group != "drg":   # a DIP stay typed ungrouped is in no group
        group_codes[(cases["dip_type"] == "ungrouped").fillna(True).to_numpy(dtype=bool)] = -1
    elif "status" in cases.columns:
        group_codes[~(cases["status"] == "ok").fillna(False).to_numpy(dtype=bool)] = -1
    grouped = group_codes >= 0
    stays = {"cases": np.ones(len(cases)), "total_cost": cost}
    los = _number(cases, "los")
    if los is not None:
        stays["los"] = los
    if group is not None:
        area = _codes(cases["area"])[0] if "area" in cases.columns else np.zeros(len(cases), dtype=np.int64)
        key = _combined(area, group_codes)
        cell, cells = pd.factorize(np.where(key >= 0, key, np.int64(-1)), use_na_sentinel=False)
        cell = np.where(key >= 0, cell, -1)
        stays["grouped_stays"] = grouped.astype(float)
        stays["cost_consumption"] = _consumption(cell, len(cells), cost)
        if los is not None:
            stays["time_consumption"] = _consumption(cell, len(cells), los)
    if group is not None:
        stays["grouped_ok"] = grouped.astype(float)
    if "dip_type" in cases.columns:
        kind = cases["dip_type"]
        stays["core"] = (kind == "core").fillna(False).to_numpy(dtype=float)
        stays["comprehensive"] = (kind == "comprehensive").fillna(False).to_numpy(dtype=float)
    if "outlier_class" in cases.columns:
        outlier = cases["outlier_class"]
        for name in ("low", "high", "extreme", "ungrouped", "special_review"):
            stays[f"class_{name}"] = (outlier == name).fillna(False).to_numpy(dtype=float)
    if "leaving_type" in cases.columns:
        died = _number(cases, "leaving_type") == DEATH
        stays["deaths"] = died.astype(float)
        alive = ~died
    else:
        alive = np.ones(len(cases), dtype=bool)
    if {"patient_id", "admit_time", "discharge_time", "hospital_id"} <= set(cases.columns):
        admit, no_admit = _nanoseconds(cases["admit_time"])
        discharge, no_discharge = _nanoseconds(cases["discharge_time"])
        patient = _codes(cases["patient_id"])[0]
        patient[no_admit | no_discharge] = -1
        hospital = _codes(cases["hospital_id"])[0]
        planned = np.zeros(len(cases), dtype=bool)
        if "readmit_plan_31d" in cases.columns:
            planned = cases["readmit_plan_31d"].astype("string").isin(["1", "true", "True", "yes"]).to_numpy()
        related = _related_group(cases, group) if group is not None else np.full(len(cases), -1)
        order = np.lexsort((admit, patient))   # stable: stays admitted together keep their row order
        to_next, to_related = days_to_next(order, patient, hospital, related, admit, discharge, planned)
        stays["alive"] = alive.astype(float)
        for days in READMISSION_DAYS:
            stays[f"readmitted_{days}"] = ((to_next >= 0) & (to_next <= days) & alive).astype(float)
        if group is not None:
            stays["split"] = ((to_related >= 0) & (to_related <= SPLIT_ADMISSION_DAYS)).astype(float)
    for column in ("drug_cost", "consumable_cost", "self_pay_out_scope", "self_pay_in_scope"):
        values = _number(cases, column)
        if values is not None:
            stays[column] = values
    return stays


def _ratio(top: pd.Series, bottom: pd.Series) -> pd.Series:
    return top / bottom.where(bottom > 0)


def _indicators(sums: pd.DataFrame) -> pd.DataFrame:
    """Indicators from the sums of :func:`_per_stay` columns over each group of stays."""
    out = pd.DataFrame(index=sums.index)
    out["cases"] = sums["cases"].astype(np.int64)
    out["cost_per_case"] = _ratio(sums["total_cost"], sums["cases"])
    if "los" in sums:
        out["average_los"] = _ratio(sums["los"], sums["cases"])
    if "cost_consumption" in sums:
        out["cost_consumption_index"] = _ratio(sums["cost_consumption"], sums["grouped_stays"])
    if "time_consumption" in sums:
        out["time_consumption_index"] = _ratio(sums["time_consumption"], sums["grouped_stays"])
    if "grouped_ok" in sums:
        out["grouping_rate"] = _ratio(sums["grouped_ok"], sums["cases"])
    for name, column in (("core_share", "core"), ("comprehensive_share", "comprehensive")):
        if column in sums:
            out[name] = _ratio(sums[column], sums["cases"])
    for name in ("low", "high", "extreme", "ungrouped"):
        if f"class_{name}" in sums:
            out[f"share_{name}"] = _ratio(sums[f"class_{name}"], sums["cases"])
    if "class_special_review" in sums:
        out["special_review_share"] = _ratio(sums["class_special_review"], sums["cases"])
    if "deaths" in sums:
        out["death_rate"] = _ratio(sums["deaths"], sums["cases"])
    for days in READMISSION_DAYS:
        if f"readmitted_{days}" in sums:
            out[f"readmission_{days}d"] = _ratio(sums[f"readmitted_{days}"], sums["alive"])
    if "split" in sums:
        out["split_admission_share"] = _ratio(sums["split"], sums["cases"])
    for name, column in (("drug_share", "drug_cost"), ("consumable_share", "consumable_cost"),
                         ("self_pay_share", "self_pay_out_scope"), ("self_payment_share", "self_pay_in_scope")):
        if column in sums:
            out[name] = _ratio(sums[column], sums["total_cost"])
    return out


def last_year_costs(history: pd.DataFrame | None, year: int | None) -> dict[str, pd.Series]:
    """Cost per case of the settled stays of ``year − 1`` in ``history``, per hospital, level and region
    (the base of ``cost_growth``; taken before a large history is let go)."""
    return last_year_costs_of(last_year_sums(history, year))


def last_year_sums(history: pd.DataFrame | None, year: int | None) -> dict[str, tuple]:
    """What :func:`last_year_costs` divides, per scope: (the key values, the exact fixed-point sums of the
    costs of their stays, their numbers of stays). Exact sums add up over any split of the stays
    (:func:`add_last_year_sums`), so stays settled apart (pooling area by pooling area) give the same costs."""
    if history is None or year is None or "year" not in history.columns or "total_cost" not in history.columns:
        return {}
    past = _settled(history)
    past = past[pd.to_numeric(past["year"], errors="coerce").to_numpy() == year - 1]
    sums = {}
    for scope, key in SCOPES.items():
        if key in past.columns and len(past):
            cost = pd.to_numeric(past["total_cost"], errors="coerce").to_numpy(dtype=np.float64)
            codes, labels = pd.factorize(past[key].astype("string").to_numpy(), use_na_sentinel=True)
            codes = np.where(np.isfinite(cost), codes, -1)
            counted = np.bincount(codes[codes >= 0], minlength=len(labels)).astype(np.int64)
            sums[scope] = (np.asarray(labels, dtype=object), exact_sums(codes, cost, len(labels)), counted)
    return sums


def add_last_year_sums(parts: list[dict]) -> dict[str, tuple]:
    """The :func:`last_year_sums` of all the stays of ``parts`` (each of some of them)."""
    merged = {}
    for scope in SCOPES:
        pieces = [part[scope] for part in parts if scope in part]
        if not pieces:
            continue
        labels = pd.Index(np.concatenate([piece[0] for piece in pieces])).unique()
        words = np.zeros((FIXED_WORDS, len(labels)), dtype=np.int64)
        counted = np.zeros(len(labels), dtype=np.int64)
        for piece_labels, piece_words, piece_counts in pieces:
            at = labels.get_indexer(piece_labels)
            words[:, at] += piece_words
            counted[at] += piece_counts
        merged[scope] = (np.asarray(labels, dtype=object), words, counted)
    return merged


def last_year_costs_of(sums: dict[str, tuple]) -> dict[str, pd.Series]:
    """Cost per case per key value from :func:`last_year_sums` (values without a counted stay left out)."""
    costs = {}
    for scope, (labels, words, counted) in sums.items():
        has = counted > 0
        totals = fixed_values(np.ascontiguousarray(words))
        costs[scope] = pd.Series(totals[has] / counted[has], index=pd.Index(labels[has], dtype=object)).sort_index()
    return costs


def exact_sums(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """The exact fixed-point sums (int64[FIXED_WORDS, n]) of ``values`` per code (−1: left out)."""
    codes = np.asarray(codes, dtype=np.int64)
    usable = codes >= 0
    zeros = np.zeros(len(codes), dtype=np.int64)
    words = year_sums(chunk_bounds(len(codes), FIXED_WORDS * max(n, 1)), np.maximum(codes, 0), zeros, usable,
                      zeros, 0, 1, np.ascontiguousarray(np.where(usable, values, 0.0), dtype=np.float64), n, 1)
    return words.reshape(FIXED_WORDS, n)


def indicator_tables(cases: pd.DataFrame, hospitals: pd.DataFrame, *,
                     last_year: dict[str, pd.Series] | None = None) -> dict[str, pd.DataFrame]:
    """``indicators`` (one row per hospital), ``indicators_by_level`` and ``indicators_by_region`` of the
    settled stays ``cases`` (the settlement's per-stay table) and its ``hospitals`` table;
    ``last_year`` (:func:`last_year_costs`) gives the cost growth."""
    cases = _settled(cases)
    return tables_of_cells(_cell_sums(cases, _per_stay(cases)), hospitals, hospital_regions(cases),
                           last_year=last_year)


def indicator_cells(cases: pd.DataFrame) -> pd.DataFrame:
    """The sums :func:`indicator_tables` adds up per hospital, level and region, per cell (hospital × level ×
    region) of the settled stays of ``cases``, with the row among them of each cell's first stay
    (``first``). The cells of stays split apart, put back in the order of their first stays, give the
    same tables (:func:`tables_of_cells`): a cell is within one hospital, so within one pooling area."""
    cases = _settled(cases)
    cells = _cell_sums(cases, _per_stay(cases))
    keys = [key for key in SCOPES.values() if key in cases.columns]
    cell = _combined(*[_codes(cases[key])[0] + 1 for key in keys])
    _, first = np.unique(pd.factorize(cell)[0], return_index=True)
    return cells.assign(first=first.astype(np.int64))


def hospital_regions(cases: pd.DataFrame) -> pd.Series | None:
    """The region of each hospital's first settled stay (grouped by code, not as text), by hospital id."""
    cases = _settled(cases)
    if "region" not in cases.columns:
        return None
    first_region = cases.groupby("hospital_id", observed=True, sort=False)["region"].first()
    first_region.index = first_region.index.astype(str)
    return first_region.astype("string")


def tables_of_cells(cells: pd.DataFrame, hospitals: pd.DataFrame, regions: pd.Series | None, *,
                    last_year: dict[str, pd.Series] | None = None) -> dict[str, pd.DataFrame]:
    """:func:`indicator_tables` from the cell sums of the stays (:func:`indicator_cells`, in the order of
    their first stays) and each hospital's region (:func:`hospital_regions`)."""
    cells = cells.drop(columns="first", errors="ignore")
    hospital_info = hospitals.drop_duplicates("hospital_id")
    hospital_info = hospital_info.set_index(hospital_info["hospital_id"].astype("string").to_numpy())
    if regions is not None:   # a hospital's region: that of its stays
        hospital_info = hospital_info.assign(region=regions.reindex(hospital_info.index))
    tables = {}
    for scope, key in SCOPES.items():
        if f"key:{key}" not in cells.columns:
            continue
        sums = _sums(cells, key)
        sums.index = pd.Index(sums.index.astype(str), dtype=object)
        table = _indicators(sums)
        last = (last_year or {}).get(scope)
        if last is not None:
            table.insert(2, "cost_growth", table["cost_per_case"] / last.reindex(table.index) - 1.0)
        if HOSPITAL_COLUMN[scope] in hospital_info.columns:   # case-weighted CMI, share of hospitals in surplus
            place = hospital_info[HOSPITAL_COLUMN[scope]].astype("string")
            cases_of = pd.to_numeric(hospital_info["cases"]).groupby(place).sum()
            cmi = pd.to_numeric(hospital_info["cmi"], errors="coerce") * pd.to_numeric(hospital_info["cases"])
            table["cmi"] = (cmi.groupby(place).sum() / cases_of.where(cases_of > 0)).reindex(table.index)
            if scope != "hospital" and "surplus" in hospital_info.columns:
                surplus = pd.to_numeric(hospital_info["surplus"], errors="coerce") > 0
                table["surplus_coverage"] = surplus.groupby(place).mean().reindex(table.index)
        table.index.name = HOSPITAL_COLUMN[scope]
        table = table.reset_index()
        if scope == "level":   # levels are numbers, as in the hospitals table
            table["level"] = pd.to_numeric(table["level"], errors="coerce").astype("Int64")
        if scope == "hospital":
            table.insert(1, "name", table["hospital_id"].map(hospital_info["name"]) if "name" in hospital_info else pd.NA)
            table.insert(2, "level", table["hospital_id"].map(hospital_info["level"]))
            table.insert(3, "region", table["hospital_id"].map(hospital_info["region"])
                         if "region" in hospital_info else pd.NA)
        ordered = [c for c in table.columns if c not in INDICATORS] + [c for c in INDICATORS if c in table.columns]
        tables[TABLE_NAME[scope]] = table[ordered]
    return tables



def assessment_scores(per_hospital: pd.DataFrame, weights) -> pd.Series:
    """Each hospital's assessment score (0–100, to 9 decimals) from the per-hospital ``indicators`` table and the
    indicator weights (see :class:`drgdip.budget.policy.IndicatorAssessment`), by hospital id."""
    earned = pd.Series(0.0, index=per_hospital.index)
    possible = pd.Series(0.0, index=per_hospital.index)
    level = per_hospital["level"]
    for name, weight in weights.items():
        if name not in per_hospital.columns or weight <= 0:
            continue
        values = pd.to_numeric(per_hospital[name], errors="coerce")
        ranks = values.groupby(level).rank(method="min", ascending=INDICATORS[name] == "lower")
        count = values.notna().groupby(level).transform("sum")
        share = ((count - ranks) / (count - 1).where(count > 1)).where(count > 1, 1.0)
        has = values.notna()
        earned += np.where(has, weight * share, 0.0)
        possible += np.where(has, weight, 0.0)
    # rounded so that a score on a band's edge (40 as 39.999999999) falls where it is meant to
    scores = (100.0 * earned / possible.where(possible > 0)).round(9)
    return pd.Series(scores.to_numpy(), index=per_hospital["hospital_id"].astype(str).to_numpy(), name="score")
