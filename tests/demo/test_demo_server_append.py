"""The demo REST API (real HTTP via requests) and ``append_world``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from hrss_hub.demo.generator import TOKEN_ENV, URL_ENV, append_world, demo_token, generate_world
from hrss_hub.demo.server import serving, start_server


def _get(url: str, token: str | None, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, params=params, headers=headers, timeout=10)


# --------------------------------------------------------------------------- REST server


def test_auth_is_required(world: Path) -> None:
    with start_server(world) as srv:
        assert requests.get(f"{srv.url}/health", timeout=10).status_code == 200
        assert _get(f"{srv.url}/persons", None).status_code == 401
        assert _get(f"{srv.url}/persons", "wrong-token").status_code == 401
        r = _get(f"{srv.url}/persons", demo_token(world))
        assert r.status_code == 200
        assert _get(f"{srv.url}/nothing", demo_token(world)).status_code == 404
        assert _get(f"{srv.url}/persons", demo_token(world), size=5000).status_code == 400


def test_pagination_returns_every_record_once_in_order(world: Path) -> None:
    token = demo_token(world)
    expected = json.loads((world / "sources/employment/persons_000.json").read_text())
    with start_server(world) as srv:
        got: list[dict[str, Any]] = []
        page = 1
        while True:
            body = _get(f"{srv.url}/persons", token, page=page, size=97).json()
            assert body["data"]["total"] == len(expected)
            items = body["data"]["items"]
            if not items:
                break
            got.extend(items)
            page += 1
    assert len(got) == len(expected)
    assert {r["id"] for r in got} == {r["id"] for r in expected}
    order = [(r["updatedAt"], r["id"]) for r in got]
    assert order == sorted(order)


def test_updated_since_is_an_inclusive_lower_bound(world: Path) -> None:
    token = demo_token(world)
    regs = json.loads((world / "sources/employment/registrations_000.json").read_text())
    stamps = sorted(r["updatedAt"] for r in regs)
    since = stamps[len(stamps) // 2]
    want = sum(1 for s in stamps if s >= since)
    with start_server(world) as srv:
        body = _get(f"{srv.url}/registrations", token, updatedSince=since, size=1000).json()
    assert body["data"]["total"] == want
    assert all(r["updatedAt"] >= since for r in body["data"]["items"])
    assert min(r["updatedAt"] for r in body["data"]["items"]) == since


def test_token_from_environment(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRSS_DEMO_API_TOKEN", "from-env-123")
    with start_server(world) as srv:
        assert _get(f"{srv.url}/persons", "from-env-123").status_code == 200
        assert _get(f"{srv.url}/persons", demo_token(world)).status_code == 401


# --------------------------------------------------------------------------- append


def _rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = sqlite3.connect(db)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
                for t in ("AB01", "AC01", "AC02", "AC43")}
    finally:
        con.close()


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "sources").rglob("*")) if p.is_file() and p.suffix != ".db"}


def test_serving_restores_the_environment_it_set(world: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # the cause of a test-order failure: a helper serving one workspace left its token in
    # $HRSS_DEMO_API_TOKEN, and every later start_server(<other workspace>) took it
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.setenv(URL_ENV, "http://before.invalid/api")
    other = tmp_path / "other"
    generate_world(other, persons=40, seed=3)
    assert demo_token(other) != demo_token(world)
    with serving(other) as srv:
        assert os.environ[TOKEN_ENV] == demo_token(other)
        assert os.environ[URL_ENV] == srv.url
        assert _get(f"{srv.url}/persons", demo_token(other)).status_code == 200
    assert TOKEN_ENV not in os.environ
    assert os.environ[URL_ENV] == "http://before.invalid/api"
    with start_server(world) as srv:  # the workspace's own token again
        assert _get(f"{srv.url}/persons", demo_token(world)).status_code == 200


def test_append_keeps_existing_data_and_adds_newer_records(world: Path, tmp_path: Path) -> None:
    root = tmp_path / "w"
    shutil.copytree(world, root)
    before_rows = _rows(root / "sources/si_core.db")
    before_files = _files(root)
    base_key = json.loads((root / "answer_key.json").read_text())

    key = append_world(root, persons=150)

    after_rows = _rows(root / "sources/si_core.db")
    after_files = _files(root)
    for name, digest in before_files.items():  # every earlier file is byte-identical
        assert after_files[name] == digest, name
    assert len(after_files) == len(before_files) + 4  # 2 JSON, 1 CSV, 1 xlsx
    assert json.loads((root / "answer_key.json").read_text()) == base_key
    for table, rows in before_rows.items():
        assert after_rows[table][: len(rows)] == rows, table  # old rows untouched
        new = after_rows[table][len(rows):]
        assert len(new) == key["systems"]["si_core"][table]["read"], table
        old_max = max(r[-1] for r in rows)
        assert all(r[-1] > old_max for r in new), f"{table}: new AAE036 must be newer"
    for streams in key["systems"].values():
        for s in streams.values():
            assert s["read"] == s["published"] + s["quarantined_rows"] + s["filtered"]
    assert key["append"] == 1
    assert key["distinct_cumulative"]["persons"] == (base_key["distinct"]["persons"]
                                                     + key["distinct"]["persons"])
    assert (root / "answer_key_append_1.json").exists()
    assert list((root / "sources/personnel").glob("*追加01.xlsx"))

    # the server picks up the new file and updatedSince isolates the appended records
    token = demo_token(root)
    persons = json.loads((root / "sources/employment/persons_000.json").read_text())
    old_max = max(r["updatedAt"] for r in persons)
    with start_server(root) as srv:
        body = requests.get(f"{srv.url}/persons", params={"updatedSince": old_max + "Z"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert body["data"]["total"] == key["systems"]["employment"]["persons"]["read"]


def test_append_is_deterministic(world: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(world, a)
    shutil.copytree(world, b)
    append_world(a, persons=60)
    append_world(b, persons=60)
    assert _files(a) == _files(b)
    assert _rows(a / "sources/si_core.db") == _rows(b / "sources/si_core.db")
    second = append_world(a, persons=40)
    assert second["append"] == 2
    assert (a / "answer_key_append_2.json").exists()


def test_cli_init_and_append(tmp_path: Path) -> None:
    root = tmp_path / "cli"
    exe = [sys.executable, "-m", "hrss_hub"]
    env = dict(os.environ)
    r = subprocess.run([*exe, "demo", "init", "--dir", str(root), "--persons", "120",
                        "--seed", "3"], capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert "answer_key.json" in r.stdout
    r = subprocess.run([*exe, "demo", "append", "--dir", str(root), "--persons", "30"],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert (root / "answer_key_append_1.json").exists()
    r = subprocess.run([*exe, "demo", "init", "--dir", str(root)], capture_output=True,
                       text=True, env=env, check=False)
    assert r.returncode != 0 and "not empty" in r.stderr
    generate_world(tmp_path / "x", persons=5, seed=1)  # tiny worlds work (no defects)
