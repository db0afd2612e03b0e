"""Per-stream quality thresholds (connector YAML ``threshold:``).

```yaml
streams:
  - name: AC01
    threshold: {critical_fail_pct: 5, warn_fail_pct: 1}
```

``critical_fail_pct``: the stream fails when more than X % of its mapped rows fail a
*critical* rule (the rules with a ``critical`` expectation in the entity's suites: key
fields' required/identifier checks and ``duplicate_key`` in the generated suites).
``quarantine_fail_pct`` (default 90): the stream fails when more than Z % of its rows are
quarantined for any reason — all rows quarantined means a broken mapping or source, and
must not exit 0. ``100`` turns it off.
``warn_fail_pct``: a warning when more than Y % of its mapped rows are quarantined.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hrss_hub.config.thresholds import Threshold, parse_threshold
from hrss_hub.errors import QualityError

#: the keys of a threshold (the model: :class:`hrss_hub.config.thresholds.Threshold`)
KEYS = tuple(Threshold.model_fields)


class QualityThresholdError(QualityError):
    """A stream failed more rows on critical rules than its threshold allows."""


@dataclass(frozen=True)
class Verdict:
    """Outcome of a threshold check: ``fail`` or ``warn`` with a readable message."""

    level: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


def check(threshold: Threshold | Mapping[str, Any] | None, summary: Any,
          critical: set[str] | frozenset[str]) -> Verdict | None:
    """Judge one stream's summary (``StreamSummary``) against its threshold.

    ``critical``: rule ids whose failures count toward ``critical_fail_pct`` (see
    :func:`critical_rules`). A row failing two critical rules counts twice, capped at the
    quarantined rows — the stream summary keeps counts per rule, not per row.
    """
    parsed = parse_threshold(threshold, where=f"{summary.system}.{summary.stream}.threshold")
    rows = max(int(summary.read) - int(summary.filtered), 0)
    if rows == 0:
        return None
    by_rule: Mapping[str, int] = summary.quarantined_by_rule or {}
    crit_rows = min(sum(n for r, n in by_rule.items() if r in critical), summary.quarantined)
    crit_pct = 100.0 * crit_rows / rows
    any_pct = 100.0 * summary.quarantined / rows
    limit = parsed.critical_fail_pct
    where = f"{summary.system}.{summary.stream}"
    if limit is not None and crit_pct > limit:
        return Verdict("fail", f"{where}: {crit_pct:.2f}% of {rows} rows fail a critical rule "
                               f"(limit {limit:g}%)")
    if any_pct > parsed.quarantine_fail_pct:
        return Verdict("fail", f"{where}: {any_pct:.2f}% of {rows} rows quarantined "
                               f"(limit {parsed.quarantine_fail_pct:g}%, "
                               "threshold.quarantine_fail_pct)")
    warn = parsed.warn_fail_pct
    if warn is not None and any_pct > warn:
        return Verdict("warn", f"{where}: {any_pct:.2f}% of {rows} rows quarantined "
                               f"(warning above {warn:g}%)")
    return None


def critical_rules(cfg: Any, standard: Any, entity: str) -> frozenset[str]:
    """The critical rule ids of ``entity`` per the workspace's (or bundled) suites."""
    from hrss_hub.quality.suites import critical_rules as from_suites
    from hrss_hub.quality.suites import default_dir, load_suites

    suites = load_suites(default_dir(getattr(cfg, "expectations_dir", None)), standard)
    return frozenset(from_suites(suites, entity) | {"malformed_record"})


def enforce(threshold: Threshold | Mapping[str, Any] | None, summary: Any,
            critical: set[str] | frozenset[str]) -> str | None:
    """:func:`check`, raising :class:`QualityThresholdError` on ``fail``; returns the
    warning message (or None) otherwise."""
    verdict = check(threshold, summary, critical)
    if verdict is None:
        return None
    if verdict.level == "fail":
        raise QualityThresholdError(verdict.message,
                                    {"system": summary.system, "stream": summary.stream},
                                    "fix the source records (see the quarantine file and "
                                    "`hrss-hub report`), or raise the stream's "
                                    "threshold (critical_fail_pct / quarantine_fail_pct)")
    return verdict.message
