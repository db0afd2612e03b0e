"""Running the hub under Apache Airflow 3: DAGs built from the workspace's connector files.

* :mod:`hrss_hub.airflow.spec` — what a DAG needs from ``connectors/*.yaml`` (YAML only);
* :mod:`hrss_hub.airflow.factory` — ``build_dags(config_path)`` (imports ``airflow.sdk``);
* :mod:`hrss_hub.airflow.tasks` — the task bodies, calling :mod:`hrss_hub.pipeline`;
* :mod:`hrss_hub.airflow.callbacks` — retries and failures recorded in the ledger.

Nothing is imported here, so ``import hrss_hub.airflow.spec`` works without Airflow.
"""
