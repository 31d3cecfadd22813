"""Scheme compilation details not covered by the per-rule tests: the ambiguous group, trace text."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from drgdip.cli import main
from drgdip.grouper import explain_case, group_cases, load_scheme
from tests.conftest import DEMO_SCHEME_DIR


@pytest.fixture()
def qy_scheme_dir(tmp_path):
    """The demo scheme with MDCG's ambiguous-group check switched on."""
    target = tmp_path / "scheme"
    shutil.copytree(DEMO_SCHEME_DIR, target)
    mdc = pd.read_csv(target / "mdc.csv", dtype=str, keep_default_na=False)
    mdc.loc[mdc["mdc"] == "MDCG", "qy_enabled"] = "true"
    mdc.to_csv(target / "mdc.csv", index=False)
    return target


def _unlisted_valid_procedure(scheme) -> str:
    listed = set(scheme.tables["adrg_codes"].query("list != 'zd'")["code"])
    return next(c for c in scheme.tables["valid_proc"]["code"] if c not in listed)


def test_enabled_ambiguous_group_catches_unmatched_operating_room_procedure(qy_scheme_dir):
    plain, with_qy = load_scheme(DEMO_SCHEME_DIR), load_scheme(qy_scheme_dir)
    procedure = _unlisted_valid_procedure(plain)
    case = {"case_id": "q", "gender": "1", "age": "40", "age_days": "", "birth_weight": "",
            "dx": "K35.800", "proc": procedure}
    frame = pd.DataFrame([case, {**case, "case_id": "no_or_procedure", "proc": ""}])
    assert group_cases(frame, plain)["adrg"].astype(str).tolist() == ["GZ1", "GZ1"]
    got = group_cases(frame, with_qy)
    assert got.iloc[0][["status", "mdc", "adrg", "drg"]].astype(str).tolist() == [
        "ambiguous", "MDCG", "QY", "GQY"]
    assert got.iloc[1]["adrg"] == "GZ1"
    trace = explain_case(case, with_qy)
    assert trace.drg == "GQY" and [s.kind for s in trace.steps][-1] == "ambiguous"
    assert f"operating-room procedure {procedure}" in trace.to_text()


def test_progress_bar_on_request(tmp_path, capsys):
    cases = tmp_path / "cases.csv"
    shutil.copy(DEMO_SCHEME_DIR.parent / "cases.csv", cases)
    assert main(["group", "--scheme", str(DEMO_SCHEME_DIR), "--input", str(cases), "--output",
                 str(tmp_path / "out.parquet"), "--progress", "--batch-rows", "100"]) == 0
    err = capsys.readouterr().err
    assert "cases" in err and "/s" in err and err.count("\r") >= 3
