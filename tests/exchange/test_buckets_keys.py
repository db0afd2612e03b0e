"""Bucketing large publishes by key hash works for every key type the standard uses."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa

from hrss_hub.exchange.buckets import key_hash


def test_key_hash_of_date_timestamp_and_string_keys() -> None:
    """A date in the key (insurance_enrollment, employment) failed: no date32 → int64 cast."""
    table = pa.table({
        "citizen_id": ["a", "a", "b", None],
        "start_date": pa.array([date(2020, 1, 1), date(2020, 1, 2), date(2020, 1, 1), None]),
        "at": pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * 3 + [None],
                       pa.timestamp("us", tz="UTC")),
    })
    h = key_hash(table, ["citizen_id", "start_date", "at"])
    assert len(set(h.tolist())) == 4
    again = key_hash(table.take([2, 0, 1, 3]), ["citizen_id", "start_date", "at"])
    assert again.tolist() == [h[2], h[0], h[1], h[3]]
