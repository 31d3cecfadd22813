"""Building a DIP directory from history (domain.md §3.1, §3.4, §3.5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drgdip.core.errors import UsageError
from drgdip.grouper.dip import group_dip
from drgdip.grouper.dip_directory import load_dip_directory
from drgdip.pointvalue import (AuxTypingRules, Calibration, DipBuildRules, PointsPolicy, Trim, build_dip_directory,
                        points_policy_from_mapping)

ATTRIBUTES = pd.DataFrame({"proc": ["47.0100", "47.0901", "99.2500", "45.1300", "36.0601"],
                           "attribute": ["surgery", "surgery", "therapeutic", "diagnostic", "interventional"]})
NO_TRIM = Calibration(trim=Trim(method="none"), year_weights=(1,))


def block(n, dx, proc, cost, year=2023, **fields):
    frame = pd.DataFrame({"dx": [dx] * n, "proc": [proc] * n, "year": [year] * n,
                          "total_cost": np.broadcast_to(np.asarray(cost, dtype=float), (n,)).copy(), "los": 6})
    for name, value in fields.items():
        frame[name] = value
    return frame


def build(history, calibration=NO_TRIM, **rules):
    aux = rules.pop("aux", AuxTypingRules(aux_min_cases_group=10_000))
    return build_dip_directory(history, DipBuildRules(aux=aux, **rules), proc_attributes=ATTRIBUTES,
                               calibration=calibration)


def codes(d):
    return dict(zip(d.groups["dip_group"], d.groups["dip_type"]))


def test_core_threshold_and_comprehensive_groups():
    history = pd.concat([
        block(15, "K35.800", "47.0100", 10000),      # core (15 >= 15)
        block(14, "K35.800", "47.0901", 12000),      # under threshold -> K35 surgery comprehensive
        block(20, "K35.300", "", 4000),               # medical core
        block(3, "K35.300", "45.1300", 5000),        # -> K35 diagnostic
        block(2, "K80.100", "99.2500", 6000),        # -> K80 therapeutic
    ], ignore_index=True)
    d = build(history, core_threshold=15)
    assert codes(d) == {"K35.3": "core", "K35.8:47.0100": "core", "K35/diagnostic": "comprehensive",
                        "K35/surgery": "comprehensive", "K80/therapeutic": "comprehensive"}
    groups = d.groups.set_index("dip_group")
    assert groups.loc["K35.8:47.0100", "n_cases"] == 15
    # average method: m_i / M × 1000 with M the all-case mean
    m = history["total_cost"].mean()
    assert d.all_case_mean == pytest.approx(m)
    assert groups.loc["K35/surgery", "score"] == pytest.approx(12000 / m * 1000)
    assert groups.loc["K35.3", "score"] == pytest.approx(4000 / m * 1000)
    grouped = group_dip(history, d)
    assert (grouped["dip_type"] != "ungrouped").all()


def test_coverage_threshold():
    history = pd.concat([block(60, "A01.000", "", 100), block(30, "A02.000", "", 100), block(6, "A03.000", "", 100),
                         block(4, "A04.000", "", 100)], ignore_index=True)
    # cover >= 90% of 100 cases: 60 + 30 = 90 -> threshold 30
    d = build(history, core_coverage=0.9, comprehensive_min_cases=1)
    assert {g for g, t in codes(d).items() if t == "core"} == {"A01.0", "A02.0"}
    d = build(history, core_coverage=0.95, comprehensive_min_cases=1)
    assert {g for g, t in codes(d).items() if t == "core"} == {"A01.0", "A02.0", "A03.0"}


def test_related_procedure_forms_its_own_group_when_it_raises_cost_enough():
    history = pd.concat([block(20, "K35.800", "47.0100", 10000),
                         block(20, "K35.800", "47.0100|99.2500", 11500),     # +15%: own group
                         block(20, "K35.800", "47.0100|45.1300", 10500)],    # +5%: stays in base group
                        ignore_index=True)
    d = build(history, core_threshold=15)
    assert set(codes(d)) == {"K35.8:47.0100", "K35.8:47.0100+99.2500"}
    groups = d.groups.set_index("dip_group")
    assert groups.loc["K35.8:47.0100+99.2500", "related_procs"] == "99.2500"
    assert groups.loc["K35.8:47.0100", "n_cases"] == 40
    assert groups.loc["K35.8:47.0100", "mean_cost"] == pytest.approx(10250.0)
    d = build(history, core_threshold=15, related_proc_min_uplift=0.2)
    assert set(codes(d)) == {"K35.8:47.0100"}


def test_comprehensive_fallback_and_dropped_groups():
    history = pd.concat([block(30, "K35.800", "", 100), block(5, "K36.000", "", 100), block(5, "K37.000", "", 100),
                         block(2, "B01.000", "", 100)], ignore_index=True)
    d = build(history, core_threshold=30, comprehensive_min_cases=6, comprehensive_fallback=(3, 2))
    assert codes(d) == {"K35.8": "core", "K3/medical": "comprehensive"}
    out = group_dip(history, d)
    assert (out["dip_type"] == "ungrouped").sum() == 2        # B01: under the minimum at every length


def test_year_weights_and_trimming_enter_the_scores():
    history = pd.concat([block(20, "K35.800", "", 9000, year=2021), block(20, "K35.800", "", 9500, year=2022),
                         block(20, "K35.800", "", 10000, year=2023)], ignore_index=True)
    d = build_dip_directory(history, DipBuildRules(core_threshold=15), proc_attributes=ATTRIBUTES)
    group = d.groups.set_index("dip_group").loc["K35.8"]
    assert group["mean_cost"] == pytest.approx(9800.0)
    assert group["score"] == pytest.approx(1000.0)           # the only group: its mean is M


def test_basic_groups():
    rng = np.random.default_rng(0)
    history = pd.concat([block(40, "J18.900", "", rng.normal(5000, 300, 40)),                 # stable medical
                         block(40, "I63.900", "", rng.lognormal(9, 1.2, 40)),                 # CV > 0.7
                         block(40, "K35.800", "47.0100", rng.normal(10000, 500, 40))],        # procedural
                        ignore_index=True)
    history["hospital_level"] = np.tile([2, 3], 60)
    d = build(history, core_threshold=15)
    basic = d.groups.set_index("dip_group")["is_basic"]
    assert basic.to_dict() == {"I63.9": False, "J18.9": True, "K35.8:47.0100": False}
    d = build(history, core_threshold=15, basic_group_medical_only=False)
    assert d.groups.set_index("dip_group")["is_basic"]["K35.8:47.0100"]
    coef = d.groups.set_index("dip_group").loc["J18.9"]
    assert coef["basic_coef"] == pytest.approx(coef["mean_cost_level_2"] / coef["mean_cost"])


def test_auxiliary_typing_worked_example_3_5():
    # group mean 20,000, severe subtype mean 30,000 -> aux coef 1.5
    history = pd.concat([block(80, "K35.800|E11.900", "47.0100", 17500),
                         block(20, "K35.800|A41.900", "47.0100", 30000)], ignore_index=True)
    severity = pd.DataFrame({"dx": ["A41"], "severity": ["severe"]})
    d = build_dip_directory(history, DipBuildRules(core_threshold=15, aux=AuxTypingRules(
        aux_min_cases_group=50, aux_min_cases_sub=10, kinds=("severity",))), proc_attributes=ATTRIBUTES,
        calibration=NO_TRIM, severity_dx=severity)
    assert d.aux[["dip_group", "subtype"]].values.tolist() == [["K35.8:47.0100", "severe"]]
    assert d.aux["aux_coef"].iloc[0] == pytest.approx(1.5)
    assert d.aux["trigger"].iloc[0] == pytest.approx(1.5)
    out = group_dip(history, d)
    assert out["dip_aux_coef"].tolist() == [1.0] * 80 + [1.5] * 20
    # gates: too few subtype cases, or too small a CV drop
    few = build_dip_directory(history, DipBuildRules(core_threshold=15, aux=AuxTypingRules(
        aux_min_cases_group=50, aux_min_cases_sub=21)), proc_attributes=ATTRIBUTES, calibration=NO_TRIM,
        severity_dx=severity)
    assert len(few.aux) == 0
    noisy = history.assign(total_cost=history["total_cost"] * np.resize([0.3, 1.7], 100))
    strict = build_dip_directory(noisy, DipBuildRules(core_threshold=15, aux=AuxTypingRules(
        aux_min_cases_group=50, aux_min_cases_sub=10, aux_trigger_cv_drop=0.5)), proc_attributes=ATTRIBUTES,
        calibration=NO_TRIM, severity_dx=severity)
    assert len(strict.aux) == 0


def test_built_directory_round_trips_and_policy_input(tmp_path):
    history = pd.concat([block(20, "K35.800", "47.0100", 10000), block(5, "K35.300", "", 3000)], ignore_index=True)
    policy = points_policy_from_mapping({"scheme": "dip", "dip": {"core_threshold": 10},
                                         "calibration": {"trim": {"method": "none"}}})
    d = build_dip_directory(history, policy, proc_attributes=ATTRIBUTES)
    assert d.points_scale == 1000.0
    d.to_dir(tmp_path / "dip")
    loaded = load_dip_directory(tmp_path / "dip")
    pd.testing.assert_frame_equal(group_dip(history, loaded), group_dip(history, d), check_exact=False, rtol=1e-9)


def test_builder_errors():
    with pytest.raises(UsageError, match="missing column"):
        build_dip_directory(pd.DataFrame({"dx": ["K35.800"]}), proc_attributes=ATTRIBUTES)
    with pytest.raises(UsageError, match="no case with a principal diagnosis"):
        build_dip_directory(block(3, "", "", 100), proc_attributes=ATTRIBUTES)
    with pytest.raises(UsageError, match=r"procedure attributes: missing column"):
        build_dip_directory(block(3, "K35.800", "", 100), proc_attributes=pd.DataFrame({"proc": ["x"]}))


def test_policy_defaults_for_dip():
    policy = PointsPolicy(scheme="dip")
    assert policy.points_scale == 1000.0 and policy.dip.core_threshold == 15


def test_shipped_demo_directory_matches_a_rebuild(tmp_path):
    """The demo directory is a build product of the demo province's history: if this fails after the
    demo scheme or the synthetic province changed, rebuild it (:func:`drgdip.demo.build_demo_dip_directory`)."""
    from pathlib import Path
    from drgdip.demo import build_demo_dip_directory
    repo = Path(__file__).resolve().parents[1]
    build_demo_dip_directory(tmp_path)
    shipped = load_dip_directory(repo / "data" / "demo" / "dip")
    rebuilt = load_dip_directory(tmp_path)
    pd.testing.assert_frame_equal(shipped.groups, rebuilt.groups)
    pd.testing.assert_frame_equal(shipped.aux, rebuilt.aux)
    pd.testing.assert_frame_equal(shipped.proc_attributes, rebuilt.proc_attributes)
    assert shipped.all_case_mean == pytest.approx(rebuilt.all_case_mean, rel=1e-12)


def test_tumour_and_comorbidity_subtypes_derived_from_history(tmp_path):
    # §3.5: each subtype's aux coef = subtype mean / group mean, e.g. 20,000 -> 30,000 gives 1.5
    history = pd.concat([
        block(80, "C34.100", "", 17500, drug_cost=0.0),
        block(20, "C34.100|C78.000", "", 30000, drug_cost=0.0),             # metastasis, LOS 6 > 3
        block(90, "C50.900", "", 10000, drug_cost=1000.0),
        block(10, "C50.900", "", 50000, drug_cost=30000.0),                 # ≥ 3 × 14,000 and drugs ≥ 50%
        block(80, "I21.000", "", 17500, drug_cost=0.0),
        block(20, "I21.000|I50.900|J44.900|E11.200", "", 30000, drug_cost=0.0),  # CCI 1 + 1 + 2 = 4
    ], ignore_index=True)
    rules = DipBuildRules(core_threshold=15, aux=AuxTypingRules(aux_min_cases_group=50, aux_min_cases_sub=10,
                                                                kinds=("tumour", "cci")))
    d = build_dip_directory(history, rules, proc_attributes=ATTRIBUTES, calibration=NO_TRIM)
    got = {(row.dip_group, row.subtype): round(row.aux_coef, 6) for row in d.aux.itertuples()}
    assert got == {("C34.1", "tumour_metastasis"): 1.5, ("C34.1", "cci_5_plus"): 1.5,   # C78: Charlson 6
                   ("C50.9", "tumour_high_cost_2"): round(50000 / 14000, 6),
                   ("I21.0", "cci_3_4"): 1.5}
    # the C34.1 metastases meet two subtypes with equal triggers: the first in the aux table wins
    expected = ["-"] * 80 + ["cci_5_plus"] * 20 + ["-"] * 90 + ["tumour_high_cost_2"] * 10 \
        + ["-"] * 80 + ["cci_3_4"] * 20
    out = group_dip(history, d)
    assert out["dip_subtype"].astype("string").fillna("-").tolist() == expected
    # written and read back, the directory types the same way: the high-cost bound is the group's
    # mean cost, which groups.csv carries
    d.to_dir(tmp_path / "built")
    again = group_dip(history, load_dip_directory(tmp_path / "built"))
    assert again["dip_subtype"].astype("string").fillna("-").tolist() == expected
    assert again["dip_aux_coef"].tolist() == pytest.approx(out["dip_aux_coef"].tolist(), rel=1e-9)


def test_high_cost_tumour_typing_needs_three_times_the_group_mean():
    history = pd.concat([block(90, "C50.900", "", 10000, drug_cost=1000.0),
                         block(10, "C50.900", "", 38000, drug_cost=30000.0)],   # 38,000 < 3 × 12,800
                        ignore_index=True)
    rules = DipBuildRules(core_threshold=15, aux=AuxTypingRules(aux_min_cases_group=50, aux_min_cases_sub=10,
                                                                kinds=("tumour",)))
    d = build_dip_directory(history, rules, proc_attributes=ATTRIBUTES, calibration=NO_TRIM)
    assert len(d.aux) == 0


def test_tumour_and_cci_kinds_in_policy_yaml():
    policy = points_policy_from_mapping({"scheme": "dip", "dip": {"aux": {"kinds": ["tumour", "cci"]}}})
    assert policy.dip.aux.kinds == ("tumour", "cci")
    with pytest.raises(UsageError, match=r"dip\.aux\.kinds"):
        points_policy_from_mapping({"scheme": "dip", "dip": {"aux": {"kinds": ["tumor"]}}})


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_tumour_subtypes_from_a_history_file(tmp_path, kind):
    """The cost parts that type high-cost tumour stays are read from a history file too."""
    history = pd.concat([block(90, "C50.900", "", 10000, drug_cost=1000.0),
                         block(10, "C50.900", "", 50000, drug_cost=30000.0)], ignore_index=True)
    path = tmp_path / f"history.{kind}"
    if kind == "csv":
        history.to_csv(path, index=False)
    else:
        history.to_parquet(path, index=False)
    rules = DipBuildRules(core_threshold=15, aux=AuxTypingRules(aux_min_cases_group=50, aux_min_cases_sub=10,
                                                                kinds=("tumour",)))
    d = build_dip_directory(path, rules, proc_attributes=ATTRIBUTES, calibration=NO_TRIM)
    assert d.aux[["dip_group", "subtype"]].values.tolist() == [["C50.9", "tumour_high_cost_2"]]
