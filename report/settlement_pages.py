"""The settlement pages of the report: headline figures, the hospital table and the charts of one
``drgdip settle`` output folder."""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from drgdip.report import charts
from drgdip.report.data import SettlementTables
from drgdip.report.html import Section, cell, count, figure, money, note, point_value, points, ratio, share, table
from drgdip.report.labels import INDICATOR_TEXT, Labels

__all__ = ["settlement_sections", "OUTLIER_ORDER", "CARE_TYPES"]

OUTLIER_ORDER = ("normal", "low", "high", "extreme", "special_review", "bed_day", "ungrouped")
OUTLIER_COLOURS = {"normal": "#1f5f99", "low": "#e08a1e", "high": "#c0392b", "extreme": "#7d5ba6",
                   "special_review": "#3a9a4a", "bed_day": "#17a2b8", "ungrouped": "#8c8c8c"}
CARE_TYPES = ("inpatient", "day_surgery", "day_chemo", "tcm_day", "day_ward")
TOP_GROUPS = 15


def settlement_sections(tables: SettlementTables, labels: Labels) -> list[Section]:
    """Every settlement section, in reading order."""
    hospitals = _hospitals(tables)
    return [_headline(tables, labels), _hospital_table(hospitals, labels), _gain_loss(hospitals, labels),
            _cmi_cost(hospitals, labels), _outliers(tables, labels), _monthly(tables, labels),
            _clearing(tables, labels), _day_care(tables, labels), _grouping(tables, labels),
            _indicators(tables, labels)]


def _level_name(labels: Labels):
    return lambda level: labels("level_n", level=level)


def _hospitals(tables: SettlementTables) -> pd.DataFrame:
    """The hospitals table with each hospital's region (from its stays) and cost per case."""
    frame = tables.hospitals.copy()
    region = None
    cases = tables.cases
    if cases is not None and {"hospital_id", "region"} <= set(cases.columns) and len(cases):
        first = cases.groupby("hospital_id", observed=True, sort=False)["region"].first()
        first.index = first.index.astype(str)
        region = frame["hospital_id"].astype(str).map(first.astype("string"))
    frame["region"] = region if region is not None else frame.get("area")
    cases_count = pd.to_numeric(frame["cases"], errors="coerce")
    frame["cost_per_case"] = np.where(cases_count > 0, pd.to_numeric(frame.get("total_cost"), errors="coerce")
                                      / cases_count.where(cases_count > 0), np.nan)
    return frame


def _headline(tables: SettlementTables, labels: Labels) -> Section:
    section = Section("headline", labels["headline"])
    summary = tables.summary
    totals = [("total_budget", "budget_total"), ("total_paid", "final_payments"),
              ("total_reserve", "reserve_end")]
    cards = "".join(
        f'<div class="card"><div class="card-label">{escape(labels[label])}</div>'
        f'<div class="card-value" data-total="{column}">{money(summary[column].sum())}</div></div>'
        for label, column in totals if column in summary.columns)
    gaining = int(pd.to_numeric(tables.hospitals["gain_vs_ffs"], errors="coerce").gt(0).sum())
    cards += (f'<div class="card"><div class="card-label">{escape(labels["hospitals_gaining"])}</div>'
              f'<div class="card-value" data-total="hospitals_gaining">{gaining:,} / '
              f"{len(tables.hospitals):,}</div></div>")
    section.add(f'<div class="cards">{cards}</div>').add(note(labels["headline_note"]))
    fields = [("budget_total", money), ("final_payments", money), ("reserve_start", money),
              ("reserve_end", money), ("budget_use", share)]
    fields = [(name, fmt) for name, fmt in fields if name in summary.columns]
    rows = [f"<tr>{cell(row['area'])}" + "".join(cell(row[name], fmt, field=name, area=row["area"])
                                                  for name, fmt in fields) + "</tr>"
            for _, row in summary.iterrows()]
    section.add(table([labels["area"]] + [labels[name] for name, _ in fields], rows, key="headline-areas",
                      numeric=range(1, len(fields) + 1)))
    pools = tables.pools
    values = [name for name in ("budget_point_value", "settlement_point_value", "effective_point_value")
              if name in pools.columns]
    rows = [f"<tr>{cell(row['area'])}{cell(row['pool'])}{cell(row.get('insurance_type', ''))}"
            + "".join(cell(row[name], point_value, field=name, pool=row["pool"]) for name in values) + "</tr>"
            for _, row in pools.iterrows()]
    section.add(table([labels["area"], labels["pool"], labels["insurance_type"]] + [labels[v] for v in values],
                      rows, key="headline-pools", numeric=range(3, 3 + len(values))))
    return section


HOSPITAL_FIELDS = (("cases", count), ("points", points), ("cmi", ratio), ("cost_per_case", money),
                   ("fund_due", money), ("surplus_kept", money), ("overspend_shared", money),
                   ("final_payment", money), ("gain_vs_ffs", money))


def _hospital_table(hospitals: pd.DataFrame, labels: Labels) -> Section:
    section = Section("hospitals", labels["hospitals"])
    fields = [(name, fmt) for name, fmt in HOSPITAL_FIELDS if name in hospitals.columns]
    levels = sorted({int(v) for v in pd.to_numeric(hospitals["level"], errors="coerce").dropna()}, reverse=True)
    options = "".join(f'<option value="{lv}">{escape(labels("level_n", level=lv))}</option>' for lv in levels)
    section.add(f'<div class="controls" data-controls="hospital-table">'
                f'<input type="search" class="filter-text" placeholder="{escape(labels["filter"])}" '
                f'aria-label="{escape(labels["filter"])}">'
                f'<select class="filter-level" aria-label="{escape(labels["level"])}"><option value="">'
                f'{escape(labels["all_levels"])}</option>{options}</select>'
                f'<span class="rows-shown" data-template="{escape(labels["rows_shown"])}"></span>'
                f'<span class="hint">{escape(labels["sort_hint"])}</span></div>')
    rows = []
    for _, row in hospitals.iterrows():
        level = row.get("level")
        rows.append(f'<tr data-level="{escape(str(level))}">{cell(row["hospital_id"])}{cell(row.get("name"))}'
                    f'{cell(level, count)}{cell(row.get("region"))}'
                    + "".join(cell(row[name], fmt) for name, fmt in fields) + "</tr>")
    headers = [labels["hospital_id"], labels["name"], labels["level"], labels["region"]]
    section.add(table(headers + [labels[name] for name, _ in fields], rows, key="hospital-table", sortable=True,
                      numeric=[2] + list(range(4, 4 + len(fields)))))
    return section


def _gain_loss(hospitals: pd.DataFrame, labels: Labels) -> Section:
    section = Section("gain-loss", labels["gain_loss"])
    gain = pd.to_numeric(hospitals["gain_vs_ffs"], errors="coerce").fillna(0.0)
    gain.index = hospitals["hospital_id"].astype(str)
    svg = charts.sorted_bars(gain, hospitals["level"], name="gain_loss", title=labels["gain_loss"],
                             ylabel=labels["gain_axis"], xlabel=labels["hospital_axis"],
                             level_name=_level_name(labels))
    return section.add(figure("gain_loss", "", svg, labels["gain_loss_note"]))


def _cmi_cost(hospitals: pd.DataFrame, labels: Labels) -> Section:
    section = Section("cmi-cost", labels["cmi_cost"])
    usable = hospitals[np.isfinite(pd.to_numeric(hospitals["cmi"], errors="coerce"))
                       & np.isfinite(hospitals["cost_per_case"])]
    svg = charts.scatter_by_level(pd.to_numeric(usable["cmi"]), usable["cost_per_case"], usable["level"],
                                  name="cmi_cost", title=labels["cmi_cost"], xlabel=labels["cmi"],
                                  ylabel=labels["cost_per_case"], level_name=_level_name(labels))
    return section.add(figure("cmi_cost", "", svg))


def _settled_cases(tables: SettlementTables) -> pd.DataFrame | None:
    cases = tables.cases
    if cases is None or not len(cases):
        return None
    if "settle_status" in cases.columns:
        cases = cases[_is(cases["settle_status"], "ok")]
    return cases


def _is(values: pd.Series, text: str) -> np.ndarray:
    """``values == text`` as bool, missing as False (one comparison per category for categoricals)."""
    return (values == text).fillna(False).to_numpy(dtype=bool)


def _counts(values: pd.Series) -> pd.Series:
    """How many stays have each value (categoricals counted by code), most first, keyed by text."""
    counts = values.value_counts(sort=True)
    counts.index = counts.index.astype(str)
    return counts[counts > 0]


def _outliers(tables: SettlementTables, labels: Labels) -> Section:
    section = Section("outliers", labels["outliers"])
    cases = _settled_cases(tables)
    if cases is None or not {"outlier_class", "hospital_level"} <= set(cases.columns):
        return section.add(note(labels["no_data"]))
    level = pd.to_numeric(cases["hospital_level"], errors="coerce").astype("Int64")
    sizes = cases.groupby([level, cases["outlier_class"]], observed=True).size().unstack(fill_value=0)
    sizes.columns = sizes.columns.astype(str)
    shares = sizes.div(sizes.sum(axis=1), axis=0)
    present = [c for c in OUTLIER_ORDER if c in shares.columns and shares[c].sum() > 0]
    shares = shares[present].sort_index(ascending=False)
    shares.index = [labels("level_n", level=lv) for lv in shares.index]
    names = {c: labels.get(f"outlier_{c}", c) for c in present}
    colours = {names[c]: OUTLIER_COLOURS[c] for c in present}
    svg = charts.stacked_shares(shares.rename(columns=names), name="outliers", title=labels["outliers"],
                                xlabel=labels["share_axis"], colours=colours)
    section.add(figure("outliers", "", svg))
    rows = [f"<tr>{cell(level)}" + "".join(cell(shares.loc[level, c], share) for c in present) + "</tr>"
            for level in shares.index]
    return section.add(table([labels["level"]] + [names[c] for c in present], rows, key="outlier-shares",
                             numeric=range(1, len(present) + 1)))


def _monthly(tables: SettlementTables, labels: Labels) -> Section:
    section = Section("monthly", labels["monthly"])
    monthly = tables.monthly
    if monthly is None or not len(monthly) or "clearing_payment" not in tables.hospitals.columns:
        return section.add(note(labels["no_data"]))
    by_month = monthly.groupby(pd.to_numeric(monthly["month"], errors="coerce"))["prepayment"].sum().sort_index()
    clearing = float(pd.to_numeric(tables.hospitals["clearing_payment"], errors="coerce").sum())
    svg = charts.monthly_bars(by_month, clearing, name="monthly", title=labels["monthly"],
                              xlabel=labels["month_axis"], ylabel=labels["money_axis"],
                              prepayment_label=labels["prepayment"], clearing_label=labels["year_end_clearing"])
    section.add(figure("monthly", "", svg))
    rows = [f"<tr>{cell(int(month))}{cell(value, money, field='prepayment')}</tr>" for month, value in by_month.items()]
    rows.append(f"<tr>{cell(labels['year_end_clearing'])}{cell(clearing, money, field='clearing_payment')}</tr>")
    return section.add(table([labels["month_axis"], labels["yuan"]], rows, key="monthly-table", numeric=[1]))


def _clearing(tables: SettlementTables, labels: Labels) -> Section:
    section = Section("clearing", labels["clearing"])
    matrix = tables.clearing_matrix
    if matrix is None or not len(matrix):
        return section.add(note(labels["no_data"]))
    matrix = matrix.set_index("insured_region")
    inner = matrix.drop(index="total", columns="total", errors="ignore").apply(pd.to_numeric, errors="coerce")
    svg = charts.heatmap(inner.fillna(0.0), name="clearing", title=labels["clearing"],
                         xlabel=labels["treatment_region"], ylabel=labels["insured_region"])
    section.add(figure("clearing", "", svg, labels["clearing_note"]))
    rows = [f"<tr>{cell(index)}" + "".join(cell(v, money) for v in row.to_numpy()) + "</tr>"
            for index, row in matrix.apply(pd.to_numeric, errors="coerce").iterrows()]
    return section.add(table([f'{labels["insured_region"]} \\ {labels["treatment_region"]}']
                             + [str(c) for c in matrix.columns], rows, key="clearing-matrix",
                             numeric=range(1, len(matrix.columns) + 1)))


def _day_care(tables: SettlementTables, labels: Labels) -> Section:
    section = Section("day-care", labels["day_care"])
    cases = tables.cases
    if cases is None or "care_type" not in cases.columns:
        return section.add(note(labels["no_data"]))
    settled = _counts(cases["care_type"])
    submitted = _counts(cases["care_type_input"]) if "care_type_input" in cases.columns else settled
    kinds = [k for k in CARE_TYPES if settled.get(k, 0) or submitted.get(k, 0)]
    by_kind = pd.DataFrame({labels["as_submitted"]: [int(submitted.get(k, 0)) for k in kinds],
                            labels["as_settled"]: [int(settled.get(k, 0)) for k in kinds]},
                           index=[labels.get(f"care_{k}", k) for k in kinds])
    svg = charts.grouped_bars(by_kind, name="day_care", title=labels["day_care"], ylabel=labels["count"])
    section.add(figure("day_care", "", svg))
    status = cases["day_care_status"] if "day_care_status" in cases.columns else None
    preop = pd.to_numeric(cases["preop_cost"], errors="coerce").fillna(0.0) if "preop_cost" in cases.columns \
        else pd.Series(dtype=float)
    figures = [("converted", int(_is(status, "converted").sum()) if status is not None else None, count),
               ("not_covered", int(_is(status, "not_covered").sum()) if status is not None else None, count),
               ("merged", int((preop > 0).sum()), count),
               ("merged_cost", float(preop.sum()), money),
               ("day_ward_periods", int(submitted.get("day_ward", 0)), count)]
    rows = [f"<tr>{cell(labels[key])}{cell(value, fmt, field=key)}</tr>" for key, value, fmt in figures
            if value is not None]
    return section.add(table([labels["day_care"], labels["count"]], rows, key="day-care-table", numeric=[1]))


def _grouping(tables: SettlementTables, labels: Labels) -> Section:
    section = Section("grouping", labels["grouping"])
    cases = tables.cases
    if cases is None or not len(cases) or "status" not in cases.columns:
        return section.add(note(labels["no_data"]))
    dip = {"dip_group", "dip_type"} <= set(cases.columns)
    status = _counts(cases["dip_type"] if dip else cases["status"])   # DIP: core / comprehensive / ungrouped
    svg = charts.bar_chart(status, name="grouping_status", title=labels["status"], ylabel=labels["count"],
                           horizontal=True)
    section.add(figure("grouping_status", labels["status"], svg))
    total = len(cases)
    ungrouped = float(_is(cases["outlier_class"], "ungrouped").sum()) / total \
        if "outlier_class" in cases.columns else float(status.drop("ok", errors="ignore").sum()) / total
    grouped = (total - status.get("ungrouped", 0)) if dip else status.get("ok", 0)
    rows = [f"<tr>{cell(labels['grouped_share'])}{cell(grouped / total, share, field='grouped_share')}</tr>",
            f"<tr>{cell(labels['ungrouped_share'])}{cell(ungrouped, share, field='ungrouped_share')}</tr>"]
    section.add(table([labels["grouping"], labels["share"]], rows, key="grouping-shares", numeric=[1]))
    group_column = next((c for c in (("dip_group", "drg") if dip else ("drg", "dip_group", "group"))
                         if c in cases.columns), None)
    if group_column is not None:
        groups = _counts(cases[group_column])
        groups = groups[groups.index != ""].head(TOP_GROUPS)
        rows = [f"<tr>{cell(group)}{cell(n, count)}{cell(n / total, share)}</tr>" for group, n in groups.items()]
        section.add(f'<h3>{escape(labels["top_groups"])}</h3>')
        section.add(table([labels["group"], labels["cases"], labels["share"]], rows, key="top-groups",
                          numeric=[1, 2]))
    return section


def _indicator_format(name: str):
    if name == "cost_per_case":
        return money
    if name in ("average_los",):
        return lambda v: f"{float(v):,.2f}"
    if name in ("cost_consumption_index", "time_consumption_index", "cmi"):
        return ratio
    return share


def _ranks(table: pd.DataFrame, name: str) -> pd.Series:
    """Rank of each hospital among hospitals of its level (1 = best; ties share the better rank)."""
    better = INDICATOR_TEXT[name][2]
    values = pd.to_numeric(table[name], errors="coerce")
    return values.groupby(table["level"]).rank(method="min", ascending=better == "lower")


def _indicators(tables: SettlementTables, labels: Labels) -> Section:
    section = Section("indicators", labels["indicators"])
    per_hospital = tables.indicators
    if per_hospital is None or not len(per_hospital):
        return section.add(note(labels["no_data"]))
    names = [n for n in INDICATOR_TEXT if n in per_hospital.columns]
    section.add(note(labels["indicators_note"]))
    sizes = per_hospital.groupby("level")["hospital_id"].transform("size")
    ranks = {n: _ranks(per_hospital, n) for n in names if INDICATOR_TEXT[n][2] is not None}
    rows = []
    for i, row in per_hospital.iterrows():
        cells = []
        for name in names:
            text = _indicator_format(name)(row[name]) if pd.notna(row[name]) else "–"
            if name in ranks and pd.notna(ranks[name].loc[i]):
                text += f" ({int(ranks[name].loc[i])}/{int(sizes.loc[i])})"
            raw = f' data-v="{float(row[name]):.12g}"' if pd.notna(row[name]) else ""
            cells.append(f'<td class="num"{raw}>{escape(text)}</td>')
        rows.append(f'<tr data-level="{escape(str(row["level"]))}">{cell(row["hospital_id"])}{cell(row.get("name"))}'
                    f'{cell(row["level"], count)}{cell(row["cases"], count)}' + "".join(cells) + "</tr>")
    headers = [labels["hospital_id"], labels["name"], labels["level"], labels["cases"]]
    section.add(table(headers + [labels.indicator(n) for n in names], rows, key="indicator-table", sortable=True,
                      numeric=[2, 3] + list(range(4, 4 + len(names)))))
    for key, frame, first in (("indicators_by_level", tables.indicators_by_level, "level"),
                              ("indicators_by_region", tables.indicators_by_region, "region")):
        if frame is None or not len(frame):
            continue
        columns = [n for n in INDICATOR_TEXT if n in frame.columns]
        rows = [f"<tr>{cell(row[first], count) if first == 'level' else cell(row[first])}{cell(row['cases'], count)}"
                + "".join(cell(row[n], _indicator_format(n)) for n in columns) + "</tr>"
                for _, row in frame.iterrows()]
        section.add(f"<h3>{escape(labels[key])}</h3>")
        section.add(table([labels[first], labels["cases"]] + [labels.indicator(n) for n in columns], rows,
                          key=key.replace("_", "-"), sortable=True, numeric=range(1, 2 + len(columns))))
    return section
