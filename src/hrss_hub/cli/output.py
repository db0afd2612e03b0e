"""What every command shares about its output: ``--json`` and ``--quiet``.

``--json`` prints one JSON document on stdout — the command's result, in the shape
docs/cli.md gives for that command — and nothing else there (progress and warnings go to
stderr). ``--quiet`` prints only errors and the final line. An error under ``--json`` is
still a JSON document: ``{"error": …, "hint": …, "exit_code": …}`` (see
:func:`error_document`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

JSON_HELP = "Print the result as one JSON document on stdout (shape: docs/cli.md)."
QUIET_HELP = "Print only errors and the final line."


def json_option(func: F) -> F:
    """The ``--json`` flag, passed to the command as ``as_json``."""
    return click.option("--json", "as_json", is_flag=True, help=JSON_HELP)(func)


def quiet_option(func: F) -> F:
    """The ``--quiet`` / ``-q`` flag, passed to the command as ``quiet``."""
    return click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)(func)


def emit_json(data: Any) -> None:
    """Print ``data`` as the command's JSON document (UTF-8 text, not ``\\u`` escapes)."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def error_document(message: str, exit_code: int, hint: str | None = None,
                   problems: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON document of a command that failed before it had a result."""
    doc: dict[str, Any] = {"error": message, "hint": hint, "exit_code": exit_code}
    if problems:
        doc["problems"] = problems
    return doc
