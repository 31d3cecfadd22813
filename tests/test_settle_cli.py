"""``drgdip settle`` and :func:`drgdip.budget.settle_province` end to end on synthetic provinces."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drgdip.budget import format_settlement_summary, load_policy, policy_from_mapping, settle_province
from drgdip.cli import main

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "data" / "policies"
DEMO_SCHEME = REPO / "data" / "demo" / "scheme"
DEMO_DIP = REPO / "data" / "demo" / "dip"
TABLES = ("summary", "pools", "hospitals", "indicators", "indicators_by_level", "indicators_by_region", "monthly",
          "clearing", "clearing_matrix", "cases")
DRG_POLICIES = ("yanbian_day_surgery_2025", "panzhihua_drg_day_care_2025", "remote_pool_province_2025")
DIP_POLICIES = ("jining_dip_day_ward_2025", "hainan_province_2025")


def fen(values) -> np.ndarray:
    return np.rint(np.asarray(values, dtype=np.float64) * 100).astype(np.int64)


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    from drgdip.core.province import write_province
    from drgdip.synth.province import generate_province

    generated = generate_province(DEMO_SCHEME, cases=6_000, years=(2024, 2025), hospitals=12, regions=3, seed=7)
    parquet = tmp_path_factory.mktemp("province_parquet")
    csv = tmp_path_factory.mktemp("province_csv")
    write_province(generated, parquet, "parquet")
    write_province(generated, csv, "csv")
    return generated, parquet, csv


def check_outputs(out: Path, fmt: str = "parquet") -> dict[str, pd.DataFrame]:
    read = pd.read_parquet if fmt == "parquet" else (lambda p: pd.read_csv(p, dtype={"area": str,
                                                                                      "hospital_id": str}))
    tables = {name: read(out / f"{name}.{fmt}") for name in TABLES}
    summary, hospitals = tables["summary"], tables["hospitals"]
    for _, row in summary.iterrows():
        paid = fen(hospitals.loc[hospitals["area"].astype(str) == str(row["area"]), "final_payment"]).sum()
        assert paid + fen(row["reserve_end"]) == fen(row["budget_total"])
    assert fen(hospitals["final_payment"]).sum() == fen(summary["final_payments"]).sum()
    return tables


@pytest.mark.parametrize("name", DRG_POLICIES)
def test_settle_drg_policies(province, tmp_path, capsys, name):
    generated, parquet, _ = province
    out = tmp_path / "out"
    status = main(["settle", "--policy", str(POLICIES / f"{name}.yaml"), "--input", str(parquet),
                   "--output", str(out), "--scheme", str(DEMO_SCHEME)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "settlement point value" in printed and "top 5 gaining versus fee-for-service" in printed
    assert "top 5 losing versus fee-for-service" in printed
    tables = check_outputs(out)
    assert len(tables["cases"]) == int((generated.cases["year"] == 2025).sum())
    assert (out / "settlement.xlsx").is_file()


@pytest.mark.parametrize("name", DIP_POLICIES)
def test_settle_dip_policies(province, tmp_path, name):
    _, parquet, _ = province
    out = tmp_path / "out"
    assert main(["settle", "--policy", str(POLICIES / f"{name}.yaml"), "--input", str(parquet),
                 "--output", str(out), "--dip", str(DEMO_DIP), "--no-excel"]) == 0
    tables = check_outputs(out)
    cases = tables["cases"]
    assert cases["dip_group"].notna().any() and "dip_type" in cases.columns
    if name == "jining_dip_day_ward_2025":
        ward = cases["day_care_status"] == "period"
        assert ward.any()
        # [JN] day-ward periods are paid fee-for-service outside the point pool
        assert np.allclose(cases.loc[ward, "payment"], cases.loc[ward, "fund_paid"])
        tier3 = cases[ward & (cases["hospital_level"] == 3)]
        radio = tier3["proc"].fillna("").str.startswith(("92.2", "92.3", "92.4"))
        assert (tier3.loc[~radio, "dayward_fee"] == 52.0 * tier3.loc[~radio, "session_days"]).all()
        assert (tier3.loc[radio, "dayward_fee"] == 0).all()
        assert tables["pools"]["fixed_payments"].sum() > 0
    else:
        assert tables["summary"]["area"].astype(str).tolist() == ["37"]   # one provincial pool


def test_day_care_rules_of_the_yanbian_policy_reach_the_outputs(province, tmp_path):
    generated, parquet, _ = province
    settlement = settle_province(parquet, POLICIES / "yanbian_day_surgery_2025.yaml", scheme=DEMO_SCHEME)
    cases = settlement.cases
    surgery = cases["care_type_input"] == "day_surgery"
    assert surgery.any()
    statuses = set(cases.loc[surgery, "day_care_status"])
    assert statuses <= {"valid", "extended", "converted", "merged", "outpatient_rules"}
    valid = surgery & cases["day_care_status"].isin(["valid", "extended"])
    # paid fee-for-service from the hospital's quota, including merged pre-operative bills [YB]
    assert np.allclose(cases.loc[valid, "payment"], cases.loc[valid, "fund_paid"], atol=0.006)
    assert cases["preop_cost"].sum() > 0
    related = generated.outpatient["related_case_id"].fillna("") != ""
    assert cases["preop_cost"].sum() <= generated.outpatient.loc[related, "cost"].sum() + 1e-6


def test_stays_excluded_by_length_of_stay_are_paid_fee_for_service(province):
    # [QY]: LOS <= 2 or >= 60 days outside DRG payment
    generated, _, _ = province
    policy = policy_from_mapping({"year": 2025, "budget": {"method": "growth", "growth_rate": 0.03},
                                  "settlement": {"drg_exclude_los": {"at_most": 2, "at_least": 60}}})
    cases = settle_province(generated, policy, scheme=DEMO_SCHEME).cases
    excluded = cases["excluded_by_los"].to_numpy(dtype=bool)
    los = cases["los"].to_numpy()
    bed_day = (cases["outlier_class"] == "bed_day").to_numpy()
    assert excluded.any() and (excluded == (((los <= 2) | (los >= 60)) & ~bed_day)).all()
    assert np.allclose(cases.loc[excluded, "payment"], cases.loc[excluded, "fund_paid"], atol=0.006)
    assert cases.loc[~excluded, "payment"].ne(cases.loc[~excluded, "fund_paid"]).any()


def test_csv_and_parquet_inputs_agree(province, tmp_path):
    _, parquet, csv = province
    policy = POLICIES / "panzhihua_drg_day_care_2025.yaml"
    a = settle_province(parquet, policy, scheme=DEMO_SCHEME).hospitals
    b = settle_province(csv, policy, scheme=DEMO_SCHEME).hospitals
    assert a["hospital_id"].tolist() == b["hospital_id"].tolist()
    assert (fen(a["final_payment"]) == fen(b["final_payment"])).all()


def test_province_object_and_directory_agree(province):
    generated, parquet, _ = province
    policy = load_policy(POLICIES / "remote_pool_province_2025.yaml")
    from_object = settle_province(generated, policy, scheme=DEMO_SCHEME)
    from_dir = settle_province(parquet, policy, scheme=DEMO_SCHEME)
    assert (fen(from_object.hospitals["final_payment"]) == fen(from_dir.hospitals["final_payment"])).all()
    text = format_settlement_summary(from_object, top=3)
    assert "top 3 gaining" in text and "pool 370" in text
    gains = from_object.hospitals.sort_values("gain_vs_ffs", ascending=False)["hospital_id"].head(3)
    first = text.split("top 3 gaining versus fee-for-service:")[1].splitlines()[1]
    assert gains.iloc[0] in first


def test_csv_output_and_excel_workbook(province, tmp_path):
    from openpyxl import load_workbook

    _, parquet, _ = province
    out = tmp_path / "out"
    assert main(["settle", "--policy", str(POLICIES / "remote_pool_province_2025.yaml"), "--input", str(parquet),
                 "--output", str(out), "--scheme", str(DEMO_SCHEME), "--format", "csv",
                 "--excel-case-rows", "10", "--lang", "en"]) == 0
    tables = check_outputs(out, "csv")
    book = load_workbook(out / "settlement.xlsx", read_only=True)
    assert book.sheetnames == list(TABLES)
    rows = list(book["hospitals"].iter_rows(values_only=True))
    assert rows[0][:2] == ("area", "hospital_id") and len(rows) == len(tables["hospitals"]) + 1
    note = list(book["cases"].iter_rows(values_only=True))
    assert len(note) == 1 and "per-case table is in the cases file" in note[0][0]


def test_special_review_and_deductions_from_files(province, tmp_path):
    _, parquet, _ = province
    policy = POLICIES / "remote_pool_province_2025.yaml"
    first = settle_province(parquet, policy, scheme=DEMO_SCHEME)
    cases = first.cases
    candidates = cases[cases["special_review_candidate"] & (cases["settle_status"] == "ok")]
    approved = tmp_path / "approved.csv"
    candidates[["case_id"]].head(2).to_csv(approved, index=False)
    hospital = first.hospitals["hospital_id"].iloc[0]
    deductions = tmp_path / "deductions.csv"
    pd.DataFrame({"hospital_id": [hospital], "amount": [1234.56], "month": [5]}).to_csv(deductions, index=False)
    out = tmp_path / "out"
    assert main(["settle", "--policy", str(policy), "--input", str(parquet), "--output", str(out),
                 "--scheme", str(DEMO_SCHEME), "--special", str(approved), "--deductions", str(deductions),
                 "--no-excel"]) == 0
    tables = check_outputs(out)
    hospitals = tables["hospitals"].set_index("hospital_id")
    assert hospitals.loc[hospital, "deductions"] == 1234.56
    if len(candidates):
        reviewed = tables["cases"].set_index("case_id").loc[candidates["case_id"].head(2), "review_status"]
        assert set(reviewed) == {"approved"}


def test_unusable_input_exits_2(province, tmp_path, capsys):
    _, parquet, _ = province
    policy = str(POLICIES / "remote_pool_province_2025.yaml")
    assert main(["settle", "--policy", policy, "--input", str(tmp_path / "nothing"), "--output",
                 str(tmp_path / "o")]) == 2
    assert "input not found" in capsys.readouterr().err
    ungrouped = pd.read_parquet(parquet / "cases.parquet").drop(columns=["status", "mdc", "adrg", "drg"])
    ungrouped.to_parquet(tmp_path / "ungrouped.parquet")
    assert main(["settle", "--policy", policy, "--input", str(tmp_path / "ungrouped.parquet"), "--output",
                 str(tmp_path / "o")]) == 2
    assert "give a grouping scheme (--scheme)" in capsys.readouterr().err
    bad = pd.read_parquet(parquet / "cases.parquet")
    bad.loc[3, "fund_paid"] = -5.0
    bad.to_parquet(tmp_path / "cases.parquet")
    assert main(["settle", "--policy", policy, "--input", str(tmp_path / "cases.parquet"), "--output",
                 str(tmp_path / "o"), "--scheme", str(DEMO_SCHEME)]) == 2
    err = capsys.readouterr().err
    assert "fund_paid" in err and "row 4" in err


def million_cases(n_settled: int = 1_000_000, n_history: int = 300_000, seed: int = 11) -> pd.DataFrame:
    """Grouped stays (a ``drg`` column) of 2024 and 2025 built with numpy, as a settlement system holds them."""
    rng = np.random.default_rng(seed)
    n = n_settled + n_history
    regions = np.array(["370100", "370200", "370300", "370400"])
    n_h = 300
    h_region = rng.integers(0, len(regions), n_h)
    h_level = rng.choice([1, 2, 3], n_h, p=[0.4, 0.45, 0.15])
    hospital = rng.integers(0, n_h, n)
    groups = np.array([f"{chr(65 + k % 26)}{k // 26:02d}1" for k in range(400)])
    g = np.minimum(rng.zipf(1.3, n) - 1, len(groups) - 1)
    base = np.exp(rng.normal(9.5, 0.8, len(groups)))
    year = np.where(np.arange(n) < n_history, 2024, 2025)
    cost = np.round(base[g] * rng.lognormal(0, 0.35, n) * np.array([0.75, 1.0, 1.3])[h_level[hospital] - 1], 2)
    remote = rng.random(n) < 0.15
    region = regions[h_region[hospital]]
    insured = np.where(remote, regions[(h_region[hospital] + rng.integers(1, 4, n)) % 4], region)
    employee = rng.random(n) < 0.45
    discharge = (pd.to_datetime(year.astype(str)) + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
                 + pd.Timedelta(hours=10))
    los = rng.integers(1, 15, n)
    return pd.DataFrame({
        "case_id": np.char.add("C", np.arange(n).astype(str)), "year": year,
        "hospital_id": np.char.add("H", hospital.astype(str)), "hospital_level": h_level[hospital],
        "region": region, "insured_region": insured, "insurance_type": np.where(employee, "310", "390"),
        "care_type": "inpatient", "admit_time": discharge - pd.to_timedelta(los, unit="D"),
        "discharge_time": discharge, "los": los, "drg": groups[g], "status": "ok",
        "total_cost": cost, "fund_paid": np.round(cost * np.where(employee, 0.72, 0.58), 2)})


def test_one_million_stays_from_the_cli(tmp_path, capsys):
    frame = million_cases()
    source = tmp_path / "province"
    source.mkdir()
    frame.to_parquet(source / "cases.parquet", index=False)
    out = tmp_path / "out"
    started = time.perf_counter()
    status = main(["settle", "--policy", str(POLICIES / "remote_pool_province_2025.yaml"), "--input", str(source),
                   "--output", str(out)])
    seconds = time.perf_counter() - started
    assert status == 0
    assert "settled 1,000,000 stays of 300 hospitals" in capsys.readouterr().out
    tables = check_outputs(out)
    cases = tables["cases"]
    assert len(cases) == 1_000_000 and (cases["settle_status"] == "ok").all()
    assert fen(cases["payment"]).sum() == fen(tables["hospitals"]["fund_due"]).sum()
    matrix = tables["clearing_matrix"].set_index("insured_region")
    assert fen(matrix.loc["total", "total"]) == fen(cases.loc[cases["remote"], "payment"]).sum()
    assert seconds < 120, f"1M stays took {seconds:.0f} s"


def test_workbook_as_agencies_read_it(province, tmp_path):
    """Frozen header, yuan with thousands separators and two decimals, points with two decimals,
    sized columns, and the per-stay sheet when asked for; the cells hold the tables' values."""
    from openpyxl import load_workbook

    _, parquet, _ = province
    out = tmp_path / "out"
    assert main(["settle", "--policy", str(POLICIES / "remote_pool_province_2025.yaml"), "--input", str(parquet),
                 "--output", str(out), "--scheme", str(DEMO_SCHEME), "--excel-case-rows", "1000000"]) == 0
    book = load_workbook(out / "settlement.xlsx")
    assert book.sheetnames == ["汇总", "统筹池点值", "医院结算", "绩效指标", "绩效指标(等级)", "绩效指标(地区)", "月度预付",
                               "异地清算", "异地清算矩阵", "病例"]
    hospitals = pd.read_parquet(out / "hospitals.parquet")
    sheet = book["医院结算"]
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]
    assert header == list(hospitals.columns)
    final = header.index("final_payment") + 1
    points = header.index("points") + 1
    assert sheet.cell(2, final).number_format == "#,##0.00" and sheet.cell(2, points).number_format == "#,##0.00"
    assert [sheet.cell(r + 2, final).value for r in range(len(hospitals))] == pytest.approx(
        hospitals["final_payment"].tolist(), abs=1e-9)
    assert sheet.column_dimensions[sheet.cell(1, final).column_letter].width >= len("final_payment")
    cases = book["病例"]
    assert cases.max_row == len(pd.read_parquet(out / "cases.parquet")) + 1
