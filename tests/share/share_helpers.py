"""Helpers of the sharing tests: a workspace with agreements and Delta outboxes, a real
``hrss-hub share serve`` process, and the real ``delta-sharing`` client in a recipient's
own environment.

The client pins pyarrow ≤ 23 while the hub needs pyarrow 26, so — exactly like a consuming
department, which has no hub installed — it lives in its own virtual environment
(``.venv-recipient`` next to the repository's ``.venv``, or ``HRSS_TEST_RECIPIENT_VENV``),
created on first use from ``recipient-requirements.txt``. Client code runs there as a
subprocess and hands its results back as Parquet/JSON files.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import requests
import yaml
from deltalake import CommitProperties, DeltaTable, write_deltalake

from hrss_hub.exchange.policy import load_agreement
from hrss_hub.share.shares import GRANT_KEY, grant_record

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
HUB_BIN = Path(sys.executable).parent / "hrss-hub"


# -- data ---------------------------------------------------------------------------------


def citizen_id(division: str, i: int) -> str:
    """An 18-character ID-shaped value (GB 11643 check digit) unique per (division, i)."""
    body = f"{division}{date(1960, 1, 1) + timedelta(days=i % 15000):%Y%m%d}{i % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def person_rows(ids: range, division: str = "510107", *, retired: bool = False) -> pa.Table:
    """Person extract rows as a masking agreement would deliver them (already masked)."""
    return pa.table({
        "citizen_id": pa.array([f"{i:064x}" for i in ids], pa.string()),  # pseudonym-like
        "name": pa.array([f"王{'*' * (1 + i % 2)}" for i in ids], pa.string()),
        "gender": pa.array([str(1 + i % 2) for i in ids], pa.string()),
        "birth_date": pa.array([date(1960, 1, 1) + timedelta(days=i) for i in ids],
                               pa.date32()),
        "address_division": pa.array([division] * len(ids), pa.string()),
        "retired": pa.array([retired] * len(ids), pa.bool_()),
    })


# -- workspace ----------------------------------------------------------------------------

MEDICAL = {
    "recipient": {"id": "medical-insurance", "name": "成都市武侯区医疗保障局",
                  "level": "district", "division": "510107"},
    "purpose": "医保参保人员身份核验", "legal_basis": "《社会保险法》第五十八条",
    "valid_from": "2026-01-01", "valid_to": "2030-12-31",
    "rows": {"division_prefix": "510107"},
    "datasets": {"person": {"columns": {
        "citizen_id": "pseudonym", "name": "partial", "gender": "keep", "birth_date": "keep",
        "address_division": "keep", "retired": "keep", "phone": "drop"}}},
}
CIVIL = {
    "recipient": {"id": "civil-affairs", "name": "成都市武侯区民政局", "level": "district",
                  "division": "510107"},
    "purpose": "低保家庭就业状况核对", "legal_basis": "《社会救助暂行办法》第十一条",
    "valid_from": "2026-01-01", "valid_to": "2030-12-31",
    "datasets": {"person": {"columns": {"citizen_id": "pseudonym", "gender": "keep",
                                        "address_division": "keep"}}},
}


@dataclass
class Workspace:
    """A hub workspace for the sharing tests."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "hub.yaml"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def ledger_url(self) -> str:
        return f"sqlite:///{self.root / '.hrss-hub' / 'ledger.db'}"

    def agreement_file(self, recipient: str) -> Path:
        return self.root / "sharing" / f"{recipient}.yaml"

    def write_agreement(self, doc: Mapping[str, Any]) -> Path:
        """Write (or rewrite) an agreement; bumps mtime so the server sees the change."""
        path = self.agreement_file(doc["recipient"]["id"])
        path.parent.mkdir(parents=True, exist_ok=True)
        before = path.stat().st_mtime_ns if path.exists() else 0
        path.write_text(yaml.safe_dump(dict(doc), allow_unicode=True, sort_keys=False),
                        encoding="utf-8")
        if path.stat().st_mtime_ns <= before:  # coarse clocks: make the change visible
            os.utime(path, ns=(before + 1_000_000, before + 1_000_000))
        return path

    def edit_agreement(self, recipient: str, **changes: Any) -> Path:
        doc = yaml.safe_load(self.agreement_file(recipient).read_text(encoding="utf-8"))
        for key, value in changes.items():
            doc[key] = value
        return self.write_agreement(doc)

    def table_path(self, recipient: str, dataset: str) -> Path:
        return self.outbox / recipient / dataset

    def write_outbox(self, recipient: str, dataset: str, table: pa.Table, *,
                     mode: str = "append", schema_mode: str | None = None) -> int:
        """Write an outbox Delta table as the publisher does (CDF on, partitioned by the
        division column, the grant stamped into the commit); return the new version."""
        grant = load_agreement(self.agreement_file(recipient)).datasets[dataset]
        partition = [c for c in ("division", "address_division") if c in table.column_names]
        write_deltalake(str(self.table_path(recipient, dataset)), table, mode=mode,
                        partition_by=partition[:1] or None, schema_mode=schema_mode,
                        configuration={"delta.enableChangeDataFeed": "true"},
                        commit_properties=CommitProperties(
                            custom_metadata={GRANT_KEY: grant_record(grant)}))
        return DeltaTable(str(self.table_path(recipient, dataset))).version()

    def merge_outbox(self, recipient: str, dataset: str, table: pa.Table, key: str) -> int:
        """Upsert ``table`` by ``key`` (MERGE: updates write ``_change_data`` files)."""
        grant = load_agreement(self.agreement_file(recipient)).datasets[dataset]
        dt = DeltaTable(str(self.table_path(recipient, dataset)))
        (dt.merge(table, f"s.{key} = t.{key}", source_alias="s", target_alias="t",
                  commit_properties=CommitProperties(
                      custom_metadata={GRANT_KEY: grant_record(grant)}))
         .when_matched_update_all().when_not_matched_insert_all().execute())
        return DeltaTable(str(self.table_path(recipient, dataset))).version()


def make_workspace(root: Path, agreements: tuple[Mapping[str, Any], ...] = (MEDICAL, CIVIL),
                   *, share: Mapping[str, Any] | None = None) -> Workspace:
    """A workspace with ``agreements`` and a SQLite ledger; no outbox yet."""
    root.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"hub_id": "wuhou", "level": "county", "division": "510107",
                           "ledger_url": "sqlite:///.hrss-hub/ledger.db"}
    if share:
        doc["share"] = dict(share)
    (root / "hub.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    ws = Workspace(root)
    for a in agreements:
        ws.write_agreement(a)
    return ws


def hub(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None,
        check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run the ``hrss-hub`` CLI of this venv."""
    result = subprocess.run([str(HUB_BIN), *args], cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"hrss-hub {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def create_token(ws: Workspace, recipient: str, out: Path, *extra: str) -> dict[str, Any]:
    """``hrss-hub share token create``; return the profile document."""
    hub("share", "token", "create", recipient, "--config", str(ws.config), "--out",
        str(out), *extra)
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return doc


def demo_delta_outboxes(world: Path) -> Path:
    """The Delta outboxes of a demo run: the run's own (``<world>/outbox``) when the
    pipeline writes Delta outboxes; otherwise (the Parquet ``v<N>/`` outboxes before the
    delta workstream's pipeline) each outbox's current version copied into a Delta table
    (CDF on, partitioned by division, the grant stamped) at ``<world>/outbox-delta/``."""
    from hrss_hub.exchange.policy import load_agreements
    from hrss_hub.exchange.reading import read_version
    from hrss_hub.exchange.storage import Store

    if any((t / "_delta_log").is_dir() for t in (world / "outbox").glob("*/*")):
        return world / "outbox"
    root = world / "outbox-delta"
    agreements = {a.recipient_id: a for a in load_agreements(world / "sharing")}
    for recipient in sorted(p.name for p in (world / "outbox").iterdir() if p.is_dir()):
        box = Store.open(world / "outbox" / recipient)
        for dataset in sorted(p.name for p in (world / "outbox" / recipient).iterdir()
                              if (p / "CURRENT").exists()):
            table = read_version(box, dataset)
            grant = agreements[recipient].datasets[dataset]
            partition = [c for c in ("division", "address_division") if c in table.column_names]
            write_deltalake(str(root / recipient / dataset), table,
                            partition_by=partition[:1] or None,
                            configuration={"delta.enableChangeDataFeed": "true"},
                            commit_properties=CommitProperties(
                                custom_metadata={GRANT_KEY: grant_record(grant)}))
    return root


# -- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """A running ``hrss-hub share serve`` process."""

    process: subprocess.Popen[str]
    endpoint: str
    log: Path

    def url(self, path: str) -> str:
        return self.endpoint + path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def serve(ws: Workspace, *args: str, env: Mapping[str, str] | None = None,
          scheme: str = "http", verify: str | bool = True) -> Iterator[Server]:
    """Start ``hrss-hub share serve`` on a free loopback port; stop it afterwards."""
    port = free_port()
    log = ws.root / f"server-{port}.log"
    fh = log.open("w", encoding="utf-8")
    process = subprocess.Popen(
        [str(HUB_BIN), "share", "serve", "--config", str(ws.config), "--port", str(port),
         *args], stdout=fh, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **(env or {})})
    server = Server(process, f"{scheme}://127.0.0.1:{port}/delta-sharing", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited {process.returncode}:\n"
                                     f"{server.output()}")
            try:
                requests.get(f"{scheme}://127.0.0.1:{port}/healthz", timeout=2, verify=verify)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise AssertionError("the server did not start:\n" + server.output()) \
                        from None
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        fh.close()


# -- the recipient's environment ----------------------------------------------------------


def recipient_python() -> Path:
    """The Python of the recipient venv with the real ``delta-sharing`` client."""
    venv = Path(os.environ.get("HRSS_TEST_RECIPIENT_VENV", ROOT / ".venv-recipient"))
    python = venv / "bin" / "python"
    marker = venv / ".hrss-requirements"
    wanted = (HERE / "recipient-requirements.txt").read_text(encoding="utf-8")
    if python.exists() and marker.exists() and marker.read_text(encoding="utf-8") == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r",
                    str(HERE / "recipient-requirements.txt")], check=True, timeout=1200)
    marker.write_text(wanted, encoding="utf-8")
    return python


def run_client(code: str, *, cwd: Path, env: Mapping[str, str] | None = None,
               timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with the recipient's Python (the real delta-sharing client)."""
    script = cwd / f"client_{time.monotonic_ns()}.py"
    # leave without interpreter finalization once the code has run: on a loaded machine the
    # client's native I/O threads (pyarrow/fsspec) occasionally abort the process at exit
    # ("terminate called without an active exception") after all the work is done
    trailer = "\nimport os as _os, sys as _sys\n_sys.stdout.flush()\n_sys.stderr.flush()\n" \
        "_os._exit(0)\n"
    script.write_text(textwrap.dedent(code) + trailer, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HRSS_HUB_", "VIRTUAL"))}
    result = subprocess.run([str(recipient_python()), str(script)], cwd=cwd,
                            capture_output=True, text=True, timeout=timeout,
                            env={**clean, **(env or {})})
    return result


def client_ok(code: str, *, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    """Run client code that must succeed; return its stdout."""
    result = run_client(code, cwd=cwd, env=env)
    assert result.returncode == 0, f"client failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def sorted_frame(table: pa.Table, key: str) -> list[dict[str, Any]]:
    """Rows as dicts sorted by ``key`` (for comparing a client's result with a table)."""
    return sorted(table.to_pylist(), key=lambda r: str(r[key]))


def now_iso(delta_seconds: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_seconds)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
