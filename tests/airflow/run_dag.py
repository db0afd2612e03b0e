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


def hub_run_ids() -> list[str]:
    """The ids of the hub runs in the workspace's ledger (``hrss_publish``'s manual conf:
    ``dag.test()`` has no triggering asset events)."""
    from hrss_hub.config import load_config
    from hrss_hub.ledger import Ledger

    ledger = Ledger.open(load_config(os.environ["HRSS_HUB_CONFIG"]).ledger_url)
    try:
        return [r.id for r in ledger.recent_runs(1000)]
    finally:
        ledger.close()


def asset_events() -> list[dict[str, object]]:
    """Every asset event in the metadata DB, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.uri, AssetEvent.source_dag_id, AssetEvent.source_task_id,
                   AssetEvent.extra).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .order_by(AssetEvent.id)).all()
    return [{"uri": u, "dag_id": d, "task_id": t, "extra": e} for u, d, t, e in rows]


def main(dag_ids: list[str]) -> int:
    """Run each DAG in-process; print one ``RESULT {json}`` line per DAG, then one
    ``EVENTS [json]`` line with the asset events. ``hrss_publish`` is given the hub runs
    of the ledger as its conf."""
    from hrss_hub.airflow.factory import build_dags
    from hrss_hub.airflow.spec import PUBLISH_DAG_ID

    activate_assets()
    dags = build_dags(os.environ["HRSS_HUB_CONFIG"])
    for dag_id in dag_ids:
        conf = {"run_ids": hub_run_ids()} if dag_id == PUBLISH_DAG_ID else None
        dag_run = dags[dag_id].test(run_conf=conf)
        tasks = sorted(
            ({"task_id": ti.task_id, "map_index": ti.map_index, "state": str(ti.state),
              "try_number": ti.try_number} for ti in dag_run.get_task_instances()),
            key=lambda t: (t["task_id"], t["map_index"]))
        print("RESULT " + json.dumps({"dag_id": dag_id, "state": str(dag_run.state),
                                      "tasks": tasks}), flush=True)
    print("EVENTS " + json.dumps(asset_events(), default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
