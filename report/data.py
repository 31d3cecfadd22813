"""What a report reads: the tables ``drgdip settle`` and ``drgdip simulate`` write to their output folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from drgdip.core.errors import UsageError
from drgdip.core.tables import find_table, read_table

__all__ = ["SettlementTables", "SimulationTables", "read_folder", "CASE_COLUMNS"]

# codes that must stay text when a CSV output is read back (370100 is a region, not a number)
TEXT_COLUMNS = ("area", "pool", "region", "insured_region", "treatment_region", "hospital_id", "name",
                "scenario", "kind", "key", "insurance_type", "drg", "dip_group", "group")
# the per-stay columns the report summarises (the rest of a province's stays are never read), and those
# of them held as categoricals: millions of stays are counted by code, never compared as strings
CASE_COLUMNS = ("hospital_id", "hospital_level", "region", "status", "drg", "dip_group", "dip_type", "outlier_class",
                "settle_status", "care_type", "care_type_input", "day_care_status", "preop_cost")
CASE_CATEGORIES = ("hospital_id", "region", "status", "drg", "dip_group", "dip_type", "outlier_class", "settle_status",
                   "care_type", "care_type_input", "day_care_status")


@dataclass
class SettlementTables:
    """The tables of a ``drgdip settle`` output folder (``cases`` holds only :data:`CASE_COLUMNS`)."""

    folder: Path
    summary: pd.DataFrame
    pools: pd.DataFrame
    hospitals: pd.DataFrame
    monthly: pd.DataFrame | None
    clearing_matrix: pd.DataFrame | None
    cases: pd.DataFrame | None
    indicators: pd.DataFrame | None = None
    indicators_by_level: pd.DataFrame | None = None
    indicators_by_region: pd.DataFrame | None = None


@dataclass
class SimulationTables:
    """The tables of a ``drgdip simulate`` output folder."""

    folder: Path
    scenarios: pd.DataFrame
    hospitals: pd.DataFrame
    monte_carlo_hospitals: pd.DataFrame | None
    monte_carlo_pools: pd.DataFrame | None


def _table(folder: Path, stem: str, *, required: bool, columns=None, categorical=()) -> pd.DataFrame | None:
    path = find_table(folder, stem)
    if path is None:
        if required:
            raise UsageError(f"no {stem}.parquet or {stem}.csv here: give the output folder of drgdip settle "
                             "or drgdip simulate", file=str(folder))
        return None
    frame = read_table(path, what=stem, columns=columns, text=TEXT_COLUMNS, categorical=categorical)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            continue
        if column in categorical:
            frame[column] = frame[column].astype("string").astype("category")
        elif column in TEXT_COLUMNS:
            frame[column] = frame[column].astype("string")
    return frame


def read_folder(folder) -> SettlementTables | SimulationTables:
    """The tables of one output folder, settlement or simulation by what it holds."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError("not a folder: give the output folder of drgdip settle or drgdip simulate",
                         file=str(folder))
    if find_table(folder, "scenarios") is not None:
        return SimulationTables(folder=folder, scenarios=_table(folder, "scenarios", required=True),
                                hospitals=_table(folder, "hospitals", required=True),
                                monte_carlo_hospitals=_table(folder, "monte_carlo_hospitals", required=False),
                                monte_carlo_pools=_table(folder, "monte_carlo_pools", required=False))
    if find_table(folder, "summary") is None:
        raise UsageError("neither summary nor scenarios tables here: give the output folder of drgdip settle "
                         "or drgdip simulate", file=str(folder))
    return SettlementTables(folder=folder, summary=_table(folder, "summary", required=True),
                            pools=_table(folder, "pools", required=True),
                            hospitals=_table(folder, "hospitals", required=True),
                            monthly=_table(folder, "monthly", required=False),
                            clearing_matrix=_table(folder, "clearing_matrix", required=False),
                            cases=_table(folder, "cases", required=False, columns=CASE_COLUMNS,
                                         categorical=CASE_CATEGORIES),
                            indicators=_table(folder, "indicators", required=False),
                            indicators_by_level=_table(folder, "indicators_by_level", required=False),
                            indicators_by_region=_table(folder, "indicators_by_region", required=False))
