"""The ledger: run state, watermarks, processed files, quality results, exchange versions,
deliveries and a tamper-evident audit chain, in SQLite (default) or PostgreSQL.

It is how a rerun knows what is already done. Open it with :meth:`Ledger.open`, which
creates or upgrades the schema with the Alembic migrations shipped in this package.
"""

from __future__ import annotations

from hrss_hub.ledger.api import Ledger, new_run_id
from hrss_hub.ledger.db import head_revision, safe_url
from hrss_hub.ledger.locks import LockInfo, LockOwner
from hrss_hub.ledger.models import QUARANTINE_ACTIONS, RUN_STATUSES, RUN_TRIGGERS
from hrss_hub.ledger.records import AuditNote, BatchCounts, FileRecord, QualityResult, RunInfo

__all__ = [
    "QUARANTINE_ACTIONS",
    "RUN_STATUSES",
    "RUN_TRIGGERS",
    "AuditNote",
    "BatchCounts",
    "FileRecord",
    "Ledger",
    "LockInfo",
    "LockOwner",
    "QualityResult",
    "RunInfo",
    "head_revision",
    "new_run_id",
    "safe_url",
]
