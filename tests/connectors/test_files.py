"""kind: files specifics: encodings, quarantined lines, checksums, XLSX cells, corrupt files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from hrss_hub.connectors import create_connector, parse_system
from hrss_hub.connectors.encoding import normalize_codec, scan
from hrss_hub.errors import SchemaDriftError, SourceError

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


def test_an_unclosed_quote_costs_only_its_own_line(tmp_path: Path) -> None:
    con = connector(tmp_path)
    lines = [f"{i},name{i},x" for i in range(2, 12)]
    lines[3] = '5,"name5,x'  # line 5: the quote never closes
    (tmp_path / "drop" / "a.csv").write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    got, rejects, state = rows(con)
    assert [r["序号"] for r in got] == [str(i) for i in range(2, 12) if i != 5]
    assert [(r.location, r.raw) for r in rejects] == [("a.csv:5", '5,"name5,x')]
    assert "does not close (read on to line 11)" in rejects[0].reason
    assert state["current"] is None  # the file is done, every line accounted for


def test_a_runaway_quote_in_a_big_file_is_recovered_in_bounded_memory(tmp_path: Path) -> None:
    con = connector(tmp_path)
    # more than the csv module's 128 KiB field limit after the stray quote
    lines = [f"{i},{'名' * 40},x" for i in range(2, 3002)]
    lines[0] = '2,"stray,x'
    (tmp_path / "drop" / "a.csv").write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    got, rejects, _ = rows(con)
    assert [r.location for r in rejects] == ["a.csv:2"]
    assert "field larger than field limit" in rejects[0].reason
    assert len(got) == 2999


def test_multi_line_fields_are_kept_and_bad_multi_line_records_resynchronize(
        tmp_path: Path) -> None:
    con = connector(tmp_path)
    body = (HEADER + '1,张三,"两行\n备注"\n'           # lines 2-3: one good record
            + '2,李四,"x\n3,王五,y\n'                  # line 4 opens a quote that line 5 ...
            + '4,赵六,z"\n'                             # ... closes on line 6: 3 fields, but
            + '5,"a\n').encode() + b"\xff\n" + '",x\n6,孙七,end\n'.encode()
    (tmp_path / "drop" / "a.csv").write_bytes(body)
    got, rejects, _ = rows(con)
    # lines 4-6 parse as ONE valid record (a quoted field may hold line breaks): kept
    assert [(r["序号"], r["_location"]) for r in got] == [
        ("1", "a.csv:2"), ("2", "a.csv:4"), ("6", "a.csv:10")]
    assert got[0]["备注"] == "两行\n备注"
    # the record opened on line 7 spans an undecodable line: line 7, 8 and 9 each on their own
    where = {r.location: r.reason for r in rejects}
    assert set(where) == {"a.csv:7", "a.csv:8", "a.csv:9"}
    assert "a line inside it does not decode" in where["a.csv:7"]
    assert "not valid utf-8" in where["a.csv:8"]


def test_resume_after_a_resynchronized_line_neither_repeats_nor_skips(tmp_path: Path) -> None:
    con = connector(tmp_path)  # batch_size 3
    lines = [f"{i},n{i},x" for i in range(2, 20)]
    lines[4] = '6,"n6,x'
    (tmp_path / "drop" / "a.csv").write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    chunks = list(con.read("s"))
    everything = [r["序号"] for c in chunks for r in c.batch.to_pylist()]
    for k in range(len(chunks) - 1):
        rest = [r["序号"] for c in con.read("s", chunks[k].state) for r in c.batch.to_pylist()]
        before = [r["序号"] for c in chunks[:k + 1] for r in c.batch.to_pylist()]
        assert before + rest == everything
    assert len(everything) == 17 and "6" not in everything


@pytest.mark.parametrize(("declared", "data", "detected", "where"), [
    ("utf-8", (HEADER + "1,张三,x\n").encode("gbk"), "gb18030", "line 1, byte offset 0"),
    ("gbk", (HEADER + "1,张三,x\n").encode("utf-8"), "utf-8", "utf-8 text"),
    ("gb2312", b"\xef\xbb\xbf" + (HEADER + "1,张三,x\n").encode("utf-8"), "utf-8", "utf-8 text"),
])
def test_a_wrong_explicit_encoding_fails_the_file_naming_line_offset_and_fix(
        tmp_path: Path, declared: str, data: bytes, detected: str, where: str) -> None:
    con = connector(tmp_path, encoding=declared)
    (tmp_path / "drop" / "编码.csv").write_bytes(data)
    for attempt in (con.check, lambda: list(con.read("s"))):
        with pytest.raises(SourceError) as info:
            attempt()
        message = str(info.value)
        assert "编码.csv does not decode as" in message and where in message
        assert "encoding: auto" in message and f"detects {detected}" in message
        assert "path=streams[0].encoding" in message


def test_a_corrupt_line_in_a_file_of_the_declared_encoding_is_quarantined_alone(
        tmp_path: Path) -> None:
    con = connector(tmp_path, encoding="gbk")
    good = "".join(f"{i},张{i},备注\n" for i in range(1, 30)).encode("gbk")
    (tmp_path / "drop" / "a.csv").write_bytes(HEADER.encode("gbk") + good + b"30,\x80\x80,x\n")
    got, rejects, _ = rows(con)
    assert len(got) == 29 and [r.location for r in rejects] == ["a.csv:31"]
    assert "byte offset" in rejects[0].reason


@pytest.mark.parametrize("policy", ["fail", "evolve", "ignore"])
def test_every_file_header_is_checked_not_only_the_newest(tmp_path: Path, policy: str) -> None:
    con = connector(tmp_path, drift=policy)
    drop = tmp_path / "drop"
    (drop / "a.csv").write_text("序号,姓名\n1,张三\n", encoding="utf-8")          # lacks 备注
    (drop / "b.csv").write_text("序号,姓名,备注,电话\n2,李四,x,1\n", encoding="utf-8")  # extra
    (drop / "c.csv").write_text(HEADER + "3,王五,y\n", encoding="utf-8")            # newest
    if policy == "fail":
        with pytest.raises(SchemaDriftError) as info:
            list(con.read("s"))
        assert "a.csv lacks column(s) 备注" in str(info.value)
        return
    chunks = list(con.read("s"))
    got = [r for c in chunks for r in c.batch.to_pylist()]
    assert [(r["序号"], r["备注"]) for r in got] == [("1", None), ("2", "x"), ("3", "y")]
    notes = [n for c in chunks for n in c.drift]
    assert notes == [f"{policy}: file a.csv lacks column(s) 备注 (the stream's schema is the "
                     "header of c.csv); 备注 read as empty",
                     f"{policy}: file b.csv has column(s) 电话 not in the stream's schema (the "
                     "stream's schema is the header of c.csv); 电话 dropped"]


def test_a_duplicate_column_in_an_older_file_is_refused(tmp_path: Path) -> None:
    con = connector(tmp_path)
    (tmp_path / "drop" / "a.csv").write_text("序号,姓名,姓名\n1,张三,李四\n", encoding="utf-8")
    (tmp_path / "drop" / "b.csv").write_text(HEADER + "3,王五,y\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"duplicate column '姓名' in the header of a\.csv"):
        list(con.read("s"))


def test_the_encoding_vote_stays_right_on_big_files(tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(b"a,b\n" + "".join(f"{i},张三{i}\n" for i in range(5000)).encode("gbk"))
    info = scan(gbk, "utf-8")
    assert info.mismatch and info.detected == "gb18030"
    assert info.first_undecodable is not None and info.first_undecodable.line == 2
    assert info.first_undecodable.offset == 6  # after "a,b\n0,"
    utf8 = tmp_path / "utf8.csv"
    utf8.write_bytes(b"a,b\n" + "".join(f"{i},张三{i}\n" for i in range(5000)).encode()
                     + b"5000,\xd5\xc5\n")
    info = scan(utf8, "utf-8")
    assert not info.mismatch and info.first_undecodable is not None
    assert info.first_undecodable.line == 5002


def test_an_older_xlsx_lacking_a_column_is_drift_too(tmp_path: Path) -> None:
    import openpyxl

    drop = tmp_path / "drop"
    drop.mkdir()
    layouts = (("2024-01.xlsx", ["工号", "姓名"]), ("2024-02.xlsx", ["工号", "姓名", "岗位"]))
    for name, header in layouts:
        wb = openpyxl.Workbook()
        wb.active.append(header)
        wb.active.append(["1", "张三", "科员"][:len(header)])
        wb.save(drop / name)
    cfg = parse_system({"kind": "files", "connection": {"path": "drop"},
                        "streams": [{"name": "s", "pattern": "*.xlsx"}]}, tmp_path / "f.yaml",
                       tmp_path)
    with pytest.raises(SchemaDriftError, match=r"2024-01\.xlsx lacks column\(s\) 岗位"):
        list(create_connector(cfg).read("s"))
