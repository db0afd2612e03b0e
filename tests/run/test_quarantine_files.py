"""Quarantine files are written atomically and once per (run, stream); a truncated file
(left by a version that wrote them in place) gives a clear error in ``quarantine
list|release|reject``, and the next run removes one whose stream never committed."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hrss_hub.cli import main
from hrss_hub.config import load_config
from hrss_hub.pipeline import run
from hrss_hub.quality.reprocess import quarantine_files, write_quarantine


def test_write_is_atomic_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "q" / "run1" / "hr" / "staff.parquet"
    table = pa.table({"a": [1, 2, 3]})
    write_quarantine(path, table)
    write_quarantine(path, table)  # a retry of the same stream in the same run
    assert pq.read_table(path).num_rows == 3
    assert sorted(p.name for p in path.parent.iterdir()) == ["staff.parquet"]


@pytest.mark.parametrize("command", [
    ["quarantine", "list"],
    ["quarantine", "release", "X", "--system", "si_core", "--by", "a", "--reason", "b"],
    ["quarantine", "reject", "X", "--system", "si_core", "--by", "a", "--reason", "b"],
])
def test_a_truncated_file_is_a_clear_error(world: Path, command: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    summary = run(load_config(world / "hub.yaml"))
    assert not summary.failed
    victim = quarantine_files(world / "quarantine")[0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    with pytest.raises(SystemExit) as info:
        main([*command, "--config", str(world / "hub.yaml")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "quarantine file is unreadable" in err and victim.name in err
    assert "Traceback" not in err and "ArrowInvalid" not in err.split("unreadable:")[0]


def test_an_uncommitted_quarantine_file_is_removed_by_the_next_run(world: Path) -> None:
    cfg = load_config(world / "hub.yaml")
    first = run(cfg)
    # a killed run of an old version: its quarantine file exists, its stream never
    # committed (no batch in the ledger), and half of it is missing
    ghost = world / "quarantine" / "20200101T000000Z-dead00" / "si_core" / "AC01.parquet"
    ghost.parent.mkdir(parents=True)
    ghost.write_bytes(b"PAR1 truncated")
    (ghost.parent / ".AC01.parquet.1234.tmp").write_bytes(b"half")
    staging = world / "exchange" / ".staging" / "20200101T000000Z-dead00" / "person"
    staging.mkdir(parents=True)
    (staging / "si_core.AC01.abc.0000.parquet").write_bytes(b"PAR1")
    second = run(cfg)
    assert not ghost.exists() and not ghost.parent.parent.exists()
    assert not (world / "exchange" / ".staging").exists()
    assert any("removed leftovers" in n for n in second.notes)
    assert not first.failed and not second.failed
    assert main(["quarantine", "list", "--config", str(world / "hub.yaml")]) == 0
