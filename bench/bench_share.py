"""The Delta Sharing server under load: N concurrent real clients reading every share.

Builds the demo world (``--persons``), gives each of its recipients a token, starts a real
``hrss-hub share serve`` process on loopback, then runs ``--clients`` processes of the real
``delta-sharing`` client (in the recipient's own venv, see tests/share/share_helpers.py)
for ``--seconds``: each loops over every share — ``list_all_tables``, then
``load_as_pandas`` and ``load_table_changes_as_pandas`` of every table. It reports

- requests/s and latency percentiles of every request the server answered (from the
  server's own request log: handling time), and of every REST call as the clients saw it;
- errors: client exceptions and server responses ≥ 400 (there should be none);
- that every query was audited once: queries the clients sent (``/query``, ``/changes``)
  = ``share_query`` events in the ledger, and one ``share_download`` per file the queries
  listed (each read fetches every file it lists, once per URL).

Run: ``.venv/bin/python bench/bench_share.py [--clients 8] [--seconds 60] [--persons 2000]``
(until the delta workstream's Delta outboxes are on main, the demo's outboxes are copied
into Delta tables first, as the tests do).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "share"))

from share_helpers import (  # noqa: E402  (the tests' helpers: venv, server, tokens)
    Workspace,
    create_token,
    demo_delta_outboxes,
    recipient_python,
    serve,
)

CLIENT = r"""
import json, sys, time, traceback
import requests
import delta_sharing

profiles, seconds, out = json.loads(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
calls, ops, errors = [], [], []
send = requests.Session.send
def timed(self, request, **kw):
    started = time.perf_counter()
    response = send(self, request, **kw)
    calls.append([request.method, request.url.split("?")[0], response.status_code,
                  (time.perf_counter() - started) * 1000])
    return response
requests.Session.send = timed
deadline = time.monotonic() + seconds
loops = 0
while time.monotonic() < deadline:
    for profile in profiles:
        try:
            started = time.perf_counter()
            for t in delta_sharing.SharingClient(profile).list_all_tables():
                url = f"{profile}#{t.share}.{t.schema}.{t.name}"
                delta_sharing.load_as_pandas(url)
                delta_sharing.load_table_changes_as_pandas(url, starting_version=0)
            ops.append((time.perf_counter() - started) * 1000)
        except Exception:
            errors.append(traceback.format_exc(limit=3))
    loops += 1
json.dump({"calls": calls, "ops": ops, "errors": errors, "loops": loops}, open(out, "w"))
"""
LOG_LINE = re.compile(r"^(\S+ \S+) hrss_hub\.share (GET|HEAD|POST) (\S+) (\d{3}) ([\d.]+)ms",
                      re.M)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def build_world(folder: Path, persons: int) -> tuple[Workspace, Path]:
    """The demo world run once, and its outboxes as Delta tables."""
    from hrss_hub.demo.generator import generate_world
    from hrss_hub.demo_tour import run_demo

    generate_world(folder, persons=persons, seed=3)
    if run_demo(folder, persons, 3, quiet=True) != 0:
        raise SystemExit("the demo run did not match its answer key")
    return Workspace(folder), demo_delta_outboxes(folder)


def audit_since(ledger_url: str, seq: int) -> tuple[int, dict[str, int], int]:
    """(newest seq, sharing events by action after ``seq``, files the queries listed)."""
    engine = sa.create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "select seq, action, details from audit_events where seq > :s and "
                "action like 'share_%' order by seq"), {"s": seq}).all()
            newest = conn.execute(sa.text("select coalesce(max(seq), 0) from audit_events")
                                  ).scalar_one()
    finally:
        engine.dispose()
    counts: dict[str, int] = {}
    listed = 0
    for _, action, details in rows:
        counts[action] = counts.get(action, 0) + 1
        if action == "share_query":
            doc = details if isinstance(details, dict) else json.loads(details)
            listed += len(doc["files"])
    return int(newest), counts, listed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--persons", type=int, default=2000)
    args = parser.parse_args()
    python = recipient_python()
    with tempfile.TemporaryDirectory(prefix="bench-share-") as tmp:
        ws, outbox = build_world(Path(tmp) / "demo", args.persons)
        recipients = sorted(p.name for p in outbox.iterdir())
        with serve(ws, env={"HRSS_HUB_OUTBOX_URI": str(outbox)}) as server:
            profiles = []
            for r in recipients:
                path = Path(tmp) / f"{r}.share"
                create_token(ws, r, path, "--endpoint", server.endpoint)
                profiles.append(str(path))
            start_seq, _, _ = audit_since(ws.ledger_url, 0)
            log_start = len(server.output())
            started = time.monotonic()
            procs = []
            for i in range(args.clients):
                out = Path(tmp) / f"client-{i}.json"
                mine = profiles[i % len(profiles):] + profiles[:i % len(profiles)]
                procs.append((out, subprocess.Popen(
                    [str(python), "-c", CLIENT, json.dumps(mine), str(args.seconds), str(out)],
                    cwd=tmp, env={k: v for k, v in os.environ.items()
                                  if not k.startswith("HRSS_HUB_")})))
            for _, p in procs:
                p.wait(timeout=args.seconds + 600)
            elapsed = time.monotonic() - started
            time.sleep(1.0)  # the last log lines
            log = server.output()[log_start:]
            _, audited, listed = audit_since(ws.ledger_url, start_seq)
        results: list[dict[str, Any]] = [json.loads(out.read_text()) for out, _ in procs]
    lines = LOG_LINE.findall(log)
    served = [(m, path, int(s), float(ms)) for _, m, path, s, ms in lines]
    stamps = [datetime.strptime(at, "%Y-%m-%d %H:%M:%S,%f") for at, *_ in lines]
    # the rate over the window the clients were reading (their start-up excluded)
    window = (max(stamps) - min(stamps)).total_seconds() if len(stamps) > 1 else elapsed
    calls = [c for r in results for c in r["calls"]]
    errors = [e for r in results for e in r["errors"]]
    bad = [s for s in served if s[2] >= 400]
    queries = sum(1 for m, url, _, _ in calls if url.endswith("/query") or "/changes" in url)
    server_ms = [s[3] for s in served]
    rest_ms = [c[3] for c in calls]
    ops = [o for r in results for o in r["ops"]]
    report = {
        "clients": args.clients, "seconds": round(elapsed, 1), "persons": args.persons,
        "shares": len(recipients),
        "requests": len(served), "window_s": round(window, 1),
        "requests_per_s": round(len(served) / window, 1),
        "by_kind": {k: sum(1 for s in served if k in s[1]) for k in
                    ("/files/", "/query", "/changes", "/metadata", "/all-tables")},
        "server_ms": {"p50": percentile(server_ms, 50), "p95": percentile(server_ms, 95),
                      "p99": percentile(server_ms, 99), "mean": round(
                          statistics.fmean(server_ms), 1) if server_ms else None},
        "client_rest_ms": {"p50": round(percentile(rest_ms, 50), 1),
                           "p95": round(percentile(rest_ms, 95), 1)},
        "share_read_ms": {"p50": round(percentile(ops, 50)), "p95": round(percentile(ops, 95))},
        "errors": len(errors) + len(bad), "client_errors": errors[:3],
        "http_errors": bad[:3],
        "queries_sent": queries, "queries_audited": audited.get("share_query", 0),
        "files_listed": listed, "downloads_audited": audited.get("share_download", 0),
        "denied": audited.get("share_denied", 0),
        "loadavg": os.getloadavg(),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    ok = (report["errors"] == 0 and queries == report["queries_audited"]
          and listed == report["downloads_audited"])
    if not ok:
        raise SystemExit("FAILED: errors, or queries/downloads not audited exactly once")


if __name__ == "__main__":
    main()
