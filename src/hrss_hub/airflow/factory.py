"""Build the hub's Airflow DAGs from a workspace: one sync DAG per source system + publish.

``hrss_sync_<system>`` (one per ``connectors/*.yaml``; schedule, retries, retry delay,
owner and tags from that file)::

    start_run ─► sync_stream × N ─► finish_run ─┬─► check_run
                 (dynamic mapping,  (all_done;   └─► quality_report
                  one per stream)    outlets: the entity assets)

A system's tasks only stage rows; ``hrss_publish`` — scheduled on the entity assets
(``hrss://entity/<entity>``), one active run at a time, under the ledger's publish lock —
is the one publisher: it cuts dataset versions from everything staged and delivers them.

Retries: a task body's :class:`~hrss_hub.errors.HubError` says whether a retry may help
(:func:`hrss_hub.errors.is_retriable`). Fatal ones — a quality threshold, a broken suite,
bad configuration, a refused schema change — raise ``AirflowFailException`` (no retry);
retriable ones (a source that is down, a ledger or run lock that is busy) are retried as
the connector file says.

Only local YAML is read here (see :mod:`hrss_hub.airflow.spec`); the task bodies
(:mod:`hrss_hub.airflow.tasks`) import the engine when they run. XCom carries run ids and
small summaries, never rows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pendulum
from airflow.sdk import DAG, Asset, AssetAny, TriggerRule, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from hrss_hub.airflow import tasks
from hrss_hub.airflow.callbacks import TASK_FAILED, TASK_RETRY, TaskEventRecorder
from hrss_hub.airflow.spec import (
    PUBLISH_DAG_ID,
    SystemSpec,
    asset_uri,
    outbox_uri,
    published_uri,
    read_recipients,
    read_system_specs,
)
from hrss_hub.errors import HubError, is_retriable

if TYPE_CHECKING:
    from hrss_hub.config import HubConfig

#: Celery queue per task, as a template over ``{system}``, ``{level}``, ``{division}`` and
#: ``{hub_id}`` (e.g. ``hrss_{system}`` or ``hrss_{level}``); unset: Airflow's default queue.
#: hub.yaml ``airflow_queue``, overridden by this variable (resolved by ``load_config``).
QUEUE_ENV = "HRSS_HUB_AIRFLOW_QUEUE"

_T = TypeVar("_T")

#: Cron expressions in the YAML are read in Beijing time, where the bureaus are.
TIMEZONE = "Asia/Shanghai"
#: A fixed start date: with catchup off it only bounds the first data interval.
START_DATE = pendulum.datetime(2025, 1, 1, tz=TIMEZONE)


def build_dags(config_path: str | Path) -> dict[str, DAG]:
    """Every DAG of the workspace whose ``hub.yaml`` is ``config_path``, by DAG id.

    A connector file that cannot be read (or whose DAG cannot be built, e.g. a bad cron
    expression) yields a one-task DAG under the same id that fails with the reason, so the
    problem is visible in the UI and the other systems' DAGs are unaffected.
    """
    config = str(Path(config_path).resolve())
    specs = read_system_specs(config)
    dags: dict[str, DAG] = {}
    for spec in specs:
        dags[spec.dag_id] = _build_or_error(spec, config)
    entities = sorted({e for s in specs if s.error is None for e in s.entities})
    if entities:
        dags[PUBLISH_DAG_ID] = build_publish_dag(config, entities, read_recipients(config))
    from hrss_hub.config import load_config

    cfg = load_config(config)
    if cfg.airflow_queue:
        _route_to_queues(dags, cfg, cfg.airflow_queue)
    return dags


def _route_to_queues(dags: dict[str, DAG], cfg: HubConfig, template: str) -> None:
    # scale-out: Celery workers started with ``--queues hrss_si_core`` (or ``hrss_city``)
    # take only that system's (or level's) tasks, e.g. a worker next to the source system;
    # the publish DAG's queue is the template with system "publish" (see airflow.queues)
    from hrss_hub.airflow.queues import queue_for

    for dag_id, dag in dags.items():
        queue = queue_for(dag_id, cfg, template)
        if queue is None:
            continue
        for op in dag.tasks:
            op.queue = queue


def _build_or_error(spec: SystemSpec, config: str) -> DAG:
    if spec.error is None:
        try:
            dag = build_system_dag(spec, config)
            # the DagBag validates after import (a bad cron expression fails there, and
            # would fail the whole file): validate here, where it can be contained
            dag.validate()  # type: ignore[no-untyped-call]
            return dag
        except Exception as exc:  # noqa: BLE001 - one bad file must not hide the other DAGs
            return build_error_dag(spec, f"{spec.file}: cannot build the DAG (schedule "
                                         f"{spec.schedule!r}): {exc}")
    return build_error_dag(spec, spec.error)


def fail_fast(body: Callable[[], _T]) -> _T:
    """Run a task body; a non-retriable ``HubError`` becomes ``AirflowFailException`` (the
    task fails now, with the hub's message, instead of retrying what cannot succeed)."""
    try:
        return body()
    except HubError as exc:
        if not is_retriable(exc):
            raise AirflowFailException(str(exc)) from exc
        raise


def entity_asset(entity: str) -> Asset:
    """The Airflow asset of an entity's staged updates (a sync DAG recorded a run that
    staged rows for it); ``hrss_publish`` is scheduled on these."""
    return Asset(uri=asset_uri(entity), name=f"hrss_entity_{entity}", group="hrss-entity")


def published_asset(entity: str) -> Asset:
    """The Airflow asset of an entity's published dataset: ``hrss_publish`` emits its
    event after the new version is committed (a department's DAG: ``schedule=[it]``)."""
    return Asset(uri=published_uri(entity), name=f"hrss_published_{entity}",
                 group="hrss-published")


def outbox_asset(recipient: str) -> Asset:
    """The Airflow asset of a recipient's outbox: ``hrss_publish`` emits its event after
    delivering to it ("my outbox changed")."""
    return Asset(uri=outbox_uri(recipient), name=f"hrss_outbox_{recipient}",
                 group="hrss-outbox")


def _default_args(spec: SystemSpec, config: str) -> dict[str, Any]:
    names = spec.stream_names
    return {
        "owner": spec.owner,
        "retries": spec.retries,
        "retry_delay": timedelta(seconds=spec.retry_delay_seconds),
        "on_retry_callback": TaskEventRecorder(config, spec.system, names, TASK_RETRY),
        "on_failure_callback": TaskEventRecorder(config, spec.system, names, TASK_FAILED),
    }


def build_system_dag(spec: SystemSpec, config: str) -> DAG:
    """The sync DAG of one source system (see the module docstring for its shape)."""
    system = spec.system
    expected = [(s.name, s.entity) for s in spec.streams]
    assets = [entity_asset(e) for e in spec.entities]
    dag = DAG(
        dag_id=spec.dag_id,
        description=f"sync {system}" + (f" — {spec.title}" if spec.title else ""),
        schedule=spec.schedule,
        start_date=START_DATE,
        # the ledger's watermarks, not Airflow's intervals, say what is new: catching up
        # on missed intervals would only produce empty runs
        catchup=False,
        # two runs of one system at once would race on its watermarks
        max_active_runs=1,
        default_args=_default_args(spec, config),
        tags=sorted({"hrss-hub", *spec.tags}),
        doc_md=f"Source system **{system}** from `{spec.file.name}`. "
               "Tasks call `hrss_hub.pipeline`; see the README's Airflow section.",
        auto_register=False,
    )
    # task parameters typed Any are XComArgs while the DAG is built and dicts when it runs
    with dag:

        @task(task_id="start_run", multiple_outputs=False)
        def start_run() -> dict[str, Any]:
            """Open the hub run in the ledger and link it to this Airflow run."""
            ctx = get_current_context()
            interval = (ctx.get("data_interval_start"), ctx.get("data_interval_end"))
            return fail_fast(lambda: tasks.open_run(
                config, system, dag_id=spec.dag_id, airflow_run_id=str(ctx["run_id"]),
                data_interval=(_iso(interval[0]), _iso(interval[1]))))

        @task(task_id="sync_stream", multiple_outputs=False,
              map_index_template="{{ hrss_stream }}")
        def sync_stream(stream: str, link: dict[str, Any]) -> dict[str, Any]:
            """Extract → map → validate → stage one stream."""
            get_current_context()["hrss_stream"] = stream  # type: ignore[typeddict-unknown-key]
            return fail_fast(lambda: tasks.sync_stream(config, system, stream,
                                                       str(link["run_id"])))

        @task(task_id="finish_run", multiple_outputs=False, trigger_rule=TriggerRule.ALL_DONE,
              outlets=assets)
        def finish_run(link: Any, results: Any) -> dict[str, Any]:
            """Record the run (also when streams failed) and announce updated entities."""
            summary = fail_fast(lambda: tasks.close_run(config, system, str(link["run_id"]),
                                                        expected, list(results)))
            events = get_current_context()["outlet_events"]
            for asset in assets:
                entity = asset.name.removeprefix("hrss_entity_")
                events[asset].extra = {"run_id": summary["run_id"], "system": system,
                                       "published": summary["published"].get(entity, 0)}
            return summary

        @task(task_id="check_run", retries=0)
        def check_run(summary: Any) -> None:
            """Fail the DAG run when a stream failed (the ledger already has the details)."""
            if summary["status"] != "succeeded":
                raise AirflowFailException(
                    f"hub run {summary['run_id']} is {summary['status']}: failed streams "
                    f"{', '.join(summary['failed_streams'])}")

        @task(task_id="quality_report", retries=0)
        def quality_report(summary: Any) -> dict[str, Any]:
            """The run's quality report (written here only, once per run)."""
            return fail_fast(lambda: tasks.quality_report(config, str(summary["run_id"])))

        link = start_run()
        results = sync_stream.partial(link=link).expand(stream=spec.stream_names)
        summary = finish_run(link, results)
        check_run(summary)
        quality_report(summary)
    return dag


def build_publish_dag(config: str, entities: list[str],
                      recipients: list[str] | None = None) -> DAG:
    """``hrss_publish``: cut dataset versions and deliver, whenever an entity is updated.

    Its ``publish`` task has the published-entity and outbox assets as outlets: their
    events come only after the versions are committed and the outboxes delivered (a task
    that fails emits none), each with what changed in ``extra``.
    """
    assets = [entity_asset(e) for e in entities]
    published = {e: published_asset(e) for e in entities}
    outboxes = {r: outbox_asset(r) for r in recipients or []}
    dag = DAG(
        dag_id=PUBLISH_DAG_ID,
        description="publish dataset versions and deliver them to recipients",
        schedule=AssetAny(*assets),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,  # one publisher at a time: versions are numbered in order
        default_args={"owner": "hrss-hub", "retries": 2, "retry_delay": timedelta(seconds=60)},
        tags=["hrss-hub", "publish"],
        auto_register=False,
    )
    with dag:

        @task(task_id="publish", multiple_outputs=False,
              outlets=[*published.values(), *outboxes.values()])
        def publish() -> dict[str, Any]:
            """Publish everything staged and deliver (the hub runs that triggered this
            DAG run, or a manual trigger's conf ``run_ids``, are recorded with the result);
            then announce the published entities and delivered outboxes."""
            ctx = get_current_context()
            events = ctx.get("triggering_asset_events") or {}
            run_ids = {str(e.extra["run_id"]) for evs in events.values() for e in evs
                       if e.extra and e.extra.get("run_id")}
            conf = getattr(ctx.get("dag_run"), "conf", None) or {}
            run_ids |= {str(r) for r in conf.get("run_ids") or []}
            result = fail_fast(lambda: tasks.publish_runs(config, sorted(run_ids)))
            _announce(ctx["outlet_events"], result, published, outboxes)
            return result

        publish()
    return dag


def _announce(outlet_events: Any, result: dict[str, Any], published: dict[str, Asset],
              outboxes: dict[str, Asset]) -> None:
    # every outlet gets an event when the task succeeds; ``extra`` says whether this
    # publish changed it, so a consumer DAG can skip a run that brought nothing new
    versions: dict[str, list[int]] = {}
    for v in result.get("versions", []):
        versions.setdefault(str(v["dataset"]), []).append(int(v["version"]))
    for entity, asset in published.items():
        outlet_events[asset].extra = {"runs": result.get("runs", []),
                                      "changed": entity in versions,
                                      "versions": versions.get(entity, [])}
    delivered: dict[str, list[dict[str, Any]]] = {}
    for d in result.get("deliveries", []):
        delivered.setdefault(str(d["recipient"]), []).append(
            {k: d.get(k) for k in ("dataset", "status", "changed_rows", "outbox_version")})
    for recipient, asset in outboxes.items():
        mine = delivered.get(recipient, [])
        outlet_events[asset].extra = {
            "runs": result.get("runs", []),
            "changed": any(x.get("changed_rows") for x in mine),
            "deliveries": mine}


def build_error_dag(spec: SystemSpec, message: str) -> DAG:
    """A manual-only DAG whose single task fails with ``message`` (a broken connector file)."""
    dag = DAG(
        dag_id=spec.dag_id,
        description=f"connector file error: {spec.file.name}",
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        tags=["hrss-hub", "config-error"],
        doc_md=f"**This connector file cannot be used.**\n\n```\n{message}\n```",
        auto_register=False,
    )
    with dag:

        @task(task_id="config_error", retries=0)
        def config_error() -> None:
            """Fail with the reason the connector file cannot be used."""
            raise AirflowFailException(message)

        config_error()
    return dag


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else None
