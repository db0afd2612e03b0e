"""kind: files specifics: encodings, quarantined lines, checksums, XLSX cells, corrupt files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from hrss_hub.connectors import create_connector, parse_system
from hrss_hub.connectors.encoding import normalize_codec, scan
from hrss_hub.errors import SourceError

HEADER = "序号,姓名,备注\n"


def connector(tmp_path: Path, **stream: Any) -> Any:
    (tmp_path / "drop").mkdir(exist_ok=True)
    cfg = parse_system({"kind": "files", "batch_size": 3, "connection": {"path": "drop"},
                        "streams": [{"name": "s", "pattern": "*.csv", **stream}]},
                       tmp_path / "f.yaml", tmp_path)
    return create_connector(cfg)


def rows(con: Any, state: Any = None) -> tuple[list[dict[str, Any]], list[Any], Any]:
    out, rejects, last = [], [], state
    for chunk in con.read("s", state):
        out += chunk.batch.to_pylist()
        rejects += chunk.rejects
        last = chunk.state
    return out, rejects, last


@pytest.mark.parametrize(("data", "expected"), [
    (b"\xef\xbb\xbf" + HEADER.encode(), "utf-8"),                  # BOM
    (b"a,b\n1,2\n", "utf-8"),                                        # pure ASCII
    ((HEADER + "1,欧阳·娜娜,x\n").encode("gbk"), "gb18030"),          # GBK with a middle dot
    ((HEADER + "1,刘䶮,𠀀\n").encode("gb18030"), "gb18030"),          # 4-byte GB18030 chars
    (b"a,b\n" * 300_000 + (HEADER + "1,张三,\n").encode("gbk"), "gb18030"),  # GBK after 1 MB
    ((HEADER + "1,张三,x\n" * 50).encode() + b"2,\xd5\xc5,y\n", "utf-8"),  # one bad line
])
def test_encoding_detection(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    assert scan(path).encoding == expected


def test_gb_aliases_decode_as_gb18030() -> None:
    assert {normalize_codec(n) for n in ("gb2312", "GBK", "cp936", "gb18030")} == {"gb18030"}
    assert normalize_codec("utf-8-sig") == "utf-8"


def test_explicit_encoding_overrides_detection(tmp_path: Path) -> None:
    con = connector(tmp_path, encoding="gb2312")
    # 䶮 is not in GB2312: decoding as GB18030 (never GB2312) keeps it
    (tmp_path / "drop" / "a.csv").write_bytes((HEADER + "1,刘䶮,\n").encode("gb18030"))
    got, rejects, _ = rows(con)
    assert got[0]["姓名"] == "刘䶮" and not rejects


def test_bad_lines_are_quarantined_with_line_numbers(tmp_path: Path) -> None:
    con = connector(tmp_path)
    body = (HEADER + "1,张三,ok\n2,李四\n3,\"王\n五\",多行\n").encode() + b"4,\xff\xfe,x\n" + \
        "5,赵六,a,b\n6,钱七,\"bad\"quote\n7,孙八,end\n".encode()
    (tmp_path / "drop" / "a.csv").write_bytes(body)
    got, rejects, _ = rows(con)
    assert [r["序号"] for r in got] == ["1", "3", "7"]
    assert [r["_location"] for r in got] == ["a.csv:2", "a.csv:4", "a.csv:9"]
    assert got[1]["姓名"] == "王\n五"
    where = {r.location: r.reason for r in rejects}
    assert set(where) == {"a.csv:3", "a.csv:6", "a.csv:7", "a.csv:8"}
    assert "expected 3 fields, got 2" in where["a.csv:3"]
    assert "not valid utf-8" in where["a.csv:6"]
    assert "malformed CSV" in where["a.csv:8"]


def test_checksums_skip_copies_and_catch_changes(tmp_path: Path) -> None:
    con = connector(tmp_path)
    drop = tmp_path / "drop"
    (drop / "a.csv").write_text(HEADER + "1,张三,x\n", encoding="utf-8")
    first, _, state = rows(con)
    assert len(first) == 1
    (drop / "a_copy.csv").write_bytes((drop / "a.csv").read_bytes())  # renamed copy: skipped
    assert rows(con, state)[0] == []
    (drop / "a.csv").write_text(HEADER + "1,张三,x\n2,李四,y\n", encoding="utf-8")
    changed, _, state2 = rows(con, state)  # same name, new content: processed
    assert [r["序号"] for r in changed] == ["1", "2"]
    assert len(state2["files"]) == 2 and state2["current"] is None


def test_declared_types_reject_unparseable_values(tmp_path: Path) -> None:
    con = connector(tmp_path, schema={"序号": "int64"})
    (tmp_path / "drop" / "a.csv").write_text(HEADER + "1,a,\nx2,b,\n3,c,\n", encoding="utf-8")
    got, rejects, _ = rows(con)
    assert [r["序号"] for r in got] == [1, 3]
    assert [r.location for r in rejects] == ["a.csv:3"]


def test_xlsx_header_row_dates_and_serials(tmp_path: Path) -> None:
    import openpyxl

    drop = tmp_path / "drop"
    drop.mkdir()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "人员"
    ws.append(["2023年花名册"])
    ws.merge_cells("A1:C1")
    ws.append(["姓名", "入职日期", "工资"])
    ws.append(["张三", dt.datetime(2023, 1, 5), 5000.0])
    ws.append(["李四", 44931, 4800.5])
    ws.append([])
    ws.append(["王五", dt.datetime(2023, 1, 5, 8, 30), None])
    ws.append(["赵六", None, 1, "stray"])
    wb.save(drop / "r.xlsx")
    cfg = parse_system({"kind": "files", "connection": {"path": "drop"}, "streams": [
        {"name": "s", "pattern": "*.xlsx", "sheet": "人员", "header_row": 2}]},
        tmp_path / "f.yaml", tmp_path)
    con = create_connector(cfg)
    got, rejects, _ = rows(con)
    assert [(r["姓名"], r["入职日期"], r["工资"], r["_location"]) for r in got] == [
        ("张三", "2023-01-05", "5000", "r.xlsx:3"), ("李四", "44931", "4800.5", "r.xlsx:4"),
        ("王五", "2023-01-05 08:30:00", None, "r.xlsx:6")]
    assert [r.location for r in rejects] == ["r.xlsx:7"]


def test_corrupt_xlsx_is_a_source_error_naming_the_file(tmp_path: Path) -> None:
    import openpyxl

    drop = tmp_path / "drop"
    drop.mkdir()
    wb = openpyxl.Workbook()
    wb.active.append(["a"])
    wb.save(drop / "good.xlsx")
    (drop / "坏的.xlsx").write_bytes((drop / "good.xlsx").read_bytes()[:700])
    (drop / "good.xlsx").unlink()
    cfg = parse_system({"kind": "files", "connection": {"path": "drop"},
                        "streams": [{"name": "s", "pattern": "*.xlsx"}]},
                       tmp_path / "f.yaml", tmp_path)
    with pytest.raises(SourceError) as info:
        list(create_connector(cfg).read("s"))
    assert "坏的.xlsx" in str(info.value) and "system=f" in str(info.value)


def test_missing_drop_folder(tmp_path: Path) -> None:
    cfg = parse_system({"kind": "files", "connection": {"path": "nope"},
                        "streams": [{"name": "s"}]}, tmp_path / "f.yaml", tmp_path)
    with pytest.raises(SourceError, match="drop folder not found"):
        create_connector(cfg).check()
