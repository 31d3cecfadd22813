"""The scheme versions shipped with the package (built-in schemes), packed for a fast load.

Each built-in is a folder ``data/schemes/<name>/`` (installed as ``drgdip/data/schemes/<name>``) with
the version's README and licence as published with its tables, and ``tables.json``: for every table
of the version folder it was packed from (``chs-drg-1.1``, ``regional/qingdao-2023``, ...) the Parquet
file holding it, and the SHA-256 and size of the CSV file. The Parquet files sit in a shared pool
``data/schemes/_tables/`` named by that hash, so a table several versions share (diagnosis names,
code maps) is stored once. A Parquet file holds the table exactly as the loader reads the CSV
(every column text, empty cells as ``""``), so a built-in loads into the same scheme, fingerprint
included, as its folder: :func:`drgdip.grouper.load_scheme` validates and compiles both alike.

``scripts/pack_schemes.py`` writes the packed folders from the version folders.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Iterable, NamedTuple

import pandas as pd

from drgdip.core.resources import data_dir

__all__ = ["MANIFEST", "POOL", "SchemeTable", "builtin_names", "builtin_dir", "builtin_schemes", "read_packed",
           "schemes_dir"]

MANIFEST = "tables.json"   # marks a packed scheme folder
POOL = "_tables"           # the shared pool of Parquet files, by the SHA-256 of their CSV


class SchemeTable(NamedTuple):
    """One scheme table as the loader reads it: all text, and the hash and size of its CSV bytes."""

    frame: pd.DataFrame
    sha256: str
    size: int


def schemes_dir() -> Path:
    """The folder of the built-in schemes (``data/schemes``)."""
    return data_dir() / "schemes"


@lru_cache(maxsize=1)
def _manifests() -> dict[str, dict]:
    """The manifest of every built-in scheme by name: national versions first, then by name."""
    found = {}
    root = schemes_dir()
    for manifest in sorted(root.glob(f"*/{MANIFEST}")) if root.is_dir() else ():
        found[manifest.parent.name] = json.loads(manifest.read_text(encoding="utf-8"))
    return dict(sorted(found.items(), key=lambda item: ("/" in item[1].get("folder", ""), item[0])))


def builtin_names() -> tuple[str, ...]:
    """The names of the built-in schemes (``chs-drg-1.0``, ``chs-drg-1.1``, ``beijing-2022``, ...)."""
    return tuple(_manifests())


def builtin_dir(name: str) -> Path | None:
    """The packed folder of the built-in scheme ``name``, None if there is none of that name."""
    return schemes_dir() / name if name in _manifests() else None


def builtin_schemes() -> pd.DataFrame:
    """One row per built-in scheme: name, title, MDC / ADRG / DRG counts, source and licence."""
    rows = [{"name": name, "title": m["title"], "mdcs": m["counts"]["mdc"], "adrgs": m["counts"]["adrg"],
             "drgs": m["counts"]["drg"], "source": m["source"], "licence": m["licence"]}
            for name, m in _manifests().items()]
    return pd.DataFrame(rows, columns=["name", "title", "mdcs", "adrgs", "drgs", "source", "licence"])


def read_packed(folder: Path, stems: Iterable[str]) -> dict[str, SchemeTable] | None:
    """The tables ``stems`` that the packed scheme ``folder`` holds; None if ``folder`` is not packed."""
    manifest = Path(folder) / MANIFEST
    if not manifest.is_file():
        return None
    import pyarrow.parquet as pq

    entries = json.loads(manifest.read_text(encoding="utf-8"))["tables"]
    pool = Path(folder).parent / POOL
    tables = {}
    for stem in stems:
        entry = entries.get(stem)
        if entry is not None:
            frame = pq.read_table(pool / entry["file"]).to_pandas()
            tables[stem] = SchemeTable(frame, entry["sha256"], int(entry["bytes"]))
    return tables
