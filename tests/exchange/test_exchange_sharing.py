"""Delivery under sharing agreements: exact columns and rows, masking, pseudonyms,
expiry, ledger records and the audit chain."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner
from deltalake import DeltaTable
from exchange_helpers import persons, stage

from hrss_hub.cli import cli
from hrss_hub.config import HubConfig
from hrss_hub.exchange.deliver import DeliveryResult
from hrss_hub.exchange.masking import partial_mask
from hrss_hub.exchange.policy import check_agreements, load_agreements
from hrss_hub.exchange.reading import read_version
from hrss_hub.exchange.verify import verify_path
from hrss_hub.exchange.versions import publish_pending
from hrss_hub.ledger import Ledger
from hrss_hub.standard.model import load_standard

REPO_SHARING = Path(__file__).resolve().parents[2] / "sharing"


def _agreement(rid: str, columns: dict[str, str], prefix: str | None = "510107",
               valid_to: str = "2099-12-31", **extra: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "recipient": {"id": rid, "name": f"部门 {rid}", "level": "district"},
        "purpose": "核验", "legal_basis": "PIPL art. 13(3)", "valid_from": "2026-01-01",
        "valid_to": valid_to, "datasets": {"person": {"columns": columns}}, **extra}
    if prefix:
        doc["rows"] = {"division_prefix": prefix}
    return doc


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HubConfig:
    monkeypatch.delenv("HRSS_HUB_SIGNING_KEY", raising=False)
    monkeypatch.delenv("HRSS_HUB_EXCHANGE_URI", raising=False)
    monkeypatch.delenv("HRSS_HUB_OUTBOX_URI", raising=False)
    (tmp_path / "sharing").mkdir()
    agreements = {
        "mib": _agreement("mib", {"citizen_id": "pseudonym", "name": "partial",
                                  "gender": "keep", "address_division": "keep",
                                  "phone": "drop"}),
        "tax": _agreement("tax", {"citizen_id": "pseudonym", "birth_date": "keep"},
                          prefix=None),
        "old": _agreement("old", {"gender": "keep"}, valid_to="2026-06-30"),
    }
    for name, doc in agreements.items():
        (tmp_path / "sharing" / f"{name}.yaml").write_text(
            yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    (tmp_path / "hub.yaml").write_text("hub_id: wuhou\n"
                                       "level: district\ndivision: '510107'\n", encoding="utf-8")
    return HubConfig(root=tmp_path, hub_id="wuhou", division="510107")


def _run(cfg: HubConfig, tables: list, run_no: int) -> tuple[Ledger, str]:
    ledger = Ledger.open(cfg.ledger_url)
    run_id = ledger.start_run(cfg.hub_id, "cli")
    assert cfg.exchange_root is not None
    for i, t in enumerate(tables):
        t = t.set_column(t.schema.get_field_index("run_id"), "run_id",
                         [[run_id] * t.num_rows]).cast(t.schema)
        stage(cfg.exchange_root, t, run_id=run_id, tag=f"{run_no}-{i}")
    publish_pending(cfg, ledger, None)
    return ledger, run_id


def test_extract_has_exactly_the_allowed_columns_and_rows(workspace: HubConfig) -> None:
    ledger, _ = _run(workspace, [persons("510107", range(60)), persons("510104", range(40))], 1)
    ledger.close()
    outbox = workspace.root / "outbox"
    mib = read_version(outbox / "mib", "person")
    assert mib.column_names == ["citizen_id", "name", "gender", "address_division"]
    assert mib.num_rows == 60 and set(mib["address_division"].to_pylist()) == {"510107"}
    tax = read_version(outbox / "tax", "person")
    assert tax.column_names == ["citizen_id", "birth_date"] and tax.num_rows == 100
    assert not (outbox / "old").exists()  # expired on 2026-06-30: nothing delivered
    source = read_version(workspace.exchange_root, "person")
    in_scope = source.filter([d == "510107" for d in source["address_division"].to_pylist()])
    assert sorted(mib["name"].to_pylist()) == sorted(partial_mask(in_scope["name"]).to_pylist())


def test_no_raw_citizen_id_in_masked_extracts(workspace: HubConfig) -> None:
    ledger, _ = _run(workspace, [persons("510107", range(200))], 1)
    ledger.close()
    raw_ids = read_version(workspace.exchange_root, "person")["citizen_id"].to_pylist()
    for path in (workspace.root / "outbox").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            leaked = [i for i in raw_ids if i.encode() in data]
            assert not leaked, f"{path} contains raw IDs, e.g. {leaked[0]}"


def test_pseudonyms_differ_per_recipient_and_are_stable(workspace: HubConfig) -> None:
    ledger, _ = _run(workspace, [persons("510107", range(30))], 1)
    ledger.close()
    outbox = workspace.root / "outbox"
    first_mib = read_version(outbox / "mib", "person")["citizen_id"].to_pylist()
    tax = read_version(outbox / "tax", "person")["citizen_id"].to_pylist()
    assert len(set(first_mib)) == 30 and not set(first_mib) & set(tax)
    # a second run (new rows) re-delivers; the pseudonym of each person is unchanged
    ledger, _ = _run(workspace, [persons("510107", range(30, 40), minute=1)], 2)
    ledger.close()
    second_mib = read_version(outbox / "mib", "person")["citizen_id"].to_pylist()
    assert set(first_mib) < set(second_mib) and len(second_mib) == 40
    keys = list((workspace.state_dir / "pseudonym-keys").glob("*.key"))  # type: ignore[operator]
    assert sorted(k.name for k in keys) == ["mib.key", "tax.key"]
    for k in keys:
        assert (k.stat().st_mode & 0o077) == 0


def test_deliveries_are_recorded_and_audited(workspace: HubConfig) -> None:
    ledger, _ = _run(workspace, [persons("510107", range(10))], 1)
    try:
        assert ledger.is_delivered("mib", "person", 1)
        assert ledger.is_delivered("tax", "person", 1)
        assert not ledger.is_delivered("old", "person", 1)
        assert ledger.latest_exchange_version("person") == 1
        assert ledger.verify_audit() == []
        # publishing again without new rows delivers nothing new and records nothing twice
        publish_pending(workspace, ledger, None)
        read_version(workspace.exchange_root, "person", ledger=ledger, actor="steward")
    finally:
        ledger.close()
    result = CliRunner().invoke(cli, ["audit", "log", "--config", str(workspace.root / "hub.yaml"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    import json

    events = json.loads(result.output)
    actions = [e["action"] for e in reversed(events)]
    assert actions.count("publish") == 1 and actions.count("deliver") == 2
    assert "delivery_refused" in actions and actions[-1] == "read"
    deliver = next(e for e in events if e["action"] == "deliver")
    assert deliver["details"]["purpose"] == "核验" and deliver["details"]["pseudonym_key_id"]
    ok = CliRunner().invoke(cli, ["audit", "verify", "--config", str(workspace.root / "hub.yaml")])
    assert ok.exit_code == 0 and "intact" in ok.output


@pytest.mark.parametrize("tamper", ["edit", "delete", "insert", "reorder"])
def test_audit_cli_detects_tampering(workspace: HubConfig, tamper: str) -> None:
    import sqlalchemy as sa

    from hrss_hub.ledger.models import AuditEvent

    ledger, _ = _run(workspace, [persons("510107", range(5))], 1)
    with ledger.engine.begin() as conn:
        seqs = list(conn.scalars(sa.select(AuditEvent.seq).order_by(AuditEvent.seq)))
        assert len(seqs) >= 3
        if tamper == "edit":
            conn.execute(sa.update(AuditEvent).where(AuditEvent.seq == seqs[1])
                         .values(subject="mib:person@v9"))
        elif tamper == "delete":
            conn.execute(sa.delete(AuditEvent).where(AuditEvent.seq == seqs[1]))
        elif tamper == "insert":
            row = conn.execute(sa.select(AuditEvent).where(AuditEvent.seq == seqs[1])).one()
            conn.execute(sa.insert(AuditEvent).values(
                seq=seqs[-1] + 1, at=row.at, actor=row.actor, action=row.action,
                subject="forged:person@v1", details=row.details, prev_hash=row.hash,
                hash="f" * 64))
        else:
            # swap the positions of the first two events
            for old, new in ((seqs[0], -1), (seqs[1], seqs[0]), (-1, seqs[1])):
                conn.execute(sa.update(AuditEvent).where(AuditEvent.seq == old)
                             .values(seq=new))
    ledger.close()
    result = CliRunner().invoke(cli, ["audit", "verify", "--config",
                                      str(workspace.root / "hub.yaml")])
    assert result.exit_code == 1 and "FAIL" in result.output


def test_outbox_verifies_and_is_signed(workspace: HubConfig) -> None:
    ledger, _ = _run(workspace, [persons("510107", range(10))], 1)
    ledger.close()
    result = CliRunner().invoke(cli, ["verify", str(workspace.root / "outbox")])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") == 2


def test_repository_example_agreements_pass_the_check(tmp_path: Path) -> None:
    shutil.copytree(REPO_SHARING, tmp_path / "sharing")
    agreements = load_agreements(tmp_path / "sharing")
    assert {a.recipient_id for a in agreements} >= {"medical-insurance", "city-510100"}
    problems, _ = check_agreements(agreements, load_standard(), today=date(2026, 6, 1))
    assert problems == []


def test_sharing_check_reports_every_problem(tmp_path: Path) -> None:
    bad = _agreement("bad", {"citizen_id": "keep", "salary": "keep", "name": "scramble",
                             "birth_date": "partial"})
    (tmp_path / "sharing").mkdir()
    (tmp_path / "sharing" / "bad.yaml").write_text(yaml.safe_dump(bad, allow_unicode=True),
                                                   encoding="utf-8")
    (tmp_path / "hub.yaml").write_text("hub_id: x\n"
                                       "level: district\ndivision: '510107'\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["sharing", "check", "--config", str(tmp_path / "hub.yaml")])
    assert result.exit_code == 1
    for needle in ("raw citizen ID", "salary", "scramble", "partial needs a string"):
        assert needle in result.output


def _write_agreement(cfg: HubConfig, name: str, doc: dict[str, object]) -> None:
    assert cfg.sharing_dir is not None
    (cfg.sharing_dir / f"{name}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True),
                                                  encoding="utf-8")


def _deliveries(cfg: HubConfig) -> dict[str, DeliveryResult]:
    with Ledger.open(cfg.ledger_url) as ledger:
        report = publish_pending(cfg, ledger, None)
        assert ledger.verify_audit() == []
    return {d.recipient: d for d in report.deliveries}


def test_only_changed_rows_flow_into_an_outbox(workspace: HubConfig) -> None:
    ledger, _ = _run(workspace, [persons("510107", range(50), updated=0)], 1)
    ledger.close()
    ledger, _ = _run(workspace, [persons("510107", range(50, 60), updated=1),
                                 persons("510107", range(3), updated=5, name="李四")], 2)
    ledger.close()
    box = str(workspace.root / "outbox" / "mib" / "person")
    dt = DeltaTable(box)
    changes = pa.table(dt.load_cdf(starting_version=dt.version(), ending_version=dt.version()))
    kinds = changes["_change_type"].to_pylist()
    assert kinds.count("insert") == 10 and kinds.count("update_postimage") == 3
    assert read_version(workspace.root / "outbox" / "mib", "person").num_rows == 60
    m = json.loads((Path(box) / "_hrss" / "manifests" / f"{dt.version():020d}.json")
                   .read_text(encoding="utf-8"))
    assert m["operation"] == "deliver" and m["source"]["version"] == 2


def test_tightened_agreement_drops_the_column_at_once(workspace: HubConfig) -> None:
    """#12 build 1: `birth_date: keep → drop` re-derives the outbox on the next run
    (main reported `unchanged` and kept serving birth_date)."""
    ledger, _ = _run(workspace, [persons("510107", range(30))], 1)
    ledger.close()
    tax = workspace.root / "outbox" / "tax"
    assert "birth_date" in read_version(tax, "person").column_names
    before = DeltaTable(str(tax / "person")).version()
    _write_agreement(workspace, "tax", _agreement(
        "tax", {"citizen_id": "pseudonym", "birth_date": "drop"}, prefix=None))
    result = _deliveries(workspace)["tax"]
    assert result.status == "rederived"
    current = read_version(tax, "person")
    assert current.column_names == ["citizen_id"] and current.num_rows == 30
    dt = DeltaTable(str(tax / "person"))
    assert "birth_date" not in pa.schema(dt.schema().to_arrow()).names
    changes = pa.table(dt.load_cdf(starting_version=before + 1))
    assert set(changes["_change_type"].to_pylist()) == {"insert", "delete"}
    assert "birth_date" not in pl.read_delta(str(tax / "person")).columns
    # widening works the same way: the new column appears in the current version
    _write_agreement(workspace, "tax", _agreement(
        "tax", {"citizen_id": "pseudonym", "gender": "keep"}, prefix=None))
    assert _deliveries(workspace)["tax"].status == "rederived"
    assert read_version(tax, "person").column_names == ["citizen_id", "gender"]
    # an unchanged agreement then changes nothing
    assert _deliveries(workspace)["tax"].status == "unchanged"


def test_row_scope_change_re_derives(workspace: HubConfig) -> None:
    ledger, _ = _run(workspace, [persons("510107", range(20)), persons("510104", range(5))], 1)
    ledger.close()
    _write_agreement(workspace, "mib", _agreement(
        "mib", {"citizen_id": "pseudonym", "address_division": "keep"}, prefix="510104"))
    assert _deliveries(workspace)["mib"].status == "rederived"
    mib = read_version(workspace.root / "outbox" / "mib", "person")
    assert mib.num_rows == 5 and set(mib["address_division"].to_pylist()) == {"510104"}


def test_expired_or_revoked_agreement_empties_the_outbox(workspace: HubConfig) -> None:
    ledger, _ = _run(workspace, [persons("510107", range(20))], 1)
    ledger.close()
    outbox = workspace.root / "outbox"
    assert read_version(outbox / "mib", "person").num_rows == 20
    _write_agreement(workspace, "mib", _agreement(
        "mib", {"citizen_id": "pseudonym", "gender": "keep"}, valid_to="2026-02-01"))
    result = _deliveries(workspace)["mib"]
    assert result.status == "withdrawn" and "not in force" in str(result.reason)
    assert read_version(outbox / "mib", "person").num_rows == 0
    assert DeltaTable(str(outbox / "mib" / "person")).to_pyarrow_table().num_rows == 0
    # the tax agreement file is removed (revoked): its outbox is emptied on the next run
    assert workspace.sharing_dir is not None
    (workspace.sharing_dir / "tax.yaml").unlink()
    withdrawn = _deliveries(workspace)["tax"]
    assert withdrawn.status == "withdrawn" and "revoked" in str(withdrawn.reason)
    assert read_version(outbox / "tax", "person").num_rows == 0
    assert all(r.ok for r in verify_path(outbox, all_versions=True))
    with Ledger.open(workspace.ledger_url) as ledger:
        assert ledger.audit_subjects("withdraw")


def test_revoked_agreement_empties_the_outbox(workspace: HubConfig) -> None:
    ledger, _ = _run(workspace, [persons("510107", range(12))], 1)
    ledger.close()
    assert read_version(workspace.root / "outbox" / "tax", "person").num_rows == 12
    _write_agreement(workspace, "tax", _agreement(
        "tax", {"citizen_id": "pseudonym", "birth_date": "keep"}, prefix=None, revoked=True))
    result = _deliveries(workspace)["tax"]
    assert (result.status, result.reason) == ("withdrawn", "agreement revoked")
    assert read_version(workspace.root / "outbox" / "tax", "person").num_rows == 0
