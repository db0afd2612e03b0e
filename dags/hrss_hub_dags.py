"""The hub's Airflow DAGs: one ``hrss_sync_<system>`` per ``connectors/*.yaml``, plus
``hrss_publish``.

Set ``HRSS_HUB_CONFIG`` to the workspace's ``hub.yaml``. Adding a source system is adding
a YAML file to its ``connectors/`` folder: the next parse shows the new DAG. This file stays
thin on purpose: parsing reads local YAML only (no database, network or engine import);
the tasks import the engine when they run. See ``hrss_hub.airflow.factory``.
"""

from __future__ import annotations

from hrss_hub.airflow.factory import build_dags
from hrss_hub.config.env import CONFIG

CONFIG_ENV = CONFIG.name

_config = CONFIG.read()
if not _config:
    # an import error is the one place the Airflow UI shows a problem with a DAG file
    raise RuntimeError(f"{CONFIG_ENV} is not set: point it to the workspace's hub.yaml")

# Airflow collects module-level DAG objects; the DAGs are built with auto_register=False
# so that only what build_dags returns is registered
globals().update(build_dags(_config))
