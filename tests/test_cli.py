"""``drgdip group`` and ``drgdip explain`` end to end."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from drgdip.cli import main
from tests.conftest import NATIONAL_SCHEME_DIR, PUBLIC_CORPUS


def test_group_csv_to_parquet_and_summary(tmp_path, capsys, public_corpus):
    output = tmp_path / "grouped.parquet"
    code = main(["group", "--scheme", str(NATIONAL_SCHEME_DIR), "--input", str(PUBLIC_CORPUS),
                 "--output", str(output)])
    assert code == 0
    got = pd.read_parquet(output)
    assert list(got.columns) == ["case_id", "status", "mdc", "adrg", "drg", "scheme_version"]
    assert got["drg"].tolist() == public_corpus["exp_drg"].tolist()
    summary = capsys.readouterr().out
    assert "60,000 cases" in summary and "628 distinct DRGs" in summary
    assert "ok 55,971" in summary and "no_group 2,817" in summary and "cases/s" in summary


def test_group_parquet_to_csv_keeping_input_columns(tmp_path, public_corpus):
    source = tmp_path / "cases.parquet"
    public_corpus.head(1000).to_parquet(source, index=False)
    output = tmp_path / "grouped.csv"
    assert main(["group", "--scheme", str(NATIONAL_SCHEME_DIR), "--input", str(source),
                 "--output", str(output), "--keep-input-columns"]) == 0
    got = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert len(got) == 1000
    assert got["dx"].tolist() == public_corpus["dx"].head(1000).tolist()
    assert got["status"].tolist() == public_corpus["exp_status"].head(1000).tolist()


def test_header_only_input_gives_header_only_output(tmp_path):
    source = tmp_path / "empty.csv"
    source.write_text("case_id,gender,age,age_days,birth_weight,dx,proc\n", encoding="utf-8")
    output = tmp_path / "out.csv"
    assert main(["group", "--scheme", str(NATIONAL_SCHEME_DIR), "--input", str(source),
                 "--output", str(output)]) == 0
    assert pd.read_csv(output).columns.tolist() == ["case_id", "status", "mdc", "adrg", "drg", "scheme_version"]
    assert len(pd.read_csv(output)) == 0


@pytest.mark.parametrize("content, expected", [
    ("case_id,gender,age,dx\n1,1,40,K35.800\n", "field 'proc'"),
    (None, "file not found"),
])
def test_unusable_input_exits_2_with_one_line(tmp_path, content, expected):
    source = tmp_path / "cases.csv"
    if content is not None:
        source.write_text(content, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "drgdip.cli", "group", "--scheme",
                             str(NATIONAL_SCHEME_DIR), "--input", str(source), "--output",
                             str(tmp_path / "out.csv")], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cases.csv" in lines[0] and expected in lines[0]


def test_broken_scheme_exits_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "drgdip.cli", "group", "--scheme",
                             str(tmp_path), "--input", str(PUBLIC_CORPUS), "--output",
                             str(tmp_path / "out.csv")], capture_output=True, text=True)
    assert result.returncode == 2 and "mdc.csv" in result.stderr


def test_explain_prints_the_decisions(capsys, public_corpus):
    row = public_corpus[public_corpus["kind"] == "targeted:ET15"].iloc[0]
    case = f"gender={row.gender}; age={row.age}; age_days={row.age_days}; dx={row.dx}; proc={row.proc}"
    assert main(["explain", "--scheme", str(NATIONAL_SCHEME_DIR), "--case", case]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Case case: status ok, MDC MDCE, ADRG ET1, DRG ET15")
    assert "entered MDCE" in text and "matched ADRG ET1" in text
    assert "DRG ET15" in text and "split rule always holds" in text


def test_explain_from_a_file_as_json(capsys):
    import json

    assert main(["explain", "--scheme", str(NATIONAL_SCHEME_DIR), "--input", str(PUBLIC_CORPUS),
                 "--case-id", "P000001", "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    assert trace["drg"] == "JU11" and trace["status"] == "ok"
    kinds = [step["kind"] for step in trace["steps"]]
    assert kinds[0] == "validation" and "complication" in kinds and kinds[-1] == "drg"


def test_group_with_dip_directory_appends_dip_columns(tmp_path):
    from drgdip.grouper import group_dip
    from tests.conftest import DEMO_SCHEME_DIR

    demo = DEMO_SCHEME_DIR.parent
    output = tmp_path / "grouped.csv"
    assert main(["group", "--scheme", str(DEMO_SCHEME_DIR), "--input", str(demo / "cases.csv"),
                 "--output", str(output), "--dip", str(demo / "dip"), "--batch-rows", "100"]) == 0
    got = pd.read_csv(output, dtype=str, keep_default_na=False)
    expected = group_dip(demo / "cases.csv", demo / "dip")
    assert got.columns.tolist()[:5] == ["case_id", "status", "mdc", "adrg", "drg"]
    assert got["dip_group"].tolist() == [("" if pd.isna(g) else g) for g in expected["dip_group"]]
    assert got["dip_type"].tolist() == expected["dip_type"].astype(str).tolist()
    assert (got["dip_type"] == "core").any()


def test_the_first_run_says_that_kernels_are_compiled(monkeypatch, capsys):
    import drgdip.cli as cli

    monkeypatch.setattr(cli, "kernels_cached", lambda: False)
    assert cli.main(["demo", "--cases", "300", "--seed", "3", "--no-report"]) == 0
    assert "compiling the numba kernels" in capsys.readouterr().err
    monkeypatch.setattr(cli, "kernels_cached", lambda: True)
    assert cli.main(["demo", "--cases", "300", "--seed", "3", "--no-report"]) == 0
    assert "compiling" not in capsys.readouterr().err


def test_a_clock_shows_each_stage_as_it_starts_and_clears_the_line():
    import io

    from drgdip.core.timing import StageClock

    stream = io.StringIO()
    clock = StageClock(progress=stream, command="drgdip settle")
    with clock.stage("read"):
        pass
    with clock.stage("points"):
        pass
    clock.done()
    shown = stream.getvalue()
    assert "drgdip settle: read ..." in shown and "drgdip settle: points ..." in shown
    assert shown.endswith("\r\033[K") and [s.name for s in clock.stages] == ["read", "points"]


def test_each_kernel_is_named_as_it_compiles_on_a_first_run():
    import io

    import numba

    from drgdip.core.compiling import compile_progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def doubled(x):
        return 2 * x

    doubled.__module__ = "drgdip.example_kernels"
    kernel = numba.njit(doubled)
    terminal = Terminal()
    with compile_progress(terminal) as compiled:
        assert kernel(21) == 42
        assert kernel(4) == 8   # compiled once
    shown = terminal.getvalue()
    assert len(compiled) == 1
    assert "compiling kernel 1: drgdip.example_kernels" in shown
    assert shown.endswith("drgdip: compiled and cached 1 kernels in 0 s; later runs load them\n")
    quiet = io.StringIO()
    with compile_progress(quiet) as compiled:
        kernel(5)
    assert compiled == [] and quiet.getvalue() == ""
