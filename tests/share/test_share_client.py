"""The real ``delta-sharing`` Python client reads outboxes through ``hrss-hub share serve``.

The client runs in the recipient's own environment (no hub installed, see share_helpers)
against a real server process on loopback. What it returns is compared with what
delta-rs reads from the outbox table directly: the snapshot, time travel by version and
by timestamp, the change data feed, limits and partition pruning; then the delta response
format through the client's own REST layer, TLS with a self-signed certificate the client
is pointed at, and file URLs that expire.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import requests
from deltalake import DeltaTable, write_deltalake
from share_helpers import (
    CIVIL,
    MEDICAL,
    Workspace,
    client_ok,
    create_token,
    make_workspace,
    person_rows,
    run_client,
    serve,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: client-side helper: a pandas frame as JSON-able rows, types normalised like `norm`
NORMALISE = """
import json, math, datetime, decimal
import pandas as pd
def norm_value(v):
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return v.isoformat()
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if hasattr(v, "item"):
        return v.item()
    return v
def rows(df):
    return [{k: norm_value(v) for k, v in r.items()} for r in df.to_dict("records")]
def dump(name, value):
    with open(name, "w", encoding="utf-8") as fh:
        json.dump(value, fh, ensure_ascii=False, default=str)
"""


def norm_value(v: Any) -> Any:
    """The hub-side twin of the client's ``norm_value``."""
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def table_rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: norm_value(v) for k, v in r.items()} for r in table.to_pylist()]


def canon(rows: list[dict[str, Any]]) -> list[str]:
    """Rows as sorted canonical JSON strings: equal multisets compare equal."""
    return sorted(json.dumps(r, sort_keys=True, ensure_ascii=False, default=str) for r in rows)


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


#: the city-wide variant of the medical agreement: two districts' rows
CITY_WIDE = {**MEDICAL, "rows": {"division_prefix": "5101"}}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ws = make_workspace(tmp_path_factory.mktemp("client") / "ws", (CITY_WIDE, CIVIL))
    v0 = ws.write_outbox("medical-insurance", "person",
                         pa.concat_tables([person_rows(range(40)),
                                           person_rows(range(40, 60), "510104")]))
    time.sleep(1.1)  # distinct commit timestamps for time travel by timestamp
    v1 = ws.merge_outbox("medical-insurance", "person",
                         person_rows(range(30, 50), retired=True), "citizen_id")
    time.sleep(1.1)
    dt_ = DeltaTable(str(ws.table_path("medical-insurance", "person")))
    dt_.delete("citizen_id = '" + f"{3:064x}" + "'")
    v2 = DeltaTable(str(ws.table_path("medical-insurance", "person"))).version()
    assert (v0, v1, v2) == (0, 1, 2)
    with serve(ws) as server:
        profile = ws.root / "mi.share"
        create_token(ws, "medical-insurance", profile, "--endpoint", server.endpoint)
        yield {"ws": ws, "server": server, "profile": profile}


def outbox(ws: Workspace, version: int | None = None) -> DeltaTable:
    return DeltaTable(str(ws.table_path("medical-insurance", "person")), version=version)


def test_list_load_time_travel_and_changes_equal_the_outbox(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    history = {h["version"]: h["timestamp"] for h in outbox(ws).history()}
    at_v1 = dt.datetime.fromtimestamp((history[1] + history[2]) / 2000, dt.UTC)
    start_v1 = dt.datetime.fromtimestamp((history[0] + history[1]) / 2000, dt.UTC)
    client_ok(NORMALISE + f"""
import delta_sharing
profile = "{world['profile']}"
client = delta_sharing.SharingClient(profile)
dump("tables.json", [[t.share, t.schema, t.name] for t in client.list_all_tables()])
dump("shares.json", [s.name for s in client.list_shares()])
url = profile + "#medical-insurance.default.person"
dump("current.json", rows(delta_sharing.load_as_pandas(url)))
dump("v0.json", rows(delta_sharing.load_as_pandas(url, version=0)))
dump("at_v1.json", rows(delta_sharing.load_as_pandas(
    url, timestamp="{at_v1:%Y-%m-%dT%H:%M:%S.%fZ}")))
dump("limit.json", rows(delta_sharing.load_as_pandas(url, limit=7)))
dump("changes.json", rows(delta_sharing.load_table_changes_as_pandas(url, starting_version=0)))
dump("changes_1_2.json", rows(delta_sharing.load_table_changes_as_pandas(
    url, starting_version=1, ending_version=2)))
dump("version.json", delta_sharing.get_table_version(url))
dump("version_from.json", delta_sharing.get_table_version(
    url, starting_timestamp="{at_v1:%Y-%m-%dT%H:%M:%S.%fZ}"))
dump("version_first.json", delta_sharing.get_table_version(
    url, starting_timestamp="2000-01-01T00:00:00Z"))
dump("changes_ts.json", rows(delta_sharing.load_table_changes_as_pandas(
    url, starting_timestamp="{start_v1:%Y-%m-%dT%H:%M:%S.%fZ}",
    ending_timestamp="{at_v1:%Y-%m-%dT%H:%M:%S.%fZ}")))
""", cwd=ws.root)
    assert load(ws.root / "tables.json") == [["medical-insurance", "default", "person"]]
    assert load(ws.root / "shares.json") == ["medical-insurance"]
    current = table_rows(outbox(ws).to_pyarrow_table())
    assert canon(load(ws.root / "current.json")) == canon(current)
    assert len(current) == 59
    assert canon(load(ws.root / "v0.json")) == canon(table_rows(outbox(ws, 0)
                                                                .to_pyarrow_table()))
    assert canon(load(ws.root / "at_v1.json")) == canon(table_rows(outbox(ws, 1)
                                                                   .to_pyarrow_table()))
    limited = load(ws.root / "limit.json")
    assert len(limited) == 7 and all(canon([r])[0] in canon(current) for r in limited)
    cdf = pa.table(outbox(ws).load_cdf(starting_version=0))
    expected = table_rows(cdf.set_column(
        cdf.column_names.index("_commit_timestamp"), "_commit_timestamp",
        pa.array([int(t.timestamp() * 1000) for t in cdf["_commit_timestamp"].to_pylist()])))
    assert canon(load(ws.root / "changes.json")) == canon(expected)
    kinds = sorted({r["_change_type"] for r in load(ws.root / "changes.json")})
    assert kinds == ["delete", "insert", "update_postimage", "update_preimage"]
    part = [r for r in expected if r["_commit_version"] in (1, 2)]
    assert canon(load(ws.root / "changes_1_2.json")) == canon(part)
    assert load(ws.root / "version.json") == 2
    # the earliest version at or after a time; before the first version: the first
    assert load(ws.root / "version_from.json") == 2
    assert load(ws.root / "version_first.json") == 0
    # changes by timestamps: from the first version at or after, to the last at or before
    only_v1 = [r for r in expected if r["_commit_version"] == 1]
    assert canon(load(ws.root / "changes_ts.json")) == canon(only_v1) and only_v1


def test_partition_pruning_by_json_predicate_hints(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    hint = json.dumps({"op": "equal", "children": [
        {"op": "column", "name": "address_division", "valueType": "string"},
        {"op": "literal", "value": "510104", "valueType": "string"}]})
    token = json.loads(world["profile"].read_text())["bearerToken"]
    response = requests.post(
        world["server"].url("/shares/medical-insurance/schemas/default/tables/person/query"),
        json={"jsonPredicateHints": hint}, headers={"Authorization": f"Bearer {token}"},
        timeout=30)
    files = [json.loads(x)["file"] for x in response.text.splitlines() if '"file"' in x]
    assert files and {f["partitionValues"]["address_division"] for f in files} == {"510104"}
    client_ok(NORMALISE + f"""
import delta_sharing
url = "{world['profile']}#medical-insurance.default.person"
dump("pruned.json", rows(delta_sharing.load_as_pandas(url, jsonPredicateHints={hint!r})))
""", cwd=ws.root)
    pruned = load(ws.root / "pruned.json")
    expected = [r for r in table_rows(outbox(ws).to_pyarrow_table())
                if r["address_division"] == "510104"]
    assert canon(pruned) == canon(expected) and len(expected) == 10


def test_the_delta_response_format_through_the_clients_rest_layer(
        world: dict[str, Any], tmp_path: Path) -> None:
    """responseformat=delta, parsed by the client's own REST client; the actions and the
    files they name, put into a local log, read back by delta-rs as the outbox itself."""
    ws: Workspace = world["ws"]
    client_ok(f"""
import json
from delta_sharing.protocol import DeltaSharingProfile, Table
from delta_sharing.rest_client import DataSharingRestClient
client = DataSharingRestClient(DeltaSharingProfile.read_from_file("{world['profile']}"))
table = Table("person", "medical-insurance", "default")
assert client.autoresolve_query_format(table) == "parquet"  # both accepted: parquet
client.set_delta_format_header()
response = client.list_files_in_table(table)
meta = client.query_table_metadata(table)
changes_client = DataSharingRestClient(DeltaSharingProfile.read_from_file("{world['profile']}"))
changes_client.set_delta_format_header(for_cdf=True)
from delta_sharing.protocol import CdfOptions
changes = changes_client.list_table_changes(table, CdfOptions(starting_version=0))
json.dump({{"version": response.delta_table_version, "lines": list(response.lines),
           "meta_version": meta.delta_table_version, "schema": meta.metadata.schema_string,
           "changes": list(changes.lines)}}, open("delta.json", "w"))
""", cwd=ws.root)
    doc = load(ws.root / "delta.json")
    assert doc["version"] == doc["meta_version"] == 2
    lines = [json.loads(x) for x in doc["lines"]]
    assert "deltaProtocol" in lines[0]["protocol"] and "deltaMetadata" in lines[1]["metaData"]
    log = tmp_path / "rebuilt" / "_delta_log"
    log.mkdir(parents=True)
    actions = [{"protocol": lines[0]["protocol"]["deltaProtocol"]},
               {"metaData": lines[1]["metaData"]["deltaMetadata"]}]
    for i, entry in enumerate(x["file"] for x in lines[2:]):
        add = entry["deltaSingleAction"]["add"]
        local = f"part-{i}.parquet"
        (tmp_path / "rebuilt" / local).write_bytes(requests.get(add["path"], timeout=30).content)
        actions.append({"add": {**add, "path": local}})
    (log / f"{0:020d}.json").write_text("\n".join(json.dumps(a) for a in actions) + "\n")
    rebuilt = DeltaTable(str(tmp_path / "rebuilt")).to_pyarrow_table()
    assert canon(table_rows(rebuilt)) == canon(table_rows(outbox(ws).to_pyarrow_table()))
    changes = [json.loads(x) for x in doc["changes"]]
    assert changes[1]["metaData"]["version"] == 0
    files = [c["file"] for c in changes[2:]]
    assert sorted({f["version"] for f in files}) == [0, 1, 2]
    kinds = {next(iter(f["deltaSingleAction"])) for f in files}
    assert kinds == {"add", "cdc"}  # merge and delete write _change_data files


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "share.pem", tmp / "share.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_with_a_certificate_the_client_trusts(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    ws = make_workspace(tmp_path / "ws", share={"tls_cert": str(cert), "tls_key": str(key)})
    ws.write_outbox("medical-insurance", "person", person_rows(range(12)))
    with serve(ws, scheme="https", verify=str(cert)) as server:
        assert server.endpoint.startswith("https://")
        profile = ws.root / "mi.share"
        create_token(ws, "medical-insurance", profile, "--endpoint", server.endpoint)
        code = NORMALISE + f"""
import delta_sharing
url = "{profile}#medical-insurance.default.person"
dump("tls.json", rows(delta_sharing.load_as_pandas(url)))
"""
        trusted = {"REQUESTS_CA_BUNDLE": str(cert), "SSL_CERT_FILE": str(cert)}
        client_ok(code, cwd=ws.root, env=trusted)
        assert len(load(ws.root / "tls.json")) == 12
        # without the certificate the client refuses the server (no retries: the client
        # would back off for ~100 s on a connection error)
        untrusted = run_client(f"""
from delta_sharing.protocol import DeltaSharingProfile
from delta_sharing.rest_client import DataSharingRestClient
DataSharingRestClient(DeltaSharingProfile.read_from_file("{profile}"), num_retries=0).list_shares()
""", cwd=ws.root)
        assert untrusted.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(server.url("/shares"), timeout=10)


def test_file_urls_expire(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    ws.write_outbox("medical-insurance", "person", person_rows(range(5)))
    with serve(ws, "--url-ttl", "10") as server:
        profile = ws.root / "mi.share"
        create_token(ws, "medical-insurance", profile, "--endpoint", server.endpoint)
        client_ok(f"""
import json
from delta_sharing.protocol import DeltaSharingProfile, Table
from delta_sharing.rest_client import DataSharingRestClient
client = DataSharingRestClient(DeltaSharingProfile.read_from_file("{profile}"))
files = client.list_files_in_table(Table("person", "medical-insurance", "default")).add_files
json.dump([f.url for f in files], open("urls.json", "w"))
""", cwd=ws.root)
        url = load(ws.root / "urls.json")[0]
        expires = int(url.split("e=")[1].split("&")[0])
        assert 9_000 <= expires - time.time() * 1000 <= 10_500
        assert requests.get(url, timeout=10).status_code == 200
        time.sleep(max(0.0, expires / 1000 - time.time()) + 0.5)
        late = requests.get(url, timeout=10)
        assert late.status_code == 403 and "expired" in late.json()["message"]


def test_a_table_written_by_another_delta_writer_reads_the_same(tmp_path: Path) -> None:
    """No hub stamp in the log (another writer, or the outbox before the hub stamped
    grants): the server falls back to comparing column names with the grant."""
    ws = make_workspace(tmp_path / "ws")
    path = ws.table_path("medical-insurance", "person")
    path.parent.mkdir(parents=True)
    write_deltalake(str(path), person_rows(range(9)), partition_by=["address_division"],
                    configuration={"delta.enableChangeDataFeed": "true"})
    with serve(ws) as server:
        profile = ws.root / "mi.share"
        create_token(ws, "medical-insurance", profile, "--endpoint", server.endpoint)
        client_ok(NORMALISE + f"""
import delta_sharing
dump("plain.json", rows(delta_sharing.load_as_pandas("{profile}#medical-insurance.default.person")))
""", cwd=ws.root)
    assert canon(load(ws.root / "plain.json")) == canon(table_rows(DeltaTable(str(path))
                                                                   .to_pyarrow_table()))
