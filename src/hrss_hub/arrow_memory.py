"""How this process's Arrow buffers are allocated: jemalloc, handing freed pages back to
the operating system at once.

pyarrow's default pool on Linux is mimalloc, which keeps freed pages for reuse, so a run's
resident memory stays at the high-water mark of its biggest batch, and every later stage
(the master build's DuckDB, delta-rs' writes, the record linkage) stacks on top of it.
Measured with ``bench/bench_e2e.py --rows 1000000 --db sqlite --tools hrss-hub`` (one run
each, 2026-12-03; DuckDB capped at 256MB for all four): mimalloc 863–882 MiB peak RSS,
glibc (``system``) 758 MiB, mimalloc with ``MIMALLOC_PURGE_DELAY=0`` 805 MiB and 20% slower,
jemalloc with its decay at 0 **736 MiB** in the same time as mimalloc.

Both settings are environment variables Arrow and its bundled jemalloc read when the pool
is first used, so setting them costs no pyarrow import (``--help`` stays fast) and child
processes inherit them. An operator who sets ``ARROW_DEFAULT_MEMORY_POOL`` keeps the pool
they chose.
"""

from __future__ import annotations

import os
import sys

POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"
#: jemalloc's options, read from this variable by the jemalloc that pyarrow bundles
CONF_ENV = "JE_ARROW_MALLOC_CONF"
RETURN_AT_ONCE = "dirty_decay_ms:0,muzzy_decay_ms:0"


def return_freed_pages() -> None:
    """Make Arrow in this process (and its children) allocate with jemalloc and return
    freed pages at once; nothing when the operator chose a pool, or off Linux (where the
    wheels may lack jemalloc)."""
    if POOL_ENV in os.environ or not sys.platform.startswith("linux"):
        return
    os.environ[POOL_ENV] = "jemalloc"
    os.environ.setdefault(CONF_ENV, RETURN_AT_ONCE)
    if "pyarrow" in sys.modules:  # already loaded (a test, a notebook): switch its pool
        import pyarrow as pa

        try:
            pa.jemalloc_set_decay_ms(0)
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        except NotImplementedError:  # a build without jemalloc: keep its default
            return
