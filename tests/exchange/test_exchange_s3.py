"""Exchange tables on S3-compatible object storage (delta-rs' object store for the Delta
log and data, pyarrow for the hub's manifests), against a local moto S3 server started
here; concurrent publishers on one table lose no update."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from exchange_helpers import content_hash, person_entity, persons, stage
from hrss_test_s3 import bucket_uri, create_bucket

from hrss_hub.cli import cli
from hrss_hub.exchange.deliver import deliver
from hrss_hub.exchange.pending import list_pending
from hrss_hub.exchange.policy import Agreement, DatasetGrant
from hrss_hub.exchange.publish import publish_entity
from hrss_hub.exchange.reading import read_version
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.verify import verify_path

boto3 = pytest.importorskip("boto3")
PUBLISHER = {"hub_id": "t", "level": "district", "division": "510107"}


@pytest.fixture
def bucket(s3_endpoint: str, s3_credentials: None, monkeypatch: pytest.MonkeyPatch) -> str:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one line per request
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    return create_bucket(s3_endpoint, f"exchange-{abs(hash(monkeypatch)) % 10**8}")


def _uri(endpoint: str, bucket: str, prefix: str) -> str:
    return bucket_uri(endpoint, bucket, prefix)


def _publish(store: Store, root: Path, signer: Signer) -> int | None:
    v = publish_entity(store, person_entity(), list_pending(root, "person"), signer=signer,
                       standard_version="1.0.0", publisher=PUBLISHER)
    return None if v is None else v.version


def test_publish_read_verify_deliver_and_tamper_on_s3(tmp_path: Path, signer: Signer,
                                                     s3_endpoint: str, bucket: str) -> None:
    uri = _uri(s3_endpoint, bucket, "hub/exchange")
    store = Store.open(uri)
    assert not store.is_local and "endpoint_override" not in store.display()
    local = tmp_path / "staging-root"
    stage(local, persons("510107", range(50), updated=0))
    stage(local, persons("510104", range(20), updated=0), tag="b")
    assert _publish(store, local, signer) == 1
    stage(local, persons("510107", range(40, 60), run_id="r2", updated=5), run_id="r2")
    assert _publish(store, local, signer) == 2  # 10 updates (a MERGE on S3) + 10 inserts
    assert read_version(uri, "person", 1).num_rows == 70
    current = read_version(uri, "person")
    assert current.num_rows == 80
    assert read_version(uri, "person", divisions=["510104"]).num_rows == 20
    assert all(r.ok for r in verify_path(uri, all_versions=True))

    # the same inputs locally give the same content: S3 is only a different place
    local_root = tmp_path / "local-exchange"
    stage(local_root, persons("510107", range(50), updated=0))
    stage(local_root, persons("510104", range(20), updated=0), tag="b")
    _publish(Store.open(local_root), local_root, signer)
    stage(local_root, persons("510107", range(40, 60), run_id="r2", updated=5), run_id="r2")
    _publish(Store.open(local_root), local_root, signer)
    assert content_hash(read_version(local_root, "person")) == content_hash(current)

    # a recipient outbox on the same object store, followed incrementally
    outbox = _uri(s3_endpoint, bucket, "hub/outbox")
    grant = DatasetGrant("person", {"citizen_id": "pseudonym", "gender": "keep",
                                    "address_division": "keep"}, ("510104",))
    agreement = Agreement("mib", "医保局", "核验", "PIPL 13", date(2026, 1, 1),
                          date(2099, 1, 1), {"person": grant}, Path("mib.yaml"))
    from hrss_hub.exchange.versions import current as current_version

    v2 = current_version(store, "person")
    assert v2 is not None
    done = deliver(Store.open(outbox), store, v2, agreement, signer,
                   keys_dir=tmp_path / "keys", publisher=PUBLISHER)
    assert (done.status, done.rows) == ("delivered", 20)
    extract = read_version(Store.open(outbox).sub("mib"), "person")
    assert extract.column_names == ["citizen_id", "gender", "address_division"]
    assert all(r.ok for r in verify_path(outbox))

    # #16 point 8: the CLI keeps the configured endpoint for every table below the URI
    result = CliRunner().invoke(cli, ["verify", uri, "--all-versions"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["verify", _uri(s3_endpoint, bucket, "hub/exchange/person")])
    assert result.exit_code == 0, result.output

    client = boto3.client("s3", endpoint_url=f"http://{s3_endpoint}", region_name="us-east-1")
    key = next(o["Key"] for o in client.list_objects_v2(
        Bucket=bucket, Prefix="hub/exchange/person/address_division=510104/")["Contents"]
        if o["Key"].endswith(".parquet"))
    data = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[len(data) // 3] ^= 0x01
    client.put_object(Bucket=bucket, Key=key, Body=bytes(data))
    reports = verify_path(uri)
    assert not reports[0].ok and "digest does not match" in " ".join(reports[0].problems)


CONCURRENT = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from exchange_helpers import person_entity
from hrss_hub.exchange.pending import list_pending
from hrss_hub.exchange.publish import publish_entity
from hrss_hub.exchange.signing import load_signer
from hrss_hub.exchange.storage import Store

import hrss_hub.exchange.tables as tables
conflicts = []
real_sleep = tables.time.sleep
tables.time.sleep = lambda s: (conflicts.append(s), real_sleep(s))  # only after a conflict

store, staged, key = Store.open(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
v = publish_entity(store, person_entity(), list_pending(staged, "person"),
                   signer=load_signer(key), standard_version="1.0.0",
                   publisher={"hub_id": "t", "level": "district", "division": "510107"})
print(v.version, len(conflicts))
"""


@pytest.mark.parametrize("where", ["local", "s3"])
def test_two_publishers_at_once_lose_no_update(tmp_path: Path, signer: Signer, where: str,
                                               s3_endpoint: str, bucket: str) -> None:
    """Two processes publish into one table at the same moment (8 rounds): Delta's
    optimistic concurrency makes one of them retry on the new snapshot; every update of
    both survives, no key is duplicated, and each publish is its own version."""
    uri = (_uri(s3_endpoint, bucket, "race/exchange") if where == "s3"
           else str(tmp_path / "exchange"))
    key = tmp_path / "keys" / "signing.pem"
    seed = tmp_path / "seed"
    stage(seed, persons("510107", range(100), updated=0))
    _publish(Store.open(uri), seed, signer)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    helpers = str(Path(__file__).parent)
    conflicts = 0
    for round_ in range(1, 9):
        roots = []
        for side in ("a", "b"):
            root = tmp_path / f"{side}{round_}"
            # a: updates persons 0..19 of 510107; b: adds 10 persons of 510104 and updates
            # persons 20..29 of 510107 — the same table, different rows, same moment
            if side == "a":
                stage(root, persons("510107", range(20), run_id=f"a{round_}",
                                    updated=round_, name=f"甲{round_}-"), run_id=f"a{round_}")
            else:
                stage(root, persons("510104", range(round_ * 10, round_ * 10 + 10),
                                    run_id=f"b{round_}", updated=round_), run_id=f"b{round_}")
                stage(root, persons("510107", range(20, 30), run_id=f"b{round_}",
                                    updated=round_, name=f"乙{round_}-"), run_id=f"b{round_}",
                      tag="u")
            roots.append(root)
        procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT, uri, str(r), str(key),
                                   helpers], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for r in roots]
        outs = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
        versions = sorted(int(o[0].split()[0]) for o in outs)
        conflicts += sum(int(o[0].split()[1]) for o in outs)
        assert versions == [2 * round_, 2 * round_ + 1], versions  # both committed, in turn
        table = read_version(uri, "person")
        ids = table["citizen_id"].to_pylist()
        assert len(ids) == len(set(ids)) == 100 + 10 * round_
        names = {r["citizen_id"]: r["name"] for r in table.to_pylist()}
        ours = [n for n in names.values() if n.startswith(f"甲{round_}-")]
        theirs = [n for n in names.values() if n.startswith(f"乙{round_}-")]
        assert (len(ours), len(theirs)) == (20, 10), round_
    assert all(r.ok for r in verify_path(uri, all_versions=True))
    if where == "s3":  # no lock on S3: the race really happened and was retried
        assert conflicts >= 1
