"""``settle_province`` on the foundation: group once, load once, one history point value, and money
columns checked at the boundary for every input path (CSV, Parquet, DataFrame)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from drgdip.budget import load_policy, policy_from_mapping, settle_province
from drgdip.budget import grouping as grouping_module
from drgdip.budget import stay_points
from drgdip.cli import main
from drgdip.core.errors import UsageError
from drgdip.core.province import write_province
from drgdip.grouper import dip_directory
from drgdip.synth import generate_province

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "data" / "policies"
DEMO_SCHEME = REPO / "data" / "demo" / "scheme"
DEMO_DIP = REPO / "data" / "demo" / "dip"
YANBIAN = POLICIES / "yanbian_day_surgery_2025.yaml"   # day-surgery overruns merged into ward stays


def fen(values) -> np.ndarray:
    return np.rint(np.asarray(values, dtype=np.float64) * 100).astype(np.int64)


def _with_ward_stays_after_overruns(province, pairs: int = 5):
    """The province with ``pairs`` day surgeries of the settlement year that overran 48 h, each followed
    within hours by an ordinary stay of the same patient at the same hospital (merged by day care)."""
    cases = province.cases.copy()
    hours = (cases["discharge_time"] - cases["admit_time"]).dt.total_seconds() / 3600
    day = np.flatnonzero(((cases["care_type"] == "day_surgery") & (hours > 48) & (cases["year"] == 2025)).to_numpy())
    ward = np.flatnonzero(((cases["care_type"] == "inpatient") & (cases["year"] == 2025)).to_numpy())
    assert len(day) >= pairs
    for d, w in zip(day[:pairs], ward[::50][:pairs]):
        for column in ("patient_id", "hospital_id", "hospital_level", "region", "insured_region", "insurance_type"):
            cases.loc[w, column] = cases.loc[d, column]
        cases.loc[w, "admit_time"] = cases.loc[d, "discharge_time"] + pd.Timedelta(hours=3)
        cases.loc[w, "discharge_time"] = cases.loc[w, "admit_time"] + pd.Timedelta(days=4)
        cases.loc[w, "los"] = 4
    return type(province)(cases=cases, hospitals=province.hospitals, outpatient=province.outpatient,
                          day_ward_visits=province.day_ward_visits, info=province.info)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A synthetic province (with the groups synth verified, and day stays that merge into ward stays)
    as Parquet and as CSV directories."""
    province = generate_province(DEMO_SCHEME, cases=6_000, years=(2023, 2024, 2025), hospitals=10, regions=3,
                                 seed=17)
    province = _with_ward_stays_after_overruns(province)
    parquet, csv = tmp_path_factory.mktemp("parquet"), tmp_path_factory.mktemp("csv")
    write_province(province, parquet)
    write_province(province, csv, format="csv")
    return province, parquet, csv


def _same_money(a, b) -> None:
    for column in ("fund_due", "final_payment", "clearing_payment"):
        assert fen(a.hospitals[column]).tolist() == fen(b.hospitals[column]).tolist(), column


def test_a_synthetic_province_settles_without_a_scheme_argument(synthetic, tmp_path, capsys):
    province, parquet, _ = synthetic
    out = tmp_path / "out"
    assert main(["settle", "--policy", str(YANBIAN), "--input", str(parquet), "--output", str(out),
                 "--no-excel"]) == 0
    capsys.readouterr()
    given = settle_province(parquet, load_policy(YANBIAN), scheme=DEMO_SCHEME)
    recorded = settle_province(parquet, load_policy(YANBIAN))
    _same_money(given, recorded)
    merged = given.cases["day_care_status"].astype(str) == "absorbed_day_stay"
    assert merged.any(), "the fixture should merge day stays into ward stays (regrouped with the scheme)"
    assert not any("keep the DRG" in w for w in recorded.warnings)


def test_only_stays_that_need_it_are_grouped(synthetic, monkeypatch):
    province, parquet, _ = synthetic
    grouped_rows = []
    real = grouping_module._grouping_inputs

    def counting(frame, rows, fetch):
        grouped_rows.append(int(rows.sum()))
        return real(frame, rows, fetch)

    monkeypatch.setattr(grouping_module, "_grouping_inputs", counting)
    once = settle_province(parquet, load_policy(YANBIAN))
    assert len(grouped_rows) == 1 and 0 < grouped_rows[0] < 100   # the merged ward stays, not 6,000 stays
    grouped_rows.clear()
    again = settle_province(parquet, load_policy(YANBIAN), regroup=True)
    assert grouped_rows == [6_000 - int((province.cases["year"] > 2025).sum())]
    _same_money(once, again)   # synth's groups are the grouper's


def test_stays_grouped_under_another_scheme_are_grouped_again(synthetic, tmp_path):
    _, parquet, _ = synthetic
    other = tmp_path / "scheme"
    shutil.copytree(DEMO_SCHEME, other)
    with open(other / "drg.csv", "a", encoding="utf-8") as handle:
        handle.write("\n")   # same rules, other bytes: another scheme as far as anyone can tell
    settlement = settle_province(parquet, load_policy(YANBIAN), scheme=other)
    assert any("grouped under another scheme" in w for w in settlement.warnings)
    _same_money(settlement, settle_province(parquet, load_policy(YANBIAN), scheme=DEMO_SCHEME))


def test_a_dip_directory_is_loaded_once(synthetic, monkeypatch):
    _, parquet, _ = synthetic
    loads = []
    real = dip_directory.load_dip_directory

    def counting(path):
        loads.append(path)
        return real(path)

    monkeypatch.setattr(dip_directory, "load_dip_directory", counting)
    settle_province(parquet, load_policy(POLICIES / "jining_dip_day_ward_2025.yaml"), dip=DEMO_DIP)
    assert len(loads) == 1


@pytest.mark.parametrize("smoothing", ["none", "percentile", "best_interval_1d"])
def test_the_history_point_value_has_one_formula(synthetic, monkeypatch, smoothing):
    """The point value the history gives the settlement year's points is the budget point value the
    settlement reports for the area (one pool per area), whatever the smoothing. (The history's points
    here do not depend on the point value, so both are taken over the same points.)"""
    _, parquet, _ = synthetic
    policy = policy_from_mapping({
        "points": {"scheme": "drg_points"}, "day_care": {"enabled": False},
        "point_value": {"smoothing": smoothing, "smoothing_lo": 10.0, "smoothing_hi": 90.0},
    })
    seen = []
    real = stay_points.reference_point_values

    def recording(frame, policy_, table, by_area=None):
        seen.append(by_area)
        return real(frame, policy_, table, by_area)

    monkeypatch.setattr(stay_points, "reference_point_values", recording)
    settlement = settle_province(parquet, policy)
    used = seen[-1]
    pools = settlement.pools
    assert set(pools["budget_point_value_source"]) == {"history"}
    reported = dict(zip(pools["area"].astype(str), pools["budget_point_value"]))
    assert used.keys() == reported.keys()
    for area, value in reported.items():
        assert used[area] == pytest.approx(value, rel=1e-12)


# --------------------------------------------------------------------------- money columns at the boundary

BAD_MONEY = [
    ("total_cost", "abc", "expected a number, got 'abc'"),
    ("total_cost", None, "value is missing"),
    ("fund_paid", float("nan"), "value is missing"),
    ("fund_paid", -5.0, "must be >= 0"),
]


def _with_bad_value(cases: pd.DataFrame, column: str, value, row: int) -> pd.DataFrame:
    bad = cases.copy()
    if isinstance(value, str):
        bad[column] = bad[column].astype(object)
    bad.loc[row, column] = value
    return bad


@pytest.mark.parametrize("column, value, message", BAD_MONEY)
@pytest.mark.parametrize("path", ["csv", "parquet", "frame"])
def test_bad_money_stops_the_run_naming_file_row_and_field(synthetic, tmp_path, capsys, column, value, message,
                                                          path):
    province, _, _ = synthetic
    row = 41
    bad = _with_bad_value(province.cases, column, value, row)
    if path == "frame":
        with pytest.raises(UsageError, match=rf"row {row + 1}, field '{column}': {message}"):
            settle_province(bad, load_policy(YANBIAN), scheme=DEMO_SCHEME)
        return
    directory = tmp_path / "province"
    directory.mkdir()
    if path == "csv":
        bad.to_csv(directory / "cases.csv", index=False)
    else:
        pq.write_table(pa.Table.from_pandas(bad.astype({column: str}) if isinstance(value, str) else bad,
                                            preserve_index=False), directory / "cases.parquet")
    code = main(["settle", "--policy", str(YANBIAN), "--input", str(directory), "--output", str(tmp_path / "o"),
                 "--scheme", str(DEMO_SCHEME), "--no-excel"])
    err = capsys.readouterr().err
    assert code == 2
    file_row = row + 2 if path == "csv" else row + 1   # a CSV file's header is row 1, as a spreadsheet shows it
    assert f"cases.{path}, row {file_row}, field '{column}': {message}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_missing_money_column_is_named(synthetic, tmp_path, capsys):
    province, _, _ = synthetic
    path = tmp_path / "cases.parquet"
    pq.write_table(pa.Table.from_pandas(province.cases.drop(columns="total_cost"), preserve_index=False), path)
    assert main(["settle", "--policy", str(YANBIAN), "--input", str(path), "--output", str(tmp_path / "o")]) == 2
    assert "field 'total_cost': missing column" in capsys.readouterr().err


@pytest.mark.parametrize("path", ["csv", "parquet", "frame"])
def test_every_input_path_settles_alike(synthetic, path):
    province, parquet, csv = synthetic
    source = {"csv": csv, "parquet": parquet, "frame": province}[path]
    settlement = settle_province(source, load_policy(YANBIAN), scheme=DEMO_SCHEME)
    _same_money(settlement, settle_province(parquet, load_policy(YANBIAN), scheme=DEMO_SCHEME))
    assert len(settlement.cases) == int((province.cases["year"] == 2025).sum())
    assert list(settlement.cases.columns[:3]) == ["case_id", "patient_id", "year"]   # input order first


@pytest.mark.parametrize("year", [2025, 2024])
@pytest.mark.parametrize("path", ["csv", "parquet"])
def test_a_message_about_a_stay_names_its_row_in_the_file(synthetic, tmp_path, capsys, year, path):
    """Found while computing points of the settlement year or of the history: the row is the file's."""
    province, _, _ = synthetic
    cases = province.cases.copy()
    row = int(np.flatnonzero((cases["year"] == year).to_numpy())[7])
    cases.loc[row, "hospital_level"] = 7   # a level the policy has no coefficient for
    directory = tmp_path / "province"
    write_province(type(province)(cases=cases, hospitals=None, info=province.info), directory, format=path)
    code = main(["settle", "--policy", str(YANBIAN), "--input", str(directory), "--output", str(tmp_path / "o"),
                 "--no-excel"])
    err = capsys.readouterr().err
    file_row = row + 2 if path == "csv" else row + 1
    assert code == 2, err
    assert f"cases.{path}, row {file_row}, field 'hospital_level'" in err and "level 7" in err


@pytest.fixture(scope="module")
def million(tmp_path_factory):
    """A 1M-stay synthetic province (with merged day stays) as Parquet, as drgdip synth writes it."""
    province = generate_province(DEMO_SCHEME, cases=1_000_000, years=(2024, 2025), hospitals=60, regions=4, seed=29)
    directory = tmp_path_factory.mktemp("million")
    write_province(_with_ward_stays_after_overruns(province, pairs=20), directory)
    return directory


@pytest.mark.parametrize("policy", ["yanbian_day_surgery_2025", "panzhihua_drg_day_care_2025",
                                    "remote_pool_province_2025"])
def test_every_shipped_drg_policy_settles_a_million_stays(million, tmp_path, capsys, policy):
    out = tmp_path / "out"
    assert main(["settle", "--policy", str(POLICIES / f"{policy}.yaml"), "--input", str(million), "--output",
                 str(out), "--no-excel"]) == 0
    printed = capsys.readouterr().out
    assert "settled" in printed
    hospitals = pd.read_parquet(out / "hospitals.parquet")
    summary = pd.read_parquet(out / "summary.parquet")
    assert fen(hospitals["final_payment"]).sum() + fen(summary["reserve_end"]).sum() == \
        fen(summary["budget_total"]).sum()


def _settlement_year_rows(cases: pd.DataFrame, count: int, care_type: str | None = None) -> np.ndarray:
    chosen = (cases["year"] == 2025) & (cases["care_type"] == care_type if care_type else True)
    return np.flatnonzero(chosen.to_numpy())[:count]


@pytest.mark.parametrize("problem", ["duplicate_case_id", "discharge_before_admission", "fund_above_cost",
                                     "unknown_hospital"])
@pytest.mark.parametrize("path", ["csv", "parquet", "frame"])
def test_a_stay_that_cannot_be_paid_is_left_out_counted_and_named(synthetic, tmp_path, problem, path):
    province, _, _ = synthetic
    cases = province.cases.copy()
    hospitals = province.hospitals
    if problem == "duplicate_case_id":
        first, second = _settlement_year_rows(cases, 2)
        cases.loc[second, "case_id"] = cases.loc[first, "case_id"]
        bad = second
    elif problem == "discharge_before_admission":
        bad = _settlement_year_rows(cases, 1, "day_surgery")[0]   # a negative window is no valid day surgery
        cases.loc[bad, "discharge_time"] = cases.loc[bad, "admit_time"] - pd.Timedelta(hours=5)
    elif problem == "fund_above_cost":
        bad = _settlement_year_rows(cases, 1)[0]
        cases.loc[bad, "fund_paid"] = cases.loc[bad, "total_cost"] + 100.0
    else:
        bad = _settlement_year_rows(cases, 1)[0]
        hospitals = hospitals[hospitals["hospital_id"] != cases.loc[bad, "hospital_id"]]
    source = type(province)(cases=cases, hospitals=hospitals, outpatient=province.outpatient, info=province.info)
    if path != "frame":
        write_province(source, tmp_path / "p", format=path)
        source = tmp_path / "p"
    settlement = settle_province(source, load_policy(YANBIAN))
    out = settlement.cases.set_index("case_id")
    status = f"invalid:{problem}"
    left_out = settlement.cases["settle_status"].astype(str) == status
    unknown = (cases["hospital_id"] == cases.loc[bad, "hospital_id"]) & (cases["year"] == 2025)
    expected = 1 if problem != "unknown_hospital" else int(unknown.sum())
    assert int(left_out.sum()) == expected
    assert (settlement.cases.loc[left_out, "payment"] == 0).all()
    assert int(settlement.summary[f"cases_{status}"].sum()) == expected
    first = bad if problem != "unknown_hospital" else \
        int(np.flatnonzero((cases["hospital_id"] == cases.loc[bad, "hospital_id"]).to_numpy())[0])
    file_row = first + (2 if path == "csv" else 1)
    assert any(status in w and f"row {file_row}," in w for w in settlement.warnings), settlement.warnings
    if problem == "discharge_before_admission":
        assert out.loc[cases.loc[bad, "case_id"], "day_care_status"] != "valid" or \
            out.loc[cases.loc[bad, "case_id"], "settle_status"] == status
