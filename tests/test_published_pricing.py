"""Each city whose scheme version is in ``../shared/regional`` prices its public corpus with its published table,
through its shipped policy (``data/policies/cities``): the corpus is grouped with the version's folder, and
every stay's price is checked against the table's row as the file shows it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drgdip.budget import load_policy
from drgdip.grouper import group_cases, load_scheme
from drgdip.pointvalue.published import PRICE_COLUMNS, decode_table, price_stays, read_published_table
from drgdip.pointvalue.rules import PublishedTableRules

REPO = Path(__file__).resolve().parents[1]
REGIONAL = REPO.parent / "shared" / "regional"
CITY_POLICIES = REPO / "data" / "policies" / "cities"
TIER = {3: "三级", 2: "二级", 1: "一级"}
LOCAL_COEF = {3: 1.0, 2: 0.85, 1: 0.7}   # the level coefficients the RW-only cities' policies give (local)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 else None


def _rw_rate(column: str, rate: float, coef=LOCAL_COEF, basic: tuple[str, float] | None = None):
    """RW × base rate × level coefficient, the RW read from ``column``; basic groups (flag column, coef) alike
    at every level."""
    def price(row, level, insurance):
        rw = _number(row[column])
        if rw is None:
            return None
        if basic is not None and row[basic[0]].strip() == "是":
            return rw * rate * basic[1]
        return rw * rate * coef[level]
    return price


def _standard(columns: dict[int, str]):
    """The published standard of the level's column (None where the level has no column)."""
    return lambda row, level, insurance: _number(row[columns[level]]) if level in columns else None


def _taizhou(row, level, insurance):
    if level == 2:
        return _number(row["二级医院支付标准"])
    rw = _number(row["RW"])
    return rw * 9637 * 1.0 if level == 3 and rw is not None else None   # level 1: no coefficient anywhere


def _wuhan(row, level, insurance):
    if level == 2:
        return _number(row["二级医院支付标准（职工）" if insurance == "employee" else "二级医院支付标准（居民）"])
    rw = _number(row["RW"])
    return rw * (10618 if insurance == "employee" else 9800) * {3: 1.15, 1: 0.85}[level] if rw else None


def _yinchuan(row, level, insurance):
    score = _number(row["标准分值"])
    coef = _number(row[{3: "等级系数（三甲）", 2: "等级系数（二级）", 1: "等级系数（一级及基层）"}[level]])
    return score * coef if score and coef else None


# version: (policy file, the price of a table row at a level, by hand, and one worked row)
CITIES = {
    "beijing-2022": ("beijing_drg_2022", _standard({3: "支付标准", 2: "支付标准", 1: "支付标准"}),
                     ("GB25", 1, "resident", 87110)),
    "changsha-2023": ("changsha_drg_2023", _rw_rate("初始权重", 11000, basic=("基础病组", 0.85)),
                      ("BV35", 3, "employee", 0.4422 * 11000 * 0.85)),
    "fuzhou-2022": ("fuzhou_drg_2022", _rw_rate("RW", 10000), ("BR25", 2, "employee", 0.6923 * 10000 * 0.85)),
    "guangxi-2022": ("guangxi_drg_2022", _rw_rate("RW", 7990.242, coef={3: 1.0, 2: 1.0, 1: 1.0}),
                     ("GB25", 1, "employee", 5.2888 * 7990.242)),
    "liaocheng-2022": ("liaocheng_drg_2022", _rw_rate("RW", 9000), ("ES31", 1, "employee", 0.5332 * 9000 * 0.7)),
    "linfen-2022": ("linfen_drg_2022", _rw_rate("RW", 8000), ("ES31", 3, "employee", 0.7846 * 8000)),
    "qingdao-2023": ("qingdao_drg_2023", _standard({3: "支付标准（三级）", 2: "支付标准（二级）", 1: "支付标准（一级）"}),
                     ("ES31", 2, "resident", 10673.00796)),
    "taizhou-2022": ("taizhou_drg_2022", _taizhou, ("ES31", 3, "employee", 1.2129 * 9637)),
    "wlmq-2022": ("wlmq_drg_2022", _rw_rate("RW", 10000), ("GB25", 3, "resident", 5.4487 * 10000)),
    "wuhan-2022": ("wuhan_drg_2022", _wuhan, ("BR25", 3, "resident", 0.2 * 9800 * 1.15)),
    "yancheng-2023": ("yancheng_drg_2023", _standard({3: "三级医院支付标准", 2: "二级医院支付标准"}),
                      ("BR25", 3, "employee", 8289.965939)),
    "yantai-2023": ("yantai_drg_2023", _rw_rate("RW", 9500, basic=("同等费率病组", 1.0)),
                    ("DT19", 2, "employee", 0.2336 * 9500)),
    "yinchuan-2023": ("yinchuan_drg_2023", _yinchuan, ("ES31", 1, "employee", 3105.21 * 0.67219)),
}


def test_every_regional_version_has_a_city_policy():
    assert sorted(p.name for p in REGIONAL.iterdir() if (p / "drg.csv").is_file()) == sorted(CITIES)
    assert sorted(p.stem for p in CITY_POLICIES.glob("*.yaml")) == sorted(f for f, _, _ in CITIES.values())


def _raw_rows(path: Path) -> dict[str, dict[str, str]]:
    """Rows of the published file by code, read with the csv module (codes listed twice left out)."""
    text, _ = decode_table(path.read_bytes(), str(path))
    rows = list(csv.reader(io.StringIO(text)))
    header = [h.strip() for h in rows[0]]
    codes = [row[0].strip() for row in rows[1:] if row]
    twice = {code for code in codes if codes.count(code) > 1}
    return {row[0].strip(): dict(zip(header, row + [""] * (len(header) - len(row)))) for row in rows[1:]
            if row and row[0].strip() not in twice}


@pytest.mark.parametrize("version", sorted(CITIES))
def test_a_city_prices_its_corpus_as_it_publishes(version):
    stem, by_hand, (group, level, insurance, worked) = CITIES[version]
    policy = load_policy(CITY_POLICIES / f"{stem}.yaml")
    rules = policy.points.published_table
    assert rules.table == version
    scheme = load_scheme(REGIONAL / version)
    corpus = pd.read_csv(REGIONAL / version / "cases_public.csv", dtype=str, keep_default_na=False)
    grouped = group_cases(corpus, scheme)
    assert grouped["drg"].fillna("").astype(str).tolist() == corpus["exp_drg"].tolist()

    n = len(corpus)
    levels = np.resize([3, 2, 1], n)
    kinds = np.resize(["employee", "resident"], n)
    stays = pd.DataFrame({"case_id": corpus["case_id"], "drg": grouped["drg"], "hospital_level": levels,
                          "insurance_type": kinds})
    table = read_published_table(rules.table, scheme=scheme)
    prices = price_stays(stays, table, rules)
    assert list(prices.columns) == list(PRICE_COLUMNS) and len(prices) == n

    # codes against the scheme: the published codes the version lacks, and its DRGs the table lacks
    rows = _raw_rows(Path(table.source))
    published = {code.strip() for code in table.frame["group"]}
    scheme_codes = set(pd.read_csv(REGIONAL / version / "drg.csv", dtype=str)["drg"])
    assert set(table.coverage.not_in_scheme) == published - scheme_codes
    assert set(table.coverage.not_in_table) == scheme_codes - published

    # every stay: priced by hand from the file's row, or not priced for a stated reason
    codes = corpus["exp_drg"].to_numpy()
    reason = prices["unpriced_reason"].to_numpy()
    expected = np.full(n, np.nan)
    expected_reason = np.full(n, "priced", dtype=object)
    for i, code in enumerate(codes):
        if code in ("", "0000"):
            expected_reason[i] = "ungrouped"
        elif code not in published:
            expected_reason[i] = "not_in_table"
        else:
            value = by_hand(rows[code], int(levels[i]), kinds[i]) if code in rows else None
            if value is None:
                expected_reason[i] = "any reason"
            else:
                expected[i] = value
    priced = expected_reason == "priced"
    np.testing.assert_array_equal(reason[priced], "")
    np.testing.assert_allclose(prices["price"].to_numpy()[priced], expected[priced], rtol=1e-12)
    named = np.isin(expected_reason, ["ungrouped", "not_in_table"])
    np.testing.assert_array_equal(reason[named], expected_reason[named])
    unpriced = expected_reason == "any reason"
    assert (reason[unpriced] != "").all() and prices["price"][unpriced].isna().all()

    # the worked row of the policy file's comment, priced alone
    one = price_stays(pd.DataFrame({"drg": [group], "hospital_level": [level], "insurance_type": [insurance]}),
                      table, rules)
    assert one["price"].iloc[0] == pytest.approx(worked, rel=1e-12)

    # totals: each stay priced once, at its group's unit price for its tier and insurance type
    priced = prices[prices["unpriced_reason"] == ""]
    assert len(priced) > n // 4 and (priced["price"] > 0).all()
    units = priced.groupby(["group", "tier", "insurance_type"], dropna=False)["price"]
    assert (units.nunique() == 1).all()
    assert priced["price"].sum() == pytest.approx((units.first() * units.size()).sum(), rel=1e-12)
    by_reason = prices["unpriced_reason"].value_counts()
    assert by_reason.sum() == n and by_reason.get("not_in_table", 0) == sum(
        code not in ("", "0000") and code not in published for code in codes)


def test_tiers_named_by_hospital_and_wrong_tiers():
    table = read_published_table("qingdao-2023")
    rules = PublishedTableRules(table="qingdao-2023", tier_of_hospital={"H1": "青医/市立/齐鲁/青医平度"})
    stays = pd.DataFrame({"drg": ["AA19", "AA19", "AA19"], "hospital_level": [3, 3, None],
                          "hospital_id": ["H1", "H2", "H3"]})
    prices = price_stays(stays, table, rules)
    assert prices["price"].iloc[:2].tolist() == [316702.6919, 287911.538]
    assert prices["unpriced_reason"].iloc[2] == "no_tier" and pd.isna(prices["tier"].iloc[2])
    from drgdip.core.errors import ConfigError

    with pytest.raises(ConfigError, match="tier '三甲' is not one qingdao-2023 publishes"):
        price_stays(stays, table, PublishedTableRules(table="qingdao-2023", tier_of_level={3: "三甲"}))
    with pytest.raises(ConfigError, match="did you mean qingdao-2023"):
        PublishedTableRules(table="qingdao-2032")


TABLES_FOR_PROPERTIES = {name: read_published_table(name) for name in ("qingdao-2023", "wuhan-2022", "yinchuan-2023",
                                                                        "lanzhou-2023", "wlmq-2022")}
RULES_FOR_PROPERTIES = {
    "qingdao-2023": PublishedTableRules(table="qingdao-2023"),
    "wuhan-2022": PublishedTableRules(table="wuhan-2022", base_rate_by_insurance={"employee": 10618, "resident": 9800},
                                      level_coefs={"三级": 1.15, "一级": 0.85}),
    "yinchuan-2023": PublishedTableRules(table="yinchuan-2023", tier_of_level={3: "三甲", 1: "一级及基层"}),
    "lanzhou-2023": PublishedTableRules(table="lanzhou-2023", tier_of_level={3: "三甲"}),
    "wlmq-2022": PublishedTableRules(table="wlmq-2022", base_rate=10000, level_coefs={"三级": 1.0, "二级": 0.85}),
}


@settings(max_examples=15, deadline=None)
@given(name=st.sampled_from(sorted(TABLES_FOR_PROPERTIES)), data=st.data())
def test_a_stay_is_priced_alone_as_among_others(name, data):
    """A stay's price depends on its own group, tier and insurance type only: pricing stays together, in any
    order, gives each the price it gets alone (categorical or text codes alike)."""
    table = TABLES_FOR_PROPERTIES[name]
    codes = list(table.frame["group"][:60]) + ["XX99", ""]
    n = data.draw(st.integers(1, 10))
    stays = pd.DataFrame({
        "drg": data.draw(st.lists(st.sampled_from(codes), min_size=n, max_size=n)),
        "hospital_level": data.draw(st.lists(st.sampled_from([1, 2, 3, None]), min_size=n, max_size=n)),
        "insurance_type": data.draw(st.lists(st.sampled_from(["employee", "resident"]), min_size=n, max_size=n)),
    })
    rules = RULES_FOR_PROPERTIES[name]
    together = price_stays(stays.assign(drg=stays["drg"].astype("category")), table, rules)
    for i in range(n):
        alone = price_stays(stays.iloc[[i]], table, rules)
        assert alone["unpriced_reason"].iloc[0] == together["unpriced_reason"].iloc[i]
        np.testing.assert_array_equal(alone["price"].to_numpy(), together["price"].to_numpy()[[i]])
    order = np.asarray(data.draw(st.permutations(range(n))))
    shuffled = price_stays(stays.iloc[order], table, rules)
    np.testing.assert_array_equal(shuffled["price"].to_numpy(), together["price"].to_numpy()[order])
