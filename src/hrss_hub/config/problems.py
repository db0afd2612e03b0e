"""Problems of configuration files, reported together as one :class:`ConfigProblems` error.

A person fixing a YAML file wants every mistake of it at once, each with the file, the line,
the YAML path (``streams[1].cursor``), what is wrong and what would be right (valid values,
a did-you-mean), rather than one mistake per attempt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hrss_hub.errors import ConfigError, redact, unknown_choice


@dataclass(frozen=True)
class Problem:
    """One mistake in one configuration file."""

    file: str
    line: int | None
    path: str
    message: str
    hint: str | None = None
    system: str | None = None

    def __str__(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in (
            ("system", self.system), ("file", self.file), ("line", self.line),
            ("path", self.path or None)) if v is not None)
        text = self.message + (f" [{where}]" if where else "")
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


@dataclass
class ConfigProblems(ConfigError):
    """Every problem found in one or more configuration files (exit 2 in the CLI).

    ``str()`` lists them all, one per line with file, line and YAML path; ``problems`` keeps
    them as data (tests, ``--json`` output).
    """

    problems: tuple[Problem, ...] = ()

    @classmethod
    def of(cls, *problems: Problem) -> ConfigProblems:
        """An error holding ``problems`` (at least one)."""
        return cls.collect(problems)

    @classmethod
    def collect(cls, problems: Iterable[Problem]) -> ConfigProblems:
        """An error holding every problem of ``problems`` (at least one)."""
        items = tuple(problems)
        assert items, "ConfigProblems needs at least one problem"
        files = sorted({p.file for p in items})
        if len(items) == 1:
            p = items[0]
            context = {"system": p.system, "file": p.file, "line": p.line,
                       "path": p.path or None}
            return cls(p.message, context, p.hint, problems=items)
        where = files[0] if len(files) == 1 else f"{len(files)} files"
        return cls(f"{len(items)} problems in {where}", {}, None, problems=items)

    def __str__(self) -> str:
        if len(self.problems) <= 1:
            return super().__str__()
        lines = [self.message + ":"]
        for p in self.problems:
            lines.append("  - " + str(p).replace("\n", "\n    "))
        return redact("\n".join(lines))

    __hash__ = ConfigError.__hash__


def did_you_mean(value: str, valid: Iterable[str]) -> str:
    """``did you mean 'x'? valid: a, b, x`` (the first part only when something is close):
    the hint of :func:`hrss_hub.errors.unknown_choice`, the one place that words it."""
    return unknown_choice("value", str(value), sorted({str(v) for v in valid})).hint or ""


def problems_of(errors: Sequence[BaseException]) -> list[Problem]:
    """Problems carried by ``errors`` (a plain ``ConfigError`` becomes one problem)."""
    out: list[Problem] = []
    for exc in errors:
        if isinstance(exc, ConfigProblems):
            out.extend(exc.problems)
        elif isinstance(exc, ConfigError):
            ctx = dict(exc.context)
            line = ctx.get("line")
            out.append(Problem(str(ctx.get("file") or ""), line if isinstance(line, int) else None,
                               str(ctx.get("path") or ""), exc.message, exc.hint,
                               None if ctx.get("system") is None else str(ctx["system"])))
    return out
