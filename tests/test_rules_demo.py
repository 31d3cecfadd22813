"""Rule-by-rule tests of the CHS-DRG grouper on the demo scheme (``data/demo/scheme``).

Every rule type of the scheme semantics (RULES.md of the national tables) gets a focused group of
hand-made cases with the exact expected ``(status, mdc, adrg, drg)``; ``data/demo/README.md`` lists
what the demo scheme contains. Cases are given as text, exactly as a CSV file would carry them
(empty text = absent field). The oncology (MDCR), spine (MDCI) and psychiatric (MDCT) groups that
day care and psychiatric long stays need have one test per ADRG, and the shipped cases and the
synthetic province are checked to reach them. A final group checks that broken copies of the
scheme are rejected with a :class:`drgdip.grouper.SchemeError` naming the file, the line and the problem.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drgdip import grouper

SCHEME_DIR = Path(__file__).resolve().parents[1] / "data" / "demo" / "scheme"
CASE_COLUMNS = ["case_id", "gender", "age", "age_days", "birth_weight", "dept", "los",
                "leaving_type", "dx", "proc"]
FAILED = ("0000", "00", "0000")


@pytest.fixture(scope="module")
def scheme():
    return grouper.load_scheme(SCHEME_DIR)


def case(dx: str, proc: str = "", gender: str = "1", age: str = "45", age_days: str = "",
         birth_weight: str = "") -> dict:
    """One case as CSV text; the filler fields are realistic but never consulted."""
    return {"gender": gender, "age": age, "age_days": age_days, "birth_weight": birth_weight,
            "dept": "03", "los": "6", "leaving_type": "1", "dx": dx, "proc": proc}


def newborn(dx: str, proc: str = "", age_days: str = "5", birth_weight: str = "3100",
            gender: str = "2") -> dict:
    return case(dx, proc, gender=gender, age="0", age_days=age_days, birth_weight=birth_weight)


def expected(result: str) -> tuple[str, str, str, str]:
    """``"GD25"`` -> ok in MDCG / GD2 / GD25; a status token -> that status with failed codes."""
    if re.fullmatch(r"[A-Z][A-Z0-9]{3}", result):
        return ("ok", "MDC" + result[0], result[:3], result)
    return (result,) + FAILED


def frame(cases: list[dict]) -> pd.DataFrame:
    rows = [{"case_id": f"T{i:04d}", **c} for i, c in enumerate(cases)]
    return pd.DataFrame(rows, columns=CASE_COLUMNS, dtype=object)


def group(scheme, cases: list[dict]) -> list[tuple[str, str, str, str]]:
    out = grouper.group_cases(frame(cases), scheme)
    assert list(out["case_id"]) == [f"T{i:04d}" for i in range(len(cases))]
    return list(zip(out["status"], out["mdc"], out["adrg"], out["drg"]))


def check(scheme, one_case: dict, result: str) -> None:
    assert group(scheme, [one_case]) == [expected(result)]


P = pytest.param

# ---------------------------------------------------------------- MDC entry rules (RULES.md §4)

MDC_MAIN_PROC_VALID_CASES = [
    P(case("I50.000", "37.5100"), "AA19", id="valid-main-proc-enters-MDCA-before-MDCF"),
    P(case("I50.900", "39.6500"), "AH15", id="ECMO-no-complication"),
    P(case("I50.900|J96.000", "39.6500"), "AH11", id="ECMO-with-MCC"),
    P(case("I50.900|R57.000", "39.6500"), "AH15", id="ECMO-with-excluded-MCC"),
    P(case("E10.900", "45.1300|52.8000|55.6901"), "no_group",
      id="pair-present-but-main-proc-not-valid-so-MDCA-not-entered"),
    P(case("E10.900", "52.8000"), "no_group", id="MDCA-entered-no-ADRG-nothing-else"),
]

MDC_PRINCIPAL_DX_CASES = [
    P(case("K29.700|E11.900"), "GZ15", id="principal-in-list"),
    P(case("E11.900|K29.700"), "no_group", id="listed-code-only-as-secondary"),
    P(case("H25.900"), "no_group", id="principal-in-no-list"),
    P(case("K65.000|K29.700"), "no_group", id="MDC-entered-but-ADRG-needs-principal"),
]

MDC_GENDER_CASES = [
    P(case("N40.x00", gender="1"), "MZ19", id="male-MDC-integer-1"),
    P(case("N40.x00", gender="2"), "no_group", id="male-MDC-female-patient"),
    P(case("N40.x00", gender="男"), "no_group", id="male-MDC-text-男-never-enters"),
    P(case("D25.900", gender="2"), "NZ19", id="female-MDC-integer-2"),
    P(case("D25.900", gender="1"), "no_group", id="female-MDC-male-patient"),
    P(case("D25.900", gender="女"), "no_group", id="female-MDC-text-女-never-enters"),
    P(case("K29.700", gender="男"), "GZ15", id="text-男-passes-validation"),
    P(case("C61.x00", "60.5x00", gender="1", age="68"), "MA19", id="male-cancer-surgery"),
]

MDC_AGE_YEARS_CASES = [
    P(newborn("P59.900", age_days="200", birth_weight=""), "PV15",
      id="any-age-0-infant-with-P-principal-enters-MDCP"),
    P(newborn("P59.900|P36.900", age_days="200", birth_weight=""), "PV13", id="infant-with-MCC"),
    P(newborn("P22.000", age_days="40", birth_weight=""), "PV15",
      id="respiratory-distress-not-newborn-reaches-PV1"),
    P(case("P59.900", age="1"), "no_group", id="age-1-does-not-enter-MDCP"),
    P(newborn("K29.700", age_days="200", birth_weight=""), "GZ15",
      id="age-0-with-non-P-principal-goes-on"),
]

MDC_TRAUMA_REGIONS_CASES = [
    P(case("S06.500|S27.000"), "ZZ15", id="head-and-chest"),
    P(case("S36.400|S06.500"), "ZZ11", id="abdomen-and-head-with-MCC"),
    P(case("S72.000|S42.200x001", "79.3501"), "ZC15", id="leg-and-arm-operated"),
    P(case("S72.000|S36.000", "79.3501"), "ZC11", id="leg-and-abdomen-operated-with-MCC"),
    P(case("S06.500|S06.600"), "no_group", id="two-codes-one-region-count-once"),
    P(case("S06.500|S06.600|S06.500"), "no_group", id="repeated-codes-one-region"),
    P(case("S36.400|S36.000"), "GZ15", id="one-region-goes-to-body-system-MDC"),
    P(case("K29.700|S06.500|S27.000"), "GZ13", id="regions-only-in-secondaries-principal-not-listed"),
    P(case("S36.400|S06.500|S06.600|S27.000"), "ZZ11", id="three-regions"),
]


@pytest.mark.parametrize("one_case, result", MDC_MAIN_PROC_VALID_CASES)
def test_mdc_entry_main_proc_valid(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", MDC_PRINCIPAL_DX_CASES)
def test_mdc_entry_principal_dx(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", MDC_GENDER_CASES)
def test_mdc_entry_gender(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", MDC_AGE_YEARS_CASES)
def test_mdc_entry_age_years(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", MDC_TRAUMA_REGIONS_CASES)
def test_mdc_entry_trauma_regions(scheme, one_case, result):
    check(scheme, one_case, result)


# ---------------------------------------------------------------- fall-through (RULES.md §3.4)

FALL_THROUGH_CASES = [
    P(case("K35.800", "47.0100"), "GD25", id="from-MDCA-to-digestive"),
    P(case("K35.800|E11.900", "47.0100"), "GD25", id="from-MDCA-with-neutral-secondary"),
    P(case("I20.000", "88.5500"), "FR39", id="from-MDCA-to-medical-ADRG"),
    P(case("A08.400"), "SU19", id="from-digestive-to-infection"),
    P(case("A08.400", "43.7x00"), "GB15", id="digestive-surgery-wins-before-fall-through"),
    P(case("A08.400", "54.1100"), "SB15", id="from-MDCA-and-digestive-to-infection-surgery"),
    P(case("S36.400|S06.500", "54.1100"), "GZ13", id="from-trauma-to-digestive"),
    P(case("K65.000"), "no_group", id="digestive-list-code-no-ADRG-no-later-MDC"),
    P(case("C61.x00", gender="1"), "no_group", id="male-MDC-no-ADRG"),
    P(case("C53.900", "40.5000", gender="2"), "no_group", id="female-MDC-no-ADRG"),
]


@pytest.mark.parametrize("one_case, result", FALL_THROUGH_CASES)
def test_fall_through_to_later_mdc(scheme, one_case, result):
    check(scheme, one_case, result)


# ---------------------------------------------------------------- ADRG entry atoms (RULES.md §5)

ADRG_PRINCIPAL_DX_CASES = [
    P(case("I50.900"), "FR25", id="heart-failure"),
    P(case("I20.000|I50.900"), "FR39", id="first-matching-ADRG-by-principal"),
    P(case("I25.100"), "no_group", id="in-MDC-list-but-no-ADRG-list"),
]

ADRG_ANY_DX_CASES = [
    P(newborn("P07.100", birth_weight="1800"), "PS25", id="listed-code-as-principal"),
    P(newborn("P59.900|P07.100", birth_weight="1800"), "PS25", id="listed-code-as-secondary"),
    P(newborn("P59.900|E87.100|P07.300", birth_weight="1800"), "PS25", id="listed-code-in-third-place"),
    P(newborn("P59.900|P07.100|P36.900", birth_weight="1800"), "PS21", id="secondary-with-MCC"),
    P(newborn("P59.900", birth_weight="1800"), "PV15", id="no-listed-code"),
]

ADRG_MAIN_PROC_CASES = [
    P(case("K35.800", "47.0100"), "GD25", id="main-procedure-listed"),
    P(case("K35.800", "45.1300|47.0100"), "GZ15", id="listed-procedure-in-second-place-only"),
    P(case("K35.800", "47.0100|45.1300"), "GD25", id="extra-procedure-after-main"),
    P(case("I20.000", "36.0700"), "FM19", id="listed-procedure-that-is-not-valid"),
    P(case("C62.900", "62.4100", gender="1", age="30"), "MA19", id="with-principal-dx"),
    P(case("N40.x00", "62.4100", gender="1"), "MZ19", id="procedure-fits-but-principal-does-not"),
]

ADRG_MAIN_PROC_VALID_CASES = [
    P(case("A41.900", "86.2200"), "SB15", id="valid-main-procedure"),
    P(case("A41.900|N17.900", "86.2200"), "SB11", id="valid-main-procedure-with-MCC"),
    P(case("A41.900|J18.900", "86.2200"), "SB13", id="valid-main-procedure-with-CC"),
    P(case("A41.900", "96.0400|86.2200"), "SR15", id="valid-procedure-in-second-place-only"),
    P(case("A41.900", "36.0700"), "SR15", id="non-valid-main-procedure"),
]

ADRG_PROC_PAIR_CASES = [
    P(case("E10.900", "52.8000|55.6901"), "AC19", id="pancreas-then-kidney"),
    P(case("E10.900", "55.6901|52.8200"), "AC19", id="kidney-then-pancreas"),
    P(case("E10.900", "52.8000|86.2200|55.6100"), "AC19", id="pair-apart"),
    P(case("E10.900", "86.2200|55.6901|52.8000"), "AC19", id="pair-after-another-valid-main"),
    P(case("E10.900", "55.6901|55.6100"), "no_group", id="two-codes-of-the-second-list"),
    P(case("I71.001", "39.7900x517"), "FE19", id="one-code-in-both-lists"),
    P(case("I28.000", "39.7900x517|45.1300"), "FE19", id="one-code-in-both-lists-plus-other"),
    P(case("I71.001", "38.4500x011|39.7301"), "FE19", id="vessel-surgery-with-stent"),
    P(case("I71.001", "38.4500x011"), "no_group", id="first-list-only"),
]

ADRG_PROC_GROUPS_CASES = [  # NA1: principal_dx + proc_groups "1|(2&3)"
    P(case("C53.900", "68.6100x001", gender="2"), "NA19", id="group-1"),
    P(case("C53.900", "68.4101|40.5000", gender="2"), "NA19", id="groups-2-and-3"),
    P(case("C54.100", "40.5300|68.4902", gender="2"), "NA19", id="groups-3-and-2-any-order"),
    P(case("C56.x00", "96.0400|68.6901", gender="2"), "NA19", id="group-1-in-second-place"),
    P(case("C53.900", "68.4101", gender="2"), "NA29", id="group-2-only-falls-to-NA2"),
    P(case("C53.900", "68.4101|68.4902", gender="2"), "NA29", id="two-codes-of-group-2"),
    P(case("C53.900", "65.6100|40.5000", gender="2"), "NA29", id="group-3-only-main-proc-of-NA2"),
    P(case("C53.900", "40.5000", gender="2"), "no_group", id="group-3-only"),
    P(case("D25.900", "68.6100x001", gender="2"), "NZ19", id="groups-fine-principal-not-listed"),
]

ADRG_NO_VALID_PROC_CASES = [
    P(case("S06.500|S27.000", ""), "ZZ15", id="no-procedure"),
    P(case("S06.500|S27.000", "96.0400|99.0400"), "ZZ15", id="only-non-valid-procedures"),
    P(case("S06.500|S27.000", "36.0700"), "ZZ15", id="listed-elsewhere-but-not-valid"),
    P(case("S06.500|S27.000", "96.0400|86.2200"), "no_group", id="valid-procedure-in-second-place"),
    P(case("S06.500|S27.000", "86.2200"), "no_group", id="valid-main-procedure"),
]

ADRG_NEWBORN_CASES = [
    P(newborn("P22.000", age_days="0"), "PR15", id="day-0"),
    P(newborn("P22.000", age_days="28"), "PR15", id="day-28-is-newborn"),
    P(newborn("P22.000", age_days="29", birth_weight=""), "PV15", id="day-29-is-not"),
    P(newborn("Q25.000", "38.8505", age_days="10"), "PB19", id="newborn-surgery-after-MDCA"),
    P(newborn("Q25.000", "39.7800x008", age_days="28"), "PB19", id="newborn-surgery-day-28"),
    P(newborn("Q25.000", "38.8505", age_days="40", birth_weight=""), "PV15",
      id="surgery-too-old-for-newborn-ADRG"),
    P(newborn("Q25.000", "45.1300|38.8505", age_days="10"), "PV15",
      id="newborn-surgery-not-main-procedure"),
    P(case("Q25.000", "38.8505", age="1"), "no_group", id="age-1-not-in-MDCP"),
]

ADRG_BIRTH_WEIGHT_CASES = [
    P(newborn("P07.300", birth_weight="1"), "PS15", id="1-g"),
    P(newborn("P07.300", birth_weight="1499"), "PS15", id="1499-g"),
    P(newborn("P07.300", birth_weight="1500"), "PS25", id="1500-g-max-exclusive-min-inclusive"),
    P(newborn("P07.300", birth_weight="1999"), "PS25", id="1999-g"),
    P(newborn("P07.300", birth_weight="2000"), "PS39", id="2000-g"),
    P(newborn("P07.300", birth_weight="2499"), "PS39", id="2499-g"),
    P(newborn("P07.300", birth_weight="2500"), "PS45", id="2500-g"),
    P(newborn("P07.300", birth_weight="4200"), "PS45", id="4200-g"),
    P(newborn("P07.300", birth_weight="0"), "PV15", id="0-g-present-but-fails-the-band"),
    P(newborn("P07.300", age_days="40", birth_weight="1200"), "PV15", id="weight-but-not-newborn"),
    P(newborn("P07.300|P59.900", birth_weight="1200"), "PS13", id="band-1-with-CC"),
    P(newborn("P07.300|P36.900", birth_weight="1200"), "PS11", id="band-1-with-MCC"),
    P(newborn("P07.000|P07.100", birth_weight="900"), "PS15", id="band-1-with-excluded-CC"),
    P(newborn("P07.300|P59.900", birth_weight="2600"), "PS43", id="band-4-with-CC"),
]

ADRG_ALWAYS_CASES = [
    P(newborn("P36.900", birth_weight="3300"), "PV15", id="newborn-sepsis"),
    P(newborn("P29.300|P59.900", age_days="100", birth_weight=""), "PV13", id="infant-with-CC"),
    P(newborn("Q25.000|P36.900", age_days="300", birth_weight=""), "PV13", id="infant-with-MCC"),
]


@pytest.mark.parametrize("one_case, result", ADRG_PRINCIPAL_DX_CASES)
def test_adrg_principal_dx(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", ADRG_ANY_DX_CASES)
def test_adrg_any_dx(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", ADRG_MAIN_PROC_CASES)
def test_adrg_main_proc_only_first_place(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", ADRG_MAIN_PROC_VALID_CASES)
def test_adrg_main_proc_valid(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", ADRG_PROC_PAIR_CASES)
def test_adrg_proc_pair_any_positions(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", ADRG_PROC_GROUPS_CASES)
def test_adrg_proc_groups_expression(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", ADRG_NO_VALID_PROC_CASES)
def test_adrg_no_valid_proc(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", ADRG_NEWBORN_CASES)
def test_adrg_newborn(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", ADRG_BIRTH_WEIGHT_CASES)
def test_adrg_birth_weight_bands(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", ADRG_ALWAYS_CASES)
def test_adrg_always(scheme, one_case, result):
    check(scheme, one_case, result)


# ---------------------------------------------------------------- DRG split rules (RULES.md §6)

SPLIT_CASES = [
    # mcc / mcc_or_cc / always (SR1: SR11, SR13, SR15)
    P(case("A41.900"), "SR15", id="three-way-no-secondary"),
    P(case("A41.900|N17.900"), "SR11", id="three-way-MCC"),
    P(case("A41.900|J18.900"), "SR13", id="three-way-CC"),
    P(case("A41.900|E11.900|N17.900"), "SR11", id="three-way-MCC-after-neutral"),
    P(case("A41.900|J18.900|N17.900"), "SR11", id="three-way-CC-and-MCC"),
    P(case("A41.900|E11.900|I10.x00"), "SR15", id="three-way-neutral-secondaries"),
    # mcc / always (FR2: FR21, FR25)
    P(case("I50.900|J96.000"), "FR21", id="mcc-split-MCC"),
    P(case("I50.900|J18.900"), "FR25", id="mcc-split-CC-is-not-enough"),
    # mcc_or_cc / always (GZ1: GZ13, GZ15)
    P(case("K29.700|J18.900"), "GZ13", id="cc-split-CC"),
    P(case("K29.700|N17.900"), "GZ13", id="cc-split-MCC-counts"),
    P(case("K29.700"), "GZ15", id="cc-split-none"),
    # always without split (SU1: SU19)
    P(case("B34.900|N17.900"), "SU19", id="no-split-with-MCC"),
    P(case("B34.900"), "SU19", id="no-split-without"),
]


@pytest.mark.parametrize("one_case, result", SPLIT_CASES)
def test_drg_split_rules(scheme, one_case, result):
    check(scheme, one_case, result)


# ---------------------------------------------------------------- CC / MCC exclusion (RULES.md §6.1)

CC_EXCLUSION_CASES = [
    P(case("A41.900|A41.000"), "SR15", id="excluded-MCC-is-not-a-CC"),
    P(case("A41.900|B34.900"), "SR15", id="excluded-CC"),
    P(case("A41.900|A41.000|E87.100"), "SR13", id="excluded-MCC-plus-CC"),
    P(case("A41.900|A41.000|N17.900"), "SR11", id="excluded-MCC-plus-MCC"),
    P(case("K35.200|K65.000", "47.0100"), "GD15", id="appendicitis-peritonitis-excluded"),
    P(case("K35.200|K65.000|E87.100", "47.0100"), "GD13", id="appendicitis-excluded-plus-CC"),
    P(case("K35.800|K65.000", "47.0901"), "GD25", id="same-table-other-principal"),
    P(case("K35.800|J18.900", "47.0901"), "GD23", id="other-table-counts"),
    P(case("K29.700|K25.000"), "GZ15", id="excluded-CC-same-table"),
    P(case("I50.900|I50.900"), "FR25", id="principal-repeated-same-table-excluded"),
    P(case("R57.000|R57.000"), "FR21", id="principal-without-table-repeated-counts"),
    P(case("R57.000|I50.000"), "FR21", id="principal-without-table-excludes-nothing"),
    P(case("I50.000|R57.000"), "FR25", id="same-table-MCC-excluded"),
    P(case("K29.700|J18.900|J18.900"), "GZ13", id="duplicate-secondaries"),
    P(newborn("P22.000|P28.500"), "PR15", id="newborn-excluded-MCC-not-a-CC"),
    P(newborn("P22.000|P28.500|P59.900"), "PR13", id="newborn-excluded-MCC-plus-CC"),
    P(newborn("P22.000|P36.900"), "PR11", id="newborn-other-table-MCC"),
]


@pytest.mark.parametrize("one_case, result", CC_EXCLUSION_CASES)
def test_cc_mcc_exclusion(scheme, one_case, result):
    check(scheme, one_case, result)


# ---------------------------------------------------------------- valid (operating-room) procedures

VALID_PROC_CASES = [
    P(case("I20.000", "36.0700"), "FM19", id="non-valid-stent-skips-MDCA-matches-FM1"),
    P(case("I20.000", "36.0601"), "FM19", id="valid-stent-falls-through-MDCA"),
    P(case("I20.000", "36.0700|37.5100"), "FM19", id="valid-transplant-code-not-main"),
    P(case("I50.900", "39.6500"), "AH15", id="MDCA-captures-before-body-system"),
]


@pytest.mark.parametrize("one_case, result", VALID_PROC_CASES)
def test_valid_proc(scheme, one_case, result):
    check(scheme, one_case, result)


# ---------------------------------------------------------------- oncology, spine and psychiatry
# The groups that day chemotherapy, the oncology day ward, TCM day care and psychiatric bed-day stays
# land in. Codes as in the national lists: Z51.1xx chemotherapy and Z51.0xx radiotherapy encounters.

RE1_CASES = [  # principal_dx + main_proc, split mcc / mcc_or_cc / always
    P(case("Z51.102|C18.900", "99.2503"), "RE15", id="intravenous-chemotherapy"),
    P(case("Z51.102|C16.900", "99.2503"), "RE13", id="cancer-that-is-a-CC-counts-as-secondary"),
    P(case("Z51.101|D70.x00", "99.2503"), "RE13", id="agranulocytosis-CC"),
    P(case("Z51.103|C18.900|N17.900", "99.2503"), "RE11", id="MCC"),
    P(case("Z51.104|J18.900|J96.000", "99.2502"), "RE11", id="CC-and-MCC"),
    P(case("Z51.102", "99.2500x038"), "RE15", id="non-valid-chemo-procedure-skips-MDCA"),
    P(case("Z51.102", "99.2800x006|99.2503"), "RE15", id="valid-targeted-therapy-falls-through-MDCA"),
    P(case("Z51.103", "99.2506", gender="2"), "RE15", id="bladder-instillation"),
    P(case("Z51.100|C16.900", "99.2500"), "no_group", id="category-codes-are-in-no-list"),
    P(case("C16.900", "99.2503"), "GZ15", id="cancer-as-principal-stays-in-its-body-system"),
]

RC1_CASES = [  # principal_dx + main_proc, no split
    P(case("Z51.003|C34.900", "92.2400x003"), "RC19", id="IMRT"),
    P(case("Z51.001|N17.900", "92.2400x005"), "RC19", id="no-split-with-MCC"),
    P(case("Z51.000x003", "92.2700x002"), "RC19", id="non-valid-seed-implantation"),
    P(case("Z51.002", "45.1300|92.2400x002"), "no_group", id="radiotherapy-not-main-procedure"),
    P(case("Z51.003|C34.900"), "no_group", id="radiotherapy-encounter-without-procedure-no-RV1"),
    P(case("Z51.003", "99.2503"), "no_group", id="chemotherapy-with-radiotherapy-principal"),
]

RU1_CASES = [  # principal_dx, split mcc / mcc_or_cc / always
    P(case("Z51.103|C50.900", gender="2"), "RU15", id="no-procedure"),
    P(case("Z51.102|C16.900"), "RU13", id="CC"),
    P(case("Z51.104|C34.900|J96.000"), "RU11", id="MCC"),
    P(case("Z51.102|A41.900"), "RU11", id="sepsis-as-secondary-MCC"),
    P(case("Z51.103", "99.0400|99.2503"), "RU15", id="chemotherapy-procedure-in-second-place"),
    P(case("Z51.102", "99.2500"), "RU15", id="category-procedure-code-not-listed"),
    P(case("Z51.102", "92.2400x003"), "RU15", id="radiotherapy-procedure-with-chemotherapy-principal"),
    P(case("A41.900|Z51.102"), "SR15", id="chemotherapy-encounter-as-secondary-is-no-complication"),
]

IB3_CASES = [  # main_proc (any MDCI principal), no split
    P(case("M51.202", "80.5107"), "IB39", id="lumbar-discectomy"),
    P(case("M50.201|E11.900", "80.5101"), "IB39", id="cervical-discectomy"),
    P(case("M48.002", "03.0900x003"), "IB39", id="decompression"),
    P(case("M54.500|N17.900", "81.6500"), "IB39", id="no-split-with-MCC"),
    P(case("K29.700", "80.5107"), "GZ15", id="principal-outside-MDCI"),
    P(case("E10.900", "80.5110"), "no_group", id="principal-in-no-MDC"),
    P(case("M51.202", "99.0400|80.5107"), "IU29", id="spine-surgery-not-main-procedure"),
]

IU2_CASES = [  # principal_dx, no split
    P(case("M51.202"), "IU29", id="disc-herniation"),
    P(case("M54.500|E11.900", "17.92650|17.91100", gender="2"), "IU29",
      id="TCM-day-care-procedures-are-in-no-list"),
    P(case("M47.201|N17.900"), "IU29", id="no-split-with-MCC"),
    P(case("M54.500", "86.2200"), "IU29", id="unlisted-operating-room-procedure-falls-to-medical"),
    P(case("K29.700|M54.500"), "GZ15", id="back-pain-only-as-secondary"),
]

TR1_CASES = [  # principal_dx, no split
    P(case("F20.000"), "TR19", id="paranoid-schizophrenia"),
    P(case("F20.900|I10.x00", "94.2701"), "TR19", id="ECT-is-not-an-operating-room-procedure"),
    P(case("F20.000|A41.900"), "TR19", id="no-split-with-MCC"),
    P(case("F20.300", "47.0100"), "TR19", id="appendectomy-falls-through-MDCA-no-TB1"),
    P(case("K35.800|F20.000", "47.0100"), "GD25", id="schizophrenia-as-secondary"),
]

TS1_CASES = [  # principal_dx, no split
    P(case("F32.200", gender="2"), "TS19", id="severe-depression"),
    P(case("F33.200|G47.000", "94.0204"), "TS19", id="recurrent-depression"),
    P(case("F31.600"), "TS19", id="bipolar-mixed"),
    P(case("F32.900|F20.000"), "TS19", id="principal-decides-mood"),
    P(case("F20.000|F32.900"), "TR19", id="principal-decides-psychosis"),
    P(case("G47.000"), "no_group", id="insomnia-in-no-list"),
]


@pytest.mark.parametrize("one_case, result", RE1_CASES)
def test_re1_chemotherapy(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", RC1_CASES)
def test_rc1_radiotherapy(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", RU1_CASES)
def test_ru1_other_oncology_treatment(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", IB3_CASES)
def test_ib3_spine_surgery(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", IU2_CASES)
def test_iu2_neck_and_back_disorders(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", TR1_CASES)
def test_tr1_schizophrenia(scheme, one_case, result):
    check(scheme, one_case, result)


@pytest.mark.parametrize("one_case, result", TS1_CASES)
def test_ts1_mood_disorders(scheme, one_case, result):
    check(scheme, one_case, result)


def test_demo_scheme_serves_every_care_class_of_the_synthetic_province(scheme):
    """The synthetic province finds a group for each day-care type and for psychiatric long stays."""
    from drgdip.synth.scheme_profile import (CARE_CLASS_NAMES, DAY_CHEMO, DAY_WARD, PSYCH_LONG, TCM_DAY,
                                      build_profile)
    profile = build_profile(scheme)
    adrgs = {CARE_CLASS_NAMES[k]: {profile.adrgs[i].code for i in profile.class_adrgs[k]}
             for k in (DAY_CHEMO, DAY_WARD, TCM_DAY, PSYCH_LONG)}
    assert adrgs == {"day_chemo": {"RE1"}, "day_ward": {"RC1", "RE1"}, "tcm_day": {"IU2"},
                     "psych_long_stay": {"TR1", "TS1"}}


def test_synthetic_province_on_the_demo_scheme_has_every_care_type():
    """Day chemotherapy, oncology day ward, TCM day care and psychiatric long stays are generated."""
    from drgdip.synth import generate_province
    province = generate_province(SCHEME_DIR, cases=3000, hospitals=12, regions=2, seed=5)
    cases = province.cases
    assert set(cases["care_type"]) == {"inpatient", "day_surgery", "day_chemo", "day_ward", "tcm_day"}
    assert not any("not generated" in note for note in province.info["notes"]), province.info["notes"]
    grouped = grouper.group_cases(cases, grouper.load_scheme(SCHEME_DIR))
    ok = (grouped["status"] == "ok").to_numpy()      # all but the deliberately invalid share
    adrg = grouped["adrg"].astype(str).to_numpy()
    care = cases["care_type"].to_numpy()
    assert set(adrg[ok & (care == "day_chemo")]) == {"RE1"}
    assert set(adrg[ok & (care == "day_ward")]) == {"RC1", "RE1"}
    assert set(adrg[ok & (care == "tcm_day")]) == {"IU2"}
    long_stays = ok & (cases["dept"] == "A15").to_numpy() & (cases["los"] >= 30).to_numpy()
    assert long_stays.sum() > 0 and set(adrg[long_stays]) <= {"TR1", "TS1"}


# ---------------------------------------------------------------- code lists as written (RULES.md §1.1)

CODE_LIST_CASES = [
    P(case("", "37.5100"), "AA19", id="empty-dx-groups-by-procedure"),
    P(case("", ""), "no_group", id="empty-dx-and-proc"),
    P(case("", "47.0100"), "no_group", id="empty-dx-principal-is-empty-code"),
    P(case("K35.800", "|47.0100"), "GZ15", id="leading-empty-procedure-is-main"),
    P(case("K35.800", "47.0100|"), "GD25", id="trailing-empty-procedure"),
    P(case("K35.800|", "47.0100"), "GD25", id="trailing-empty-diagnosis"),
    P(case("K29.700||J18.900"), "GZ13", id="empty-diagnosis-in-the-middle"),
    P(case("K35.800,J18.900", "47.0100"), "GD23", id="comma-separates-diagnoses"),
    P(case("E10.900", "52.8000,55.6901"), "AC19", id="comma-separates-procedures"),
    P(case(" K35.800", "47.0100"), "no_group", id="leading-space-unknown-code"),
    P(case("K35.800 "), "no_group", id="trailing-space-unknown-code"),
    P(case("k35.800"), "no_group", id="lower-case-unknown-code"),
    P(case("K35.800", " 47.0100"), "GZ15", id="procedure-with-space-unknown"),
    P(case("K29.700| J18.900"), "GZ15", id="secondary-with-space-not-a-CC"),
    P(case("K35.80", "47.0100"), "no_group", id="truncated-code"),
]


@pytest.mark.parametrize("one_case, result", CODE_LIST_CASES)
def test_code_lists_are_not_normalised(scheme, one_case, result):
    check(scheme, one_case, result)


# ---------------------------------------------------------------- validation and its order (RULES.md §2)

VALIDATION_CASES = [
    P(case("K29.700", gender=""), "invalid_input:gender_missing", id="gender-empty"),
    P(case("K29.700", gender="", age=""), "invalid_input:gender_missing",
      id="gender-missing-before-age-missing"),
    P(case("K29.700", gender="", age="3.5"), "invalid_input:gender_missing",
      id="gender-missing-before-parse-error"),
    P(case("K29.700", gender="3"), "invalid_input:gender_invalid", id="gender-3"),
    P(case("K29.700", gender="0"), "invalid_input:gender_invalid", id="gender-0"),
    P(case("K29.700", gender="男性"), "invalid_input:gender_invalid", id="gender-text"),
    P(case("K29.700", gender="9", age=""), "invalid_input:gender_invalid",
      id="gender-invalid-before-age-missing"),
    P(case("K29.700", age=""), "invalid_input:age_missing", id="age-empty"),
    P(case("P59.900", age="", age_days=""), "invalid_input:age_missing",
      id="age-missing-before-age-days"),
    P(case("P59.900", age="0", age_days="", birth_weight="3000"),
      "invalid_input:age_days_missing", id="age-0-without-age-days"),
    P(case("P59.900", age="0"), "invalid_input:age_days_missing",
      id="age-days-missing-before-birth-weight-missing"),
    P(case("P59.900", age="0", age_days="28"), "invalid_input:birth_weight_missing",
      id="newborn-day-28-without-weight"),
    P(case("P59.900", age="0", age_days="0"), "invalid_input:birth_weight_missing",
      id="newborn-day-0-without-weight"),
    P(case("P59.900", age="0", age_days="29"), "PV15", id="day-29-needs-no-weight"),
    P(case("P07.300", age="0", age_days="5", birth_weight="0"), "PV15",
      id="birth-weight-0-is-present"),
    P(case("K29.700", age="3.5"), "invalid_input:parse_error", id="age-decimal"),
    P(case("K29.700", age="abc"), "invalid_input:parse_error", id="age-text"),
    P(case("P59.900", age="0", age_days="abc"), "invalid_input:parse_error",
      id="newborn-age-days-text"),
    P(case("P59.900", age="0", age_days="1.5", birth_weight="3000"), "invalid_input:parse_error",
      id="newborn-age-days-decimal"),
    P(case("K29.700", age="40", age_days="abc"), "GZ15", id="adult-age-days-text-harmless"),
    P(case("K29.700", age="40", birth_weight="abc"), "GZ15", id="adult-birth-weight-text-harmless"),
    P(case("K29.700", age=" 40"), "GZ15", id="age-with-spaces-is-an-integer"),
    P(case("K29.700", age="-3"), "GZ15", id="negative-age-not-checked"),
    P(case("K29.700", age="130"), "GZ15", id="huge-age-not-checked"),
    P(case("P59.900", age="1", age_days=""), "no_group", id="age-days-only-needed-at-age-0"),
]


@pytest.mark.parametrize("one_case, result", VALIDATION_CASES)
def test_validation_order_and_reasons(scheme, one_case, result):
    check(scheme, one_case, result)


def test_many_cases_in_one_batch_keep_order_and_results(scheme):
    """All the hand-made cases above grouped together give the same per-case results."""
    groups = [value for name, value in globals().items() if name.endswith("_CASES")]
    params = [p for g in groups for p in g]
    cases = [p.values[0] for p in params]
    assert len(cases) > 150
    assert group(scheme, cases) == [expected(p.values[1]) for p in params]


# ---------------------------------------------------------------- the code maps are not applied by default


def test_code_maps_are_not_applied_by_default(scheme):
    dx_map, proc_map = _table("dx_map.csv"), _table("proc_map.csv")
    renamed = dict(zip(dx_map["source_code"], dx_map["target_code"]))
    assert renamed["A41.901"] == "A41.900"
    assert dict(zip(proc_map["source_code"], proc_map["target_code"]))["47.0900x002"] == "47.0901"
    results = group(scheme, [case("A41.901"), case("A41.900"),
                             case("K35.800", "47.0900x002"), case("K35.800", "47.0901")])
    assert results == [expected("no_group"), expected("SR15"), expected("GZ15"), expected("GD25")]


CODE_MAP_EXAMPLES = [  # grouped with map_codes=True (RULES.md §9)
    P(case("A41.901"), "SR15", id="retired-diagnosis-converted"),
    P(case("C53.900x001", "68.6100x001", gender="2"), "NA19", id="retired-cancer-code-converted"),
    P(case("K35.800", "47.0900x002"), "GD25", id="retired-procedure-converted"),
    P(case("K35.800|E11.900", "47.0100"), "GD25", id="identity-rows"),
    P(case("K35.80", "47.0100"), "unmapped_dx", id="diagnosis-not-in-map"),
    P(case("K35.800|K35.80"), "unmapped_dx", id="secondary-not-in-map"),
    P(case("", "37.5100"), "unmapped_dx", id="empty-dx-field-is-unmapped"),
    P(case("K35.800", "47.0100|45.99"), "unmapped_proc", id="procedure-not-in-map"),
    P(case("K35.800", "|47.0100"), "unmapped_proc", id="empty-procedure-item-is-unmapped"),
    P(case("K35.800", ""), "GZ15", id="no-procedure-is-fine"),
    P(case("K35.80", "45.99"), "unmapped_dx", id="diagnoses-checked-before-procedures"),
    P(case("K35.80", gender=""), "unmapped_dx", id="mapping-before-validation"),
    P(case("A41.901", gender=""), "invalid_input:gender_missing", id="mapped-then-validated"),
]


@pytest.mark.parametrize("one_case, result", CODE_MAP_EXAMPLES)
def test_code_maps_when_requested(scheme, one_case, result):
    out = grouper.group_cases(frame([one_case]), scheme, map_codes=True)
    assert list(zip(out["status"], out["mdc"], out["adrg"], out["drg"])) == [expected(result)]


# ---------------------------------------------------------------- the demo tables themselves


def _table(name: str) -> pd.DataFrame:
    return pd.read_csv(SCHEME_DIR / name, dtype=str, keep_default_na=False)


def test_demo_tables_have_the_national_headers():
    national = Path(__file__).resolve().parents[1].parent / "shared" / "chs-drg-1.1"
    for path in sorted(national.glob("*.csv")):
        if path.name == "cases_public.csv":
            continue
        with open(path, encoding="utf-8") as handle:
            national_header = handle.readline()
        with open(SCHEME_DIR / path.name, encoding="utf-8") as handle:
            assert handle.readline() == national_header, path.name


def test_demo_counts_codes_and_order_are_consistent():
    mdc, adrg, drg = _table("mdc.csv"), _table("adrg.csv"), _table("drg.csv")
    mdc_dx, codes = _table("mdc_dx.csv"), _table("adrg_codes.csv")
    # MDC order follows the national pattern A, P, (Y), Z, M, N, then body systems
    national_order = "APYZMNBCDEFGHIJKLOQRSTUVWX"
    letters = [m[-1] for m in mdc.sort_values("eval_order", key=lambda s: s.astype(int))["mdc"]]
    assert letters == sorted(letters, key=national_order.index)
    assert list(mdc["eval_order"].astype(int)) == list(range(1, len(mdc) + 1))
    for row in mdc.itertuples():
        assert int(row.n_dx_codes) == (mdc_dx["mdc"] == row.mdc).sum(), row.mdc
        assert int(row.n_adrgs) == (adrg["mdc"] == row.mdc).sum(), row.mdc
        assert row.qy_code == row.mdc[-1] + "QY" and row.qy_enabled == "false"
    for row in adrg.itertuples():
        assert row.adrg[0] == row.mdc[-1] and len(row.adrg) == 3
        mine = codes[codes["adrg"] == row.adrg]
        assert int(row.n_zd) == (mine["list"] == "zd").sum(), row.adrg
        assert int(row.n_ss) == (mine["list"] == "ss").sum(), row.adrg
        assert int(row.n_ss1) == (mine["list"] == "ss1").sum(), row.adrg
        assert int(row.n_drgs) == (drg["adrg"] == row.adrg).sum(), row.adrg
    for m, rows in adrg.groupby("mdc"):
        assert sorted(rows["eval_order"].astype(int)) == list(range(1, len(rows) + 1)), m
    digit = {"mcc": "1", "mcc_or_cc": "3"}
    for a, rows in drg.groupby("adrg"):
        rows = rows.sort_values("eval_order", key=lambda s: s.astype(int))
        split = len(rows) > 1
        for row in rows.itertuples():
            want = digit.get(row.split_rule, "5" if split else "9")
            assert row.drg == a + want, row.drg
    assert set(mdc_dx.loc[mdc_dx["trauma_region"] != "", "mdc"]) == {"MDCZ"}
    assert mdc_dx.loc[mdc_dx["mdc"] == "MDCZ", "trauma_region"].nunique() >= 2


def test_demo_scheme_uses_every_rule_type():
    mdc, adrg, drg = _table("mdc.csv"), _table("adrg.csv"), _table("drg.csv")
    mdc_atoms = {a for rule in mdc["entry_rule"] for a in rule.split("+")}
    adrg_atoms = {a for rule in adrg["entry_rule"] for a in rule.split("+")}
    assert mdc_atoms == {"main_proc_valid", "principal_dx", "gender", "age_years", "trauma_regions"}
    assert adrg_atoms == {"principal_dx", "any_dx", "main_proc", "main_proc_valid", "proc_pair",
                          "proc_groups", "no_valid_proc", "newborn", "birth_weight", "always"}
    assert set(drg["split_rule"]) == {"mcc", "mcc_or_cc", "always"}
    assert set(drg["drg"].str[3]) == {"1", "3", "5", "9"}
    assert set(mdc["gender"]) == {"", "1", "2"}
    assert "1|(2&3)" in set(adrg["proc_groups"])


def _national_table(name: str) -> pd.DataFrame:
    national = Path(__file__).resolve().parents[1].parent / "shared" / "chs-drg-1.1"
    return pd.read_csv(national / name, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("name, key, columns", [
    ("mdc.csv", "mdc", ["name", "entry_rule", "gender", "age_years", "min_trauma_regions", "qy_code"]),
    ("adrg.csv", "adrg", ["mdc", "name", "section", "entry_rule", "age_days_max", "weight_min",
                          "weight_max", "proc_groups"]),
    ("drg.csv", "drg", ["adrg", "mdc", "name", "eval_order", "split_rule"]),
])
def test_demo_groups_are_national_groups(name, key, columns):
    """Every MDC, ADRG and DRG of the demo has its national name, rule, parameters and split."""
    mine = _table(name).set_index(key)[columns]
    national = _national_table(name).set_index(key)[columns]
    assert set(mine.index) <= set(national.index)
    pd.testing.assert_frame_equal(mine, national.loc[mine.index], obj=name)


def test_oncology_spine_and_psychiatric_lists_are_national_extracts():
    """MDCI, MDCR and MDCT lists hold national codes of the same MDC / ADRG list, with their
    national names and operating-room flags."""
    new_mdcs = {"MDCI", "MDCR", "MDCT"}
    mdc_dx, codes, adrg = _table("mdc_dx.csv"), _table("adrg_codes.csv"), _table("adrg.csv")
    mdc_rows = mdc_dx[mdc_dx["mdc"].isin(new_mdcs)]
    code_rows = codes[codes["adrg"].isin(adrg.loc[adrg["mdc"].isin(new_mdcs), "adrg"])]
    assert len(mdc_rows) == 29 and len(code_rows) == 53

    def pairs(table, columns):
        return set(map(tuple, table[columns].to_numpy()))

    assert pairs(mdc_rows, ["mdc", "code"]) <= pairs(_national_table("mdc_dx.csv"), ["mdc", "code"])
    columns = ["adrg", "list", "code", "proc_group"]
    assert pairs(code_rows, columns) <= pairs(_national_table("adrg_codes.csv"), columns)
    procedures = set(code_rows.loc[code_rows["list"] != "zd", "code"])
    assert (procedures & set(_table("valid_proc.csv")["code"])
            == procedures & set(_national_table("valid_proc.csv")["code"]))
    listed = set(mdc_rows["code"]) | set(code_rows["code"])
    for names in ("dx_names.csv", "proc_names.csv"):
        national = dict(map(tuple, _national_table(names).to_numpy()))
        for code, name in _table(names).itertuples(index=False):
            if code in listed:
                assert national[code] == name, code


def test_every_scheme_code_has_a_name():
    dx_names = set(_table("dx_names.csv")["code"])
    proc_names = set(_table("proc_names.csv")["code"])
    codes = _table("adrg_codes.csv")
    dx_used = (set(_table("mdc_dx.csv")["code"]) | set(codes.loc[codes["list"] == "zd", "code"])
               | set(_table("cc.csv")["code"]) | set(_table("cc_exclusion.csv")["principal_dx"]))
    proc_used = set(codes.loc[codes["list"] != "zd", "code"]) | set(_table("valid_proc.csv")["code"])
    assert dx_used <= dx_names
    assert proc_used <= proc_names
    for name in ("mdc.csv", "adrg.csv", "drg.csv", "dx_names.csv", "proc_names.csv", "valid_proc.csv"):
        assert (_table(name)["name"] != "").all(), name
    # every dictionary code maps (at least) to itself
    for names, mapping in (("dx_names.csv", "dx_map.csv"), ("proc_names.csv", "proc_map.csv")):
        pairs = set(map(tuple, _table(mapping)[["source_code", "target_code"]].to_numpy()))
        assert {(c, c) for c in _table(names)["code"]} <= pairs


def test_demo_cases_file_follows_the_case_table_contract(scheme):
    cases = pd.read_csv(SCHEME_DIR.parent / "cases.csv", dtype=str, keep_default_na=False)
    contract = ["case_id", "gender", "age", "age_days", "birth_weight", "dept", "los",
                "leaving_type", "dx", "proc", "hospital_id", "hospital_level", "region",
                "insured_region", "insurance_type", "admit_time", "discharge_time", "total_cost",
                "fund_paid", "care_type"]
    assert set(contract) <= set(cases.columns)
    assert cases["case_id"].is_unique and len(cases) >= 250
    out = grouper.group_cases(cases, scheme)
    assert len(out) == len(cases) and list(out["case_id"]) == list(cases["case_id"])
    statuses = set(out["status"])
    assert {"ok", "no_group"} <= statuses
    assert {f"invalid_input:{r}" for r in ("gender_missing", "gender_invalid", "age_missing",
                                           "age_days_missing", "birth_weight_missing",
                                           "parse_error")} <= statuses
    assert set(out.loc[out["status"] == "ok", "drg"]) == set(_table("drg.csv")["drg"])


def test_demo_cases_cover_day_care_and_psychiatric_long_stays(scheme):
    """The shipped cases carry every care type, with the groups that serve them."""
    cases = pd.read_csv(SCHEME_DIR.parent / "cases.csv", dtype=str, keep_default_na=False)
    out = grouper.group_cases(cases, scheme)
    cases = cases.assign(drg=out["drg"].astype(str).to_numpy(), los=cases["los"].astype(int))
    assert set(cases["care_type"]) == {"inpatient", "day_surgery", "day_chemo", "day_ward", "tcm_day"}
    window = pd.to_datetime(cases["discharge_time"]) - pd.to_datetime(cases["admit_time"])
    # day chemotherapy: one day; the listed chemotherapy encounters group to RE1, the category
    # codes Z51.100 / 99.2500 of older records are in no list
    chemo = cases[cases["care_type"] == "day_chemo"]
    assert (window[chemo.index] <= pd.Timedelta(hours=24)).all()
    assert set(chemo["drg"].str[:3]) == {"RE1", "000"}
    assert ((chemo["drg"] == "0000") == chemo["dx"].str.startswith("Z51.100|")).all()
    # oncology day ward: one treatment period, los = session days
    ward = cases[cases["care_type"] == "day_ward"]
    assert set(ward["drg"].str[:3]) == {"RC1", "RE1"}
    assert (ward["los"] <= window[ward.index].dt.days + 1).all() and (ward["los"] >= 2).all()
    assert set(cases.loc[cases["care_type"] == "tcm_day", "drg"]) == {"IU29"}
    assert (cases["care_type"] == "tcm_day").sum() >= 3 and len(ward) >= 3
    long_stays = cases[(cases["dept"] == "15") & (cases["los"] >= 30)]
    assert len(long_stays) >= 3 and set(long_stays["drg"]) == {"TR19", "TS19"}
    assert (long_stays["care_type"] == "inpatient").all()


# ---------------------------------------------------------------- invariants (hypothesis)

NEUTRAL_DX = ["E11.900", "I10.x00", "E78.500", "H25.900"]  # in no list, neither CC nor MCC


def _scheme_codes():
    codes = _table("adrg_codes.csv")
    dx = sorted(set(_table("mdc_dx.csv")["code"]) | set(_table("cc.csv")["code"])) + NEUTRAL_DX
    proc = sorted(set(codes.loc[codes["list"] != "zd", "code"]) | set(_table("valid_proc.csv")["code"])
                  | {"45.1300", "96.0400", "99.0400"})
    return dx, proc


DX_CODES, PROC_CODES = _scheme_codes()
ALL_DRGS = set(_table("drg.csv")["drg"])
FAILED_STATUSES = {"no_group"} | {f"invalid_input:{r}" for r in (
    "gender_missing", "gender_invalid", "age_missing", "age_days_missing", "birth_weight_missing",
    "parse_error")}


def text_int(low: int, high: int):
    return st.integers(low, high).map(str)


random_case = st.fixed_dictionaries({
    "gender": st.sampled_from(["1", "2", "1", "2", "男", ""]),
    "age": st.one_of(st.just("0"), text_int(0, 95), st.just("")),
    "age_days": st.one_of(text_int(0, 40), text_int(41, 364), st.just("")),
    "birth_weight": st.one_of(text_int(0, 4500), st.just("")),
    "dept": st.sampled_from(["03", "12", "07"]),
    "los": text_int(1, 30),
    "leaving_type": st.sampled_from(["1", "2", "5"]),
    "dx": st.lists(st.sampled_from(DX_CODES), min_size=1, max_size=5).map("|".join),
    "proc": st.lists(st.sampled_from(PROC_CODES), max_size=3).map("|".join),
})


@settings(max_examples=25, deadline=None)
@given(cases=st.lists(random_case, min_size=1, max_size=40), data=st.data())
def test_invariants_on_random_demo_cases(scheme, cases, data):
    results = group(scheme, cases)
    assert len(results) == len(cases)
    for (status, mdc, adrg, drg) in results:
        if status == "ok":
            assert drg in ALL_DRGS and adrg == drg[:3] and mdc == "MDC" + drg[0]
        else:
            assert status in FAILED_STATUSES and (mdc, adrg, drg) == FAILED
    # order of the input does not matter
    order = data.draw(st.permutations(range(len(cases))))
    assert group(scheme, [cases[i] for i in order]) == [results[i] for i in order]
    # department, length of stay and discharge type are never consulted; neither is an appended
    # secondary diagnosis that is in no list and is no complication
    extra = data.draw(st.sampled_from(NEUTRAL_DX))
    changed = [{**c, "dept": "99", "los": "1", "leaving_type": "9", "dx": c["dx"] + "|" + extra}
               for c in cases]
    assert group(scheme, changed) == results


# ---------------------------------------------------------------- broken scheme copies (SchemeError)


@pytest.fixture
def scheme_copy(tmp_path):
    target = tmp_path / "scheme"
    shutil.copytree(SCHEME_DIR, target)
    return target


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _edit_line(path: Path, number: int, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in line ``number`` (1-based, header = 1)."""
    lines = _lines(path)
    assert old in lines[number - 1]
    lines[number - 1] = lines[number - 1].replace(old, new, 1)
    path.write_text("".join(lines), encoding="utf-8")


def _line_of(path: Path, prefix: str) -> int:
    return next(i for i, line in enumerate(_lines(path), 1) if line.startswith(prefix))


def _append(path: Path, line: str) -> int:
    lines = _lines(path)
    path.write_text("".join(lines) + line + "\n", encoding="utf-8")
    return len(lines) + 1


def _scheme_error(path: Path) -> str:
    with pytest.raises(grouper.SchemeError) as caught:
        grouper.load_scheme(path)
    return str(caught.value)


def _assert_names(message: str, file: str, line: int | None, *words: str) -> None:
    assert file in message, message
    if line is not None:
        assert re.search(rf"\bline {line}\b", message), message
    for word in words:
        assert re.search(word, message, re.IGNORECASE), (word, message)


def test_demo_scheme_loads(scheme):
    assert len(scheme.mdc_codes) == 11 and len(scheme.adrg_codes) == 35 and len(scheme.drg_codes) == 58


@pytest.mark.parametrize("name", ["mdc.csv", "mdc_dx.csv", "adrg.csv", "adrg_codes.csv", "drg.csv",
                                  "cc.csv", "cc_exclusion.csv", "valid_proc.csv"])
def test_scheme_error_missing_file(scheme_copy, name):
    (scheme_copy / name).unlink()
    _assert_names(_scheme_error(scheme_copy), name, None, "missing|not found")


@pytest.mark.parametrize("name, column", [("drg.csv", "split_rule"), ("adrg.csv", "entry_rule"),
                                          ("mdc.csv", "eval_order"), ("cc.csv", "level"),
                                          ("adrg_codes.csv", "proc_group")])
def test_scheme_error_missing_column(scheme_copy, name, column):
    path = scheme_copy / name
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.drop(columns=[column]).to_csv(path, index=False, lineterminator="\n")
    _assert_names(_scheme_error(scheme_copy), name, 1, re.escape(column))


@pytest.mark.parametrize("name, prefix, old, new", [
    ("adrg.csv", "GD1,", "principal_dx+main_proc", "principal_dx+main_procedure"),
    ("adrg.csv", "PS2,", "any_dx+newborn+birth_weight", "any_dx+neonate+birth_weight"),
    ("mdc.csv", "MDCZ,", "principal_dx+trauma_regions", "principal_dx+trauma_region_count"),
    ("drg.csv", "SR13,", "mcc_or_cc", "cc_or_mcc"),
])
def test_scheme_error_unknown_rule_token(scheme_copy, name, prefix, old, new):
    path = scheme_copy / name
    line = _line_of(path, prefix)
    _edit_line(path, line, old, new)
    bad_token = sorted(set(new.split("+")) - set(old.split("+")))[0]
    _assert_names(_scheme_error(scheme_copy), name, line, re.escape(bad_token))


def test_scheme_error_drg_of_unknown_adrg(scheme_copy):
    line = _append(scheme_copy / "drg.csv", "GX19,GX1,MDCG,不存在的病组,1,always")
    _assert_names(_scheme_error(scheme_copy), "drg.csv", line, "GX1")


def test_scheme_error_drg_pointing_to_renamed_adrg(scheme_copy):
    path = scheme_copy / "drg.csv"
    line = _line_of(path, "FR39,")
    _edit_line(path, line, "FR39,FR3,", "FR39,FR9,")
    _assert_names(_scheme_error(scheme_copy), "drg.csv", line, "FR9")


@pytest.mark.parametrize("name, prefix", [
    ("drg.csv", "GD25,"),
    ("adrg.csv", "NA1,"),
    ("mdc.csv", "MDCN,"),
    ("adrg_codes.csv", "AC1,ss1,55.6901,"),
    ("mdc_dx.csv", "MDCZ,S27.000,"),
    ("cc.csv", "K65.000,"),
    ("cc_exclusion.csv", "K35.800,"),
    ("valid_proc.csv", "47.0100,"),
])
def test_scheme_error_duplicate_row(scheme_copy, name, prefix):
    path = scheme_copy / name
    row = _lines(path)[_line_of(path, prefix) - 1].rstrip("\n")
    line = _append(path, row)
    _assert_names(_scheme_error(scheme_copy), name, line, "duplicate")
