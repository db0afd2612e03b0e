"""Maintenance of exchange tables: vacuum never breaks a version inside its grace period
or among the kept ones, optimize compacts small files, history lists versions; all of
them are signed versions that `verify` accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from deltalake import DeltaTable
from exchange_helpers import content_hash, persons, publish, stage

from hrss_hub.cli import cli
from hrss_hub.errors import ConfigError
from hrss_hub.exchange import maintenance
from hrss_hub.exchange.reading import read_version
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.tables import Table
from hrss_hub.exchange.verify import verify_path


def _history_of_updates(root: Path, signer: Signer, rounds: int = 5) -> None:
    for k in range(rounds):
        stage(root, persons("510107", range(40), run_id=f"r{k}", updated=k, name=f"名{k}"),
              run_id=f"r{k}")
        stage(root, persons("510104", range(k, k + 3), run_id=f"r{k}", updated=k),
              run_id=f"r{k}", tag="b")
        publish(root, signer)


def test_vacuum_keeps_everything_inside_the_grace_period(tmp_path: Path,
                                                         signer: Signer) -> None:
    root = tmp_path / "exchange"
    _history_of_updates(root, signer)
    before = {v: content_hash(read_version(root, "person", v)) for v in range(1, 6)}
    table = Table(Store.open(root), "person")
    done = maintenance.vacuum(table, signer, retention_hours=1, keep_versions=2)
    assert done.details["deleted_files"] == 0  # every removed file is younger than 1 h
    assert {v: content_hash(read_version(root, "person", v)) for v in range(1, 6)} == before
    assert done.versions == []  # delta-rs commits nothing when nothing is deleted
    assert all(r.ok for r in verify_path(root, all_versions=True))
    with pytest.raises(ConfigError, match="at least 1"):
        maintenance.vacuum(table, signer, retention_hours=0, keep_versions=2)


def test_vacuum_outside_the_grace_period_keeps_the_newest_versions(
        tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "exchange"
    _history_of_updates(root, signer)
    kept = {v: content_hash(read_version(root, "person", v)) for v in (4, 5)}
    monkeypatch.setattr(maintenance, "MIN_RETENTION_HOURS", 0)  # as if a week had passed
    table = Table(Store.open(root), "person")
    done = maintenance.vacuum(table, signer, retention_hours=0, keep_versions=2)
    assert done.details["deleted_files"] > 0
    assert len(done.versions) == 2  # VACUUM START and END, each with a signed manifest
    assert {v: content_hash(read_version(root, "person", v)) for v in (4, 5)} == kept
    with pytest.raises(Exception):  # noqa: B017 - delta-rs: the files of v1 are gone
        DeltaTable(str(root / "person"), version=1).to_pyarrow_table()
    assert all(r.ok for r in verify_path(root, all_versions=True))


def test_optimize_compacts_small_files_without_changing_data(tmp_path: Path,
                                                            signer: Signer) -> None:
    root = tmp_path / "exchange"
    for k in range(6):  # six small appends: several files per partition
        stage(root, persons("510107", range(k * 10, k * 10 + 10), run_id=f"r{k}"),
              run_id=f"r{k}")
        publish(root, signer)
    table = Table(Store.open(root), "person")
    files_before = len(table.active_files(table.open()))
    data = content_hash(read_version(root, "person"))
    done = maintenance.optimize(table, signer)
    assert len(done.versions) == 1
    assert len(table.active_files(table.open())) < files_before
    assert content_hash(read_version(root, "person")) == data
    assert all(r.ok for r in verify_path(root, all_versions=True))
    again = maintenance.optimize(table, signer)  # nothing left to compact
    assert again.versions == []


def test_exchange_cli(tmp_path: Path, signer: Signer,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "hub.yaml").write_text("hub_id: wuhou\nlevel: district\ndivision: '510107'\n"
                                 "signing_key: key.pem\n", encoding="utf-8")
    (ws / "key.pem").write_bytes(signer._key.private_pem())
    monkeypatch.chdir(ws)
    _history_of_updates(ws / "exchange", signer, rounds=3)
    runner = CliRunner()
    history = runner.invoke(cli, ["exchange", "history", "person", "--config", "hub.yaml"])
    assert history.exit_code == 0, history.output
    assert "v3" in history.output and "publish" in history.output and "signed" in history.output
    assert "UNSIGNED" not in history.output
    out = runner.invoke(cli, ["exchange", "vacuum", "--config", "hub.yaml", "--dry-run"])
    assert out.exit_code == 0 and "would_delete=0" in out.output, out.output
    out = runner.invoke(cli, ["exchange", "optimize", "--config", "hub.yaml", "--json"])
    assert out.exit_code == 0, out.output
    ok = runner.invoke(cli, ["verify", "exchange", "--all-versions"])
    assert ok.exit_code == 0 and "pinned by hub.yaml" in ok.output, ok.output
