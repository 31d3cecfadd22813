"""A province on disk and in memory: the tables of its stays, hospitals and outpatient visits.

Directory layout (written by ``drgdip synth``, read by ``drgdip settle`` and ``drgdip simulate``):
``cases``, ``hospitals``, ``outpatient`` and ``day_ward_visits`` as ``.parquet`` (or ``.csv``; ``cases``
may also be a directory of Parquet part files, ``cases/year=2025/part-00000.parquet``, see
:mod:`drgdip.core.datasets`), plus ``province.json`` saying how the province was made and, under
``grouping``, which scheme grouped the ``status``/``mdc``/``adrg``/``drg`` columns of the cases. Only
``cases`` is required. A directory holding none of these (nor ``province.json``) is read as a dataset
of cases.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from drgdip.core.errors import UsageError
from drgdip.core.atomic import write_text_atomic
from drgdip.core.tables import find_table, read_table, write_table

__all__ = ["Province", "TABLE_NAMES", "INFO_FILE", "read_province", "read_province_info", "cases_path",
           "is_province_directory", "write_province"]

TABLE_NAMES = ("cases", "hospitals", "outpatient", "day_ward_visits")
INFO_FILE = "province.json"
FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class Province:
    """The tables of a province (DataFrames; all but ``cases`` may be None).

    ``info`` is the content of ``province.json`` (empty when there is none); ``source`` names the
    cases file (or ``<DataFrame>``) for messages.
    """

    cases: pd.DataFrame = field(repr=False)
    hospitals: pd.DataFrame | None = field(default=None, repr=False)
    outpatient: pd.DataFrame | None = field(default=None, repr=False)
    day_ward_visits: pd.DataFrame | None = field(default=None, repr=False)
    info: dict = field(default_factory=dict, repr=False)
    source: str = "<DataFrame>"

    def __repr__(self) -> str:
        parts = [f"{len(self.cases):,} cases"]
        for name, label in (("hospitals", "hospitals"), ("outpatient", "outpatient visits"),
                            ("day_ward_visits", "day-ward visits")):
            table = getattr(self, name)
            if table is not None:
                parts.append(f"{len(table):,} {label}")
        return f"Province({', '.join(parts)})"


def _computed(source):
    """``source`` with a Dask DataFrame (itself, or its tables) computed into pandas: a province read into
    memory (a preparation for scenarios) is held whole (settling one area by area:
    :mod:`drgdip.budget.on_cluster`)."""
    from drgdip.core.cluster import is_dask_frame
    if is_dask_frame(source):
        return source.compute()
    if isinstance(source, Mapping) and any(is_dask_frame(source.get(name)) for name in TABLE_NAMES):
        return {**source, **{name: source[name].compute() for name in TABLE_NAMES if is_dask_frame(source.get(name))}}
    if not isinstance(source, (str, Path, Mapping)) and any(is_dask_frame(getattr(source, name, None))
                                                            for name in TABLE_NAMES):
        tables = {name: getattr(source, name, None) for name in TABLE_NAMES}
        return Province(**{name: table.compute() if is_dask_frame(table) else table for name, table in tables.items()},
                        info=dict(getattr(source, "info", None) or {}),
                        source=getattr(source, "source", "<province>"))
    return source


def read_province(source, *, tables: Iterable[str] = TABLE_NAMES,
                  columns: Mapping[str, Iterable[str]] | None = None, categorical: Iterable[str] = (),
                  filters=None, dtypes: Mapping[str, Mapping[str, str]] | None = None) -> Province:
    """A :class:`Province` from a directory, a cases file, a DataFrame, a Province or an object with tables.

    Parameters
    ----------
    source : directory (layout above), cases file, DataFrame, Province, a mapping or an object with
        ``cases`` (and optionally ``hospitals``, ``outpatient``, ``day_ward_visits``, ``info``); a Dask
        DataFrame in their place is computed into memory.
    tables : which tables of a directory to read (``cases`` always); the others are None.
    columns : per table, the columns to read (a table not named: all).
    categorical : columns read from Parquet as categoricals (in any table).
    filters : pyarrow row filters for a Parquet cases file (e.g. the years wanted).
    dtypes : per table, column -> dtype to convert to after reading (as the writer of the files declared).
    """
    source = _computed(source)
    if isinstance(source, Province):
        return source
    if isinstance(source, pd.DataFrame):
        return Province(cases=source)
    if isinstance(source, Mapping) and "cases" in source:
        return Province(**{name: source.get(name) for name in TABLE_NAMES}, info=dict(source.get("info") or {}),
                        source="<province>")
    if isinstance(getattr(source, "cases", None), pd.DataFrame):
        return Province(**{name: getattr(source, name, None) for name in TABLE_NAMES},
                        info=dict(getattr(source, "info", None) or {}), source="<province>")
    if not isinstance(source, (str, Path)):
        raise UsageError(f"expected a province directory, a cases file or a DataFrame, got {type(source).__name__}")
    path = Path(source)
    dtypes = dtypes or {}
    columns = columns or {}
    wanted = set(tables) | {"cases"}
    if path.is_file() or (path.is_dir() and not is_province_directory(path)):
        cases = read_table(path, what="cases", columns=columns.get("cases"), categorical=categorical,
                           filters=filters)
        return Province(cases=_typed(cases, dtypes.get("cases"), path), source=str(path))
    if not path.is_dir():
        raise UsageError("input not found (give a province directory or a cases file)", file=str(path))
    frames = {}
    for name in TABLE_NAMES:
        found = find_table(path, name) if name in wanted else None
        if found is None:
            if name == "cases":
                raise UsageError("no cases.parquet, cases.csv or cases/ dataset in the province directory",
                                 file=str(path), field="cases")
            frames[name] = None
            continue
        table = read_table(found, what=name, columns=columns.get(name), categorical=categorical,
                           filters=filters if name == "cases" else None)
        if name == "cases":
            source_file = str(found)
        frames[name] = _typed(table, dtypes.get(name), found)
    return Province(**frames, info=read_province_info(path), source=source_file)


def read_province_info(directory) -> dict:
    """The content of ``province.json`` in ``directory`` (empty when there is none)."""
    info_path = Path(directory) / INFO_FILE
    if not info_path.is_file():
        return {}
    try:
        return json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read province information: {error}", file=str(info_path)) from None


def is_province_directory(path) -> bool:
    """Whether directory ``path`` is laid out as a province (``province.json`` or one of its tables);
    any other directory is read as a dataset of cases."""
    path = Path(path)
    return (path / INFO_FILE).is_file() or any(find_table(path, name) is not None for name in TABLE_NAMES)


def cases_path(source) -> Path | None:
    """The cases file (or dataset directory) of a province directory, a cases file or a dataset of cases
    (None for data in memory)."""
    if not isinstance(source, (str, Path)):
        return None
    path = Path(source)
    if path.is_file():
        return path
    if path.is_dir():
        return find_table(path, "cases") if is_province_directory(path) else path
    return None


def _typed(frame: pd.DataFrame, dtypes: Mapping[str, str] | None, path: Path) -> pd.DataFrame:
    """``frame`` with the declared dtypes of the columns it has; a value that does not fit is an error."""
    if not dtypes:
        return frame
    changes = {c: d for c, d in dtypes.items() if c in frame.columns and str(frame[c].dtype) != d}
    try:
        return frame.astype(changes) if changes else frame
    except (ValueError, TypeError) as error:
        raise UsageError(f"cannot be read with the declared column types ({error})", file=str(path)) from None


def write_province(province, out_dir, format: str = "parquet") -> dict[str, Path]:
    """Write the province's tables (those it has) and ``province.json`` into ``out_dir``; returns the paths.

    The same province gives the same bytes (fixed writer options, no timestamps).
    """
    if format not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, got {format!r}", field="format")
    province = read_province(province)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError("output exists and is not a directory", file=str(out))
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in TABLE_NAMES:
        table = getattr(province, name)
        if table is None:
            continue
        path = out / f"{name}.{format}"
        paths[name] = write_table(table, path)
    info_path = out / INFO_FILE
    write_text_atomic(info_path, json.dumps(province.info, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    paths["info"] = info_path
    return paths
