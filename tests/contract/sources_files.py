"""Contract sources for ``kind: files``: CSV in UTF-8, UTF-8-BOM, GBK, GB18030; XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hrss_hub.connectors.config import parse_system
from hrss_hub.connectors.contract import Source, source_factory
from hrss_hub.connectors.registry import create_connector

HEADER = ["序号", "姓名", "公民身份号码", "参保日期"]
NAMES = ["张三", "阿依古丽·买买提", "李四", "欧阳·娜娜", "王五", "赵六"]
BATCH = 5


def _rows(start: int, n: int, extra_name: str) -> list[list[str]]:
    names = [*NAMES, extra_name]
    return [[str(i), names[i % len(names)], f"11010519491231{i:04d}", f"2020-01-{i % 28 + 1:02d}"]
            for i in range(start, start + n)]


def files_source(tmp_path: Path, writer: Callable[[Path, list[list[str]]], None],
                 suffix: str, extra_name: str = "钱七") -> Iterator[Source]:
    """Two initial files (12 + 9 rows); ``append`` drops a new file."""
    drop = tmp_path / "drop"
    drop.mkdir()
    keys: list[int] = []
    counter = [0]

    def add_file(n: int) -> None:
        start = max(keys, default=-1) + 1
        counter[0] += 1
        writer(drop / f"花名册_{counter[0]:03d}{suffix}", _rows(start, n, extra_name))
        keys.extend(range(start, start + n))

    add_file(12)
    add_file(9)
    raw = {"kind": "files", "batch_size": BATCH, "connection": {"path": "drop"},
           "streams": [{"name": "roster", "pattern": f"*{suffix}", "primary_key": ["序号"],
                        **({"sheet": "人员", "header_row": 2} if suffix == ".xlsx" else {})}]}
    cfg = parse_system(raw, tmp_path / "contracts.yaml", tmp_path)
    yield Source(create_connector(cfg), "roster", ["序号"], BATCH,
                 lambda: [(str(k),) for k in keys], add_file, estimate_exact=True)


def csv_writer(encoding: str, bom: bool = False) -> Callable[[Path, list[list[str]]], None]:
    def write(path: Path, rows: list[list[str]]) -> None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(HEADER)
        w.writerows(rows)
        data = buf.getvalue().encode(encoding)
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)

    return write


def xlsx_writer(path: Path, rows: list[list[str]]) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "人员"
    ws.append(["2024年参保人员花名册"])  # a merged title row above the header
    ws.merge_cells("A1:D1")
    ws.append(HEADER)
    for row in rows:
        ws.append([int(row[0]), *row[1:]])
    wb.save(path)


@source_factory("csv-utf8", "files")
def csv_utf8(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from files_source(tmp_path, csv_writer("utf-8"), ".csv", "䶮")


@source_factory("csv-utf8-bom", "files")
def csv_utf8_bom(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from files_source(tmp_path, csv_writer("utf-8", bom=True), ".csv", "𠀀")


@source_factory("csv-gbk", "files")
def csv_gbk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from files_source(tmp_path, csv_writer("gbk"), ".csv")


@source_factory("csv-gb18030", "files")
def csv_gb18030(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    # 䶮 (CJK Ext. A) and 𠀀 (Ext. B) exist in GB18030 but not in GBK
    yield from files_source(tmp_path, csv_writer("gb18030"), ".csv", "刘䶮𠀀")


@source_factory("xlsx", "files")
def xlsx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from files_source(tmp_path, xlsx_writer, ".xlsx")
