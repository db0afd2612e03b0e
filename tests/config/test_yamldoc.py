"""Reading YAML with the line of every value; duplicate keys are problems, not last-wins."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hrss_hub.config import ConfigProblems
from hrss_hub.config.yamldoc import format_loc, parse_path, parse_yaml, read_yaml

TEXT = """\
# a comment
base: &base
  retries: 2
  tags: [a, b]
streams:
  - name: AC01
    cursor: AAE036
  - name: AC02
    <<: *base
    mapping:
      fields:
        gender:
          from: AAC004
valid_from: 2026-01-01
division: 510107
"""


def test_values_and_their_lines() -> None:
    doc = parse_yaml(TEXT, Path("x.yaml"))
    assert doc.data["streams"][1]["retries"] == 2  # merge keys work as in safe_load
    assert doc.data["valid_from"] == date(2026, 1, 1) and doc.data["division"] == 510107
    assert doc.line(("streams", 0, "cursor")) == 7
    assert doc.line(("streams", 1)) == 8
    assert doc.line(("streams", 1, "mapping", "fields", "gender", "from")) == 13
    # a key that is not there: the line of the nearest enclosing value
    assert doc.line(("streams", 1, "mapping", "fields", "gender", "normalize")) == 12
    assert doc.line(("nothing",)) == 2 and doc.problems == []
    assert doc.get(("streams", 0, "name")) == "AC01" and doc.get(("streams", 5)) is None


def test_duplicate_keys_are_problems() -> None:
    doc = parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", Path("x.yaml"))
    assert doc.data == {"a": 3, "b": {"c": 2}}
    assert [(p.line, p.path, p.message) for p in doc.problems] == [
        (4, "b.c", "key 'c' appears twice (first on line 3)"),
        (5, "a", "key 'a' appears twice (first on line 1)")]


def test_broken_files_say_where(tmp_path: Path) -> None:
    with pytest.raises(ConfigProblems) as info:
        parse_yaml("a: [1, 2\nb: 3\n", Path("x.yaml"))
    assert info.value.problems[0].line == 2 and "not valid YAML" in str(info.value)
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("a: 1\nname: 社保\n".encode("gbk"))
    with pytest.raises(ConfigProblems, match="not UTF-8") as info:
        read_yaml(gbk, "connector file")
    assert info.value.problems[0].line == 2
    with pytest.raises(ConfigProblems, match="connector file not found"):
        read_yaml(tmp_path / "missing.yaml", "connector file")


def test_paths_round_trip() -> None:
    loc = ("streams", 1, "mapping", "filter", 0, "in")
    assert format_loc(loc) == "streams[1].mapping.filter[0].in"
    assert parse_path(format_loc(loc)) == loc
    assert format_loc(()) == "" and parse_path("") == ()
