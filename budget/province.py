"""Read a province: the ``cases``, ``hospitals`` and ``outpatient`` tables written by ``drgdip synth``.

A directory holds ``cases.parquet`` (or ``.pq`` / ``.csv``) and optionally ``hospitals.*`` and
``outpatient.*``; a single file is read as the cases table. Code columns are read as text so that
``0101`` keeps its leading zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from drgdip.core.errors import UsageError

__all__ = ["Province", "read_province", "read_table", "TEXT_COLUMNS"]

TEXT_COLUMNS = ("case_id", "patient_id", "hospital_id", "region", "insured_region", "insurance_type", "dept",
                "dx", "proc", "drg", "adrg", "mdc", "dip_group", "dip_type", "status", "care_type",
                "related_case_id", "name", "settle_status", "treatment_period_id")
SUFFIXES = (".parquet", ".pq", ".csv")


@dataclass(frozen=True)
class Province:
    """The tables of a province (DataFrames); ``hospitals`` and ``outpatient`` may be None."""

    cases: pd.DataFrame
    hospitals: pd.DataFrame | None = None
    outpatient: pd.DataFrame | None = None
    source: str = "<DataFrame>"


def read_table(path: Path) -> pd.DataFrame:
    """One CSV or Parquet table, code columns as text; unreadable input → :class:`UsageError`."""
    name = str(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix == ".csv":
            header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
            dtype = {c: "string" for c in header if c in TEXT_COLUMNS}
            return pd.read_csv(path, dtype=dtype, encoding="utf-8-sig", keep_default_na=False,
                               na_values={c: [""] for c in header if c not in TEXT_COLUMNS})
    except FileNotFoundError:
        raise UsageError("file not found", file=name) from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise UsageError(f"cannot read the table: {error}", file=name) from None
    except Exception as error:  # pyarrow raises its own error types for damaged Parquet files
        raise UsageError(f"cannot read the table: {error}", file=name) from None
    raise UsageError(f"unknown table format {suffix!r} (use .parquet or .csv)", file=name)


def _find(directory: Path, stem: str) -> Path | None:
    for suffix in SUFFIXES:
        candidate = directory / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def read_province(source) -> Province:
    """A :class:`Province` from a directory, a cases file, a Province or an object with the tables.

    Objects with ``cases`` (and optionally ``hospitals`` / ``outpatient``) DataFrame attributes, such
    as the result of :func:`drgdip.synth.generate_province`, are taken as they are.
    """
    if isinstance(source, Province):
        return source
    if isinstance(source, pd.DataFrame):
        return Province(cases=source)
    if hasattr(source, "cases") and isinstance(getattr(source, "cases"), pd.DataFrame):
        return Province(cases=source.cases, hospitals=getattr(source, "hospitals", None),
                        outpatient=getattr(source, "outpatient", None), source="<province>")
    if isinstance(source, dict) and "cases" in source:
        return Province(cases=source["cases"], hospitals=source.get("hospitals"),
                        outpatient=source.get("outpatient"), source="<province>")
    path = Path(source)
    if path.is_dir():
        cases = _find(path, "cases")
        if cases is None:
            raise UsageError("no cases.parquet or cases.csv in the input directory", file=str(path),
                             field="cases")
        hospitals = _find(path, "hospitals")
        outpatient = _find(path, "outpatient")
        return Province(cases=read_table(cases),
                        hospitals=read_table(hospitals) if hospitals else None,
                        outpatient=read_table(outpatient) if outpatient else None, source=str(cases))
    if path.is_file():
        return Province(cases=read_table(path), source=str(path))
    raise UsageError("input not found (give a province directory or a cases file)", file=str(path))
