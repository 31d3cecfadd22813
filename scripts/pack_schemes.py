"""Pack the scheme version folders of ``../shared`` into the package's built-in schemes (``data/schemes``).

Usage (from the repository root)::

    python scripts/pack_schemes.py [--shared ../shared] [--output data/schemes]

Every folder of ``--shared`` that holds a scheme (``chs-drg-1.1/``, ``chs-drg-1.0/``,
``regional/<name>/``: a folder with ``mdc.csv``) becomes the built-in scheme named after the folder.
Its CSV tables, except the test corpus ``cases_public.csv``, are stored as Parquet files (every column
text, exactly as the scheme loader reads the CSV; zstd) in the shared pool ``_tables/``, named by the
SHA-256 of the CSV, so that a table several versions share is stored once; every other file (README,
licence, rules) is copied as it is. ``tables.json`` lists the tables with the hash and size of each CSV
(the scheme fingerprint is made of them), the source the version's README names and the MDC / ADRG / DRG
counts of the scheme the packed folder loads into (so each version must load). The output folder is written anew; ``tests/test_builtin_schemes.py`` checks that it
equals the shared folders.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from drgdip.grouper.builtin import MANIFEST, POOL
from drgdip.grouper.scheme import SchemeError, load_scheme, read_table_csv

REPO = Path(__file__).resolve().parents[1]
CORPUS = "cases_public.csv"
INTRO = """# Built-in grouping schemes

Each folder here is a scheme version shipped with drgdip, packed by `scripts/pack_schemes.py` from the
version folders of the shared scheme tables: `tables.json` lists its tables (stored as Parquet in
`_tables/`, shared between versions, each named by the SHA-256 of the CSV it was packed from), and the
folder keeps the version's README and the licence of its source as published with the tables. The test
corpora (`cases_public.csv`) the READMEs describe are not shipped. `drgdip schemes` lists the versions;
`--scheme <name>` groups with one.
"""


def scheme_folders(shared: Path) -> list[Path]:
    """The version folders under ``shared`` (those holding ``mdc.csv``), one or two levels down."""
    return sorted({p.parent for pattern in ("*/mdc.csv", "*/*/mdc.csv") for p in shared.glob(pattern)})


def source_of(readme: str, folder: Path) -> tuple[str, str, str]:
    """(title, source, licence) as the version's README gives them."""
    title = readme.splitlines()[0].lstrip("# ").split(" — ")[0].strip()
    found = re.search(r"derived from\s+\*\*(?P<repo>[^*]+)\*\*.*?commit\s+`(?P<commit>[0-9a-f]+)`.*?"
                      r"folder\s+`(?P<folder>[^`]+)`", readme, flags=re.DOTALL)
    licence = re.search(r"licensed under the\s+(Apache License 2\.0)", readme)
    if not title or found is None or licence is None:
        raise SystemExit(f"{folder / 'README.md'}: names no source repository, commit, folder and licence")
    source = f"{found['repo']} {found['folder']} (commit {found['commit'][:12]})"
    return title, source, "Apache-2.0"


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` (all text) as Parquet with plain string columns, read back as the same frame."""
    table = pa.table({column: pa.array(frame[column].to_numpy(dtype=object), pa.string()) for column in frame.columns})
    pq.write_table(table, path, compression="zstd", compression_level=19)
    back = pq.read_table(path).to_pandas()
    pd.testing.assert_frame_equal(back, frame)


def pack_folder(folder: Path, shared: Path, output: Path) -> dict:
    """Pack one version folder into ``output/<name>``; returns its manifest."""
    target = output / folder.name
    if target.exists():
        raise SystemExit(f"two version folders are named {folder.name}")
    target.mkdir()
    tables = {}
    for file in sorted(folder.iterdir()):
        if not file.is_file() or file.name == CORPUS:
            continue
        if file.suffix != ".csv":
            shutil.copyfile(file, target / file.name)
            continue
        content = file.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        frame = read_table_csv(content, file.name)
        pooled = output / POOL / f"{digest}.parquet"
        if not pooled.exists():
            write_parquet(frame, pooled)
        tables[file.stem] = {"file": pooled.name, "sha256": digest, "bytes": len(content), "rows": len(frame)}
    title, source, licence = source_of((folder / "README.md").read_text(encoding="utf-8"), folder)
    manifest = {"name": folder.name, "title": title, "folder": folder.relative_to(shared).as_posix(),
                "source": source, "licence": licence, "counts": {}, "tables": tables}
    (target / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    try:
        scheme = load_scheme(target)
    except SchemeError as error:
        raise SystemExit(f"{folder}: the scheme loader rejects this version: {error}") from None
    manifest["counts"] = {"mdc": len(scheme.mdc_codes), "adrg": len(set(scheme.adrg_codes)),
                          "drg": len(scheme.drg_codes)}
    (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return manifest


def pack(shared: Path, output: Path) -> list[dict]:
    """Write ``output`` anew from the version folders of ``shared``."""
    folders = scheme_folders(shared)
    if not folders:
        raise SystemExit(f"no scheme folders (with mdc.csv) under {shared}")
    if output.exists():
        shutil.rmtree(output)
    (output / POOL).mkdir(parents=True)
    (output / "README.md").write_text(INTRO, encoding="utf-8")
    return [pack_folder(folder, shared, output) for folder in folders]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared scheme tables")
    parser.add_argument("--output", type=Path, default=REPO / "data" / "schemes", help="the built-in schemes folder")
    args = parser.parse_args(argv)
    manifests = pack(args.shared, args.output)
    size = sum(f.stat().st_size for f in args.output.rglob("*") if f.is_file())
    for m in manifests:
        print(f"{m['name']:<16} {m['counts']['mdc']:>3} MDCs {m['counts']['adrg']:>4} ADRGs "
              f"{m['counts']['drg']:>4} DRGs  {len(m['tables'])} tables  {m['source']}")
    print(f"{len(manifests)} schemes, {len(list((args.output / POOL).iterdir()))} distinct tables, "
          f"{size / 1e6:.1f} MB in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
