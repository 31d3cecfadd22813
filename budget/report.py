"""Settlement outputs: one CSV or Parquet file per table, an Excel workbook, a printed summary."""

from __future__ import annotations

import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from drgdip.budget.settle import Settlement
from drgdip.core.errors import UsageError
from drgdip.core.tables import write_table

__all__ = ["write_settlement", "write_workbook", "format_settlement_summary", "EXCEL_MAX_ROWS"]

EXCEL_MAX_ROWS = 1_048_575   # rows of an Excel sheet below its header


def write_settlement(settlement: Settlement, out_dir, *, fmt: str = "parquet", excel: bool = True,
                     excel_case_rows: int = 50_000) -> dict[str, Path]:
    """Write every table of ``settlement`` to ``out_dir`` as ``<table>.<fmt>`` plus ``settlement.xlsx``.

    The per-case sheet of the workbook is written when there are at most ``excel_case_rows`` stays
    (Excel sheets end at 1,048,576 rows; the per-case table is always in the CSV / Parquet file).
    Returns the paths written.
    """
    if fmt not in ("parquet", "csv"):
        raise UsageError(f"format must be parquet or csv, got {fmt!r}", field="format")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError("output exists and is not a directory", file=str(out))
    out.mkdir(parents=True, exist_ok=True)
    tables = settlement.tables()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drgdip-write") as pool:
        # the per-stay table, by far the largest, is encoded by Arrow (without the GIL) meanwhile
        cases = pool.submit(write_table, tables.pop("cases"), out / f"cases.{fmt}")
        paths = {name: write_table(frame, out / f"{name}.{fmt}") for name, frame in tables.items()}
        if excel:
            paths["excel"] = write_workbook(settlement, out / "settlement.xlsx", case_rows=excel_case_rows)
        paths["cases"] = cases.result()
    return paths


def _cell(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def write_workbook(settlement: Settlement, path, *, case_rows: int = 50_000) -> Path:
    """An Excel workbook with one sheet per table (openpyxl, write-only mode)."""
    try:
        from openpyxl import Workbook
    except ImportError:  # pragma: no cover - depends on the installation
        raise UsageError("writing Excel needs openpyxl (pip install drgdip[excel]); use --no-excel") from None
    book = Workbook(write_only=True)
    for name, frame in settlement.tables().items():
        sheet = book.create_sheet(title=name[:31])
        if name == "cases" and len(frame) > min(case_rows, EXCEL_MAX_ROWS):
            sheet.append([f"{len(frame):,} stays: the per-case table is in the cases file next to this "
                          f"workbook (the sheet limit here is {min(case_rows, EXCEL_MAX_ROWS):,} rows)."])
            continue
        sheet.append([str(c) for c in frame.columns])
        columns = [frame[c].astype(object).to_numpy() for c in frame.columns]
        for row in zip(*columns):
            sheet.append([_cell(v) for v in row])
    path = Path(path)
    book.save(path)
    return path


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (Chinese characters take two)."""
    used = sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
    return text + " " * max(width - used, 0)


def format_settlement_summary(settlement: Settlement, top: int = 5) -> str:
    """The point values, the budget use and the ``top`` hospitals gaining and losing most versus
    fee-for-service (final payment − FFS fund), as text."""
    lines = []
    summary = settlement.summary
    for _, row in summary.iterrows():
        lines.append(f"area {row['area']} ({row['scheme']}, {row['year']}): {int(row['cases']):,} stays, "
                     f"budget {_money(row['budget_total'])} yuan, paid {_money(row['final_payments'])} "
                     f"({row['budget_use']:.2%}), reserve at year end {_money(row['reserve_end'])}")
    pools = settlement.pools
    for _, row in pools.iterrows():
        lines.append(f"  pool {row['pool']}: settlement point value {row['effective_point_value']:.4f} yuan/point"
                     f" (budget {row['budget_point_value']:.4f}), {row['points']:,.1f} points, "
                     f"fund ratio {row['fund_ratio']:.3f}")
    hospitals = settlement.hospitals
    if len(hospitals):
        ranked = hospitals.sort_values(["gain_vs_ffs", "hospital_id"], ascending=[False, True])
        label = lambda r: f"{r['hospital_id']} {r['name']}".strip() if isinstance(r["name"], str) else r["hospital_id"]
        gaining = ranked[ranked["gain_vs_ffs"] > 0].head(top)
        losing = ranked[ranked["gain_vs_ffs"] < 0].iloc[::-1].head(top)
        lines.append(f"top {top} gaining versus fee-for-service:")
        for _, r in gaining.iterrows():
            lines.append(f"  {_pad(label(r), 40)} {_money(r['gain_vs_ffs']):>16} yuan  (level {r['level']}, "
                         f"CMI {r['cmi']:.2f})")
        if gaining.empty:
            lines.append("  (none)")
        lines.append(f"top {top} losing versus fee-for-service:")
        for _, r in losing.iterrows():
            lines.append(f"  {_pad(label(r), 40)} {_money(r['gain_vs_ffs']):>16} yuan  (level {r['level']}, "
                         f"CMI {r['cmi']:.2f})")
        if losing.empty:
            lines.append("  (none)")
    for note in settlement.warnings:
        lines.append(f"note: {note}")
    return "\n".join(lines)
