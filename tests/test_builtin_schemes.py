"""The built-in scheme versions (``data/schemes``): the packed tables are the shared version folders' tables,
a built-in loads into the same scheme as its folder, and ``--scheme`` and ``drgdip schemes`` take them by name."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from drgdip.cli import main
from drgdip.grouper import SchemeError, load_scheme
from drgdip.grouper.builtin import MANIFEST, POOL, builtin_dir, builtin_names, builtin_schemes, schemes_dir
from drgdip.grouper.scheme import read_table_csv
from tests.conftest import PUBLIC_CORPUS, REPO

SHARED = REPO.parent / "shared"
CORPUS = "cases_public.csv"


def _version_folders() -> dict[str, Path]:
    """The scheme version folders of ../shared by name (the folders holding mdc.csv)."""
    folders = sorted({p.parent for pattern in ("*/mdc.csv", "*/*/mdc.csv") for p in SHARED.glob(pattern)})
    assert folders, f"no scheme version folders under {SHARED}"
    return {folder.name: folder for folder in folders}


VERSIONS = _version_folders()


def test_every_shared_version_is_built_in_and_nothing_else():
    assert sorted(builtin_names()) == sorted(VERSIONS)
    assert builtin_names()[:2] == ("chs-drg-1.0", "chs-drg-1.1")   # the national versions first


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_the_packed_tables_are_the_shared_folders_tables(name):
    """Every file of the version folder but the corpus: CSV tables equal as read, the others byte for byte."""
    folder, packed = VERSIONS[name], builtin_dir(name)
    manifest = json.loads((packed / MANIFEST).read_text(encoding="utf-8"))
    files = {f.name for f in folder.iterdir() if f.is_file() and f.name != CORPUS}
    assert {f"{stem}.csv" for stem in manifest["tables"]} == {f for f in files if f.endswith(".csv")}
    assert {f.name for f in packed.iterdir()} - {MANIFEST} == {f for f in files if not f.endswith(".csv")}
    assert {"README.md", "LICENSE-OpenDRG-Apache-2.0.txt"} <= files
    for file in sorted(files):
        content = (folder / file).read_bytes()
        if not file.endswith(".csv"):
            assert (packed / file).read_bytes() == content, file
            continue
        entry = manifest["tables"][file[:-4]]
        assert entry["sha256"] == hashlib.sha256(content).hexdigest() and entry["bytes"] == len(content), file
        stored = pq.read_table(schemes_dir() / POOL / entry["file"]).to_pandas()
        pd.testing.assert_frame_equal(stored, read_table_csv(content, file), obj=file)


def test_the_pool_holds_only_tables_some_version_uses():
    used = {entry["file"] for name in builtin_names()
            for entry in json.loads((builtin_dir(name) / MANIFEST).read_text(encoding="utf-8"))["tables"].values()}
    assert {f.name for f in (schemes_dir() / POOL).iterdir()} == used


def _assert_same_scheme(got, expected) -> None:
    assert got.fingerprint == expected.fingerprint != ""
    assert got.tables.keys() == expected.tables.keys()
    for stem in expected.tables:
        pd.testing.assert_frame_equal(got.tables[stem], expected.tables[stem], obj=stem)
    for name in expected.compiled._fields:
        assert np.array_equal(getattr(got.compiled, name), getattr(expected.compiled, name)), name
    for name in ("mdc_codes", "adrg_codes", "drg_codes", "drg_adrg", "adrg_mdc", "qy_codes"):
        assert np.array_equal(getattr(got, name), getattr(expected, name)), name
    assert got.dx_codes.equals(expected.dx_codes) and got.proc_codes.equals(expected.proc_codes)
    for table in ("dx_table", "proc_table"):
        for part, other in zip(getattr(got, table), getattr(expected, table)):
            assert np.array_equal(part, other), table
    assert (got.trauma_regions, got.proc_group_names) == (expected.trauma_regions, expected.proc_group_names)
    assert got.name == expected.name


# the national versions and one with a parameter table (scheme.csv): the tables are read from Parquet the
# same way for every version, and the test above shows every packed table equal to its CSV
@pytest.mark.parametrize("name", ["chs-drg-1.1", "chs-drg-1.0", "guangxi-2022"])
def test_a_built_in_loads_into_the_same_scheme_as_its_folder(name):
    assert (VERSIONS[name] / "scheme.csv").is_file() == (name == "guangxi-2022")
    _assert_same_scheme(load_scheme(name), load_scheme(VERSIONS[name]))


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_every_built_in_loads_with_the_counts_drgdip_schemes_lists(name):
    scheme = load_scheme(name)
    listed = builtin_schemes().set_index("name").loc[name, ["mdcs", "adrgs", "drgs"]].tolist()
    assert listed == [len(scheme.mdc_codes), len(set(scheme.adrg_codes)), len(scheme.drg_codes)]


def test_a_built_in_groups_the_public_corpus_like_its_folder(national_scheme, public_corpus):
    from drgdip.grouper import group_cases

    cases = public_corpus.head(5_000)
    got, expected = group_cases(cases, load_scheme("chs-drg-1.1")), group_cases(cases, national_scheme)
    for column in ("status", "mdc", "adrg", "drg"):
        assert got[column].astype(str).tolist() == expected[column].astype(str).tolist()


def test_an_unknown_name_lists_the_built_ins_and_a_folder_wins_over_a_name(tmp_path, monkeypatch):
    with pytest.raises(SchemeError) as error:
        load_scheme("chs-drg-9")
    assert "chs-drg-9: neither a scheme directory nor a built-in scheme (built-in: chs-drg-1.0, chs-drg-1.1," \
        in str(error.value)
    monkeypatch.chdir(tmp_path)
    os.symlink(REPO / "data" / "demo" / "scheme", tmp_path / "chs-drg-1.1")
    assert len(load_scheme("chs-drg-1.1").drg_codes) == len(load_scheme(REPO / "data" / "demo" / "scheme").drg_codes)


def test_drgdip_schemes_lists_every_version_with_its_counts_and_source(capsys):
    assert main(["schemes"]) == 0
    out = capsys.readouterr().out.splitlines()
    table = builtin_schemes()
    assert out[0].split()[:5] == ["name", "MDCs", "ADRGs", "DRGs", "source"]
    for line, row in zip(out[1:], table.itertuples(index=False)):
        assert line.split()[:4] == [row.name, str(row.mdcs), str(row.adrgs), str(row.drgs)]
        assert "OpenDRG/DRG_Python drg_group/" in line and "Apache-2.0" in line
    assert table.set_index("name").loc["chs-drg-1.1", ["mdcs", "adrgs", "drgs"]].tolist() == [26, 376, 628]
    assert out[-1].startswith(f"{len(table)} built-in versions")


@pytest.mark.parametrize("command", ["group", "explain"])
def test_grouping_commands_take_a_built_in_name(command, tmp_path, capsys):
    if command == "group":
        output = tmp_path / "grouped.csv"
        assert main(["group", "--scheme", "chs-drg-1.1", "--input", str(PUBLIC_CORPUS), "--output", str(output)]) == 0
        got = pd.read_csv(output, dtype=str, keep_default_na=False)
        expected = pd.read_csv(PUBLIC_CORPUS, dtype=str, keep_default_na=False)
        assert got["drg"].tolist() == expected["exp_drg"].tolist()
        assert set(got["scheme_version"]) == {"chs-drg-1.1"}
    else:
        assert main(["explain", "--scheme", "chs-drg-1.1", "--case", "gender=1; age=45; dx=K35.800; proc=47.0100"]) == 0
        assert "drg" in capsys.readouterr().out.lower()
    assert main([command, "--scheme", "chs-drg-9", "--input", str(PUBLIC_CORPUS), "--output",
                 str(tmp_path / "x.csv")] if command == "group" else
                [command, "--scheme", "chs-drg-9", "--case", "gender=1; age=45; dx=K35.800"]) == 2
    assert "chs-drg-9: neither a scheme directory nor a built-in scheme" in capsys.readouterr().err
