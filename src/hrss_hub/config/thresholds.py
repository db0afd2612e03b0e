"""The quality threshold of a stream (``threshold:`` in hub.yaml and in connector streams).

``critical_fail_pct``: the stream fails when more than X % of its mapped rows fail a
*critical* rule; ``quarantine_fail_pct``: the stream fails when more than Z % of its rows are
quarantined for any reason (default 90: a stream whose rows are all quarantined is a broken
mapping or source, not a success; 100 turns it off); ``warn_fail_pct``: a warning when more
than Y % are quarantined. hub.yaml's ``threshold`` is the default of every stream; a
stream's own keys override it key by key, and a key set nowhere takes the model's default.
(How a stream is judged against it: :mod:`hrss_hub.quality.thresholds`.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from hrss_hub.config.model import FileModel, Percent

#: ``quarantine_fail_pct`` when neither the stream nor hub.yaml sets it
DEFAULT_QUARANTINE_FAIL_PCT = 90.0


class Threshold(FileModel):
    """Percentages of a stream's mapped rows (0–100); unset ``None`` keys do not apply."""

    critical_fail_pct: Percent | None = None  # more than this % fail a critical rule: fail
    """The stream fails when more than this % of its rows fail a critical rule; unset: off."""
    quarantine_fail_pct: Percent = DEFAULT_QUARANTINE_FAIL_PCT  # more % quarantined: fail
    """The stream fails when more than this % of its rows are quarantined for any reason (100:
    off).
    """
    warn_fail_pct: Percent | None = None  # more than this % quarantined: a warning
    """A warning when more than this % of its rows are quarantined; unset: off."""

    def as_dict(self) -> dict[str, Any]:
        """The keys that are written (what ``StreamConfig.threshold`` holds): a default is
        left out so that hub.yaml's value, where set, still reaches the stream."""
        return self.model_dump(exclude_unset=True, exclude_none=True)

    def over(self, default: Threshold) -> Threshold:
        """These values where set, ``default``'s elsewhere."""
        return Threshold.model_validate({**default.as_dict(), **self.as_dict()})


def parse_threshold(raw: Threshold | Mapping[str, Any] | None, *, where: str = "threshold",
                    file: str = "") -> Threshold:
    """A threshold given as data (``StreamConfig.threshold``); problems name ``where``.

    Thresholds in files are validated when the file is loaded; this is for the dict a
    stream carries (already valid then) and for thresholds built in code.
    """
    if isinstance(raw, Threshold):
        return raw
    if raw is not None and not isinstance(raw, Mapping):
        from hrss_hub.config.problems import ConfigProblems, Problem

        raise ConfigProblems.of(Problem(file, None, where, "threshold must be a mapping",
                                        "e.g. threshold: {critical_fail_pct: 5}"))
    try:
        return Threshold.model_validate(dict(raw or {}))
    except ValidationError as exc:
        from pathlib import Path

        from hrss_hub.config.problems import ConfigProblems
        from hrss_hub.config.validation import problems_from
        from hrss_hub.config.yamldoc import YamlDoc

        doc = YamlDoc(file=Path(file), data=dict(raw or {}))
        raise ConfigProblems.collect(problems_from(exc, Threshold, doc, prefix=where)) from None
