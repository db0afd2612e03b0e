"""Which record wins is decided by the source's own update time, never by extraction
order (#16.4): ``source_updated_at`` comes from ``updated_at:`` or the cursor column."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from hrss_hub.config import load_config
from hrss_hub.connectors.updated_at import as_utc, source_updated_at
from hrss_hub.errors import ConfigError
from hrss_hub.pipeline import run

PERSON = {
    "entity": "person",
    "fields": {
        "citizen_id": "idno",
        "id_type": {"const": "01"},
        "name": {"from": "name", "normalize": "name"},
        "gender": {"from": "sex", "map": {"男": "1", "女": "2"}},
        "birth_date": {"from": "born", "normalize": "date"},
    },
}


def _workspace(ws: Path, *, late_first: bool) -> Path:
    """One files system whose two streams hold the same persons: for 王芳 the ``early``
    stream's record is older, for 张三 newer (``updated_at: changed``); ``early``'s source
    keys sort first, so without update times it would win both. ``late_first`` lists the
    streams the other way round (the other extraction order). A SQL system (``hr_db``,
    cursor ``updated``) holds a third person."""
    ws.mkdir(parents=True)
    (ws / "hub.yaml").write_text("hub_id: t\nlevel: district\ndivision: '510107'\n",
                                 encoding="utf-8")
    with sqlite3.connect(ws / "src.db") as db:
        db.execute("CREATE TABLE staff (id TEXT PRIMARY KEY, idno TEXT, name TEXT, sex TEXT,"
                   " born TEXT, updated TEXT)")
        db.execute("INSERT INTO staff VALUES ('1', '34052419800101001X', '李四', '男', "
                   "'1980-01-01', '2026-01-01 09:00:00')")
    (ws / "drop").mkdir()
    header = "id,idno,name,sex,born,changed\n"
    (ws / "drop" / "a.csv").write_text(
        header + "a1,11010519491231002X,王芳,女,1949-12-31,2026-01-01 09:00:00\n"
        "a2,610104196209276908,张三,女,1962-09-27,2026/5/1 9:00:00\n", encoding="utf-8")
    (ws / "drop" / "b.csv").write_text(
        header + "b1,11010519491231002X,王芳芳,女,1949-12-31,2026/3/1 10:00:00\n"
        "b2,610104196209276908,张叁,女,1962-09-27,2026-02-01T00:00:00+08:00\n",
        encoding="utf-8")
    streams = [{"name": name, "pattern": pattern, "format": "csv", "primary_key": ["id"],
                "updated_at": "changed", "mapping": {**PERSON, "source_key": ["id"]}}
               for name, pattern in (("early", "a*.csv"), ("late", "b*.csv"))]
    systems: list[dict[str, Any]] = [
        {"system": "hr_db", "kind": "sql", "connection": {"url": "sqlite:///src.db"},
         "streams": [{"name": "staff", "table": "staff", "primary_key": ["id"],
                      "cursor": "updated",
                      "mapping": {**PERSON, "source_key": ["id"]}}]},
        {"system": "filings", "kind": "files", "connection": {"path": "drop"},
         "streams": streams[::-1] if late_first else streams},
    ]
    (ws / "connectors").mkdir()
    for doc in systems:
        (ws / "connectors" / f"{doc['system']}.yaml").write_text(
            yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return ws


def _person(ws: Path) -> dict[str, tuple[str, str, str]]:
    from hrss_hub.exchange.reading import read_version

    rows = read_version(ws / "exchange", "person").to_pylist()
    return {r["citizen_id"]: (r["name"], r["source_key"], r["source_updated_at"].isoformat())
            for r in rows}


def test_newest_source_record_wins_whatever_the_extraction_order(tmp_path: Path) -> None:
    first = _workspace(tmp_path / "a", late_first=False)
    second = _workspace(tmp_path / "b", late_first=True)
    for ws in (first, second):
        assert not run(load_config(ws / "hub.yaml")).failed
    assert _person(first) == _person(second) == {
        # filings: 2026-03-01 beats 2026-01-01, 2026-05-01 beats 2026-02-01 (Beijing time)
        "11010519491231002X": ("王芳芳", "b1", "2026-03-01T02:00:00+00:00"),
        "610104196209276908": ("张三", "a2", "2026-05-01T01:00:00+00:00"),
        # hr_db: the cursor column is the update time
        "34052419800101001X": ("李四", "1", "2026-01-01T01:00:00+00:00"),
    }


def test_update_times_read_in_beijing_time_unless_they_carry_a_zone() -> None:
    got = as_utc(pa.array(["2026-01-02 08:00:00", "2026/1/2 8:00:00", "2026-01-02T00:00:00Z",
                           "20260102", "not a time", None]))
    assert [v.isoformat() if v else None for v in got.to_pylist()] == [
        "2026-01-02T00:00:00+00:00", "2026-01-02T00:00:00+00:00",
        "2026-01-02T00:00:00+00:00", "2026-01-01T16:00:00+00:00", None, None]
    naive = as_utc(pa.array([0], pa.timestamp("s")))
    assert naive.to_pylist()[0].isoformat() == "1969-12-31T16:00:00+00:00"


def test_a_configured_updated_at_column_must_exist() -> None:
    batch = pa.record_batch({"id": ["1"]})
    assert source_updated_at(batch, "changed").null_count == 1  # a cursor: nulls
    with pytest.raises(ConfigError, match="updated_at column 'changed'"):
        source_updated_at(batch, "changed", explicit=True, where="filings.people")


def test_text_times_parse_the_same_on_the_arrow_path_as_in_python() -> None:
    """Plain shapes are parsed by Arrow kernels, the rest in Python: both give what the
    Python reader gives value by value — rolled-over dates, unpadded or padded text,
    daylight-saving years of Beijing time (1986-1991), zones and junk included."""
    from zoneinfo import ZoneInfo

    from hrss_hub.connectors.updated_at import NAIVE_TIMEZONE, _parse_one

    texts = ["2024-01-01 00:00:00", "2026-12-31T23:59:59", "2024-02-29", "2024-02-30",
             "2023-02-29 10:00:00", "2024-01-01 24:00:00", "2024-1-1 09:00:00",
             " 2024-01-01 00:00:00", "2024/05/01 09:00:00", "2024-01-01 00:00:00.5",
             "2024-01-01T00:00:00+08:00", "2024-01-01T00:00:00Z", "20240101", "",
             "1988-04-10 02:30:00", "1988-09-11 01:30:00", "1991-07-01", "1949-06-01 12:00:00",
             "1992-01-01 00:00:00", "9999-12-31 23:59:59", "not a time", None]
    got = as_utc(pa.array(texts, pa.string())).to_pylist()
    zone = ZoneInfo(NAIVE_TIMEZONE)
    want = pa.array([_parse_one(t, zone) for t in texts],
                    pa.timestamp("us", tz="UTC")).to_pylist()
    assert got == want
    assert got[0] is not None and got[3] is None  # parsed; no 30 February
