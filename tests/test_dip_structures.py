"""Directory structures a real DIP city publishes (domain §3.1, §3.3): procedure alternatives (``/``, any
one of them) for the main and related procedures, exclusion lists, comprehensive groups by ICD category
range; a hand-built city directory using every one, with known answers, loaded from files and traced."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from drgdip.core.errors import UsageError
from drgdip.grouper.dip import group_dip
from drgdip.grouper.dip_directory import DipDirectory, category_code, load_dip_directory
from drgdip.grouper.dip_trace import explain_dip

REPO = Path(__file__).resolve().parents[1]

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


# ---- tumour and comorbidity (CCI) subtypes, domain §3.5

TUMOUR_GROUPS = pd.DataFrame([
    dict(dip_group="C34.1", dip_type="core", dx="C34.1", score=2000, mean_cost=20000),
    dict(dip_group="K35.8", dip_type="core", dx="K35.8", score=500, mean_cost=4000),
])
TUMOUR_AUX = pd.DataFrame({"dip_group": ["C34.1"] * 6 + ["K35.8"],
                           "subtype": ["tumour_high_cost_2", "tumour_metastasis", "tumour_radiotherapy",
                                       "tumour_chemotherapy", "cci_3_4", "tumour_high_cost_1", "cci_1_2"],
                           "aux_coef": [2.0, 1.4, 1.3, 1.2, 1.25, 1.9, 1.1]})
TUMOUR_ATTRIBUTES = pd.DataFrame({"proc": ["99.2500", "92.2400"], "attribute": ["conservative", "conservative"]})


def _typed(**case):
    directory = DipDirectory(groups=TUMOUR_GROUPS, proc_attributes=TUMOUR_ATTRIBUTES, aux=TUMOUR_AUX)
    fields = dict(dx="C34.100", proc="", los=5, age=60, total_cost=20000.0)
    fields.update(case)
    out = group_dip(pd.DataFrame([fields]), directory)
    trace = explain_dip(fields, directory)
    subtype = out["dip_subtype"].iloc[0]
    assert trace.dip_subtype == (None if pd.isna(subtype) else subtype)
    return None if pd.isna(subtype) else str(subtype), float(out["dip_aux_coef"].iloc[0])


@pytest.mark.parametrize("case, expected", [
    (dict(), (None, 1.0)),
    (dict(dx="C34.100|C78.000"), ("tumour_metastasis", 1.4)),
    (dict(dx="C34.100|C78.000", los=3), (None, 1.0)),                      # LOS > 3 needed
    (dict(dx="C34.100|C34.900"), (None, 1.0)),                             # same category is no spread
    (dict(proc="92.2400"), ("tumour_radiotherapy", 1.3)),
    (dict(proc="99.2500"), ("tumour_chemotherapy", 1.2)),
    (dict(total_cost=60000.0, drug_cost=31000.0), ("tumour_high_cost_2", 2.0)),
    (dict(total_cost=59000.0, drug_cost=31000.0), (None, 1.0)),            # under 3 x the group's mean
    (dict(total_cost=60000.0, drug_cost=29000.0), (None, 1.0)),            # drugs under half
    (dict(total_cost=60000.0, treatment_cost=40000.0), ("tumour_high_cost_1", 1.9)),
    (dict(dx="C34.100|I21.000|E11.200"), ("cci_3_4", 1.25)),               # CCI 1 + 2
    (dict(dx="K35.800|C78.000", proc="99.2500"), (None, 1.0)),             # tumour subtypes need a malignant principal
    (dict(dx="K35.800|I21.000"), ("cci_1_2", 1.1)),
    (dict(dx="C34.100|C78.000", proc="92.2400", total_cost=60000.0, drug_cost=40000.0),
     ("tumour_high_cost_2", 2.0)),                                         # several met: the highest trigger
])
def test_tumour_and_comorbidity_subtypes(case, expected):
    assert _typed(**case) == expected


def test_charlson_index_follows_quan_with_the_severer_form_only():
    import numpy as np
    import pyarrow as pa

    from drgdip.grouper.comorbidity import charlson_index

    codes = pa.array(["I21.000x001", "E11.200", "E11.900", "C78.000", "C34.100", "K70.400", "B18.100",
                      "J44.900", "Z99.2", "B20.000", "N18.500"])
    owner = np.array([0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 6])
    assert charlson_index(codes, owner, 8).tolist() == [1, 2, 6, 3, 1, 2, 8, 0]


# ---- core group kinds (DIP 3.0 §3.2): pre-grouping -> merged -> diagnosis-assisted -> basic rule

KIND_GROUPS = pd.DataFrame([
    dict(dip_group="KIDNEY-TX", dip_type="core", core_kind="pre_grouping", dx="*", main_proc="55.6900",
         score=9000, mean_cost=90000),
    dict(dip_group="N18.5:55.6900+39.9500", dip_type="core", dx="N18.5", main_proc="55.6900",
         related_procs="39.9500", score=9500, mean_cost=95000),
    dict(dip_group="K35.8/K35.3:47.0100", dip_type="core", core_kind="merged", dx="K35.3/K35.8", main_proc="47.0100",
         score=1300, mean_cost=10000),
    dict(dip_group="K35.8:47.0100+54.5100", dip_type="core", dx="K35.8", main_proc="47.0100",
         related_procs="54.5100", score=1600, mean_cost=12000),
    dict(dip_group="K35.2:47.0100", dip_type="core", dx="K35.2", main_proc="47.0100", score=1250, mean_cost=9800),
])
KIND_ATTRIBUTES = pd.DataFrame({"proc": ["55.6900", "39.9500", "47.0100", "54.5100"],
                                "attribute": ["surgery", "therapeutic", "surgery", "surgery"]})


@pytest.mark.parametrize("dx, proc, expected", [
    ("N18.500", "55.6900|39.9500", "KIDNEY-TX"),          # pre-grouping first, though the other has more related
    ("I12.000", "55.6900", "KIDNEY-TX"),                  # any principal diagnosis
    ("K35.800", "47.0100|54.5100", "K35.8/K35.3:47.0100"),  # merged before basic rule
    ("K35.300", "47.0100", "K35.8/K35.3:47.0100"),        # either merged diagnosis
    ("K35.200", "47.0100", "K35.2:47.0100"),
    ("I12.000", "", None),                                # any-diagnosis groups need their procedure
])
def test_core_group_kinds_match_in_their_order(dx, proc, expected):
    directory = DipDirectory(groups=KIND_GROUPS, proc_attributes=KIND_ATTRIBUTES)
    case = dict(dx=dx, proc=proc, los=5, age=50, total_cost=20000.0)
    out = group_dip(pd.DataFrame([case]), directory)
    got = out["dip_group"].iloc[0]
    assert (None if pd.isna(got) else got) == expected
    assert explain_dip(case, directory).dip_group == expected


@pytest.mark.parametrize("change, message", [
    (dict(core_kind="pre"), "core_kind must be one of"),
    (dict(core_kind="merged"), "dx '\\*' \\(any diagnosis\\) is for a pre_grouping"),
    (dict(main_proc=""), "dx '\\*' \\(any diagnosis\\) is for a pre_grouping"),
])
def test_bad_kinds_name_the_row(change, message):
    groups = KIND_GROUPS.copy()
    for column, value in change.items():
        groups.loc[0, column] = value
    with pytest.raises(UsageError, match=message) as error:
        DipDirectory(groups=groups, proc_attributes=KIND_ATTRIBUTES)
    assert error.value.row == 1


# ---- comprehensive surgery groups split by surgery level (Jining)

LEVEL_GROUPS = pd.DataFrame([
    dict(dip_group="K35/surgery/1", dip_type="comprehensive", dx="K35", proc_class="surgery", surgery_level="1",
         score=700),
    dict(dip_group="K35/surgery/2", dip_type="comprehensive", dx="K35", proc_class="surgery", surgery_level="2",
         score=900),
    dict(dip_group="K35/surgery/3-4", dip_type="comprehensive", dx="K35", proc_class="surgery",
         surgery_level="3-4", score=1500),
    dict(dip_group="K3/surgery", dip_type="comprehensive", dx="K3", proc_class="surgery", score=1000),
])
LEVEL_ATTRIBUTES = pd.DataFrame({"proc": ["47.0100", "47.0900", "54.5100", "54.1100", "86.0400"],
                                 "attribute": ["surgery", "surgery", "surgery", "surgery", "surgery"],
                                 "surgery_level": ["2", "3", "4", "", "1"]})


@pytest.mark.parametrize("dx, proc, expected", [
    ("K35.800", "86.0400", "K35/surgery/1"),
    ("K35.800", "47.0100", "K35/surgery/2"),
    ("K35.800", "86.0400|47.0900", "K35/surgery/3-4"),     # the highest level of the stay's surgeries
    ("K35.800", "54.5100", "K35/surgery/3-4"),
    ("K35.800", "54.1100", "K3/surgery"),                  # no level: no split group, the next prefix
    ("K36.000", "47.0100", "K3/surgery"),
])
def test_comprehensive_surgery_groups_split_by_surgery_level(dx, proc, expected, tmp_path):
    directory = DipDirectory(groups=LEVEL_GROUPS, proc_attributes=LEVEL_ATTRIBUTES)
    directory.to_dir(tmp_path)
    for loaded in (directory, load_dip_directory(tmp_path)):
        case = dict(dx=dx, proc=proc, los=5, age=50, total_cost=9000.0)
        assert group_dip(pd.DataFrame([case]), loaded)["dip_group"].iloc[0] == expected
        assert explain_dip(case, loaded).dip_group == expected


@pytest.mark.parametrize("row, column, value, message", [
    (0, "surgery_level", "5", "surgery_level is for comprehensive surgery groups"),
    (3, "proc_class", "medical", None),
])
def test_bad_surgery_levels_name_the_row(row, column, value, message):
    groups = LEVEL_GROUPS.copy()
    groups.loc[row, column] = value
    if message is None:   # a medical group with a surgery level
        groups.loc[row, "surgery_level"] = "1"
        message = "surgery_level is for comprehensive surgery groups"
    with pytest.raises(UsageError, match=message) as error:
        DipDirectory(groups=groups, proc_attributes=LEVEL_ATTRIBUTES)
    assert error.value.row == row + 1 and error.value.field == "surgery_level"
    attributes = LEVEL_ATTRIBUTES.copy()
    attributes.loc[1, "surgery_level"] = "five"
    with pytest.raises(UsageError, match="surgery_level must be 1 to 4") as error:
        DipDirectory(groups=LEVEL_GROUPS, proc_attributes=attributes)
    assert error.value.row == 2


# ---- newborn pre-grouping by birth weight (DIP 3.0 §3.2: day-age < 29, weight bands)

NEWBORN_GROUPS = pd.concat([KIND_GROUPS, pd.DataFrame([
    dict(dip_group="NB-<750", dip_type="core", core_kind="pre_grouping", dx="*", birth_weight="0-749", score=9000),
    dict(dip_group="NB-750-999", dip_type="core", core_kind="pre_grouping", dx="*", birth_weight="750-999",
         score=7000),
    dict(dip_group="NB-1000-1499", dip_type="core", core_kind="pre_grouping", dx="*", birth_weight="1000-1499",
         score=5000),
    dict(dip_group="P07/medical", dip_type="comprehensive", dx="P07", proc_class="medical", score=800),
])], ignore_index=True)


@pytest.mark.parametrize("fields, expected", [
    (dict(age=0, age_days=3, birth_weight=700), "NB-<750"),
    (dict(age=0, age_days=20, birth_weight=999), "NB-750-999"),
    (dict(age=0, age_days=20, birth_weight=1200, proc="47.0100"), "NB-1000-1499"),   # before every other group
    (dict(age=0, age_days=20, birth_weight=2200), "P07/medical"),     # no band: matched as usual
    (dict(age=0, age_days=40, birth_weight=700), "P07/medical"),      # 29 days or older: not a newborn group
    (dict(age=0, age_days=3), "P07/medical"),                         # no birth weight
])
def test_newborns_are_pre_grouped_by_birth_weight(fields, expected):
    directory = DipDirectory(groups=NEWBORN_GROUPS, proc_attributes=KIND_ATTRIBUTES)
    case = dict(dx="P07.100", proc="", los=20, total_cost=80000.0)
    case.update(fields)
    assert group_dip(pd.DataFrame([case]), directory)["dip_group"].iloc[0] == expected
    trace = explain_dip(case, directory)
    assert trace.dip_group == expected
    if expected.startswith("NB"):
        assert "birth weight" in trace.to_text()


def test_a_birth_weight_band_is_only_for_any_diagnosis_pre_grouping_groups():
    groups = NEWBORN_GROUPS.copy()
    groups.loc[len(KIND_GROUPS), "dx"] = "P07.1"
    with pytest.raises(UsageError, match="birth_weight is a band of grams") as error:
        DipDirectory(groups=groups, proc_attributes=KIND_ATTRIBUTES)
    assert error.value.row == len(KIND_GROUPS) + 1 and error.value.field == "birth_weight"


# ---- one city directory using every structure at once

EVERY_GROUPS = pd.DataFrame([
    dict(dip_group="KIDNEY-TX", dip_type="core", core_kind="pre_grouping", dx="*", main_proc="55.6900", score=9000,
         mean_cost=90000),
    dict(dip_group="NB-<1500", dip_type="core", core_kind="pre_grouping", dx="*", birth_weight="0-1499", score=6000),
    dict(dip_group="PNEUMONIA", dip_type="core", core_kind="merged", dx="J18.0/J18.9", score=700, mean_cost=7000),
    dict(dip_group="C34.1:99.2500", dip_type="core", core_kind="diagnosis_assisted", dx="C34.1", main_proc="99.2500",
         score=1800, mean_cost=18000),
    dict(dip_group="C34.1", dip_type="core", dx="C34.1", score=2000, mean_cost=20000),
    dict(dip_group="K35.8:47.0100/47.0900+54.2100/54.5100", dip_type="core", dx="K35.8", main_proc="47.0900/47.0100",
         related_procs="54.5100/54.2100", score=1800, mean_cost=14400),
    dict(dip_group="K35.8:47.0100/47.0900", dip_type="core", dx="K35.8", main_proc="47.0100/47.0900", score=1200,
         mean_cost=9600),
    dict(dip_group="K35/surgery/1", dip_type="comprehensive", dx="K35", proc_class="surgery", surgery_level="1",
         score=700),
    dict(dip_group="K35/surgery/3-4", dip_type="comprehensive", dx="K35", proc_class="surgery", surgery_level="3-4",
         score=1500),
    dict(dip_group="K35/surgery", dip_type="comprehensive", dx="K35", proc_class="surgery", score=1000),
    dict(dip_group="A00-Z99/medical", dip_type="comprehensive", dx="A00-Z99", proc_class="medical", score=300),
])
EVERY_ATTRIBUTES = pd.DataFrame({
    "proc": ["55.6900", "99.2500", "47.0100", "47.0900", "54.5100", "54.2100", "86.0400", "47.0901", "92.2400"],
    "attribute": ["surgery", "therapeutic", "surgery", "surgery", "surgery", "diagnostic", "surgery", "surgery",
                  "conservative"],
    "surgery_level": ["4", "", "2", "3", "4", "", "1", "", ""]})
EVERY_AUX = pd.DataFrame({"dip_group": ["C34.1"] * 3, "subtype": ["tumour_metastasis", "cci_3_4", "tumour_radiotherapy"],
                          "aux_coef": [1.4, 1.25, 1.3]})
EVERY_CORPUS = [  # case fields, group, subtype, status
    (dict(dx="N18.500", proc="55.6900"), "KIDNEY-TX", None, "ok"),
    (dict(dx="P07.100", age=0, age_days=5, birth_weight=1100), "NB-<1500", None, "ok"),
    (dict(dx="J18.000"), "PNEUMONIA", None, "ok"),
    (dict(dx="J18.900|I21.000"), "PNEUMONIA", None, "ok"),
    (dict(dx="C34.100", proc="99.2500"), "C34.1:99.2500", None, "ok"),
    (dict(dx="C34.100|C78.000"), "C34.1", "tumour_metastasis", "ok"),
    (dict(dx="C34.100|I21.000|E11.200"), "C34.1", "cci_3_4", "ok"),
    (dict(dx="C34.100", proc="92.2400"), "C34.1", "tumour_radiotherapy", "ok"),
    (dict(dx="K35.800", proc="47.0900|54.2100"), "K35.8:47.0100/47.0900+54.2100/54.5100", None, "ok"),
    (dict(dx="K35.800", proc="89.5200|47.0100"), "K35.8:47.0100/47.0900", None, "ok"),
    (dict(dx="K35.300", proc="86.0400"), "K35/surgery/1", None, "ok"),
    (dict(dx="K35.300", proc="47.0900"), "K35/surgery/3-4", None, "ok"),
    (dict(dx="K35.300", proc="47.0901"), "K35/surgery", None, "ok"),
    (dict(dx="E11.900"), "A00-Z99/medical", None, "ok"),
    (dict(dx="Z51.100"), None, None, "excluded_dx"),
    (dict(dx="K35.800", proc="47.0100|12.3456"), None, None, "unknown_proc"),
]


@pytest.mark.parametrize("source", ["in memory", "from files"])
def test_one_city_directory_with_every_structure_groups_its_corpus_exactly(source, tmp_path):
    directory = DipDirectory(groups=EVERY_GROUPS, proc_attributes=EVERY_ATTRIBUTES, aux=EVERY_AUX,
                             excluded_dx=pd.DataFrame({"dx": ["Z51.1"]}),
                             excluded_proc=pd.DataFrame({"proc": ["89.5200"]}))
    if source == "from files":
        directory.to_dir(tmp_path)
        directory = load_dip_directory(tmp_path)
    cases = [dict(dict(proc="", los=5, age=60, total_cost=20000.0), **fields) for fields, *_ in EVERY_CORPUS]
    out = group_dip(pd.DataFrame(cases), directory)
    got = [(None if pd.isna(g) else g, None if pd.isna(s) else s, str(st))
           for g, s, st in zip(out["dip_group"].astype(object), out["dip_subtype"].astype(object), out["dip_status"])]
    assert got == [(group, subtype, status) for _, group, subtype, status in EVERY_CORPUS]
    for case, (group, subtype, _) in zip(cases, got):
        trace = explain_dip(case, directory)
        assert (trace.dip_group, trace.dip_subtype) == (group, subtype)


@pytest.mark.parametrize("source", ["dataframe", "csv", "parquet"])
def test_high_cost_tumour_stays_are_typed_when_a_province_is_settled_from_any_input(source, tmp_path):
    """Settling stays without DIP groups groups them with the directory: the cost parts that type a
    high-cost tumour stay are read whether the province is a DataFrame, CSV or Parquet."""
    from drgdip.budget import load_policy, settle_province
    from drgdip.core.province import write_province

    directory = DipDirectory(groups=TUMOUR_GROUPS, proc_attributes=TUMOUR_ATTRIBUTES, aux=TUMOUR_AUX)
    n = 8
    cases = pd.DataFrame({
        "case_id": [f"c{i}" for i in range(2 * n)], "hospital_id": "H1", "region": "370800",
        "hospital_level": 3, "year": [2024] * n + [2025] * n, "month": 6,
        "dx": "C34.100", "proc": "", "los": 5, "age": 60,
        "total_cost": [20000.0, 60000.0] * n, "fund_paid": [14000.0, 42000.0] * n,
        "drug_cost": [2000.0, 31000.0] * n})
    hospitals = pd.DataFrame({"hospital_id": ["H1"], "level": [3], "region": ["370800"]})
    province = {"cases": cases, "hospitals": hospitals}
    if source != "dataframe":
        write_province(province, tmp_path / "province", format=source)
        province = tmp_path / "province"
    policy = load_policy(REPO / "data" / "policies" / "jining_dip_day_ward_2025.yaml")
    settled = settle_province(province, policy, dip=directory).cases
    assert settled["dip_aux_coef"].tolist() == [1.0, 2.0] * (n // 2)   # tumour_high_cost_2's coefficient
