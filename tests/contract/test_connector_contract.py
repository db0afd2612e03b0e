"""The connector contract, run against every registered source (``hrss_hub.connectors.contract``).

Every kind must: yield batches whose schema is exactly ``discover()``'s; read every row
exactly once; yield nothing new from its final state; yield exactly the appended rows
after an append; resume after a crash at any chunk without duplicates or gaps; and never
yield a batch larger than ``batch_size``. And every registered kind (built-in or from an
entry point) must have a source here, or the suite fails.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from hrss_hub.connectors.base import Chunk, State, estimate_rows
from hrss_hub.connectors.contract import FACTORIES, Source, kinds_without_source


def read_all(src: Source, state: State | None = None,
             limit: int | None = None) -> tuple[list[tuple[Any, ...]], list[Chunk]]:
    """Keys read and chunks yielded (stopping after ``limit`` chunks, like a crash)."""
    keys: list[tuple[Any, ...]] = []
    chunks: list[Chunk] = []
    for chunk in src.connector.read(src.stream, state):
        chunks.append(chunk)
        cols = [chunk.batch.column(k).to_pylist() for k in src.key]
        keys.extend(zip(*cols, strict=True))
        if limit is not None and len(chunks) >= limit:
            break
    return keys, chunks


def assert_exactly(keys: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    dups = [k for k, n in Counter(keys).items() if n > 1]
    assert not dups, f"duplicates: {dups[:5]}"
    missing = set(expected) - set(keys)
    extra = set(keys) - set(expected)
    assert not missing and not extra, f"missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"


def test_every_registered_kind_has_a_contract_source() -> None:
    missing = kinds_without_source()
    assert not missing, (
        f"connector kind(s) {', '.join(missing)} have no contract source: add a "
        "sources_<kind>.py to tests/contract, or (for a plugin) a module registering one "
        "with hrss_hub.connectors.contract.source_factory under the entry-point group "
        f"hrss_hub.contract_sources; covered: {sorted({f.kind for f in FACTORIES.values()})}")


def test_check_and_discover(source: Source) -> None:
    source.connector.check()
    schemas = source.connector.discover()
    assert source.stream in schemas
    assert "_location" in schemas[source.stream].names


def test_batches_match_discovered_schema(source: Source) -> None:
    schema = source.connector.discover()[source.stream]
    _, chunks = read_all(source)
    assert chunks
    for chunk in chunks:
        assert chunk.batch.schema == schema
        assert chunk.batch.column("_location").null_count == 0


def test_full_read_has_no_duplicates_and_no_gaps(source: Source) -> None:
    keys, _ = read_all(source)
    assert_exactly(keys, source.expected())


def test_batch_size_bounds_every_batch(source: Source) -> None:
    _, chunks = read_all(source)
    assert max(c.batch.num_rows for c in chunks) <= source.batch_size
    assert len(chunks) >= 3, "the fixture must span several batches"


def test_reread_from_final_state_yields_nothing(source: Source) -> None:
    _, chunks = read_all(source)
    keys, _ = read_all(source, chunks[-1].state)
    assert keys == []


def test_append_then_read_yields_exactly_the_new_rows(source: Source) -> None:
    before = set(source.expected())
    _, chunks = read_all(source)
    source.append(6)
    new = [k for k in source.expected() if k not in before]
    keys, more = read_all(source, chunks[-1].state)
    assert_exactly(keys, new)
    again, _ = read_all(source, more[-1].state)
    assert again == []


@pytest.mark.parametrize("crash_after", [1, 2, 3, 5, -1])
def test_resume_after_crash_has_no_duplicates_and_no_gaps(source: Source,
                                                           crash_after: int) -> None:
    _, all_chunks = read_all(source)
    k = len(all_chunks) - 1 if crash_after == -1 else min(crash_after, len(all_chunks))
    first, chunks = read_all(source, limit=k)
    rest, _ = read_all(source, chunks[-1].state)
    assert_exactly(first + rest, source.expected())


def test_state_is_json(source: Source) -> None:
    import json

    _, chunks = read_all(source)
    for chunk in chunks:
        assert json.loads(json.dumps(chunk.state)) == chunk.state


def _yielded(chunks: list[Chunk]) -> int:
    return sum(c.batch.num_rows + len(c.rejects) for c in chunks)


def test_estimate_is_unknown_or_what_the_read_yields(source: Source) -> None:
    """``estimate_rows`` (progress bars): before the first read, from the final state and
    after an append. An exact source must say what the read then yields; any other must
    answer ``None`` or a non-negative number, and never raise."""
    checks: list[tuple[int | None, int]] = []
    first = estimate_rows(source.connector, source.stream, None)
    _, chunks = read_all(source)
    checks.append((first, _yielded(chunks)))
    final = chunks[-1].state
    checks.append((estimate_rows(source.connector, source.stream, final), 0))
    source.append(5)
    appended = estimate_rows(source.connector, source.stream, final)
    _, more = read_all(source, final)
    checks.append((appended, _yielded(more)))
    assert checks[2][1] == 5
    for estimate, got in checks:
        assert estimate is None or (isinstance(estimate, int) and estimate >= 0)
        if source.estimate_exact:
            assert estimate == got, f"estimated {estimate}, the read yielded {got}"
