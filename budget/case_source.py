"""The input stays of a settlement run: the columns the computation uses for every stay, the rest when needed.

Settlement computes with a few columns of every stay (ids, regions, costs, times, care type, group).
The codes and demographics of stays that already carry their group, costs by item, departments and
any column of the user's own are fetched only where they are used (and checked then): the grouping inputs of the stays grouped
again, and every input column of the settlement year's stays for the per-stay output. A file is read
again for them; an input in memory is taken from. On a province of 20 million stays this keeps about
a quarter of the input out of memory while the money is computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from drgdip.core.province import cases_path
from drgdip.core.tables import read_table_rows, table_columns, table_format

__all__ = ["CaseSource", "COMPUTE_COLUMNS", "GROUPING_INPUTS"]

# what day care, grouping checks, weights, points and settlement read of every stay
COMPUTE_COLUMNS = frozenset((
    "case_id", "patient_id", "year", "month", "settle_date", "hospital_id", "hospital_level", "region",
    "insured_region", "insurance_type", "care_type", "admit_time", "discharge_time", "los", "proc",
    "total_cost", "fund_paid", "fixed_payment", "settle_status", "day_exception", "treatment_period_id",
    "status", "mdc", "drg", "dip_group", "dip_type", "dip_score", "dip_basic", "dip_aux_coef", "aux_coef",
    "other_coef", "payment_method", "leaving_type", "icu_hours", "case_points", "base_points", "hospital_type",
    "scheme_version",
))
# what the DRG and DIP groupers read
GROUPING_INPUTS = ("dx", "proc", "gender", "age", "age_days", "birth_weight", "los", "leaving_type", "icu_hours")


@dataclass(frozen=True)
class CaseSource:
    """Where the input stays are: a cases file, or a DataFrame in memory; ``columns`` in input order."""

    path: Path | None
    frame: pd.DataFrame | None
    columns: tuple[str, ...]
    categorical: tuple[str, ...] = ()

    @classmethod
    def of(cls, source, cases: pd.DataFrame | None = None, categorical: Iterable[str] = ()) -> "CaseSource":
        """The source of a province given as a directory or file (``cases`` None) or in memory."""
        path = cases_path(source) if cases is None else None
        columns = table_columns(path) if path is not None else [str(c) for c in cases.columns]
        return cls(path=path, frame=cases if path is None else None, columns=tuple(columns),
                   categorical=tuple(categorical))

    @property
    def first_row(self) -> int:
        """The row number of the first stay as the file shows it: 2 in a CSV file or a sheet (the header is
        row 1, as a spreadsheet shows it), 1 in Parquet and DataFrames."""
        return 2 if self.path is not None and table_format(self.path) in ("csv", "excel") else 1

    def compute_columns(self, *, with_grouping_inputs: bool) -> list[str]:
        """The input columns to read for every stay."""
        wanted = COMPUTE_COLUMNS | (frozenset(GROUPING_INPUTS) if with_grouping_inputs else frozenset())
        return [c for c in self.columns if c in wanted]

    def fetch(self, columns: Iterable[str], rows: np.ndarray) -> pd.DataFrame:
        """``columns`` (those the input has, in input order) of the stays at input positions ``rows``."""
        wanted = set(columns)
        names = [c for c in self.columns if c in wanted]
        if self.frame is not None:
            return self.frame[names].take(rows).reset_index(drop=True)
        if not names:
            return pd.DataFrame(index=pd.RangeIndex(len(rows)))
        order = np.argsort(rows, kind="stable")
        fetched = read_table_rows(self.path, rows[order], columns=names, what="cases", categorical=self.categorical)
        if np.array_equal(order, np.arange(len(rows))):
            return fetched
        return fetched.take(np.argsort(order, kind="stable")).reset_index(drop=True)
