"""A directory of Parquet part files (hive-partitioned or not) is read like one table by every command.

The demo scheme's province is written by ``drgdip synth`` as one Parquet file, as CSV and as part files
(``--partition-rows``); grouping and settling give the same results from each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgdip.cli import main
from drgdip.core.datasets import in_part_file, open_dataset
from drgdip.core.errors import UsageError
from drgdip.core.province import cases_path, read_province
from drgdip.core.tables import (count_rows, iter_file_batches, read_table, read_table_rows, row_in_file,
                                table_columns)

REPO = Path(__file__).resolve().parents[1]
DEMO_SCHEME = REPO / "data" / "demo" / "scheme"
POLICY = REPO / "data" / "policies" / "yanbian_day_surgery_2025.yaml"
SETTLE_TABLES = ("summary", "pools", "hospitals", "indicators", "monthly", "clearing", "clearing_matrix", "cases")
SYNTH = ["synth", "--scheme", str(DEMO_SCHEME), "--cases", "2500", "--years", "2024,2025", "--hospitals", "8",
         "--regions", "3", "--seed", "11"]


@pytest.fixture(scope="module")
def provinces(tmp_path_factory):
    """The same synthetic province as one Parquet file, as CSV files and as part files of 400 rows."""
    root = tmp_path_factory.mktemp("partitioned")
    layouts = {"parquet": [], "csv": ["--format", "csv"], "parts": ["--partition-rows", "400"]}
    for name, extra in layouts.items():
        assert main(SYNTH + ["--output", str(root / name)] + extra) == 0
    return {name: root / name for name in layouts}


def write_part(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


# ---------------------------------------------------------------- the dataset reader


def test_synth_parts_read_back_as_the_single_file(provinces):
    parts = provinces["parts"] / "cases"
    files = sorted(p.relative_to(parts).as_posix() for p in parts.rglob("*.parquet"))
    assert files[0] == "year=2024/part-00000.parquet" and any(f.startswith("year=2025/") for f in files)
    assert all(pq.read_metadata(parts / f).num_rows <= 400 for f in files)
    single = read_province(provinces["parquet"])
    dataset = read_province(provinces["parts"])
    for name in ("cases", "hospitals", "outpatient", "day_ward_visits"):
        pd.testing.assert_frame_equal(getattr(dataset, name), getattr(single, name))
    assert dataset.info == single.info
    assert cases_path(provinces["parts"]) == parts
    assert count_rows(parts) == len(single.cases)
    assert table_columns(parts) == list(single.cases.columns)


def test_hive_keys_become_typed_columns_in_sorted_path_order(tmp_path):
    root = tmp_path / "cases"
    for region, year, ids in (("R9", 2025, ["c", "d"]), ("R10", 2024, ["a"]), ("0101", 2025, ["e"]),
                              ("R10", 2025, ["b"])):
        write_part(root / f"region={region}" / f"year={year}" / "part-0.parquet",
                   pa.table({"case_id": ids, "total_cost": [1.0] * len(ids)}))
    (root / "_SUCCESS").write_text("")
    (root / ".part-0.parquet.crc").write_text("x")
    frame = read_table(root)
    # paths sorted as text: region=0101 < region=R10 < region=R9, then year
    assert frame["case_id"].tolist() == ["e", "a", "b", "c", "d"]
    assert frame["region"].tolist() == ["0101", "R10", "R10", "R9", "R9"]   # an id column stays text
    assert frame["year"].dtype == np.int64 and frame["year"].tolist() == [2025, 2024, 2025, 2025, 2025]
    assert list(frame.columns) == ["case_id", "total_cost", "region", "year"]
    later = read_table(root, columns=["case_id"], filters=[("year", "=", 2025), ("region", "!=", "R9")])
    assert later["case_id"].tolist() == ["e", "b"] and list(later.columns) == ["case_id"]
    mixed = tmp_path / "mixed"
    write_part(mixed / "batch=7" / "a.parquet", pa.table({"x": [1]}))
    write_part(mixed / "batch=7b" / "a.parquet", pa.table({"x": [2]}))
    assert read_table(mixed)["batch"].tolist() == ["7", "7b"]   # not every value an integer: text


def test_a_key_inside_the_files_must_agree_with_its_directory(tmp_path):
    root = tmp_path / "cases"
    year = pa.array([2025, 2025], pa.int16())
    write_part(root / "year=2025" / "part-0.parquet", pa.table({"case_id": ["a", "b"], "year": year}))
    frame = read_table(root)
    assert frame["year"].dtype == np.int16 and list(frame.columns) == ["case_id", "year"]   # the files' column
    write_part(root / "year=2025" / "part-1.parquet",
               pa.table({"case_id": ["c", "d"], "year": pa.array([2025, 2024], pa.int16())}))
    with pytest.raises(UsageError) as caught:
        read_table(root)
    assert caught.value.file == str(root / "year=2025" / "part-1.parquet")
    assert (caught.value.row, caught.value.field) == (2, "year")
    assert "year=2025" in str(caught.value)


def test_unusable_directories_are_usage_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no Parquet files"):
        read_table(empty)
    (empty / "_SUCCESS").write_text("")
    with pytest.raises(UsageError, match="no Parquet files"):
        table_columns(empty)
    stray = tmp_path / "stray"
    write_part(stray / "part-0.parquet", pa.table({"x": [1]}))
    (stray / "notes.txt").write_text("hello")
    with pytest.raises(UsageError, match="not a Parquet file") as caught:
        read_table(stray)
    assert caught.value.file == str(stray / "notes.txt")
    differ = tmp_path / "differ"
    write_part(differ / "part-0.parquet", pa.table({"x": [1]}))
    write_part(differ / "part-1.parquet", pa.table({"y": [1]}))
    with pytest.raises(UsageError, match="columns") as caught:
        read_table(differ)
    assert caught.value.file == str(differ / "part-1.parquet")
    assert main(["group", "--scheme", str(DEMO_SCHEME), "--input", str(empty),
                 "--output", str(tmp_path / "out.parquet")]) == 2
    assert not (tmp_path / "out.parquet").exists()


def test_part_types_are_unified(tmp_path):
    root = tmp_path / "cases"
    write_part(root / "part-0.parquet", pa.table({"n": pa.array([1], pa.int32()), "t": pa.nulls(1)}))
    write_part(root / "part-1.parquet", pa.table({"n": pa.array([2], pa.int64()), "t": ["x"]}))
    frame = read_table(root)
    assert frame["n"].dtype == np.int64 and frame["n"].tolist() == [1, 2]
    assert frame["t"].tolist()[1] == "x" and pd.isna(frame["t"].iloc[0])


def test_streaming_and_row_fetches_follow_the_single_file(provinces):
    single = provinces["parquet"] / "cases.parquet"
    parts = provinces["parts"] / "cases"
    whole = pq.read_table(single)
    batches = list(iter_file_batches(parts, 300, columns=["case_id", "year", "total_cost"]))
    assert [b.num_rows for b in batches[:-1]] == [300] * (len(batches) - 1)
    assert pa.concat_tables(batches).equals(whole.select(["case_id", "year", "total_cost"]))
    dataset = open_dataset(parts)
    per_part = list(dataset.iter_batches(1000, ["case_id"]))
    assert [t.num_rows for _, t in per_part] == [p.rows for p in dataset.parts]   # one part at a time
    rows = np.sort(np.random.default_rng(3).choice(whole.num_rows, 60, replace=False))
    got = read_table_rows(parts, rows, columns=["case_id", "dept", "year"], categorical=["dept"])
    expected = read_table_rows(single, rows, columns=["case_id", "dept", "year"], categorical=["dept"])
    pd.testing.assert_frame_equal(got, expected, check_categorical=False)
    assert isinstance(got["dept"].dtype, pd.CategoricalDtype)
    position = int(rows[-1])
    part, row = dataset.locate(position)
    assert pq.read_table(part).column("case_id")[row].as_py() == whole.column("case_id")[position].as_py()
    assert row_in_file(parts, position) == (str(part), row + 1)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 30), min_size=1, max_size=6), batch=st.integers(1, 40), data=st.data())
def test_any_split_into_part_files_reads_as_the_whole(tmp_path_factory, sizes, batch, data):
    root = tmp_path_factory.mktemp("split") / "cases"
    n = sum(sizes)
    whole = pa.table({"case_id": [f"C{i:04d}" for i in range(n)], "cost": np.arange(n, dtype=np.float64),
                      "year": pa.array([2024 + (i % 2) for i in range(n)], pa.int16())})
    start = 0
    for k, size in enumerate(sizes):
        write_part(root / f"part-{k:03d}.parquet", whole.slice(start, size))
        start += size
    single = root.parent / "cases.parquet"
    pq.write_table(whole, single)
    pd.testing.assert_frame_equal(read_table(root), read_table(single))
    batches = list(iter_file_batches(root, batch))
    assert all(b.num_rows == batch for b in batches[:-1]) and pa.concat_tables(batches).equals(whole)
    rows = np.array(sorted(data.draw(st.sets(st.integers(0, max(n - 1, 0)), max_size=n))), dtype=np.int64)
    fetched = read_table_rows(root, rows, columns=["case_id", "year"])
    assert fetched["case_id"].tolist() == [f"C{i:04d}" for i in rows]


def test_errors_about_dataset_rows_name_the_part_file(tmp_path):
    root = tmp_path / "cases"
    for k in range(3):
        write_part(root / f"part-{k}.parquet", pa.table({"x": [k * 10 + i for i in range(4)]}))
    error = in_part_file(UsageError("bad value", file=str(root), row=6, field="x"))
    assert (error.file, error.row, error.field) == (str(root / "part-1.parquet"), 2, "x")
    untouched = UsageError("bad", file=str(root / "part-1.parquet"), row=2)
    assert in_part_file(untouched) is untouched


# ---------------------------------------------------------------- the commands


def test_group_gives_the_same_rows_from_csv_parquet_and_parts(provinces, tmp_path):
    inputs = {"csv": provinces["csv"] / "cases.csv", "parquet": provinces["parquet"] / "cases.parquet",
              "parts": provinces["parts"] / "cases"}
    results = {}
    for name, source in inputs.items():
        out = tmp_path / f"{name}.parquet"
        assert main(["group", "--scheme", str(DEMO_SCHEME), "--input", str(source), "--output", str(out),
                     "--batch-rows", "700"]) == 0
        results[name] = pq.read_table(out)
    assert results["parts"].num_rows == 2500
    assert results["parts"].equals(results["parquet"])
    assert results["csv"].equals(results["parquet"])


def test_settle_gives_the_same_tables_from_csv_parquet_and_parts(provinces, tmp_path, capsys):
    tables = {}
    for name, directory in provinces.items():
        out = tmp_path / name
        assert main(["settle", "--policy", str(POLICY), "--input", str(directory), "--output", str(out),
                     "--scheme", str(DEMO_SCHEME), "--no-excel"]) == 0
        tables[name] = {table: pd.read_parquet(out / f"{table}.parquet") for table in SETTLE_TABLES}
    for name in ("csv", "parts"):
        for table in SETTLE_TABLES:
            # A categorical column's levels are those of the rows read, in the order met: the values are
            # compared, not the order of the levels. The per-stay table repeats the input columns, which
            # CSV types by their values (year int64 where the Parquet file has int16).
            pd.testing.assert_frame_equal(tables[name][table], tables["parquet"][table], check_categorical=False,
                                          check_dtype=name == "parts" or table != "cases", obj=f"{name} {table}")
    assert len(tables["parts"]["cases"]) > 0


def _with_a_changed_part(provinces, tmp_path, column: str, change) -> tuple[Path, Path]:
    """(a copy of the province in part files, its part file ``part-00001`` of 2025), ``change(table)``
    giving that part's new values of ``column``."""
    import shutil

    province = tmp_path / "province"
    shutil.copytree(provinces["parts"], province)
    part = province / "cases" / "year=2025" / "part-00001.parquet"
    table = pq.read_table(part)
    values = pa.array(change(table))
    pq.write_table(table.set_column(table.schema.get_field_index(column), column, values), part)
    return province, part


def test_a_bad_value_in_a_part_file_is_told_at_its_row(provinces, tmp_path, capsys):
    def negative_cost(table):
        cost = table.column("total_cost").to_numpy().copy()
        cost[2] = -5.0
        return cost

    province, part = _with_a_changed_part(provinces, tmp_path, "total_cost", negative_cost)
    assert main(["settle", "--policy", str(POLICY), "--input", str(province), "--output", str(tmp_path / "out"),
                 "--scheme", str(DEMO_SCHEME), "--no-excel"]) == 2
    message = capsys.readouterr().err
    assert f"{part}, row 3, field 'total_cost'" in message


def test_a_province_in_shards_reads_back_the_same_from_one_file_and_from_parts(tmp_path, monkeypatch):
    from drgdip.synth import province as synth_province
    from drgdip.synth.output import write_synthetic_province
    from drgdip.synth.province import SyntheticProvince, generate_province, read_synthetic_province

    monkeypatch.setattr(synth_province, "SHARD_ROWS", 700)   # 4 shards
    options = dict(cases=2500, years=(2024, 2025), hospitals=8, regions=3, seed=5)
    whole = generate_province(DEMO_SCHEME, **options)
    cases = whole.cases
    assert cases["case_id"].is_unique and whole.outpatient["visit_id"].is_unique
    assert cases["discharge_time"].dt.floor("D").is_monotonic_increasing   # discharge order across shards
    assert set(whole.day_ward_visits["case_id"]) <= set(cases["case_id"])
    written = {}
    for name, rows in (("single", None), ("parts", 300)):
        write_synthetic_province(SyntheticProvince(DEMO_SCHEME, **options), tmp_path / name, partition_rows=rows)
        written[name] = read_synthetic_province(tmp_path / name)
    for province in written.values():
        for table in ("cases", "hospitals", "outpatient", "day_ward_visits"):
            pd.testing.assert_frame_equal(getattr(province, table), getattr(whole, table))
        assert province.info == whole.info


def test_synth_switching_layouts_leaves_one_cases_table(tmp_path, capsys):
    small = ["synth", "--scheme", str(DEMO_SCHEME), "--cases", "300", "--years", "2025", "--hospitals", "4",
             "--regions", "2", "--seed", "2", "--output", str(tmp_path)]
    assert main(small + ["--partition-rows", "0"]) == 2
    assert main(small + ["--partition-rows", "100", "--format", "csv"]) == 2
    assert "--partition-rows" in capsys.readouterr().err and list(tmp_path.iterdir()) == []
    assert main(small) == 0
    one_file = read_table(tmp_path / "cases.parquet")
    assert main(small + ["--partition-rows", "100"]) == 0
    assert not (tmp_path / "cases.parquet").exists() and cases_path(tmp_path) == tmp_path / "cases"
    assert sorted(p.name for p in (tmp_path / "cases" / "year=2025").iterdir()) == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    pd.testing.assert_frame_equal(read_province(tmp_path).cases, one_file)
    assert main(small + ["--format", "csv"]) == 0
    assert not (tmp_path / "cases").exists() and cases_path(tmp_path) == tmp_path / "cases.csv"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cases.csv", "day_ward_visits.csv", "hospitals.csv", "outpatient.csv", "province.json"]


def test_a_stay_left_out_of_the_settlement_is_named_at_its_part_files_row(provinces, tmp_path, capsys):
    def fund_above_cost(table):
        fund = table.column("fund_paid").to_numpy().copy()
        fund[4] = table.column("total_cost").to_numpy()[4] + 100.0
        return fund

    province, part = _with_a_changed_part(provinces, tmp_path, "fund_paid", fund_above_cost)
    assert main(["settle", "--policy", str(POLICY), "--input", str(province), "--output", str(tmp_path / "out"),
                 "--scheme", str(DEMO_SCHEME), "--no-excel"]) == 0
    out = capsys.readouterr()
    assert f"status invalid:fund_above_cost (first: {part}, row 5, fund_paid" in out.out + out.err
