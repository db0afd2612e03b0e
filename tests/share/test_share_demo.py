"""The demo world's outboxes, read through ``hrss-hub share serve`` by the real client.

The demo runs end to end (sources → exchange → outboxes under the demo's three
agreements); every recipient gets a token and a profile; the real ``delta-sharing``
client lists its share and reads every table, which must equal the outbox. Then every
response of the pseudonymizing shares — JSON bodies, file bytes and the decoded values of
every downloaded file — is scanned for the demo's raw citizen IDs and names.

Until the delta workstream's Delta outboxes are on main, the demo's outbox versions are
copied into Delta tables (CDF on, partitioned by division, the grant stamped) at
``outbox-delta/<recipient>/<dataset>/`` and the server is pointed there with
``HRSS_HUB_OUTBOX_URI``; afterwards the server reads the run's own outboxes.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from deltalake import DeltaTable
from share_helpers import Workspace, client_ok, create_token, demo_delta_outboxes, serve

from hrss_hub.demo.generator import generate_world
from hrss_hub.demo_tour import run_demo
from hrss_hub.exchange.reading import read_version

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PERSONS = 300
ID_RE = re.compile(rb"[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx]")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    world = tmp_path_factory.mktemp("demo-share") / "demo"
    generate_world(world, persons=PERSONS, seed=11)
    assert run_demo(world, PERSONS, 11, quiet=True) == 0
    return {"world": world, "outbox": demo_delta_outboxes(world)}


def _raw_identifiers(world: Path) -> tuple[set[bytes], set[bytes]]:
    """The demo's raw citizen IDs and names, from the unmasked exchange."""
    person = read_version(world / "exchange", "person")
    ids = {v.encode() for col in ("citizen_id", "citizen_id_raw")
           for v in person[col].to_pylist() if v}
    names = {v.encode() for v in person["name"].to_pylist() if v and len(v) >= 2}
    return ids, names


def test_every_outbox_of_the_demo_reads_equal_through_the_server(demo: dict[str, Any]) -> None:
    world: Path = demo["world"]
    ws = Workspace(world)
    env = {"HRSS_HUB_OUTBOX_URI": str(demo["outbox"])}
    recipients = sorted(p.name for p in demo["outbox"].iterdir())
    assert recipients == ["city-510100", "civil-affairs", "medical-insurance"]
    with serve(ws, env=env) as server:
        for recipient in recipients:
            profile = world / "profiles" / f"{recipient}.share"
            create_token(ws, recipient, profile, "--endpoint", server.endpoint)
            client_ok(f"""
import json, delta_sharing
client = delta_sharing.SharingClient("{profile}")
out = {{}}
for t in client.list_all_tables():
    df = delta_sharing.load_as_pandas(f"{profile}#{{t.share}}.{{t.schema}}.{{t.name}}")
    df.to_parquet(f"{recipient}-{{t.name}}.parquet")
    out[t.name] = [t.share, t.schema, len(df)]
json.dump(out, open("{recipient}.json", "w"))
""", cwd=world)
            listed = json.loads((world / f"{recipient}.json").read_text())
            tables = sorted(p.name for p in (demo["outbox"] / recipient).iterdir())
            assert sorted(listed) == tables
            for name in tables:
                expected = DeltaTable(str(demo["outbox"] / recipient / name)).to_pyarrow_table()
                got = pq.read_table(world / f"{recipient}-{name}.parquet")
                assert listed[name] == [recipient, "default", expected.num_rows]
                assert expected.num_rows > 0
                assert _canon(got, expected.column_names) == _canon(expected,
                                                                    expected.column_names)


def _canon(table: pa.Table, columns: list[str]) -> list[str]:
    def value(v: Any) -> Any:
        if hasattr(v, "isoformat"):
            if getattr(v, "tzinfo", None) is not None:
                v = v.replace(tzinfo=None) if v.utcoffset() is None else \
                    (v - v.utcoffset()).replace(tzinfo=None)
            return v.isoformat()
        return v
    rows = table.select(columns).to_pylist()
    return sorted(json.dumps({k: value(v) for k, v in r.items()}, sort_keys=True,
                             ensure_ascii=False) for r in rows)


def test_no_raw_identifier_in_any_response_of_a_pseudonymizing_share(
        demo: dict[str, Any]) -> None:
    world: Path = demo["world"]
    ws = Workspace(world)
    ids, names = _raw_identifiers(world)
    assert len(ids) >= PERSONS and names
    env = {"HRSS_HUB_OUTBOX_URI": str(demo["outbox"])}
    with serve(ws, env=env) as server:
        scanned = 0
        # city-510100 may receive raw IDs (上报, allow_raw_identifiers): the scan must see
        # them there, or it would prove nothing for the other two
        for recipient in ("city-510100", "medical-insurance", "civil-affairs"):
            profile = world / "profiles-scan" / f"{recipient}.share"
            token = create_token(ws, recipient, profile, "--endpoint",
                                 server.endpoint)["bearerToken"]
            auth = {"Authorization": f"Bearer {token}"}
            share = f"/shares/{recipient}"
            bodies = [requests.get(server.url(p), headers=auth, timeout=30).content
                      for p in ("/shares", share, share + "/schemas", share + "/all-tables",
                                share + "/schemas/default/tables")]
            tables = json.loads(bodies[3])["items"]
            assert tables
            for t in tables:
                base = f"{share}/schemas/default/tables/{t['name']}"
                bodies.append(requests.get(server.url(base + "/metadata"), headers=auth,
                                           timeout=30).content)
                for method, path, body in (("POST", "/query", {}),
                                           ("GET", "/changes?startingVersion=0", None)):
                    response = requests.request(method, server.url(base + path), json=body,
                                                headers=auth, timeout=30)
                    assert response.status_code == 200
                    bodies.append(response.content)
                    for line in response.text.splitlines():
                        action = json.loads(line)
                        entry = next((action[k] for k in ("file", "add", "cdf", "remove")
                                      if k in action), None)
                        if entry is None:
                            continue
                        data = requests.get(entry["url"], timeout=30).content
                        bodies.append(data)
                        decoded = pq.read_table(io.BytesIO(data))
                        bodies.append("\n".join(
                            str(v) for col in decoded.columns
                            for v in col.to_pylist()).encode("utf-8"))
            found_ids = set().union(*(set(ID_RE.findall(b)) & ids for b in bodies))
            found_names = {n for n in names if any(n in b for b in bodies)}
            if recipient == "city-510100":
                assert len(found_ids) >= PERSONS // 2 and found_names
                continue
            scanned += sum(len(b) for b in bodies)
            assert not found_ids, f"{recipient}: raw citizen IDs in a response"
            assert not found_names, f"{recipient}: raw names in a response"
    assert scanned > 10_000
