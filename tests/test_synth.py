"""The synthetic province on the demo scheme: schema, determinism, grouping, files, CLI, demo."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgdip.cli import main
from drgdip.core.errors import ConfigError
from drgdip.demo import run_demo
from drgdip.grouper import group_cases, load_scheme
from drgdip.synth import (CASE_COLUMNS, CASE_DTYPES, DAY_WARD_VISIT_DTYPES, HOSPITAL_DTYPES,
                   OUTPATIENT_DTYPES, SynthParams, generate_province,
                   read_synthetic_province, write_province)
from drgdip.synth.casemix import INVALID_REASONS
from tests.conftest import DEMO_SCHEME_DIR

PAYMENT_COLUMNS = ("hospital_id", "hospital_level", "region", "insured_region", "insurance_type",
                   "care_type", "admit_time", "discharge_time", "los", "total_cost", "fund_paid",
                   "self_pay_in_scope", "self_pay_out_scope", "drug_cost", "consumable_cost",
                   "patient_id", "year", "case_id", "dx", "dept", "leaving_type")


@pytest.fixture(scope="module")
def demo_scheme():
    return load_scheme(DEMO_SCHEME_DIR)


@pytest.fixture(scope="module")
def province(demo_scheme):
    return generate_province(demo_scheme, cases=6000, years=(2023, 2024, 2025), hospitals=12,
                             regions=3, seed=11)


def expected_invalid_reason(cases: pd.DataFrame) -> pd.Series:
    """The validation failure each case's own fields imply (RULES.md section 2), '' if none."""
    gender, age = cases["gender"], cases["age"]
    age_days, weight = cases["age_days"], cases["birth_weight"]
    reason = pd.Series("", index=cases.index, dtype=object)
    newborn = (age == 0).fillna(False)
    checks = [
        ("birth_weight_missing", newborn & (age_days <= 28).fillna(False) & weight.isna()),
        ("age_days_missing", newborn & age_days.isna()),
        ("age_missing", age.isna()),
        ("gender_invalid", gender.notna() & ~gender.isin([1, 2])),
        ("gender_missing", gender.isna()),
    ]
    for name, mask in checks:          # later checks win: they come first in the validation order
        reason[mask.to_numpy(bool)] = name
    return reason


# ------------------------------------------------------------------------------- parameters


def test_params_defaults_are_valid_and_frozen():
    params = SynthParams()
    assert 0.10 <= params.remote_share <= 0.20
    assert params.invalid_share == 0.005
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.remote_share = 0.3  # type: ignore[misc]
    assert SynthParams(**params.to_dict() | {"level_beds": ((1, 2), (3, 4), (5, 6))}).level_beds[2] == (5, 6)


@pytest.mark.parametrize("changes, field", [
    ({"remote_share": 1.5}, "remote_share"),
    ({"mcc_rate": -0.1}, "mcc_rate"),
    ({"core_pool_size": 0}, "core_pool_size"),
    ({"hospital_level_shares": (0.5, 0.5, 0.5)}, "hospital_level_shares"),
    ({"day_surgery_window_shares": (0.9, 0.1)}, "day_surgery_window_shares"),
    ({"low_outlier_range": (0.6, 0.2)}, "low_outlier_range"),
    ({"high_outlier_range": (0.5, 2.0)}, "high_outlier_range"),
    ({"day_surgery_share": 0.7, "day_chemo_share": 0.5}, "day_surgery_share"),
    ({"case_cost_sigma": "wide"}, "case_cost_sigma"),
    ({"fund_share_employee": 0.99}, "fund_share_level_adjust"),
])
def test_params_reject_bad_values_naming_the_field(changes, field):
    with pytest.raises(ConfigError, match=rf"^SynthParams\.{field}(\[\d\])?: "):
        SynthParams(**changes)


@pytest.mark.parametrize("kwargs", [{"cases": -1}, {"years": ()}, {"years": (2023, 2023)},
                                    {"hospitals": 0}, {"regions": 0}, {"seed": -3},
                                    {"regions": ["370100", "420500"]}, {"regions": ["3701"]}])
def test_generate_rejects_bad_arguments(demo_scheme, kwargs):
    with pytest.raises(ValueError):
        generate_province(demo_scheme, **({"cases": 10} | kwargs))


# ------------------------------------------------------------------------------- schema


def test_case_table_schema(province):
    cases = province.cases
    assert tuple(cases.columns) == CASE_COLUMNS
    assert {c: str(t) for c, t in cases.dtypes.items()} == CASE_DTYPES
    for column in PAYMENT_COLUMNS:
        assert cases[column].notna().all(), column
    assert cases["case_id"].is_unique
    assert (cases["total_cost"] > 0).all()
    assert set(cases["insurance_type"]) == {"employee", "resident"}
    assert set(cases["hospital_level"]) <= {1, 2, 3}
    assert set(cases["leaving_type"]) <= {1, 2, 3, 4, 5, 9}


def test_other_tables_schema(province):
    for frame, dtypes in ((province.hospitals, HOSPITAL_DTYPES), (province.outpatient, OUTPATIENT_DTYPES),
                          (province.day_ward_visits, DAY_WARD_VISIT_DTYPES)):
        assert {c: str(t) for c, t in frame.dtypes.items()} == dtypes
    h = province.hospitals
    assert h["hospital_id"].is_unique and (h["level"] == 3).any()
    assert set(province.cases["hospital_id"]) <= set(h["hospital_id"])
    assert province.outpatient["visit_id"].is_unique


def test_cases_are_numbered_in_discharge_order(province):
    cases = province.cases
    dates = cases["discharge_time"].dt.normalize()
    assert dates.is_monotonic_increasing
    assert (cases["discharge_time"].dt.year == cases["year"]).all()
    first = cases.groupby("year")["case_id"].first()
    assert list(first) == [f"C{y}000000001" for y in first.index]


def test_money_adds_up_to_the_fen(province):
    c = province.cases
    fen = lambda col: np.rint(c[col].to_numpy() * 100).astype(np.int64)  # noqa: E731
    assert np.array_equal(fen("fund_paid") + fen("self_pay_in_scope") + fen("self_pay_out_scope"),
                          fen("total_cost"))
    assert (fen("drug_cost") + fen("consumable_cost") <= fen("total_cost")).all()
    for col in ("total_cost", "fund_paid", "drug_cost"):
        assert np.allclose(c[col] * 100, np.rint(c[col] * 100)), col


# ------------------------------------------------------------------------------- grouping


def test_every_case_groups_except_the_invalid_share(province, demo_scheme):
    cases = province.cases
    grouped = group_cases(cases, demo_scheme)
    status = grouped["status"].astype(str)
    reason = expected_invalid_reason(cases)
    invalid = reason != ""
    assert (status[~invalid] == "ok").all()
    assert (status[invalid] == "invalid_input:" + reason[invalid]).all()
    assert set(reason[invalid]) == set(INVALID_REASONS)
    assert 0.002 < invalid.mean() < 0.01


def test_written_group_columns_are_the_groups_of_the_final_cases(province, demo_scheme):
    """synth keeps the grouping it verified the codes with; it equals grouping the finished stays."""
    regrouped = group_cases(province.cases, demo_scheme)
    for column in ("status", "mdc", "adrg", "drg"):
        assert (province.cases[column].astype(str).to_numpy() == regrouped[column].astype(str).to_numpy()).all()
    grouping = province.info["grouping"]
    assert grouping["columns"] == ["status", "mdc", "adrg", "drg"]
    assert grouping["scheme_fingerprint"] == demo_scheme.fingerprint != ""


def test_sex_specific_groups_have_the_right_gender(province, demo_scheme):
    grouped = group_cases(province.cases, demo_scheme)
    gender = province.cases["gender"]
    mdc = grouped["mdc"].astype(str)
    assert (gender[mdc == "MDCM"] == 1).all()
    assert (gender[mdc == "MDCN"] == 2).all()
    assert (province.cases["age"][mdc == "MDCP"] == 0).all()


def test_redraw_rounds_repair_cases_the_grouper_rejects(demo_scheme):
    """A grouper that rejects every case's first attempt forces re-draws and the core fallback."""
    calls = {"n": 0}

    def flaky(frame):
        out = group_cases(frame, demo_scheme)
        if frame["case_id"].iloc[0].startswith("C"):
            calls["n"] += 1
            if calls["n"] <= 3:       # the first grouping and two re-draw rounds fail for everyone
                out["status"] = pd.Categorical(["no_group"] * len(out))
        return out

    params = SynthParams(redraw_rounds=3)
    province = generate_province(demo_scheme, cases=500, hospitals=5, regions=2, seed=5,
                                 params=params, group_fn=flaky)
    assert province.info["redrawn_cases"] == 1500
    assert province.info["fallback_cases"] == 500
    grouped = group_cases(province.cases, demo_scheme)
    invalid = expected_invalid_reason(province.cases) != ""
    assert (grouped["status"].astype(str)[~invalid] == "ok").all()


def test_grouper_that_never_agrees_is_an_error(demo_scheme):
    def stubborn(frame):
        out = group_cases(frame, demo_scheme)
        if frame["case_id"].iloc[0].startswith("C"):
            out["status"] = pd.Categorical(["no_group"] * len(out))
        return out

    with pytest.raises(RuntimeError, match="do not group as intended"):
        generate_province(demo_scheme, cases=50, hospitals=3, regions=1, seed=1,
                          params=SynthParams(redraw_rounds=2), group_fn=stubborn)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), hospitals=st.integers(1, 9),
       regions=st.integers(1, 5), invalid_share=st.floats(0, 0.2), remote_share=st.floats(0, 0.5))
def test_invariants_for_any_seed_and_size(demo_scheme, seed, n, hospitals, regions, invalid_share,
                                          remote_share):
    params = SynthParams(invalid_share=invalid_share, remote_share=remote_share)
    p = generate_province(demo_scheme, cases=n, hospitals=hospitals, regions=regions, seed=seed,
                          params=params)
    cases = p.cases
    assert len(cases) == n and tuple(cases.columns) == CASE_COLUMNS
    assert {c: str(t) for c, t in cases.dtypes.items()} == CASE_DTYPES
    assert len(p.hospitals) == hospitals
    grouped = group_cases(cases, demo_scheme)
    reason = expected_invalid_reason(cases)
    status = grouped["status"].astype(str)
    assert (status[reason == ""] == "ok").all()
    assert (status[reason != ""] == "invalid_input:" + reason[reason != ""]).all()
    assert (cases["admit_time"] < cases["discharge_time"]).all()
    assert (cases["los"] >= 1).all()
    fen = lambda col: np.rint(cases[col].to_numpy() * 100).astype(np.int64)  # noqa: E731
    assert np.array_equal(fen("fund_paid") + fen("self_pay_in_scope") + fen("self_pay_out_scope"),
                          fen("total_cost"))
    if regions == 1:
        assert (cases["region"] == cases["insured_region"]).all()


# ------------------------------------------------------------------------------- determinism


def test_same_seed_same_province_other_seed_other_province(demo_scheme, province):
    again = generate_province(demo_scheme, cases=6000, years=(2023, 2024, 2025), hospitals=12,
                              regions=3, seed=11)
    for name in ("cases", "hospitals", "outpatient", "day_ward_visits"):
        pd.testing.assert_frame_equal(getattr(province, name), getattr(again, name))
    other = generate_province(demo_scheme, cases=6000, years=(2023, 2024, 2025), hospitals=12,
                              regions=3, seed=12)
    assert not province.cases["dx"].equals(other.cases["dx"])


def _digests(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_files_are_byte_identical_across_runs(tmp_path, fmt):
    args = ["synth", "--scheme", str(DEMO_SCHEME_DIR), "--cases", "3000", "--years", "2024,2025",
            "--hospitals", "7", "--regions", "3", "--seed", "99", "--format", fmt]
    assert main(args + ["--output", str(tmp_path / "a")]) == 0
    assert main(args + ["--output", str(tmp_path / "b")]) == 0
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert set(a) == {f"{t}.{fmt}" for t in ("cases", "hospitals", "outpatient", "day_ward_visits")} | {
        "province.json"}
    assert a == b


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_written_province_reads_back_identical(tmp_path, province, fmt):
    write_province(province, tmp_path, format=fmt)
    back = read_synthetic_province(tmp_path)
    for name in ("cases", "hospitals", "outpatient", "day_ward_visits"):
        # a CSV file cannot carry a categorical's category list (the scheme's codes), only its values
        pd.testing.assert_frame_equal(getattr(back, name), getattr(province, name), check_dtype=True,
                                      check_categorical=fmt == "parquet")
    assert back.info["seed"] == 11


# ------------------------------------------------------------------------------- CLI and demo


def test_cli_end_to_end(tmp_path, capsys, demo_scheme):
    out = tmp_path / "province"
    code = main(["synth", "--scheme", str(DEMO_SCHEME_DIR), "--cases", "2500", "--years", "2023,2024",
                 "--hospitals", "6", "--regions", "370800,370900", "--seed", "3", "--output", str(out)])
    assert code == 0
    assert "2,500 cases" in capsys.readouterr().out
    cases = pd.read_parquet(out / "cases.parquet")
    assert len(cases) == 2500 and set(cases["year"]) == {2023, 2024}
    assert set(cases["region"]) <= {"370800", "370900"}
    grouped_file = tmp_path / "grouped.parquet"
    assert main(["group", "--scheme", str(DEMO_SCHEME_DIR), "--input", str(out / "cases.parquet"),
                 "--output", str(grouped_file)]) == 0
    grouped = pd.read_parquet(grouped_file)
    reason = expected_invalid_reason(cases)
    assert (grouped["status"].astype(str)[reason == ""] == "ok").all()


@pytest.mark.parametrize("args, message", [
    (["--years", "2023,x"], "--years"),
    (["--regions", "370100,999"], "6-digit"),
    (["--cases", "-5"], "cases"),
])
def test_cli_bad_arguments_exit_2(tmp_path, capsys, args, message):
    code = main(["synth", "--scheme", str(DEMO_SCHEME_DIR), "--output", str(tmp_path / "o")] + args)
    assert code == 2
    assert message in capsys.readouterr().err


def test_cli_params_file(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text("remote_share: 0.0\nlevel_beds: [[10, 20], [30, 40], [50, 60]]\n", encoding="utf-8")
    out = tmp_path / "o"
    assert main(["synth", "--scheme", str(DEMO_SCHEME_DIR), "--cases", "300", "--seed", "2",
                 "--params", str(params), "--output", str(out)]) == 0
    cases = pd.read_parquet(out / "cases.parquet")
    assert (cases["region"] == cases["insured_region"]).all()
    assert pd.read_parquet(out / "hospitals.parquet")["beds"].between(5, 60).all()
    params.write_text("remote_shares: 0.1\n", encoding="utf-8")
    assert main(["synth", "--scheme", str(DEMO_SCHEME_DIR), "--params", str(params),
                 "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{params}: remote_shares: unknown key (did you mean remote_share?); allowed keys here:" in err
    params.write_text("mcc_rate: 2\n", encoding="utf-8")
    assert main(["synth", "--scheme", str(DEMO_SCHEME_DIR), "--params", str(params),
                 "--output", str(out)]) == 2
    assert f"{params}: mcc_rate: 2.0 is out of range; allowed: 0.0 <= value <= 1.0" in capsys.readouterr().err


def test_cli_missing_scheme_exit_2(tmp_path, capsys):
    code = main(["synth", "--scheme", str(tmp_path / "nope"), "--output", str(tmp_path / "o")])
    assert code == 2
    assert "nope" in capsys.readouterr().err


def test_run_demo_prints_summary_and_writes_files(tmp_path):
    out = io.StringIO()
    assert run_demo(out, cases=3000, seed=1, output=tmp_path) == 0
    text = out.getvalue()
    assert "3,000 cases" in text and "distinct DRGs" in text and "cases/s" in text
    assert "top DRGs" in text and "status: ok" in text
    assert (tmp_path / "cases.parquet").is_file() and (tmp_path / "grouped.parquet").is_file()
    grouped = pd.read_parquet(tmp_path / "grouped.parquet")
    assert len(grouped) == 3000
    assert "settlement point value" in text
    assert "top 5 gaining versus fee-for-service" in text and "top 5 losing versus fee-for-service" in text
    hospitals = pd.read_parquet(tmp_path / "settlement" / "hospitals.parquet")
    assert len(hospitals) > 0 and (tmp_path / "settlement" / "settlement.xlsx").is_file()


def test_run_demo_writes_the_workbook_without_openpyxl(tmp_path, monkeypatch):
    """The workbook is written by xlsxwriter, a dependency; openpyxl only reads Excel inputs."""
    monkeypatch.setitem(sys.modules, "openpyxl", None)   # importing it fails
    assert run_demo(io.StringIO(), cases=1500, seed=2, output=tmp_path) == 0
    assert (tmp_path / "settlement" / "hospitals.parquet").is_file()
    assert (tmp_path / "settlement" / "settlement.xlsx").is_file()


def test_demo_command(capsys):
    assert main(["demo", "--cases", "1500", "--seed", "4", "--no-report"]) == 0
    text = capsys.readouterr().out
    assert "1,500 cases" in text and "settlement point value" in text
