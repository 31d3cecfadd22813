"""Regions of one province and its hospitals (医疗机构): ids, names, levels, types, beds.

Regions are prefecture-level cities named by 6-digit administrative codes sharing the province
prefix; the first region is the capital and the most populous (populations follow a Zipf law).
Hospitals are spread over the regions (each region one at least while hospitals last), level-3
hospitals go preferentially to populous regions, and every province has at least one level-3
hospital. Stays are later allocated to hospitals in proportion to beds.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from drgdip.synth.params import SynthParams

# Shandong (37): the default province, with its 16 prefecture-level cities in code order
SHANDONG_CITIES = {
    "370100": "济南", "370200": "青岛", "370300": "淄博", "370400": "枣庄", "370500": "东营",
    "370600": "烟台", "370700": "潍坊", "370800": "济宁", "370900": "泰安", "371000": "威海",
    "371100": "日照", "371300": "临沂", "371400": "德州", "371500": "聊城", "371600": "滨州",
    "371700": "菏泽",
}

GENERAL_HOSPITAL, TCM_HOSPITAL, PSYCHIATRIC_HOSPITAL = 0, 1, 2
HOSPITAL_TYPES = ("general", "tcm", "psychiatric")


def region_codes(regions: int | Sequence[str]) -> list[str]:
    """Region codes: ``regions`` given as a count (Shandong cities, then 37xx00 codes) or a list."""
    if isinstance(regions, (int, np.integer)) and not isinstance(regions, bool):
        n = int(regions)
        if not 1 <= n <= 99:
            raise ValueError(f"regions must be between 1 and 99, got {n}")
        codes = list(SHANDONG_CITIES)[:n]
        k = 1
        while len(codes) < n:
            code = f"37{k:02d}00"
            if code not in codes:
                codes.append(code)
            k += 1
        return codes
    codes = [str(c) for c in regions]
    if not codes:
        raise ValueError("regions must not be empty")
    bad = [c for c in codes if len(c) != 6 or not c.isdigit()]
    if bad:
        raise ValueError(f"region codes must be 6-digit administrative codes, got {bad[0]!r}")
    if len(set(codes)) != len(codes):
        raise ValueError("region codes must be unique")
    if len({c[:2] for c in codes}) != 1:
        raise ValueError("all regions must belong to one province (same first two digits)")
    return codes


def region_weights(n_regions: int, exponent: float) -> np.ndarray:
    """Population share of each region (first = capital, largest)."""
    w = 1.0 / np.arange(1, n_regions + 1) ** exponent
    return w / w.sum()


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    raw = total * shares
    counts = np.floor(raw).astype(np.int64)
    rest = total - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


def make_hospitals(n_hospitals: int, regions: list[str], params: SynthParams,
                   rng: np.random.Generator) -> pd.DataFrame:
    """The hospitals table: hospital_id, name, level, region, beds, hospital_type."""
    if n_hospitals < 1:
        raise ValueError(f"hospitals must be at least 1, got {n_hospitals}")
    n_regions = len(regions)
    weights = region_weights(n_regions, params.region_size_exponent)
    if n_hospitals >= n_regions:
        per_region = 1 + _largest_remainder(n_hospitals - n_regions, weights)
    else:
        per_region = np.zeros(n_regions, dtype=np.int64)
        per_region[:n_hospitals] = 1
    region_idx = np.repeat(np.arange(n_regions), per_region)

    _, s2, s3 = params.hospital_level_shares
    n3 = max(1, int(round(n_hospitals * s3)))
    n2 = min(n_hospitals - n3, int(round(n_hospitals * s2)))
    score = weights[region_idx] * rng.uniform(0.5, 1.5, n_hospitals)
    rank = np.argsort(-score, kind="stable")
    level = np.ones(n_hospitals, dtype=np.int8)
    level[rank[:n3]] = 3
    level[rank[n3:n3 + n2]] = 2

    hospital_type = np.full(n_hospitals, GENERAL_HOSPITAL, dtype=np.int8)
    upper = np.flatnonzero(level >= 2)
    # the only level-3 hospital of a small province stays a general hospital
    candidates = upper[~np.isin(upper, rank[:1])]
    candidates = candidates[rng.permutation(len(candidates))]
    n_psych = min(len(candidates), int(round(n_hospitals * params.psychiatric_hospital_share)))
    n_tcm = min(len(candidates) - n_psych, int(round(n_hospitals * params.tcm_hospital_share)))
    hospital_type[candidates[:n_psych]] = PSYCHIATRIC_HOSPITAL
    hospital_type[candidates[n_psych:n_psych + n_tcm]] = TCM_HOSPITAL

    beds = np.empty(n_hospitals, dtype=np.int32)
    for lv in (1, 2, 3):
        rows = np.flatnonzero(level == lv)
        lo, hi = params.level_beds[lv - 1]
        beds[rows] = rng.integers(lo, hi + 1, len(rows))
    beds[hospital_type == PSYCHIATRIC_HOSPITAL] = np.maximum(
        beds[hospital_type == PSYCHIATRIC_HOSPITAL] // 2, 20)

    # order: region, then level (3 first), then beds; ids and names follow that order
    order = np.lexsort((-beds, -level, region_idx))
    region_idx, level, hospital_type, beds = (region_idx[order], level[order],
                                              hospital_type[order], beds[order])
    codes = np.array(regions, dtype=object)[region_idx]
    serial = np.arange(1, n_hospitals + 1)
    ids = [f"H{code}{k:05d}" for code, k in zip(codes, serial)]
    names = _names(codes, level, hospital_type)
    return pd.DataFrame({
        "hospital_id": pd.array(ids, dtype="str"),
        "name": pd.array(names, dtype="str"),
        "level": level.astype(np.int8),
        "region": pd.array(codes.tolist(), dtype="str"),
        "beds": beds.astype(np.int32),
        "hospital_type": pd.array(np.array(HOSPITAL_TYPES, dtype=object)[hospital_type].tolist(),
                                  dtype="str"),
    })


def _names(codes: np.ndarray, level: np.ndarray, hospital_type: np.ndarray) -> list[str]:
    """Readable Chinese names: <city>市第<k>人民医院, <city>市中医院, <city>市精神卫生中心, ..."""
    names = []
    counters: dict[tuple[str, int], int] = {}
    for code, lv, typ in zip(codes, level, hospital_type):
        city = SHANDONG_CITIES.get(code, code)
        key = (code, int(typ) if typ != GENERAL_HOSPITAL else 10 + (lv == 1))
        counters[key] = counters.get(key, 0) + 1
        k = counters[key]
        if typ == TCM_HOSPITAL:
            base = f"{city}市中医院" if k == 1 else f"{city}市第{k}中医院"
        elif typ == PSYCHIATRIC_HOSPITAL:
            base = f"{city}市精神卫生中心" if k == 1 else f"{city}市第{k}精神卫生中心"
        elif lv == 1:
            base = f"{city}市第{k}社区卫生服务中心"
        else:
            base = f"{city}市第{k}人民医院"
        names.append(base)
    return names
