"""``uscc_invalid``: a field declared ``identifier: uscc`` holds an invalid number."""

from __future__ import annotations

import pyarrow as pa

from hrss_hub.quality.rules.families import IdentifierRule
from hrss_hub.standard import identifiers as ids


class UsccInvalid(IdentifierRule):
    """GB 32100 / GB 11714 check failed."""

    id = "uscc_invalid"
    label_zh = "统一社会信用代码无效"
    label_en = "invalid unified social credit code"
    description = "GB 32100 / GB 11714 check failed."
    declared_by = "field: `identifier: uscc`"
    order = 21
    expectation = "expect_column_values_to_be_valid_uscc"
    identifier = "uscc"

    def validate(self, values: pa.Array) -> pa.StructArray:
        """``standard.identifiers.validate_usccs``."""
        return ids.validate_usccs(values)
