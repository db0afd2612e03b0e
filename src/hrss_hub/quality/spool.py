"""A stream's quarantined rows, written to their Parquet file as they come.

Holding every quarantined row of a run in memory until the stream ends grows with the
data (≈ 400 bytes a row with its JSON record: ~160 MB for the 4% defects of a 10M-row
table). The spool appends each batch's rows to a temporary file beside the quarantine file
as a row group instead; a finished stream's spool becomes the quarantine file the way
``reprocess.write_quarantine`` makes one (fsync, atomic rename, fsync of the folder:
readers see the whole file or none), a failed one is removed.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hrss_hub.quality import reprocess
from hrss_hub.quality.gate import QUARANTINE_SCHEMA


class QuarantineSpool:
    """Appends quarantine tables to ``path`` (created on the first row)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._partial = reprocess.quarantine_tmp(path)
        self._writer: pq.ParquetWriter | None = None

    def add(self, table: pa.Table) -> None:
        """Append ``table`` (quarantine rows) as one row group."""
        if table.num_rows == 0:
            return
        if self._writer is None:
            self._partial.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._partial, QUARANTINE_SCHEMA,
                                            compression="zstd")
        self._writer.write_table(table.cast(QUARANTINE_SCHEMA))
        self.rows += table.num_rows

    def close(self) -> Path | None:
        """Finish the file; its path, or None when no row was quarantined."""
        if self._writer is None:
            return None
        self._writer.close()
        self._writer = None
        try:
            reprocess.commit_quarantine(self._partial, self.path)
        finally:
            self._partial.unlink(missing_ok=True)
        return self.path

    def discard(self) -> None:
        """Drop what was written (the stream failed)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._partial.unlink(missing_ok=True)
