"""The publish lookup: a key's current record is found whichever file and partition holds
it, read batch by batch, with its partition value and lineage."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from hrss_hub.exchange import publish as publish_module
from hrss_hub.exchange.layout import entity_layout
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.tables import Table

from .exchange_helpers import citizen_id, person_entity, persons, publish, stage


def test_lookup_finds_keys_across_files_and_partitions(
        tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch) -> None:
    # two publishes of new keys: every division ends up with two data files
    for run, ids in (("run-1", range(0, 150)), ("run-2", range(150, 300))):
        for division in ("510104", "510105"):
            stage(tmp_path, persons(division, ids, run_id=run), run_id=run, tag=division)
        assert publish(tmp_path, signer) is not None
    table = Table(Store.open(tmp_path), "person")
    dt = table.open()
    assert len(table.active_files(dt)) == 4
    monkeypatch.setattr(publish_module, "_LOOKUP_BATCH", 16)  # many batches per file
    wanted = [citizen_id("510104", 3), citizen_id("510104", 299), citizen_id("510105", 150),
              citizen_id("510106", 1)]  # the last one was never published
    probe = pa.table({"citizen_id": pa.array(wanted, pa.string())})
    columns = ["citizen_id", "address_division", "source_key", "run_id"]
    found = publish_module.lookup(dt, entity_layout(person_entity()), probe, columns, table)
    rows = sorted(found.to_pylist(), key=lambda r: r["citizen_id"])
    assert rows == sorted([
        {"citizen_id": wanted[0], "address_division": "510104",
         "source_key": "AC01|510104|3", "run_id": "run-1"},
        {"citizen_id": wanted[1], "address_division": "510104",
         "source_key": "AC01|510104|299", "run_id": "run-2"},
        {"citizen_id": wanted[2], "address_division": "510105",
         "source_key": "AC01|510105|150", "run_id": "run-2"},
    ], key=lambda r: str(r["citizen_id"]))
