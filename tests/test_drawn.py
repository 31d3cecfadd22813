"""A Monte Carlo draw settled from its parent's arrays is the settlement of the drawn province, to the fen."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgdip.budget import load_policy
from drgdip.budget.drawn import CACHE_LINE, _records, settle_drawn_rows
from drgdip.core.errors import UsageError
from drgdip.core.province import write_province
from drgdip.core.resources import demo_dip_dir
from drgdip.simulate import MonteCarlo, apply_overrides, draw_province, prepare_province, settle
from drgdip.simulate.casemix import perturbed_rows, rewritten_stays, upshift_candidates
from drgdip.simulate.settlements import DrawUnits, _drawn, _settled_from_rows, draw_outcome
from drgdip.synth import generate_province

REPO = Path(__file__).resolve().parents[1]
ASSESSMENT = {"settlement.assessment_indicators.weights": {"cost_consumption_index": 50, "grouping_rate": 50},
              "settlement.assessment_indicators.bands": [{"min_score": 60, "coef": 1.0}, {"min_score": 0, "coef": 0.95}]}
POLICIES = REPO / "data" / "policies"
POLICY_FILES = {"drg": "remote_pool_province_2025.yaml", "day_care": "panzhihua_drg_day_care_2025.yaml",
                "dip": "jining_dip_day_ward_2025.yaml"}
HOSPITAL_COLUMNS = ["cases", "remote_cases", "points", "cmi", "total_cost", "ffs_fund", "fund_due", "surplus",
                    "final_payment", "gain_vs_ffs", "prepaid", "clearing_payment"]
POOL_COLUMNS = ["cases", "points", "fund_ratio", "money", "points_money", "settlement_point_value",
                "effective_point_value", "reserve_adjustment"]


@pytest.fixture(scope="module")
def province_dir(tmp_path_factory):
    province = generate_province(REPO / "data" / "demo" / "scheme", cases=3_000, hospitals=8, regions=3, seed=5)
    directory = tmp_path_factory.mktemp("drawn_province")
    write_province(province, directory)
    return directory


@pytest.fixture(scope="module")
def prepared(province_dir):
    """Each policy's prepared province, settled once under it (the parent of its draws)."""
    out = {}
    for kind, name in POLICY_FILES.items():
        policy = load_policy(POLICIES / name)
        province = prepare_province(province_dir, policy, dip=demo_dip_dir() if kind == "dip" else None)
        settle(province, policy, input_columns=False, per_stay=False)
        out[kind] = (province, policy)
    return out


def parent(prepared, kind):
    """The prepared province of ``kind`` settled under its policy (the tests before may have settled others)."""
    province, policy = prepared[kind]
    settle(province, policy, input_columns=False, per_stay=False)
    return province, policy


def hospital_table(result) -> pd.DataFrame:
    table = result.hospitals.copy()
    table["hospital_id"] = table["hospital_id"].astype(str)
    return table.set_index(["area", "hospital_id"]).sort_index()[HOSPITAL_COLUMNS]


def pool_table(result) -> pd.DataFrame:
    return result.pools.set_index("pool").sort_index()[POOL_COLUMNS]


def assert_same_settlement(mine, whole) -> None:
    pd.testing.assert_frame_equal(hospital_table(mine), hospital_table(whole), check_exact=True)
    pd.testing.assert_frame_equal(pool_table(mine), pool_table(whole), check_exact=True)
    summary = ["budget_total", "final_payments", "reserve_end", "fund_due"]
    pd.testing.assert_frame_equal(mine.summary[summary], whole.summary[summary], check_exact=True)


def monte_carlo(data) -> MonteCarlo:
    per = st.sampled_from(["hospital", "level", "region", "all"])
    vary = {"volume_growth": {"dist": "uniform", "params": {"low": data.draw(st.floats(-0.3, 0.0)),
                                                            "high": data.draw(st.floats(0.0, 0.6))},
                              "per": data.draw(per)},
            "coding_upshift": {"dist": "uniform", "params": {"low": 0.0, "high": data.draw(st.floats(0.0, 1.0))},
                               "per": data.draw(per)},
            "budget.growth_rate": {"dist": "normal", "params": {"mean": 0.03, "sd": 0.02}}}
    if data.draw(st.booleans()):
        vary["remote_share"] = {"dist": "uniform", "params": {"low": -0.5, "high": 0.5}, "per": data.draw(per)}
    if data.draw(st.booleans()):   # each draw its own coefficients: its parent is the province priced again
        vary["points.hospital_coef.by_level.3"] = {"dist": "uniform", "params": {"low": 0.9, "high": 1.2}}
    return MonteCarlo(draws=2, seed=data.draw(st.integers(0, 2**31)), vary=vary)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_draw_settled_from_its_parent_is_the_settlement_of_the_drawn_province(prepared, data):
    province, policy = prepared[data.draw(st.sampled_from(sorted(POLICY_FILES)))]
    spec = monte_carlo(data)
    units = DrawUnits.of(province)
    for draw in range(spec.draws):
        mine = _settled_from_rows(province, policy, spec, draw, units)
        drawn, drawn_policy = draw_province(province, policy, spec, draw, units)
        whole = settle(drawn, drawn_policy, input_columns=False, per_stay=False)
        assert mine is not None
        assert_same_settlement(mine, whole)


def test_stay_records_keep_every_value_each_integer_in_the_narrowest_type_that_holds_it():
    columns = [("cost_fen", np.array([0, 2**40, -3], dtype=np.int64)), ("fund_fen", np.array([5, 0, 7], dtype=np.int64)),
               ("hospital", np.array([0, 1, 300], dtype=np.int32)), ("cell", np.array([-1, 70_000, 2], dtype=np.int32)),
               ("month", np.array([0, 12, 3], dtype=np.int8)), ("points", np.array([0.1, np.nan, 3e9])),
               ("fixed", np.array([True, False, True]))]
    records = _records(columns, 3)
    assert {name: records.dtype[name] for name in records.dtype.names} == {
        "cost_fen": np.int64, "fund_fen": np.int8, "hospital": np.int16, "cell": np.int32, "month": np.int8,
        "points": np.float64, "fixed": np.bool_}
    assert records.dtype.itemsize == CACHE_LINE and records.ctypes.data % CACHE_LINE == 0   # a record, a line
    for name, values in columns:
        np.testing.assert_array_equal(records[name], values)
    wide = _records([(f"points_{k}", np.arange(4, dtype=np.float64) + k) for k in range(9)], 4)
    assert wide.dtype.itemsize == 72 and wide["points_8"].tolist() == [8.0, 9.0, 10.0, 11.0]


def test_the_rows_of_a_draw_are_those_of_the_drawn_province(prepared):
    province, policy = prepared["dip"]
    spec = MonteCarlo(draws=1, seed=3, vary={
        "volume_growth": {"dist": "uniform", "params": {"low": -0.2, "high": 0.4}, "per": "hospital"},
        "coding_upshift": {"dist": "fixed", "params": {"value": 0.5}}})
    units = DrawUnits.of(province)
    drawn, _ = draw_province(province, policy, spec, 0, units)
    _, perturbation = _drawn(province, policy, spec, 0, units)
    rows = perturbed_rows(province.current, lookups=units.lookups, **perturbation)
    positions, stays = rewritten_stays(province.current, rows)
    assert len(rows.source) == len(drawn.current) and len(positions) > 0
    columns = [c for c in ("hospital_id", "total_cost", "dip_group", "dip_subtype", "dip_aux_coef", "aux_coef")
               if c in drawn.current.columns]
    assert {"dip_group", "total_cost"} < set(columns) and {"dip_aux_coef", "aux_coef"} & set(columns)
    for column in columns:
        expected = drawn.current[column].reset_index(drop=True)
        assert province.current[column].take(rows.source).astype(object).reset_index(drop=True).where(
            ~np.isin(np.arange(len(expected)), positions), expected.astype(object)).equals(expected.astype(object))
        assert stays[column].astype(object).equals(expected.take(positions).astype(object).reset_index(drop=True))


def test_a_draw_that_empties_a_hospital_is_settled_whole(prepared):
    province, policy = parent(prepared, "drg")
    current = province.current
    gone = current["hospital_id"].astype(str) == str(current["hospital_id"].iloc[0])
    none = np.zeros(0, dtype=np.int64)
    assert settle_drawn_rows(province, policy, none, np.flatnonzero(gone.to_numpy()), none, current.iloc[:0]) is None
    kept = settle_drawn_rows(province, policy, none, none, none, current.iloc[:0])
    assert_same_settlement(kept, settle(province, policy, input_columns=False, per_stay=False))


def test_a_rewritten_stay_that_leaves_its_status_is_settled_whole(prepared, monkeypatch):
    import drgdip.budget.drawn as drawn

    province, policy = parent(prepared, "drg")
    current = province.current
    none, rewritten = np.zeros(0, dtype=np.int64), np.array([0])
    stays = current.iloc[[0]].reset_index(drop=True)
    assert settle_drawn_rows(province, policy, none, none, rewritten, stays) is not None
    points = drawn.settlement_year_points

    def without_points(*args, **kwargs):   # a stay the points stage cannot price leaves the budget
        frame = points(*args, **kwargs)
        return frame.assign(case_points=np.nan)

    monkeypatch.setattr(drawn, "settlement_year_points", without_points)
    assert settle_drawn_rows(province, policy, none, none, rewritten, stays) is None


def test_a_policy_the_parent_was_not_settled_under_settles_nothing_from_its_arrays(prepared):
    province, policy = parent(prepared, "drg")
    current = province.current
    outliers = replace(policy, points=replace(policy.points, outliers=replace(policy.points.outliers,
                                                                              drg_low_ratio=0.45)))
    none = np.zeros(0, dtype=np.int64)
    assert settle_drawn_rows(province, outliers, none, none, none, current.iloc[:0]) is None
    assert settle_drawn_rows(province, policy, none, none, none, current.iloc[:0]) is not None


def test_draws_under_assessment_by_indicators_are_settled_whole(province_dir):
    policy = apply_overrides(load_policy(POLICIES / POLICY_FILES["drg"]), ASSESSMENT)
    province = prepare_province(province_dir, policy)
    settle(province, policy, input_columns=False, per_stay=False)
    spec = MonteCarlo(draws=1, seed=4, vary={"volume_growth": {"dist": "fixed", "params": {"value": 0.1}}})
    units = DrawUnits.of(province)
    assert _settled_from_rows(province, policy, spec, 0, units) is None
    payments, _ = draw_outcome(province, policy, spec, 0, units)
    drawn, drawn_policy = draw_province(province, policy, spec, 0, units)
    whole = settle(drawn, drawn_policy, input_columns=False, per_stay=False).hospitals
    expected = whole.set_index([whole["area"].astype(str), whole["hospital_id"].astype(str)])["final_payment"]
    assert payments["final_payment"].sort_index().tolist() == expected.sort_index().tolist()


def test_case_mix_draws_cannot_vary_what_the_preparation_depends_on(prepared):
    province, policy = prepared["day_care"]
    spec = MonteCarlo(draws=1, seed=4, vary={"volume_growth": {"dist": "fixed", "params": {"value": 0.1}},
                                             "day_care.window_h": {"dist": "fixed", "params": {"value": 12}}})
    with pytest.raises(UsageError, match="day_care.window_h"):
        draw_outcome(province, policy, spec, 0, DrawUnits.of(province))
    # nor can a drawn province be settled under such a policy: preparing again would lose its stays
    volume = MonteCarlo(draws=1, seed=4, vary={"volume_growth": {"dist": "fixed", "params": {"value": 0.1}}})
    drawn, _ = draw_province(province, policy, volume, 0)
    with pytest.raises(UsageError, match="lose those stays"):
        settle(drawn, apply_overrides(policy, {"day_care.window_h": 12}), input_columns=False, per_stay=False)


def test_draws_of_a_province_not_settled_yet_settle_it_once_and_then_from_its_arrays(province_dir, monkeypatch):
    import drgdip.simulate.settlements as settlements

    policy = load_policy(POLICIES / POLICY_FILES["drg"])
    province = prepare_province(province_dir, policy)      # as a cluster worker holds it: settled under nothing
    spec = MonteCarlo(draws=2, seed=9, vary={"volume_growth": {"dist": "fixed", "params": {"value": 0.1}},
                                             "budget.growth_rate": {"dist": "uniform",
                                                                    "params": {"low": 0.0, "high": 0.05}}})
    units = DrawUnits.of(province)
    settled, whole_settles = [], []
    from_rows, settle_whole = settlements.settle_drawn_rows, settlements.settle_prepared
    monkeypatch.setattr(settlements, "settle_drawn_rows", lambda *args: settled.append(from_rows(*args)) or settled[-1])
    monkeypatch.setattr(settlements, "settle_prepared",
                        lambda *args, **kwargs: whole_settles.append(1) or settle_whole(*args, **kwargs))
    for draw in range(spec.draws):
        draw_outcome(province, policy, spec, draw, units)
    assert len(whole_settles) == 1 and len(settled) == 2 and None not in settled
    for draw in range(spec.draws):
        drawn, drawn_policy = draw_province(province, policy, spec, draw, units)
        whole = settle(drawn, drawn_policy, input_columns=False, per_stay=False)
        # a draw makes only the tables it keeps: its hospitals and pools
        pd.testing.assert_frame_equal(hospital_table(settled[draw]), hospital_table(whole), check_exact=True)
        pd.testing.assert_frame_equal(pool_table(settled[draw]), pool_table(whole), check_exact=True)
        assert settled[draw].summary.empty and settled[draw].monthly.empty and not whole.monthly.empty


def test_the_points_of_every_stay_an_upshift_may_rewrite_are_computed_once(province_dir, monkeypatch):
    import drgdip.budget.drawn as drawn

    policy = load_policy(POLICIES / POLICY_FILES["day_care"])
    province = prepare_province(province_dir, policy)
    settle(province, policy, input_columns=False, per_stay=False)
    spec = MonteCarlo(draws=3, seed=2, vary={"coding_upshift": {"dist": "fixed", "params": {"value": 0.5}},
                                             "volume_growth": {"dist": "fixed", "params": {"value": 0.2}},
                                             "budget.growth_rate": {"dist": "uniform",
                                                                    "params": {"low": 0, "high": 0.1}}})
    units = DrawUnits.of(province)
    priced = []
    points = drawn.settlement_year_points
    monkeypatch.setattr(drawn, "settlement_year_points", lambda stays, *args, **kwargs: priced.append(len(stays))
                        or points(stays, *args, **kwargs))
    rewritten = []
    for draw in range(spec.draws):
        mine = _settled_from_rows(province, policy, spec, draw, units)
        rows = perturbed_rows(province.current, lookups=units.lookups, **_drawn(province, policy, spec, draw, units)[1])
        rewritten.append(len(rows.rewritten))
        drawn_province, drawn_policy = draw_province(province, policy, spec, draw, units)
        assert_same_settlement(mine, settle(drawn_province, drawn_policy, input_columns=False, per_stay=False))
    perturbation = _drawn(province, policy, spec, 0, units)[1]
    candidates = upshift_candidates(province.current, lookups=units.lookups, drg_codes=perturbation["drg_codes"])[1]
    assert min(rewritten) > 0 and priced == [len(candidates)]   # every candidate once, for all draws
