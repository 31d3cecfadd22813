"""The scenario pages of the report: point values per scenario, each hospital's change against the
baseline, sweeps and Monte Carlo intervals of one ``drgdip simulate`` output folder."""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from drgdip.report import charts
from drgdip.report.data import SimulationTables
from drgdip.report.html import Section, cell, count, figure, money, note, point_value, share, table
from drgdip.report.labels import Labels

__all__ = ["scenario_sections", "MOST_AFFECTED", "MAX_SCENARIO_CHARTS"]

MOST_AFFECTED = 5
MAX_SCENARIO_CHARTS = 12
POINT_VALUE_PREFIX = "point_value:"


def scenario_sections(tables: SimulationTables, labels: Labels) -> list[Section]:
    """Every scenario section present in the folder, in reading order."""
    sections = [_scenarios(tables, labels), _changes(tables, labels)]
    if (tables.scenarios["kind"].astype("string") == "sweep").any():
        sections.append(_sweeps(tables, labels))
    if tables.monte_carlo_hospitals is not None and len(tables.monte_carlo_hospitals):
        sections.append(_monte_carlo(tables, labels))
    return sections


def _pool_columns(scenarios: pd.DataFrame) -> list[str]:
    return [c for c in scenarios.columns if str(c).startswith(POINT_VALUE_PREFIX)]


def _scenarios(tables: SimulationTables, labels: Labels) -> Section:
    section = Section("scenarios", labels["scenarios"])
    scenarios = tables.scenarios
    pools = _pool_columns(scenarios)
    named = scenarios[scenarios["kind"].astype("string") != "sweep"]
    if len(named) > 1 and pools:
        values = named.set_index("scenario")[pools].apply(pd.to_numeric, errors="coerce").T
        values.index = [c[len(POINT_VALUE_PREFIX):] for c in values.index]
        values.columns = [labels["baseline"] if c == "baseline" else c for c in values.columns]
        low, high = np.nanmin(values.to_numpy()), np.nanmax(values.to_numpy())
        svg = charts.grouped_bars(values, name="scenario_point_values", title=labels["point_value"],
                                  ylabel=labels["point_value"], ylim=(low - 0.1 * (high - low + 1e-9) - 0.05 * low,
                                                                      high + 0.05 * (high - low + 1e-9)))
        section.add(figure("scenario_point_values", labels["point_value"], svg))
    shifts = [c for c in scenarios.columns if str(c).startswith("shift_level_")]
    fields = [("budget_total", money), ("final_payments", money), ("reserve_end", money),
              ("hospitals_gaining", count), ("hospitals_losing", count)] + [(c, money) for c in shifts]
    fields = [(name, fmt) for name, fmt in fields if name in scenarios.columns]
    headers = [labels["scenario"], labels["kind"]]
    headers += [labels("shift_level", level=name.rsplit("_", 1)[1]) if name.startswith("shift_level_")
                else labels[name] for name, _ in fields]
    headers += [f'{labels["point_value"]} {c[len(POINT_VALUE_PREFIX):]}' for c in pools]
    rows = []
    for _, row in scenarios.iterrows():
        rows.append(f"<tr>{cell(row['scenario'])}{cell(row['kind'])}"
                    + "".join(cell(row[name], fmt, field=name, scenario=row["scenario"]) for name, fmt in fields)
                    + "".join(cell(row[c], point_value, field=c, scenario=row["scenario"]) for c in pools)
                    + "</tr>")
    return section.add(table(headers, rows, key="scenario-table", sortable=True,
                             numeric=range(2, len(headers))))


def _changes(tables: SimulationTables, labels: Labels) -> Section:
    section = Section("scenario-changes", labels["scenario_changes"])
    hospitals = tables.hospitals
    kinds = tables.scenarios.set_index("scenario")["kind"].astype("string")
    named = [s for s in tables.scenarios["scenario"] if kinds.get(s) == "scenario"]
    if not named:
        named = [s for s in tables.scenarios["scenario"] if kinds.get(s) == "sweep"][-1:]
    if not named:
        return section.add(note(labels["no_data"]))
    for number, scenario in enumerate(named[:MAX_SCENARIO_CHARTS]):
        rows = hospitals[hospitals["scenario"].astype("string") == scenario]
        change = pd.to_numeric(rows["change"], errors="coerce").fillna(0.0)
        change.index = rows["hospital_id"].astype(str)
        key = f"scenario_change_{number}"
        title = f'{scenario}: {labels["change_axis"]}'
        svg = charts.sorted_bars(change, rows["level"], name=key, title=title, ylabel=labels["change_axis"],
                                 xlabel=labels["hospital_axis"],
                                 level_name=lambda level: labels("level_n", level=level))
        section.add(figure(key, title, svg))
    if len(named) > MAX_SCENARIO_CHARTS:
        section.add(note(f"{len(named) - MAX_SCENARIO_CHARTS} more: see the hospitals table"))
    return section


def _sweeps(tables: SimulationTables, labels: Labels) -> Section:
    section = Section("sweeps", labels["sweeps"])
    scenarios = tables.scenarios
    sweeps = scenarios[scenarios["kind"].astype("string") == "sweep"]
    pools = _pool_columns(scenarios)
    for number, (key, rows) in enumerate(sweeps.groupby(sweeps["key"].astype("string"), sort=False)):
        values = pd.to_numeric(rows["value"], errors="coerce")
        order = np.argsort(values.to_numpy(), kind="stable")
        rows, x = rows.iloc[order], values.to_numpy()[order]
        series = {c[len(POINT_VALUE_PREFIX):]: pd.to_numeric(rows[c], errors="coerce").to_numpy() for c in pools}
        chart = f"sweep_point_values_{number}"
        svg = charts.line_chart(x, series, name=chart, title=f"{key}: {labels['point_value']}",
                                xlabel=f"{key} ({labels['sweep_value']})", ylabel=labels["point_value"])
        section.add(figure(chart, f"{key}: {labels['point_value']}", svg))
        hospitals = tables.hospitals[tables.hospitals["scenario"].astype("string").isin(rows["scenario"])]
        change = hospitals.pivot_table(index="hospital_id", columns="scenario", values="change", aggfunc="sum")
        change = change.reindex(columns=list(rows["scenario"]))
        affected = change.abs().max(axis=1).sort_values(ascending=False, kind="stable").head(MOST_AFFECTED).index
        series = {hospital: change.loc[hospital].to_numpy(dtype=np.float64) / 10_000.0 for hospital in affected}
        chart = f"sweep_hospitals_{number}"
        svg = charts.line_chart(x, series, name=chart, title=f"{key}: {labels['most_affected']}",
                                xlabel=f"{key} ({labels['sweep_value']})", ylabel=labels["change_axis"])
        section.add(figure(chart, f"{key}: {labels['most_affected']}", svg))
    return section


def _monte_carlo(tables: SimulationTables, labels: Labels) -> Section:
    section = Section("monte-carlo", labels["monte_carlo"])
    hospitals = tables.monte_carlo_hospitals.copy()
    hospitals = hospitals.sort_values("gain_vs_ffs_p50", ascending=False, kind="stable")
    svg = charts.intervals(pd.to_numeric(hospitals["gain_vs_ffs_p5"]) / 10_000.0,
                           pd.to_numeric(hospitals["gain_vs_ffs_p50"]) / 10_000.0,
                           pd.to_numeric(hospitals["gain_vs_ffs_p95"]) / 10_000.0,
                           list(hospitals["hospital_id"].astype(str)), name="mc_intervals",
                           title=labels["mc_intervals"], xlabel=labels["gain_axis"],
                           colours=[charts.level_colour(v) for v in hospitals["level"]])
    section.add(figure("mc_intervals", labels["mc_intervals"], svg))
    fields = [("payment_p50", money), ("gain_vs_ffs_p5", money), ("gain_vs_ffs_p50", money),
              ("gain_vs_ffs_p95", money), ("probability_of_loss", share), ("probability_below_baseline", share)]
    names = {"gain_vs_ffs_p5": "gain_p5", "gain_vs_ffs_p50": "gain_p50", "gain_vs_ffs_p95": "gain_p95"}
    fields = [(name, fmt) for name, fmt in fields if name in hospitals.columns]
    rows = [f"<tr>{cell(row['hospital_id'])}{cell(row['level'], count)}"
            + "".join(cell(row[name], fmt) for name, fmt in fields) + "</tr>" for _, row in hospitals.iterrows()]
    section.add(table([labels["hospital_id"], labels["level"]] + [labels[names.get(n, n)] for n, _ in fields],
                      rows, key="mc-hospitals", sortable=True, numeric=range(1, len(fields) + 2)))
    pools = tables.monte_carlo_pools
    if pools is not None and len(pools):
        svg = charts.intervals(pd.to_numeric(pools["settlement_point_value_p5"]),
                               pd.to_numeric(pools["settlement_point_value_p50"]),
                               pd.to_numeric(pools["settlement_point_value_p95"]), list(pools["pool"].astype(str)),
                               name="mc_pools", title=labels["mc_pools"], xlabel=labels["point_value"],
                               means=pd.to_numeric(pools["settlement_point_value_mean"]))
        section.add(figure("mc_pools", labels["mc_pools"], svg))
        columns = [("draws", count), ("settlement_point_value_mean", point_value),
                   ("settlement_point_value_p5", point_value), ("settlement_point_value_p50", point_value),
                   ("settlement_point_value_p95", point_value)]
        headers = [labels["pool"], labels["draws"], labels["mean"], "P5", "P50", "P95"]
        rows = [f"<tr>{cell(row['pool'])}" + "".join(cell(row[name], fmt, field=name, pool=row["pool"])
                                                    for name, fmt in columns) + "</tr>"
                for _, row in pools.iterrows()]
        section.add(f'<h3>{escape(labels["mc_pools"])}</h3>')
        section.add(table(headers, rows, key="mc-pools", numeric=range(1, len(headers))))
    return section
