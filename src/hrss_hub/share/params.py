"""Reading the parameters of protocol requests: query bodies, versions, timestamps,
change-feed ranges and the ``fileidhash`` header; a malformed one is a 400 naming it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from hrss_hub.share import protocol as p
from hrss_hub.share.tables import DeltaTableReader, parse_timestamp


def file_id_hash(request: Request) -> dict[str, str]:
    """The ``fileidhash`` header to echo (``parquet`` or ``delta``); another value: 400."""
    value = request.headers.get("fileidhash")
    if value is None:
        return {}
    if value.strip().lower() not in (p.PARQUET, p.DELTA):
        raise p.bad_request(f"fileidhash {value!r} is not supported (parquet, delta)")
    return {"fileidhash": value.strip().lower()}


def query_body(data: bytes) -> dict[str, Any]:
    """The JSON body of a query, its fields type-checked and exclusive ones enforced."""
    if not data.strip():
        return {}
    try:
        body = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise p.bad_request("the request body is not JSON", "MALFORMED_REQUEST") from None
    if not isinstance(body, dict):
        raise p.bad_request("the request body must be a JSON object", "MALFORMED_REQUEST")
    for key in ("limitHint", "version", "startingVersion", "endingVersion"):
        value = body.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 0):
            raise p.bad_request(f"{key} must be a non-negative integer, got {value!r}")
    for key in ("timestamp", "jsonPredicateHints"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise p.bad_request(f"{key} must be a string")
    hints = body.get("predicateHints")
    if hints is not None and (not isinstance(hints, list)
                              or not all(isinstance(h, str) for h in hints)):
        raise p.bad_request("predicateHints must be a list of strings")
    given = [k for k in ("version", "timestamp", "startingVersion") if body.get(k) is not None]
    if len(given) > 1:
        raise p.bad_request(f"{' and '.join(given)} are mutually exclusive")
    if body.get("endingVersion") is not None and body.get("startingVersion") is None:
        raise p.bad_request("endingVersion needs startingVersion")
    return body


def requested_version(reader: DeltaTableReader, version: Any, timestamp: Any) -> int | None:
    """The version a request names (by number or by timestamp), or ``None``: the latest."""
    if version not in (None, "") and timestamp not in (None, ""):
        raise p.bad_request("version and timestamp are mutually exclusive")
    if version not in (None, ""):
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise p.bad_request(f"version must be an integer, got {version!r}") from None
        if number < 0:
            raise p.bad_request(f"version must be non-negative, got {number}")
        return number
    if timestamp not in (None, ""):
        return reader.version_at_or_before(parse_timestamp(str(timestamp), "timestamp"))
    return None


def int_param(value: str | None, name: str) -> int | None:
    """A non-negative integer query parameter, or ``None`` when absent."""
    if value in (None, ""):
        return None
    assert value is not None
    try:
        number = int(value)
    except ValueError:
        raise p.bad_request(f"{name} must be an integer, got {value!r}") from None
    if number < 0:
        raise p.bad_request(f"{name} must be non-negative, got {number}")
    return number


def change_range(reader: DeltaTableReader, q: Mapping[str, str]) -> tuple[int, int]:
    """The inclusive version range of a change-feed request (versions or timestamps)."""
    start_v = int_param(q.get("startingVersion"), "startingVersion")
    end_v = int_param(q.get("endingVersion"), "endingVersion")
    start_ts, end_ts = q.get("startingTimestamp"), q.get("endingTimestamp")
    if start_v is not None and start_ts:
        raise p.bad_request("startingVersion and startingTimestamp are mutually exclusive")
    if end_v is not None and end_ts:
        raise p.bad_request("endingVersion and endingTimestamp are mutually exclusive")
    if start_v is None and not start_ts:
        raise p.bad_request("the change data feed needs startingVersion or startingTimestamp")
    latest = reader.latest_version()
    start = start_v if start_v is not None else reader.version_at_or_after(
        parse_timestamp(str(start_ts), "startingTimestamp"))
    end = end_v if end_v is not None else (reader.version_at_or_before(
        parse_timestamp(str(end_ts), "endingTimestamp")) if end_ts else latest)
    if start > latest:
        raise p.bad_request(f"startingVersion {start} is after the latest version {latest}")
    if end < start:
        raise p.bad_request(f"the ending version {end} is before the starting version {start}")
    return start, min(end, latest)
