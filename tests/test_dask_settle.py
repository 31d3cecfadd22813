"""``drgdip settle --engine dask`` writes the local engine's tables, for any input layout and pooling.

The stays of each pooling area are settled as one task; the tests compare every output file of the
local and the Dask engine byte for byte (CSV), and the notes they print, on a province given as one
Parquet file, as a hive-partitioned dataset of uneven part files and as a CSV file.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import distributed
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from drgdip.cli import main
from drgdip.core.province import write_province
from tests.conftest import DEMO_SCHEME_DIR, REPO

POLICIES = REPO / "data" / "policies"
PANZHIHUA = POLICIES / "panzhihua_drg_day_care_2025.yaml"
DEMO_DIP = REPO / "data" / "demo" / "dip"


@pytest.fixture(scope="module")
def provinces(tmp_path_factory):
    """One synthetic province of 6 regions in three layouts; one stay of the last year records more fund
    than cost (left out with a note naming its file and row), two repeat a case id of another region."""
    from drgdip.synth.province import generate_province

    province = generate_province(DEMO_SCHEME_DIR, cases=12_000, hospitals=18, regions=6, seed=11)
    cases = province.cases.copy()
    late = int(np.flatnonzero(cases["year"].to_numpy() == cases["year"].max())[-40])
    cases.loc[late, "fund_paid"] = cases.loc[late, "total_cost"] + 10.0
    # a case id of the first region's first stay again at a later stay of another region, in the settlement
    # year and in the history: the local engine settles the first stay with an id and leaves the later out
    first = cases.index[0]
    for year in (cases["year"].max(), cases["year"].min()):
        other = cases.index[(cases["region"] != cases.loc[first, "region"]) & (cases["year"] == year)][25]
        cases.loc[other, "case_id"] = cases.loc[first, "case_id"]
    province = replace(province, cases=cases)
    root = tmp_path_factory.mktemp("dask_settle")
    single = root / "single"
    write_province(province, single)
    dataset = root / "dataset"
    shutil.copytree(single, dataset, ignore=shutil.ignore_patterns("cases.*"))
    for year, stays in cases.groupby("year", sort=True):
        folder = dataset / "cases" / f"year={year}"
        folder.mkdir(parents=True)
        cuts = [0, 7, len(stays) // 3, len(stays) // 3 + 1, len(stays)]
        for k, (start, stop) in enumerate(zip(cuts[:-1], cuts[1:])):
            stays.iloc[start:stop].to_parquet(folder / f"part-{k:03d}.parquet", index=False, row_group_size=500)
    csv = root / "csv"
    shutil.copytree(single, csv, ignore=shutil.ignore_patterns("cases.*"))
    cases.to_csv(csv / "cases.csv", index=False)
    one_year = root / "one_year"   # no history: weights calibrated on the settlement year itself
    shutil.copytree(single, one_year, ignore=shutil.ignore_patterns("cases.*"))
    cases[cases["year"] == cases["year"].max()].to_parquet(one_year / "cases.parquet", index=False,
                                                           row_group_size=700)
    return {"single": single, "dataset": dataset, "csv": csv, "one_year": one_year}


def settle(capsys, province: Path, output: Path, policy: Path, *extra) -> tuple[int, str]:
    status = main(["settle", "--policy", str(policy), "--input", str(province), "--output", str(output),
                   "--format", "csv", "--no-excel", *map(str, extra)])
    captured = capsys.readouterr()
    printed = "\n".join(line for line in captured.out.splitlines() if not line.startswith("settled "))
    return status, printed + captured.err


def assert_same_outputs(local: Path, dask: Path) -> None:
    names = sorted(p.name for p in local.iterdir())
    assert names == sorted(p.name for p in dask.iterdir())
    for name in names:
        assert (local / name).read_bytes() == (dask / name).read_bytes(), name


@pytest.mark.parametrize("layout, policy, options", [
    ("single", PANZHIHUA, ()),                                          # weights calibrated on the whole history
    ("dataset", POLICIES / "remote_pool_province_2025.yaml", ()),       # separate remote pools, clearing
    ("csv", POLICIES / "hainan_province_2025.yaml", ("--dip", DEMO_DIP)),   # DIP, one pool for the province
    ("one_year", "no history", ()),                                     # weights on the settlement year
])
def test_same_tables_as_the_local_engine(layout, policy, options, provinces, scheduler, tmp_path, capsys):
    if policy == "no history":   # last year's fund given for each area
        regions = sorted(pd.read_parquet(provinces[layout] / "cases.parquet", columns=["region"])["region"].unique())
        funds = ", ".join(f'"{region}": {30_000_000 + 1_000_000 * k}' for k, region in enumerate(regions))
        policy = tmp_path / "policy.yaml"
        policy.write_text(PANZHIHUA.read_text(encoding="utf-8").replace(
            "  growth_rate: 0.04", f"  last_year_fund: {{{funds}}}\n  growth_rate: 0.04"), encoding="utf-8")
        one_number = tmp_path / "one_number.yaml"   # refused for several areas, by both engines alike
        one_number.write_text(PANZHIHUA.read_text(encoding="utf-8").replace(
            "  growth_rate: 0.04", "  last_year_fund: 30000000\n  growth_rate: 0.04"), encoding="utf-8")
        refused = [settle(capsys, provinces[layout], tmp_path / engine, one_number, *extra)
                   for engine, extra in (("l1", ()), ("d1", ("--engine", "dask", "--scheduler", scheduler)))]
        assert refused[0] == refused[1] and refused[0][0] == 2 and "one number for" in refused[0][1]
    status, local_notes = settle(capsys, provinces[layout], tmp_path / "local", policy, *options)
    assert status == 0, local_notes
    pieces = ("--partition-rows", 1_000) if layout in ("csv", "one_year") else ()   # several pieces a file
    status, dask_notes = settle(capsys, provinces[layout], tmp_path / "dask", policy, *options, *pieces,
                                "--engine", "dask", "--scheduler", scheduler)
    assert status == 0, dask_notes
    assert_same_outputs(tmp_path / "local", tmp_path / "dask")
    assert dask_notes == local_notes
    if layout == "one_year":
        assert "weights calibrated on the settlement year itself" in local_notes
        assert "settlement year itself for pool(s) 370100, 370200" in local_notes   # a note listing pools
    else:
        assert "invalid:duplicate_case_id" in local_notes
    assert not [p for p in (tmp_path / "dask").iterdir() if p.name.startswith(".")]   # scratch removed


def test_note_names_the_part_file_and_row(provinces, scheduler, tmp_path, capsys):
    status, notes = settle(capsys, provinces["dataset"], tmp_path / "dask", PANZHIHUA, "--engine", "dask",
                           "--scheduler", scheduler)
    assert status == 0, notes
    assert "invalid:fund_above_cost" in notes and "part-003.parquet, row " in notes


def test_parquet_output_reads_back_as_the_local_tables(provinces, scheduler, tmp_path, capsys):
    for engine, extra in (("local", ()), ("dask", ("--engine", "dask", "--scheduler", scheduler))):
        assert main(["settle", "--policy", str(PANZHIHUA), "--input", str(provinces["dataset"]), "--output",
                     str(tmp_path / engine), "--no-excel", *extra]) == 0
    capsys.readouterr()
    for path in sorted((tmp_path / "local").glob("*.parquet")):
        local, dask = pd.read_parquet(path), pd.read_parquet(tmp_path / "dask" / path.name)
        text = {c: "string" for c in local.columns if isinstance(local[c].dtype, pd.CategoricalDtype)}
        pd.testing.assert_frame_equal(local.astype(text), dask.astype(text), check_exact=True,
                                      check_dtype=False, obj=path.name)


def test_approvals_and_deductions(provinces, scheduler, tmp_path, capsys):
    """A special-review approval list and audit deductions spanning pooling areas: each area gets its own part."""
    status, notes = settle(capsys, provinces["dataset"], tmp_path / "plain", PANZHIHUA)
    assert status == 0, notes
    stays = pd.read_csv(tmp_path / "plain" / "cases.csv", dtype={"region": str, "hospital_id": str, "case_id": str})
    candidates = stays[stays["special_review_candidate"].astype(str) == "True"].drop_duplicates("region")
    assert candidates["region"].nunique() >= 2
    pd.DataFrame({"case_id": candidates["case_id"]}).to_csv(tmp_path / "approved.csv", index=False)
    hospitals = stays.drop_duplicates("region")["hospital_id"].tolist()
    pd.DataFrame({"hospital_id": hospitals[:2] + hospitals[:1], "amount": [1234.56, 99.99, 10.01],
                  "month": [3, None, 7]}).to_csv(tmp_path / "deductions.csv", index=False)
    options = ("--special", tmp_path / "approved.csv", "--deductions", tmp_path / "deductions.csv")
    status, local_notes = settle(capsys, provinces["dataset"], tmp_path / "local", PANZHIHUA, *options)
    assert status == 0, local_notes
    status, dask_notes = settle(capsys, provinces["dataset"], tmp_path / "dask", PANZHIHUA, *options, "--engine",
                                "dask", "--scheduler", scheduler)
    assert status == 0, dask_notes
    assert_same_outputs(tmp_path / "local", tmp_path / "dask")
    assert dask_notes == local_notes
    assert (tmp_path / "local" / "hospitals.csv").read_bytes() != (tmp_path / "plain" / "hospitals.csv").read_bytes()

    pd.DataFrame({"case_id": ["no-such-stay"]}).to_csv(tmp_path / "unknown.csv", index=False)
    local = settle(capsys, provinces["dataset"], tmp_path / "l2", PANZHIHUA, "--special", tmp_path / "unknown.csv")
    dask = settle(capsys, provinces["dataset"], tmp_path / "d2", PANZHIHUA, "--special", tmp_path / "unknown.csv",
                  "--engine", "dask", "--scheduler", scheduler)
    assert local == dask and local[0] == 2 and "no-such-stay" in local[1]


@pytest.mark.parametrize("options, message", [
    (("--memory-limit", "4GB"), "--memory-limit: only with --engine dask"),
    (("--scratch", "somewhere"), "--scratch: only with --engine dask"),
    (("--partition-rows", "10"), "--partition-rows: only with --engine dask"),
    (("--workers", "2"), "--workers: only with --engine dask"),
])
def test_options_are_checked(options, message, provinces, tmp_path, capsys):
    status, printed = settle(capsys, provinces["single"], tmp_path / "out", PANZHIHUA, *options)
    assert status == 2 and message in printed


@pytest.fixture(scope="module")
def process_cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster:
        yield cluster


def test_worker_killed_mid_run(provinces, process_cluster, tmp_path, capsys):
    """A worker process killed while the areas are settled: Dask settles its areas again and the tables are
    the local engine's; no per-stay file is ever half-written under its name."""
    status, _ = settle(capsys, provinces["dataset"], tmp_path / "local", PANZHIHUA)
    assert status == 0
    output = tmp_path / "dask"
    with distributed.Client(process_cluster, set_as_default=False) as client:
        pids = client.run(os.getpid)
        statuses = []
        run = threading.Thread(target=lambda: statuses.append(main([
            "settle", "--policy", str(PANZHIHUA), "--input", str(provinces["dataset"]), "--output", str(output),
            "--format", "csv", "--no-excel", "--engine", "dask", "--scheduler", process_cluster.scheduler_address])))
        run.start()
        busy, deadline = [], time.monotonic() + 120
        while not busy and time.monotonic() < deadline:
            busy = [worker for worker, tasks in client.processing().items()
                    if worker in pids and any("settle_task" in str(task) for task in tasks)]
            time.sleep(0.005)
        assert busy, "no area was being settled"
        os.kill(pids[busy[0]], signal.SIGKILL)
        killed_mid_run = run.is_alive()
        local_cases = (tmp_path / "local" / "cases.csv").read_bytes()
        while run.is_alive():
            cases = output / "cases.csv"
            assert not cases.exists() or cases.read_bytes() == local_cases
            run.join(0.01)
    capsys.readouterr()
    assert killed_mid_run and statuses == [0]
    assert_same_outputs(tmp_path / "local", output)


def test_python_api_takes_a_dask_frame(scheduler, tmp_path):
    """settle_province of a province whose cases are a Dask DataFrame: the local engine's tables."""
    import dask.dataframe as dd

    from drgdip.budget import load_policy, settle_province
    from drgdip.synth.province import generate_province

    province = generate_province(DEMO_SCHEME_DIR, cases=4_000, hospitals=8, regions=3, seed=5)
    policy = load_policy(PANZHIHUA)
    local = settle_province(province, policy)
    with distributed.Client(scheduler, set_as_default=False) as client:
        on_cluster = settle_province(replace(province, cases=dd.from_pandas(province.cases, npartitions=3)),
                                     policy, client=client, scratch=tmp_path)
    for name in ("summary", "pools", "hospitals", "monthly", "clearing", "clearing_matrix"):
        pd.testing.assert_frame_equal(getattr(on_cluster, name), getattr(local, name), check_exact=True, obj=name)
    for name, table in local.indicators.items():
        pd.testing.assert_frame_equal(on_cluster.indicators[name], table, check_exact=True, obj=name)
    assert on_cluster.warnings == local.warnings
    assert list(on_cluster.cases.columns) == list(local.cases.columns)
    for column in local.cases.columns:
        expected, got = local.cases[column], on_cluster.cases[column]
        assert got.astype(object).where(got.notna(), None).tolist() == \
            expected.astype(object).where(expected.notna(), None).tolist(), column
    assert not list(tmp_path.iterdir())   # the scratch province is removed


def test_error_names_the_input_row(provinces, scheduler, tmp_path, capsys):
    """A value no stay can be settled with stops the run naming the input's part file, row and field."""
    dataset = tmp_path / "dataset"
    shutil.copytree(provinces["dataset"], dataset)
    part = sorted((dataset / "cases").rglob("part-003.parquet"))[-1]
    stays = pq.read_table(part).to_pandas()
    stays.loc[5, "total_cost"] = -1.0
    stays.to_parquet(part, index=False)
    local_status, local_error = settle(capsys, dataset, tmp_path / "local", PANZHIHUA)
    status, error = settle(capsys, dataset, tmp_path / "dask", PANZHIHUA, "--engine", "dask", "--scheduler",
                           scheduler)
    assert local_status == status == 2
    assert error == local_error and "part-003.parquet, row 6" in error and "total_cost" in error


def test_assessment_from_indicators(provinces, scheduler, tmp_path):
    """Assessment coefficients from indicators ranked within each level across pooling areas: the areas are
    settled once for the indicators, then again at the coefficients their scores give."""
    from drgdip.budget import load_policy
    from drgdip.budget.on_cluster import settle_on_cluster
    from drgdip.budget.pipeline import settle_province
    from drgdip.simulate.scenarios import apply_overrides
    from tests.test_indicators import ASSESSMENT

    policy = apply_overrides(load_policy(PANZHIHUA), ASSESSMENT)
    local = settle_province(provinces["single"], policy)
    assert local.hospitals["assessment_coef"].nunique() > 1
    with distributed.Client(scheduler, set_as_default=False) as client:
        result = settle_on_cluster(client, provinces["single"], policy, tmp_path)
    for name in ("summary", "pools", "hospitals", "monthly", "clearing"):
        pd.testing.assert_frame_equal(getattr(result.settlement, name), getattr(local, name), check_exact=True,
                                      obj=name)
    for name, table in local.indicators.items():
        pd.testing.assert_frame_equal(result.settlement.indicators[name], table, check_exact=True, obj=name)


def test_timings_and_the_workbook_per_case_sheet(provinces, scheduler, tmp_path, capsys):
    import openpyxl

    output, scratch = tmp_path / "dask", tmp_path / "scratch"
    scratch.mkdir()   # a directory of the user's: the areas' provinces go inside it, and are removed
    assert main(["settle", "--policy", str(PANZHIHUA), "--input", str(provinces["single"]), "--output", str(output),
                 "--engine", "dask", "--scheduler", scheduler, "--timings", "--excel-case-rows", "100000",
                 "--lang", "en", "--scratch", str(scratch)]) == 0
    assert scratch.is_dir() and not list(scratch.iterdir())
    printed = capsys.readouterr().out
    assert "settle areas" in printed and "write stays" in printed
    sheets = openpyxl.load_workbook(output / "settlement.xlsx", read_only=True)
    stays = len(pd.read_parquet(output / "cases.parquet"))
    assert sheets["cases"].max_row == stays + 1


def test_an_area_larger_than_a_worker_is_refused_before_settling():
    """An area is settled whole by one worker: one that cannot hold it stops the run first, saying so."""
    from drgdip.budget.on_cluster import BYTES_PER_STAY, _check_worker_memory
    from drgdip.core.errors import UsageError

    class Client:   # what the check reads of a client: its workers' memory limits
        def scheduler_info(self, n_workers):
            return {"workers": {"a": {"memory_limit": 4 << 30}, "b": {"memory_limit": 4 << 30}}}

    fits = (4 << 30) * 0.9 // BYTES_PER_STAY
    _check_worker_memory(Client(), ["370100", "370200"], np.array([0, 1, 1]), np.array([fits, fits // 2, fits // 2]))
    with pytest.raises(UsageError, match=r"pooling area 370200 holds [0-9,]+ stays .* settled whole by one worker"):
        _check_worker_memory(Client(), ["370100", "370200"], np.array([0, 1, 1]), np.array([10, fits, 1]))


def test_summary_columns_in_the_order_classes_and_statuses_first_occur():
    """An area without low outliers still puts the province's share_low where the local engine does."""
    from drgdip.budget.on_cluster import _summary_columns

    ranks = {"outlier_class": pd.Series({"normal": 0, "low": 1, "high": 2}),
             "settle_status": pd.Series({"ok": 0, "invalid:fund_above_cost": 1, "merged": 2,
                                         "out_of_scope:region": 3})}
    columns = ["area", "cases", "share_normal", "share_high", "cases_merged", "cases_out_of_scope:cross_province",
               "cases_out_of_scope:region", "share_low", "cases_invalid:fund_above_cost"]
    assert _summary_columns(columns, ranks) == [
        "area", "cases", "share_normal", "share_low", "share_high", "cases_invalid:fund_above_cost", "cases_merged",
        "cases_out_of_scope:cross_province", "cases_out_of_scope:region"]


def test_scenarios_prepare_a_province_given_as_a_dask_frame(scheduler):
    """prepare_province (what simulate settles many times) takes a Dask DataFrame too, computed into memory."""
    import dask.dataframe as dd

    from drgdip.budget import load_policy
    from drgdip.simulate import prepare_province, simulate
    from drgdip.simulate.scenarios import Scenario
    from drgdip.synth.province import generate_province

    province = generate_province(DEMO_SCHEME_DIR, cases=3_000, hospitals=6, regions=2, seed=9)
    policy = load_policy(PANZHIHUA)
    scenarios = [Scenario("level3_up", {"points.hospital_coef.by_level.3": 1.1})]
    local = simulate(prepare_province(province, policy), policy, scenarios=scenarios)
    with distributed.Client(scheduler):
        lazy = replace(province, cases=dd.from_pandas(province.cases, npartitions=4))
        from_dask = simulate(prepare_province(lazy, policy), policy, scenarios=scenarios)
    pd.testing.assert_frame_equal(from_dask.hospitals, local.hospitals, check_exact=True)
    pd.testing.assert_frame_equal(from_dask.scenarios, local.scenarios, check_exact=True)
