"""``hrss-hub normalize KIND [VALUES...]``: validate and normalize identifiers or dates.

Values come from the arguments or, when there are none, from stdin (one per line, blank lines
skipped). Exit status: 0 when every value is valid, 1 when at least one is invalid (so the
command can gate a shell pipeline), 2 for usage errors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import click
import pyarrow as pa

from hrss_hub.errors import ConfigError
from hrss_hub.standard.identifiers import validate_citizen_ids, validate_org_codes, validate_usccs
from hrss_hub.standard.normalize import parse_dates

KINDS = ("citizen-id", "uscc", "org-code", "date")


def _load_divisions(path: Path) -> set[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read division list: {exc.strerror}", {"file": str(path)}
        ) from exc
    return {line.strip() for line in text.splitlines() if line.strip()}


def _date_rows(values: pa.Array, excel: bool) -> list[dict[str, Any]]:
    result = parse_dates(values, excel=excel)
    rows = []
    for parsed, bad in zip(result.values.to_pylist(), result.invalid.to_pylist(), strict=True):
        rows.append(
            {
                "normalized": parsed.isoformat() if parsed else None,
                "valid": not bad,
                "reason": "unparseable" if bad else None,
            }
        )
    return rows


def validate_values(
    kind: str,
    values: Sequence[str],
    *,
    known_divisions: set[str] | None = None,
    excel: bool = False,
) -> list[dict[str, Any]]:
    """Validate ``values`` as ``kind``; one JSON-ready dict per value with the keys
    ``input, valid, normalized, reason`` and then the kind's derived fields."""
    arr = pa.array(list(values), type=pa.string())
    validators: dict[str, Callable[[], pa.StructArray]] = {
        "citizen-id": lambda: validate_citizen_ids(arr, known_divisions=known_divisions),
        "uscc": lambda: validate_usccs(arr),
        "org-code": lambda: validate_org_codes(arr),
    }
    rows = _date_rows(arr, excel) if kind == "date" else validators[kind]().to_pylist()
    out = []
    for value, row in zip(values, rows, strict=True):
        record: dict[str, Any] = {"input": value}
        record.update((key, row[key]) for key in ("valid", "normalized", "reason"))
        for key, item in row.items():
            record[key] = item.isoformat() if isinstance(item, date) else item
        out.append(record)
    return out


def format_line(record: dict[str, Any]) -> str:
    """One human-readable line: mark, input, normalized value, reason, derived fields."""
    mark = "✓" if record["valid"] else "✗"
    text = f"{mark} {record['input']!r} → {record['normalized']}"
    if record["reason"]:
        text += f"  reason={record['reason']}"
    extras = [
        f"{key}={value}"
        for key, value in record.items()
        if key not in ("input", "valid", "normalized", "reason") and value is not None
    ]
    return text + ("  " + " ".join(extras) if extras else "")


@click.command("normalize")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("values", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of lines.")
@click.option("--excel", is_flag=True, help="date: also read Excel serial numbers (1900 system).")
@click.option(
    "--known-divisions",
    type=click.Path(path_type=Path, dir_okay=False),
    help="citizen-id: file of GB/T 2260 codes, one per line; unknown ones are flagged.",
)
@click.pass_context
def normalize(
    ctx: click.Context,
    kind: str,
    values: tuple[str, ...],
    as_json: bool,
    excel: bool,
    known_divisions: Path | None,
) -> None:
    """Validate and normalize KIND values (citizen-id, uscc, org-code, date).

    VALUES are read from stdin, one per line, when none are given. Exits 1 if any value is
    invalid, 0 otherwise.
    """
    items = list(values)
    if not items:
        items = [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    divisions = _load_divisions(known_divisions) if known_divisions else None
    records = validate_values(kind, items, known_divisions=divisions, excel=excel)
    if as_json:
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
    else:
        for record in records:
            click.echo(format_line(record))
    if not all(record["valid"] for record in records):
        ctx.exit(1)
