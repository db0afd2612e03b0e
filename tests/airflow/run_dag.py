"""Run one DAG of the DAG folder with ``dag.test()`` and print the outcome as JSON.

Used by the tests in a subprocess: Airflow reads its configuration (``AIRFLOW_HOME``, the
metadata DB, the DAG folder) once per process, and ``HRSS_HUB_CONFIG`` is read when the
DAG file is parsed, so each workspace gets a fresh interpreter.

    python tests/airflow/run_dag.py DAG_ID [DAG_ID ...]
"""

from __future__ import annotations

import json
import os
import sys


def activate_assets() -> None:
    """Parse the DAG folder into the metadata DB and activate every asset it references.

    The scheduler activates assets (``AssetActive``); ``dag.test()`` runs without one, so a
    task with outlets would fail with ``AirflowInactiveAssetInInletOrOutletException``
    (apache/airflow#51644). This does what the scheduler's asset-orphanage step does.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.models.asset import AssetActive, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path,
                           bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)
    with create_session() as session:
        rows = list(session.scalars(select(AssetActive)))
        names, uris = {a.name for a in rows}, {a.uri for a in rows}
        for model in session.scalars(select(AssetModel)):
            # like the scheduler: an asset whose name or URI is taken stays inactive
            if model.name not in names and model.uri not in uris:
                session.add(AssetActive.for_asset(model))
                names.add(model.name)
                uris.add(model.uri)


def main(dag_ids: list[str]) -> int:
    """Run each DAG in-process; print one ``RESULT {json}`` line per DAG."""
    from hrss_hub.airflow.factory import build_dags

    activate_assets()
    dags = build_dags(os.environ["HRSS_HUB_CONFIG"])
    for dag_id in dag_ids:
        dag_run = dags[dag_id].test()
        tasks = sorted(
            ({"task_id": ti.task_id, "map_index": ti.map_index, "state": str(ti.state),
              "try_number": ti.try_number} for ti in dag_run.get_task_instances()),
            key=lambda t: (t["task_id"], t["map_index"]))
        print("RESULT " + json.dumps({"dag_id": dag_id, "state": str(dag_run.state),
                                      "tasks": tasks}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
