"""``code_unmapped``: a ``map:`` lacks a source value and says ``fallback: quarantine``."""

from __future__ import annotations

from hrss_hub.quality.rules.base import RecordedRule


class CodeUnmapped(RecordedRule):
    """Recorded by the mapping (``mapping.compile``); expectations of ``code_unknown`` on the
    field count these rows too, since an unmapped value is not a code of the list either."""

    id = "code_unmapped"
    label_zh = "代码未映射"
    label_en = "value without code mapping"
    description = "A source value has no entry in the field's map: and the fallback is quarantine."
    stage = "mapping"
    declared_by = "mapping: `map:` with `fallback: quarantine`"
    order = 31
