"""Celery queues of the hub's DAGs: which queue each DAG's tasks go to, and the list a
worker must consume so that nothing sits queued.

``airflow_queue`` (hub.yaml, or ``HRSS_HUB_AIRFLOW_QUEUE``) is a template over
``{system}``, ``{level}``, ``{division}`` and ``{hub_id}``. A sync DAG's tasks go to the
template with its system; the publish DAG's with ``system=publish`` — so
``hrss_{system}`` sends publishing to ``hrss_publish`` and ``hrss_{level}`` sends
everything of a county hub to ``hrss_county``. Unset: Airflow's default queue
(``[operators] default_queue``, ``default``).

    python -m hrss_hub.airflow.queues path/to/hub.yaml   # e.g. hrss_contracts,…,hrss_publish

prints the comma-separated list for ``airflow celery worker --queues``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hrss_hub.airflow.spec import PUBLISH_DAG_ID, SYNC_PREFIX, read_system_specs

#: the system name the publish DAG fills into the template
PUBLISH_SYSTEM = "publish"
#: Airflow's default queue (``[operators] default_queue``) when no template is set
DEFAULT_QUEUE = "default"


def queue_for(dag_id: str, cfg: Any, template: str | None = None) -> str | None:
    """The queue of ``dag_id``'s tasks under ``cfg.airflow_queue`` (or ``template``);
    None: no template (Airflow's default queue)."""
    template = template if template is not None else cfg.airflow_queue
    if not template:
        return None
    system = PUBLISH_SYSTEM if dag_id == PUBLISH_DAG_ID else dag_id.removeprefix(SYNC_PREFIX)
    return str(template.format(system=system, level=cfg.level, division=cfg.division,
                               hub_id=cfg.hub_id))


def worker_queues(config_path: str | Path) -> list[str]:
    """Every queue the workspace's DAGs use (sorted, without duplicates): what one worker
    consuming everything passes to ``--queues``; per-zone workers take a subset."""
    from hrss_hub.config import load_config

    cfg = load_config(config_path)
    specs = read_system_specs(config_path)
    dag_ids = [s.dag_id for s in specs]
    if any(s.error is None and s.entities for s in specs):
        dag_ids.append(PUBLISH_DAG_ID)
    names = {queue_for(d, cfg) or DEFAULT_QUEUE for d in dag_ids}
    return sorted(names or {DEFAULT_QUEUE})


def main(argv: list[str]) -> int:
    """Print the workspace's worker queues, comma-separated."""
    from hrss_hub.config.env import CONFIG

    config = argv[0] if argv else CONFIG.read()
    if not config:
        print(f"usage: python -m hrss_hub.airflow.queues HUB_YAML (or set {CONFIG.name})",
              file=sys.stderr)
        return 2
    print(",".join(worker_queues(config)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
