"""``org_code_invalid``: a field declared ``identifier: org_code`` holds an invalid number."""

from __future__ import annotations

import pyarrow as pa

from hrss_hub.quality.rules.families import IdentifierRule
from hrss_hub.standard import identifiers as ids


class OrgCodeInvalid(IdentifierRule):
    """GB 11714 check failed."""

    id = "org_code_invalid"
    label_zh = "组织机构代码无效"
    label_en = "invalid organisation code"
    description = "GB 11714 check failed."
    declared_by = "field: `identifier: org_code`"
    order = 22
    expectation = "expect_column_values_to_be_valid_org_code"
    identifier = "org_code"

    def validate(self, values: pa.Array) -> pa.StructArray:
        """``standard.identifiers.validate_org_codes``."""
        return ids.validate_org_codes(values)
