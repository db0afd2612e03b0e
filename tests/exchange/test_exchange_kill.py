"""Kill test (R1/R2): publishing is SIGKILLed at ≥ 20 points spread over every write,
pointer swap, prune and cleanup; a reader polling all along never sees a partial
version; the rerun publishes exactly one complete version whose content equals a clean
run's, with no duplicate and no missing keys."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from exchange_helpers import content_hash, person_entity, persons, stage

from hrss_hub.exchange.commit import read_pointer
from hrss_hub.exchange.pending import list_pending
from hrss_hub.exchange.reading import read_version
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.verify import verify_path
from hrss_hub.exchange.versions import publish_entity

KEEP = 3
ROUNDS = 22

# The child counts every mutating step (each write() into a data/manifest file, the
# pointer swap, each deletion) and SIGKILLs itself at step KILL_AT: a real kill -9 in
# the middle of a Parquet file, between files, around the swap or while pruning.
CHILD = r"""
import os, signal, sys
from pathlib import Path
from hrss_hub.exchange.pending import list_pending
from hrss_hub.exchange.signing import load_signer
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.versions import publish_entity
from hrss_hub.standard.model import load_standard

root, key, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
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
from contextlib import contextmanager
@contextmanager
def open_output(self, rel):
    with orig_open(self, rel) as out:
        yield Out(out)
Store.open_output = open_output
for name in ("replace_atomic", "delete_dir", "delete_file"):
    orig = getattr(Store, name)
    def wrap(self, *a, _orig=orig):
        step()
        return _orig(self, *a)
    setattr(Store, name, wrap)
orig_unlink = Path.unlink
def unlink(self, *a, **k):
    step()
    return orig_unlink(self, *a, **k)
Path.unlink = unlink

publish_entity(Store.open(root), load_standard().entity("person"),
               list_pending(Path(root), "person"), signer=load_signer(key),
               standard_version="1.0.0", publisher={"hub_id": "t", "level": "district",
               "division": "510107"}, keep=KEEP_VALUE)
print(count)
""".replace("KEEP_VALUE", str(KEEP))


def _publish(root: Path, signer: Signer) -> None:
    publish_entity(Store.open(root), person_entity(), list_pending(root, "person"),
                   signer=signer, standard_version="1.0.0",
                   publisher={"hub_id": "t", "level": "district", "division": "510107"},
                   keep=KEEP)


def _batch(k: int):  # each round updates some persons and adds new ones, two divisions
    return [persons("510107", range(k * 7, k * 7 + 40), run_id=f"r{k}", minute=k),
            persons("510104", range(k * 5, k * 5 + 25), run_id=f"r{k}", minute=k)]


def _child(root: Path, key: Path, kill_at: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-c", CHILD, str(root), str(key), str(kill_at)],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.slow
def test_kill_anywhere_never_tears_and_rerun_equals_clean(tmp_path: Path,
                                                          signer: Signer) -> None:
    key = tmp_path / "keys" / "signing.pem"
    killed_root, clean_root, probe_root = (tmp_path / n for n in ("killed", "clean", "probe"))
    for root in (killed_root, clean_root, probe_root):
        for i, t in enumerate(_batch(0)):
            stage(root, t, run_id="r0", tag=f"0-{i}")
        _publish(root, signer)

    # how many steps does one publish take? (a full child run on a scratch copy)
    for i, t in enumerate(_batch(1)):
        stage(probe_root, t, run_id="r1", tag=f"1-{i}")
    probe = _child(probe_root, key, -1)
    assert probe.returncode == 0, probe.stderr
    total = int(probe.stdout.strip())
    assert total >= 20
    rng = random.Random(20261128)
    points = sorted(rng.sample(range(1, total + 1), k=min(ROUNDS, total)))

    expected = {content_hash(read_version(clean_root, "person"))}
    seen: list[str] = []
    torn: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                seen.append(content_hash(read_version(killed_root, "person")))
            except Exception as exc:  # any failed read is a torn read
                torn.append(repr(exc))
            stop.wait(0.002)  # leave the GIL to the publisher now and then

    reader = threading.Thread(target=poll)
    reader.start()
    kills = 0
    try:
        for k, kill_at in enumerate(points, start=1):
            for root in (killed_root, clean_root):
                for i, t in enumerate(_batch(k)):
                    stage(root, t, run_id=f"r{k}", tag=f"{k}-{i}")
            _publish(clean_root, signer)
            clean = read_version(clean_root, "person")
            expected.add(content_hash(clean))
            before = read_pointer(Store.open(killed_root), "person").version
            result = _child(killed_root, key, kill_at)
            kills += result.returncode == -signal.SIGKILL
            assert result.returncode in (0, -signal.SIGKILL), result.stderr
            _publish(killed_root, signer)  # the rerun
            after = read_pointer(Store.open(killed_root), "person").version
            assert after == before + 1, f"kill at step {kill_at}: v{before} -> v{after}"
            table = read_version(killed_root, "person")
            keys = table["citizen_id"].to_pylist()
            assert len(keys) == len(set(keys)), f"duplicates after kill at {kill_at}"
            assert set(keys) == set(clean["citizen_id"].to_pylist())
            assert content_hash(table) == content_hash(clean), f"kill at step {kill_at}"
            assert not list_pending(killed_root, "person")
            assert all(r.ok for r in verify_path(killed_root / "person", all_versions=True))
    finally:
        stop.set()
        reader.join()
    assert kills >= 20, f"only {kills} of {len(points)} runs were killed"
    assert not torn, torn[:3]
    assert len(seen) >= 1000, f"only {len(seen)} polls"
    assert set(seen) <= expected  # every read was a complete, committed version
