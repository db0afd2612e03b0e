"""The suites are the single source of truth: GX, the row gate and the Arrow evaluation of the
suites give identical unexpected counts for every expectation on the demo world, and the
gate's quarantine counts per rule equal the world's answer key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from demo_streams import validate_demo

from hrss_hub.quality import checks
from hrss_hub.quality.rules import RuleContext
from hrss_hub.quality.suites import load_suites
from hrss_hub.standard.model import load_standard

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def validated(demo_world: Path, gx_context: Any) -> list[Any]:
    std = load_standard()
    suites = load_suites(REPO_ROOT / "expectations", std)
    return validate_demo(demo_world, suites, gx_context)


def test_gx_and_gate_agree_on_every_expectation(validated: list[Any]) -> None:
    compared = 0
    mismatches = []
    for system, stream, validator, _, _ in validated:
        for e in validator.result.expectations:
            compared += 1
            assert e.gx_error is None, f"{system}.{stream} {e.type}: {e.gx_error}"
            if e.gx_unexpected != e.unexpected:
                mismatches.append(f"{system}.{stream} {e.type}({e.field}) [{e.rule}]: "
                                  f"gate/suite {e.unexpected}, GX {e.gx_unexpected}")
    assert not mismatches, "\n".join(mismatches)
    assert compared > 100
    # the comparison is not vacuous: failures of every kind of rule are present
    flagged = {e.rule for _, _, v, _, _ in validated for e in v.result.expectations
               if e.unexpected}
    assert {"required_missing", "citizen_id_invalid", "uscc_invalid", "date_invalid",
            "period_invalid", "code_unknown", "gender_id_mismatch", "birth_date_id_mismatch",
            "end_before_start", "contribution_base_out_of_bounds", "duplicate_key"} <= flagged


def test_arrow_evaluation_of_the_suites_agrees_with_the_gate(validated: list[Any],
                                                             demo_world: Path) -> None:
    """Where the gate counts what the mapping recorded (a value it could not convert), the
    rule's predicate on the frame finds the same rows."""
    std = load_standard()
    suites = load_suites(REPO_ROOT / "expectations", std)
    for system, stream, validator, _, frames in validated:
        ctx = RuleContext(std, key_memory={})  # keys remembered across a stream's batches
        specs = [e for s in suites.get(validator.entity.name, []) for e in s.expectations]
        for res, spec in zip(validator.result.expectations, specs, strict=True):
            n = sum(int(pc.sum(checks.unexpected_mask(spec, f, ctx)).as_py() or 0)
                    for f in frames)
            assert n == res.unexpected, f"{system}.{stream} {spec.type}({spec.field})"


def test_gate_counts_equal_the_answer_key(validated: list[Any], demo_world: Path) -> None:
    key = json.loads((demo_world / "answer_key.json").read_text(encoding="utf-8"))
    for system, stream, _, counts, _ in validated:
        expected = key["systems"][system][stream]["quarantined"]
        assert dict(sorted(counts.items())) == expected, f"{system}.{stream}"
