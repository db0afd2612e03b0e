"""Exchanges on S3-compatible object storage (pyarrow.fs), against moto's local server."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from exchange_helpers import content_hash, person_entity, persons, stage
from hrss_test_s3 import bucket_uri, create_bucket

from hrss_hub.exchange.deliver import deliver
from hrss_hub.exchange.pending import list_pending
from hrss_hub.exchange.policy import Agreement, DatasetGrant
from hrss_hub.exchange.reading import read_version
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.verify import verify_path
from hrss_hub.exchange.versions import publish_entity

boto3 = pytest.importorskip("boto3")


@pytest.fixture
def bucket(s3_endpoint: str, s3_credentials: None, monkeypatch: pytest.MonkeyPatch) -> str:
    return create_bucket(s3_endpoint, f"exchange-{abs(hash(monkeypatch)) % 10**8}")


def _uri(endpoint: str, bucket: str, prefix: str) -> str:
    return bucket_uri(endpoint, bucket, prefix)


def test_publish_read_verify_and_tamper_on_s3(tmp_path: Path, signer: Signer,
                                             s3_endpoint: str, bucket: str) -> None:
    uri = _uri(s3_endpoint, bucket, "hub/exchange")
    store = Store.open(uri)
    assert not store.is_local and "endpoint_override" not in store.display()
    local = tmp_path / "staging-root"
    publisher = {"hub_id": "t", "level": "district", "division": "510107"}
    stage(local, persons("510107", range(50)))
    stage(local, persons("510104", range(20)), tag="b")
    v1 = publish_entity(store, person_entity(), list_pending(local, "person"), signer=signer,
                        standard_version="1.0.0", publisher=publisher, keep=2)
    stage(local, persons("510107", range(40, 60), run_id="r2", minute=1), run_id="r2")
    v2 = publish_entity(store, person_entity(), list_pending(local, "person"), signer=signer,
                        standard_version="1.0.0", publisher=publisher, keep=2)
    assert (v1 and v1.version, v2 and v2.version) == (1, 2)
    assert read_version(uri, "person", 1).num_rows == 70
    current = read_version(uri, "person")
    assert current.num_rows == 80
    assert read_version(uri, "person", divisions=["510104"]).num_rows == 20
    assert all(r.ok for r in verify_path(uri, all_versions=True))

    # the same bytes locally give the same content: S3 is only a different place
    local_root = tmp_path / "local-exchange"
    stage(local, persons("510107", range(50)))
    stage(local, persons("510104", range(20)), tag="b")
    stage(local, persons("510107", range(40, 60), run_id="r2", minute=1), run_id="r2",
          tag="c")
    publish_entity(Store.open(local_root), person_entity(), list_pending(local, "person"),
                   signer=signer, standard_version="1.0.0", publisher=publisher)
    assert content_hash(read_version(local_root, "person")) == content_hash(current)

    # a recipient outbox on the same object store
    outbox = _uri(s3_endpoint, bucket, "hub/outbox")
    grant = DatasetGrant("person", {"citizen_id": "pseudonym", "gender": "keep",
                                    "address_division": "keep"}, ("510104",))
    agreement = Agreement("mib", "医保局", "核验", "PIPL 13", date(2026, 1, 1),
                          date(2099, 1, 1), {"person": grant}, Path("mib.yaml"))
    assert v2 is not None
    done = deliver(Store.open(outbox), v2, current, agreement, signer,
                   keys_dir=tmp_path / "keys", publisher=publisher)
    assert (done.status, done.rows) == ("delivered", 20)
    extract = read_version(Store.open(outbox).sub("mib"), "person")
    assert extract.column_names == ["citizen_id", "gender", "address_division"]
    assert all(r.ok for r in verify_path(outbox))

    client = boto3.client("s3", endpoint_url=f"http://{s3_endpoint}", region_name="us-east-1")
    key = "hub/exchange/person/v2/part-510104-0000.parquet"
    data = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[len(data) // 3] ^= 0x01
    client.put_object(Bucket=bucket, Key=key, Body=bytes(data))
    reports = verify_path(uri)
    assert not reports[0].ok and "SHA-256" in " ".join(reports[0].problems)
