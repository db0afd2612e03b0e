"""Kill test: publishing and delivery are SIGKILLed at ≥ 20 points — inside every hub
write (intent, data file, manifest, signature, clean-up), just before and just after each
Delta commit, and at random moments inside delta-rs' MERGE — while readers poll the
table through the hub's API and through plain Delta readers. No poll ever sees a torn
version, and the rerun after every kill gives exactly a clean run's exchange and
outbox."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from deltalake import DeltaTable
from exchange_helpers import content_hash, persons, stage

from hrss_hub.config import HubConfig
from hrss_hub.exchange.pending import list_pending
from hrss_hub.exchange.reading import read_version
from hrss_hub.exchange.verify import verify_path
from hrss_hub.exchange.versions import publish_pending

ROUNDS = 26
AGREEMENT = {
    "recipient": {"id": "mib", "name": "医保局", "level": "district"},
    "purpose": "核验", "legal_basis": "PIPL 13", "valid_from": "2026-01-01",
    "valid_to": "2099-12-31", "rows": {"division_prefix": "510107"},
    "datasets": {"person": {"columns": {"citizen_id": "pseudonym", "name": "partial",
                                        "address_division": "keep", "gender": "keep"}}}}

# The child counts every mutating step of the hub (each write into a file, each delete,
# each Delta commit before and after) and SIGKILLs itself at step KILL_AT; with KILL_AT
# = 0 it prints "ready" and waits to be killed by the parent at a random moment instead.
CHILD = r"""
import os, signal, sys
from pathlib import Path
from contextlib import contextmanager
from hrss_hub.config import load_config
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.tables import Table
from hrss_hub.exchange.versions import publish_pending

config, kill_at = sys.argv[1], int(sys.argv[2])
count = 0

def step():
    global count
    count += 1
    if count == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

class Out:
    def __init__(self, inner):
        self.inner = inner
    def write(self, data):
        step()
        return self.inner.write(data)
    def __getattr__(self, name):
        return getattr(self.inner, name)

orig_open = Store.open_output
@contextmanager
def open_output(self, rel):
    with orig_open(self, rel) as out:
        yield Out(out)
Store.open_output = open_output
for name in ("write_bytes", "replace_atomic", "delete_file", "delete_dir"):
    orig = getattr(Store, name)
    def wrap(self, *a, _orig=orig, **k):
        step()
        return _orig(self, *a, **k)
    setattr(Store, name, wrap)
for name in ("create", "append_files", "merge"):
    orig = getattr(Table, name)
    def around(self, *a, _orig=orig, **k):
        step()
        out = _orig(self, *a, **k)
        step()  # committed, manifest not yet written
        return out
    setattr(Table, name, around)
orig_unlink = Path.unlink
def unlink(self, *a, **k):
    step()
    return orig_unlink(self, *a, **k)
Path.unlink = unlink

cfg = load_config(Path(config))
if kill_at == 0:
    print("ready", flush=True)
publish_pending(cfg, None, None)
print(count, flush=True)
"""


def _workspace(base: Path, name: str) -> HubConfig:
    root = base / name
    (root / "sharing").mkdir(parents=True)
    (root / "sharing" / "mib.yaml").write_text(yaml.safe_dump(AGREEMENT, allow_unicode=True),
                                               encoding="utf-8")
    (root / "hub.yaml").write_text("hub_id: wuhou\nlevel: district\ndivision: '510107'\n",
                                   encoding="utf-8")
    return HubConfig(root=root, hub_id="wuhou", division="510107",
                     source_file=root / "hub.yaml")


def _stage_round(cfg: HubConfig, k: int) -> None:
    """Round k updates some persons of 510107 (newer in the source) and adds persons to
    both divisions; every third round moves one person to 510104."""
    assert cfg.exchange_root is not None
    a = persons("510107", range(k * 7, k * 7 + 40), run_id=f"r{k}", minute=k, updated=k,
                name=f"张{k}")
    b = persons("510104", range(k * 5, k * 5 + 25), run_id=f"r{k}", minute=k, updated=k)
    if k % 3 == 0:
        a = a.set_column(a.schema.get_field_index("address_division"),
                         a.schema.field("address_division"),
                         pa.array(["510104"] + ["510107"] * (a.num_rows - 1)))
    stage(cfg.exchange_root, a, run_id=f"r{k}", tag=f"{k}-a")
    stage(cfg.exchange_root, b, run_id=f"r{k}", tag=f"{k}-b")


def _child(cfg: HubConfig, kill_at: int, delay: float | None = None
           ) -> subprocess.CompletedProcess[str] | int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for name in ("HRSS_HUB_SIGNING_KEY", "HRSS_HUB_EXCHANGE_URI", "HRSS_HUB_OUTBOX_URI"):
        env.pop(name, None)
    args = [sys.executable, "-c", CHILD, str(cfg.source_file), str(kill_at)]
    if delay is None:
        return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return proc.returncode


@pytest.mark.slow
def test_kill_anywhere_never_tears_and_rerun_equals_clean(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HRSS_HUB_SIGNING_KEY", "HRSS_HUB_EXCHANGE_URI", "HRSS_HUB_OUTBOX_URI"):
        monkeypatch.delenv(name, raising=False)
    killed, clean, probe = (_workspace(tmp_path, n) for n in ("killed", "clean", "probe"))
    # one signing key for all three, so that outbox content is comparable
    key_dir = tmp_path / "killed" / ".hrss-hub"
    for cfg in (killed, clean, probe):
        _stage_round(cfg, 0)
        if cfg is not killed:
            assert cfg.state_dir is not None
            cfg.state_dir.mkdir(parents=True, exist_ok=True)
    publish_pending(killed, None, None)
    for cfg in (clean, probe):
        assert cfg.state_dir is not None
        for f in key_dir.rglob("*"):
            if f.is_file():
                target = cfg.state_dir / f.relative_to(key_dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(f.read_bytes())
                target.chmod(0o600)
        publish_pending(cfg, None, None)

    # how many steps does one publish + delivery take? (a full child run on a copy)
    _stage_round(probe, 1)
    started = time.perf_counter()
    result = _child(probe, -1)
    duration = time.perf_counter() - started
    assert isinstance(result, subprocess.CompletedProcess) and result.returncode == 0, \
        result.stderr if isinstance(result, subprocess.CompletedProcess) else result
    total = int(result.stdout.strip().splitlines()[-1])
    assert total >= 20
    rng = random.Random(20261201)
    # two thirds of the kills at counted steps, spread over the whole publish and
    # delivery; the rest at random moments (inside delta-rs' own writes)
    # (later rounds take about as many steps as the probe; stay inside the shortest)
    stepped = sorted(rng.sample(range(1, int(total * 0.9) + 1), k=min(18, total)))
    plan: list[tuple[int, float | None]] = [(n, None) for n in stepped]
    plan += [(0, rng.uniform(0.05, 0.5) * duration) for _ in range(ROUNDS - len(plan))]
    rng.shuffle(plan)

    assert clean.exchange_root is not None and killed.exchange_root is not None
    exchange_path = str(killed.exchange_root / "person")
    outbox_path = str(killed.root / "outbox" / "mib" / "person")
    expected = {content_hash(read_version(clean.exchange_root, "person"))}
    expected_box = {content_hash(read_version(clean.root / "outbox" / "mib", "person"))}
    seen: list[str] = []
    torn: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 3 == 0:  # the hub's reader: the newest signed version, verified
                    seen.append(content_hash(read_version(killed.exchange_root, "person")))
                elif n % 3 == 1:  # a plain Delta reader: the newest committed version
                    seen.append(content_hash(pa.table(
                        DeltaTable(exchange_path).to_pyarrow_table())))
                else:  # the recipient's plain reader of its outbox
                    seen.append("box:" + content_hash(pa.table(
                        DeltaTable(outbox_path).to_pyarrow_table())))
            except Exception as exc:  # any failed read is a torn read
                torn.append(repr(exc))
            stop.wait(0.001)

    reader = threading.Thread(target=poll)
    reader.start()
    kills = 0
    try:
        for k, (kill_at, delay) in enumerate(plan, start=2):
            for cfg in (killed, clean):
                _stage_round(cfg, k)
            publish_pending(clean, None, None)
            clean_table = read_version(clean.exchange_root, "person")
            clean_box = read_version(clean.root / "outbox" / "mib", "person")
            expected.add(content_hash(clean_table))
            expected_box.add(content_hash(clean_box))
            outcome = _child(killed, kill_at, delay)
            code = outcome if isinstance(outcome, int) else outcome.returncode
            assert code in (0, -signal.SIGKILL), getattr(outcome, "stderr", code)
            kills += code == -signal.SIGKILL
            publish_pending(killed, None, None)  # the rerun
            table = read_version(killed.exchange_root, "person")
            ids = table["citizen_id"].to_pylist()
            assert len(ids) == len(set(ids)), f"duplicates after kill {kill_at}/{delay}"
            assert content_hash(table) == content_hash(clean_table), (kill_at, delay)
            box = read_version(killed.root / "outbox" / "mib", "person")
            assert content_hash(box) == content_hash(clean_box), (kill_at, delay)
            assert not list_pending(killed.exchange_root, "person")
            assert all(r.ok for r in verify_path(killed.root / "outbox")), (kill_at, delay)
            assert all(r.ok for r in verify_path(killed.exchange_root, all_versions=True))
        deadline = time.monotonic() + 60
        while len(seen) < 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        reader.join()
    assert kills >= 20, f"only {kills} of {len(plan)} runs were killed"
    assert not torn, torn[:3]
    assert len(seen) >= 1000, f"only {len(seen)} polls"
    boxes = {s[4:] for s in seen if s.startswith("box:")}
    tables = {s for s in seen if not s.startswith("box:")}
    assert tables <= expected  # every read was a complete, committed version
    assert boxes <= expected_box
