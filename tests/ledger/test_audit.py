"""The audit hash chain detects edits, deletions, insertions and reordering."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from hrss_hub.ledger import Ledger
from hrss_hub.ledger.audit import event_hash
from hrss_hub.ledger.models import AuditEvent, AuditHead


@pytest.fixture
def chain(ledger: Ledger) -> list[str]:
    """Five events; returns their hashes in order."""
    return [ledger.append_audit("steward", f"action-{i}", f"subject-{i}", {"i": i, "名": "张三"})
            for i in range(5)]


def _seqs(ledger: Ledger) -> list[int]:
    with ledger.engine.connect() as conn:
        return list(conn.scalars(sa.select(AuditEvent.seq).order_by(AuditEvent.seq)))


def test_intact_chain_verifies(ledger: Ledger, chain: list[str]) -> None:
    assert ledger.verify_audit() == []
    assert ledger.verify_audit(expected_head=chain[2]) == []
    assert len(set(chain)) == 5


def test_empty_chain_verifies(ledger: Ledger) -> None:
    assert ledger.verify_audit() == []


def test_detects_edit(ledger: Ledger, chain: list[str]) -> None:
    seq = _seqs(ledger)[2]
    with ledger.engine.begin() as conn:
        conn.execute(sa.update(AuditEvent).where(AuditEvent.seq == seq)
                     .values(details={"i": 2, "名": "李四"}))
    problems = ledger.verify_audit()
    assert len(problems) == 1 and f"seq={seq}" in problems[0] and "edited" in problems[0]


def test_detects_edit_with_recomputed_hash(ledger: Ledger, chain: list[str]) -> None:
    seq = _seqs(ledger)[2]
    with ledger.engine.begin() as conn:
        row = conn.execute(sa.select(AuditEvent).where(AuditEvent.seq == seq)).one()
        forged = event_hash(row.prev_hash, row.at, "intruder", row.action, row.subject,
                            row.details)
        conn.execute(sa.update(AuditEvent).where(AuditEvent.seq == seq)
                     .values(actor="intruder", hash=forged))
    problems = ledger.verify_audit()
    assert any("prev_hash" in p and f"seq={_seqs(ledger)[3]}" in p for p in problems)


def test_detects_delete(ledger: Ledger, chain: list[str]) -> None:
    seqs = _seqs(ledger)
    with ledger.engine.begin() as conn:
        conn.execute(sa.delete(AuditEvent).where(AuditEvent.seq == seqs[1]))
    problems = ledger.verify_audit()
    assert any(f"seq={seqs[2]}" in p and "deleted" in p for p in problems)
    assert any("audit head records 5 events" in p for p in problems)


def test_detects_deleted_tail(ledger: Ledger, chain: list[str]) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.delete(AuditEvent).where(AuditEvent.seq == _seqs(ledger)[-1]))
    assert any("audit head" in p for p in ledger.verify_audit())


def test_detects_rewritten_chain_with_external_head(ledger: Ledger, chain: list[str]) -> None:
    """Truncating the table and the head together is only caught by a head kept elsewhere."""
    with ledger.engine.begin() as conn:
        conn.execute(sa.delete(AuditEvent).where(AuditEvent.seq >= _seqs(ledger)[3]))
        conn.execute(sa.update(AuditHead).values(count=3, hash=chain[2]))
    assert ledger.verify_audit() == []
    problems = ledger.verify_audit(expected_head=chain[4])
    assert problems and "not in the audit chain" in problems[0]


def test_detects_insert(ledger: Ledger, chain: list[str]) -> None:
    seqs = _seqs(ledger)
    at = datetime.now(UTC)
    with ledger.engine.begin() as conn:
        # make room before the last event and insert a well-formed forged link there
        conn.execute(sa.update(AuditEvent).where(AuditEvent.seq == seqs[-1])
                     .values(seq=seqs[-1] + 100))
        prev = chain[3]
        details = {"forged": True}
        conn.execute(sa.insert(AuditEvent).values(
            seq=seqs[-1], at=at, actor="intruder", action="grant", subject="all",
            details=details, prev_hash=prev,
            hash=event_hash(prev, at, "intruder", "grant", "all", details)))
    problems = ledger.verify_audit()
    assert any(f"seq={seqs[-1] + 100}" in p and "prev_hash" in p for p in problems)


def test_detects_appended_outside_the_ledger(ledger: Ledger, chain: list[str]) -> None:
    at = datetime.now(UTC)
    with ledger.engine.begin() as conn:
        conn.execute(sa.insert(AuditEvent).values(
            at=at, actor="intruder", action="grant", subject="all", details={},
            prev_hash=chain[-1], hash=event_hash(chain[-1], at, "intruder", "grant", "all", {})))
    problems = ledger.verify_audit()
    assert len(problems) == 1 and "audit head records 5 events" in problems[0]


def test_detects_reorder(ledger: Ledger, chain: list[str]) -> None:
    seqs = _seqs(ledger)
    a, b = seqs[1], seqs[2]
    with ledger.engine.begin() as conn:
        conn.execute(sa.update(AuditEvent).where(AuditEvent.seq == a).values(seq=-1))
        conn.execute(sa.update(AuditEvent).where(AuditEvent.seq == b).values(seq=a))
        conn.execute(sa.update(AuditEvent).where(AuditEvent.seq == -1).values(seq=b))
    problems = ledger.verify_audit()
    assert len(problems) >= 2 and all("prev_hash" in p for p in problems)


def test_missing_head_row(ledger: Ledger, chain: list[str]) -> None:
    from hrss_hub.errors import LedgerError

    with ledger.engine.begin() as conn:
        conn.execute(sa.delete(AuditHead))
    assert any("head row is missing" in p for p in ledger.verify_audit())
    with pytest.raises(LedgerError, match="audit head row is missing"):
        ledger.append_audit("x", "y", "z")


def test_concurrent_appends_keep_one_chain(ledger: Ledger) -> None:
    from concurrent.futures import ThreadPoolExecutor

    others = [Ledger(ledger.url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: others[i % 4].append_audit("w", "act", str(i)), range(40)))
    finally:
        for other in others:
            other.close()
    assert ledger.verify_audit() == []
    assert len(_seqs(ledger)) == 40
