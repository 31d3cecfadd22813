"""Hospital coefficients more specific than the level's (domain §4.2): by insurance type, by hospital type
for conservative groups, by group and level, per hospital, with their documented precedence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drgdip.core.errors import UsageError
from drgdip.pointvalue.points import case_points
from drgdip.pointvalue.rules import PointsPolicy, points_policy_from_mapping
from drgdip.pointvalue.weights import WeightTable

REPO = Path(__file__).resolve().parents[1]

WEIGHTS = WeightTable(frame=pd.DataFrame({
    "group": ["K35.8:47.0100", "K35.8", "I10/medical", "E11.9"],
    "base_points": [1000.0, 500.0, 400.0, 300.0], "mean_cost": [10000.0, 5000.0, 4000.0, 3000.0],
    "is_basic": [False, False, False, True],
    "conservative": [False, True, True, True]}), points_scale=1000.0, all_case_mean=10000.0)


def _policy(**coef) -> PointsPolicy:
    return points_policy_from_mapping({"scheme": "dip", "hospital_coef": {"by_level": {3: 1.0, 2: 0.95, 1: 0.9},
                                                                          **coef}})


def _cases(**columns) -> pd.DataFrame:
    base = {"case_id": ["a", "b", "c", "d", "e", "f"],
            "dip_group": ["K35.8:47.0100", "K35.8", "K35.8", "I10/medical", "E11.9", "K35.8"],
            "total_cost": [10000.0, 5000.0, 5000.0, 4000.0, 3000.0, 5000.0],
            "hospital_id": ["H1", "H2", "H3", "H3", "H3", "H9"], "hospital_level": [3, 3, 2, 2, 2, 3],
            "hospital_type": ["general", "tcm", "general", "tcm", "tcm", "tcm"],
            "insurance_type": ["resident", "employee", "resident", "resident", "resident", "resident"]}
    base.update(columns)
    return pd.DataFrame(base)


def test_each_coefficient_source_and_the_precedence():
    policy = _policy(by_insurance={"resident": 0.93}, conservative_by_type={"general": 1.0, "tcm": 0.85},
                     by_group_level={"K35.8": {3: 1.25}}, by_hospital={"H9": 1.4})
    out = case_points(_cases(), WEIGHTS, policy, point_value=10.0)
    coef = dict(zip(out["case_id"], out["applied_hospital_coef"]))
    assert coef["a"] == pytest.approx(0.93)     # a surgical group: by insurance type over the level
    assert coef["b"] == pytest.approx(1.25)     # the group's own level coefficient over the hospital type
    assert coef["c"] == pytest.approx(1.0)      # conservative, general hospital (level 2 has no group coef)
    assert coef["d"] == pytest.approx(0.85)     # conservative at a TCM hospital: by type, not by level
    assert coef["e"] == pytest.approx(1.0)      # a basic group: the basic-group rule before everything
    assert coef["f"] == pytest.approx(1.4)      # a hospital's own coefficient on top
    assert out.loc[out["case_id"] == "d", "final_points"].iloc[0] == pytest.approx(400.0 * 0.85)


def test_drg_medical_groups_are_conservative_by_their_code():
    weights = WeightTable(frame=pd.DataFrame({"group": ["GB11", "GU15"], "base_points": [150.0, 80.0],
                                              "mean_cost": [15000.0, 8000.0]}), points_scale=100.0,
                          all_case_mean=10000.0)
    policy = points_policy_from_mapping({"scheme": "drg_points", "hospital_coef": {
        "by_level": {3: 1.0}, "conservative_by_type": {"tcm": 0.8}}})
    frame = pd.DataFrame({"case_id": ["s", "m"], "drg": ["GB11", "GU15"], "total_cost": [15000.0, 8000.0],
                          "hospital_id": "H1", "hospital_level": 3, "hospital_type": "tcm"})
    out = case_points(frame, weights, policy)
    assert out["applied_hospital_coef"].tolist() == pytest.approx([1.0, 0.8])


@pytest.mark.parametrize("coef, drop, field", [({"by_insurance": {"resident": 0.9}}, "insurance_type", "insurance_type"),
                                               ({"conservative_by_type": {"tcm": 0.9}}, "hospital_type", "hospital_type")])
def test_a_coefficient_without_its_column_is_a_clear_error(coef, drop, field):
    with pytest.raises(UsageError) as error:
        case_points(_cases().drop(columns=drop), WEIGHTS, _policy(**coef), point_value=10.0)
    assert error.value.field == field


def test_a_hospital_type_without_a_coefficient_names_the_row():
    with pytest.raises(UsageError, match="'specialist'") as error:
        case_points(_cases(hospital_type=["general", "tcm", "general", "specialist", "tcm", "tcm"]), WEIGHTS,
                    _policy(conservative_by_type={"general": 1.0, "tcm": 0.85}), point_value=10.0)
    assert error.value.row == 4


def test_settlement_pays_conservative_groups_by_the_hospitals_type(demo_province_dir):
    from drgdip.budget import load_policy, settle_province
    from drgdip.simulate.scenarios import apply_overrides

    base = load_policy(REPO / "data" / "policies" / "jining_dip_day_ward_2025.yaml")
    hospitals = pd.read_parquet(demo_province_dir / "hospitals.parquet")
    by_type = {str(kind): (0.7 if kind == "tcm" else 1.0) for kind in hospitals["hospital_type"].unique()}
    policy = apply_overrides(base, {"points.hospital_coef.conservative_by_type": by_type})
    dip = REPO / "data" / "demo" / "dip"
    settled = settle_province(demo_province_dir, policy, dip=dip)
    plain = settle_province(demo_province_dir, base, dip=dip)
    tcm = set(hospitals.loc[hospitals["hospital_type"] == "tcm", "hospital_id"].astype(str))
    cases = settled.cases
    at_tcm = cases["hospital_id"].astype(str).isin(tcm).to_numpy()
    normal = (cases["outlier_class"].astype(str) == "normal").to_numpy()
    from drgdip.grouper.dip_directory import load_dip_directory

    conservative = set(WeightTable.from_dip_directory(load_dip_directory(dip)).frame.query("conservative")["group"])
    in_conservative = cases["dip_group"].astype(str).isin(conservative).to_numpy() & \
        ~cases["dip_basic"].astype(bool).to_numpy()
    hit = at_tcm & normal & in_conservative
    assert hit.any()
    np.testing.assert_allclose(cases.loc[hit, "applied_hospital_coef"].to_numpy(dtype=float), 0.7)
    points = settled.hospitals.set_index("hospital_id")["points"]
    before = plain.hospitals.set_index("hospital_id")["points"]
    assert (points[list(tcm)] < before[list(tcm)]).all()


def _history(group, level_costs, n=40, year=2024):
    rows = [(group, level, cost, year) for level, cost in level_costs.items() for _ in range(n)]
    return pd.DataFrame(rows, columns=["dip_group", "hospital_level", "total_cost", "year"])


def test_group_level_coefficients_from_history_worked_example():
    from drgdip.pointvalue import group_level_coefs

    # §4.2: the group costs 12,000 at tier-3 hospitals, 10,000 overall (8,000 at tier 2) -> 1.20 and 0.80
    history = pd.concat([_history("K35.8:47.0100", {3: 12000.0, 2: 8000.0}),
                         _history("E11.9", {3: 3050.0, 2: 2950.0}),                 # gap 0.033 < 0.10
                         _history("I10/medical", {3: 3000.0, 2: 5000.0}),           # inversion
                         _history("K35.8", {3: 6000.0, 2: 4000.0}, n=10)],          # too few cases per level
                        ignore_index=True)
    coefs = group_level_coefs(history, year_weights=(1,))
    assert coefs == {"K35.8:47.0100": pytest.approx({3: 1.2, 2: 0.8})}
    assert group_level_coefs(history, year_weights=(1,), min_cases=10)["K35.8"] == pytest.approx({3: 1.2, 2: 0.8})
    assert "E11.9" in group_level_coefs(history, year_weights=(1,), min_gap=0.03)
    # they go straight into the policy and price the group's stays at each level
    policy = _policy(by_group_level=coefs)
    cases = _cases(dip_group=["K35.8:47.0100"] * 6, total_cost=[10000.0] * 6)
    out = case_points(cases, WEIGHTS, policy, point_value=10.0)
    assert out["applied_hospital_coef"].tolist()[:3] == pytest.approx([1.2, 1.2, 0.8])


def test_group_level_coefficients_weight_the_years():
    from drgdip.pointvalue import group_level_coefs

    history = pd.concat([_history("G", {3: 12000.0, 2: 8000.0}, year=2023),
                         _history("G", {3: 15000.0, 2: 5000.0}, year=2024)], ignore_index=True)
    # 3:7 weighted: level 3 = 14,100, level 2 = 5,900, group = 10,000
    assert group_level_coefs(history, year_weights=(3, 7)) == {"G": pytest.approx({3: 1.41, 2: 0.59})}
    # only the latest year when one weight is given
    assert group_level_coefs(history, year_weights=(1,)) == {"G": pytest.approx({3: 1.5, 2: 0.5})}


@pytest.mark.parametrize("levels", [[3, 2, 3, 1, 2, 3], [3, 2, 3, 1, 2, 5000]])
def test_level_coefficients_looked_up_per_stay_over_any_range_of_levels(levels):
    policy = points_policy_from_mapping({"scheme": "dip", "hospital_coef": {"by_level": {3: 1.0, 2: 0.95, 1: 0.9},
                                                                            "default": 0.7}})
    cases = _cases(dip_group=["K35.8:47.0100"] * 6, total_cost=[10000.0] * 6, hospital_level=levels,
                   hospital_id=["H1"] * 6)
    expected = [{3: 1.0, 2: 0.95, 1: 0.9}.get(lv, 0.7) for lv in levels]
    out = case_points(cases, WEIGHTS, policy, point_value=10.0)
    assert out["applied_hospital_coef"].tolist() == pytest.approx(expected)
