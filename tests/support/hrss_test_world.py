"""Small published worlds for the supervision and master tests: rows of any entity staged
and published exactly as a run does (ParquetSink + publish_files + publish_pending)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from hrss_hub.config import HubConfig
from hrss_hub.exchange.layout import entity_schema
from hrss_hub.exchange.staging import ParquetSink, publish_files
from hrss_hub.exchange.versions import publish_pending
from hrss_hub.ledger import Ledger
from hrss_hub.master.hooks import RunPublishReport, publish_run
from hrss_hub.standard.model import load_standard

REPO = Path(__file__).resolve().parents[2]  # tests/support/ → the checkout
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def cid(division: str, born: date, seq: int) -> str:
    """A valid 18-character citizen ID (odd ``seq``: male)."""
    body = f"{division}{born:%Y%m%d}{seq:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _WEIGHTS,
                                                                 strict=True)) % 11]


def workspace(root: Path, division: str = "510107", level: str = "district",
              hub_id: str = "wuhou") -> HubConfig:
    """A workspace with the repository's supervision checks and standard."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "hub.yaml").write_text(f"hub_id: {hub_id}\nlevel: {level}\n"
                                   f"division: '{division}'\n", encoding="utf-8")
    return HubConfig(root=root, hub_id=hub_id, division=division, level=level,
                     standard_dir=REPO / "standards", supervision_dir=REPO / "supervision")


def table(entity: str, rows: list[dict[str, Any]], *, system: str, run_id: str) -> pa.Table:
    """``rows`` in the entity's exchange schema; lineage filled, amounts as decimals."""
    schema = entity_schema(load_standard(REPO / "standards").entity(entity))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    cols: dict[str, list[Any]] = {f.name: [] for f in schema}
    for i, r in enumerate(rows):
        full = {"source_system": system, "source_key": f"{system}|{entity}|{i}",
                "run_id": run_id,
                "extracted_at": at, **r}
        for f in schema:
            v = full.get(f.name)
            if isinstance(v, int | float | str) and pa.types.is_decimal(f.type):
                v = Decimal(str(v))
            cols[f.name].append(v)
    return pa.Table.from_arrays([pa.array(cols[f.name], f.type) for f in schema], schema=schema)


def stage(cfg: HubConfig, data: dict[str, list[dict[str, Any]]], *, run_id: str,
          system: str = "si_core", tag: str = "a") -> None:
    """Stage ``data`` (entity → rows) of one system as a run's stream does."""
    assert cfg.exchange_root is not None
    for entity, rows in data.items():
        t = table(entity, rows, system=system, run_id=run_id)
        schema = t.schema
        sink = ParquetSink(cfg.exchange_root / ".staging" / run_id / entity,
                           f"{system}.{entity}.{tag}", schema)
        sink.write(t)
        publish_files(cfg.exchange_root, entity, schema, sink.close(), run_id=run_id,
                      system=system, stream=entity, standard_version="1.1.0",
                      hub={"hub_id": cfg.hub_id, "level": cfg.level, "division": cfg.division})


def publish(cfg: HubConfig, data: dict[str, list[dict[str, Any]]], *, system: str = "si_core",
            tag: str = "a") -> str:
    """Stage and publish ``data`` (entity → rows) as one run; returns the run id."""
    with Ledger.open(cfg.ledger_url) as ledger:
        run_id = ledger.start_run(cfg.hub_id, "cli")
        stage(cfg, data, run_id=run_id, system=system, tag=tag)
        publish_pending(cfg, ledger, None)
        # a data run, as the quality report counts runs: one stream per entity staged
        streams = [{"system": system, "stream": entity, "entity": entity, "read": len(rows),
                    "published": len(rows), "quarantined": 0, "filtered": 0,
                    "status": "succeeded"} for entity, rows in data.items()]
        ledger.finish_run(run_id, "succeeded", {"run_id": run_id, "status": "succeeded",
                                                "systems": [{"system": system,
                                                             "status": "succeeded",
                                                             "streams": streams}]})
    return run_id


@dataclass(frozen=True)
class RunRef:
    """What the run's publish step reads of a run summary: its id."""

    run_id: str


def run_publish_step(cfg: HubConfig, batches: list[tuple[str, list[dict[str, Any]]]]
                     ) -> RunPublishReport:
    """One run staging person ``batches`` (system, rows), then the run's publish step
    (master build, publish, linkage, supervision); returns that step's report."""
    with Ledger.open(cfg.ledger_url) as ledger:
        run_id = ledger.start_run(cfg.hub_id, "cli")
        for i, (system, rows) in enumerate(batches):
            stage(cfg, {"person": rows}, run_id=run_id, system=system, tag=f"{run_id}-{i}")
        report = publish_run(cfg, ledger, RunRef(run_id))
        ledger.finish_run(run_id, "succeeded", {})
        return report
