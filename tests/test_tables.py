"""The foundation's one table reader and writer (drgdip.core.tables) and the province layout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from drgdip.core.errors import UsageError
from drgdip.core.province import Province, read_province, write_province
from drgdip.core.tables import TableWriter, read_table, read_table_rows, table_columns, write_table


def _frame(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "case_id": [f"C{i:05d}" for i in range(n)],
        "hospital_id": pd.Categorical(rng.choice(["H01", "H02", "0101"], n)),
        "dx": ["K35.800" if i % 3 else "" for i in range(n)],
        "total_cost": rng.uniform(100, 9000, n).round(2),
        "los": rng.integers(1, 30, n).astype(np.int16),
        "admit_time": pd.date_range("2025-01-01", periods=n, freq="h").astype("datetime64[s]"),
    })


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_written_table_reads_back(tmp_path, suffix):
    frame = _frame()
    path = write_table(frame, tmp_path / f"cases{suffix}")
    back = read_table(path, categorical=("hospital_id",))
    assert back["case_id"].tolist() == frame["case_id"].tolist()
    assert back["hospital_id"].astype(str).tolist() == frame["hospital_id"].astype(str).tolist()
    np.testing.assert_array_equal(back["total_cost"].to_numpy(), frame["total_cost"].to_numpy())
    assert back["los"].tolist() == frame["los"].tolist()
    assert (back["admit_time"] == frame["admit_time"]).all()
    assert back["dx"].tolist() == frame["dx"].tolist()   # an empty code list stays "" (not missing)


def test_csv_keeps_codes_as_text_and_empty_fields_missing(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text("case_id,hospital_id,region,dx,total_cost\n001,0101,370100,,12.5\n002,,370200,K35,\n",
                    encoding="utf-8")
    frame = read_table(path)
    assert frame["case_id"].tolist() == ["001", "002"] and frame["hospital_id"].iloc[0] == "0101"
    assert pd.isna(frame["hospital_id"].iloc[1]) and pd.isna(frame["total_cost"].iloc[1])
    assert frame["dx"].tolist() == ["", "K35"]


def test_rows_of_a_parquet_file_come_from_their_row_groups(tmp_path):
    frame = _frame(1000)
    path = tmp_path / "cases.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=128)
    rows = np.array([0, 5, 127, 128, 129, 640, 999])
    got = read_table_rows(path, rows, columns=["case_id", "los"])
    assert got["case_id"].tolist() == frame["case_id"].iloc[rows].tolist()
    assert got["los"].tolist() == frame["los"].iloc[rows].tolist()
    csv = write_table(frame, tmp_path / "cases.csv")
    assert read_table_rows(csv, rows, columns=["case_id"])["case_id"].tolist() == frame["case_id"].iloc[rows].tolist()


def test_table_writer_appends_pieces(tmp_path):
    frame = _frame(30)
    with TableWriter(tmp_path / "out.parquet", background=True) as writer:
        writer.write(frame.iloc[:10])
        writer.write(frame.iloc[10:])
    assert read_table(tmp_path / "out.parquet")["case_id"].tolist() == frame["case_id"].tolist()


@pytest.mark.parametrize("bad, message", [
    ("missing.parquet", "file not found"),
    ("cases.json", "unknown table format"),
])
def test_unreadable_input_names_the_file(tmp_path, bad, message):
    path = tmp_path / bad
    if bad.endswith(".json"):
        path.write_text("{}")
    with pytest.raises(UsageError, match=message) as error:
        read_table(path, what="cases")
    assert str(path) in str(error.value)


def test_required_columns_are_named(tmp_path):
    path = write_table(_frame(), tmp_path / "cases.csv")
    with pytest.raises(UsageError, match=r"row 1, field 'fund_paid'.*missing column"):
        read_table(path, what="cases", required=("case_id", "fund_paid"))
    assert table_columns(path)[:2] == ["case_id", "hospital_id"]


def test_province_directory_round_trip(tmp_path):
    province = Province(cases=_frame(), hospitals=pd.DataFrame({"hospital_id": ["H01"], "level": [3]}),
                        info={"seed": 1})
    paths = write_province(province, tmp_path / "p")
    assert set(paths) == {"cases", "hospitals", "info"}
    back = read_province(tmp_path / "p", tables=("cases",))
    assert back.hospitals is None and back.info == {"seed": 1} and len(back.cases) == 50
    assert read_province(tmp_path / "p").hospitals["level"].tolist() == [3]
    with pytest.raises(UsageError, match="input not found"):
        read_province(tmp_path / "nothing")
