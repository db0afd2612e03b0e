"""Evaluating a rule on a validation frame, with Great Expectations' semantics.

A rule's predicate sees only the rows it judges: a rule that does not judge nulls never
sees a null input (GX column-map expectations skip nulls; multi-column ones use
``ignore_row_if: any_value_is_missing``), and a rule judged among candidates only sees the
rows whose ``__candidate__`` is true (the generated ``row_condition``). The row gate and
:func:`unexpected_mask` call :func:`evaluate`; the GX custom expectations (:mod:`.gx`) call
the same predicates on the rows GX selects the same way — so the gate and GX count alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules import Rule, RuleContext, RuleParams, Verdict, registry
from hrss_hub.quality.rules.kernels import single, text
from hrss_hub.quality.suites import CANDIDATE_COLUMN, ExpectationSpec


def considered(rule: Rule[Any], params: RuleParams, frame: pa.Table, *,
               candidates_only: bool) -> tuple[pa.Array, list[pa.Array]]:
    """``(frame row indices, their columns)`` of the rows ``rule`` judges."""
    n = frame.num_rows
    cols = [text(frame[c]) for c in rule.columns(params)]
    keep = pa.array(np.ones(n, dtype=bool))
    if candidates_only:
        keep = pc.fill_null(_column(frame[CANDIDATE_COLUMN]), False)
    if not rule.judges_nulls:
        for c in cols:
            keep = pc.and_(keep, pc.is_valid(c))
    idx = pc.indices_nonzero(keep)
    if len(idx) == n:
        return idx, cols
    return idx, [pc.take(c, idx) for c in cols]


def evaluate(rule: Rule[Any], params: RuleParams, frame: pa.Table, ctx: RuleContext, *,
             candidates_only: bool = False) -> Verdict:
    """The rule's verdict on every frame row (rows it does not judge do not fail).

    ``offending`` is aligned with the frame: the predicate's value where a row was judged,
    null elsewhere.
    """
    n = frame.num_rows
    idx, cols = considered(rule, params, frame, candidates_only=candidates_only)
    if not len(idx):
        return Verdict(pa.array(np.zeros(n, dtype=bool)), pa.nulls(n, pa.string()))
    sub = rule.predicate(cols, params, ctx)
    flagged = np.asarray(pc.fill_null(sub.mask, False).to_numpy(zero_copy_only=False),
                         dtype=bool)
    if len(idx) == n:
        return Verdict(pa.array(flagged), text(sub.offending))
    mask = np.zeros(n, dtype=bool)
    rows = idx.to_numpy()
    mask[rows] = flagged
    position = np.full(n, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows), dtype=np.int64)
    where = pa.array(position, mask=position < 0)
    return Verdict(pa.array(mask), pc.take(text(sub.offending), where))


def unexpected_mask(spec: ExpectationSpec, frame: pa.Table, ctx: RuleContext) -> pa.Array:
    """True where the frame's row is unexpected for ``spec`` (see the module docstring)."""
    rule = registry().get(spec.rule)
    assert isinstance(rule, Rule), f"{spec.rule} has no predicate"
    return evaluate(rule, spec.params, frame, ctx, candidates_only=spec.candidates_only).mask


def _column(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return single(arr)
