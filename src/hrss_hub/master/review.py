"""The steward queue of record-linkage candidates (``master_reviews`` in the ledger).

A candidate names its two records as ``entity|system|source key`` (never by citizen ID)
with the match probability and the per-comparison match weights that explain it. A
steward accepts (the two are one person: the second row is marked ``merged_into`` the
first at the next build) or rejects it; who and why go to the ledger and the audit chain.
Nothing is merged without an accepted review, except pairs at or above the configured
``auto_link_threshold`` (unset by default).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlalchemy import select

from hrss_hub.errors import ConfigError
from hrss_hub.ledger.coltypes import utcnow
from hrss_hub.ledger.models import MasterReview
from hrss_hub.supervision.steward import LedgerStore, decided_row

if TYPE_CHECKING:
    import duckdb


#: the reason of a pair accepted because it reached ``master.auto_link_threshold``
AUTO_REASON = "above auto_link_threshold"


@dataclass(frozen=True)
class Candidate:
    """A pair proposed by record linkage."""

    left: str  # entity|system|source_key
    right: str
    probability: float
    explanation: dict[str, Any]

    @property
    def id(self) -> str:
        """Stable id of the (unordered) pair."""
        a, b = sorted((self.left, self.right))
        return "R" + hashlib.sha256(f"{a}\x1f{b}".encode()).hexdigest()[:19]


@dataclass(frozen=True)
class ReviewInfo:
    """A review as the ledger keeps it."""

    id: str
    left: str
    right: str
    probability: float
    explanation: dict[str, Any]
    status: str
    created_at: datetime
    decided_by: str | None
    reason: str | None


def _info(r: MasterReview) -> ReviewInfo:
    return ReviewInfo(r.id, r.left_record, r.right_record, r.probability, dict(r.explanation),
                      r.status, r.created_at, r.decided_by, r.reason)


def split_record(ref: str) -> tuple[str, str, str]:
    """``entity|system|source key`` → its three parts (the key may contain ``|``)."""
    entity, system, key = ref.split("|", 2)
    return entity, system, key


class ReviewStore(LedgerStore):
    """The review queue of one ledger."""

    def propose(self, candidates: Iterable[Candidate], *, auto_threshold: float | None,
                actor: str) -> tuple[int, int]:
        """Queue new candidates (a pair already queued or decided is left alone); pairs at or
        above ``auto_threshold`` are accepted at once. Returns (queued, auto-accepted)."""
        queued = auto = 0
        with self._tx() as s:
            for c in candidates:
                if s.get(MasterReview, c.id) is not None:
                    continue
                automatic = auto_threshold is not None and c.probability >= auto_threshold
                s.add(MasterReview(
                    id=c.id, left_record=c.left, right_record=c.right,
                    probability=c.probability, explanation=c.explanation,
                    status="accepted" if automatic else "pending", created_at=utcnow(),
                    decided_at=utcnow() if automatic else None,
                    decided_by=actor if automatic else None,
                    reason=AUTO_REASON if automatic else None))
                queued += 1
                auto += automatic
        if queued:
            self.ledger.append_audit(actor, "master_review_queue", "master_reviews",
                                     {"queued": queued, "auto_accepted": auto})
        return queued, auto

    def decide(self, review_id: str, accept: bool, *, actor: str, reason: str) -> ReviewInfo:
        """A steward's decision on a pending review (audited)."""
        with self._tx() as s:
            row = decided_row(s, MasterReview, review_id, kind="review", reason=reason,
                              example="户籍核实为同一人",
                              list_command="hrss-hub master review list")
            if row.status != "pending":
                raise ConfigError(f"review {review_id!r} is already {row.status}",
                                  {"review": review_id, "by": row.decided_by})
            row.status = "accepted" if accept else "rejected"
            row.decided_at, row.decided_by, row.reason = utcnow(), actor, reason
            info = _info(row)
        self.ledger.append_audit(actor, "master_review_accept" if accept else
                                 "master_review_reject", review_id,
                                 {"left": info.left, "right": info.right,
                                  "probability": info.probability, "reason": reason})
        return info

    def all(self, status: str | None = None) -> list[ReviewInfo]:
        """Reviews (with a status), most probable first."""
        query = select(MasterReview).order_by(MasterReview.probability.desc(), MasterReview.id)
        if status is not None:
            query = query.where(MasterReview.status == status)
        with self._tx() as s:
            return [_info(r) for r in s.scalars(query)]


def accepted_merges(ledger: Any, con: duckdb.DuckDBPyConnection) -> pa.Table:
    """``citizen_id`` → ``merged_into`` for the accepted reviews, resolved through the
    ``links`` table of ``con`` (a pair whose records are unknown is skipped)."""
    pairs = [(split_record(r.left), split_record(r.right))
             for r in ReviewStore(ledger).all("accepted")]
    empty = pa.table({"citizen_id": pa.array([], pa.string()),
                      "merged_into": pa.array([], pa.string())})
    if not pairs:
        return empty
    refs = pa.table({
        "pair": pa.array([i for i, _ in enumerate(pairs)] * 2, pa.int64()),
        "side": pa.array(["left"] * len(pairs) + ["right"] * len(pairs)),
        "record_entity": [p[0][0] for p in pairs] + [p[1][0] for p in pairs],
        "record_system": [p[0][1] for p in pairs] + [p[1][1] for p in pairs],
        "record_key": [p[0][2] for p in pairs] + [p[1][2] for p in pairs]})
    con.register("__refs", refs)
    resolved = con.sql(
        "SELECT r.pair, r.side, l.citizen_id FROM __refs r JOIN links l "
        "USING (record_entity, record_system, record_key)").to_arrow_table().to_pylist()
    sides: dict[int, dict[str, str]] = {}
    for row in resolved:
        sides.setdefault(int(row["pair"]), {})[str(row["side"])] = str(row["citizen_id"])
    out = {s["right"]: s["left"] for s in sides.values()
           if "left" in s and "right" in s and s["left"] != s["right"]}
    if not out:
        return empty
    return pa.table({"citizen_id": pa.array(list(out), pa.string()),
                     "merged_into": pa.array(list(out.values()), pa.string())})
