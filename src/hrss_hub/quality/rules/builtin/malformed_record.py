"""``malformed_record``: the connector could not parse a raw record."""

from __future__ import annotations

from hrss_hub.quality.rules.base import RecordedRule


class MalformedRecord(RecordedRule):
    """Recorded by the connector (a bad CSV line, undecodable bytes, a JSON record that is not
    an object): the raw record is quarantined as it was read, with its location."""

    id = "malformed_record"
    label_zh = "记录无法解析"
    label_en = "malformed record"
    description = "The connector could not parse the raw record (bad CSV line, undecodable bytes)."
    default_severity = "critical"
    severities = ("critical",)
    stage = "source"
    declared_by = "connector: every record it reads"
    order = 0
