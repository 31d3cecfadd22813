"""Small HTML pieces of the report: escaped text, numbers as agencies read them, tables, figures."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

import pandas as pd

__all__ = ["Section", "money", "points", "point_value", "ratio", "share", "count", "cell", "table", "figure",
           "note"]


@dataclass
class Section:
    """One section of the page: an anchor, a heading and its HTML body."""

    key: str
    title: str
    body: list[str] = field(default_factory=list)

    def add(self, html: str) -> "Section":
        self.body.append(html)
        return self


def _finite(value) -> bool:
    try:
        return value is not None and not pd.isna(value) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _number(spec: str):
    """A formatter of finite numbers by a format spec (an en dash for a missing one)."""
    def format_number(value) -> str:
        return format(float(value), spec) if _finite(value) else "–"
    return format_number


money = _number(",.2f")          # yuan: two decimals, thousands separators
points = _number(",.2f")
point_value = _number(",.4f")    # yuan per point, four decimals as point values are published
ratio = _number(",.4f")
share = _number(".1%")


def count(value) -> str:
    return f"{int(value):,}" if _finite(value) else "–"


def cell(value, formatter=None, **data) -> str:
    """A ``<td>``; numbers carry their raw value (``data-v``) for sorting, ``data`` more attributes."""
    attributes = "".join(f' data-{escape(k.replace("_", "-"))}="{escape(str(v))}"' for k, v in data.items())
    if formatter is None:
        return f"<td{attributes}>{escape(str(value)) if _present(value) else '–'}</td>"
    raw = f' data-v="{float(value):.12g}"' if _finite(value) else ""
    return f'<td class="num"{raw}{attributes}>{escape(formatter(value))}</td>'


def _present(value) -> bool:
    try:
        return not pd.isna(value)
    except (TypeError, ValueError):
        return True


def table(headers: list[str], rows: list[str], *, key: str, sortable: bool = False, numeric=()) -> str:
    """A table of pre-rendered ``<tr>`` rows; ``numeric`` marks the right-aligned columns."""
    heads = "".join(f'<th{" class=num" if i in numeric else ""} scope="col">{escape(h)}</th>'
                    for i, h in enumerate(headers))
    kind = ' class="sortable"' if sortable else ""
    return (f'<div class="table-wrap"><table id="{escape(key)}" data-table="{escape(key)}"{kind}>'
            f"<thead><tr>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def figure(key: str, title: str, svg: str, caption: str = "") -> str:
    """A chart with its heading (none when the section's says it) and a note below it."""
    heading = f"<h3>{escape(title)}</h3>" if title else ""
    note_html = f'<p class="note">{escape(caption)}</p>' if caption else ""
    return (f'<figure class="chart" data-chart="{escape(key)}" id="chart-{escape(key)}">'
            f"{heading}{svg}{note_html}</figure>")


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'
