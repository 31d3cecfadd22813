"""Case-mix perturbations for Monte Carlo draws (simulate/casemix.py): exact counts per hospital, whole
stays with unique ids, only the group columns changed by an upshift, dtypes kept, one draw per seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgdip.core.errors import UsageError
from drgdip.core.resources import demo_dip_dir, demo_scheme_dir
from drgdip.grouper import group_dip, load_dip_directory, load_scheme
from drgdip.grouper.dip_directory import DipDirectory
from drgdip.simulate.casemix import REMOTE_TAG, VOLUME_TAG, change_remote, change_volume, perturb, upshift_coding
from drgdip.synth.province import generate_province

HOSPITALS = ("H1", "H2", "H3", "H4")
REGION_OF = {"H1": "370100", "H2": "370100", "H3": "370200", "H4": "370200"}
INSURED = ("370100", "370200", "110100", None)   # 110100 is in another province
# demo DRGs: GB1 splits MCC only, GD1/RE1 CC and MCC, FR3/SU1 do not split
DRGS = ("GB15", "GB11", "GD15", "GD13", "RE15", "RE13", "RE11", "FR25", "FR39", "SU19")


@pytest.fixture(scope="module")
def scheme():
    return load_scheme(demo_scheme_dir())


@pytest.fixture(scope="module")
def drg_codes(scheme):
    return set(scheme.drg_codes)


@pytest.fixture(scope="module")
def province():
    cases = generate_province(demo_scheme_dir(), cases=3000, hospitals=8, regions=3, seed=1).cases
    return cases[cases["year"] == cases["year"].max()].reset_index(drop=True)


@pytest.fixture(scope="module")
def dip_directory():
    return load_dip_directory(demo_dip_dir())


@pytest.fixture(scope="module")
def dip_province(province, dip_directory):
    return pd.concat([province, group_dip(province, dip_directory)], axis=1)


def small_frame(case_numbers, hospitals, insured, drgs, status_ok):
    """A few grouped stays in the dtypes a province has (string ids, categorical groups)."""
    adrg = [d[:3] for d in drgs]
    return pd.DataFrame({
        "case_id": pd.array([f"C{k:03d}" for k in case_numbers], dtype="str"),
        "hospital_id": pd.array(hospitals, dtype="str"),
        "region": pd.array([REGION_OF[h] for h in hospitals], dtype="str"),
        "insured_region": pd.array(insured, dtype="str"),
        "status": pd.Categorical(["ok" if ok else "no_group" for ok in status_ok], categories=["ok", "no_group"]),
        "adrg": pd.Categorical(adrg, categories=sorted({d[:3] for d in DRGS})),
        "drg": pd.Categorical(drgs, categories=sorted(DRGS)),
        "los": np.arange(len(drgs), dtype=np.int16),
        "total_cost": np.linspace(1000.0, 9000.0, len(drgs)),
    })


@st.composite
def stays(draw):
    n = draw(st.integers(0, 30))

    def column(values):
        return draw(st.lists(st.sampled_from(values), min_size=n, max_size=n))

    return small_frame(draw(st.permutations(range(n))), column(HOSPITALS), column(INSURED), column(DRGS),
                       column((True, True, True, False)))


# shares on halves too, where the count rounds half to even
shares = st.dictionaries(st.sampled_from(HOSPITALS), st.one_of(
    st.floats(-1.5, 2.5, width=32), st.sampled_from([-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0])))
upshift_shares = st.dictionaries(st.sampled_from(HOSPITALS), st.one_of(
    st.floats(0, 1, width=32), st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])))


def is_remote(frame: pd.DataFrame) -> pd.Series:
    insured = frame["insured_region"].astype(object)
    region = frame["region"].astype(object)
    return insured.notna() & (insured != region) & (insured.str[:2] == region.str[:2])


def source_id(case_id: pd.Series, tag: str) -> pd.Series:
    return case_id.astype(object).str.rsplit(tag, n=1).str[0]


def wanted(share: float, n: int) -> int:
    """Stays added (> 0) or removed (< 0): round(|share| × n), never more than n removed."""
    count = round(abs(share) * n)
    return count if share > 0 else -min(count, n)


def assert_same_stay(copies: pd.DataFrame, sources: pd.DataFrame) -> None:
    """Copies equal their sources in every column but case_id."""
    rest = [c for c in copies.columns if c != "case_id"]
    pd.testing.assert_frame_equal(copies[rest].reset_index(drop=True), sources[rest].reset_index(drop=True))


# ---------------------------------------------------------------- volume


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=stays(), growth=shares, seed=st.integers(0, 2 ** 32 - 1))
def test_volume_counts_per_hospital(frame, growth, seed):
    out = change_volume(frame, pd.Series(growth, dtype=float), rng=np.random.default_rng(seed))
    before = frame["hospital_id"].value_counts()
    after = out["hospital_id"].value_counts()
    for hospital in HOSPITALS:
        n = int(before.get(hospital, 0))
        assert int(after.get(hospital, 0)) == n + wanted(growth.get(hospital, 0.0), n)
    assert out["case_id"].is_unique
    copies = out[out["case_id"].str.contains(VOLUME_TAG, regex=False)]
    originals = out[~out["case_id"].str.contains(VOLUME_TAG, regex=False)]
    assert set(originals["case_id"]) <= set(frame["case_id"])
    assert len(originals) + len(copies) == len(out)
    by_id = frame.set_index(frame["case_id"].astype(object))
    assert_same_stay(copies, by_id.loc[source_id(copies["case_id"], VOLUME_TAG)])
    for hospital, group in copies.groupby("hospital_id"):
        n = int(before[hospital])
        sources = source_id(group["case_id"], VOLUME_TAG)
        if len(group) <= n:                       # without replacement when the hospital has enough stays
            assert sources.is_unique
    # originals keep their order, copies come after them grouped by hospital in sorted order
    assert list(originals.index) == list(range(len(originals)))
    assert list(copies["hospital_id"]) == sorted(copies["hospital_id"])
    kept = frame[frame["case_id"].isin(originals["case_id"])]
    assert list(originals["case_id"]) == list(kept["case_id"])


def test_growth_above_one_draws_with_replacement(province):
    one = province["hospital_id"].iloc[0]
    n = int((province["hospital_id"] == one).sum())
    out = change_volume(province, pd.Series({one: 2.5}), rng=np.random.default_rng(3))
    copies = out.iloc[len(province):]
    assert len(copies) == round(2.5 * n) and (copies["hospital_id"] == one).all()
    sources = source_id(copies["case_id"], VOLUME_TAG)
    assert not sources.is_unique                  # some stays copied more than once, as <id>~v1, <id>~v2, ...
    numbers = copies["case_id"].str.rsplit(VOLUME_TAG, n=1).str[1].astype(int)
    for _, k in numbers.groupby(sources.to_numpy()):
        assert sorted(k) == list(range(1, len(k) + 1))
    assert out["case_id"].is_unique


def test_shares_per_hospital_in_any_order_or_kind_give_the_same_draw(province):
    hospitals = np.sort(province["hospital_id"].astype(str).unique())
    growth = pd.Series(np.linspace(-0.3, 0.6, len(hospitals)), index=hospitals)
    upshift = pd.Series(np.linspace(0.0, 0.5, len(hospitals)), index=hospitals)
    expected = perturb(province, rng=np.random.default_rng(4), volume_growth=growth, coding_upshift=upshift)
    shuffled = np.random.default_rng(0).permutation(len(hospitals))
    for volume_growth, coding_upshift in ((growth.iloc[shuffled], upshift.iloc[shuffled]),
                                          (growth.to_dict(), upshift.astype(object))):
        out = perturb(province, rng=np.random.default_rng(4), volume_growth=volume_growth,
                      coding_upshift=coding_upshift)
        pd.testing.assert_frame_equal(out, expected)
    with pytest.raises(UsageError, match="volume_growth of .* expected a finite number"):
        perturb(province, rng=np.random.default_rng(4), volume_growth=growth.where(growth.index != hospitals[1]))


def test_negative_growth_never_removes_more_than_a_hospital_has(province):
    out = change_volume(province, -3.0, rng=np.random.default_rng(0))
    assert len(out) == 0 and list(out.columns) == list(province.columns)
    assert out.dtypes.equals(province.dtypes)


# ---------------------------------------------------------------- remote stays


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=stays(), share=shares, seed=st.integers(0, 2 ** 32 - 1))
def test_remote_counts_per_hospital(frame, share, seed):
    out = change_remote(frame, pd.Series(share, dtype=float), rng=np.random.default_rng(seed))
    remote_before = frame[is_remote(frame)]["hospital_id"].value_counts()
    local_before = frame[~is_remote(frame)]["hospital_id"].value_counts()
    remote_after = out[is_remote(out)]["hospital_id"].value_counts()
    local_after = out[~is_remote(out)]["hospital_id"].value_counts()
    for hospital in HOSPITALS:
        n = int(remote_before.get(hospital, 0))
        assert int(remote_after.get(hospital, 0)) == n + wanted(share.get(hospital, 0.0), n)
        assert int(local_after.get(hospital, 0)) == int(local_before.get(hospital, 0))
    assert out["case_id"].is_unique
    copies = out[out["case_id"].str.contains(REMOTE_TAG, regex=False)]
    assert is_remote(copies).all()
    by_id = frame.set_index(frame["case_id"].astype(object))
    assert_same_stay(copies, by_id.loc[source_id(copies["case_id"], REMOTE_TAG)])


def test_remote_share_per_region(province):
    remote = is_remote(province)
    region = province.loc[remote, "region"].iloc[0]
    out = change_remote(province, pd.Series({region: 0.5}), by="region", rng=np.random.default_rng(2))
    copies = out.iloc[len(province):]
    assert (copies["region"] == region).all() and is_remote(copies).all()
    per_hospital = province[remote & (province["region"] == region)]["hospital_id"].value_counts()
    assert copies["hospital_id"].value_counts().sort_index().to_dict() == \
        {h: round(0.5 * n) for h, n in per_hospital.sort_index().items() if round(0.5 * n)}


def test_cross_province_stays_are_not_remote_in_province():
    frame = small_frame([0, 1, 2], ["H1", "H1", "H1"], ["110100", "370200", None], ["GB15"] * 3, [True] * 3)
    out = change_remote(frame, 5.0, rng=np.random.default_rng(0))
    assert list(out["case_id"].iloc[3:]) == [f"C001{REMOTE_TAG}{k}" for k in range(1, 6)]


# ---------------------------------------------------------------- coding upshift


def cc_target(code: str, codes: set) -> str | None:
    if not code.endswith("5"):
        return None
    return next((code[:3] + d for d in "31" if code[:3] + d in codes), None)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=stays(), share=upshift_shares, seed=st.integers(0, 2 ** 32 - 1))
def test_upshift_counts_and_targets(frame, share, seed):
    codes = set(DRGS)
    out = upshift_coding(frame, pd.Series(share, dtype=float), rng=np.random.default_rng(seed), drg_codes=codes)
    assert len(out) == len(frame)
    before, after = frame["drg"].astype(str), out["drg"].astype(str)
    moved = before != after
    pd.testing.assert_frame_equal(out.drop(columns="drg"), frame.drop(columns="drg"))
    assert out["drg"].dtype == frame["drg"].dtype
    for position in np.flatnonzero(moved):
        assert after[position] == cc_target(before[position], codes)
    eligible = pd.Series([cc_target(d, codes) is not None for d in before], dtype=bool) & (frame["status"] == "ok")
    assert not (moved & ~eligible).any()
    for hospital in HOSPITALS:
        here = frame["hospital_id"] == hospital
        assert int(moved[here].sum()) == round(share.get(hospital, 0.0) * int(eligible[here].sum()))


def test_upshift_prefers_the_cc_drg_and_keeps_adrg_mdc_status(province, scheme, drg_codes):
    out = upshift_coding(province, 1.0, rng=np.random.default_rng(0), drg_codes=drg_codes)
    before, after = province["drg"].astype(str), out["drg"].astype(str)
    moved = before != after
    assert moved.any()
    assert (before[moved].str[-1] == "5").all()
    assert set(after[moved]) <= drg_codes
    assert (after[moved].str[:3] == before[moved].str[:3]).all()
    for code in set(before[moved]):
        assert set(after[moved & (before == code)]) == {code[:3] + ("3" if code[:3] + "3" in drg_codes else "1")}
    could_move = pd.Series([cc_target(d, drg_codes) is not None for d in before], dtype=bool)
    assert not (could_move & (province["status"] == "ok") & ~moved).any()
    for column in ("adrg", "mdc", "status"):
        pd.testing.assert_series_equal(out[column], province[column])
    assert out.dtypes.equals(province.dtypes)
    assert list(out["drg"].cat.categories) == list(province["drg"].cat.categories)


def test_upshift_takes_the_scheme_itself(province, scheme, drg_codes):
    by_codes = upshift_coding(province, 0.6, rng=np.random.default_rng(9), drg_codes=drg_codes)
    by_scheme = upshift_coding(province, 0.6, rng=np.random.default_rng(9), drg_codes=scheme)
    pd.testing.assert_frame_equal(by_codes, by_scheme)


def test_upshift_share_outside_zero_one_is_refused(province):
    with pytest.raises(UsageError, match="coding_upshift"):
        upshift_coding(province, 1.5, rng=np.random.default_rng(0))


def test_dip_upshift_moves_to_the_lowest_severity_subtype(dip_province, dip_directory):
    out = upshift_coding(dip_province, 1.0, rng=np.random.default_rng(0), dip=dip_directory)
    before = dip_province["dip_subtype"].astype(object)
    after = out["dip_subtype"].astype(object)
    moved = before.isna() & after.notna()
    aux = dip_directory.aux.set_index(["dip_group", "subtype"])["aux_coef"]
    severe_groups = set(dip_directory.aux.loc[dip_directory.aux["subtype"] == "severe", "dip_group"])
    eligible = dip_province["dip_group"].astype(object).isin(severe_groups) & before.isna() \
        & (dip_province["los"] >= dip_directory.severity_min_los)
    assert moved.sum() == eligible.sum() > 0
    assert (after[moved] == "severe").all()
    expected = [aux[(g, "severe")] for g in dip_province.loc[moved, "dip_group"]]
    np.testing.assert_allclose(out.loc[moved, "dip_aux_coef"], expected)
    changed = [c for c in out.columns if not out[c].equals(dip_province[c])]
    assert set(changed) <= {"dip_subtype", "dip_aux_coef"}
    assert out.dtypes.equals(dip_province.dtypes)


def test_dip_directory_without_severity_subtypes_is_refused(dip_province, dip_directory):
    flat = DipDirectory(groups=dip_directory.groups, proc_attributes=dip_directory.proc_attributes, name="flat")
    with pytest.raises(UsageError, match="no severity subtype"):
        upshift_coding(dip_province, 0.2, rng=np.random.default_rng(0), dip=flat)
    with pytest.raises(UsageError, match="dip_group"):
        upshift_coding(dip_province.drop(columns="dip_group"), 0.2, rng=np.random.default_rng(0),
                       dip=dip_directory)


# ---------------------------------------------------------------- the draw as a whole


def test_perturb_applies_volume_then_remote_then_upshift(province, drg_codes):
    growth = pd.Series({h: 0.3 for h in province["hospital_id"].unique()[:4]})
    out = perturb(province, rng=np.random.default_rng(5), volume_growth=growth, remote_share=0.4,
                  coding_upshift=0.5, drg_codes=drg_codes)
    ids = out["case_id"].astype(object)
    volume = ids.str.contains(VOLUME_TAG, regex=False) & ~ids.str.contains(REMOTE_TAG, regex=False)
    remote = ids.str.contains(REMOTE_TAG, regex=False)
    originals = ~volume & ~remote
    assert out["case_id"].is_unique
    # blocks: originals, then volume copies, then remote copies
    labels = np.select([originals, volume], [0, 1], 2)
    assert (np.diff(labels) >= 0).all()
    n = province["hospital_id"].value_counts()
    expected_volume = {h: round(0.3 * int(n[h])) for h in growth.index}
    assert out.loc[volume, "hospital_id"].value_counts().to_dict() == {h: k for h, k in expected_volume.items() if k}
    # remote copies: round(0.4 × remote stays after the volume change), copies of copies included
    remote_after_volume = out[is_remote(out) & ~remote]["hospital_id"].value_counts()
    expected = {h: round(0.4 * int(k)) for h, k in remote_after_volume.items() if round(0.4 * int(k))}
    assert out.loc[remote, "hospital_id"].value_counts().to_dict() == expected
    assert is_remote(out[remote]).all()
    assert out.dtypes.equals(province.dtypes)


def test_same_seed_same_draw_and_the_rows_order_does_not_matter(province, drg_codes):
    kwargs = {"volume_growth": 0.2, "remote_share": -0.3, "coding_upshift": 0.4, "drg_codes": drg_codes}
    first = perturb(province, rng=np.random.default_rng(11), **kwargs)
    again = perturb(province, rng=np.random.default_rng(11), **kwargs)
    pd.testing.assert_frame_equal(first, again)
    other = perturb(province, rng=np.random.default_rng(12), **kwargs)
    assert not first.equals(other)
    shuffled = province.sample(frac=1.0, random_state=7).reset_index(drop=True)
    from_shuffled = perturb(shuffled, rng=np.random.default_rng(11), **kwargs)
    n_kept = int((~first["case_id"].str.contains("~", regex=False)).sum())
    pd.testing.assert_frame_equal(from_shuffled.iloc[n_kept:].reset_index(drop=True),
                                  first.iloc[n_kept:].reset_index(drop=True))
    by_id = [f.sort_values("case_id").reset_index(drop=True) for f in (from_shuffled, first)]
    pd.testing.assert_frame_equal(*by_id)


def test_zero_perturbation_returns_an_equal_frame_and_draws_nothing(province, drg_codes):
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    for kwargs in ({}, {"volume_growth": 0.0, "remote_share": pd.Series({"nobody": 0.5}), "coding_upshift": 0}):
        out = perturb(province, rng=rng, drg_codes=drg_codes, **kwargs)
        pd.testing.assert_frame_equal(out, province)
    assert rng.bit_generator.state == state


def test_dtypes_of_every_kind_are_kept(province):
    frame = province.copy()
    frame["dept"] = frame["dept"].astype(object)                   # object text
    frame["dx"] = frame["dx"].astype("string[python]")             # nullable string
    frame["hospital_id"] = frame["hospital_id"].astype("category")  # categorical key
    frame["los"] = frame["los"].astype(np.int8)                    # narrow Parquet integers
    frame["tag"] = pd.array([True, False] * (len(frame) // 2) + [True] * (len(frame) % 2), dtype="boolean")
    frame.index = frame.index + 1000
    out = perturb(frame, rng=np.random.default_rng(1), volume_growth=-0.1, remote_share=0.5)
    assert out.dtypes.equals(frame.dtypes)
    assert list(out["hospital_id"].cat.categories) == list(frame["hospital_id"].cat.categories)
    assert isinstance(out.index, pd.RangeIndex) and out["case_id"].is_unique
    same = perturb(frame, rng=np.random.default_rng(1))
    pd.testing.assert_frame_equal(same, frame.reset_index(drop=True))


def test_a_draw_of_a_draw_keeps_ids_unique(province):
    first = change_volume(province, 0.5, rng=np.random.default_rng(1))
    second = change_volume(first, 1.5, rng=np.random.default_rng(2))
    assert second["case_id"].is_unique
    frame = small_frame([0, 1], ["H1", "H1"], [None, None], ["GB15", "GB15"], [True, True])
    frame["case_id"] = pd.array(["A", f"A{VOLUME_TAG}1"], dtype="str")
    out = change_volume(frame, 3.0, rng=np.random.default_rng(0))
    assert out["case_id"].is_unique and len(out) == 8


def test_copies_get_unique_ids_even_when_stays_share_a_case_id():
    frame = small_frame([0, 1, 2], ["H1", "H1", "H1"], [None] * 3, ["GB15"] * 3, [True] * 3)
    frame["case_id"] = pd.array(["A", "A", "B"], dtype="str")
    out = change_volume(frame, 2.0, rng=np.random.default_rng(0))
    assert out["case_id"].iloc[3:].is_unique and len(out) == 9


def test_every_stay_is_equally_likely_to_be_drawn():
    frame = small_frame(range(10), ["H1"] * 6 + ["H2"] * 4, [None] * 10, ["GB15"] * 10, [True] * 10)
    picked, copies = pd.Series(0.0, index=frame["case_id"]), pd.Series(0.0, index=frame["case_id"])
    draws = 200
    for seed in range(draws):
        half = change_volume(frame, 0.5, rng=np.random.default_rng(seed))
        picked[source_id(half["case_id"].iloc[10:], VOLUME_TAG)] += 1
        more = source_id(change_volume(frame, 1.5, rng=np.random.default_rng(seed))["case_id"].iloc[10:], VOLUME_TAG)
        counts = more.value_counts()
        copies[counts.index] += counts.to_numpy()
    np.testing.assert_allclose(picked / draws, 0.5, atol=0.1)     # without replacement: each stay with p = 1/2
    np.testing.assert_allclose(copies / draws, 1.5, atol=0.2)     # with replacement: 1.5 copies per stay on average


def test_only_the_settlement_year_is_perturbed():
    cases = generate_province(demo_scheme_dir(), cases=1500, hospitals=5, regions=2, seed=2).cases
    year = int(cases["year"].max())
    out = perturb(cases, rng=np.random.default_rng(4), volume_growth=-0.5, remote_share=1.0,
                  coding_upshift=1.0, year=year)
    other = cases[cases["year"] != year].reset_index(drop=True)
    pd.testing.assert_frame_equal(out[out["year"] != year].reset_index(drop=True), other)
    settled = cases["year"] == year
    assert (out["year"] == year).sum() != settled.sum()


def test_unusable_shares_and_stays_are_refused(province):
    rng = np.random.default_rng(0)
    one = province["hospital_id"].iloc[0]
    with pytest.raises(UsageError, match="finite"):
        change_volume(province, pd.Series({one: np.nan}), rng=rng)
    with pytest.raises(UsageError, match="hospital_id"):
        change_volume(province.drop(columns="hospital_id"), 0.1, rng=rng)
    with pytest.raises(UsageError, match="insured_region"):
        change_remote(province.drop(columns="insured_region"), 0.1, rng=rng)
    numbered = province.assign(case_id=np.arange(len(province)))
    with pytest.raises(UsageError, match="text ids"):
        change_volume(numbered, 0.1, rng=rng)
    with pytest.raises(UsageError, match="Generator"):
        change_volume(province, 0.1, rng=np.random.RandomState(0))
    with pytest.raises(UsageError, match="row 3"):
        change_volume(province.assign(hospital_id=province["hospital_id"].where(province.index != 2)), 0.1,
                      rng=rng)


def test_each_perturbed_stay_knows_the_input_row_it_comes_from():
    from drgdip.simulate.casemix import perturb_with_sources

    cases = pd.DataFrame({"case_id": [f"c{i}" for i in range(40)], "hospital_id": ["H1", "H2"] * 20,
                          "drg": ["GB15", "GB13"] * 20, "status": "ok", "total_cost": np.arange(40.0)})
    out = perturb_with_sources(cases, rng=np.random.default_rng(3), volume_growth={"H1": 0.3, "H2": -0.2},
                               coding_upshift=0.5, drg_codes={"GB15", "GB13", "GB11"})
    assert out.cases.equals(perturb(cases, rng=np.random.default_rng(3), volume_growth={"H1": 0.3, "H2": -0.2},
                                    coding_upshift=0.5, drg_codes={"GB15", "GB13", "GB11"}))
    source = cases.iloc[out.source].reset_index(drop=True)
    assert (out.cases["total_cost"] == source["total_cost"]).all()
    assert (out.cases["hospital_id"] == source["hospital_id"]).all()
    # the upshifted stays, and only they, have another DRG than their input row
    moved = (out.cases["drg"].astype(str) != source["drg"].astype(str)).to_numpy()
    assert moved.any() and (moved == out.changed).all()
    copies = out.cases["case_id"].astype(str).str.contains("~v").to_numpy()
    assert copies.any() and (out.cases["case_id"][~copies] == source["case_id"][~copies]).all()


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(-5, 60), max_size=80), limit=st.integers(0, 50))
def test_the_order_of_spread_positions_is_the_stable_sort(values, limit):
    from drgdip.simulate._kernels import spread_order

    values = np.asarray(values, dtype=np.int64)
    assert spread_order(values, limit).tolist() == np.argsort(values, kind="stable").tolist()


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_step_draws_among_the_members_left_by_earlier_steps(data):
    """The members of a cell are its candidate rows in case-id order less the removed ones, then the
    live copies of candidates in the order made; a step picks among exactly those."""
    from drgdip.simulate._kernels import cell_lists, step_members, step_picks

    n = data.draw(st.integers(1, 40))
    n_cells = data.draw(st.integers(1, 4))
    cell = np.asarray(data.draw(st.lists(st.integers(0, n_cells - 1), min_size=n, max_size=n)), dtype=np.int32)
    candidate = np.asarray(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    order = np.asarray(data.draw(st.permutations(range(n))), dtype=np.int64)
    removed = np.asarray(sorted(data.draw(st.sets(st.integers(0, n - 1)))), dtype=np.int64)
    removed = np.asarray(data.draw(st.permutations(list(removed))), dtype=np.int64)
    copy_row = np.asarray(data.draw(st.lists(st.integers(0, n - 1), max_size=15)), dtype=np.int64)
    copy_alive = np.asarray(data.draw(st.lists(st.booleans(), min_size=len(copy_row), max_size=len(copy_row))),
                            dtype=bool)
    ptr, items, place, member_cell = cell_lists(candidate, cell, order, n_cells)
    assert member_cell.tolist() == np.where(candidate, cell, -1).tolist()
    hole_ptr, holes, copy_ptr, copies, size = step_members(ptr, place, member_cell, removed, copy_row, copy_alive)
    members = [[(int(row), -1) for row in order if candidate[row] and cell[row] == c and row not in set(removed)]
               + [(int(copy_row[j]), j) for j in range(len(copy_row))
                  if copy_alive[j] and candidate[copy_row[j]] and cell[copy_row[j]] == c] for c in range(n_cells)]
    assert size.tolist() == [len(m) for m in members]

    def picks(wanted):
        uniforms = np.asarray(data.draw(st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=int(wanted.sum()),
                                                 max_size=int(wanted.sum()))), dtype=np.float64)
        rows, copy, cells = step_picks(ptr, items, hole_ptr, holes, copy_ptr, copies, copy_row, size, wanted, uniforms)
        assert (np.diff(cells) >= 0).all() and np.bincount(cells, minlength=n_cells).tolist() == wanted.tolist()
        return [[(int(r), int(j)) for r, j, k in zip(rows, copy, cells) if k == c] for c in range(n_cells)]

    assert picks(size) == members                                    # all of them, in member order
    some = np.asarray([data.draw(st.integers(0, int(k))) for k in size], dtype=np.int64)
    for c, picked in enumerate(picks(some)):                          # without replacement: distinct members
        assert len(set(picked)) == len(picked) and set(picked) <= set(members[c])
        assert picked == sorted(picked, key=members[c].index)
    more = np.where(size > 0, size + np.asarray([data.draw(st.integers(1, 3)) for _ in size]), 0)
    for c, picked in enumerate(picks(more)):                          # with replacement: members, one's copies together
        assert set(picked) <= set(members[c]) and picked == sorted(picked, key=members[c].index)
