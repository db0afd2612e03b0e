"""Tables the hub signs are served up to their newest signed version, under the policy
their signed manifest records.

The hub writes, beside an outbox's Delta log, ``_hrss/manifests/<N>.json`` (+ ``.sig``)
for each version it commits, naming the agreement's policy it was cut with. A version in
the log without a manifest is the hub's crash window or a write from outside the hub: the
server does not serve it. The manifests here are written by hand with the fields the
server reads (``policy.columns``, ``policy.division_prefix``); the publisher's own are
exercised by the demo tests once its Delta outboxes are on main.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from deltalake import write_deltalake
from share_helpers import MEDICAL, create_token, make_workspace, person_rows, serve

pytestmark = pytest.mark.integration
T = "/shares/medical-insurance/schemas/default/tables/person"


def _sign(table: Path, version: int, columns: dict[str, str]) -> None:
    folder = table / "_hrss" / "manifests"
    folder.mkdir(parents=True, exist_ok=True)
    policy = {"columns": columns, "division_prefix": ["510107"], "fingerprint": "x"}
    (folder / f"{version:020d}.json").write_text(json.dumps({"version": version,
                                                              "policy": policy}))


def test_unsigned_versions_are_not_served_and_the_signed_policy_is_enforced(
        tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    table = ws.table_path("medical-insurance", "person")
    table.parent.mkdir(parents=True)
    columns = dict(MEDICAL["datasets"]["person"]["columns"])
    write_deltalake(str(table), person_rows(range(10)), partition_by=["address_division"],
                    configuration={"delta.enableChangeDataFeed": "true"})
    _sign(table, 0, columns)
    # version 1 reaches the log, but no manifest: a crash window or an outside write
    write_deltalake(str(table), person_rows(range(10, 15)), mode="append")
    with serve(ws) as server:
        token = create_token(ws, "medical-insurance", tmp_path / "p.share", "--endpoint",
                             server.endpoint)["bearerToken"]
        auth = {"Authorization": f"Bearer {token}"}

        def get(path: str) -> requests.Response:
            return requests.get(server.url(T + path), headers=auth, timeout=30)

        def query(body: dict[str, object]) -> requests.Response:
            return requests.post(server.url(T + "/query"), json=body, headers=auth,
                                 timeout=30)

        assert get("/version").headers["Delta-Table-Version"] == "0"
        snapshot = query({})
        assert snapshot.headers["Delta-Table-Version"] == "0"
        rows = sum(json.loads(json.loads(x)["file"]["stats"])["numRecords"]
                   for x in snapshot.text.splitlines() if '"file"' in x)
        assert rows == 10
        unsigned = query({"version": 1})
        assert unsigned.status_code == 400
        assert "not a signed version" in unsigned.json()["message"]
        assert get("/changes?startingVersion=1").status_code == 400
        # the hub signs version 1: it is served from the next request on
        _sign(table, 1, columns)
        assert get("/version").headers["Delta-Table-Version"] == "1"
        # the signed policy says how each column was masked: an agreement that masks a
        # column differently now closes the table, without any stamp in the Delta log
        ws.write_agreement({**MEDICAL, "datasets": {"person": {"columns": {
            **columns, "name": "pseudonym"}}}})
        closed = get("/metadata")
        assert closed.status_code == 403
        assert "name partial→pseudonym" in closed.json()["message"]
