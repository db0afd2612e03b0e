"""Connector kinds from installed packages (entry-point group ``hrss_hub.connectors``).

A temporary package, ``hrss_jsonl_kind``, is "installed" the way pip installs one: a
``.dist-info`` folder with ``entry_points.txt`` on ``sys.path``. Its kind (``jsonl``:
newline-delimited JSON files, incremental through ``hrss_hub.connectors.incremental``) is
then a kind like the built-ins, and the contract suite fails until the package registers
a contract source for it — after which the whole suite runs against it and passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

KIND = '''
"""A connector kind outside the hub: newline-delimited JSON files, read incrementally."""

from __future__ import annotations

import json

import pyarrow as pa

from hrss_hub.connectors.base import LOCATION_COLUMN, Chunk, ConnectorKind
from hrss_hub.connectors.incremental import Incremental, Watermark
from hrss_hub.connectors.sql_types import parse_type_name
from hrss_hub.errors import SourceError


class JsonLinesConnector(ConnectorKind):
    connection_keys = frozenset({"path"})
    stream_keys = frozenset({"schema"})

    def _path(self):
        return self.config.workspace / self.config.connection["path"]

    def check(self):
        if not self._path().is_file():
            raise SourceError("no such file", {"system": self.config.system})

    def schema(self, stream):
        declared = self.config.stream(stream).options["schema"]
        return pa.schema([*(pa.field(k, parse_type_name(v)) for k, v in declared.items()),
                          pa.field(LOCATION_COLUMN, pa.string())])

    def read(self, stream, state=None):
        sc = self.config.stream(stream)
        schema = self.schema(stream)
        lines = self._path().read_text(encoding="utf-8").splitlines()
        rows = [{**json.loads(line), LOCATION_COLUMN: f"{self._path().name}:{i + 1}"}
                for i, line in enumerate(lines) if line.strip()]
        table = pa.Table.from_pylist(rows, schema=schema).sort_by(
            [(sc.cursor, "ascending"), (sc.primary_key[0], "ascending")])
        inc = Incremental(sc.cursor, sc.primary_key, schema.field(sc.cursor).type)
        since = Watermark.from_state(state)
        mark = since
        fresh = table.filter(inc.new_rows(table, since).mask)
        for batch in fresh.to_batches(max_chunksize=self.config.batch_size):
            if batch.num_rows:
                mark = inc.advance(mark, batch)
                yield Chunk(batch, mark.to_state())
'''

CONTRACT = '''
"""The contract source of the jsonl kind: registered through hrss_hub.contract_sources."""

from __future__ import annotations

import json

from hrss_hub.connectors.config import parse_system
from hrss_hub.connectors.contract import Source, source_factory
from hrss_hub.connectors.registry import create_connector


@source_factory("jsonl-events", "jsonl")
def jsonl_events(request, tmp_path):
    path = tmp_path / "events.jsonl"
    rows = []

    def add(n, first_seq):
        start = len(rows)
        for j in range(n):
            # cursor values come in pairs, so batches end inside a group of equal values
            rows.append({"id": f"E{start + j:03d}", "seq": first_seq + j // 2})
        path.write_text("".join(json.dumps(r) + "\\n" for r in rows), encoding="utf-8")

    add(15, 0)
    cfg = parse_system({"kind": "jsonl", "batch_size": 4, "connection": {"path": "events.jsonl"},
                        "streams": [{"name": "events", "primary_key": ["id"], "cursor": "seq",
                                     "schema": {"id": "string", "seq": "int64"}}]},
                       tmp_path / "events.yaml", tmp_path)
    yield Source(create_connector(cfg), "events", ["id"], 4,
                 lambda: [(r["id"],) for r in rows],
                 lambda n: add(n, rows[-1]["seq"]))  # the first new row shares the last value
'''


def install(site: Path, *, contract: bool, broken: bool = False) -> Path:
    """Write the package and its dist-info (as pip would) into ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "hrss_jsonl_kind.py").write_text(textwrap.dedent(KIND), encoding="utf-8")
    (site / "hrss_jsonl_kind_contract.py").write_text(textwrap.dedent(CONTRACT),
                                                      encoding="utf-8")
    info = site / "hrss_jsonl_kind-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hrss-jsonl-kind\n"
                                   "Version: 0.1\n", encoding="utf-8")
    target = "hrss_jsonl_kind_missing" if broken else "hrss_jsonl_kind"
    groups = f"[hrss_hub.connectors]\njsonl = {target}:JsonLinesConnector\n"
    if contract:
        groups += "\n[hrss_hub.contract_sources]\njsonl = hrss_jsonl_kind_contract\n"
    (info / "entry_points.txt").write_text(groups, encoding="utf-8")
    return site


def run(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def pytest_args(*selection: str) -> list[str]:
    return ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            "tests/contract/test_connector_contract.py", *selection]


def test_an_installed_kind_is_listed_and_usable(tmp_path: Path) -> None:
    site = install(tmp_path / "site", contract=False)
    probe = textwrap.dedent("""
        from hrss_hub.connectors import kinds, parse_system
        from hrss_hub.errors import ConfigError
        print("kinds", kinds())
        try:
            parse_system({"kind": "jsnl", "streams": [{"name": "e"}]}, __import__("pathlib")
                         .Path("x.yaml"), __import__("pathlib").Path("."))
        except ConfigError as exc:
            print("typo", exc)
    """)
    result = run(site, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert "kinds ['files', 'jsonl', 'rest', 'sql']" in result.stdout
    assert "unknown connector kind 'jsnl'" in result.stdout
    assert "did you mean 'jsonl'?" in result.stdout


def test_the_contract_suite_fails_for_a_kind_without_a_contract_source(tmp_path: Path) -> None:
    site = install(tmp_path / "site", contract=False)
    result = run(site, *pytest_args("-k", "every_registered_kind"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "connector kind(s) jsonl have no contract source" in result.stdout


def test_with_its_contract_source_the_suite_runs_against_the_kind(tmp_path: Path) -> None:
    site = install(tmp_path / "site", contract=True)
    result = run(site, *pytest_args("-k", "jsonl or every_registered_kind"))
    assert result.returncode == 0, result.stdout + result.stderr
    # the coverage test plus every contract test, parametrized for the jsonl source
    assert "14 passed" in result.stdout, result.stdout


def test_a_broken_plugin_is_a_config_error_naming_it(tmp_path: Path) -> None:
    site = install(tmp_path / "site", contract=False, broken=True)
    probe = textwrap.dedent("""
        from hrss_hub.connectors.registry import kind_class, kinds
        from hrss_hub.errors import ConfigError
        assert "sql" in kinds()  # the built-ins do not suffer from a broken plugin
        kind_class("sql")
        try:
            kind_class("jsonl", system="events")
        except ConfigError as exc:
            print(exc)
    """)
    result = run(site, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert "connector kind 'jsonl' cannot be loaded (ModuleNotFoundError" in result.stdout
    assert "hrss-jsonl-kind 0.1" in result.stdout
