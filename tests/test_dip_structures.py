"""Directory structures a real DIP city publishes (domain §3.1, §3.3): procedure alternatives (``/``, any
one of them) for the main and related procedures, exclusion lists, comprehensive groups by ICD category
range; a hand-built city directory using every one, with known answers, loaded from files and traced."""

from __future__ import annotations

import pandas as pd
import pytest

from drgdip.core.errors import UsageError
from drgdip.grouper.dip import group_dip
from drgdip.grouper.dip_directory import DipDirectory, category_code, load_dip_directory
from drgdip.grouper.dip_trace import explain_dip

GROUPS = pd.DataFrame([
    # core: main procedure 47.0100 or 47.0900; related 54.5100 or 54.2100, and 99.2500
    dict(dip_group="K35.8:47.0100/47.0900", dip_type="core", dx="K35.8", main_proc="47.0100/47.0900",
         score=1200, mean_cost=9600),
    dict(dip_group="K35.8:47.0100/47.0900+54.5100/54.2100+99.2500", dip_type="core", dx="K35.8",
         main_proc="47.0900/47.0100", related_procs="99.2500+54.2100/54.5100", score=1800, mean_cost=14400),
    dict(dip_group="K35.8", dip_type="core", dx="K35.8", score=500, mean_cost=4000),
    dict(dip_group="K35/surgery", dip_type="comprehensive", dx="K35", proc_class="surgery", score=1100),
    dict(dip_group="K/medical", dip_type="comprehensive", dx="K", proc_class="medical", score=450),
    # category ranges, after every prefix, in file order
    dict(dip_group="A00-B99/medical", dip_type="comprehensive", dx="A00-B99", proc_class="medical", score=600),
    dict(dip_group="A00-Z99/medical", dip_type="comprehensive", dx="A00-Z99", proc_class="medical", score=300),
    dict(dip_group="A00-Z99/surgery", dip_type="comprehensive", dx="A00-Z99", proc_class="surgery", score=900),
])
ATTRIBUTES = pd.DataFrame({"proc": ["47.0100", "47.0900", "54.5100", "54.2100", "99.2500", "99.0400", "88.7100"],
                           "attribute": ["surgery", "surgery", "surgery", "diagnostic", "therapeutic",
                                         "conservative", "diagnostic"]})
EXCLUDED_DX = pd.DataFrame({"dx": ["Z51.1", "O80"]})
EXCLUDED_PROC = pd.DataFrame({"proc": ["89.5200"]})


def city(**kwargs) -> DipDirectory:
    return DipDirectory(groups=GROUPS, proc_attributes=ATTRIBUTES, excluded_dx=EXCLUDED_DX,
                        excluded_proc=EXCLUDED_PROC, **kwargs)


CORPUS = [  # dx, proc, group, type, status
    ("K35.800", "47.0100", "K35.8:47.0100/47.0900", "core", "ok"),
    ("K35.800", "47.0900", "K35.8:47.0100/47.0900", "core", "ok"),                    # the other alternative
    ("K35.800", "47.0900|54.2100|99.2500", "K35.8:47.0100/47.0900+54.5100/54.2100+99.2500", "core", "ok"),
    ("K35.800", "47.0100|99.2500|54.5100", "K35.8:47.0100/47.0900+54.5100/54.2100+99.2500", "core", "ok"),
    ("K35.800", "47.0100|99.2500", "K35.8:47.0100/47.0900", "core", "ok"),              # a slot missing
    ("K35.800", "", "K35.8", "core", "ok"),
    ("K35.800", "89.5200", "K35.8", "core", "ok"),             # excluded procedure dropped: not unknown
    ("K35.800", "89.5200|47.0100", "K35.8:47.0100/47.0900", "core", "ok"),   # ...and the next is the main
    ("K35.300", "54.5100", "K35/surgery", "comprehensive", "ok"),
    ("K20.000", "", "K/medical", "comprehensive", "ok"),
    ("A41.900", "", "A00-B99/medical", "comprehensive", "ok"),    # first range in file order
    ("J18.900", "", "A00-Z99/medical", "comprehensive", "ok"),
    ("J18.900", "54.5100", "A00-Z99/surgery", "comprehensive", "ok"),
    ("J18.900", "99.2500", None, "ungrouped", "ok"),               # no therapeutic group anywhere
    ("Z51.100", "", None, "ungrouped", "excluded_dx"),             # excluded by subcategory
    ("O80.000", "", None, "ungrouped", "excluded_dx"),             # excluded by category
    ("K35.800", "47.0100|12.3456", None, "ungrouped", "unknown_proc"),
]


@pytest.fixture(scope="module", params=["in memory", "from files"])
def directory(request, tmp_path_factory):
    built = city()
    if request.param == "in memory":
        return built
    folder = tmp_path_factory.mktemp("city")
    built.to_dir(folder)
    assert (folder / "excluded_dx.csv").is_file() and (folder / "excluded_proc.csv").is_file()
    return load_dip_directory(folder)


def test_the_city_corpus_groups_exactly(directory):
    cases = pd.DataFrame([dict(dx=dx, proc=proc, los=5, age=40, total_cost=9000.0) for dx, proc, *_ in CORPUS])
    out = group_dip(cases, directory)
    got = list(zip(out["dip_group"].astype(object).where(out["dip_group"].notna(), None),
                   out["dip_type"].astype(str), out["dip_status"].astype(str)))
    assert got == [(group, kind, status) for _, _, group, kind, status in CORPUS]


@pytest.mark.parametrize("row", range(len(CORPUS)))
def test_the_trace_agrees_with_each_case(directory, row):
    dx, proc, group, kind, status = CORPUS[row]
    trace = explain_dip(dict(dx=dx, proc=proc, los=5, age=40, total_cost=9000.0), directory)
    assert (trace.dip_group, trace.dip_type) == (group, kind)
    if "range" in str(group):
        assert "category range" in trace.to_text()


def test_alternatives_are_written_in_one_order():
    groups = city().groups.set_index("dip_group")
    assert groups.loc["K35.8:47.0100/47.0900+54.5100/54.2100+99.2500", "main_proc"] == "47.0100/47.0900"
    assert groups.loc["K35.8:47.0100/47.0900+54.5100/54.2100+99.2500", "related_procs"] == "54.2100/54.5100+99.2500"


def test_category_codes_order_like_the_codes():
    codes = category_code(["A00", "A99", "B00", "K35", "Z99", "K3", "", None, "1AB"])
    assert list(codes[:5]) == sorted(codes[:5]) and list(codes[5:]) == [-1, -1, -1, -1]


@pytest.mark.parametrize("change, message, field", [
    (dict(dx="B99-A00"), "from low to high", "dx"),
    (dict(dx="A00-B9"), "category range such as A00-B99", "dx"),
])
def test_bad_ranges_name_the_row(change, message, field):
    groups = GROUPS.copy()
    for column, value in change.items():
        groups.loc[5, column] = value
    with pytest.raises(UsageError, match=message) as error:
        DipDirectory(groups=groups, proc_attributes=ATTRIBUTES)
    assert (error.value.row, error.value.field) == (6, field)


def test_an_alternative_missing_from_the_attributes_is_named():
    groups = GROUPS.copy()
    groups.loc[0, "main_proc"] = "47.0100/47.7777"
    with pytest.raises(UsageError, match="'47.7777'") as error:
        DipDirectory(groups=groups, proc_attributes=ATTRIBUTES)
    assert error.value.row == 1 and error.value.field == "main_proc"


def test_exclusion_lists_are_checked(tmp_path):
    with pytest.raises(UsageError, match="listed twice") as error:
        DipDirectory(groups=GROUPS, proc_attributes=ATTRIBUTES, excluded_dx=pd.DataFrame({"dx": ["Z51", "Z51"]}))
    assert error.value.row == 2 and error.value.field == "dx"
    with pytest.raises(UsageError, match="missing column 'proc'"):
        DipDirectory(groups=GROUPS, proc_attributes=ATTRIBUTES, excluded_proc=pd.DataFrame({"code": ["1"]}))
