"""Project-specific transforms registered under the ``hrss_hub.transforms`` entry points."""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pyarrow as pa
import pytest

from hrss_hub.errors import ConfigError
from hrss_hub.mapping import compile as compile_module
from hrss_hub.mapping import compile_mapping, parse_mapping
from hrss_hub.standard.model import load_standard

MODULE = '''
import pyarrow.compute as pc

def strip_title(batch, column, title):
    """A bureau's own rule: drop an honorific prefix from names."""
    return pc.replace_substring(batch.column(column), title, "")
'''


@pytest.fixture
def registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bureau_transforms.py").write_text(MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint(name="strip_title", value="bureau_transforms:strip_title",
                      group="hrss_hub.transforms")]
    monkeypatch.setattr(compile_module, "entry_points",
                        lambda group: [e for e in eps if e.group == group])
    yield
    sys.modules.pop("bureau_transforms", None)


def mapping(name_spec: dict) -> dict:
    return {"entity": "person", "source_key": ["id"], "fields": {
        "citizen_id": "idno", "id_type": {"const": "01"}, "name": name_spec,
        "gender": {"const": "2"}, "birth_date": {"from": "born", "normalize": "date"}}}


def test_a_registered_transform_computes_a_field(registered: None) -> None:
    spec = parse_mapping(mapping({"transform": "strip_title",
                                  "args": {"column": "name", "title": "先生"}}), "x.yaml", "m")
    compiled = compile_mapping(spec, load_standard())
    batch = pa.RecordBatch.from_pydict({"id": ["1"], "idno": ["11010519491231002X"],
                                        "name": ["王芳先生"], "born": ["1949-12-31"]})
    assert compiled.apply(batch).columns["name"].to_pylist() == ["王芳"]


def test_an_unknown_transform_lists_the_registered_ones(registered: None) -> None:
    spec = parse_mapping(mapping({"transform": "strip_titel"}), "x.yaml", "m")
    with pytest.raises(ConfigError, match="did you mean 'strip_title'"):
        compile_mapping(spec, load_standard())
