"""Drop-folder files through a real ``hrss-hub run``: every physical line accounted for.

Defect 1 (issue #10): an unclosed quote on line 51 of 176 used to publish the lines before
it and turn the rest into ONE quarantine row with raw value ``""``; the run exited 0 and
the file was marked processed. Defect 2: a file lacking a column was accepted without a
drift report when it was not the newest file. Issue #15 point 13: a wrong explicit
``encoding:`` failed with a hint that never mentioned ``encoding:``.

The accounting every test checks: published + quarantined + refused = physical data lines
(refused: the lines of a file the run refused as a whole and left unprocessed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from hrss_hub.exchange.reading import read_version
from hrss_hub.standard.identifiers import citizen_id_check_char

BIN = Path(sys.executable).parent
HEADER = ["合同编号", "身份证号", "统一社会信用代码", "合同开始日期", "岗位"]
USCC = "91350100M000100Y43"
MAPPING = {
    "entity": "employment",
    "source_key": ["合同编号"],
    "fields": {
        "citizen_id": {"from": "身份证号", "normalize": "citizen_id"},
        "employer_uscc": {"from": "统一社会信用代码", "normalize": "uscc"},
        "start_date": {"from": "合同开始日期", "normalize": "date"},
        "position": {"from": "岗位", "normalize": "trim"},
        "division": {"const": "510107"},
    },
}


def citizen_id(n: int) -> str:
    body = f"11010519800101{n:03d}"
    return body + citizen_id_check_char(body)


def line(n: int, columns: list[str] = HEADER) -> str:
    values = {"合同编号": f"HT{n:05d}", "身份证号": citizen_id(n % 1000),
              "统一社会信用代码": USCC, "合同开始日期": "2023/1/5", "岗位": f"岗位{n}"}
    return ",".join(values[c] for c in columns)


def workspace(tmp_path: Path, **stream: Any) -> Path:
    (tmp_path / "connectors").mkdir()
    (tmp_path / "sources" / "contracts").mkdir(parents=True)
    (tmp_path / "hub.yaml").write_text("hub_id: test-hub\nlevel: district\ndivision: '510107'\n",
                                       encoding="utf-8")
    write_connector(tmp_path, **stream)
    return tmp_path


def write_connector(ws: Path, **stream: Any) -> None:
    doc = {"system": "contracts", "kind": "files", "batch_size": 40,
           "connection": {"path": "sources/contracts"},
           "streams": [{"name": "filings", "pattern": "*.csv", "primary_key": ["合同编号"],
                        "mapping": MAPPING, **stream}]}
    (ws / "connectors" / "contracts.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True),
                                                      encoding="utf-8")


def drop(ws: Path, name: str, lines: list[str], encoding: str = "utf-8") -> Path:
    path = ws / "sources" / "contracts" / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def hrss_run(ws: Path) -> tuple[int, dict[str, Any], str]:
    """``hrss-hub run --json`` as a user runs it: exit code, summary, stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HRSS_HUB_")}
    result = subprocess.run([str(BIN / "hrss-hub"), "run", "--config", str(ws / "hub.yaml"),
                             "--json", "--quiet"], capture_output=True, text=True, env=env,
                            timeout=600)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    summary = json.loads(result.stdout)
    return result.returncode, summary, result.stderr


def stream_of(summary: dict[str, Any]) -> dict[str, Any]:
    stream: dict[str, Any] = summary["systems"][0]["streams"][0]
    return stream


def published_keys(ws: Path) -> set[str]:
    if not (ws / "exchange").exists():
        return set()
    try:
        rows = read_version(ws / "exchange", "employment").column("source_key").to_pylist()
    except Exception:  # no version of the dataset yet
        return set()
    return set(rows)


def quarantined(stream: dict[str, Any]) -> dict[str, list[str]]:
    if not stream.get("quarantine_file"):
        return {}
    table = pq.read_table(stream["quarantine_file"]).to_pylist()
    return {r["location"]: r["rules"] for r in table}


def test_unclosed_quote_costs_one_line_and_every_line_is_accounted_for(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    lines = [",".join(HEADER)] + [line(n) for n in range(2, 177)]  # 176 physical lines
    lines[50] = lines[50].replace("HT00051,", 'HT00051,"', 1)  # line 51: a quote never closed
    drop(ws, "filings_2024-01.csv", lines)
    code, summary, _ = hrss_run(ws)
    stream = stream_of(summary)
    assert code == 0 and stream["status"] == "succeeded", stream
    published = published_keys(ws)
    q = quarantined(stream)
    # line 51 is quarantined on its own, with its text; every other line is published
    assert list(q) == ["filings_2024-01.csv:51"] and q["filings_2024-01.csv:51"] == [
        "malformed_record"]
    raw = pq.read_table(stream["quarantine_file"]).column("record").to_pylist()[0]
    assert "HT00051" in raw
    assert published == {f"HT{n:05d}" for n in range(2, 177) if n != 51}
    assert len(published) + len(q) == 175 == stream["read"]
    # the file is processed once: the next run reads nothing
    code, again, _ = hrss_run(ws)
    assert code == 0 and stream_of(again)["read"] == 0


def test_every_kind_of_bad_line_gets_its_own_location(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    physical = [line(n) for n in range(2, 22)]  # data lines 2..21, as written in the file
    physical[5 - 2] = line(5) + ",stray"                               # line 5: 6 fields
    physical[8 - 2] = line(8).replace(",岗位8", ',"岗位')    # lines 8-9: a quoted field over two
    physical[9 - 2] = '8",x'                                 # lines, and then a 6th field
    physical[13 - 2] = line(13).replace("HT00013", '"HT00013"x', 1)    # line 13: bad quote
    body = ("\n".join([",".join(HEADER), *physical]) + "\n").encode()
    body = body.replace("岗位16".encode(), b"\xff\xfe16")              # line 16: bad bytes
    (ws / "sources" / "contracts" / "filings_2024-02.csv").write_bytes(body)
    code, summary, _ = hrss_run(ws)
    stream = stream_of(summary)
    assert code == 0, stream
    q = quarantined(stream)
    name = "filings_2024-02.csv"
    # the record opened on line 8 is bad: line 8 is quarantined, line 9 is judged alone
    assert sorted(q, key=lambda loc: int(loc.rsplit(":", 1)[1])) == [
        f"{name}:5", f"{name}:8", f"{name}:9", f"{name}:13", f"{name}:16"]
    published = published_keys(ws)
    assert published == {f"HT{n:05d}" for n in range(2, 22) if n not in (5, 8, 9, 13, 16)}
    assert len(published) + len(q) == len(physical) == 20


def test_a_file_lacking_a_column_is_drift_even_when_it_is_not_the_newest(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    older = [c for c in HEADER if c != "岗位"]
    drop(ws, "filings_2024-01.csv", [",".join(older)] + [line(n, older) for n in range(160)])
    drop(ws, "filings_2024-02.csv", [",".join(HEADER)] + [line(n) for n in range(160, 170)])
    code, summary, _ = hrss_run(ws)
    stream = stream_of(summary)
    assert code == 1 and stream["status"] == "failed"
    assert "filings_2024-01.csv lacks column(s) 岗位" in stream["error"]
    assert "drift: evolve" in stream["error"]
    assert published_keys(ws) == set()  # refused as a whole: 160 + 10 lines refused

    # accepted explicitly: published, with the drift in the summary
    write_connector(ws, drift="evolve")
    code, summary, _ = hrss_run(ws)
    stream = stream_of(summary)
    assert code == 0 and stream["status"] == "succeeded", stream
    assert "filings_2024-01.csv lacks column(s) 岗位" in (stream["schema_drift"] or "")
    assert len(published_keys(ws)) == 170 == stream["published"]
    positions = read_version(ws / "exchange", "employment").to_pydict()
    by_key = dict(zip(positions["source_key"], positions["position"], strict=True))
    assert by_key["HT00000"] is None and by_key["HT00165"] == "岗位165"


def test_a_wrong_explicit_encoding_refuses_the_file_and_says_how_to_fix_it(
        tmp_path: Path) -> None:
    ws = workspace(tmp_path, encoding="utf-8")
    lines = [",".join(HEADER)] + [line(n) for n in range(2, 30)]
    drop(ws, "filings_2024-03.csv", lines, encoding="gbk")
    code, summary, _ = hrss_run(ws)
    stream = stream_of(summary)
    assert code == 1 and stream["status"] == "failed"
    error = stream["error"]
    # the file, the first undecodable line and byte offset, and the way out
    assert "filings_2024-03.csv does not decode as utf-8 (encoding: utf-8)" in error
    assert "line 1, byte offset 0" in error
    assert "encoding: auto" in error and "gb18030" in error
    assert "streams[0].encoding" in error
    assert published_keys(ws) == set()

    write_connector(ws, encoding="auto")  # the hint followed: the file was never processed
    code, summary, _ = hrss_run(ws)
    assert code == 0 and len(published_keys(ws)) == 28 == stream_of(summary)["published"]
