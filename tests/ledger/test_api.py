"""The Ledger API on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from hrss_hub.errors import LedgerError
from hrss_hub.ledger import FileRecord, Ledger, QualityResult
from hrss_hub.ledger.api import new_run_id
from hrss_hub.ledger.models import ProcessedFile, SchemaSnapshot, StreamState


def test_run_id_is_readable_and_sortable() -> None:
    rid = new_run_id(datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC))
    assert re.fullmatch(r"20240506T070809Z-[0-9a-f]{6}", rid)


def test_run_lifecycle(ledger: Ledger) -> None:
    rid = ledger.start_run("hub-510107", "airflow", config_path="/ws/hub.yaml")
    run = ledger.get_run(rid)
    assert run is not None
    assert (run.status, run.trigger, run.hub_id, run.config_path) == (
        "running", "airflow", "hub-510107", "/ws/hub.yaml")
    assert run.started_at.tzinfo is not None and run.finished_at is None
    assert abs(run.started_at - datetime.now(UTC)) < timedelta(minutes=1)

    ledger.finish_run(rid, "partial", {"published": 10, "day": datetime(2024, 1, 2, tzinfo=UTC)},
                      error="connect postgresql://u:s3cret@db/x failed")
    run = ledger.get_run(rid)
    assert run is not None and run.finished_at is not None
    assert run.finished_at.utcoffset() == timedelta(0)
    assert run.status == "partial"
    assert run.summary == {"published": 10, "day": "2024-01-02T00:00:00+00:00"}
    assert run.error is not None and "s3cret" not in run.error
    assert ledger.get_run("nope") is None


def test_recent_runs_newest_first(ledger: Ledger) -> None:
    ids = [ledger.start_run("hub", "cli") for _ in range(3)]
    recent = ledger.recent_runs(2)
    assert [r.id for r in recent] == ids[::-1][:2]
    assert recent[0].to_dict()["started_at"].endswith("+00:00")


def test_run_choices_are_validated(ledger: Ledger, run_id: str) -> None:
    with pytest.raises(LedgerError, match="invalid trigger"):
        ledger.start_run("hub", "cron")
    with pytest.raises(LedgerError, match="invalid status"):
        ledger.finish_run(run_id, "done", {})
    with pytest.raises(LedgerError, match="unknown run"):
        ledger.finish_run("missing", "failed", {})


def test_state_upsert(ledger: Ledger, run_id: str) -> None:
    assert ledger.get_state("si", "AC01") is None
    ledger.commit_state("si", "AC01", {"cursor": "2024-01-01", "n": 1}, run_id)
    second = ledger.start_run("hub", "cli")
    ledger.commit_state("si", "AC01", {"cursor": "2024-02-01"}, second)
    ledger.commit_state("si", "AC02", {"cursor": 5}, second)
    assert ledger.get_state("si", "AC01") == {"cursor": "2024-02-01"}
    assert ledger.get_state("si", "AC02") == {"cursor": 5}
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(StreamState.stream, StreamState.run_id)).all()
    assert sorted(rows) == [("AC01", second), ("AC02", second)]


def test_state_must_be_plain_json(ledger: Ledger, run_id: str) -> None:
    with pytest.raises(LedgerError, match="not JSON-serializable"):
        ledger.commit_state("si", "AC01", {"cursor": datetime.now(UTC)}, run_id)
    assert ledger.get_state("si", "AC01") is None


def test_state_requires_a_known_run(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="constraint"):
        ledger.commit_state("si", "AC01", {"cursor": 1}, "no-such-run")


def test_processed_files_are_unique(ledger: Ledger, run_id: str) -> None:
    a = FileRecord("a" * 64, "2024-01.csv", 100, rows=3)
    b = FileRecord("b" * 64, "2024-02.csv", 200)
    ledger.record_files("files", "payroll", [a, a], run_id)
    ledger.record_files("files", "payroll", [a, b], run_id)  # a rerun: a is ignored
    assert ledger.processed_files("files", "payroll") == {"a" * 64, "b" * 64}
    assert ledger.is_file_processed("files", "payroll", "a" * 64)
    assert not ledger.is_file_processed("files", "other", "a" * 64)
    with ledger.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(ProcessedFile)) == 2
    # the database itself refuses a duplicate, whoever writes it
    with pytest.raises(sa.exc.IntegrityError), ledger.engine.begin() as conn:
        conn.execute(sa.insert(ProcessedFile).values(
            system="files", stream="payroll", sha256="a" * 64, file_name="copy.csv", size=1,
            run_id=run_id, processed_at=datetime.now(UTC)))


def test_commit_stream_writes_everything(ledger: Ledger, run_id: str) -> None:
    files = [FileRecord("c" * 64, "x.xlsx", 5)]
    ledger.commit_stream("files", "rosters", run_id, {"files": 1}, files=files,
                         schema=({"fields": ["a"]}, "fp1"))
    assert ledger.get_state("files", "rosters") == {"files": 1}
    assert ledger.processed_files("files", "rosters") == {"c" * 64}
    assert ledger.last_schema("files", "rosters") == {"fields": ["a"]}
    assert ledger.last_schema_fingerprint("files", "rosters") == "fp1"


def test_commit_stream_is_atomic(ledger: Ledger, run_id: str,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_args: object, **_kw: object) -> None:
        raise RuntimeError("crash after files and schema were written")

    # the state is written last, so a failure there must roll back the files and schema
    monkeypatch.setattr(Ledger, "_upsert_state", crash)
    with pytest.raises(RuntimeError, match="crash"):
        ledger.commit_stream("files", "rosters", run_id, {"files": 1},
                             files=[FileRecord("d" * 64, "y.csv", 9)],
                             schema=({"fields": ["b"]}, "fp2"))
    monkeypatch.undo()
    assert ledger.processed_files("files", "rosters") == set()
    assert ledger.last_schema("files", "rosters") is None
    assert ledger.get_state("files", "rosters") is None

    # a real database error (unknown run: FK violation on the state) rolls back too
    with pytest.raises(LedgerError):
        ledger.commit_stream("files", "rosters", "no-such-run", {"files": 1},
                             files=[FileRecord("d" * 64, "y.csv", 9)])
    assert ledger.processed_files("files", "rosters") == set()
    with ledger.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(SchemaSnapshot)) == 0


def test_schema_snapshots_skip_unchanged(ledger: Ledger, run_id: str) -> None:
    assert ledger.last_schema("si", "AC01") is None
    assert ledger.save_schema("si", "AC01", {"v": 1}, "f1", run_id)
    assert not ledger.save_schema("si", "AC01", {"v": 1}, "f1", run_id)
    assert ledger.save_schema("si", "AC01", {"v": 2}, "f2", run_id)
    assert ledger.last_schema("si", "AC01") == {"v": 2}
    assert ledger.last_schema_fingerprint("si", "AC01") == "f2"


def test_batches_and_quality(ledger: Ledger, run_id: str) -> None:
    b1 = ledger.record_batch(run_id, "si", "AC01", 0, rows_read=10, rows_mapped=10,
                             rows_published=8, rows_quarantined=1, rows_filtered=1)
    b2 = ledger.record_batch(run_id, "si", "AC01", 1, rows_read=5)
    assert b2 > b1
    n = ledger.record_quality(run_id, [
        QualityResult("si", "AC01", "person", "id_valid", "error", 15, 1, {"sample": ["x"]}),
        QualityResult("si", "AC01", "person", "name_present", "warning", 15, 0),
    ])
    assert n == 2


def test_exchange_versions(ledger: Ledger, run_id: str) -> None:
    assert ledger.latest_exchange_version("person") is None
    ledger.record_exchange_version("person", 1, "/x/v1/manifest.json", "m1", 10, run_id)
    ledger.record_exchange_version("person", 2, "/x/v2/manifest.json", "m2", 12, run_id)
    ledger.record_exchange_version("person", 2, "/x/v2/manifest.json", "m2", 12, run_id)
    assert ledger.latest_exchange_version("person") == 2
    with pytest.raises(LedgerError, match="another manifest"):
        ledger.record_exchange_version("person", 2, "/x/v2/manifest.json", "OTHER", 1, run_id)


def test_deliveries(ledger: Ledger, run_id: str) -> None:
    assert not ledger.is_delivered("医保局", "person", 1)
    ledger.record_delivery("医保局", "person", 1, "/out/医保局/person/v1", 10, "m1", run_id)
    assert ledger.is_delivered("医保局", "person", 1)
    assert not ledger.is_delivered("医保局", "person", 2)


def test_quarantine_actions(ledger: Ledger, run_id: str) -> None:
    ledger.record_quarantine_action(run_id, "si", "person", "id=1", "reject", "steward")
    ledger.record_quarantine_action(run_id, "si", "person", "id=1", "release", "steward",
                                    reason="verified by phone")
    ledger.record_quarantine_action(run_id, "si", "person", "id=2", "reject", "steward")
    assert ledger.quarantine_decisions("si", "person") == {"id=1": "release", "id=2": "reject"}
    with pytest.raises(LedgerError, match="invalid quarantine action"):
        ledger.record_quarantine_action(run_id, "si", "person", "id=3", "delete", "steward")
