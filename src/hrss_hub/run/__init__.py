"""The run: one execution of the pipeline over a workspace's systems.

- :mod:`hrss_hub.run.summary` — the result types (a leaf module: any package may import it)
- :mod:`hrss_hub.run.lock` — the ledger-held run lock and its heartbeat
- :mod:`hrss_hub.run.leftovers` — cleaning what killed runs left behind
- :mod:`hrss_hub.run.crashpoints` — test-only kill points (inert unless a test arms one)

The steps themselves (extract → map → gate → stage → publish) are in
:mod:`hrss_hub.pipeline`.
"""

from __future__ import annotations
