"""One error hierarchy for the whole hub.

Every error carries the context a person needs to act on it: *where* (system, stream,
file, line, path inside a YAML document, URL without secrets) and *what* (the problem
and, when we know one, a suggestion). The CLI prints ``str(error)`` and exits non-zero;
it never shows a traceback for a ``HubError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

_SECRET_PATTERNS = [
    # user:password@host in URLs
    (re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@"),
     r"\g<scheme>\g<user>:***@"),
    # token=..., password=..., api_key=... in query strings or messages
    (re.compile(r"(?i)\b(password|passwd|pwd|token|access_token|api[_-]?key|secret|apikey)=([^&\s'\"]+)"),
     r"\1=***"),
    # Authorization headers
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|basic|token)\s+[^\s'\",}]+"),
     r"\1\2 ***"),
]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove secrets from ``text``: URL passwords, ``token=`` parameters, auth headers,
    and every literal in ``secrets`` (values we know are secret, e.g. resolved env vars)."""
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


@dataclass
class HubError(Exception):
    """Root of every error the hub raises on purpose.

    ``message`` says what went wrong; ``context`` says where (ordered, e.g.
    ``{"system": "si_core", "stream": "AC01", "file": "x.csv", "line": 12}``);
    ``hint`` says what to do about it.
    """

    message: str
    context: Mapping[str, Any] = field(default_factory=dict)
    hint: str | None = None

    #: whether running the same step again may succeed (a source that was down, a locked
    #: ledger); ``False``: a person must change something first (config, data, suite).
    #: Orchestrators retry only retriable errors (see :func:`is_retriable`).
    retriable: ClassVar[bool] = False

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.context.items() if v is not None)
        text = f"{self.message}" + (f" [{where}]" if where else "")
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return redact(text)

    def __hash__(self) -> int:  # dataclass(eq=True) would make exceptions unhashable
        return id(self)


class Retriable:
    """Mixin: an error a retry of the same step may fix."""

    retriable: ClassVar[bool] = True


class Fatal:
    """Mixin: an error no retry can fix; the runner fails the step at once."""

    retriable: ClassVar[bool] = False


def is_retriable(exc: BaseException) -> bool:
    """Whether an orchestrator should retry the step that raised ``exc``.

    A :class:`HubError` says so itself; any other exception (a bug, a broken pipe to a
    dead supervisor, a full disk) is treated as transient: a retry is cheap and safe
    because a stream commits its state only after its rows are staged.
    """
    return bool(getattr(exc, "retriable", True)) if isinstance(exc, HubError) else True


def with_step(exc: HubError, **where: Any) -> HubError:
    """Add the step context (``step``, ``system``, ``stream``, ``run_id``) to ``exc``'s
    context, keeping what the raiser already said; returns ``exc`` for ``raise``."""
    merged = dict(exc.context)
    for key, value in where.items():
        if value is not None:
            merged.setdefault(key, value)
    exc.context = merged
    return exc


class ConfigError(Fatal, HubError):
    """A configuration file (hub.yaml, connectors/*.yaml, sharing/*.yaml, the standard) is wrong."""


class StandardError(ConfigError):
    """The unified data standard files are invalid."""


class SourceError(Retriable, HubError):
    """A source system could not be read (by default transient: a retry may succeed)."""


class RetriableSourceError(SourceError):
    """A transient source failure: retrying may succeed (5xx, timeouts, resets, 429)."""


class FatalSourceError(Fatal, SourceError):
    """A source failure that retrying will not fix (auth, 4xx, broken schema)."""


class SchemaDriftError(Fatal, SourceError):
    """The discovered schema differs from the last run's and the stream's policy is ``fail``."""


class MappingError(Fatal, HubError):
    """A mapping could not be compiled or evaluated."""


class QualityError(Fatal, HubError):
    """Validation failed beyond a stream's threshold, or a suite is broken."""


class QueryError(Fatal, HubError):
    """A DuckDB query of the person master, the record linkage or a supervision check
    failed (out of its ``duckdb.memory_limit``, a broken check): a person must act."""


class PublishError(Retriable, HubError):
    """Publishing or delivering a dataset version failed."""


class LedgerError(Retriable, HubError):
    """The ledger database could not be reached or migrated."""


class RunLockedError(Retriable, HubError):
    """Another run holds the workspace's run lock (or a part of it)."""


class RunLockLostError(Fatal, HubError):
    """A run's lock was taken over (its lease expired): the run must stop, not commit."""


def unknown_choice(kind: str, value: str, valid: Iterable[str], **context: Any) -> ConfigError:
    """Error for an unknown name, listing the valid ones (and the closest, if any)."""
    import difflib

    options = sorted(valid)
    close = difflib.get_close_matches(value, options, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    hint += "valid: " + ", ".join(options)
    return ConfigError(f"unknown {kind} {value!r}", context, hint)
