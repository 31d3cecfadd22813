"""The HTML report: every section and chart, numbers equal to the tables, both languages, self-contained,
small, the same bytes for the same tables, clear errors; written by drgdip report, settle --report,
simulate --report and drgdip demo.

Then the report in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium over WebDriver). No console errors, every section and chart drawn, Chinese set in a
CJK font, a screenshot that is not blank, numbers read back from the page equal to the tables, the
hospital table sorts and filters, and the page prints to PDF. Those tests are skipped where Chromium is
not installed, except when ``DRGDIP_BROWSER_TESTS=required`` (as in CI).
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from drgdip.cli import main
from drgdip.core.errors import UsageError
from drgdip.report import build_report, write_report
from drgdip.report.data import read_folder

SETTLEMENT_SECTIONS = ("headline", "hospitals", "gain-loss", "cmi-cost", "outliers", "monthly", "clearing",
                       "day-care", "grouping", "indicators")
SETTLEMENT_CHARTS = ("gain_loss", "cmi_cost", "outliers", "monthly", "clearing", "day_care", "grouping_status")
SCENARIO_SECTIONS = ("scenarios", "scenario-changes", "sweeps", "monte-carlo")
SCENARIO_CHARTS = ("scenario_point_values", "scenario_change_0", "sweep_point_values_0", "sweep_hospitals_0",
                   "mc_intervals", "mc_pools")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _cells(html: str, field: str) -> dict[str, str]:
    """Text of the cells of ``field`` keyed by their area / pool / scenario attribute."""
    found = re.findall(rf'<td class="num"[^>]*? data-field="{field}" data-(?:area|pool|scenario)="([^"]*)">'
                       rf"([^<]*)</td>", html)
    return dict(found)


def _table_rows(html: str, key: str) -> int:
    """Rows of the body of table ``key``."""
    body = re.search(rf'<table id="{key}".*?<tbody>(.*?)</tbody>', html, flags=re.S).group(1)
    return body.count("<tr")


def _number(text: str) -> float:
    return float(text.replace(",", "").rstrip("%"))


def test_settle_report_has_every_section_and_chart(report_outputs):
    settled, _ = report_outputs
    html = (settled / "report.html").read_text(encoding="utf-8")
    for key in SETTLEMENT_SECTIONS:
        assert f'data-section="{key}"' in html, key
    for key in SETTLEMENT_CHARTS:
        assert re.search(rf'data-chart="{key}"[^>]*>(<h3>[^<]*</h3>)?<svg', html), key
    hospitals = len(pd.read_parquet(settled / "hospitals.parquet"))
    assert _table_rows(html, "hospital-table") == _table_rows(html, "indicator-table") == hospitals


def test_headline_numbers_are_those_of_the_settlement_tables(report_outputs):
    settled, _ = report_outputs
    html = (settled / "report.html").read_text(encoding="utf-8")
    summary = pd.read_parquet(settled / "summary.parquet")
    pools = pd.read_parquet(settled / "pools.parquet")
    for field in ("budget_total", "final_payments", "reserve_end"):
        shown = _cells(html, field)
        assert {a: _number(v) for a, v in shown.items()} == \
            {str(a): round(float(v), 2) for a, v in zip(summary["area"], summary[field])}
        total = re.search(rf'data-total="{field}">([^<]*)<', html).group(1)
        assert _number(total) == pytest.approx(round(float(summary[field].sum()), 2), abs=0.005)
    for field in ("budget_point_value", "settlement_point_value"):
        shown = _cells(html, field)
        assert {p: _number(v) for p, v in shown.items()} == \
            {str(p): round(float(v), 4) for p, v in zip(pools["pool"], pools[field])}


def test_scenario_report_has_every_section_and_chart_and_the_point_values(report_outputs):
    _, simulated = report_outputs
    html = (simulated / "report.html").read_text(encoding="utf-8")
    for key in SCENARIO_SECTIONS:
        assert f'data-section="{key}"' in html, key
    for key in SCENARIO_CHARTS:
        assert f'data-chart="{key}"' in html, key
    scenarios = pd.read_csv(simulated / "scenarios.csv", dtype={"scenario": str})
    column = next(c for c in scenarios.columns if c.startswith("point_value:"))
    shown = _cells(html, re.escape(column))
    assert {s: _number(v) for s, v in shown.items()} == \
        {s: round(float(v), 4) for s, v in zip(scenarios["scenario"], scenarios[column])}
    pools = pd.read_csv(simulated / "monte_carlo_pools.csv", dtype={"pool": str})
    shown = _cells(html, "settlement_point_value_p50")
    assert {p: _number(v) for p, v in shown.items()} == \
        {p: round(float(v), 4) for p, v in zip(pools["pool"], pools["settlement_point_value_p50"])}


def test_labels_follow_the_language(report_outputs):
    settled, simulated = report_outputs
    chinese = build_report([settled, simulated], lang="zh")
    english = build_report([settled, simulated], lang="en")
    for term in ("结算点值", "病例组合指数 CMI", "结余留用", "超支分担", "预算点值", "蒙特卡洛"):
        assert term in chinese, term
        assert term not in english, term
    assert "Settlement point value" in english and 'lang="en"' in english
    # what is left in Chinese in English is data: hospital names and regions as the tables give them
    visible = re.sub(r"<[^>]+>", " ", english)
    names = set(pd.read_parquet(settled / "hospitals.parquet")["name"].astype(str))
    leftover = {word for word in re.findall(r"[^\s<>]*[\u4e00-\u9fff][^\s<>]*", visible)} - names
    assert not leftover


def test_both_folders_in_one_report_keep_anchors_unique(report_outputs):
    html = build_report(list(report_outputs))
    ids = re.findall(r'<section id="([^"]+)"', html)
    assert len(ids) == len(set(ids)) == len(SETTLEMENT_SECTIONS) + len(SCENARIO_SECTIONS)


def test_the_report_is_self_contained(report_outputs):
    html = build_report(list(report_outputs))
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)=', html)
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", html)
    links = re.findall(r'\bhref="([^"]*)"', html)
    assert links and all(link.startswith(("#", "data:")) for link in links)
    assert "@media print" in html


def test_same_tables_same_bytes(report_outputs):
    assert build_report(list(report_outputs)) == build_report(list(report_outputs))


def test_csv_and_parquet_folders_give_the_same_report(report_outputs, tmp_path):
    settled, _ = report_outputs
    as_csv = tmp_path / "settled"
    as_csv.mkdir()
    for path in settled.glob("*.parquet"):
        pd.read_parquet(path).to_csv(as_csv / f"{path.stem}.csv", index=False)
    source = "folder"
    assert build_report(as_csv, source=source) == build_report(settled, source=source)


def test_a_thousand_hospital_province_stays_under_5_mb(report_outputs, tmp_path):
    settled, _ = report_outputs
    big = tmp_path / "big"
    big.mkdir()
    copies = 50   # 20 demo hospitals x 50
    for path in settled.glob("*.parquet"):
        frame = pd.read_parquet(path)
        if "hospital_id" in frame.columns and path.stem != "clearing":
            parts = []
            for copy in range(copies):
                part = frame.copy()
                part["hospital_id"] = part["hospital_id"].astype(str) + f"-{copy:02d}"
                parts.append(part)
            frame = pd.concat(parts, ignore_index=True)
        frame.to_parquet(big / path.name)
    assert read_folder(big).hospitals.shape[0] == 1000
    written = write_report(big, tmp_path / "big.html")
    assert 0 < written.size < 5_000_000
    assert _table_rows((tmp_path / "big.html").read_text(encoding="utf-8"), "hospital-table") == 1000


def test_a_folder_without_tables_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(UsageError, match="drgdip settle or drgdip simulate") as error:
        build_report(tmp_path)
    assert error.value.file == str(tmp_path)
    assert main(["report", "--input", str(tmp_path / "missing"), "--output", str(tmp_path / "r.html")]) == 2
    message = capsys.readouterr().err
    assert "missing" in message and "Traceback" not in message
    assert not (tmp_path / "r.html").exists()


def test_drgdip_report_command_writes_one_file(report_outputs, tmp_path, capsys):
    settled, simulated = report_outputs
    target = tmp_path / "out" / "report.html"
    assert main(["report", "--input", str(settled), "--input", str(simulated), "--output", str(target),
                 "--lang", "en"]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    html = target.read_text(encoding="utf-8")
    assert "Headline figures" in html and "Monte Carlo" in html
    assert not list(target.parent.glob("*.partial"))


def test_demo_writes_the_report_and_says_where(tmp_path, capsys):
    from drgdip.demo import run_demo

    target = tmp_path / "demo.html"
    assert run_demo(cases=1500, report=target) == 0
    assert f"report: wrote {target}" in capsys.readouterr().out
    html = target.read_text(encoding="utf-8")
    assert 'data-section="headline"' in html and "drgdip demo" in html


# ---- in a real browser ----

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None or CHROMEDRIVER is None:
        message = "headless Chromium is not installed (apt-get install chromium chromium-driver fonts-noto-cjk)"
        if os.environ.get("DRGDIP_BROWSER_TESTS") == "required":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--lang=zh-CN"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(browser, report_outputs, tmp_path_factory):
    """The settlement and scenario report of the demo province, open in the browser."""
    path = tmp_path_factory.mktemp("browser") / "report.html"
    write_report(list(report_outputs), path)
    browser.get(path.as_uri())
    browser.get_log("browser")   # what loading said is checked by the first test, here reset
    browser.get(path.as_uri())
    return browser


def _severe(driver) -> list:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_no_console_errors_and_every_section_and_chart_drawn(page):
    assert _severe(page) == []
    for prefix, keys in (("p0-", SETTLEMENT_SECTIONS), ("p1-", SCENARIO_SECTIONS)):
        for key in keys:
            assert page.find_element("id", prefix + key).is_displayed(), key
    for key in SETTLEMENT_CHARTS + SCENARIO_CHARTS:
        box = page.execute_script(
            "const r = document.querySelector(`[data-chart-svg='${arguments[0]}']`).getBoundingClientRect();"
            "return [r.width, r.height];", key)
        assert box[0] > 200 and box[1] > 100, (key, box)
        marks = page.execute_script(
            "return document.querySelector(`[data-chart-svg='${arguments[0]}']`)"
            ".querySelectorAll('path, use, image, rect').length;", key)
        assert marks > 5, key


def test_chinese_is_set_in_a_cjk_font(page):
    """Two different characters drawn in the page's font differ only when a font has their glyphs
    (without one both are the same empty box)."""
    differs = page.execute_script("""
        const font = getComputedStyle(document.querySelector('h1')).fontFamily;
        function pixels(text) {
            const canvas = document.createElement('canvas');
            canvas.width = 64; canvas.height = 40;
            const context = canvas.getContext('2d');
            context.font = '32px ' + font;
            context.fillText(text, 2, 32);
            return Array.from(context.getImageData(0, 0, 64, 40).data).join(',');
        }
        return [pixels('点'), pixels('值'), pixels('\\u{10FFFD}')];""")
    assert differs[0] != differs[1]
    assert differs[0] != differs[2]
    assert "结算点值" in page.find_element("id", "p0-headline").text


def test_a_screenshot_is_not_blank(page):
    from matplotlib.image import imread

    image = imread(io.BytesIO(page.get_screenshot_as_png()), format="png")
    pixels = image[..., :3].reshape(-1, 3)
    background = np.all(pixels > 0.95, axis=1).mean()
    assert background < 0.9
    assert len(np.unique((pixels * 255).astype(np.uint8), axis=0)) > 50


def test_headline_numbers_read_back_equal_the_tables(page, report_outputs):
    settled, _ = report_outputs
    summary = pd.read_parquet(settled / "summary.parquet")
    pools = pd.read_parquet(settled / "pools.parquet")

    def shown(field, key):
        cells = page.find_elements("css selector", f"#p0-headline td[data-field='{field}']")
        return {c.get_attribute(f"data-{key}"): float(c.text.replace(",", "")) for c in cells}

    for field in ("budget_total", "final_payments", "reserve_end"):
        assert shown(field, "area") == {str(a): round(float(v), 2) for a, v in zip(summary["area"], summary[field])}
        card = page.find_element("css selector", f"[data-total='{field}']").text
        assert float(card.replace(",", "")) == pytest.approx(round(float(summary[field].sum()), 2), abs=0.005)
    for field in ("budget_point_value", "settlement_point_value"):
        assert shown(field, "pool") == {str(p): round(float(v), 4) for p, v in zip(pools["pool"], pools[field])}


def test_the_hospital_table_sorts_and_filters(page, report_outputs):
    settled, _ = report_outputs
    hospitals = pd.read_parquet(settled / "hospitals.parquet")
    table = page.find_element("id", "hospital-table")
    heads = table.find_elements("css selector", "thead th")
    gain = next(i for i, h in enumerate(heads) if h.text.startswith("与按项目付费相比"))
    page.execute_script("arguments[0].scrollIntoView(); arguments[0].click();", heads[gain])
    values = page.execute_script(
        "return Array.from(arguments[0].tBodies[0].rows).map(r => parseFloat(r.cells[arguments[1]].dataset.v));",
        table, gain)
    assert values == sorted(hospitals["gain_vs_ffs"].astype(float))
    page.execute_script("arguments[0].click();", heads[gain])
    first = page.execute_script("return arguments[0].tBodies[0].rows[0].cells[0].textContent;", table)
    assert first == hospitals.loc[hospitals["gain_vs_ffs"].idxmax(), "hospital_id"]

    target = str(hospitals["hospital_id"].iloc[3])
    search = page.find_element("css selector", "#p0-hospitals .filter-text")
    search.send_keys(target)
    visible = [r.find_element("css selector", "td").text for r in table.find_elements("css selector", "tbody tr")
               if r.is_displayed()]
    assert visible == [target]
    assert page.find_element("css selector", "#p0-hospitals .rows-shown").text == f"显示 1 / {len(hospitals)} 家医院"
    search.clear()
    page.execute_script("arguments[0].dispatchEvent(new Event('input'));", search)
    level = page.find_element("css selector", "#p0-hospitals .filter-level")
    page.execute_script("arguments[0].value = '3'; arguments[0].dispatchEvent(new Event('change'));", level)
    shown = sum(r.is_displayed() for r in table.find_elements("css selector", "tbody tr"))
    assert shown == int((hospitals["level"] == 3).sum()) > 0
    assert _severe(page) == []


def test_the_page_prints_to_pdf(page):
    pdf = base64.b64decode(page.print_page())
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000
