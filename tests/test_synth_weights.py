"""Synthetic costs that follow a weight table (RW x base rate), the fill rule for unpriced DRGs, the shipped
CHS-DRG 1.1 table and the ``--weights`` / ``--base-rate`` options."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from drgdip.cli import main
from drgdip.core.resources import weights_dir
from drgdip.grouper import load_scheme
from drgdip.pointvalue.weights import WeightTable
from drgdip.synth import SynthParams, generate_province
from drgdip.synth.group_costs import from_table, noise_mean, own_model
from drgdip.synth.scheme_profile import build_profile
from tests.conftest import DEMO_SCHEME_DIR, NATIONAL_SCHEME_DIR, REPO

SHIPPED = weights_dir() / "chs-drg-1.1.csv"
LINYI = REPO.parent / "shared" / "payment" / "临沂2022.csv"
PER_DAY_PRICED = ("tcm_day", "day_ward")


@pytest.fixture(scope="module")
def demo_scheme():
    return load_scheme(DEMO_SCHEME_DIR)


@pytest.fixture(scope="module")
def demo_table(demo_scheme):
    """RWs for every demo DRG, drawn so that they bear no relation to synth's own ADRG costs."""
    codes = demo_scheme.tables["drg"]["drg"]
    rw = np.exp(np.random.default_rng(99).uniform(np.log(0.2), np.log(8.0), len(codes)))
    return pd.DataFrame({"group": codes, "rw": np.round(rw, 4)})


def drg_paid(province) -> pd.DataFrame:
    """Stays grouped ok and priced by their group (not per day / session, not psychiatric bed-days)."""
    cases = province.cases
    psychiatric = province.hospitals.loc[province.hospitals["hospital_type"] == "psychiatric", "hospital_id"]
    keep = ((cases["status"].astype(str) == "ok") & ~cases["care_type"].isin(PER_DAY_PRICED)
            & ~cases["hospital_id"].isin(psychiatric))
    return cases[keep.to_numpy()].assign(drg=lambda f: f["drg"].astype(str))


def spearman_with(province, rw: pd.Series, min_stays: int = 1) -> float:
    stays = drg_paid(province)
    mean = stays.groupby("drg")["total_cost"].agg(["mean", "size"])
    mean = mean[mean["size"] >= min_stays]
    common = mean.index.intersection(rw.index)
    return float(mean.loc[common, "mean"].corr(rw[common], method="spearman"))


def test_costs_follow_a_given_weight_table(demo_scheme, demo_table):
    rw = demo_table.set_index("group")["rw"]
    kwargs = dict(cases=4000, hospitals=10, regions=2, seed=8)
    following = generate_province(demo_scheme, weights=demo_table, **kwargs)
    own = generate_province(demo_scheme, weights=None, **kwargs)
    assert following.info["costs"]["model"] == "weights"
    assert own.info["costs"] == {"model": "synth"}
    assert spearman_with(following, rw, min_stays=5) > 0.9
    assert spearman_with(own, rw, min_stays=5) < 0.5      # synth's own model knows nothing of these RWs


def test_level2_mean_cost_is_rw_times_base_rate(demo_scheme, demo_table):
    params = SynthParams(base_rate=12_000.0)
    province = generate_province(demo_scheme, cases=6000, hospitals=12, regions=2, seed=4, params=params,
                                 weights=demo_table)
    stays = drg_paid(province)
    stays = stays[(stays["care_type"] == "inpatient") & (stays["hospital_level"] == 2) & (stays["year"] == 2023)]
    expected = stays["drg"].map(demo_table.set_index("group")["rw"]) * params.base_rate
    assert len(stays) > 400
    assert stays["total_cost"].sum() / expected.sum() == pytest.approx(1.0, abs=0.1)


def test_base_rate_scales_every_group_priced_cost(demo_scheme, demo_table):
    kwargs = dict(cases=1500, hospitals=6, regions=2, seed=3, weights=demo_table)
    province = generate_province(demo_scheme, params=SynthParams(base_rate=5000.0), **kwargs)
    low = province.cases
    high = generate_province(demo_scheme, params=SynthParams(base_rate=10000.0), **kwargs).cases
    psychiatric = province.hospitals.loc[province.hospitals["hospital_type"] == "psychiatric", "hospital_id"]
    priced = ~(low["care_type"].isin(PER_DAY_PRICED) | low["hospital_id"].isin(psychiatric))
    assert priced.sum() > 1000 and (~priced).sum() > 20
    ratio = high.loc[priced, "total_cost"] / low.loc[priced, "total_cost"]
    assert ratio.between(1.99, 2.01).mean() > 0.99
    assert high.loc[~priced, "total_cost"].equals(low.loc[~priced, "total_cost"])


def test_grouping_function_without_categoricals_gives_the_same_costs(demo_scheme, demo_table):
    from drgdip.grouper import group_cases

    def plain(frame):
        return group_cases(frame, demo_scheme).astype({"status": str, "mdc": str, "adrg": str, "drg": str})

    kwargs = dict(cases=800, hospitals=5, regions=2, seed=6, weights=demo_table)
    usual = generate_province(demo_scheme, **kwargs).cases
    asked_again = generate_province(demo_scheme, group_fn=plain, **kwargs).cases
    assert "drg" not in asked_again.columns
    assert asked_again["total_cost"].equals(usual["total_cost"])


def test_unpriced_drgs_are_filled_by_the_documented_rule_and_reported(demo_scheme, demo_table):
    profile = build_profile(demo_scheme)
    params = SynthParams()
    m = np.asarray(params.severity_cost_multipliers)
    # SR13 (mcc_or_cc) loses its RW, AA1 (one DRG) is not in the table, XX99 is no DRG of the scheme
    table = demo_table[~demo_table["group"].isin(["SR13", "AA19"])]
    table = pd.concat([table, pd.DataFrame({"group": ["XX99"], "rw": [1.0]})], ignore_index=True)
    own = own_model(profile, params, np.random.default_rng(1).standard_normal(profile.n_adrg))
    costs = from_table(profile, params, WeightTable.from_csv(table), own)
    rw = pd.Series(costs.drg_rw, index=profile.drg_codes.astype(str))
    given = demo_table.set_index("group")["rw"]
    siblings = [given["SR11"] * m[1] / m[2], given["SR15"] * m[1] / m[0]]
    assert rw["SR13"] == pytest.approx(np.exp(np.mean(np.log(siblings))))
    aa1 = next(r.index for r in profile.adrgs if r.code == "AA1")
    assert rw["AA19"] == pytest.approx(own.adrg_cost[aa1] * noise_mean(params) / params.base_rate)
    assert (rw.drop(["SR13", "AA19"]) == given.reindex(rw.index).drop(["SR13", "AA19"])).all()
    assert costs.info["drgs_from_adrg_siblings"] == ["SR13"]
    assert costs.info["drgs_from_synth_model"] == ["AA19"]
    assert costs.info["table_groups_not_in_scheme"] == 1
    assert any("SR13" in note and "AA19" in note for note in costs.notes)
    assert any("XX99" in note for note in costs.notes)


def test_a_scheme_without_a_shipped_table_keeps_synths_own_model(demo_scheme):
    province = generate_province(demo_scheme, cases=200, hospitals=3, regions=1, seed=1)
    assert province.info["costs"] == {"model": "synth"}


def test_weights_must_be_a_table_or_a_path(demo_scheme):
    with pytest.raises(TypeError, match="weights must be"):
        generate_province(demo_scheme, cases=10, hospitals=2, regions=1, weights=3)


def test_costs_follow_a_published_city_table_by_its_name():
    """A city's table as published (``yantai-2023``, which lists the national codes) is read by the published-table
    reader: the RWs synth follows are those the city publishes."""
    from drgdip.grouper import load_scheme as load
    from drgdip.pointvalue.published import read_published_table

    published = read_published_table("yantai-2023").weights
    province = generate_province(load(NATIONAL_SCHEME_DIR), cases=6000, hospitals=12, regions=2, seed=5,
                                 weights="yantai-2023")
    rw = published.frame.set_index("group")["rw"].astype(float)
    assert province.info["costs"]["model"] == "weights"
    assert spearman_with(province, rw, min_stays=5) > 0.85


# ------------------------------------------------------------------------------ shipped table

def test_shipped_table_prices_every_national_drg_with_linyis_published_rw():
    table = WeightTable.from_csv(SHIPPED)
    national = pd.read_csv(NATIONAL_SCHEME_DIR / "drg.csv", dtype=str, keep_default_na=False)
    assert list(table.groups) == list(national["drg"])
    frame = table.frame.set_index("group")
    assert (frame["rw"] > 0).all()
    published = pd.read_csv(LINYI, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    published = pd.to_numeric(published.set_index("DRG编码")["RW"], errors="coerce")
    own = frame["rw_source"] == "published"
    assert (frame.loc[own, "rw"] == published.reindex(frame.index[own])).all()
    # the groups Linyi leaves without RW (special review) are filled by the rule, and only those
    assert set(frame.index[~own]) == set(published.index[published.isna()])
    assert set(frame.loc[~own, "rw_source"]) == {"adrg_siblings", "synth_model"}


def test_shipped_table_is_what_the_derivation_script_writes(tmp_path):
    out = tmp_path / "weights.csv"
    subprocess.run([sys.executable, str(REPO / "scripts" / "derive_synth_weights.py"), str(LINYI),
                    str(NATIONAL_SCHEME_DIR), str(out)], check=True, capture_output=True)
    assert out.read_bytes() == SHIPPED.read_bytes()


# ------------------------------------------------------------------------------------ CLI

def test_cli_weights_and_base_rate(tmp_path, capsys, demo_table):
    table = tmp_path / "weights.csv"
    demo_table.to_csv(table, index=False)
    out = tmp_path / "o"
    assert main(["synth", "--scheme", str(DEMO_SCHEME_DIR), "--cases", "300", "--seed", "2", "--weights", str(table),
                 "--base-rate", "8000", "--output", str(out)]) == 0
    assert f"group costs follow {table} at base rate 8000 yuan" in capsys.readouterr().out
    import json

    info = json.loads((out / "province.json").read_text(encoding="utf-8"))
    assert info["costs"]["base_rate"] == 8000 and info["params"]["base_rate"] == 8000


@pytest.mark.parametrize("args, message", [
    (["--base-rate", "9000"], "no table is shipped for the scheme"),
    (["--weights", "none", "--base-rate", "9000"], "--base-rate needs a weight table"),
    (["--weights", "WEIGHTS", "--base-rate", "0"], "--base-rate must be positive"),
    (["--weights", "missing.csv"], "missing.csv: weight table: file not found"),
])
def test_cli_weight_errors_exit_2(tmp_path, capsys, demo_table, args, message):
    table = tmp_path / "weights.csv"
    demo_table.to_csv(table, index=False)
    args = [str(table) if a == "WEIGHTS" else str(tmp_path / a) if a == "missing.csv" else a for a in args]
    code = main(["synth", "--scheme", str(DEMO_SCHEME_DIR), "--cases", "50", "--output", str(tmp_path / "o")] + args)
    assert code == 2
    assert message in capsys.readouterr().err


def test_params_base_rate_must_be_positive():
    from drgdip.core.errors import ConfigError

    with pytest.raises(ConfigError, match="base_rate"):
        dataclasses.replace(SynthParams(), base_rate=0.0)
