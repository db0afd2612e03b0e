"""The stream validator: Great Expectations on its own thread, counted as if inline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from hrss_hub.mapping import compile_mapping, parse_mapping
from hrss_hub.quality.gate import RowGate
from hrss_hub.quality.suites import load_suites
from hrss_hub.quality.validate import StreamValidator
from hrss_hub.standard.model import load_standard

STD = load_standard()
PERSON = {
    "entity": "person",
    "source_key": ["no"],
    "fields": {"citizen_id": "idno", "id_type": {"const": "01"}, "name": "name",
               "gender": {"from": "sex", "map": {"男": "1", "女": "2"}},
               "birth_date": {"from": "born", "normalize": "date"}},
}
ROWS = [("1", "11010519491231002X", "张三", "女", "1949-12-31"),
        ("2", "110105194912310021", "李四", "女", "1949-12-31"),   # wrong check digit
        ("3", "34052419800101001X", None, "男", "1980-01-01"),      # no name
        ("4", "34052419800101001X", "王五", "男", "1980-01-01")]


def validator_and_batch(tmp_path: Path, project: Path) -> tuple[StreamValidator, RowGate, object]:
    compiled = compile_mapping(parse_mapping(PERSON, "x.yaml", "m"), STD)
    suites = load_suites(tmp_path / "expectations", STD)["person"]
    validator = StreamValidator(STD, compiled.entity, suites, run_id="r1", system="sys",
                                stream="s", gx_project=project)
    gate = RowGate(compiled.entity, STD, "r1", "sys", "s", datetime(2026, 1, 1, tzinfo=UTC),
                   suites=validator.suites, references=validator.ctx.references)
    no, idno, name, sex, born = (list(c) for c in zip(*ROWS, strict=True))
    batch = pa.RecordBatch.from_pydict({"no": no, "idno": idno, "name": name, "sex": sex,
                                        "born": born})
    return validator, gate, compiled.apply(batch)


def test_gx_counts_from_its_thread_equal_the_gate_after_finish(tmp_path: Path) -> None:
    validator, gate, mb = validator_and_batch(tmp_path, tmp_path / "gx")
    validator.add(mb, gate.evaluate(mb))  # type: ignore[arg-type]
    path = validator.finish(tmp_path / "out")
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["gx_rows"] == written["rows"] == len(ROWS)
    results = written["expectations"]
    assert sum(r["unexpected"] for r in results) == 2  # the two planted defects are counted
    assert [r["gx_unexpected"] for r in results] == [r["unexpected"] for r in results]
    assert all(r["gx_error"] is None for r in results)
    assert written["seconds_gx"] > 0
    assert (tmp_path / "gx" / "gx" / "expectations").is_dir()  # the stream's own project


def test_abandoned_gx_work_is_not_counted(tmp_path: Path) -> None:
    validator, gate, mb = validator_and_batch(tmp_path, tmp_path / "gx")
    validator.add(mb, gate.evaluate(mb))  # type: ignore[arg-type]
    validator.abandon()  # the stream failed: its sample is dropped or waited for
    written = json.loads(validator.finish(tmp_path / "out").read_text(encoding="utf-8"))
    assert written["rows"] == len(ROWS)
    assert all(r["gx_unexpected"] is None for r in written["expectations"])


def test_a_gx_project_that_cannot_open_fails_the_stream_at_finish(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    validator, gate, mb = validator_and_batch(tmp_path, blocker / "gx")
    validator.add(mb, gate.evaluate(mb))  # type: ignore[arg-type]
    with pytest.raises(OSError):
        validator.finish(tmp_path / "out")
