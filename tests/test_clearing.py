"""In-province remote stays and the provincial clearing matrix (budget.remote, domain.md §7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgdip.budget.policy import policy_from_mapping
from drgdip.budget.settle import settle_cases
from tests.test_settle import REGIONS, fen, policies, provinces


def test_remote_stay_paid_at_the_insured_locations_fund_ratio():
    # §7: score 1,200 × coef 1.0 × remote 0.95 × PV 9.8 × insured-location fund ratio 0.65 = 7,261.8
    points_remote = 1200 * 1.0 * 0.95
    policy = policy_from_mapping({"points": {"scheme": "dip", "remote": {"remote_coef": 0.95}},
                                  "budget": {"method": "amount", "amount": 13_141.8, "reserve_share": 0.0},
                                  "point_value": {"basis": "total_cost", "fund_ratio": "insured_region"}})
    cases = pd.DataFrame({
        "case_id": ["local", "remote"], "hospital_id": ["H1", "H1"], "region": ["370800", "370800"],
        "insured_region": ["370800", "370900"], "total_cost": [10_000.0, 12_000.0], "fund_paid": [6_000.0, 7_800.0],
        "case_points": [1000.0, points_remote]})
    result = settle_cases(cases, policy)
    assert result.pools["effective_point_value"].iloc[0] == pytest.approx(9.8)
    payment = result.cases.set_index("case_id")["payment"]
    assert payment["remote"] == 7_261.80 and payment["local"] == 5_880.00
    clearing = result.clearing
    assert clearing[["insured_region", "treatment_region", "hospital_id"]].values.tolist() == [
        ["370900", "370800", "H1"]]
    assert clearing["fund_due"].tolist() == [7_261.80] and clearing["ffs_fund"].tolist() == [7_800.0]
    assert clearing["difference"].tolist() == [-538.20]
    summary = result.summary.iloc[0]
    assert (summary["remote_fund_recorded"], summary["remote_fund_due"], summary["remote_difference"]) == (
        7_800.0, 7_261.80, -538.20)
    matrix = result.clearing_matrix.set_index("insured_region")
    assert matrix.loc["370900", "370800"] == 7_261.80 and matrix.loc["total", "total"] == 7_261.80


def test_separate_remote_pool_with_its_own_money():
    policy = policy_from_mapping({"budget": {"method": "amount", "amount": 1000.0, "reserve_share": 0.0},
                                  "point_value": {"basis": "fund_only"},
                                  "remote_pool": {"pool": "separate", "budget_method": "amount", "amount": 300.0}})
    cases = pd.DataFrame({
        "case_id": ["a", "b", "c"], "hospital_id": ["H1", "H2", "H2"], "region": "370100",
        "insured_region": ["370100", "370200", "370300"], "total_cost": 100.0, "fund_paid": 60.0,
        "case_points": [10.0, 10.0, 20.0]})
    result = settle_cases(cases, policy)
    pools = result.pools.set_index("pool")
    assert pools.loc["370100", "effective_point_value"] == 100.0
    assert pools.loc["370100/remote", "effective_point_value"] == 10.0
    assert result.summary["budget_total"].iloc[0] == 1300.0
    assert result.clearing.set_index("insured_region")["fund_due"].to_dict() == {"370200": 100.0, "370300": 200.0}


def test_cross_province_stays_are_not_remote_pooled():
    policy = policy_from_mapping({"budget": {"method": "amount", "amount": 100.0, "reserve_share": 0.0}})
    cases = pd.DataFrame({"case_id": ["a", "b"], "hospital_id": "H1", "region": "370100",
                          "insured_region": ["370100", "440100"], "total_cost": 10.0, "fund_paid": 5.0,
                          "case_points": 1.0})
    result = settle_cases(cases, policy)
    assert result.clearing.empty
    assert result.cases["settle_status"].astype(str).tolist() == ["ok", "out_of_scope:cross_province"]


def test_remote_stays_in_a_province_pool_are_still_cleared():
    policy = policy_from_mapping({"pooling": "province",
                                  "budget": {"method": "amount", "amount": 100.0, "reserve_share": 0.0}})
    cases = pd.DataFrame({"case_id": ["a", "b"], "hospital_id": ["H1", "H2"], "region": ["370100", "370200"],
                          "insured_region": ["370100", "370100"], "total_cost": 10.0, "fund_paid": 5.0,
                          "case_points": 1.0})
    result = settle_cases(cases, policy)
    assert result.summary["area"].tolist() == ["37"]
    assert result.clearing["fund_due"].tolist() == [50.0]


def test_local_money_covering_remote_stays_in_a_common_pool_is_reported():
    # the budget takes in the remote stay's recorded fund (100 yuan), but one point value pays it
    # 300 yuan: its insured region owes 300 through clearing, and 200 of local money paid for it
    policy = policy_from_mapping({"budget": {"method": "amount", "amount": 500.0, "reserve_share": 0.0},
                                  "point_value": {"basis": "fund_only"},
                                  "remote_pool": {"pool": "common", "budget_method": "amount", "amount": 100.0}})
    cases = pd.DataFrame({"case_id": ["local", "remote"], "hospital_id": ["H1", "H2"], "region": "370100",
                          "insured_region": ["370100", "370200"], "total_cost": [800.0, 150.0],
                          "fund_paid": [500.0, 100.0], "case_points": [10.0, 10.0]})
    result = settle_cases(cases, policy)
    summary = result.summary.iloc[0]
    assert summary["budget_remote"] == 100.0
    assert (summary["remote_fund_recorded"], summary["remote_fund_due"], summary["remote_difference"]) == (
        100.0, 300.0, 200.0)
    assert result.clearing[["fund_due", "ffs_fund", "difference"]].values.tolist() == [[300.0, 100.0, 200.0]]


def test_an_area_without_remote_stays_reports_no_difference():
    policy = policy_from_mapping({"budget": {"method": "amount", "amount": 100.0, "reserve_share": 0.0}})
    result = settle_cases(pd.DataFrame({"case_id": ["a"], "hospital_id": "H1", "region": "370100",
                                        "total_cost": 10.0, "fund_paid": 5.0, "case_points": 1.0}), policy)
    assert result.summary[["remote_fund_recorded", "remote_fund_due", "remote_difference"]].values.tolist() == [
        [0.0, 0.0, 0.0]]
    assert "difference" in result.clearing.columns and result.clearing.empty


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=provinces(), policy=policies())
def test_remote_differences_add_up_from_the_clearing_rows_to_the_areas(cases, policy):
    result = settle_cases(cases, policy)
    clearing, summary = result.clearing, result.summary.set_index("area")
    assert (fen(clearing["difference"]) == fen(clearing["fund_due"]) - fen(clearing["ffs_fund"])).all()
    by_area = clearing.groupby("treatment_region")[["fund_due", "ffs_fund", "difference"]].agg(
        lambda s: fen(s).sum()).reindex(summary.index, fill_value=0)   # pooling by region: area = region
    assert by_area["fund_due"].tolist() == fen(summary["remote_fund_due"]).tolist()
    assert by_area["ffs_fund"].tolist() == fen(summary["remote_fund_recorded"]).tolist()
    assert by_area["difference"].tolist() == fen(summary["remote_difference"]).tolist()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=provinces(), policy=policies())
def test_clearing_matrix_sums_equal_the_remote_fund_shares(cases, policy):
    result = settle_cases(cases, policy)
    out = result.cases
    remote = out["remote"].to_numpy()
    assert (out.loc[remote, "settle_status"].astype(str) == "ok").all()
    # every remote stay: insured elsewhere in the province
    assert (out.loc[remote, "insured_region"] != out.loc[remote, "region"]).all()
    assert (out.loc[remote, "insured_region"].isin(REGIONS)).all()
    shares = pd.Series(fen(out.loc[remote, "payment"]),
                       index=pd.MultiIndex.from_arrays([out.loc[remote, "insured_region"], out.loc[remote, "region"]]))
    by_pair = shares.groupby(level=[0, 1]).sum()
    clearing = result.clearing
    cells = clearing.groupby(["insured_region", "treatment_region"])["fund_due"].apply(lambda s: fen(s).sum())
    assert sorted(by_pair.items()) == sorted(cells.items())
    matrix = result.clearing_matrix
    if len(clearing):
        m = matrix.set_index("insured_region")
        assert fen(m.loc["total", "total"]) == shares.sum()
        rows = m.drop(index="total").drop(columns="total")
        assert (fen(rows.sum(axis=1)) == fen(m.drop(index="total")["total"])).all()
        for (insured, treatment), value in cells.items():
            assert fen(m.loc[insured, treatment]) == value
    else:
        assert shares.sum() == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=provinces(fixed=False, out_of_province=False), data=st.data())
def test_remote_fund_share_follows_the_insured_regions_ratio(cases, data):
    """With ``fund_ratio: insured_region`` a remote stay is paid points × PV × (its insured region's ratio
    in the pool), within the 2-fen rounding bound of the two largest-remainder steps."""
    policy = policy_from_mapping({
        "budget": {"method": "amount", "amount": {r: data.draw(st.integers(0, 10**8)) / 100 for r in REGIONS},
                   "reserve_share": 0.0},
        "point_value": {"basis": "total_cost", "fund_ratio": "insured_region"}})
    result = settle_cases(cases, policy)
    out = result.cases[result.cases["remote"]]
    if out.empty:
        return
    ratio = {}
    settled = result.cases[result.cases["settle_status"].astype(str) == "ok"]
    for (region, insured), group in settled.groupby(["region", "insured_region"]):
        cost, fund = fen(group["total_cost"]).sum(), fen(group["fund_paid"]).sum()
        ratio[(region, insured)] = fund / cost if cost else 0.0
    expected = out["case_points"] * out["point_value"] * [ratio[(r, i)] for r, i in
                                                           zip(out["region"], out["insured_region"])]
    expected = np.nan_to_num(expected.to_numpy())   # a pool without points has no point value and pays 0
    assert np.all(np.abs(fen(out["payment"]) - expected * 100) < 2 + 1e-6)


def test_separate_remote_pool_money_reaches_the_matrix_exactly():
    rng = np.random.default_rng(5)
    n = 500
    region = rng.choice(REGIONS, n)
    remote = rng.random(n) < 0.4
    insured = np.where(remote, np.roll(region, 1), region)
    cases = pd.DataFrame({"case_id": np.arange(n).astype(str), "hospital_id": [f"H{r[-3]}{k % 3}" for k, r in
                                                                               enumerate(region)],
                          "region": region, "insured_region": insured, "total_cost": rng.integers(100, 10_000, n),
                          "fund_paid": rng.integers(50, 100, n), "case_points": rng.random(n) * 100})
    policy = policy_from_mapping({"budget": {"method": "actual_fund", "reserve_share": 0.05},
                                  "point_value": {"fund_ratio": "insured_region"},
                                  "remote_pool": {"pool": "separate", "budget_method": "actual_fund"}})
    result = settle_cases(cases, policy)
    pools = result.pools[result.pools["remote"]].set_index("area")
    matrix = result.clearing_matrix.set_index("insured_region")
    for area in pools.index:
        assert fen(matrix.loc["total", area]) == fen(pools.loc[area, "fund_distributed"])
