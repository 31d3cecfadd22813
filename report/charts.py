"""The report's charts, drawn by matplotlib as inline SVG with real text (so that Chinese labels are set
by the browser's CJK font, stay searchable and print sharp).

Each function takes plain tables and returns the ``<svg>`` element as text. Figures are made without
pyplot (no global state), with a fixed hash salt and no date, so the same tables give the same bytes.
"""

from __future__ import annotations

import io
import logging
import re
from contextlib import contextmanager
from html import escape

import numpy as np
import pandas as pd

__all__ = ["LEVEL_COLOURS", "level_colour", "bar_chart", "grouped_bars", "sorted_bars", "scatter_by_level", "stacked_shares",
           "monthly_bars", "heatmap", "line_chart", "intervals"]

# CJK fonts first: the SVG names them and the browser picks the first it has
FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "WenQuanYi Zen Hei",
         "SimHei", "DejaVu Sans"]
LEVEL_COLOURS = {3: "#1f5f99", 2: "#e08a1e", 1: "#3a9a4a"}
OTHER_COLOUR = "#8c8c8c"
SERIES_COLOURS = ("#1f5f99", "#e08a1e", "#3a9a4a", "#c0392b", "#7d5ba6", "#8c564b", "#d35f9e", "#5f6b6d",
                  "#b5a319", "#17a2b8")
WIDE = (9.0, 3.6)
SQUARE = (6.0, 4.2)


def level_colour(level) -> str:
    try:
        return LEVEL_COLOURS.get(int(level), OTHER_COLOUR)
    except (TypeError, ValueError):
        return OTHER_COLOUR


STYLE = {"svg.fonttype": "none", "font.family": "sans-serif", "font.sans-serif": FONTS, "font.size": 9,
         "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 10, "legend.frameon": False,
         "axes.unicode_minus": False}


@contextmanager
def _drawing(size, name: str):
    """A figure under the report's style (its SVG ids salted by the chart's name, unique in the page)."""
    import matplotlib
    from matplotlib.figure import Figure

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)   # CJK fonts are the browser's job
    with matplotlib.rc_context({**STYLE, "svg.hashsalt": f"drgdip-{name}"}):
        yield Figure(figsize=size, layout="constrained")


def _svg(figure, name: str, title: str) -> str:
    """The figure as an inline ``<svg>`` that scales with the page, titled for screen readers."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, count=1, flags=re.S)
    # scale down with the page, never up past the drawn size
    text = re.sub(r'<svg([^>]*?) width="([0-9.]+)pt" height="[^"]*"',
                  lambda m: f'<svg{m.group(1)} data-chart-svg="{name}" role="img" '
                            f'style="max-width: {float(m.group(2)) * 4 / 3:.0f}px"', text, count=1)
    return text.replace(">", f"><title>{escape(title)}</title>", 1)


def _wan(values) -> np.ndarray:
    """Yuan in 万元 (10,000 yuan), the unit of money charts."""
    return np.asarray(values, dtype=np.float64) / 10_000.0


def sorted_bars(values: pd.Series, levels: pd.Series, *, name: str, title: str, ylabel: str, xlabel: str,
                level_name) -> str:
    """One bar per hospital, sorted by value, coloured by level (hospital ids as ticks when few)."""
    order = np.argsort(-values.to_numpy(dtype=np.float64), kind="stable")
    shown = values.iloc[order]
    colours = [level_colour(levels.iloc[i]) for i in order]
    with _drawing(WIDE, name) as figure:
        axes = figure.add_subplot()
        positions = np.arange(len(shown))
        _bars(axes, positions, _wan(shown), colours)
        axes.axhline(0, color="#333333", linewidth=0.6)
        axes.set_ylabel(ylabel)
        axes.set_xlabel(xlabel)
        if len(shown) <= 40:
            axes.set_xticks(positions, [str(label) for label in shown.index], rotation=90, fontsize=7)
        else:
            axes.set_xticks([])
        _level_legend(axes, levels, level_name)
        return _svg(figure, name, title)


def _bars(axes, positions: np.ndarray, heights: np.ndarray, colours: list[str], width: float = 0.85) -> None:
    """Vertical bars; past a hundred, drawn as one polygon collection (a thousand hospitals in a quarter
    of the time and a smaller file than as separate bars)."""
    if len(positions) <= 100:
        axes.bar(positions, heights, color=colours, width=width)
        return
    from matplotlib.collections import PolyCollection

    half = width / 2
    corners = np.stack([np.column_stack([positions - half, np.zeros_like(heights)]),
                        np.column_stack([positions - half, heights]),
                        np.column_stack([positions + half, heights]),
                        np.column_stack([positions + half, np.zeros_like(heights)])], axis=1)
    axes.add_collection(PolyCollection(corners, facecolors=colours, linewidths=0))
    axes.autoscale_view()


def _level_legend(axes, levels: pd.Series, level_name) -> None:
    from matplotlib.patches import Patch

    present = sorted({int(v) for v in pd.to_numeric(levels, errors="coerce").dropna()}, reverse=True)
    handles = [Patch(color=level_colour(level), label=level_name(level)) for level in present]
    if handles:
        axes.legend(handles=handles, loc="best", fontsize=8)


def scatter_by_level(x: pd.Series, y: pd.Series, levels: pd.Series, *, name: str, title: str, xlabel: str,
                     ylabel: str, level_name) -> str:
    """Hospitals as points, one colour per level."""
    with _drawing(SQUARE, name) as figure:
        axes = figure.add_subplot()
        numeric = pd.to_numeric(levels, errors="coerce")
        for level in sorted(numeric.dropna().unique(), reverse=True):
            hit = (numeric == level).to_numpy()
            axes.scatter(x.to_numpy()[hit], y.to_numpy()[hit], s=18, color=level_colour(level), alpha=0.8,
                         label=level_name(int(level)), linewidths=0)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        axes.legend(fontsize=8)
        return _svg(figure, name, title)


def stacked_shares(shares: pd.DataFrame, *, name: str, title: str, xlabel: str, colours=None) -> str:
    """Horizontal bars of shares summing to one per row (rows: categories such as hospital levels)."""
    with _drawing((9.0, 0.6 + 0.45 * max(len(shares), 1)), name) as figure:
        axes = figure.add_subplot()
        left = np.zeros(len(shares))
        rows = np.arange(len(shares))
        for i, column in enumerate(shares.columns):
            width = shares[column].to_numpy(dtype=np.float64)
            colour = (colours or {}).get(column, SERIES_COLOURS[i % len(SERIES_COLOURS)])
            axes.barh(rows, width, left=left, color=colour, label=str(column), height=0.6)
            left += width
        axes.set_yticks(rows, [str(i) for i in shares.index])
        axes.set_xlim(0, 1)
        axes.set_xlabel(xlabel)
        axes.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        axes.legend(ncol=min(len(shares.columns), 7), loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8)
        return _svg(figure, name, title)


def bar_chart(values: pd.Series, *, name: str, title: str, ylabel: str, horizontal: bool = False,
              colour: str = SERIES_COLOURS[0]) -> str:
    """Plain bars, one per entry of ``values`` (labels from its index)."""
    size = (9.0, 0.6 + 0.3 * max(len(values), 1)) if horizontal else WIDE
    with _drawing(size, name) as figure:
        axes = figure.add_subplot()
        positions = np.arange(len(values))
        labels = [str(label) for label in values.index]
        if horizontal:
            bars = axes.barh(positions, values.to_numpy(dtype=np.float64), color=colour, height=0.7)
            axes.bar_label(bars, labels=[f"{v:,.0f}" for v in values.to_numpy(dtype=np.float64)], padding=3,
                           fontsize=7)
            axes.set_yticks(positions, labels, fontsize=8)
            axes.invert_yaxis()
            axes.set_xlabel(ylabel)
        else:
            axes.bar(positions, values.to_numpy(dtype=np.float64), color=colour, width=0.7)
            axes.set_xticks(positions, labels, rotation=30 if len(values) > 6 else 0, ha="right" if len(values) > 6
                            else "center", fontsize=8)
            axes.set_ylabel(ylabel)
        return _svg(figure, name, title)


def grouped_bars(table: pd.DataFrame, *, name: str, title: str, ylabel: str, ylim=None) -> str:
    """Bars grouped by the rows of ``table``, one colour per column."""
    with _drawing(WIDE, name) as figure:
        axes = figure.add_subplot()
        count = max(len(table.columns), 1)
        width = 0.8 / count
        positions = np.arange(len(table))
        for i, column in enumerate(table.columns):
            axes.bar(positions + (i - (count - 1) / 2) * width, table[column].to_numpy(dtype=np.float64), width,
                     color=SERIES_COLOURS[i % len(SERIES_COLOURS)], label=str(column))
        axes.set_xticks(positions, [str(i) for i in table.index], fontsize=8)
        axes.set_ylabel(ylabel)
        if ylim is not None:
            axes.set_ylim(*ylim)
        axes.legend(fontsize=8, ncol=min(count, 5))
        return _svg(figure, name, title)


def monthly_bars(monthly: pd.Series, clearing: float, *, name: str, title: str, xlabel: str, ylabel: str,
                 prepayment_label: str, clearing_label: str) -> str:
    """Each month's prepayment, then the year-end clearing as a last bar of its own colour."""
    with _drawing(WIDE, name) as figure:
        axes = figure.add_subplot()
        positions = np.arange(len(monthly))
        axes.bar(positions, _wan(monthly), color=SERIES_COLOURS[0], label=prepayment_label, width=0.7)
        axes.bar([len(monthly)], _wan([clearing]), color=SERIES_COLOURS[3], label=clearing_label, width=0.7)
        axes.axhline(0, color="#333333", linewidth=0.6)
        axes.set_xticks(list(positions) + [len(monthly)], [str(m) for m in monthly.index] + [clearing_label],
                        fontsize=8)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        axes.legend(fontsize=8)
        return _svg(figure, name, title)


def heatmap(matrix: pd.DataFrame, *, name: str, title: str, xlabel: str, ylabel: str) -> str:
    """A matrix as coloured cells (values written in the cells when the matrix is small)."""
    size = max(len(matrix.columns), len(matrix))
    with _drawing((min(3.0 + 0.5 * size, 10.0), min(2.5 + 0.4 * len(matrix), 9.0)), name) as figure:
        axes = figure.add_subplot()
        values = matrix.to_numpy(dtype=np.float64)
        image = axes.imshow(_wan(values), cmap="Blues", aspect="auto")
        axes.set_xticks(np.arange(len(matrix.columns)), [str(c) for c in matrix.columns], rotation=45, ha="right",
                        fontsize=8)
        axes.set_yticks(np.arange(len(matrix)), [str(i) for i in matrix.index], fontsize=8)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        if size <= 12:
            top = np.nanmax(values) if values.size else 0.0
            for (row, column), value in np.ndenumerate(values):
                axes.text(column, row, f"{value / 10_000:,.1f}", ha="center", va="center", fontsize=7,
                          color="white" if top and value > 0.6 * top else "#222222")
        figure.colorbar(image, ax=axes, shrink=0.8)
        return _svg(figure, name, title)


def line_chart(x, series: dict, *, name: str, title: str, xlabel: str, ylabel: str) -> str:
    """One line with markers per entry of ``series`` (label → y values at ``x``)."""
    with _drawing(SQUARE, name) as figure:
        axes = figure.add_subplot()
        for i, (label, values) in enumerate(series.items()):
            axes.plot(x, values, marker="o", markersize=3.5, color=SERIES_COLOURS[i % len(SERIES_COLOURS)],
                      label=str(label))
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        if series:
            axes.legend(fontsize=7)
        return _svg(figure, name, title)


def intervals(low, middle, high, labels, *, name: str, title: str, xlabel: str, colours=None,
              means=None) -> str:
    """One horizontal P5–P95 line per row with a dot at the median (and a tick at the mean if given)."""
    count = len(labels)
    with _drawing((9.0, min(1.0 + 0.18 * max(count, 1), 24.0)), name) as figure:
        axes = figure.add_subplot()
        rows = np.arange(count)
        colours = colours or [SERIES_COLOURS[0]] * count
        axes.hlines(rows, low, high, colors=colours, linewidth=1.6)
        axes.scatter(middle, rows, s=14, color=colours, zorder=3)
        if means is not None:
            axes.scatter(means, rows, s=30, marker="|", color="#222222", zorder=4)
        if np.nanmin(low) < 0 < np.nanmax(high):
            axes.axvline(0, color="#999999", linewidth=0.5)
        axes.set_yticks(rows, [str(label) for label in labels], fontsize=7 if count <= 60 else 0)
        if count > 60:
            axes.set_yticks([])
        axes.invert_yaxis()
        axes.set_xlabel(xlabel)
        return _svg(figure, name, title)
