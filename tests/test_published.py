"""Published city DRG tables: every one of the 27 files of ``../shared/payment`` reads as it is, ships byte for
byte, and bad cells are errors naming the file, the line and the column."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drgdip.core.errors import UsageError
from drgdip.core.resources import payment_tables_dir
from drgdip.pointvalue.published import (WeightsFile, decode_table, is_published_table, load_header_map,
                                         published_table_info, published_table_names, published_table_path,
                                         read_published_table)

SHARED_PAYMENT = Path(__file__).resolve().parents[2] / "shared" / "payment"
INFO = published_table_info()
UPSTREAM = {name: SHARED_PAYMENT / row["published_as"] for name, row in INFO.iterrows()}


def _readme_rows() -> dict[str, tuple[str, list[str]]]:
    """``{published file: (encoding, header)}`` from the table in ``../shared/payment/README.md``."""
    rows = {}
    for line in (SHARED_PAYMENT / "README.md").read_text(encoding="utf-8").splitlines():
        found = re.match(r"\| `(.+\.csv)` \| (\S+) \| \d+ \| (.+) \|$", line)
        if found:
            rows[found.group(1)] = (found.group(2), found.group(3).split(","))
    return rows


README = _readme_rows()


def test_the_shipped_tables_are_the_shared_ones_byte_for_byte():
    shared = sorted(p.name for p in SHARED_PAYMENT.glob("*.csv"))
    assert len(shared) == 27 and sorted(INFO["published_as"]) == shared
    assert sorted(README) == shared
    for name in published_table_names():
        assert published_table_path(name).read_bytes() == UPSTREAM[name].read_bytes(), name
    shipped = sorted(p.stem for p in payment_tables_dir().glob("*.csv") if p.name != "index.csv")
    assert shipped == sorted(published_table_names())
    licence = (payment_tables_dir() / "LICENSE-OpenDRG-Apache-2.0.txt").read_bytes()
    assert licence == (SHARED_PAYMENT / "LICENSE-OpenDRG-Apache-2.0.txt").read_bytes()
    assert "164c3f6cf898c2a5a2950513a5a7f658fe23f932" in (payment_tables_dir() / "README.md").read_text("utf-8")


def _data_lines(path: Path, encoding: str) -> list[str]:
    """The non-blank lines after the header, split by plain text means (no CSV parser)."""
    text = path.read_bytes().decode(encoding)
    return [line for line in text.splitlines() if line.strip()][1:]


@pytest.mark.parametrize("name", published_table_names())
def test_every_table_reads_every_row_and_column(name):
    path = UPSTREAM[name]
    encoding, header = README[path.name]
    table = read_published_table(path)   # the file in ../shared as it is
    shipped = read_published_table(name)
    pd.testing.assert_frame_equal(table.frame, shipped.frame)

    assert table.encoding == encoding
    lines = _data_lines(path, encoding)
    assert len(table.frame) == len(lines)
    assert table.frame["group"].tolist() == [line.split(",", 1)[0].strip() for line in lines]
    assert table.frame["line"].iloc[0] == 2 and table.frame["line"].iloc[-1] == len(lines) + 1

    # every header is read: as a field of the header map or as an extra column, in file order
    assert [c.header for c in table.columns] == header
    mapped = load_header_map().columns
    assert list(table.extra_columns) == [h for h in header if h not in mapped]
    assert set(table.fields) == {mapped[h][0] for h in header if h in mapped}
    assert len(table.columns_of("payment_standard")) == sum("支付标准" in h for h in header)
    assert len(table.columns_of("level_coef")) == sum("系数" in h for h in header)
    assert len(table.columns_of("base_rate")) == sum(h.startswith(("费率", "基础费率")) for h in header)
    assert ("rw" in table.fields) == any(h in ("RW", "权重", "初始权重") for h in header)

    # numbers as written: the RW (or score) of every row with a number there, missing where the cell is not one
    weight_header = next(h for h in header if h in ("RW", "权重", "初始权重", "标准分值"))
    position = header.index(weight_header)
    cells = [next(csv.reader([line])) for line in lines]
    written = [row[position].strip() if position < len(row) else "" for row in cells]
    numeric = np.array([bool(re.fullmatch(r"\d+(\.\d+)?", w)) for w in written])
    values = table.frame["rw" if weight_header != "标准分值" else "standard_score"].to_numpy()
    np.testing.assert_array_equal(values[numeric], [float(w) for w, ok in zip(written, numeric) if ok])
    assert np.isnan(values[~numeric]).all()

    # the weight table: the groups listed once with a positive weight, base points = RW × 100
    weights = table.weights.frame
    once = ~table.frame["group"].duplicated(keep=False).to_numpy()
    covered = table.frame["covered"].to_numpy(dtype=bool) if "covered" in table.frame else np.ones(len(once), bool)
    usable = once & covered & (np.nan_to_num(values) > 0)
    assert weights["group"].tolist() == table.frame["group"][usable].tolist()
    if "rw" in table.fields:
        np.testing.assert_allclose(weights["base_points"], weights["rw"] * 100)


def test_a_table_says_what_it_holds():
    qingdao = read_published_table("qingdao-2023")
    standards = qingdao.payment_standards
    assert list(standards.columns) == [("青医/市立/齐鲁/青医平度", ""), ("三级", ""), ("二级", ""), ("一级", "")]
    assert standards.loc["AA19", ("三级", "")] == 287911.538
    linyi = read_published_table("linyi-2022")
    assert linyi.payment_standards.loc["ZZ15", ("二级", "resident")] == 6460.76
    assert linyi.weights.frame.set_index("group").loc["ZZ15", "rw"] == 0.76
    assert "AA19" not in set(linyi.weights.frame["group"])    # RW and standards blank: not published
    lanzhou = read_published_table("lanzhou-2023")
    assert lanzhou.tiers == ("省三甲", "三甲", "三级", "二级")
    assert lanzhou.level_coefs.loc["ZZ14", ("二级", "")] == 0.7487
    assert lanzhou.base_rates.loc["ZZ14", ("", "employee")] == 9986.9352
    uncovered = lanzhou.frame.loc[lanzhou.frame["group"] == "AA19", "unpriced_reason"].item()
    assert uncovered == "not_covered"
    basic = lanzhou.frame.set_index("group")["is_basic"]
    assert int(basic.sum()) == 35   # 基础病组 rows of the file
    changsha = read_published_table("changsha-2023")
    assert int((~changsha.frame["stable"]).sum()) == 44 and int(changsha.frame["is_basic"].sum()) == 14
    assert any("fewer cells than the header (lines 244, 245, 502, 503)" in note for note in changsha.notes)
    beijing = read_published_table("beijing-2022")
    assert beijing.frame.set_index("group")["rw"].isna().sum() == 49   # 按项目据实支付
    urumqi = read_published_table("wlmq-2022")
    assert any("DR13 is listed 2 times (lines 31, 124)" in note for note in urumqi.notes)
    assert "DR13" not in set(urumqi.weights.frame["group"])


def test_extra_columns_are_kept():
    wuhan = read_published_table("wuhan-2022")
    assert wuhan.extra_columns == ("备注",)
    frame = wuhan.frame.set_index("line")
    assert frame.loc[18, "group"] == "BD1B" and frame.loc[18, "备注"] == "脊髓神经根射频消融 参照BJ1B支付"
    lines = _data_lines(UPSTREAM["wuhan-2022"], "gb18030")
    assert frame["备注"].ne("").sum() == sum(bool(next(csv.reader([line]))[3].strip()) for line in lines)
    assert wuhan.weights.frame.set_index("group").loc["BD1B", "备注"] == "脊髓神经根射频消融 参照BJ1B支付"


def test_an_unknown_header_becomes_an_extra_column(tmp_path):
    def add_column(lines):
        for i, line in enumerate(lines):
            if line:
                lines[i] = line + ("," + ("医保编码" if i == 0 else f"C{i:04d}"))

    path = _copy(tmp_path, "beijing-2022", add_column)
    table = read_published_table(path)
    assert table.extra_columns == ("医保编码",) and table.encoding == "gb18030"
    assert table.frame["医保编码"].tolist() == [f"C{i:04d}" for i in range(1, len(table.frame) + 1)]
    pd.testing.assert_frame_equal(table.frame.drop(columns="医保编码"), read_published_table("beijing-2022").frame)


def _copy(tmp_path: Path, name: str, edit) -> Path:
    """A copy of a shipped table with ``edit(lines)`` applied to its decoded lines, written in its encoding."""
    source = published_table_path(name)
    text, encoding = decode_table(source.read_bytes(), str(source))
    lines = text.split("\n")
    edit(lines)
    path = tmp_path / f"{name}-copy.csv"
    path.write_bytes("\n".join(lines).encode(encoding))
    return path


def test_a_bad_number_names_the_file_line_and_column(tmp_path):
    def corrupt(lines):
        cells = lines[9].split(",")
        cells[2] = "1.2.3"
        lines[9] = ",".join(cells)

    path = _copy(tmp_path, "qingdao-2023", corrupt)
    with pytest.raises(UsageError) as info:
        read_published_table(path)
    error = info.value
    assert (error.file, error.row, error.field) == (str(path), 10, "RW")
    assert "column 3: '1.2.3' is not a number" in str(error) and str(path) in str(error)


def test_a_bad_cell_in_a_gb18030_table_is_found_too(tmp_path):
    def corrupt(lines):
        cells = lines[4].split(",")
        cells[3] = "不详"
        lines[4] = ",".join(cells)

    path = _copy(tmp_path, "suzhou-2022", corrupt)
    with pytest.raises(UsageError) as info:
        read_published_table(path)
    assert (info.value.row, info.value.field) == (5, "基础病组")
    assert "column 4: '不详' is not a flag value" in str(info.value)


def test_numbers_as_agencies_write_them(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('DRG编码,DRG名称,RW,支付标准\nAA19,甲,"1,234.5",-\nAB19,乙,０.５,"12,000"\nAC19,丙, 2 ,无\n'
                    'AD19,丁,,\n', encoding="utf-8-sig")
    table = read_published_table(path)
    frame = table.frame.set_index("group")
    assert frame["rw"].tolist()[:3] == [1234.5, 0.5, 2.0] and np.isnan(frame.loc["AD19", "rw"])
    assert np.isnan(frame.loc["AA19", "payment_standard"]) and frame.loc["AB19", "payment_standard"] == 12000
    assert table.encoding == "utf-8-sig"
    path.write_text("DRG编码,RW\nAA19,1,2\n", encoding="utf-8")
    with pytest.raises(UsageError, match="3 cells in a table of 2 columns") as info:
        read_published_table(path)
    assert info.value.row == 2
    path.write_text("DRG编码,RW\nAA19,-1\n", encoding="utf-8")
    with pytest.raises(UsageError, match="'-1' is negative"):
        read_published_table(path)


def test_encodings_are_detected_strictly(tmp_path):
    assert read_published_table("beijing-2022").encoding == "gb18030"
    assert read_published_table("qingdao-2023").encoding == "utf-8-sig"
    text = published_table_path("beijing-2022").read_bytes().decode("gb18030")
    plain = tmp_path / "beijing-utf8.csv"
    plain.write_bytes(text.encode("utf-8"))   # UTF-8 without a byte-order mark
    table = read_published_table(plain)
    assert table.encoding == "utf-8"
    pd.testing.assert_frame_equal(table.frame, read_published_table("beijing-2022").frame)

    broken = tmp_path / "broken.csv"
    broken.write_bytes("DRG编码,RW\n".encode("utf-8") + b"AA19,1\nAB19\xff\xfe,2\n")
    with pytest.raises(UsageError) as info:
        read_published_table(broken)
    message = str(info.value)
    assert "cannot decode the file as UTF-8 or GB18030" in message
    assert "utf-8: line 3, byte 5" in message and "gb18030: line 3" in message

    lying = tmp_path / "bom-but-gbk.csv"
    lying.write_bytes(b"\xef\xbb\xbf" + "DRG编码,RW\n肝移植,1\n".encode("gb18030"))
    with pytest.raises(UsageError, match="byte-order mark but is not valid UTF-8: line 1"):
        read_published_table(lying)
    assert read_published_table(plain, encoding="utf-8").encoding == "utf-8"
    with pytest.raises(UsageError, match="not valid utf-8: line 1"):
        read_published_table(published_table_path("beijing-2022"), encoding="utf-8")


def test_a_table_without_a_code_column_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("编号,RW\nAA19,1\n", encoding="utf-8")
    with pytest.raises(UsageError, match="no DRG code column"):
        read_published_table(path)
    path.write_text("DRG编码,RW\n,1\n", encoding="utf-8")
    with pytest.raises(UsageError, match="the DRG code is blank") as info:
        read_published_table(path)
    assert (info.value.row, info.value.field) == (2, "DRG编码")


def test_codes_missing_from_a_scheme_are_reported():
    table = read_published_table("yantai-2023", scheme=["AA19", "ZZ15", "XX99"])
    assert table.coverage.not_in_table == ("XX99",)
    assert len(table.coverage.not_in_scheme) == len(table.frame) - 2
    assert table.coverage.not_in_scheme[:2] == ("0000", "000P")


def test_published_tables_are_told_from_engine_tables(tmp_path):
    assert is_published_table("qingdao-2023") and is_published_table(published_table_path("beijing-2022"))
    engine = tmp_path / "weights.csv"
    engine.write_text("group,rw\nAA19,2.5\n", encoding="utf-8")
    assert not is_published_table(engine)
    assert WeightsFile(str(engine)).load().frame["base_points"].tolist() == [250.0]
    loaded = WeightsFile("qingdao-2023").load(points_scale=1000)
    assert loaded.frame.set_index("group").loc["AA19", "base_points"] == pytest.approx(23992.62817)
    forced = WeightsFile(str(published_table_path("fuzhou-2022")), "published").load()
    assert len(forced.frame) == 563
