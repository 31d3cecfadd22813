"""DIP grouping (domain.md §3.2, §3.3, §3.5): matching order, auxiliary typing, directory files, trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drgdip.core.errors import UsageError
from drgdip.grouper.dip import group_dip
from drgdip.grouper.dip_codes import diagnosis_subcategory
from drgdip.grouper.dip_directory import DipDirectory, load_dip_directory
from drgdip.grouper.dip_trace import explain_dip
from drgdip.pointvalue.weights import WeightTable

REPO = Path(__file__).resolve().parents[1]
DEMO_DIP = REPO / "data" / "demo" / "dip"
DEMO_SCHEME = REPO / "data" / "demo" / "scheme"

GROUPS = pd.DataFrame([
    dict(dip_group="K35.8:47.0100", dip_type="core", dx="K35.8", main_proc="47.0100", score=1225, mean_cost=9800),
    dict(dip_group="K35.8:47.0100+54.5100", dip_type="core", dx="K35.8", main_proc="47.0100",
         related_procs="54.5100", score=1500, mean_cost=12000),
    dict(dip_group="K35.8:47.0100+54.5100+99.2500", dip_type="core", dx="K35.8", main_proc="47.0100",
         related_procs="99.2500+54.5100", score=1800, mean_cost=14400),
    dict(dip_group="K35.8:47.0100+45.1300", dip_type="core", dx="K35.8", main_proc="47.0100",
         related_procs="45.1300", score=1400, mean_cost=11000),
    dict(dip_group="K35.8", dip_type="core", dx="K35.8", score=500, mean_cost=4000, is_basic="true"),
    dict(dip_group="I20.0:36.0601", dip_type="core", dx="I20.0", main_proc="36.0601", score=2500, mean_cost=20000),
    dict(dip_group="K35/surgery", dip_type="comprehensive", dx="K35", proc_class="surgery", score=1100),
    dict(dip_group="K35/therapeutic", dip_type="comprehensive", dx="K35", proc_class="therapeutic", score=800),
    dict(dip_group="K3/medical", dip_type="comprehensive", dx="K3", proc_class="medical", score=450),
    dict(dip_group="I/surgery", dip_type="comprehensive", dx="I", proc_class="surgery", score=2000),
    dict(dip_group="I/therapeutic", dip_type="comprehensive", dx="I", proc_class="therapeutic", score=1700),
])
ATTRIBUTES = pd.DataFrame({
    "proc": ["47.0100", "54.5100", "47.0901", "99.2500", "45.1300", "36.0601", "93.9000", "88.5500"],
    "attribute": ["surgery", "surgery", "surgery", "therapeutic", "diagnostic", "interventional",
                  "conservative", "diagnostic"]})
AUX = pd.DataFrame({"dip_group": ["K35.8:47.0100"] * 6,
                    "subtype": ["severe", "moderate", "death", "age_65y_plus", "icu_2_7d", "icu_8_14d"],
                    "aux_coef": [1.5, 1.2, 2.0, 1.1, 1.3, 1.8], "trigger": [1.5, 1.2, 2.0, 1.1, 1.3, 1.8]})
SEVERITY = pd.DataFrame({"dx": ["A41", "J96.0", "J18.900"], "severity": ["severe", "severe", "moderate"]})


def directory(**kwargs) -> DipDirectory:
    params = dict(groups=GROUPS, proc_attributes=ATTRIBUTES, aux=AUX, severity_dx=SEVERITY, all_case_mean=8000.0)
    params.update(kwargs)
    return DipDirectory(**params)


def one(dx, proc="", **fields):
    return pd.DataFrame([dict(dx=dx, proc=proc, los=fields.pop("los", 5), **fields)])


def group_of(dx, proc="", d=None, **fields):
    out = group_dip(one(dx, proc, **fields), d or directory())
    code = out["dip_group"].iloc[0]
    return (None if pd.isna(code) else code), str(out["dip_type"].iloc[0])


# ---------------------------------------------------------------------------------------------- matching

def test_diagnosis_subcategory():
    codes = ["K35.800x001", "K35.8", "C56.x00", "K35", "A41.900", "I20.000+X"]
    assert diagnosis_subcategory(codes).to_pylist() == ["K35.8", "K35.8", "C56.x", "K35", "A41.9", "I20.0"]


@pytest.mark.parametrize("dx, proc, expected", [
    ("K35.800", "47.0100", ("K35.8:47.0100", "core")),                             # exact, no related
    ("K35.800x001", "47.0100|54.5100", ("K35.8:47.0100+54.5100", "core")),          # exact related set
    ("K35.800", "47.0100|54.5100|99.2500", ("K35.8:47.0100+54.5100+99.2500", "core")),
    ("K35.800", "47.0100|99.2500|54.5100|88.5500", ("K35.8:47.0100+54.5100+99.2500", "core")),  # most matched
    ("K35.800", "47.0100|99.2500", ("K35.8:47.0100", "core")),                      # related not all present
    ("K35.800", "93.9000|47.0100", ("K35.8:47.0100", "core")),                      # conservative is not main
    ("K35.800", "", ("K35.8", "core")),                                             # medical core group
    ("K35.800", "93.9000", ("K35.8", "core")),                                      # conservative
    ("K35.800", "93.9000|77.7777", (None, "ungrouped")),                            # unknown: not placed
    ("K35.800", "47.0901", ("K35/surgery", "comprehensive")),                       # no core for this main
    ("K35.300", "99.2500", ("K35/therapeutic", "comprehensive")),
    ("K35.300", "", ("K3/medical", "comprehensive")),                               # fallback 3 -> 2
    ("I21.000", "36.0601", ("I/surgery", "comprehensive")),                         # interventional as surgery
    ("I20.000", "36.0601", ("I20.0:36.0601", "core")),
    ("J18.900", "47.0100", (None, "ungrouped")),
    ("", "47.0100", (None, "ungrouped")),
])
def test_matching_order(dx, proc, expected):
    assert group_of(dx, proc) == expected


def test_interventional_as_and_attribute_source():
    therapeutic = directory(interventional_as="therapeutic")
    assert group_of("I21.000", "36.0601", therapeutic) == ("I/therapeutic", "comprehensive")
    # main-procedure class (DIP 3.0) vs highest over all procedures [NODE]
    assert group_of("K35.300", "99.2500|47.0901") == ("K35/therapeutic", "comprehensive")
    highest = directory(attribute_source="highest")
    assert group_of("K35.300", "99.2500|47.0901", highest) == ("K35/surgery", "comprehensive")


def test_ties_go_to_the_closest_mean_cost():
    groups = pd.concat([GROUPS, pd.DataFrame([dict(dip_group="K35.8:47.0100+99.2500", dip_type="core", dx="K35.8",
                                                   main_proc="47.0100", related_procs="99.2500", score=1300,
                                                   mean_cost=30000)])], ignore_index=True)
    d = directory(groups=groups)
    # 45.1300 (mean 11,000) and 99.2500 (mean 30,000) both match one related procedure
    assert group_of("K35.800", "47.0100|45.1300|99.2500", d, total_cost=12000)[0] == "K35.8:47.0100+45.1300"
    assert group_of("K35.800", "47.0100|45.1300|99.2500", d, total_cost=29000)[0] == "K35.8:47.0100+99.2500"


def test_scores_basic_flag_and_lists_input():
    cases = pd.DataFrame({"dx": [["K35.800", "E11.900"], "K35.800|E11.900", None],
                          "proc": [["47.0100"], "", "47.0100"]})
    out = group_dip(cases, directory())
    assert list(out.columns) == ["dip_group", "dip_type", "dip_score", "dip_basic", "dip_subtype", "dip_aux_coef",
                                 "dip_status"]
    assert out["dip_status"].astype(str).tolist() == ["ok", "ok", "ok"]
    assert out["dip_group"].astype(object).tolist()[:2] == ["K35.8:47.0100", "K35.8"]
    assert out["dip_score"].tolist()[:2] == [1225.0, 500.0] and np.isnan(out["dip_score"].iloc[2])
    assert out["dip_basic"].tolist() == [False, True, False]


# ---------------------------------------------------------------------------------------------- aux typing

@pytest.mark.parametrize("fields, expected", [
    (dict(dx="K35.800|A41.900"), ("severe", 1.5)),
    (dict(dx="K35.800|A41.900", los=3), (None, 1.0)),                    # severity needs LOS >= 4
    (dict(dx="K35.800|J18.900"), ("moderate", 1.2)),
    (dict(dx="K35.800|J18.900|J96.000"), ("severe", 1.5)),               # several met: highest trigger
    (dict(dx="K35.800|A41.900", leaving_type=5), ("death", 2.0)),
    (dict(dx="K35.800", age=70), ("age_65y_plus", 1.1)),
    (dict(dx="K35.800", age=40), (None, 1.0)),
    (dict(dx="K35.800", icu_hours=47), (None, 1.0)),
    (dict(dx="K35.800", icu_hours=48), ("icu_2_7d", 1.3)),
    (dict(dx="K35.800|A41.900", icu_hours=8 * 24), ("icu_8_14d", 1.8)),
])
def test_auxiliary_typing(fields, expected):
    frame = one(proc="47.0100", **fields)
    out = group_dip(frame, directory())
    subtype = out["dip_subtype"].iloc[0]
    assert (None if pd.isna(subtype) else subtype, out["dip_aux_coef"].iloc[0]) == expected


# ---------------------------------------------------------------------------------------------- files

def test_directory_round_trip(tmp_path):
    d = directory()
    d.to_dir(tmp_path / "dip")
    loaded = load_dip_directory(tmp_path / "dip")
    cases = pd.DataFrame({"dx": ["K35.800|A41.900", "K35.300", "I20.000"], "proc": ["47.0100", "", "36.0601"],
                          "los": 6})
    pd.testing.assert_frame_equal(group_dip(cases, loaded), group_dip(cases, d))
    assert loaded.all_case_mean == 8000.0
    table = WeightTable.from_dip_directory(loaded)
    assert table.points_scale == 1000.0
    assert table.frame.set_index("group").loc["K35.8", "is_basic"]


def _write(tmp_path, **overrides):
    d = directory()
    d.to_dir(tmp_path)
    for name, text in overrides.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("files, message", [
    ({"groups.csv": "dip_group,dip_type,dx,score\nA,core,K35.8,100\nA,core,K35.3,200\n"},
     r"groups.csv, row 2, field 'dip_group'.*listed twice"),
    ({"groups.csv": "dip_group,dip_type,dx,score\nA,special,K35.8,100\n"}, r"row 1, field 'dip_type'"),
    ({"groups.csv": "dip_group,dip_type,dx,score,proc_class\nA,comprehensive,K35,100,minor\n"},
     r"field 'proc_class'"),
    ({"groups.csv": "dip_group,dip_type,dx,score\nA,core,K35.800,100\n"}, r"field 'dx'.*subcategory"),
    ({"groups.csv": "dip_group,dip_type,dx,score,main_proc\nA,core,K35.8,100,11.1111\n"},
     r"procedure '11.1111'.*not in proc_attributes"),
    ({"groups.csv": "dip_group,dip_type,dx,score,main_proc\nA,core,K35.8,100,93.9000\n"},
     r"procedure '93.9000'.*conservative"),
    ({"groups.csv": "dip_group,dip_type,dx,score\nA,core,K35.8,zero\n"}, r"row 1, field 'score'"),
    ({"groups.csv": "dip_group,dip_type,dx\nA,core,K35.8\n"}, r"missing column 'score'"),
    ({"aux.csv": "dip_group,subtype,aux_coef\nNOPE,severe,1.5\n"}, r"aux.csv, row 1.*unknown DIP group"),
    ({"aux.csv": "dip_group,subtype,aux_coef\nK35.8,icu,1.5\n"}, r"field 'subtype'"),
    ({"proc_attributes.csv": "proc,attribute\n47.0100,laser\n"}, r"proc_attributes.csv, row 1, field 'attribute'"),
    ({"meta.yaml": "points_scale: 1000\ncolour: red\n"}, r"meta.yaml.*unknown key"),
    ({"severity_dx.csv": "dx,severity\nA41,fatal\n"}, r"severity_dx.csv, row 1"),
])
def test_directory_errors_name_file_row_field(tmp_path, files, message):
    path = _write(tmp_path, **files)
    with pytest.raises(UsageError, match=message):
        load_dip_directory(path)


def test_missing_directory_files(tmp_path):
    with pytest.raises(UsageError, match="not a folder"):
        load_dip_directory(tmp_path / "nothing")
    (tmp_path / "d").mkdir()
    with pytest.raises(UsageError, match="groups.csv: DIP directory: missing file"):
        load_dip_directory(tmp_path / "d")


# ---------------------------------------------------------------------------------------------- trace

def test_trace_text_and_structure():
    trace = explain_dip({"dx": "K35.800|A41.900", "proc": "47.0100|99.2500", "los": 5}, directory())
    assert trace.dip_group == "K35.8:47.0100" and trace.dip_subtype == "severe" and trace.dip_aux_coef == 1.5
    text = trace.to_text()
    assert "related procedures 54.5100+99.2500 not all present" in text
    assert "core group chosen: K35.8:47.0100" in text
    kinds = [s.kind for s in trace.steps]
    assert kinds[0] == "principal" and kinds[-1] == "result"
    assert trace.to_dict()["dip_type"] == "core"
    fallback = explain_dip({"dx": "K35.300", "proc": ""}, directory())
    assert "no comprehensive group of K35 x medical" in fallback.to_text()
    assert fallback.dip_group == "K3/medical"
    ungrouped = explain_dip({"dx": "", "proc": "47.0100"}, directory())
    assert ungrouped.dip_group is None and "ungrouped" in ungrouped.to_text()


def _demo_cases(seed: int, n: int) -> pd.DataFrame:
    from drgdip.pointvalue.demo_dip import demo_history
    history = demo_history(DEMO_SCHEME, n_cases=n, seed=seed)
    return history[["dx", "proc", "los", "age", "age_days", "leaving_type", "total_cost"]]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_trace_agrees_with_batch_grouping_on_the_demo_directory(seed):
    demo = load_dip_directory(DEMO_DIP)
    cases = _demo_cases(seed, 40)
    batch = group_dip(cases, demo)
    for i, row in enumerate(cases.to_dict("records")):
        trace = explain_dip(row, demo)
        expected = batch["dip_group"].iloc[i]
        assert trace.dip_group == (None if pd.isna(expected) else expected)
        assert trace.dip_type == batch["dip_type"].iloc[i]
        assert trace.dip_aux_coef == batch["dip_aux_coef"].iloc[i]


# ---------------------------------------------------------------------------------------------- demo, files

def test_demo_directory_covers_the_demo_province_and_reads_every_path(demo_province_dir, tmp_path):
    """The demo directory is built from the demo province's history, as a city's from its own: its
    core groups cover 95 % of that history (domain §3.1), and nearly every stay of the settlement year
    finds a group (it once left 17.7 % of them ungrouped)."""
    from drgdip.core.province import read_province

    demo = load_dip_directory(DEMO_DIP)
    stays = read_province(demo_province_dir).cases
    year = stays["year"].max()
    history = group_dip(stays[stays["year"] < year], demo)
    assert (history["dip_type"] == "core").mean() >= 0.95
    settled = group_dip(stays[stays["year"] == year], demo)
    assert (settled["dip_type"] == "ungrouped").mean() < 0.005
    assert (settled["dip_type"] == "core").mean() > 0.9
    cases = stays.loc[stays["year"] == year, ["dx", "proc", "los", "age", "age_days", "leaving_type",
                                             "total_cost"]].reset_index(drop=True)
    out = group_dip(cases, demo)
    assert len(out) == len(cases)
    assert out["dip_score"].notna().sum() == (out["dip_type"] != "ungrouped").sum()
    path = tmp_path / "cases.csv"
    cases.to_csv(path, index=False)
    pd.testing.assert_frame_equal(group_dip(path, DEMO_DIP), out)
    cases.to_parquet(tmp_path / "cases.parquet")
    pd.testing.assert_frame_equal(group_dip(tmp_path / "cases.parquet", demo), out)


def test_public_corpus_gets_one_row_per_case(public_corpus):
    out = group_dip(public_corpus[["dx", "proc", "los", "age", "age_days", "leaving_type"]],
                    load_dip_directory(DEMO_DIP))
    assert len(out) == len(public_corpus)
    assert set(out["dip_type"].astype(str)) <= {"core", "comprehensive", "ungrouped"}


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), size=st.integers(0, 300))
def test_one_row_per_case_and_shuffling_permutes_results(seed, size):
    demo = load_dip_directory(DEMO_DIP)
    cases = _demo_cases(seed, max(size, 1)).head(size)
    out = group_dip(cases, demo)
    assert len(out) == size
    order = np.random.default_rng(seed).permutation(size)
    shuffled = group_dip(cases.iloc[order].reset_index(drop=True), demo)
    pd.testing.assert_frame_equal(shuffled, out.iloc[order].reset_index(drop=True))
