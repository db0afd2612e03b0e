"""The deployment files, checked statically (no Docker engine runs here) — plus the demo
seed job against the machine's real PostgreSQL and MariaDB."""

from __future__ import annotations

import importlib.util
import re
import sqlite3
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker")
ONE_SHOT = ("airflow-init", "demo-init", "minio-init")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def dockerfile() -> str:
    return (DOCKER / "Dockerfile").read_text(encoding="utf-8")


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DOCKER / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dockerfile_uses_the_pinned_official_image_and_installs_the_package() -> None:
    text = dockerfile()
    assert re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11$", text, re.M)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"apache-airflow>=3.3.2,<3.4"' in pyproject  # the image matches the extra
    # the [airflow] extra: the pinned Celery stack the deploy test runs (#16.6)
    assert re.search(r'pip install .*"apache-airflow==\$\{AIRFLOW_VERSION\}" '
                     r'"/opt/hrss-hub\[airflow\]"', text)
    assert "ARG AIRFLOW_VERSION=3.3.2" in text
    for line in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", text, re.M):
        for src in line.split():
            assert (ROOT / src).exists(), f"COPY source {src} missing"
    assert "COPY --chown=airflow:root dags /opt/airflow/dags" in text
    # what setup.py packages must be in the build context: the install ships its own data
    copied = " ".join(re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", text, re.M)).split()
    assert {"setup.py", "pyproject.toml", "standards", "expectations"} <= set(copied)
    assert "HRSS_HUB_STANDARDS" not in text  # (the workaround for defect 10 is gone)


def test_services_present_and_images_pinned(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in (*AIRFLOW_SERVICES, *ONE_SHOT, "airflow-db", "redis", "minio",
                 "si-core-pg", "si-core-mariadb", "demo-api"):
        assert name in services, name
    for name, svc in services.items():
        image = svc.get("image")
        assert image, f"{name} has no image"
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and re.search(r"\d", tag), (name, image)
    built = {n for n, s in services.items() if "build" in s}
    assert built >= set(AIRFLOW_SERVICES)
    assert {services[n]["image"] for n in built} == {"hrss-hub-airflow:0.1.0"}


def test_depends_on_healthchecks_and_volumes_are_consistent(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        for dep, rule in deps.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{dep} has no healthcheck"
            elif condition == "service_completed_successfully":
                assert dep in ONE_SHOT, f"{dep} is not a one-shot job"
        if name not in ONE_SHOT:
            assert "healthcheck" in svc, f"{name} has no healthcheck"
    declared = set(compose["volumes"])
    used = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])
            if not v.startswith((".", "/"))}
    assert used == declared
    for s in services.values():
        for v in s.get("volumes", []):
            if v.startswith("."):
                assert (DOCKER / v.split(":")[0]).exists(), v


def test_airflow_runs_celery_on_postgres_and_redis_with_the_dags(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in AIRFLOW_SERVICES:
        svc = services[name]
        env = svc["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert "@airflow-db:5432/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/dags"
        assert "../dags:/opt/airflow/dags:ro" in svc["volumes"]
        mounts = [v.split(":")[1] for v in svc["volumes"]]
        config = env["HRSS_HUB_CONFIG"]
        assert any(config.startswith(m + "/") for m in mounts), config
        assert env["HRSS_HUB_EXCHANGE_URI"].startswith("s3://")
        assert "endpoint_override=minio:9000" in env["HRSS_HUB_EXCHANGE_URI"]
        assert "@airflow-db:5432/hrss_ledger" in env["HRSS_HUB_LEDGER_URL"]
        for key, value in env.items():  # Airflow connections name real services
            if key.startswith("AIRFLOW_CONN_"):
                host = re.match(r"\w+://[^@]*@([\w-]+):", value)
                assert host and host.group(1) in services, (key, value)
        assert env["HRSS_DEMO_API_URL"].startswith("http://demo-api:8765/")
    commands = {services[n]["command"] for n in AIRFLOW_SERVICES}
    assert commands == {"api-server", "scheduler", "dag-processor", "triggerer",
                        "celery worker --queues ${HRSS_HUB_WORKER_QUEUES:-default}"}
    assert services["airflow-worker"]["deploy"]["replicas"] >= 2
    init = (DOCKER / "postgres-init" / "01-hrss.sql").read_text(encoding="utf-8")
    assert "CREATE DATABASE hrss_ledger" in init


def test_seed_job_wiring(compose: dict[str, Any]) -> None:
    services = compose["services"]
    seed = services["demo-init"]
    assert seed["entrypoint"][-1] == "/opt/hrss-hub/docker/seed_demo.py"
    assert "si-core-pg:5432" in seed["environment"]["HRSS_SEED_PG_URL"]
    assert "si-core-mariadb:3306" in seed["environment"]["HRSS_SEED_MARIADB_URL"]
    assert "HRSS_HUB_STANDARDS" not in seed["environment"]  # the package finds its standard
    assert "COPY --chown=airflow:root docker/seed_demo.py docker/demo_api.py" in dockerfile()
    api = services["demo-api"]
    assert api["entrypoint"][-1] == "/opt/hrss-hub/docker/demo_api.py"
    assert "8765" in api["command"]


def test_seed_repoints_the_si_core_connector(tmp_path: Path) -> None:
    from importlib import resources

    seed = load_script("seed_demo")
    (tmp_path / "connectors").mkdir()
    text = (resources.files("hrss_hub.demo") / "templates" / "si_core.yaml").read_text(
        encoding="utf-8")
    (tmp_path / "connectors" / "si_core.yaml").write_text(text, encoding="utf-8")
    seed.point_connector(tmp_path)
    data = yaml.safe_load((tmp_path / "connectors" / "si_core.yaml").read_text(
        encoding="utf-8"))
    assert data["connection"] == {"conn_id": "si_core"}


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_seed_copies_tables_to_real_servers(tmp_path: Path, backend: str,
                                            request: pytest.FixtureRequest) -> None:
    seed = load_script("seed_demo")
    db = tmp_path / "si.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE HRSS_SEED_T (AAC001 TEXT PRIMARY KEY, AAC003 TEXT,"
                     " AAE036 TEXT, N INTEGER, X REAL)")
        conn.executemany("INSERT INTO HRSS_SEED_T VALUES (?,?,?,?,?)",
                         [(f"{i:08d}", f"名{i}", "2025-01-01 00:00:00", i, i / 2)
                          for i in range(7001)])
    url = (request.getfixturevalue("fresh_pg_database") if backend == "postgresql"
           else request.getfixturevalue("mysql_url"))
    assert seed.copy_tables(db, url) == {"HRSS_SEED_T": 7001}
    assert seed.copy_tables(db, url) == {"HRSS_SEED_T": 7001}  # rerun replaces
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            table = sa.Table("HRSS_SEED_T", sa.MetaData(), autoload_with=conn)
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 7001
            row = conn.execute(sa.select(table).where(table.c.AAC001 == "00000042")).one()
            assert (row.AAC003, row.N) == ("名42", 42)
            table.drop(conn)
    finally:
        engine.dispose()
