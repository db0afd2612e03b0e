"""Abstract families of rules that share everything but a few class attributes."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import pyarrow as pa

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import ColumnParams, Rule, RuleContext, Verdict

if TYPE_CHECKING:
    from hrss_hub.standard.model import Entity, Field, Standard


class IdentifierRule(Rule[ColumnParams]):
    """A field declared ``identifier: <kind>`` holds a number the kind's validator rejects.

    Subclasses set the rule's id and labels and ``identifier`` (the kind), and implement
    :meth:`validate` with the kind's vectorized check of :mod:`hrss_hub.standard.identifiers`.
    """

    identifier: ClassVar[str]
    stage = "mapping"
    params_model = ColumnParams
    declarable = False

    def from_field(self, f: Field, entity: Entity, standard: Standard) -> ColumnParams | None:
        """Fields declared ``identifier: <kind>``."""
        return ColumnParams(column=f.name) if f.identifier == self.identifier else None

    @abstractmethod
    def validate(self, values: pa.Array) -> pa.StructArray:
        """The kind's vectorized validation (a struct with a ``valid`` field)."""

    def predicate(self, columns: Sequence[pa.Array], params: ColumnParams,
                  ctx: RuleContext) -> Verdict:
        """Values the kind's validator rejects."""
        (col,) = columns
        return Verdict(kernels.rejected_by(self.validate, col), col)
