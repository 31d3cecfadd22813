"""Every key of every shipped policy does something: changing it changes the settlement of a small
synthetic province, or the key is listed here with the reason it cannot change that province.

A setting that is validated but read by nothing (``bedday_phases[*].fund_share`` once was) shows up as
a key whose change leaves every output table as it was.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

from drgdip.budget import policy_from_mapping, settle_province
from drgdip.grouper import load_scheme
from drgdip.grouper.dip_directory import load_dip_directory
from drgdip.pointvalue.rules import BedDayPhase
from drgdip.synth import generate_province

REPO = Path(__file__).resolve().parents[1]
POLICY_FILES = sorted((REPO / "data" / "policies").glob("*.yaml"))
# records written as lists of their field values
LIST_RECORDS = {"bedday_phases": [name for name in BedDayPhase.__dataclass_fields__]}

# the value a key is changed to (with the keys that must change with it), where the generic change
# (true <-> false, a whole number up to 3 + 1, any other number × 0.9) does not fit or would be invalid; a pair
# (a, b) swaps the two values
CHANGES = {
    "year": {"year": 2024},
    "pooling": {"pooling": ("region", "province")},
    "points.scheme": {"points.scheme": ("dip", "drg_points")},
    "points.calibration.year_weights": {"points.calibration.year_weights": [1, 1, 1]},
    "points.hospital_coef.basic_group_coef_mode": {"points.hospital_coef.basic_group_coef_mode": "per_group"},
    "points.outliers.outlier_reference": {"points.outliers.outlier_reference": "group_mean"},
    "points.outliers.high_formula": {"points.outliers.high_formula": "review_only"},
    "points.remote.remote_mode": {"points.remote.remote_mode": "separate_standard"},
    "points.remote.province_prefix_len": {"points.remote.province_prefix_len": 4},
    "points.bed_day.groups": {"points.bed_day.groups": ["F20.0"]},
    "points.bed_day.acute_phase": {"points.bed_day.acute_phase": "bed_day"},
    "points.bed_day.bedday_phases[0].to_day": {"points.bed_day.bedday_phases[0].to_day": 20,
                                               "points.bed_day.bedday_phases[1].from_day": 21},
    "points.bed_day.bedday_phases[1].from_day": {"points.bed_day.bedday_phases[0].to_day": 20,
                                                 "points.bed_day.bedday_phases[1].from_day": 21},
    "points.bed_day.bedday_phases[1].to_day": {"points.bed_day.bedday_phases[1].to_day": 50,
                                               "points.bed_day.bedday_phases[2].from_day": 51},
    "points.bed_day.bedday_phases[2].from_day": {"points.bed_day.bedday_phases[1].to_day": 50,
                                                 "points.bed_day.bedday_phases[2].from_day": 51},
    "points.bed_day.bedday_phases[2].to_day": {"points.bed_day.bedday_phases[2].to_day": 80},
    "budget.method": {"budget.method": "actual_fund"},
    "budget.split": {"budget.split": "last_year_fund"},
    "point_value.basis": {"point_value.basis": "fund_only"},
    "point_value.fund_ratio": {"point_value.fund_ratio": "pool"},
    "remote_pool.pool": {"remote_pool.pool": "separate"},
    "remote_pool.budget_method": {"remote_pool.budget_method": "included"},
    "settlement.surplus.mode": {"settlement.surplus.mode": "whole"},
    "settlement.overspend.mode": {"settlement.overspend.mode": "whole"},
    "day_care.no_procedure": {"day_care.no_procedure": "keep"},
    "day_care.preop_merge.care_types": {"day_care.preop_merge.care_types": ["inpatient"]},
    "day_care.day_surgery.payment": {"day_care.day_surgery.payment": "value"},
    "day_care.day_surgery.min_hospital_level": {"day_care.day_surgery.min_hospital_level": 3},
    "day_care.day_chemo.payment": {"day_care.day_chemo.payment": "points"},
    "day_care.day_chemo.min_hospital_level": {"day_care.day_chemo.min_hospital_level": 2},
    "day_care.tcm_day.payment": {"day_care.tcm_day.payment": "points"},
    "day_care.day_ward.payment": {"day_care.day_ward.payment": "points"},
    "day_care.day_ward.period_max_days": {"day_care.day_ward.period_max_days": 14},
    "day_care.day_ward.radiotherapy_procs": {"day_care.day_ward.radiotherapy_procs": []},
}
# a quality deposit, when written, is 1 − monthly_pay_ratio: the two change together
PAIRED = {"settlement.quality_deposit": "settlement.monthly_pay_ratio"}

# (policy, key): why changing the key cannot change this province's settlement
NOT_FELT = {
    **{(path.stem, key): "descriptive: names the rule set, read by nothing"
       for path in POLICY_FILES for key in ("name", "region") if key in yaml.safe_load(path.read_text("utf-8"))},
    ("hainan_province_2025", "day_care.in_pool"):
        "every day-care category is paid by points here; in_pool only places the other payment methods",
    ("hainan_province_2025", "points.bed_day.bedday_phases[0].from_day"):
        "fixed: the first phase starts on day 1",
    ("hainan_province_2025", "points.bed_day.bedday_phases[0].daily_std"):
        "the acute phase is paid per disease (acute_phase: points); its daily standard pays only a bed-day "
        "stay without a DIP group (payment_method bed_day), which the synthetic province does not have",
    ("hainan_province_2025", "points.bed_day.bedday_phases[0].fund_share"):
        "as bedday_phases[0].daily_std: the acute phase is paid per disease",
    **{("jining_dip_day_ward_2025", f"points.outliers.{bound}_inclusive"):
       "no stay's cost ratio lies exactly on a band bound" for bound in ("low", "high", "extreme")},
    ("jining_dip_day_ward_2025", "day_care.day_ward.period_max_days"):
        "the synthetic day-ward stays are whole treatment periods (one stay each), none to group into periods",
    **{("jining_dip_day_ward_2025", f"day_care.day_ward.fees.2.{fee}"):
       "no day-ward period of the settlement year is at a tier-2 hospital (the fees are paid fee-for-service, "
       "so the history's fees move no money)" for fee in ("bed", "nursing", "consult")},
    **{(stem, "day_care.merge_converted"):
       "no day stay that overran is followed within 24 h by a ward stay of the same patient and hospital"
       for stem in ("panzhihua_drg_day_care_2025", "yanbian_day_surgery_2025")},
    **{(stem, "day_care.preop_merge.require_related"):
       "no bill without a related stay falls in the 14 days before a day stay of its patient and hospital"
       for stem in ("panzhihua_drg_day_care_2025", "yanbian_day_surgery_2025")},
    ("panzhihua_drg_day_care_2025", "day_care.day_chemo.min_hospital_level"):
        "every day-chemotherapy stay of the province is at a tier-3 hospital (the level cannot go above 3)",
    ("yanbian_day_surgery_2025", "day_care.no_procedure"):
        "every day-surgery stay of the province has a procedure",
    ("panzhihua_drg_day_care_2025", "settlement.surplus.bands[1].upto_pct"):
        "fixed: the last band is open (null)",
    ("panzhihua_drg_day_care_2025", "settlement.overspend.bands[1].upto_pct"):
        "fixed: the last band is open (null)",
    ("panzhihua_drg_day_care_2025", "settlement.overspend.bands[1].fund_share"):
        "no hospital of the province overspends by more than 10 % of its fund due (the second band)",
    ("panzhihua_drg_day_care_2025", "settlement.surplus.bands[1].keep_share"):
        "no hospital of the province has a surplus above 10 % of its fund due (the second band)",
}


def _leaves(data, path=(), name=""):
    """(key path, dotted name, value) of every leaf; mappings and lists of records are walked into."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, path + (key,), f"{name}.{key}" if name else str(key))
    elif isinstance(data, list) and data and all(isinstance(item, (dict, list)) for item in data):
        fields = LIST_RECORDS.get(path[-1])
        for i, item in enumerate(data):
            yield from _leaves(dict(zip(fields, item)) if isinstance(item, list) else item, path + (i,),
                               f"{name}[{i}]")
    else:
        yield path, name, data


def _keys(data) -> dict:
    return {name: path for path, name, _ in _leaves(data)}


def _value(data, path):
    return {leaf: value for leaf, _, value in _leaves(data)}[path]


def _set(data, path, value) -> None:
    """Set the leaf at ``path`` (a list record's field by its name)."""
    node = data
    for key in path[:-1]:
        node = node[key]
    last = path[-1]
    if isinstance(node, list) and isinstance(last, str):
        node[LIST_RECORDS["bedday_phases"].index(last)] = value
    else:
        node[last] = value


def _nudged(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1 if value <= 3 else round(value * 0.9)
    if isinstance(value, float):
        return value * 0.9
    raise AssertionError(f"no generic change for {value!r}: add the key to CHANGES")


def changed(data: dict, key: str) -> dict:
    """The policy mapping with ``key`` (and the keys tied to it) changed."""
    keys = _keys(data)
    out = copy.deepcopy(data)
    if key in PAIRED:
        key = PAIRED[key]
    if key in CHANGES:
        for name, value in CHANGES[key].items():
            if isinstance(value, tuple):
                value = value[1] if _value(data, keys[name]) == value[0] else value[0]
            _set(out, keys[name], value)
        return out
    _set(out, keys[key], _nudged(_value(data, keys[key])))
    if key == "settlement.monthly_pay_ratio" and "quality_deposit" in data.get("settlement", {}):
        _set(out, keys["settlement.quality_deposit"], 1 - out["settlement"]["monthly_pay_ratio"])
    return out


@pytest.fixture(scope="module")
def province():
    """3,000 stays over 2023-2025; psychiatric stays (F20, F31, F32) lengthened to 20-120 days so that
    every bed-day phase of the Hainan policy is reached; every other day stay has a documented exception
    (``day_exception``), so that the 24-48 h window of policies that ask for one is reached."""
    province = generate_province(REPO / "data" / "demo" / "scheme", cases=3000, years=(2023, 2024, 2025),
                                 hospitals=12, regions=3, seed=7)
    los = province.cases["los"].to_numpy().copy()
    psychiatric = np.flatnonzero(province.cases["dx"].astype(str).str.match(r"F(20|31|32)").to_numpy())
    los[psychiatric] = np.resize([20, 45, 75, 120], len(psychiatric))
    exception = np.arange(len(los)) % 2 == 0
    return dataclasses.replace(province, cases=province.cases.assign(los=los, day_exception=exception))


@pytest.fixture(scope="module")
def grouping():
    return {"scheme": load_scheme(REPO / "data" / "demo" / "scheme"),
            "dip": load_dip_directory(REPO / "data" / "demo" / "dip")}


def _tables(province, data, grouping) -> dict:
    settlement = settle_province(province, policy_from_mapping(data), **grouping)
    return {name: table.reset_index(drop=True) for name, table in settlement.tables().items()}


def _same(one: dict, other: dict) -> bool:
    return one.keys() == other.keys() and all(
        one[name].shape == other[name].shape and list(one[name].columns) == list(other[name].columns)
        and one[name].equals(other[name]) for name in one)


@pytest.mark.parametrize("policy_file", POLICY_FILES, ids=lambda p: p.stem)
def test_every_key_of_the_shipped_policy_changes_the_settlement(policy_file, province, grouping):
    data = yaml.safe_load(policy_file.read_text(encoding="utf-8"))
    base = _tables(province, data, grouping)
    listed = {key for (stem, key) in NOT_FELT if stem == policy_file.stem}
    unfelt = []
    for key in _keys(data):
        if key in listed:
            continue
        if _same(base, _tables(province, changed(data, key), grouping)):
            unfelt.append(key)
    assert not unfelt, f"changing these keys changes nothing (list them in NOT_FELT with the reason): {unfelt}"


@pytest.mark.parametrize("policy_file", POLICY_FILES, ids=lambda p: p.stem)
def test_keys_listed_as_not_felt_exist(policy_file):
    keys = _keys(yaml.safe_load(policy_file.read_text(encoding="utf-8")))
    stale = [key for (stem, key) in NOT_FELT if stem == policy_file.stem and key not in keys]
    assert not stale, f"NOT_FELT names keys the policy does not have: {stale}"
