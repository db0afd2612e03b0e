"""The quality threshold of a stream (``threshold:`` in hub.yaml and in connector streams).

``critical_fail_pct``: the stream fails when more than X % of its mapped rows fail a
*critical* rule; ``warn_fail_pct``: a warning when more than Y % are quarantined. hub.yaml's
``threshold`` is the default of every stream; a stream's own keys override it key by key.
(How a stream is judged against it: :mod:`hrss_hub.quality.thresholds`.)
"""

from __future__ import annotations

from typing import Any

from hrss_hub.config.model import FileModel, Percent


class Threshold(FileModel):
    """Percentages of a stream's mapped rows (0–100); unset keys do not apply."""

    critical_fail_pct: Percent | None = None
    warn_fail_pct: Percent | None = None

    def as_dict(self) -> dict[str, Any]:
        """The keys that are set (what ``StreamConfig.threshold`` holds)."""
        return self.model_dump(exclude_none=True)

    def over(self, default: Threshold) -> Threshold:
        """These values where set, ``default``'s elsewhere."""
        return Threshold.model_validate({**default.as_dict(), **self.as_dict()})
