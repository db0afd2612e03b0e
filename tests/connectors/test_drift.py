"""Schema drift: snapshot JSON, fingerprints, comparison and the fail/evolve/ignore policies."""

from __future__ import annotations

import pyarrow as pa
import pytest

from hrss_hub.connectors.drift import apply_policy, compare, fingerprint, schema_to_json
from hrss_hub.errors import SchemaDriftError

OLD = pa.schema([("AAC001", pa.int64()), ("AAC003", pa.string()), ("AAE180", pa.float64())])
NEW = pa.schema([("AAC001", pa.int64()), ("AAE180", pa.decimal128(12, 2)),
                 ("AAC004", pa.string())])


def test_roundtrip_and_fingerprint_is_stable() -> None:
    snap = schema_to_json(OLD)
    assert compare(snap, OLD).is_empty
    assert fingerprint(OLD) == fingerprint(pa.schema(list(OLD)))
    assert fingerprint(OLD) != fingerprint(NEW)


def test_compare_lists_every_change() -> None:
    drift = compare(schema_to_json(OLD), NEW)
    assert drift.added == ["AAC004"] and drift.removed == ["AAC003"]
    assert drift.type_changed == {"AAE180": ("double", "decimal128(12, 2)")}
    text = drift.describe()
    assert "added column 'AAC004'" in text and "removed column 'AAC003'" in text


def test_first_run_is_not_drift() -> None:
    drift = compare(None, NEW)
    assert drift.is_empty and drift.first_seen
    assert apply_policy(drift, "fail", "si", "AC01")["changed"] is False


def test_fail_policy_raises_with_hint() -> None:
    with pytest.raises(SchemaDriftError) as info:
        apply_policy(compare(schema_to_json(OLD), NEW), "fail", "si_core", "AC01")
    message = str(info.value)
    assert "AAC004" in message and "system=si_core" in message and "drift: evolve" in message


@pytest.mark.parametrize("policy", ["evolve", "ignore"])
def test_evolve_and_ignore_report(policy: str) -> None:
    report = apply_policy(compare(schema_to_json(OLD), NEW), policy, "si", "AC01")
    assert report["changed"] and report["policy"] == policy and report["added"] == ["AAC004"]
