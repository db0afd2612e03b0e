"""The streaming XLSX sheet writer: what openpyxl (and so Excel's format) reads back."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from hrss_hub.quality.xlsx_sheet import SheetWriter, column_letter


def test_rows_read_back_as_written(tmp_path: Path) -> None:
    rows = [("参考编号 reference", "规则 rules", "值"),
            ("r1/si/AC01#1", "a & b < c > d \"q\" 'x'", "  leading and trailing  "),
            ("r1/si/AC01#2", "", "line\nbreak\ttab"),
            ("r1/si/AC01#3", "bell\x07 and nul\x00 dropped", None)]
    path = SheetWriter(tmp_path / "q.xlsx", "quarantine")
    for row in rows:
        path.append(row)
    out = path.close()
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["quarantine"]
    got = [tuple(c for c in r) for r in book["quarantine"].iter_rows(values_only=True)]
    assert got[0] == rows[0]
    assert got[1] == rows[1]
    assert got[2] == ("r1/si/AC01#2", None, "line\nbreak\ttab")
    # trailing empty cells are not written (a reader may or may not pad the row)
    assert got[3][:2] == ("r1/si/AC01#3", "bell and nul dropped") and not any(got[3][2:])


def test_many_rows_and_columns_stream_through(tmp_path: Path) -> None:
    with SheetWriter(tmp_path / "big.xlsx", "s") as sheet:
        for i in range(5_001):  # more than one flush
            sheet.append([f"{i}-{j}" for j in range(30)])  # past column Z
    rows = list(openpyxl.load_workbook(tmp_path / "big.xlsx", read_only=True)["s"]
                .iter_rows(values_only=True))
    assert len(rows) == 5_001
    assert rows[-1][29] == "5000-29" and rows[0][0] == "0-0"


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 27, 51, 52, 701, 702)] == [
        "A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]
