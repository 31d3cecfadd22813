"""Settlement outputs: one CSV or Parquet file per table, an Excel workbook, a printed summary."""

from __future__ import annotations

import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from drgdip.budget.indicators import INDICATORS
from drgdip.budget.settle import Settlement
from drgdip.core.atomic import atomic_path
from drgdip.core.errors import UsageError
from drgdip.core.tables import write_table

__all__ = ["write_settlement", "write_workbook", "format_settlement_summary", "EXCEL_MAX_ROWS"]

EXCEL_MAX_ROWS = 1_048_575   # rows of an Excel sheet below its header


def write_settlement(settlement: Settlement, out_dir, *, fmt: str = "parquet", excel: bool = True,
                     excel_case_rows: int = 0, lang: str = "zh", cases: bool = True) -> dict[str, Path]:
    """Write every table of ``settlement`` to ``out_dir`` as ``<table>.<fmt>`` plus ``settlement.xlsx``.

    The per-case sheet of the workbook holds the stays when there are at most ``excel_case_rows`` of
    them (default: only on request; Excel sheets end at 1,048,576 rows; the per-case table is always
    in the CSV / Parquet file).
    Without ``cases`` the per-case table is left to the caller (written as it is merged, by the Dask engine).
    Returns the paths written.
    """
    if fmt not in ("parquet", "csv"):
        raise UsageError(f"format must be parquet or csv, got {fmt!r}", field="format")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError("output exists and is not a directory", file=str(out))
    out.mkdir(parents=True, exist_ok=True)
    tables = settlement.tables()
    per_stay = tables.pop("cases")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drgdip-write") as pool:
        # the per-stay table, by far the largest, is encoded by Arrow (without the GIL) meanwhile
        written = pool.submit(write_table, per_stay, out / f"cases.{fmt}") if cases else None
        paths = {name: write_table(frame, out / f"{name}.{fmt}") for name, frame in tables.items()}
        if excel:
            paths["excel"] = write_workbook(settlement, out / "settlement.xlsx", case_rows=excel_case_rows, lang=lang)
        if written is not None:
            paths["cases"] = written.result()
    return paths


# number formats of the workbook, by column name
YUAN_COLUMNS = frozenset({
    "total_cost", "fund_paid", "ffs_fund", "fund_due", "assessment_withheld", "deductions", "fund_due_assessed",
    "surplus", "surplus_kept", "surplus_returned", "overspend_shared", "final_payment", "final_payments",
    "gain_vs_ffs", "prepaid", "revolving_fund", "clearing_payment", "budget_base", "budget_remote", "budget_total",
    "reserve_start", "distributable", "unplaced", "point_value_adjustment", "reserve_end", "remote_fund_recorded",
    "remote_fund_due", "remote_difference", "money", "fixed_payments", "points_money", "patients_share",
    "fund_distributed", "reserve_adjustment", "prepayment", "difference", "payment", "standard", "fixed_payment",
    "day_care_amount", "self_pay_in_scope", "self_pay_out_scope", "drug_cost", "consumable_cost", "preop_cost",
    "dayward_fee", "fee_difference", "cost_per_case"})
POINTS_COLUMNS = frozenset({"points", "case_points", "base_points"})
POINT_VALUE_COLUMNS = frozenset({"point_value", "budget_point_value", "settlement_point_value",
                                 "effective_point_value"})
RATIO_COLUMNS = frozenset(set(INDICATORS) - {"cost_per_case"} | {"assessment_score"}) | frozenset({"fund_ratio", "cmi", "budget_use", "share_normal", "share_high", "share_low",
                           "share_ungrouped", "cost_ratio", "assessment_coef", "applied_hospital_coef", "remote_coef"})
WIDTH_SAMPLE_ROWS = 200   # rows read to size a column
LANGUAGES = ("zh", "en")
SHEET_NAMES = {"zh": {"summary": "汇总", "pools": "统筹池点值", "hospitals": "医院结算", "indicators": "绩效指标",
                      "indicators_by_level": "绩效指标(等级)", "indicators_by_region": "绩效指标(地区)",
                      "monthly": "月度预付",
                      "clearing": "异地清算", "clearing_matrix": "异地清算矩阵", "cases": "病例"}}


def write_workbook(settlement: Settlement, path, *, case_rows: int = 0, lang: str = "zh") -> Path:
    """An Excel workbook with one sheet per table, as agencies read it: a frozen header row, yuan with
    two decimals and thousands separators, points with two decimals, columns sized to their content.

    Written by xlsxwriter in constant-memory mode (each row goes to disk as it is written). The
    per-stay sheet holds the stays only when there are at most ``case_rows`` of them (default none:
    the per-stay table is the cases file next to the workbook). Sheets are named in ``lang`` (``zh``:
    汇总, 医院结算, ...; ``en``: the table names); the columns keep the tables' names.
    """
    import xlsxwriter

    if lang not in LANGUAGES:
        raise UsageError(f"lang must be one of {', '.join(LANGUAGES)}, got {lang!r}", field="lang")
    names = SHEET_NAMES.get(lang, {})

    path = Path(path)
    with atomic_path(path) as temporary:
        _write_book(xlsxwriter.Workbook(str(temporary), {"constant_memory": True, "nan_inf_to_errors": True,
                                                         "strings_to_numbers": False, "strings_to_formulas": False,
                                                         "strings_to_urls": False}),
                    settlement, names, case_rows)
    return path


def _write_book(book, settlement: Settlement, names: dict, case_rows: int) -> None:
    """The sheets of :func:`write_workbook` into ``book``, closed at the end."""
    formats = {"header": book.add_format({"bold": True, "bottom": 1, "text_wrap": False}),
               "yuan": book.add_format({"num_format": "#,##0.00"}),
               "points": book.add_format({"num_format": "#,##0.00"}),
               "point_value": book.add_format({"num_format": "0.0000"}),
               "ratio": book.add_format({"num_format": "0.0000"}),
               "integer": book.add_format({"num_format": "#,##0"}),
               "date": book.add_format({"num_format": "yyyy-mm-dd hh:mm"})}
    for name, frame in settlement.tables().items():
        sheet = book.add_worksheet(names.get(name, name)[:31])
        limit = min(case_rows, EXCEL_MAX_ROWS)
        if name == "cases" and len(frame) > limit:
            sheet.write_string(0, 0, f"{len(frame):,} stays: the per-case table is in the cases file next to this "
                                     f"workbook (this sheet holds up to {limit:,} rows: --excel-case-rows).")
            continue
        _write_sheet(sheet, frame, formats)
    book.close()


def _write_sheet(sheet, frame: pd.DataFrame, formats: dict) -> None:
    """One table on one sheet, row by row (constant memory), header frozen."""
    sheet.freeze_panes(1, 0)
    columns = [str(c) for c in frame.columns]
    kinds = [_column_kind(name, frame[name]) for name in frame.columns]
    for k, (name, kind) in enumerate(zip(columns, kinds)):
        sheet.set_column(k, k, _width(name, frame.iloc[:WIDTH_SAMPLE_ROWS, k], kind),
                         formats.get(kind) if kind in ("yuan", "points", "point_value", "ratio", "integer") else None)
    sheet.write_row(0, 0, columns, formats["header"])
    values = [_cells(frame.iloc[:, k], kind) for k, kind in enumerate(kinds)]
    date_format = formats["date"]
    for r, row in enumerate(zip(*values), start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if kinds[c] == "date":
                sheet.write_datetime(r, c, value, date_format)
            elif isinstance(value, str):
                sheet.write_string(r, c, value)
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            else:
                sheet.write_number(r, c, value)


def _column_kind(name, column: pd.Series) -> str:
    """How a column is shown: yuan, points, point value, ratio, integer, date, number or text."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return "date"
    if pd.api.types.is_bool_dtype(column.dtype) or not pd.api.types.is_numeric_dtype(column.dtype):
        return "text"
    name = str(name)
    for kind, names in (("yuan", YUAN_COLUMNS), ("points", POINTS_COLUMNS), ("point_value", POINT_VALUE_COLUMNS),
                        ("ratio", RATIO_COLUMNS)):
        if name in names:
            return kind
    if pd.api.types.is_integer_dtype(column.dtype):
        return "integer"
    return "number"


def _cells(column: pd.Series, kind: str) -> list:
    """The column's values as Python cells (None where missing)."""
    if kind == "date":
        return [None if pd.isna(v) else v.to_pydatetime() for v in column]
    if kind == "text":
        values = column.astype(object)
        return [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else
                (bool(v) if isinstance(v, (bool, np.bool_)) else str(v)) for v in values]
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return [None if np.isnan(v) else v for v in numbers.tolist()]


def _width(name: str, sample: pd.Series, kind: str) -> float:
    """A column width (characters) that fits the header and the sampled values, within 8 to 40."""
    widest = len(name)
    if kind in ("yuan", "points"):
        numbers = pd.to_numeric(sample, errors="coerce").abs().max()
        widest = max(widest, len(f"{numbers:,.2f}") + 1 if pd.notna(numbers) else 0)
    elif kind == "date":
        widest = max(widest, 16)
    else:
        texts = [_display_width("" if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v))
                 for v in sample.astype(object)]
        widest = max(widest, max(texts, default=0))
    return float(min(max(widest + 2, 8), 40))


def _display_width(text: str) -> int:
    """Columns ``text`` takes on screen (Chinese characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (Chinese characters take two)."""
    return text + " " * max(width - _display_width(text), 0)


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
