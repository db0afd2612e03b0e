"""``duplicate_key``: the entity key occurs more than once in one run of a stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import pyarrow as pa
from pydantic import Field as Param

from hrss_hub import keys
from hrss_hub.quality.rules.base import FieldRef, Rule, RuleContext, RuleParams, Verdict

if TYPE_CHECKING:
    from hrss_hub.standard.model import Entity, Standard


class KeyParams(RuleParams):
    """The fields of the key, in order."""

    columns: Annotated[tuple[str, ...], FieldRef()] = Param(min_length=1)


class DuplicateKey(Rule[KeyParams]):
    """Judged last, among the rows that passed every quarantining rule (``__candidate__``):
    the first occurrence is kept, every later one fails. With key memory (the row gate) "later"
    spans the batches of a stream's run; without it, the rows of one call."""

    id = "duplicate_key"
    label_zh = "主键重复"
    label_en = "duplicate key"
    description = "The entity key occurs more than once in one run of a stream (first kept)."
    default_severity = "critical"
    stage = "key"
    declared_by = "entity: `key: [...]`"
    order = 200
    params_model = KeyParams
    expectation = "expect_compound_columns_to_be_unique_first_kept"
    single_column_expectation = "expect_column_values_to_be_unique_first_kept"
    reported = "columns"
    declarable = False
    candidates_only = True
    entity_attribute = "key"

    def from_entity(self, entity: Entity, standard: Standard) -> KeyParams | None:
        """Every entity has a key."""
        return KeyParams(columns=entity.key)

    def predicate(self, columns: Sequence[pa.Array], params: KeyParams,
                  ctx: RuleContext) -> Verdict:
        """Every occurrence of a key after its first (keys in the hub's one encoding)."""
        key = keys.encode_columns(list(columns))
        # 64-bit hashes in sorted runs (quality.keyset): 8 bytes per key and no Python
        # step per row; an exact set of str cost ~100 MiB per million keys
        seen = ctx.memory((self.id, *params.columns))
        return Verdict(pa.array(seen.add(keys.hash64(key))), key)
