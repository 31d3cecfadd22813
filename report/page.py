"""The report as one self-contained HTML file: styles, script, data and charts inline, nothing fetched."""

from __future__ import annotations

import time
from html import escape
from importlib import resources
from pathlib import Path

from drgdip.core.atomic import write_text_atomic
from drgdip.core.errors import UsageError
from drgdip.report.data import SettlementTables, read_folder
from drgdip.report.html import Section
from drgdip.report.labels import Labels

__all__ = ["build_report", "write_report", "ReportWritten"]


def _asset(name: str) -> str:
    return resources.files("drgdip.report").joinpath("assets", name).read_text(encoding="utf-8")


def build_report(folders, *, lang: str = "zh", source: str | None = None) -> str:
    """The HTML of a report over output folders of ``drgdip settle`` and ``drgdip simulate`` (one or more,
    each adding its pages in the order given); ``source`` says where the tables came from (default: the
    folders' names)."""
    from drgdip.report.scenario_pages import scenario_sections
    from drgdip.report.settlement_pages import settlement_sections

    labels = Labels(lang)
    folders = [folders] if isinstance(folders, (str, Path)) else list(folders)
    if not folders:
        raise UsageError("give at least one output folder of drgdip settle or drgdip simulate", field="input")
    parts: list[tuple[str, list[Section]]] = []
    title = labels["report_title"]
    for folder in folders:
        tables = read_folder(folder)
        if isinstance(tables, SettlementTables):
            year = tables.summary["year"].iloc[0] if "year" in tables.summary.columns and len(tables.summary) \
                else ""
            part_title = labels("settlement_title", year=year).strip()
            parts.append((part_title, settlement_sections(tables, labels)))
        else:
            part_title = labels["simulation_title"]
            parts.append((part_title, scenario_sections(tables, labels)))
        if len(parts) == 1:
            title = part_title
    source = source or ", ".join(Path(f).name or str(f) for f in folders)
    return _page(title, parts, source, labels)


def _page(title: str, parts, source: str, labels: Labels) -> str:
    many = len(parts) > 1
    links, bodies = [], []
    for number, (part_title, sections) in enumerate(parts):
        prefix = f"p{number}-" if many else ""
        if many:
            bodies.append(f'<h2 class="part" id="part-{number}">{escape(part_title)}</h2>')
        for section in sections:
            anchor = prefix + section.key
            links.append(f'<li><a href="#{anchor}">{escape(section.title)}</a></li>')
            bodies.append(f'<section id="{anchor}" data-section="{section.key}"><h2>{escape(section.title)}</h2>'
                          f'{"".join(section.body)}</section>')
    html_lang = "zh-CN" if labels.lang == "zh" else "en"
    return (f'<!DOCTYPE html>\n<html lang="{html_lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="drgdip"><title>{escape(title)}</title>'
            f"<style>{_asset('report.css')}</style></head><body>"
            f'<header><h1>{escape(title)}</h1><p class="meta">{escape(labels("made_by", folder=source))}</p>'
            f'<nav aria-label="{escape(labels["contents"])}"><ol>{"".join(links)}</ol></nav></header>'
            f'<main>{"".join(bodies)}</main><script>{_asset("report.js")}</script></body></html>\n')


class ReportWritten:
    """Where a report went, its size and how long it took (for the closing summary line)."""

    def __init__(self, path: Path, seconds: float):
        self.path = path
        self.seconds = seconds
        self.size = path.stat().st_size

    def summary(self) -> str:
        return f"wrote {self.path} ({self.size / 1e6:.1f} MB) in {self.seconds:.1f} s: open it in a browser"


def write_report(folders, output, *, lang: str = "zh", source: str | None = None) -> ReportWritten:
    """Build the report of ``folders`` and write it to ``output`` (atomically: never half a file there)."""
    started = time.perf_counter()
    html = build_report(folders, lang=lang, source=source)
    output = Path(output)
    if output.is_dir():
        output = output / "report.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output, html)
    return ReportWritten(output, time.perf_counter() - started)
