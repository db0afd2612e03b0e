"""``citizen_id_invalid``: a field declared ``identifier: citizen_id`` holds an invalid number."""

from __future__ import annotations

import pyarrow as pa

from hrss_hub.quality.rules.families import IdentifierRule
from hrss_hub.standard import identifiers as ids


class CitizenIdInvalid(IdentifierRule):
    """GB 11643 check failed (length, characters, checksum, birth date or address)."""

    id = "citizen_id_invalid"
    label_zh = "公民身份号码无效"
    label_en = "invalid citizen ID number"
    description = "GB 11643 check failed (length, characters, checksum, birth date or address)."
    declared_by = "field: `identifier: citizen_id`"
    order = 20
    expectation = "expect_column_values_to_be_valid_citizen_id"
    identifier = "citizen_id"

    def validate(self, values: pa.Array) -> pa.StructArray:
        """``standard.identifiers.validate_citizen_ids``."""
        return ids.validate_citizen_ids(values)
