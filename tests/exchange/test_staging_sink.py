"""ParquetSink: row groups written in a background thread equal the serial files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hrss_hub.exchange import staging
from hrss_hub.exchange.staging import ParquetSink

SCHEMA = pa.schema([("k", pa.int64()), ("v", pa.string())])


def _write(folder: Path, background: bool) -> list[pa.Table]:
    sink = ParquetSink(folder, "s", SCHEMA, max_rows_per_file=250, background=background)
    for i in range(0, 1000, 70):
        n = min(70, 1000 - i)
        sink.write(pa.table({"k": range(i, i + n), "v": [str(j) for j in range(i, i + n)]},
                            schema=SCHEMA))
    files = sink.close()
    assert sum(f.rows for f in files) == 1000
    return [pq.read_table(f.path) for f in files]


def test_background_writes_equal_serial_ones(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staging, "ROW_GROUP_ROWS", 100)
    serial = _write(tmp_path / "serial", False)
    background = _write(tmp_path / "bg", True)
    assert len(serial) == len(background) > 1
    assert all(a.equals(b) for a, b in zip(serial, background, strict=True))


def test_a_background_write_error_surfaces_at_close(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staging, "ROW_GROUP_ROWS", 10)
    sink = ParquetSink(tmp_path, "s", SCHEMA, background=True)
    bad = pa.table({"k": pa.array(["x"] * 20), "v": pa.array(["y"] * 20)})  # wrong schema
    sink.write(bad)
    with pytest.raises((ValueError, pa.ArrowInvalid, pa.ArrowTypeError)):
        sink.close()


def test_row_groups_are_cut_as_from_one_combined_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The buffered chunks go to the writer as they are (no combined copy): the row
    groups are those of each flushed buffer cut at ``ROW_GROUP_ROWS`` rows (120 buffered
    rows: 100 + 20), whatever the sizes of the writes."""
    monkeypatch.setattr(staging, "ROW_GROUP_ROWS", 100)
    (path,) = _write_one(tmp_path)
    meta = pq.ParquetFile(path).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes == [100, 20] * 8 + [40]
    assert pq.read_table(path).column("k").to_pylist() == list(range(1000))


def _write_one(folder: Path) -> list[Path]:
    sink = ParquetSink(folder, "s", SCHEMA, background=True)
    for i in range(0, 1000, 30):
        n = min(30, 1000 - i)
        sink.write(pa.table({"k": range(i, i + n), "v": [str(j) for j in range(i, i + n)]},
                            schema=SCHEMA))
    return [f.path for f in sink.close()]
