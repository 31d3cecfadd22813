"""The synthetic province on the national CHS-DRG 1.1 scheme: the stated rates on 100k cases.

One province of 100,000 stays (3 years, 30 hospitals, 6 regions) is generated once; each test
checks one realism parameter against its default within a tolerance that sampling noise at this
size cannot break, or a structural property (every day-ward period has its visits, pre-operative
visits fall in the window, a patient's ages agree, ...).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drgdip.core.resources import weights_dir
from drgdip.grouper import group_cases
from drgdip.synth import SynthParams, generate_province
from drgdip.synth.casemix import INVALID_REASONS
from tests.test_synth import expected_invalid_reason

N = 100_000
P = SynthParams()
SHIPPED_RW = pd.read_csv(weights_dir() / "chs-drg-1.1.csv", dtype={"group": str}).set_index("group")["rw"]


@pytest.fixture(scope="module")
def province(national_scheme):
    return generate_province(national_scheme, cases=N, years=(2023, 2024, 2025), hospitals=30,
                             regions=6, seed=2024)


@pytest.fixture(scope="module")
def grouped(province, national_scheme):
    return group_cases(province.cases, national_scheme)


@pytest.fixture(scope="module")
def severity(province, national_scheme):
    """Complication level of each case from the scheme tables (RULES.md section 6.1)."""
    t = national_scheme.tables
    cases = province.cases
    level = dict(zip(t["cc"]["code"], t["cc"]["level"].map({"CC": 1, "MCC": 2})))
    cc_table = dict(zip(t["cc"]["code"], t["cc"]["exclusion_table"]))
    principal_table = dict(zip(t["cc_exclusion"]["principal_dx"], t["cc_exclusion"]["exclusion_table"]))
    codes = cases["dx"].str.split("|").explode()
    position = codes.groupby(level=0).cumcount()
    principal = cases["dx"].str.split("|").str[0]
    frame = pd.DataFrame({"code": codes.to_numpy(), "row": codes.index.to_numpy(),
                          "position": position.to_numpy()})
    frame = frame[frame["position"] > 0]
    frame["level"] = frame["code"].map(level).fillna(0).astype(int)
    frame["table"] = frame["code"].map(cc_table)
    frame["ptable"] = principal.map(principal_table).to_numpy()[frame["row"]]
    frame.loc[frame["table"].notna() & (frame["table"] == frame["ptable"]), "level"] = 0
    return frame.groupby("row")["level"].max().reindex(cases.index, fill_value=0)


def test_every_case_groups_to_a_drg_except_the_invalid_share(province, grouped):
    reason = expected_invalid_reason(province.cases)
    status = grouped["status"].astype(str)
    assert (status[reason == ""] == "ok").all()
    assert (status[reason != ""] == "invalid_input:" + reason[reason != ""]).all()
    assert set(reason[reason != ""]) == set(INVALID_REASONS)
    assert abs((reason != "").mean() - P.invalid_share) < 0.0015


def test_case_mix_covers_most_drgs_with_a_long_tail(grouped, national_scheme):
    counts = grouped.loc[grouped["status"] == "ok", "drg"].astype(str).value_counts()
    assert len(counts) >= 0.85 * len(national_scheme.drg_codes)
    top_tenth = counts.iloc[: len(counts) // 10].sum() / counts.sum()
    assert top_tenth > 0.4                     # a few groups hold much of the volume
    assert (counts <= 5).sum() >= 20           # and many are rare


def test_complication_rates(province, severity):
    ordinary = (province.cases["care_type"] == "inpatient").to_numpy()
    newborn = (province.cases["age"] == 0).fillna(False).to_numpy()
    rows = ordinary & ~newborn
    mcc = (severity[rows] == 2).mean()
    cc = (severity[rows] == 1).mean()
    assert abs(mcc - P.mcc_rate) < 0.02
    assert abs(cc - P.cc_rate) < 0.03
    day = (province.cases["care_type"] == "day_surgery").to_numpy()
    assert (severity[day] > 0).mean() < 0.5 * (P.mcc_rate + P.cc_rate)


def test_excluded_complications_occur(province, national_scheme):
    t = national_scheme.tables
    cc_table = dict(zip(t["cc"]["code"], t["cc"]["exclusion_table"]))
    principal_table = dict(zip(t["cc_exclusion"]["principal_dx"], t["cc_exclusion"]["exclusion_table"]))
    lists = province.cases["dx"].str.split("|")
    ptable = lists.str[0].map(principal_table)
    secondary = lists.str[1:].explode().dropna()
    same = secondary.map(cc_table).to_numpy() == ptable.loc[secondary.index].to_numpy()
    share = pd.Series(same, index=secondary.index).groupby(level=0).any().reindex(
        province.cases.index, fill_value=False).mean()
    assert abs(share - P.excluded_cc_rate) < 0.01


def test_costs_rise_with_severity_level_and_year(province, grouped):
    cases = province.cases.assign(drg=grouped["drg"].astype(str), adrg=grouped["adrg"].astype(str))
    ordinary = cases[(cases["care_type"] == "inpatient") & (grouped["status"] == "ok")]
    by_level = ordinary.groupby(["drg", "hospital_level"])["total_cost"].median().unstack()
    ratio32 = (by_level[3] / by_level[2]).dropna()
    ratio21 = (by_level[2] / by_level[1]).dropna()
    m = P.level_cost_multipliers
    assert abs(ratio32.median() - m[2] / m[1]) < 0.12
    assert abs(ratio21.median() - m[1] / m[0]) < 0.12
    # costs follow the shipped weight table: where its MCC DRG weighs clearly more than the ADRG's DRG
    # without complication (in 115 of 123 ADRGs; real RWs are not always ordered), so do the stays
    split = ordinary["drg"].str[3]
    per_adrg = ordinary.assign(split=split).groupby(["adrg", "split"])["total_cost"].median().unstack()
    rw = SHIPPED_RW.to_frame("rw").assign(adrg=SHIPPED_RW.index.str[:3], split=SHIPPED_RW.index.str[3])
    rw = rw.pivot_table(index="adrg", columns="split", values="rw")
    heavier = rw.index[rw["1"] > 1.1 * rw["5"]]
    both = per_adrg.loc[per_adrg.index.intersection(heavier), ["1", "5"]].dropna()
    assert len(both) > 80
    assert (both["1"] > both["5"]).mean() > 0.85
    by_year = ordinary.groupby(["drg", "year"])["total_cost"].median().unstack()
    growth = (by_year[2025] / by_year[2023]).dropna().median() ** 0.5
    assert abs(growth - (1 + P.cost_growth)) < 0.03


def test_mean_cost_per_drg_follows_the_shipped_weight_table(province):
    """Synth's own ADRG model gave a Spearman correlation of about 0.5 with published RWs."""
    assert province.info["costs"]["weights"] == "drgdip.data/weights/chs-drg-1.1.csv"
    cases = province.cases
    psychiatric = province.hospitals.loc[province.hospitals["hospital_type"] == "psychiatric", "hospital_id"]
    paid_by_drg = ((cases["status"].astype(str) == "ok") & ~cases["care_type"].isin(["tcm_day", "day_ward"])
                   & ~cases["hospital_id"].isin(psychiatric))
    stays = cases[paid_by_drg.to_numpy()]
    mean = stays.groupby(stays["drg"].astype(str))["total_cost"].mean()
    assert len(mean) > 550
    assert mean.corr(SHIPPED_RW.reindex(mean.index), method="spearman") > 0.9
    every_stay = cases[(cases["status"].astype(str) == "ok").to_numpy()]
    mean = every_stay.groupby(every_stay["drg"].astype(str))["total_cost"].mean()
    assert mean.corr(SHIPPED_RW.reindex(mean.index), method="spearman") > 0.85


def test_cost_outliers_exist_in_both_tails(province, grouped):
    cases = province.cases.assign(drg=grouped["drg"].astype(str))
    ordinary = cases[(cases["care_type"] == "inpatient") & (grouped["status"] == "ok")]
    ratio = ordinary["total_cost"] / ordinary.groupby(["drg", "hospital_level", "year"])[
        "total_cost"].transform("median")
    assert 0.02 < (ratio < 0.5).mean() < 0.10
    assert 0.02 < (ratio > 2.0).mean() < 0.10
    assert (ratio > 3.0).mean() > 0.005


def test_hospitals_levels_and_beds(province):
    h = province.hospitals
    shares = h["level"].value_counts(normalize=True)
    for level, share in zip((1, 2, 3), P.hospital_level_shares):
        assert abs(shares.get(level, 0) - share) <= 0.07
    for level, (lo, hi) in zip((1, 2, 3), P.level_beds):
        beds = h.loc[(h["level"] == level) & (h["hospital_type"] != "psychiatric"), "beds"]
        assert beds.between(lo, hi).all()
    assert set(h["hospital_type"]) == {"general", "tcm", "psychiatric"}
    assert h["region"].nunique() == 6
    assert set(h["region"]) == set(province.info["regions"])


def test_remote_share_and_insurance(province):
    c = province.cases
    remote = c["region"] != c["insured_region"]
    assert 0.10 <= remote.mean() <= 0.20
    assert abs(remote.mean() - P.remote_share) < 0.015
    assert remote[c["hospital_level"] == 3].mean() > remote[c["hospital_level"] == 1].mean()
    assert (c["insured_region"].str[:2] == c["region"].str[:2]).all()
    assert abs((c["insurance_type"] == "employee").mean() - P.employee_share) < 0.01
    share = c["fund_paid"] / c["total_cost"]
    local = ~remote
    employee = share[local & (c["insurance_type"] == "employee")].mean()
    resident = share[local & (c["insurance_type"] == "resident")].mean()
    assert employee - resident > 0.1
    assert abs(employee - P.fund_share_employee) < 0.05
    assert share[remote].mean() < share[local].mean()


def test_care_type_shares(province):
    share = province.cases["care_type"].value_counts(normalize=True)
    for name, expected in (("day_surgery", P.day_surgery_share), ("day_chemo", P.day_chemo_share),
                           ("tcm_day", P.tcm_day_share), ("day_ward", P.day_ward_share)):
        assert abs(share[name] - expected) < 0.003 + 0.1 * expected, name


def test_day_surgery_windows(province):
    c = province.cases[province.cases["care_type"] == "day_surgery"]
    hours = (c["discharge_time"] - c["admit_time"]).dt.total_seconds() / 3600
    lt24, mid, over = P.day_surgery_window_shares
    assert abs((hours < 24).mean() - lt24) < 0.02
    assert abs(((hours >= 24) & (hours <= 48)).mean() - mid) < 0.015
    assert abs((hours > 48).mean() - over) < 0.01
    assert (c["leaving_type"] == 1).all()


def test_day_chemo_and_tcm_day(province, grouped):
    c = province.cases
    chemo = c["care_type"] == "day_chemo"
    hours = (c["discharge_time"] - c["admit_time"]).dt.total_seconds() / 3600
    assert (hours[chemo] < 48).all() and (hours[chemo] < 24).mean() > 0.9
    assert (c.loc[chemo, "hospital_level"] == 3).all()
    assert c.loc[chemo, "proc"].str.startswith("99.25").all()
    tcm = c["care_type"] == "tcm_day"
    lo, hi = P.tcm_day_days
    assert c.loc[tcm, "los"].between(lo, hi).all()
    assert (c.loc[tcm, "hospital_level"] >= 2).all()
    assert grouped.loc[tcm, "mdc"].astype(str).eq("MDCI").mean() > 0.5


def test_day_ward_periods_have_their_visits(province):
    c = province.cases
    ward = c[c["care_type"] == "day_ward"]
    visits = province.day_ward_visits
    assert set(visits["case_id"]) == set(ward["case_id"])
    per_case = visits.groupby("case_id")["visit_date"].agg(["count", "min", "max"])
    per_case = per_case.loc[ward["case_id"]]
    assert (per_case["count"].to_numpy() == ward["los"].to_numpy()).all()
    assert (per_case["min"].to_numpy() == ward["admit_time"].dt.normalize().to_numpy()).all()
    assert (per_case["max"].to_numpy() == ward["discharge_time"].dt.normalize().to_numpy()).all()
    span = (ward["discharge_time"] - ward["admit_time"]).dt.days
    lo, hi = P.day_ward_period_days
    assert span.between(1, hi).all() and (span >= lo - 7).mean() > 0.9
    assert visits.duplicated().sum() == 0


def test_psychiatric_long_stays(province, grouped):
    c = province.cases
    long_psych = (grouped["mdc"].astype(str).isin(["MDCT", "MDCU"]) & (c["los"] >= 30)
                  & (c["dept"] == "A15"))
    assert abs(long_psych.mean() - P.psych_long_stay_share) < 0.004
    lo, hi = P.psych_long_stay_los
    assert c.loc[long_psych, "los"].between(lo, hi).all()
    psych_hospitals = set(province.hospitals.loc[province.hospitals["hospital_type"] == "psychiatric",
                                                 "hospital_id"])
    # bed-day long stays go to psychiatric hospitals; a few ordinary psychiatric stays also last 30+ days
    assert c.loc[long_psych, "hospital_id"].isin(psych_hospitals).mean() > 0.9


def test_los_matches_the_dates(province):
    c = province.cases
    days = (c["discharge_time"].dt.normalize() - c["admit_time"].dt.normalize()).dt.days
    calendar = c["care_type"].isin(["inpatient", "day_surgery", "day_chemo"])
    assert (c.loc[calendar, "los"] == days[calendar].clip(lower=1)).all()
    tcm = c["care_type"] == "tcm_day"
    assert (c.loc[tcm, "los"] == days[tcm] + 1).all()


def test_preoperative_outpatient_visits(province, grouped):
    c = province.cases.set_index("case_id")
    out = province.outpatient
    related = out[out["related_case_id"].notna()]
    stay = c.loc[related["related_case_id"]]
    assert (related["patient_id"].to_numpy() == stay["patient_id"].to_numpy()).all()
    assert (related["hospital_id"].to_numpy() == stay["hospital_id"].to_numpy()).all()
    before = stay["admit_time"].to_numpy() - related["visit_time"].to_numpy()
    assert (before > np.timedelta64(0, "s")).all()
    assert (before <= np.timedelta64(P.preop_window_days, "D")).all()
    day_surgery = province.cases["care_type"] == "day_surgery"
    with_visits = province.cases.loc[day_surgery, "case_id"].isin(set(related["related_case_id"]))
    assert abs(with_visits.mean() - P.preop_visit_share_day_surgery) < 0.04
    unrelated = out[out["related_case_id"].isna()]
    assert abs(len(unrelated) / len(province.cases) - P.unrelated_visits_per_case) < 0.01
    assert out["visit_time"].is_monotonic_increasing


def test_patients_repeat_with_consistent_ages(province):
    c = province.cases
    stays = c.groupby("patient_id")["case_id"].transform("count")
    assert 0.12 < (stays > 1).mean() < 0.35
    multi = c[stays > 1]
    for column in ("gender", "insured_region", "insurance_type"):
        assert (multi.groupby("patient_id")[column].nunique() == 1).all(), column
    birth = multi["admit_time"].dt.normalize() - pd.to_timedelta(multi["age_days"].astype("int64"), "D")
    assert (birth.groupby(multi["patient_id"]).nunique() == 1).all()
    ordered = multi.sort_values(["patient_id", "admit_time"])
    previous_end = ordered.groupby("patient_id")["discharge_time"].shift()
    assert (previous_end.isna() | (ordered["admit_time"] > previous_end)).all()
    assert (c["patient_id"].str[:6] == c["insured_region"]).all()
