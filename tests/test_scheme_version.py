"""A policy names the built-in scheme version it settles under (``points.scheme_version``): settlement then
needs no ``--scheme``, and stays grouped under another version fail unless ``--regroup`` groups them again.

The version a stay was grouped under is its ``scheme_version`` column, else the scheme province.json records,
else the policy's own; each source is exercised on each input path (CSV, Parquet, DataFrame).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from drgdip.budget import policy_from_mapping, prepare_province, settle_province
from drgdip.budget.pipeline import settle_prepared
from drgdip.cli import main
from drgdip.core.errors import ConfigError, UsageError
from drgdip.core.province import write_province
from drgdip.grouper import group_cases, load_scheme
from drgdip.grouper.builtin import builtin_names
from drgdip.synth import generate_province

REPO = Path(__file__).resolve().parents[1]
DEMO_SCHEME = REPO / "data" / "demo" / "scheme"
NATIONAL = "chs-drg-1.1"
SETTLE_YEAR = 2025


def _policy(**points):
    return policy_from_mapping({"points": points})


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """A small province grouped by synth under the built-in national scheme, as Parquet and CSV folders."""
    province = generate_province(NATIONAL, cases=3_000, years=(2024, SETTLE_YEAR), hospitals=6, regions=2, seed=5)
    assert province.info["grouping"]["scheme"] == NATIONAL
    parquet, csv = tmp_path_factory.mktemp("parquet"), tmp_path_factory.mktemp("csv")
    write_province(province, parquet)
    write_province(province, csv, format="csv")
    return province, parquet, csv


def _fund_due(settlement) -> list[int]:
    return np.rint(settlement.hospitals["fund_due"].to_numpy(dtype=float) * 100).astype(np.int64).tolist()


def _with_versions(province, versions):
    """The province's cases with a ``scheme_version`` column, and no province.json record."""
    cases = province.cases.assign(scheme_version=versions)
    return type(province)(cases=cases, hospitals=province.hospitals, outpatient=province.outpatient,
                          day_ward_visits=province.day_ward_visits, info={})


def test_a_policy_names_a_known_version_or_fails_listing_them():
    assert _policy(scheme_version=NATIONAL).points.scheme_version == NATIONAL
    assert _policy().points.scheme_version is None
    with pytest.raises(ConfigError) as error:
        policy_from_mapping({"points": {"scheme_version": "chs-drg-9"}}, file="policy.yaml")
    message = str(error.value)
    assert message.startswith("policy.yaml: points.scheme_version: unknown built-in scheme version 'chs-drg-9'")
    assert all(name in message for name in builtin_names())
    with pytest.raises(ConfigError, match="points.scheme_version: a DIP policy groups with its DIP directory"):
        policy_from_mapping({"points": {"scheme": "dip", "scheme_version": NATIONAL}})


def test_settle_takes_the_policys_version_without_a_scheme_argument(national, tmp_path, capsys):
    _, parquet, _ = national
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump({"points": {"scheme_version": NATIONAL}}), encoding="utf-8")
    assert main(["settle", "--policy", str(policy_file), "--input", str(parquet), "--output", str(tmp_path / "o"),
                 "--no-excel", "--regroup"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    regrouped = pd.read_parquet(tmp_path / "o" / "hospitals.parquet")
    given = settle_province(parquet, _policy(), scheme=NATIONAL)
    # synth's groups are the national grouper's: grouping again under the policy's version changes nothing
    assert np.rint(regrouped["fund_due"].to_numpy(dtype=float) * 100).astype(np.int64).tolist() == _fund_due(given)


def test_stays_of_another_version_in_province_json_fail_unless_regrouped(tmp_path, capsys):
    demo = generate_province(DEMO_SCHEME, cases=1_500, years=(2024, SETTLE_YEAR), hospitals=4, regions=2, seed=3)
    write_province(demo, tmp_path / "demo")
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump({"points": {"scheme_version": NATIONAL}}), encoding="utf-8")
    argv = ["settle", "--policy", str(policy_file), "--input", str(tmp_path / "demo"), "--output",
            str(tmp_path / "o"), "--no-excel"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cases.parquet, row 1, field 'scheme_version'" in err
    assert f"1,500 stay(s) were grouped under another scheme version than the policy's {NATIONAL}" in err
    assert "scheme (1,500), as province.json says; give --regroup" in err
    assert main(argv + ["--regroup"]) == 0
    capsys.readouterr()
    # the stays now carry the national grouper's results (the demo's codes are not all in its tables)
    settled_year = demo.cases[demo.cases["year"] == SETTLE_YEAR].reset_index(drop=True)
    expected = group_cases(settled_year, load_scheme(NATIONAL))
    got = pd.read_parquet(tmp_path / "o" / "cases.parquet")
    for column in ("status", "drg"):
        assert got[column].astype(str).tolist() == expected[column].astype(str).tolist()


@pytest.mark.parametrize("path", ["csv", "parquet", "frame"])
def test_the_scheme_version_column_says_which_stays_are_of_another_version(national, tmp_path, path):
    province, _, _ = national
    versions = np.full(len(province.cases), NATIONAL, dtype=object)
    other = np.flatnonzero(province.cases["year"].to_numpy() == SETTLE_YEAR)[[3, 10]]
    versions[other] = "qingdao-2023"
    versions[other[1] + 1] = ""   # no version given: the policy's (province.json records none here)
    marked = _with_versions(province, versions)
    if path == "frame":
        source, first_row = marked.cases, other[0] + 1
    else:
        write_province(marked, tmp_path / "p", format=path)
        source, first_row = tmp_path / "p", other[0] + (2 if path == "csv" else 1)
    with pytest.raises(UsageError) as error:
        settle_province(source, _policy(scheme_version=NATIONAL))
    assert error.value.row == first_row and error.value.field == "scheme_version"
    assert "2 stay(s) were grouped under another scheme version" in str(error.value)
    assert "qingdao-2023 (2), as their scheme_version column says" in str(error.value)
    prepared = prepare_province(source, _policy(scheme_version=NATIONAL), regroup=True)
    settlement = settle_prepared(prepared, prepared.policy)
    assert set(settlement.cases["scheme_version"].astype(str)) == {NATIONAL}   # the stays grouped again say so
    settled_year = province.cases.loc[province.cases["year"] == SETTLE_YEAR, "drg"].astype(str)
    assert settlement.cases["drg"].astype(str).tolist() == settled_year.tolist()   # synth's groups are the grouper's


def test_stays_without_version_information_are_taken_as_the_policys(national):
    province, _, _ = national
    plain = _with_versions(province, NATIONAL).cases.drop(columns="scheme_version")   # a DataFrame: no record
    prepared = prepare_province(plain, _policy(scheme_version=NATIONAL))
    assert prepared.grouping.scheme.name == NATIONAL and prepared.grouping.recorded_version == ""
    assert prepared.current["drg"].astype(str).tolist() == \
        province.cases.loc[province.cases["year"] == SETTLE_YEAR, "drg"].astype(str).tolist()


def test_a_scheme_argument_must_be_the_policys_version(national):
    _, parquet, _ = national
    with pytest.raises(UsageError, match=r"the scheme given \(scheme\) is not the policy's scheme version "
                                         r"chs-drg-1.1 \(points.scheme_version\)"):
        settle_province(parquet, _policy(scheme_version=NATIONAL), scheme=DEMO_SCHEME)
    for same in (NATIONAL, load_scheme(NATIONAL)):   # the version by name, or loaded
        assert prepare_province(parquet, _policy(scheme_version=NATIONAL), scheme=same).grouping.scheme.name == NATIONAL


def test_drgdip_group_output_settles_under_the_version_it_names(national, tmp_path, capsys):
    """``drgdip group`` writes the version into every row; settlement reads it from there."""
    province, _, _ = national
    cases = province.cases.drop(columns=["status", "mdc", "adrg", "drg"])
    cases.to_parquet(tmp_path / "cases.parquet", index=False)
    for scheme, name in ((NATIONAL, "national.parquet"), (str(DEMO_SCHEME), "demo.parquet")):
        assert main(["group", "--scheme", scheme, "--input", str(tmp_path / "cases.parquet"), "--output",
                     str(tmp_path / name), "--keep-input-columns"]) == 0
    capsys.readouterr()
    assert set(pd.read_parquet(tmp_path / "national.parquet")["scheme_version"]) == {NATIONAL}
    settled = settle_province(tmp_path / "national.parquet", _policy(scheme_version=NATIONAL))
    assert settled.cases["drg"].astype(str).tolist() == \
        province.cases.loc[province.cases["year"] == SETTLE_YEAR, "drg"].astype(str).tolist()
    with pytest.raises(UsageError, match=r"scheme \(3,000\), as their scheme_version column says"):
        settle_province(tmp_path / "demo.parquet", _policy(scheme_version=NATIONAL))


def test_an_unknown_scheme_name_is_a_usage_error(national, tmp_path, capsys):
    _, parquet, _ = national
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump({"points": {"scheme": "drg_points"}}), encoding="utf-8")
    assert main(["settle", "--policy", str(policy_file), "--input", str(parquet), "--scheme", "chs-drg-9",
                 "--output", str(tmp_path / "o"), "--no-excel"]) == 2
    err = capsys.readouterr().err
    assert "field 'scheme': invalid scheme: chs-drg-9: neither a scheme directory nor a built-in scheme" in err
    assert "Traceback" not in err
