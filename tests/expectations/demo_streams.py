"""Run every demo stream through map → gate → validator (helpers for the equivalence tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hrss_hub.config import load_config
from hrss_hub.connectors.registry import create_connector
from hrss_hub.mapping import compile_mapping, parse_mapping
from hrss_hub.quality.gate import RowGate
from hrss_hub.quality.validate import StreamValidator
from hrss_hub.standard.model import load_standard


def demo_streams(workspace: Path) -> Iterator[tuple[Any, Any, Any]]:
    """(system config, stream config, compiled mapping) of every mapped demo stream."""
    from hrss_hub.pipeline import load_workspace_systems

    cfg = load_config(workspace / "hub.yaml")
    standard = load_standard(cfg.standard_dir)
    for _name, system in sorted(load_workspace_systems(cfg).items()):
        for stream in system.streams:
            if stream.mapping is None:
                continue
            spec = parse_mapping(stream.mapping, str(system.source_file),
                                 f"streams.{stream.name}.mapping")
            yield system, stream, compile_mapping(spec, standard)


def validate_demo(workspace: Path, suites: dict[str, list[Any]], gx_context: Any | None,
                  references: dict[tuple[str, str], Any] | None = None
                  ) -> list[tuple[str, str, StreamValidator, dict[str, int], list[Any]]]:
    """Validate every demo stream; returns (system, stream, validator, gate rule counts,
    validation frames)."""
    from datetime import UTC, datetime

    from hrss_hub.demo.server import serving

    cfg = load_config(workspace / "hub.yaml")
    standard = load_standard(cfg.standard_dir)
    out = []
    # the API's token and URL in the environment only while it runs (a token left behind
    # made later demo servers of other workspaces refuse their own token)
    with serving(workspace):
        for system, stream, compiled in demo_streams(workspace):
            entity = compiled.entity
            validator = StreamValidator(standard, entity, suites.get(entity.name, []),
                                        run_id="equivalence", system=system.system,
                                        stream=stream.name, gx_context=gx_context,
                                        references=references)
            gate = RowGate(entity, standard, "equivalence", system.system, stream.name,
                           datetime.now(UTC), suites=validator.suites,
                           references=validator.ctx.references)
            counts: dict[str, int] = {}
            frames = []
            for chunk in create_connector(system).read(stream.name, None):
                if chunk.rejects:
                    counts["malformed_record"] = counts.get("malformed_record", 0) + len(
                        chunk.rejects)
                if chunk.batch.num_rows:
                    mb = compiled.apply(chunk.batch)
                    verdict = gate.evaluate(mb)
                    for rule, n in verdict.rule_counts.items():
                        counts[rule] = counts.get(rule, 0) + n
                    frames.append(validator.add(mb, verdict))
            validator.wait_gx()  # GX validated on its own thread: its counts added now
            out.append((system.system, stream.name, validator, counts, frames))
    return out
