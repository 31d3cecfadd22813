"""``drgdip settle`` and ``drgdip price`` with a city's published table: by built-in name, as the published file
(detected or named by ``--weights-format``) or through a city policy's ``points.published_table``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drgdip.budget import load_policy, settle_province
from drgdip.cli import main
from drgdip.core.errors import ConfigError
from drgdip.budget import policy_from_mapping
from drgdip.pointvalue.published import price_stays, published_table_path, read_published_table

REPO = Path(__file__).resolve().parents[1]
SHARED_PAYMENT = REPO.parent / "shared" / "payment"
QINGDAO_POLICY = REPO / "data" / "policies" / "cities" / "qingdao_drg_2023.yaml"


@pytest.fixture(scope="module")
def city_province(tmp_path_factory):
    """A province synthesized under a city's own (built-in) scheme version, written once per version."""
    from drgdip.core.province import write_province
    from drgdip.synth.province import generate_province

    written = {}

    def province_of(version: str) -> Path:
        if version not in written:
            province = generate_province(version, cases=1500, years=(2024, 2025), hospitals=6, regions=1, seed=3)
            # the city policies name their table's year (2023); the tests settle 2025 (--year)
            written[version] = tmp_path_factory.mktemp(version)
            write_province(province, written[version])
        return written[version]

    return province_of


@pytest.fixture(scope="module")
def province_dir(city_province):
    return city_province("qingdao-2023")


def _base_points_by_group(cases: pd.DataFrame) -> pd.Series:
    grouped = cases[cases["outlier_class"] != "ungrouped"]
    return grouped.groupby(grouped["drg"].astype(str))["base_points"].first()


def test_a_city_policy_settles_with_its_published_weights(province_dir, tmp_path, capsys):
    policy = load_policy(QINGDAO_POLICY)
    settlement = settle_province(province_dir, policy, year=2025)   # grouped under the policy's scheme_version
    rw = read_published_table("qingdao-2023").frame.set_index("group")["rw"]
    base = _base_points_by_group(settlement.cases)
    assert len(base) > 10
    np.testing.assert_allclose(base.to_numpy(), rw[base.index].to_numpy() * 100, rtol=1e-12)
    assert settlement.pools["budget_point_value"].iloc[0] == 120.0

    # the same table given on the command line, as the city's file (auto-detected) and by name
    for weights, extra in ((SHARED_PAYMENT / "青岛2023.csv", []), ("qingdao-2023", ["--weights-format", "published"])):
        out = tmp_path / f"out-{len(extra)}"
        status = main(["settle", "--policy", str(QINGDAO_POLICY), "--input", str(province_dir), "--output", str(out),
                       "--year", "2025", "--weights", str(weights), "--no-excel", *extra])
        assert status == 0, capsys.readouterr().err
        cases = pd.read_parquet(out / "cases.parquet")
        pd.testing.assert_series_equal(_base_points_by_group(cases), base)


def test_published_weights_need_their_reading(province_dir, tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["settle", "--policy", str(QINGDAO_POLICY), "--input", str(province_dir), "--output", str(out),
                   "--year", "2025", "--weights", str(published_table_path("qingdao-2023")),
                   "--weights-format", "engine"])
    assert status == 2
    assert "no group column" in capsys.readouterr().err
    status = main(["settle", "--policy", str(QINGDAO_POLICY), "--input", str(province_dir), "--output", str(out),
                   "--year", "2025", "--weights", "qingdao-2032"])
    assert status == 2
    assert "qingdao-2032" in capsys.readouterr().err


def test_the_policy_key_is_validated(tmp_path):
    data = {"points": {"published_table": {"table": "qingdao-2032"}}}
    with pytest.raises(ConfigError, match=r"points\.published_table\.table: unknown published table 'qingdao-2032' "
                                          r"\(did you mean qingdao-2023\?\)"):
        policy_from_mapping(data, file="p.yaml")
    with pytest.raises(ConfigError, match=r"points\.published_table\.table: is required"):
        policy_from_mapping({"points": {"published_table": {"base_rate": 9000}}})
    with pytest.raises(ConfigError, match=r"points\.published_table\.base_rate_by_insurance\.farmer"):
        policy_from_mapping({"points": {"published_table": {"table": "wuhan-2022",
                                                            "base_rate_by_insurance": {"farmer": 1.0}}}})
    with pytest.raises(ConfigError, match=r"points\.published_table\.method"):
        policy_from_mapping({"points": {"published_table": {"table": "wuhan-2022", "method": "fixed"}}})


def test_drgdip_price(tmp_path, capsys):
    cases = pd.DataFrame({"case_id": ["a", "b", "c", "d"], "drg": ["ES31", "ES31", "XX99", ""],
                          "hospital_level": [3, 2, 1, 1]})
    source = tmp_path / "cases.csv"
    cases.to_csv(source, index=False)
    out = tmp_path / "prices.csv"
    assert main(["price", "--policy", str(QINGDAO_POLICY), "--input", str(source), "--output", str(out)]) == 0
    said = capsys.readouterr().out
    assert "qingdao-2023: 2 of 4 stays priced, 24,014.27 yuan; not priced: ungrouped 1, not_in_table 1" in said
    prices = pd.read_csv(out, dtype={"case_id": str}, keep_default_na=False)
    assert prices["case_id"].tolist() == ["a", "b", "c", "d"]
    assert prices["price"].iloc[:2].astype(float).tolist() == [13341.25995, 10673.00796]   # 青岛2023.csv, ES31
    assert prices["unpriced_reason"].tolist() == ["", "", "not_in_table", "ungrouped"]
    assert main(["price", "--table", str(SHARED_PAYMENT / "北京2022.csv"), "--input", str(source), "--output",
                 str(out)]) == 0
    assert pd.read_csv(out)["price"].iloc[0] == 26146   # one standard at every level
    assert main(["price", "--policy", str(REPO / "data" / "policies" / "hainan_province_2025.yaml"), "--input",
                 str(source), "--output", str(out)]) == 2
    assert "names no published table" in capsys.readouterr().err


def test_a_policy_names_a_table_file_beside_it(tmp_path, capsys):
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "city.csv").write_bytes(published_table_path("fuzhou-2022").read_bytes())
    policy = tmp_path / "policy.yaml"
    policy.write_text("points:\n  published_table: {table: tables/city.csv, base_rate: 10000}\n", encoding="utf-8")
    source = tmp_path / "cases.csv"
    pd.DataFrame({"drg": ["BR25"], "hospital_level": [2]}).to_csv(source, index=False)
    out = tmp_path / "prices.csv"
    assert main(["price", "--policy", str(policy), "--input", str(source), "--output", str(out)]) == 0
    assert pd.read_csv(out)["price"].iloc[0] == pytest.approx(0.6923 * 10000)   # no level coefficients: 1
    assert "city: 1 of 1 stays priced" in capsys.readouterr().out


def test_drgdip_points_takes_a_published_table(tmp_path, capsys):
    cases = tmp_path / "cases.csv"
    pd.DataFrame({"case_id": ["a", "b"], "drg": ["ES31", "BR25"], "status": ["ok", "ok"], "hospital_id": ["H1", "H1"],
                  "hospital_level": [3, 3], "total_cost": [12000.0, 5000.0]}).to_csv(cases, index=False)
    policy = tmp_path / "policy.yaml"
    policy.write_text("points:\n  scheme: drg_rate\n  outliers: {outlier_reference: standard}\n", encoding="utf-8")
    out = tmp_path / "points.csv"
    assert main(["points", "--input", str(cases), "--weights", "qingdao-2023", "--policy", str(policy),
                 "--output", str(out), "--point-value", "120"]) == 0
    points = pd.read_csv(out)
    # RW × 100 points at 120 yuan a point: Qingdao's tier-3 standard (RW × 12,000) is the reference cost
    np.testing.assert_allclose(points["base_points"], [111.1771662, 64.7770304], rtol=1e-12)
    np.testing.assert_allclose(points["reference_cost"], [13341.25995, 7773.243645], rtol=1e-8)


@pytest.mark.parametrize("stem", ["qingdao_drg_2023", "yancheng_drg_2023", "yinchuan_drg_2023"])
def test_the_point_pool_pays_the_published_standard(city_province, stem):
    """At the budget point value a normal stay's standard in the pool (base points × coefficient × point
    value) is the price the city publishes: per level (Qingdao), per group and level (Yancheng: RW ×
    rate × the group's coefficient; Yinchuan: standard score × the group's coefficient)."""
    policy = load_policy(REPO / "data" / "policies" / "cities" / f"{stem}.yaml")
    cases = settle_province(city_province(policy.points.scheme_version), policy, year=2025).cases
    rules = policy.points.published_table
    prices = price_stays(cases[["drg", "hospital_level"]], read_published_table(rules.table), rules)
    normal = (cases["outlier_class"] == "normal").to_numpy() & (prices["unpriced_reason"] == "").to_numpy()
    assert normal.sum() > 20
    pool = (cases["base_points"] * cases["applied_hospital_coef"]).to_numpy() * policy.point_value.budget_point_value
    # rtol: Yancheng prints its standards to 6 decimals and its coefficients to 8
    np.testing.assert_allclose(pool[normal], prices["price"].to_numpy()[normal], rtol=1e-7)
    assert policy.points.hospital_coef.by_group_level == {}   # the policy file lists none: the table gives them
