"""Performance assessment indicators (drgdip.budget.indicators): each formula on hand-made stays, the
consumption indices are 1 over a whole area, rows in any order give the same tables, and drgdip settle
writes them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drgdip.budget.indicators import INDICATORS, indicator_tables, last_year_costs
from drgdip.report.labels import INDICATOR_TEXT


def _stays(rows):
    columns = ["case_id", "patient_id", "hospital_id", "hospital_level", "region", "area", "drg", "adrg",
               "status", "outlier_class", "total_cost", "los", "leaving_type", "admit_time", "discharge_time",
               "drug_cost", "consumable_cost", "self_pay_in_scope", "self_pay_out_scope", "settle_status"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["admit_time"] = pd.to_datetime(frame["admit_time"])
    frame["discharge_time"] = pd.to_datetime(frame["discharge_time"])
    return frame


HOSPITALS = pd.DataFrame({"hospital_id": ["A", "B"], "name": ["甲", "乙"], "level": [3, 2], "cases": [4, 2],
                          "cmi": [1.2, 0.9], "surplus": [10.0, -5.0]})


@pytest.fixture
def stays():
    return _stays([
        # A: patient p1 comes back after 10 days (same ADRG: a suspected split), then after 31 days
        ("a1", "p1", "A", 3, "R1", "R1", "GB11", "GB1", "ok", "normal", 100.0, 4, 1, "2025-01-01", "2025-01-10",
         30.0, 10.0, 20.0, 5.0, "ok"),
        ("a2", "p1", "A", 3, "R1", "R1", "GB13", "GB1", "ok", "high", 100.0, 6, 1, "2025-01-20", "2025-01-25",
         20.0, 10.0, 20.0, 5.0, "ok"),
        ("a3", "p1", "A", 3, "R1", "R1", "FE19", "FE1", "ok", "normal", 300.0, 10, 5, "2025-02-25", "2025-03-06",
         60.0, 30.0, 60.0, 15.0, "ok"),
        ("a4", "p2", "A", 3, "R1", "R1", "", "", "no_group", "ungrouped", 500.0, 2, 1, "2025-03-01", "2025-03-02",
         0.0, 0.0, 0.0, 0.0, "ok"),
        # B: p1 again, 5 days after a3's discharge but at another hospital: no readmission of A
        ("b1", "p1", "B", 2, "R1", "R1", "GB11", "GB1", "ok", "low", 400.0, 8, 1, "2025-03-11", "2025-03-18",
         40.0, 40.0, 40.0, 40.0, "ok"),
        ("b2", "p3", "B", 2, "R1", "R1", "FE19", "FE1", "ok", "normal", 300.0, 10, 1, "2025-04-01", "2025-04-10",
         30.0, 30.0, 30.0, 30.0, "ok"),
        # not settled: counted nowhere
        ("b3", "p4", "B", 2, "R1", "R1", "FE19", "FE1", "ok", "normal", 9e9, 99, 5, "2025-05-01", "2025-05-02",
         0.0, 0.0, 0.0, 0.0, "invalid:duplicate_case_id"),
    ])


def test_each_formula_on_hand_made_stays(stays):
    tables = indicator_tables(stays, HOSPITALS)
    a, b = (tables["indicators"].set_index("hospital_id").loc[h] for h in ("A", "B"))
    assert a["cases"] == 4 and b["cases"] == 2
    assert a["cost_per_case"] == pytest.approx(1000 / 4) and a["average_los"] == pytest.approx(22 / 4)
    # group means in R1: GB11 (100 + 400) / 2 = 250, GB13 100, FE19 (300 + 300) / 2 = 300; a4 has no group
    assert a["cost_consumption_index"] == pytest.approx((100 / 250 + 100 / 100 + 300 / 300) / 3)
    assert b["cost_consumption_index"] == pytest.approx((400 / 250 + 300 / 300) / 2)
    assert a["time_consumption_index"] == pytest.approx((4 / 6 + 6 / 6 + 10 / 10) / 3)
    assert a["grouping_rate"] == pytest.approx(3 / 4)
    assert a["share_high"] == pytest.approx(1 / 4) and a["share_ungrouped"] == pytest.approx(1 / 4)
    assert b["share_low"] == pytest.approx(1 / 2)
    assert a["death_rate"] == pytest.approx(1 / 4) and b["death_rate"] == 0
    # a1 is followed by a2 after 10 days; a2 by a3 after 31 days; a3 ended in death
    assert a["readmission_14d"] == pytest.approx(1 / 3) and a["readmission_30d"] == pytest.approx(1 / 3)
    assert a["split_admission_share"] == pytest.approx(1 / 4)   # a1 -> a2, same ADRG GB1
    assert b["readmission_30d"] == 0
    assert a["drug_share"] == pytest.approx(110 / 1000) and a["consumable_share"] == pytest.approx(50 / 1000)
    assert a["self_payment_share"] == pytest.approx(100 / 1000) and a["self_pay_share"] == pytest.approx(25 / 1000)
    assert a["cmi"] == pytest.approx(1.2) and a["name"] == "甲" and a["region"] == "R1"
    level = tables["indicators_by_level"].set_index("level")
    assert level.loc[2, "surplus_coverage"] == 0 and level.loc[3, "surplus_coverage"] == 1
    region = tables["indicators_by_region"].set_index("region").loc["R1"]
    assert region["cost_consumption_index"] == pytest.approx(1.0)
    assert region["cmi"] == pytest.approx((1.2 * 4 + 0.9 * 2) / 6)
    assert "cost_growth" not in tables["indicators"].columns   # no history given


def test_a_planned_readmission_does_not_count(stays):
    stays["readmit_plan_31d"] = ["1", "0", "0", "0", "0", "0", "0"]
    shifted = stays.copy()
    shifted["readmit_plan_31d"] = ["0", "1", "0", "0", "0", "0", "0"]   # a2 was planned
    assert indicator_tables(stays, HOSPITALS)["indicators"].set_index("hospital_id").loc["A", "readmission_14d"] \
        == pytest.approx(1 / 3)
    assert indicator_tables(shifted, HOSPITALS)["indicators"].set_index("hospital_id").loc["A", "readmission_14d"] == 0


def test_cost_growth_against_last_years_stays(stays):
    history = pd.DataFrame({"hospital_id": ["A", "A", "B", "A"], "hospital_level": [3, 3, 2, 3],
                            "region": ["R1"] * 4, "year": [2024, 2024, 2024, 2023],
                            "total_cost": [200.0, 300.0, 350.0, 1e6], "settle_status": ["ok"] * 4})
    tables = indicator_tables(stays, HOSPITALS, last_year=last_year_costs(history, 2025))
    growth = tables["indicators"].set_index("hospital_id")["cost_growth"]
    assert growth["A"] == pytest.approx(250 / 250 - 1) and growth["B"] == pytest.approx(350 / 350 - 1)
    assert tables["indicators_by_region"]["cost_growth"].iloc[0] == pytest.approx((1000 + 700) / 6 / (850 / 3) - 1)


def test_without_patient_ids_the_readmission_indicators_are_left_out(stays):
    columns = indicator_tables(stays.drop(columns="patient_id"), HOSPITALS)["indicators"].columns
    assert "readmission_30d" not in columns and "split_admission_share" not in columns
    assert "death_rate" in columns


def test_rows_in_any_order_give_the_same_tables(stays):
    expected = indicator_tables(stays, HOSPITALS)
    for seed in range(5):
        shuffled = stays.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        for name, table in indicator_tables(shuffled, HOSPITALS).items():
            pd.testing.assert_frame_equal(table, expected[name], check_exact=False, rtol=1e-12, obj=name)


def test_every_indicator_has_labels_and_the_same_direction_in_the_report():
    assert set(INDICATOR_TEXT) == set(INDICATORS)
    assert all(INDICATOR_TEXT[name][2] == better for name, better in INDICATORS.items())


def test_drgdip_settle_writes_the_indicator_tables(report_outputs):
    settled, _ = report_outputs
    hospitals = pd.read_parquet(settled / "hospitals.parquet")
    per_hospital = pd.read_parquet(settled / "indicators.parquet")
    assert sorted(per_hospital["hospital_id"]) == sorted(hospitals["hospital_id"])
    assert per_hospital["cases"].sum() == hospitals["cases"].sum()
    for column in ("cost_growth", "readmission_30d", "split_admission_share", "drug_share", "cmi"):
        assert per_hospital[column].notna().all(), column
    by_region = pd.read_parquet(settled / "indicators_by_region.parquet")
    summary = pd.read_parquet(settled / "summary.parquet")
    if set(by_region["region"]) == set(summary["area"]):   # pooled per region: the index is 1 in each
        np.testing.assert_allclose(by_region["cost_consumption_index"], 1.0, rtol=1e-12)
        np.testing.assert_allclose(by_region["time_consumption_index"], 1.0, rtol=1e-12)
    assert pd.read_parquet(settled / "indicators_by_level.parquet")["surplus_coverage"].between(0, 1).all()


# ---- assessment coefficients from the indicators ----

ASSESSMENT = {
    "settlement.assessment_indicators.weights": {"cost_consumption_index": 30, "time_consumption_index": 20,
                                                 "readmission_30d": 20, "drug_share": 15, "grouping_rate": 15},
    "settlement.assessment_indicators.bands": [{"min_score": 70, "coef": 1.0}, {"min_score": 40, "coef": 0.97},
                                               {"min_score": 0, "coef": 0.93}],
}


def test_scores_rank_hospitals_within_their_level():
    from drgdip.budget.indicators import assessment_scores

    table = pd.DataFrame({"hospital_id": ["a", "b", "c", "d"], "level": [3, 3, 3, 2],
                          "cost_consumption_index": [0.9, 1.0, 1.1, 2.0], "cmi": [1.0, 1.0, 0.5, np.nan]})
    scores = assessment_scores(table, {"cost_consumption_index": 3, "cmi": 1})
    # a: best on cost (3) and tied best on CMI (1) -> 100; b: 3 x 1/2 + 1 = 2.5; c: 0 + 0; d alone, no CMI
    assert scores.to_dict() == pytest.approx({"a": 100.0, "b": 62.5, "c": 0.0, "d": 100.0})


@pytest.fixture(scope="module")
def assessed(demo_province_dir):
    from drgdip.budget import load_policy, settle_province
    from drgdip.simulate.scenarios import apply_overrides

    base = load_policy(POLICY)
    policy = apply_overrides(base, ASSESSMENT)
    return base, policy, settle_province(demo_province_dir, policy)


POLICY = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "policies" / \
    "panzhihua_drg_day_care_2025.yaml"


def test_each_hospital_gets_the_coefficient_of_its_score_band(assessed):
    _, _, settlement = assessed
    per_hospital = settlement.indicators["indicators"].set_index("hospital_id")
    coef = settlement.hospitals.set_index("hospital_id")["assessment_coef"]
    expected = np.select([per_hospital["assessment_score"] >= 70, per_hospital["assessment_score"] >= 40],
                         [1.0, 0.97], 0.93)
    assert coef.reindex(per_hospital.index).to_numpy() == pytest.approx(expected)
    assert len(set(expected)) > 1   # the demo province spreads over the bands


def test_it_equals_a_settlement_with_those_coefficients_given_by_hand(assessed, demo_province_dir):
    from drgdip.budget import settle_province
    from drgdip.simulate.scenarios import apply_overrides

    base, _, settlement = assessed
    given = dict(zip(settlement.hospitals["hospital_id"].astype(str), settlement.hospitals["assessment_coef"]))
    by_hand = settle_province(demo_province_dir, apply_overrides(base, {"settlement.assessment_by_hospital": given}))
    for name in ("hospitals", "summary", "pools", "monthly"):
        pd.testing.assert_frame_equal(settlement.tables()[name], by_hand.tables()[name], check_exact=True, obj=name)
    withheld = settlement.hospitals["assessment_withheld"]
    assert (withheld > 0).any()


def test_a_simulated_scenario_equals_the_assessed_settlement(assessed, demo_province_dir):
    from drgdip.budget import prepare_province
    from drgdip.simulate import simulate
    from drgdip.simulate.scenarios import Scenario

    base, _, settlement = assessed
    prepared = prepare_province(demo_province_dir, base)
    result = simulate(prepared, base, scenarios=[Scenario("assessed", ASSESSMENT)])
    rows = result.hospitals[result.hospitals["scenario"] == "assessed"].set_index("hospital_id")
    expected = settlement.hospitals.set_index("hospital_id")["final_payment"]
    assert rows["final_payment"].reindex(expected.index).to_numpy() == pytest.approx(expected.to_numpy(), abs=0)


def test_an_unknown_or_unranked_indicator_is_a_config_error():
    from drgdip.budget import load_policy
    from drgdip.core.errors import ConfigError
    from drgdip.simulate.scenarios import apply_overrides

    base = load_policy(POLICY)
    for weights, problem in (({"drug_shar": 1}, "weights.drug_shar"), ({"core_share": 1}, "weights.core_share")):
        with pytest.raises(ConfigError, match=problem):
            apply_overrides(base, {**ASSESSMENT, "settlement.assessment_indicators.weights": weights})
    with pytest.raises(ConfigError, match="last band must start at 0"):
        apply_overrides(base, {**ASSESSMENT, "settlement.assessment_indicators.bands": [{"min_score": 50, "coef": 1}]})


def test_dip_stays_typed_ungrouped_are_in_no_group(stays):
    dip = stays.assign(dip_group=["K35:1", "K35:1", "I21:2", "X:0", "K35:1", "I21:2", "I21:2"],
                       dip_type=["core", "core", "comprehensive", "ungrouped", "comprehensive", "core", "core"])
    a = indicator_tables(dip, HOSPITALS)["indicators"].set_index("hospital_id").loc["A"]
    assert a["grouping_rate"] == pytest.approx(3 / 4)
    assert a["core_share"] == pytest.approx(2 / 4) and a["comprehensive_share"] == pytest.approx(1 / 4)
    # DIP groups (not the DRGs) give the means: K35:1 (100 + 100 + 400) / 3 = 200, I21:2 (300 + 300) / 2
    assert a["cost_consumption_index"] == pytest.approx((100 / 200 + 100 / 200 + 300 / 300) / 3)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 2), st.integers(0, 60),
                          st.integers(0, 5), st.booleans()), min_size=1, max_size=40))
@settings(max_examples=150, deadline=None)
def test_days_to_next_equals_a_plain_search(stays):
    """The kernel against the definition: the same patient's next admission (then row) at the same
    hospital, and in the same related group, searched stay by stay."""
    from drgdip.budget._indicator_kernels import days_to_next

    patient, hospital, related, admit_day, length, planned = (np.asarray(c) for c in zip(*stays))
    day = 86_400 * 10**9
    admit, discharge = admit_day.astype(np.int64) * day, (admit_day + length).astype(np.int64) * day
    order = np.lexsort((admit, patient))
    to_same, to_related = days_to_next(order, patient.astype(np.int64), hospital.astype(np.int64),
                                       related.astype(np.int64), admit, discharge, planned)
    for i in range(len(stays)):
        later = [j for j in range(len(stays)) if patient[j] == patient[i] and hospital[j] == hospital[i]
                 and (admit[j], j) > (admit[i], i)]
        later.sort(key=lambda j: (admit[j], j))
        expected = np.nan if not later or planned[later[0]] else (admit[later[0]] - discharge[i]) / day
        np.testing.assert_equal(to_same[i], expected)
        same_group = [j for j in later if related[j] == related[i]]
        expected = (admit[same_group[0]] - discharge[i]) / day if same_group else np.nan
        np.testing.assert_equal(to_related[i], expected)
