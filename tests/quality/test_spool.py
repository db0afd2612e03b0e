"""QuarantineSpool: quarantined rows reach their file batch by batch; a failed stream
leaves no file."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from hrss_hub.quality.gate import QUARANTINE_SCHEMA, rejects_table
from hrss_hub.quality.spool import QuarantineSpool


def _rows(n: int, start: int) -> object:
    return rejects_table([(f"f.csv:{i}", "bad", f"raw{i}") for i in range(start, start + n)],
                         "run-1", "sys", "AC01", "person")


def test_batches_are_appended_and_the_file_appears_on_close(tmp_path: Path) -> None:
    path = tmp_path / "q" / "AC01.parquet"
    spool = QuarantineSpool(path)
    spool.add(_rows(3, 0))  # type: ignore[arg-type]
    spool.add(_rows(0, 3))  # type: ignore[arg-type]
    spool.add(_rows(2, 3))  # type: ignore[arg-type]
    assert not path.exists()  # only a finished stream's spool is the quarantine file
    assert spool.close() == path and spool.rows == 5
    table = pq.read_table(path)
    assert table.schema == QUARANTINE_SCHEMA
    assert table.column("location").to_pylist() == [f"f.csv:{i}" for i in range(5)]
    assert pq.ParquetFile(path).metadata.num_row_groups == 2  # written as they came


def test_a_failed_stream_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "AC01.parquet"
    spool = QuarantineSpool(path)
    spool.add(_rows(3, 0))  # type: ignore[arg-type]
    spool.discard()
    assert list(tmp_path.iterdir()) == []
    assert QuarantineSpool(tmp_path / "none.parquet").close() is None
