"""Named points where a test may kill the running process (SIGKILL), to prove that a
killed run loses nothing and doubles nothing.

Inert in production: the variable is read once at import and :func:`hit` is a single
comparison with ``None``. A test arms one point for a subprocess with
``HRSS_HUB_TEST_CRASHPOINT=<name>`` (SIGKILL the first time the point is reached),
``<name>@<n>`` (the n-th time) or ``<name>~<seconds>`` (pause there instead, so that a
second process can be started while the first provably holds the run lock).
"""

from __future__ import annotations

import os
import signal
import threading
import time

from hrss_hub.config.env import TEST_CRASHPOINT

_ARMED = TEST_CRASHPOINT.read()
_SPEC, _, _PAUSE = (_ARMED or "").partition("~")
_NAME, _, _NTH = _SPEC.partition("@")
_WANTED = int(_NTH) if _NTH.isdigit() else 1
_SEEN = 0  # test-only counter of the armed point (None of this runs in production)
_COUNTING = threading.Lock()  # streams of a parallel run pass the points from their threads

#: every point the engine passes, in the order of one stream's life
POINTS = (
    "extract.started", "extract.chunk", "extract.done",
    "stage.written",
    "quarantine.tmp_written", "quarantine.renamed",
    "ledger.before_commit", "ledger.committed", "ledger.batch_recorded",
    "publish.started", "publish.entity", "publish.delivered", "publish.done",
    "run.before_finish", "run.finished",
)


def hit(name: str) -> None:
    """Kill this process with SIGKILL if a test armed point ``name`` (else: nothing)."""
    if _ARMED is None or name != _NAME:
        return
    global _SEEN
    with _COUNTING:
        _SEEN += 1
        seen = _SEEN
    if seen != _WANTED:
        return
    if _PAUSE:
        time.sleep(float(_PAUSE))
        return
    os.kill(os.getpid(), signal.SIGKILL)
