"""Output files appear under their final name only when complete: a writer that fails leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from drgdip.core.atomic import atomic_open, atomic_path, write_text_atomic
from drgdip.core.tables import DatasetWriter, TableWriter, write_table

REPO = Path(__file__).resolve().parents[1]
DEMO_SCHEME = REPO / "data" / "demo" / "scheme"


class Failure(Exception):
    pass


def piece(start: int, rows: int = 5) -> pa.Table:
    return pa.table({"case_id": [f"C{i}" for i in range(start, start + rows)], "year": [2025] * rows})


@pytest.mark.parametrize("name", ["out.parquet", "out.csv"])
def test_a_table_writer_failing_midway_leaves_no_file(tmp_path, name):
    with pytest.raises(Failure):
        with TableWriter(tmp_path / name) as writer:
            writer.write(piece(0))
            writer.write(piece(5))
            raise Failure
    assert list(tmp_path.iterdir()) == []


def test_a_failure_keeps_the_older_file_and_success_replaces_it(tmp_path):
    path = tmp_path / "out.parquet"
    write_table(piece(0, 3), path)
    with pytest.raises(KeyboardInterrupt):   # an interruption too
        with TableWriter(path, background=True) as writer:
            writer.write(piece(100))
            raise KeyboardInterrupt
    assert pq.read_table(path).equals(piece(0, 3)) and list(tmp_path.iterdir()) == [path]
    with TableWriter(path, background=True) as writer:
        writer.write(piece(10))
        writer.write(piece(15))
    assert pq.read_table(path).column("case_id").to_pylist() == [f"C{i}" for i in range(10, 20)]
    assert list(tmp_path.iterdir()) == [path]


def test_a_piece_that_cannot_be_written_leaves_no_file(tmp_path):
    with pytest.raises(ValueError, match="schema"):
        with TableWriter(tmp_path / "out.parquet") as writer:
            writer.write(piece(0))
            writer.write(pa.table({"other": [1.5]}))   # not the file's columns: the Parquet writer refuses
    assert list(tmp_path.iterdir()) == []


def test_excel_and_text_writers_are_atomic(tmp_path):
    frame = pd.DataFrame({"case_id": ["a", "b"], "cost": [1.0, 2.0]})
    write_table(frame, tmp_path / "t.xlsx")
    assert pd.read_excel(tmp_path / "t.xlsx")["case_id"].tolist() == ["a", "b"]
    write_text_atomic(tmp_path / "info.json", "{}\n")
    with pytest.raises(Failure):
        with atomic_open(tmp_path / "info.json") as handle:
            handle.write('{"half": ')
            raise Failure
    assert (tmp_path / "info.json").read_text() == "{}\n"
    with pytest.raises(Failure):
        with atomic_path(tmp_path / "new.txt") as temporary:
            temporary.write_text("partial")
            raise Failure
    assert sorted(p.name for p in tmp_path.iterdir()) == ["info.json", "t.xlsx"]


def test_the_settlement_workbook_is_atomic(tmp_path, monkeypatch):
    from drgdip.budget import report

    class Tables:
        def tables(self):
            return {"summary": pd.DataFrame({"area": ["370100"], "budget_total": [1.0]})}

    def fail(*args, **kwargs):
        raise Failure

    monkeypatch.setattr(report, "_write_sheet", fail)
    with pytest.raises(Failure):
        report.write_workbook(Tables(), tmp_path / "settlement.xlsx")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    report.write_workbook(Tables(), tmp_path / "settlement.xlsx")
    assert [p.name for p in tmp_path.iterdir()] == ["settlement.xlsx"]


def test_a_dataset_writer_failing_midway_leaves_no_directory(tmp_path):
    root = tmp_path / "cases"
    with pytest.raises(Failure):
        with DatasetWriter(root, max_rows=4, partition_by=("year",)) as writer:
            writer.write(piece(0, 10))
            raise Failure
    assert list(tmp_path.iterdir()) == []
    with DatasetWriter(root, max_rows=4, partition_by=("year",)) as writer:
        writer.write(piece(0, 10))
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "year=2025", "year=2025/part-00000.parquet", "year=2025/part-00001.parquet", "year=2025/part-00002.parquet"]
    assert list(tmp_path.iterdir()) == [root]


def test_drgdip_group_failing_midway_leaves_no_output(tmp_path, monkeypatch, capsys):
    from drgdip.cli import main
    from drgdip.grouper import cli as grouper_cli

    cases = pd.DataFrame({"case_id": [f"C{i}" for i in range(40)], "gender": 1, "age": 50, "dx": "I21.0",
                          "proc": ""})
    source = tmp_path / "cases.parquet"
    cases.to_parquet(source)
    calls = []
    real = grouper_cli.result_table

    def fail_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise Failure
        return real(*args, **kwargs)

    monkeypatch.setattr(grouper_cli, "result_table", fail_on_third)
    out = tmp_path / "grouped.parquet"
    with pytest.raises(Failure):
        main(["group", "--scheme", str(DEMO_SCHEME), "--input", str(source), "--output", str(out),
              "--batch-rows", "10"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.parquet"]
