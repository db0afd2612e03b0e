"""Small parts of the protocol layer: predicate pruning, capabilities, page tokens."""

from __future__ import annotations

import json

import pytest

from hrss_hub.share.predicates import may_match, parse_hint
from hrss_hub.share.protocol import Capabilities, PageTokens, ProtocolError, page
from hrss_hub.share.tables import TableMetadata

PARTS = ["division", "year"]


def col(name: str, t: str = "string") -> dict[str, str]:
    return {"op": "column", "name": name, "valueType": t}


def lit(value: str, t: str = "string") -> dict[str, str]:
    return {"op": "literal", "value": value, "valueType": t}


@pytest.mark.parametrize(("predicate", "values", "expected"), [
    ({"op": "equal", "children": [col("division"), lit("510107")]},
     {"division": "510107"}, True),
    ({"op": "equal", "children": [col("division"), lit("510107")]},
     {"division": "510104"}, False),
    # a non-partition column cannot be decided from the file: keep it
    ({"op": "equal", "children": [col("gender"), lit("1")]}, {"division": "510104"}, True),
    ({"op": "and", "children": [{"op": "equal", "children": [col("division"), lit("510107")]},
                                {"op": "equal", "children": [col("gender"), lit("1")]}]},
     {"division": "510104"}, False),
    ({"op": "or", "children": [{"op": "equal", "children": [col("division"), lit("510107")]},
                               {"op": "equal", "children": [col("gender"), lit("1")]}]},
     {"division": "510104"}, True),
    ({"op": "not", "children": [{"op": "isNull", "children": [col("division")]}]},
     {"division": ""}, False),
    ({"op": "greaterThanOrEqual", "children": [col("year", "int"), lit("2024", "int")]},
     {"division": "510107", "year": "2023"}, False),
    ({"op": "lessThan", "children": [col("year", "int"), lit("2024", "int")]},
     {"year": None}, False),
    ({"op": "frobnicate", "children": []}, {"division": "510107"}, True),
    ({"op": "equal", "children": [col("year", "date"), lit("not a date", "date")]},
     {"year": "2020-01-01"}, True),
])
def test_json_predicates_prune_only_what_cannot_match(
        predicate: dict[str, object], values: dict[str, str | None], expected: bool) -> None:
    assert may_match(parse_hint(json.dumps(predicate)), values, PARTS) is expected


def test_unparseable_hints_are_ignored() -> None:
    assert parse_hint("{nope") is None and parse_hint(None) is None
    assert may_match(None, {"division": "x"}, PARTS)


def _meta(reader: int = 1) -> TableMetadata:
    return TableMetadata("id", None, None, '{"type":"struct","fields":[]}', (), {}, None,
                         reader, 2)


def test_response_format_follows_the_capabilities_header() -> None:
    assert Capabilities.parse(None).response_format(_meta()) == "parquet"
    assert Capabilities.parse("responseformat=delta,parquet").response_format(_meta()) == \
        "parquet"
    assert Capabilities.parse("responseformat=delta").response_format(_meta()) == "delta"
    # a table with reader features parquet cannot express: delta when allowed, else 400
    assert Capabilities.parse("responseformat=delta,parquet").response_format(_meta(3)) == \
        "delta"
    with pytest.raises(ProtocolError) as err:
        Capabilities.parse("responseformat=parquet").response_format(_meta(3))
    assert err.value.status == 400 and err.value.error_code == "UNSUPPORTED_OPERATION"


def test_page_tokens_are_signed_and_bound() -> None:
    tokens = PageTokens(b"k" * 32)
    items = [{"name": str(i)} for i in range(5)]
    first = page(items, listing="a", tokens=tokens, max_results="2", page_token=None)
    assert [i["name"] for i in first["items"]] == ["0", "1"]
    second = page(items, listing="a", tokens=tokens, max_results="2",
                  page_token=first["nextPageToken"])
    third = page(items, listing="a", tokens=tokens, max_results="2",
                 page_token=second["nextPageToken"])
    assert [i["name"] for i in third["items"]] == ["4"] and "nextPageToken" not in third
    for bad, listing in ((first["nextPageToken"], "b"), ("x" + first["nextPageToken"], "a"),
                         (PageTokens(b"o" * 32).encode("a", 2), "a")):
        with pytest.raises(ProtocolError):
            page(items, listing=listing, tokens=tokens, max_results="2", page_token=bad)
