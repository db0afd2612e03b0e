"""The end-to-end bench (``bench/bench_e2e.py``) at smoke size, on SQLite and PostgreSQL.

One bench run (2,000 rows, one round, every tool, the stage profile) is shared by the
tests of this module; it must print its table, and every tool must have written the rows
it reports. The bench's own result checks are shown to fail on a wrong result.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import bench_e2e
import e2e_data
import e2e_profile
import e2e_tools
import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
ROWS = 2_000


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the bench once; its exit code, stdout, JSON report and work folder."""
    work = tmp_path_factory.mktemp("bench-e2e")
    out = work / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_e2e.py"), "--rows", str(ROWS),
         "--rounds", "1", "--db", "both", "--json", str(out), "--workdir", str(work / "w"),
         "--profile", "--deliver"],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"stdout": proc.stdout, "report": json.loads(out.read_text(encoding="utf-8")),
            "work": work / "w"}


@pytest.mark.integration
@pytest.mark.slow
def test_prints_the_table_for_each_database(smoke: dict[str, Any]) -> None:
    out = smoke["stdout"]
    for backend in ("sqlite", "postgresql"):
        assert f"{backend}: {ROWS:,} rows, 1 round(s)" in out
    for label in bench_e2e.LABELS.values():  # one table row per database, with figures
        rows = re.findall(rf"^  {re.escape(label)} +[0-9.]+ s +[0-9,]+ +[0-9,]+ MiB", out, re.M)
        assert len(rows) == 2, (label, out)
    assert out.count("hrss-hub by stage, one extra sampled run") == 2
    assert len(re.findall(r"^    extract +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9,]+ MiB", out,
                          re.M)) == 2


@pytest.mark.integration
@pytest.mark.slow
def test_every_tool_wrote_the_rows_it_reports(smoke: dict[str, Any]) -> None:
    for backend, result in smoke["report"]["databases"].items():
        assert set(result["tools"]) == set(bench_e2e.TOOLS)
        for name, tool in result["tools"].items():
            assert tool["error"] is None, (backend, name, tool["error"])
            [rnd] = tool["rounds"]
            assert rnd["rows_reported"] == rnd["rows_written"] == ROWS, (backend, name, rnd)
            assert rnd["wall_seconds"] > 0 and rnd["peak_mib"] > 0
            assert tool["rows_per_second"] == round(ROWS / tool["median_wall_seconds"])
        hub = result["tools"]["hrss-hub"]
        assert hub["hub_time_ratio"] == 1.0 and hub["hub_rss_ratio"] == 1.0


@pytest.mark.integration
@pytest.mark.slow
def test_hub_quarantines_exactly_the_planted_defects(smoke: dict[str, Any]) -> None:
    for result in smoke["report"]["databases"].values():
        planted = result["planted_defects"]
        assert set(planted) == set(e2e_data.DEFECTS)  # every kind is exercised
        assert 0.025 * ROWS < sum(planted.values()) < 0.055 * ROWS
        counts = result["hub_counts"]
        assert counts["quarantined"] == sum(planted.values())
        assert counts["published"] == ROWS - sum(planted.values())
        assert counts["filtered"] == 0


@pytest.mark.integration
@pytest.mark.slow
def test_every_published_row_was_delivered(smoke: dict[str, Any]) -> None:
    """With ``--deliver`` each hrss-hub round also delivers to the one agreement; the
    round counts only if the delivery holds every published row (checked by the bench)."""
    report = smoke["report"]
    assert report["deliver"] is True
    for result in report["databases"].values():
        for tool in ("hrss-hub", "hrss-hub-nogx"):
            assert result["tools"][tool]["error"] is None and result["tools"][tool]["rounds"]


@pytest.mark.integration
@pytest.mark.slow
def test_sqlite_and_postgresql_publish_the_same_content(smoke: dict[str, Any]) -> None:
    dbs = smoke["report"]["databases"]
    assert dbs["sqlite"]["hub_counts"]["content_sha256"] == \
        dbs["postgresql"]["hub_counts"]["content_sha256"]


@pytest.mark.integration
@pytest.mark.slow
def test_stage_profile_covers_the_run(smoke: dict[str, Any]) -> None:
    for result in smoke["report"]["databases"].values():
        profile = result["stages"]["profile"]
        stages = profile["stages"]
        # GX (its import included) runs on its own thread; at 2,000 rows the stream ends
        # long before it, so the main thread's wait for it is the longest stage
        assert stages["gx"]["seconds"] > 0 and stages["gx"]["cpu_seconds"] > 0
        assert "imports: great_expectations" not in stages  # not on the main thread
        # every sampled interval is charged to exactly one stage
        wall = sum(v["seconds"] for v in stages.values())
        assert 0.9 * profile["wall_seconds"] <= wall <= 1.02 * profile["wall_seconds"]
        cpu = sum(v["cpu_seconds"] for v in stages.values())
        assert 0.8 * profile["cpu_seconds"] <= cpu <= 1.02 * profile["cpu_seconds"]
        for v in stages.values():  # the main thread is one of the process's threads
            assert v["main_cpu_seconds"] <= v["cpu_seconds"] + 0.02
        assert max(v["peak_mib"] for v in stages.values()) == profile["peak_rss_mib"] > 0
        assert profile["timeline"] and not profile["distorted_by_call_tree"]


@pytest.mark.integration
@pytest.mark.slow
def test_its_postgresql_database_is_dropped(smoke: dict[str, Any], pg_url: str) -> None:
    name = smoke["report"]["databases"]["postgresql"]["database"]
    assert name.startswith("hrss_bench_")
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM pg_database WHERE datname = :n"),
                            {"n": name}).scalar()
    engine.dispose()
    assert left == 0


@pytest.mark.integration
@pytest.mark.slow
def test_a_wrong_hub_result_fails_the_bench(smoke: dict[str, Any]) -> None:
    """``check_hub`` accepts the real result and refuses a count off by one row."""
    ws = smoke["work"] / "sqlite" / "workspace"
    plan = e2e_data.Plan(0)
    for _ in e2e_data.batches(ROWS, plan=plan):
        pass
    source = e2e_tools.Source("sqlite", f"sqlite:///{ws / 'sources' / 'si_core.db'}", "AC01")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HRSS_HUB_")}
    prep = bench_e2e.Prepared("sqlite", source, ws, env | {"HRSS_HUB_GX": "0"}, plan, 0.0)
    for name in bench_e2e.STATE_DIRS:
        shutil.rmtree(ws / name, ignore_errors=True)
    rnd, summary = bench_e2e.run_hub(prep, gx=False)
    assert rnd.hub is not None and rnd.hub["quarantined"] == plan.defective
    fewer = e2e_data.Plan(ROWS, plan.defects.copy())
    fewer.defects["name_missing"] -= 1
    with pytest.raises(bench_e2e.BenchError, match="quarantined"):
        bench_e2e.check_hub(replace(prep, plan=fewer), summary)
    assert (ws / "sharing").is_dir()  # the smoke run's --deliver agreement
    undelivered = copy.deepcopy(summary) | {"publishing": None}
    with pytest.raises(bench_e2e.BenchError, match="expected one delivery"):
        bench_e2e.check_hub(prep, undelivered)
    stream = summary["systems"][0]["streams"][0]
    stream["published"] += 1
    stream["quarantined"] -= 1
    with pytest.raises(bench_e2e.BenchError, match="the exchange holds"):
        bench_e2e.check_hub(replace(prep, plan=fewer), summary)


@pytest.mark.integration
@pytest.mark.slow
def test_stage_timings_of_the_run_summary_are_read_when_present(smoke: dict[str, Any]) -> None:
    """Until the run summary carries ``timings``, the profile is the only source; once it
    does, the bench reports their median per stage beside the profile."""
    for result in smoke["report"]["databases"].values():
        [rnd] = result["tools"]["hrss-hub"]["rounds"]
        timings = rnd["hub"]["timings"]
        assert result["stages"]["summary"] == timings
        if timings is not None:
            assert {"extract", "map", "gate", "publish"} <= set(timings)


def test_summary_stages_add_up_run_and_stream_timings() -> None:
    summary = {"timings": {"publish": 1.5, "report": 0.25},
               "systems": [{"streams": [{"timings": {"extract": 1.0, "map": 2.0}},
                                        {"timings": {"extract": 0.5, "map": 0.25}}]}]}
    assert bench_e2e.summary_stages(summary) == {"publish": 1.5, "report": 0.25,
                                                 "extract": 1.5, "map": 2.25}
    assert bench_e2e.summary_stages({"systems": [{"streams": [{"read": 1}]}]}) is None


def test_stage_of_charges_the_innermost_named_frame() -> None:
    run = ("/x/hrss_hub/pipeline.py", "run_stream")
    gate = ("/x/hrss_hub/quality/gate.py", "evaluate")
    dup = ("/x/hrss_hub/quality/gate.py", "_duplicates")
    imp = ("<frozen importlib._bootstrap>", "_find_and_load")
    writer = ("/x/pyarrow/parquet/core.py", "write_table")
    publish = ("/x/hrss_hub/exchange/versions.py", "publish_pending")
    deliver = ("/x/hrss_hub/exchange/deliver.py", "deliver")
    assert e2e_profile.stage_of([run]) == "other"
    assert e2e_profile.stage_of([run, gate]) == "gate"
    assert e2e_profile.stage_of([run, gate, dup]) == "gate: duplicate keys"
    qualified = ("/x/hrss_hub/quality/gate.py", "RowGate._duplicates")  # as py-spy names it
    assert e2e_profile.stage_of([run, gate, qualified]) == "gate: duplicate keys"
    rule = ("/x/hrss_hub/quality/rules/builtin/duplicate_key.py", "DuplicateKey.evaluate")
    assert e2e_profile.stage_of([run, gate, rule]) == "gate: duplicate keys"
    gx_init = ("/v/site-packages/great_expectations/__init__.py", "<module>")
    pandas = ("/v/site-packages/pandas/__init__.py", "<module>")
    assert e2e_profile.stage_of([run, gate, imp, gx_init, imp, pandas]) == \
        "imports: great_expectations"  # charged to what the outermost import loads
    # the Parquet writer is staging when the run loop calls it, publishing inside publish
    assert e2e_profile.stage_of([run, writer]) == "stage"
    assert e2e_profile.stage_of([run, publish, writer]) == "publish"
    assert e2e_profile.stage_of([run, publish, deliver, writer]) == "deliver"


def test_stage_of_names_the_master_steps_and_the_wait_for_gx() -> None:
    hook = ("/x/hrss_hub/master/hooks.py", "_steps")
    build = ("/x/hrss_hub/master/build.py", "build_master")
    link = ("/x/hrss_hub/master/linkage.py", "propose_pairs")
    splink = ("/v/site-packages/splink/internals/linker.py", "predict")
    checks = ("/x/hrss_hub/supervision/run.py", "supervise")
    publish = ("/x/hrss_hub/exchange/versions.py", "publish_pending")
    assert e2e_profile.stage_of([hook, build]) == "master: build"
    assert e2e_profile.stage_of([hook, link, splink]) == "master: linkage"
    assert e2e_profile.stage_of([hook, checks]) == "supervision"
    assert e2e_profile.stage_of([hook, publish]) == "publish"
    finish = ("/x/hrss_hub/quality/validate.py", "finish")
    wait = ("/x/hrss_hub/quality/validate.py", "StreamValidator.wait_gx")
    assert e2e_profile.stage_of([finish]) == "gate: suite counts"
    assert e2e_profile.stage_of([finish, wait]) == "gx"
