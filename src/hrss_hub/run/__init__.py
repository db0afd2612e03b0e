"""The run: one execution of the pipeline over a workspace's systems.

- :mod:`hrss_hub.run.summary` — the result types (a leaf module: any package may import it)
- :mod:`hrss_hub.run.context` — the run context every step gets (no module-level run state)
- :mod:`hrss_hub.run.stream` — one stream's steps: extract → map → gate → stage → publish
- :mod:`hrss_hub.run.lock` — the ledger-held run lock and its heartbeat
- :mod:`hrss_hub.run.leftovers` — cleaning what killed runs left behind
- :mod:`hrss_hub.run.crashpoints` — test-only kill points (inert unless a test arms one)

:mod:`hrss_hub.pipeline` puts them together for a whole run (the CLI) and for the
one-step-per-task calls of the Airflow DAGs.
"""

from __future__ import annotations
