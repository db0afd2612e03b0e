"""The tamper-evident audit chain.

Each event stores ``hash = sha256(prev_hash + canonical_json(event))`` where ``prev_hash``
is the hash of the event before it (``""`` for the first). Editing an event breaks its
own hash; deleting, inserting or reordering events breaks the ``prev_hash`` links; and
the ``audit_head`` row (count + last hash) reveals a removed or forged tail. Someone who
can rewrite the whole database can rewrite the whole chain: pass a head hash kept
elsewhere (e.g. in a signed manifest) as ``expected_head`` to catch that too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hrss_hub.ledger.jsonutil import canonical_json

GENESIS = ""


@dataclass(frozen=True)
class AuditLink:
    """One audit event as read back from the database."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


def event_hash(prev_hash: str, at: datetime, actor: str, action: str, subject: str,
               details: dict[str, Any]) -> str:
    """The hash of one event chained onto ``prev_hash``."""
    event = {
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
    }
    return hashlib.sha256((prev_hash + canonical_json(event)).encode("utf-8")).hexdigest()


def verify_chain(links: Iterable[AuditLink], head_count: int | None, head_hash: str | None,
                 expected_head: str | None = None) -> list[str]:
    """Problems found in ``links`` (ordered by ``seq``); an empty list means intact."""
    problems: list[str] = []
    prev = GENESIS
    count = 0
    seen_expected = expected_head is None
    for link in links:
        count += 1
        if link.prev_hash != prev:
            problems.append(
                f"audit event seq={link.seq}: prev_hash does not match the event before it "
                "(an event was deleted, inserted or reordered)")
        own = event_hash(link.prev_hash, link.at, link.actor, link.action, link.subject,
                         link.details)
        if own != link.hash:
            problems.append(f"audit event seq={link.seq}: content does not match its hash "
                            "(the event was edited)")
        if link.hash == expected_head:
            seen_expected = True
        prev = link.hash
    if head_count is None or head_hash is None:
        problems.append("audit head row is missing (deleted, or the ledger is not migrated)")
    elif head_count != count or head_hash != prev:
        problems.append(
            f"audit head records {head_count} events ending in {head_hash[:12] or '-'}, "
            f"the table has {count} ending in {prev[:12] or '-'} "
            "(events at the end were deleted, or added outside the ledger)")
    if not seen_expected:
        problems.append(f"expected head {expected_head} is not in the audit chain "
                        "(the chain was rewritten or truncated)")
    return problems
