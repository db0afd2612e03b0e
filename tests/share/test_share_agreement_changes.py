"""Agreement changes take effect through the server: at once, and after the outbox is
re-derived.

Tightening (a column dropped, a masking changed, a narrower row scope), widening,
expiry and revocation, each read by the real client through a live server. The server
enforces the agreement in force on every request; the hub's next run re-derives the
outbox (until the delta workstream's pipeline is on main, the test re-derives it the way
that pipeline does: one overwrite of the outbox with the new grant's columns and rows).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from share_helpers import (
    CIVIL,
    MEDICAL,
    Server,
    Workspace,
    client_ok,
    create_token,
    make_workspace,
    person_rows,
    run_client,
    serve,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

READ = """
import json, delta_sharing
def why(exc):
    response = getattr(exc, "response", None)
    if response is None:
        return str(exc)
    return f"{{response.status_code}} {{response.json()['message']}}"
url = "{profile}#{share}.default.person"
try:
    df = delta_sharing.load_as_pandas(url)
    out = {{"ok": True, "columns": list(df.columns), "rows": len(df),
            "divisions": sorted(set(df["address_division"])) if "address_division" in df else []}}
except Exception as exc:
    out = {{"ok": False, "error": why(exc)}}
try:
    ch = delta_sharing.load_table_changes_as_pandas(url, starting_version={start})
    out["changes"] = {{"ok": True, "columns": list(ch.columns), "rows": len(ch)}}
except Exception as exc:
    out["changes"] = {{"ok": False, "error": why(exc)}}
json.dump(out, open("{name}.json", "w"), ensure_ascii=False)
"""


def read(ws: Workspace, profile: Path, name: str, *, share: str = "medical-insurance",
         start: int = 0) -> dict[str, Any]:
    """What the real client sees of ``share``'s person table (snapshot and changes)."""
    client_ok(READ.format(profile=profile, share=share, start=start, name=name), cwd=ws.root)
    doc: dict[str, Any] = json.loads((ws.root / f"{name}.json").read_text(encoding="utf-8"))
    return doc


def rederive(ws: Workspace, recipient: str, table: pa.Table) -> int:
    """The next run's re-derivation: the outbox replaced in one version, new grant."""
    return ws.write_outbox(recipient, "person", table, mode="overwrite",
                           schema_mode="overwrite")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Workspace, Server, Path, Path]]:
    city_wide = {**MEDICAL, "rows": {"division_prefix": "5101"}}
    ws = make_workspace(tmp_path / "ws", (city_wide, CIVIL))
    ws.write_outbox("medical-insurance", "person",
                    pa.concat_tables([person_rows(range(30)), person_rows(range(30, 40),
                                                                          "510104")]))
    ws.write_outbox("civil-affairs", "person",
                    person_rows(range(8)).select(["citizen_id", "gender", "address_division"]))
    with serve(ws) as server:
        mi = ws.root / "mi.share"
        ca = ws.root / "ca.share"
        create_token(ws, "medical-insurance", mi, "--endpoint", server.endpoint)
        create_token(ws, "civil-affairs", ca, "--endpoint", server.endpoint)
        yield ws, server, mi, ca


def test_a_dropped_column_closes_the_table_at_once_and_is_gone_after_the_run(
        world: tuple[Workspace, Server, Path, Path]) -> None:
    ws, _, mi, _ = world
    before = read(ws, mi, "before")
    assert before["ok"] and "birth_date" in before["columns"] and before["rows"] == 40
    columns = {**MEDICAL["datasets"]["person"]["columns"], "birth_date": "drop"}
    ws.write_agreement({**MEDICAL, "rows": {"division_prefix": "5101"},
                        "datasets": {"person": {"columns": columns}}})
    # before any hub run: the outbox still holds birth_date, so nothing is served
    closed = read(ws, mi, "closed")
    assert not closed["ok"] and "403" in closed["error"]
    assert "no longer grants column(s) birth_date" in closed["error"]
    assert not closed["changes"]["ok"]
    # the next run re-derives the outbox without the column
    rows = pa.concat_tables([person_rows(range(30)), person_rows(range(30, 40), "510104")])
    version = rederive(ws, "medical-insurance", rows.drop_columns(["birth_date"]))
    after = read(ws, mi, "after", start=version)
    assert after["ok"] and "birth_date" not in after["columns"] and after["rows"] == 40
    # what was cut under the wider grant is not served again: not the change feed into
    # the re-derivation (its deletes carry the old values), not time travel before it
    assert not after["changes"]["ok"]
    assert (f"read a snapshot of version {version} and the changes from version "
            f"{version + 1} on") in after["changes"]["error"]
    ws.merge_outbox("medical-insurance", "person",
                    person_rows(range(5), retired=True).drop_columns(["birth_date"]),
                    "citizen_id")
    later = read(ws, mi, "later", start=version + 1)
    assert later["changes"]["ok"] and "birth_date" not in later["changes"]["columns"]
    assert later["changes"]["rows"] == 10  # five updates: pre- and post-images
    history = read(ws, mi, "history", start=0)
    assert not history["changes"]["ok"] and "wider grant" in history["changes"]["error"]
    old = run_client(f"""
import delta_sharing
delta_sharing.load_as_pandas("{mi}#medical-insurance.default.person", version=0)
""", cwd=ws.root)
    assert old.returncode != 0 and "birth_date" in old.stderr


def test_a_changed_masking_closes_the_table_at_once(
        world: tuple[Workspace, Server, Path, Path]) -> None:
    ws, _, mi, _ = world
    columns = {**MEDICAL["datasets"]["person"]["columns"], "name": "pseudonym"}
    ws.write_agreement({**MEDICAL, "rows": {"division_prefix": "5101"},
                        "datasets": {"person": {"columns": columns}}})
    closed = read(ws, mi, "masked")
    assert not closed["ok"] and "name partial→pseudonym" in closed["error"]


def test_a_narrower_row_scope_applies_at_once_by_partition(
        world: tuple[Workspace, Server, Path, Path]) -> None:
    ws, _, mi, _ = world
    assert read(ws, mi, "wide")["divisions"] == ["510104", "510107"]
    ws.write_agreement(MEDICAL)  # rows: 510107 only
    narrow = read(ws, mi, "narrow")
    assert narrow["ok"] and narrow["divisions"] == ["510107"] and narrow["rows"] == 30
    assert narrow["changes"]["ok"] and narrow["changes"]["rows"] == 30


def test_a_wider_grant_serves_the_old_outbox_until_the_run_delivers_more(
        world: tuple[Workspace, Server, Path, Path]) -> None:
    ws, _, _, ca = world
    wider = {**CIVIL, "datasets": {"person": {"columns": {
        **CIVIL["datasets"]["person"]["columns"], "retired": "keep"}}}}
    ws.write_agreement(wider)
    same = read(ws, ca, "same", share="civil-affairs")
    assert same["ok"] and "retired" not in same["columns"] and same["rows"] == 8
    version = rederive(ws, "civil-affairs", person_rows(range(8)).select(
        ["citizen_id", "gender", "address_division", "retired"]))
    more = read(ws, ca, "more", share="civil-affairs")
    assert more["ok"] and "retired" in more["columns"]
    # a wider grant keeps the whole history readable
    assert more["changes"]["ok"] and more["changes"]["rows"] > 8
    assert version == 1


@pytest.mark.parametrize(("edit", "words"), [
    ({"valid_to": "2026-01-31"}, "expired on 2026-01-31"),
    ({"revoked": True}, "has been revoked"),
])
def test_expiry_and_revocation_refuse_the_client_at_once(
        world: tuple[Workspace, Server, Path, Path], edit: dict[str, Any],
        words: str) -> None:
    ws, _, mi, ca = world
    assert read(ws, mi, "open")["ok"]
    ws.edit_agreement("medical-insurance", **edit)
    shut = read(ws, mi, "shut")
    assert not shut["ok"] and "403" in shut["error"] and words in shut["error"]
    assert not shut["changes"]["ok"] and words in shut["changes"]["error"]
    listing = run_client(f"""
import delta_sharing
delta_sharing.SharingClient("{mi}").list_all_tables()
""", cwd=ws.root)
    assert listing.returncode != 0 and words in listing.stderr
    assert read(ws, ca, "other", share="civil-affairs")["ok"]  # the other recipient reads on
    ws.edit_agreement("medical-insurance", valid_to="2030-12-31", revoked=False)
    assert read(ws, mi, "reopened")["ok"]


#: the pipeline writes Delta outboxes (the delta workstream's exchange/layout.py): until
#: then the pipeline-driven test below must fail (strict xfail), afterwards it must pass
PIPELINE_DELTA = importlib.util.find_spec("hrss_hub.exchange.layout") is not None


@pytest.mark.xfail(not PIPELINE_DELTA, strict=True,
                   reason="waits for the delta workstream: Delta outboxes re-derived by runs")
def test_tightening_widening_expiry_and_revocation_through_hub_runs(tmp_path: Path) -> None:
    """The same four changes, with the outbox re-derived by real ``hrss-hub`` runs."""
    from hrss_hub.demo.generator import generate_world
    from hrss_hub.demo_tour import run_demo

    world = tmp_path / "demo"
    generate_world(world, persons=150, seed=9)
    assert run_demo(world, 150, 9, quiet=True) == 0
    ws = Workspace(world)
    assert (ws.table_path("medical-insurance", "person") / "_delta_log").is_dir()
    agreement = yaml.safe_load(ws.agreement_file("medical-insurance").read_text("utf-8"))
    columns = agreement["datasets"]["person"]["columns"]
    with serve(ws) as server:
        mi = world / "mi.share"
        create_token(ws, "medical-insurance", mi, "--endpoint", server.endpoint)
        before = read(ws, mi, "before")
        assert before["ok"] and "birth_date" in before["columns"]
        # tightening: closed at once, re-derived without the column by the next run
        ws.write_agreement({**agreement, "datasets": {"person": {"columns": {
            **columns, "birth_date": "drop"}}}})
        assert not read(ws, mi, "closed")["ok"]
        assert run_demo(world, 150, 9, quiet=True) == 0
        after = read(ws, mi, "after")
        assert after["ok"] and "birth_date" not in after["columns"]
        assert after["rows"] == before["rows"]
        # widening: the old outbox until the run delivers the new column
        ws.write_agreement({**agreement, "datasets": {"person": {"columns": {
            **columns, "birth_date": "drop", "employment_status": "keep"}}}})
        assert "employment_status" not in read(ws, mi, "same")["columns"]
        assert run_demo(world, 150, 9, quiet=True) == 0
        assert "employment_status" in read(ws, mi, "wider")["columns"]
        # expiry and revocation: refused at once, and still after the run withdrew it
        for edit, words in (({"valid_to": "2026-01-31"}, "expired on 2026-01-31"),
                            ({"revoked": True}, "has been revoked")):
            ws.edit_agreement("medical-insurance", **edit)
            shut = read(ws, mi, "shut")
            assert not shut["ok"] and words in shut["error"]
            assert run_demo(world, 150, 9, quiet=True) == 0
            assert words in read(ws, mi, "withdrawn")["error"]
            ws.edit_agreement("medical-insurance", valid_to=agreement["valid_to"],
                              revoked=False)
