"""Outboxes on S3-compatible storage: the server reads the Delta log there and hands out
presigned S3 URLs, which the real client fetches from the (local moto) S3 server."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from deltalake import CommitProperties, DeltaTable, write_deltalake
from hrss_test_s3 import bucket_uri, create_bucket, s3_server
from share_helpers import client_ok, create_token, make_workspace, person_rows, serve

from hrss_hub.exchange.policy import load_agreement
from hrss_hub.share.shares import GRANT_KEY, grant_record

boto3 = pytest.importorskip("boto3")
pytestmark = [pytest.mark.integration, pytest.mark.slow]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


def test_the_client_reads_an_s3_outbox_through_presigned_urls(
        tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    bucket = create_bucket(s3_endpoint, f"outbox-{uuid.uuid4().hex[:8]}")
    ws = make_workspace(tmp_path / "ws")
    options = {"AWS_ENDPOINT_URL": f"http://{s3_endpoint}", "AWS_ALLOW_HTTP": "true",
               "AWS_REGION": "us-east-1", **CREDENTIALS}
    uri = f"s3://{bucket}/hub/outbox/medical-insurance/person"
    grant = load_agreement(ws.agreement_file("medical-insurance")).datasets["person"]
    stamp = CommitProperties(custom_metadata={GRANT_KEY: grant_record(grant)})
    write_deltalake(uri, person_rows(range(25)), partition_by=["address_division"],
                    storage_options=options, commit_properties=stamp,
                    configuration={"delta.enableChangeDataFeed": "true"})
    write_deltalake(uri, person_rows(range(25, 30)), mode="append", storage_options=options,
                    commit_properties=stamp)
    outbox_uri = bucket_uri(s3_endpoint, bucket, "hub/outbox")
    env = {"HRSS_HUB_OUTBOX_URI": outbox_uri, **CREDENTIALS}
    with serve(ws, env=env) as server:
        profile = ws.root / "mi.share"
        create_token(ws, "medical-insurance", profile, "--endpoint", server.endpoint)
        token = json.loads(profile.read_text())["bearerToken"]
        response = requests.post(
            server.url("/shares/medical-insurance/schemas/default/tables/person/query"),
            json={}, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        files = [json.loads(x)["file"] for x in response.text.splitlines() if '"file"' in x]
        assert len(files) == 2
        for f in files:
            assert f["url"].startswith(f"http://{s3_endpoint}/{bucket}/hub/outbox/")
            assert "X-Amz-Signature=" in f["url"] and "X-Amz-Expires=900" in f["url"]
            assert f["expirationTimestamp"] > time.time() * 1000
        # the presigned URL is S3's (moto does not check signatures: S3 does)
        assert requests.get(files[0]["url"], timeout=30).content[:4] == b"PAR1"
        client_ok(f"""
import json, delta_sharing
url = "{profile}#medical-insurance.default.person"
df = delta_sharing.load_as_pandas(url)
ch = delta_sharing.load_table_changes_as_pandas(url, starting_version=0)
json.dump({{"rows": sorted(df["citizen_id"]), "changes": len(ch)}}, open("s3.json", "w"))
""", cwd=ws.root, env=CREDENTIALS)
        got: dict[str, Any] = json.loads((ws.root / "s3.json").read_text())
    expected = DeltaTable(uri, storage_options=options).to_pyarrow_table()
    assert got["rows"] == sorted(expected["citizen_id"].to_pylist()) and len(got["rows"]) == 30
    assert got["changes"] == 30
    # the query's audit event names the files the presigned URLs were issued for
    import sqlalchemy as sa
    engine = sa.create_engine(ws.ledger_url)
    with engine.connect() as conn:
        details = [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in conn.execute(
            sa.text("select details from audit_events where action = 'share_query'"))]
    engine.dispose()
    assert len(details[0]["files"]) == 2
