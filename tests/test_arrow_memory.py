"""The process-wide Arrow pool (``hrss_hub.arrow_memory``): jemalloc returning freed
pages at once, unless the operator chose a pool. Each case runs in a fresh interpreter,
because the pool is fixed when Arrow first allocates."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, resource
from hrss_hub.arrow_memory import return_freed_pages
return_freed_pages()
import numpy as np, pyarrow as pa, pyarrow.compute as pc

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

one = pa.array(np.arange(131_072, dtype=np.int64))
before = rss_mib()
batches = [pc.add(one, i) for i in range(300)]  # 300 one-MiB buffers, like a stream's
peak = rss_mib()
del batches
print(json.dumps({"pool": pa.default_memory_pool().backend_name,
                  "grew": peak - before, "kept": rss_mib() - before}))
"""


def probe(**env: str) -> dict[str, float | str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("ARROW_DEFAULT_MEMORY_POOL", "JE_ARROW_MALLOC_CONF")}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, float | str] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="jemalloc pool on Linux")
def test_freed_arrow_buffers_go_back_to_the_system_at_once() -> None:
    got = probe()
    assert got["pool"] == "jemalloc"
    assert float(got["grew"]) > 250
    # mimalloc, pyarrow's default, kept all of it here (347 of 347 MiB)
    assert float(got["kept"]) < 30, got


def test_an_operator_chosen_pool_is_kept() -> None:
    assert probe(ARROW_DEFAULT_MEMORY_POOL="system")["pool"] == "system"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="jemalloc pool on Linux")
@pytest.mark.parametrize("entry", [
    "from hrss_hub.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass",
    "import hrss_hub.airflow.tasks",
], ids=["cli", "airflow-task"])
def test_every_process_entry_chooses_the_pool_before_arrow_loads(entry: str) -> None:
    code = entry + "\nimport os, sys\nprint('pyarrow' in sys.modules, " \
                   "os.environ.get('ARROW_DEFAULT_MEMORY_POOL'))"
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "False jemalloc"
