"""Great Expectations 1.x: the hub's custom expectations, validation runs and Data Docs.

Importing Great Expectations takes seconds and logs a burst of info lines, so it happens
here only, lazily (:func:`import_gx`), never at ``hrss_hub`` import time. The custom
expectation classes are pandas implementations that convert the (non-null) column to
Arrow and call :mod:`hrss_hub.quality.checks` — the same functions the hub uses, which in
turn reuse the standard's vectorized validators. Validation uses ``result_format=SUMMARY``:
counts, never per-row failure lists (those cost ~34x, see reference/performance-reliability).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from hrss_hub.quality import checks
from hrss_hub.quality.suites import KNOWN_TYPES, Suite

_GX: Any = None
_CONTEXT: checks.CheckContext | None = None

# kwargs (beyond column / column_list) of each custom expectation, with pydantic types
_EXTRA_KWARGS: dict[str, dict[str, Any]] = {
    "expect_column_values_to_be_canonical_number": {"number_type": str},
    "expect_column_values_to_be_in_code_list": {"code_list": str,
                                                 "code_list_version": str | None},
    "expect_column_values_to_be_number_between": {"min_value": float | None,
                                                  "max_value": float | None},
    "expect_column_values_to_exist_in_entity": {"entity": str, "entity_field": str},
}
#: built into GX; everything else in suites.KNOWN_TYPES is a hub custom expectation
BUILTIN = frozenset({"expect_column_values_to_not_be_null", "expect_column_values_to_match_regex",
                     "expect_column_value_lengths_to_be_between"})


def _quiet_logging() -> None:
    # GX logs "Skipping registering function …" at INFO for dozens of functions on import,
    # and analytics/usage-statistics must never phone home from a government network
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in ("great_expectations", "great_expectations._docs_decorators"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        import structlog

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    except ImportError:  # pragma: no cover - structlog is optional
        pass


def import_gx() -> Any:
    """Import Great Expectations once (quietly) and register the hub's expectations."""
    global _GX
    if _GX is None:
        _quiet_logging()
        import great_expectations as gx

        _register(gx)
        _GX = gx
    return _GX


def set_context(ctx: checks.CheckContext) -> None:
    """The standard and reference data the custom expectations evaluate against."""
    global _CONTEXT
    _CONTEXT = ctx


def _ctx() -> checks.CheckContext:
    if _CONTEXT is None:
        from hrss_hub.standard.model import load_standard

        set_context(checks.CheckContext(load_standard()))
    assert _CONTEXT is not None
    return _CONTEXT


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _series_to_arrow(series: Any) -> pa.Array:
    arr = pa.array(series, from_pandas=True)
    if pa.types.is_large_string(arr.type) or not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _register(gx: Any) -> None:
    """Define the custom expectation + metric classes (GX registers them on definition)."""
    from great_expectations.execution_engine.pandas_execution_engine import (
        PandasExecutionEngine,
    )
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        MulticolumnMapExpectation,
    )
    from great_expectations.expectations.metrics.map_metric_provider.column_condition_partial import (  # noqa: E501
        column_condition_partial,
    )
    from great_expectations.expectations.metrics.map_metric_provider.column_map_metric_provider import (  # noqa: E501
        ColumnMapMetricProvider,
    )
    from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (  # noqa: E501
        multicolumn_condition_partial,
    )
    from great_expectations.expectations.metrics.map_metric_provider.multicolumn_map_metric_provider import (  # noqa: E501
        MulticolumnMapMetricProvider,
    )

    for type_, (kind, _) in KNOWN_TYPES.items():
        if type_ in BUILTIN:
            continue
        extra = _EXTRA_KWARGS.get(type_, {})
        metric = f"hrss_hub.{type_.removeprefix('expect_')}"
        doc = (checks.COLUMN_CHECKS.get(type_) or checks.MULTI_CHECKS[type_]).__doc__
        if kind == "column":
            fn = checks.COLUMN_CHECKS[type_]

            def col_pandas(cls: Any, column: Any, _fn: Any = fn, **kwargs: Any) -> Any:
                unexpected = _fn(_series_to_arrow(column), kwargs, _ctx())
                return ~np.asarray(unexpected.to_numpy(zero_copy_only=False), dtype=bool)

            provider_attrs: dict[str, Any] = {
                "condition_metric_name": metric,
                "condition_value_keys": tuple(extra),
                "_pandas": column_condition_partial(engine=PandasExecutionEngine)(col_pandas),
            }
            type(f"{_camel(type_)}Metric", (ColumnMapMetricProvider,), provider_attrs)
            base: Any = ColumnMapExpectation
        else:
            mfn = checks.MULTI_CHECKS[type_]

            def multi_pandas(cls: Any, column_list: Any, _fn: Any = mfn, **kwargs: Any) -> Any:
                cols = [_series_to_arrow(column_list[c]) for c in column_list.columns]
                unexpected = _fn(cols, kwargs, _ctx())
                return ~np.asarray(unexpected.to_numpy(zero_copy_only=False), dtype=bool)

            provider_attrs = {
                "condition_metric_name": metric,
                "condition_value_keys": tuple(extra),
                "condition_domain_keys": ("batch_id", "table", "column_list", "row_condition",
                                          "condition_parser", "ignore_row_if"),
                "_pandas": multicolumn_condition_partial(engine=PandasExecutionEngine)(
                    multi_pandas),
            }
            type(f"{_camel(type_)}Metric", (MulticolumnMapMetricProvider,), provider_attrs)
            base = MulticolumnMapExpectation
        attrs: dict[str, Any] = {
            "__doc__": doc or type_,
            "__module__": __name__,
            "__annotations__": dict(extra),
            "map_metric": metric,
            "success_keys": (*extra, "mostly"),
        }
        for key, typ in extra.items():
            if "None" in str(typ):
                attrs[key] = None
        if kind == "multi":
            attrs["__annotations__"]["ignore_row_if"] = str
            attrs["ignore_row_if"] = "any_value_is_missing"
        type(_camel(type_), (base,), attrs)


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class GxCount:
    """GX's verdict on one expectation of a suite."""

    index: int
    type: str
    rule: str
    field: str
    severity: str
    element_count: int
    unexpected_count: int
    success: bool
    error: str | None = None


def _progress_off(context: Any) -> None:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)


@contextmanager
def file_context(root: Path) -> Iterator[Any]:
    """A file-backed GX context under ``root`` (validation results + Data Docs)."""
    gx = import_gx()
    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    _progress_off(context)
    yield context


class SuiteRunner:
    """Validates frames of one stream against its entity's suites with GX (``SUMMARY``).

    Each suite gets a ValidationDefinition, so every batch's results land in the context's
    validation-results store, from which :func:`build_docs` renders Data Docs.
    """

    def __init__(self, context: Any, suites: list[Suite], name: str,
                 run_name: str | None = None) -> None:
        gx = import_gx()
        from great_expectations.core.run_identifier import RunIdentifier

        self.gx = gx
        self.context = context
        self.suites = suites
        self.run_id = RunIdentifier(run_name=run_name) if run_name else None
        source = context.data_sources.add_or_update_pandas(f"hub_{name}")
        asset = source.add_dataframe_asset("frame")
        batch_def = asset.add_batch_definition_whole_dataframe("batch")
        self.definitions = []
        for suite in suites:
            doc = dict(suite.doc)
            doc.pop("id", None)
            doc["name"] = f"{name}.{suite.name}"
            gx_suite = context.suites.add_or_update(gx.ExpectationSuite(**doc))
            self.definitions.append(context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=doc["name"], data=batch_def, suite=gx_suite)))

    def validate(self, frame: pa.Table) -> list[GxCount]:
        """Per-expectation counts of every suite on ``frame`` (results are stored)."""
        df = frame.to_pandas()
        out: list[GxCount] = []
        for suite, vd in zip(self.suites, self.definitions, strict=True):
            res = vd.run(batch_parameters={"dataframe": df}, result_format="SUMMARY",
                         run_id=self.run_id)
            by_id = {r.expectation_config.id: r for r in res.results}
            for spec, exp in zip(suite.expectations, vd.suite.expectations, strict=True):
                r = by_id[exp.id]
                info = r.exception_info or {}
                error = info.get("exception_message") if info.get("raised_exception") else None
                result: Mapping[str, Any] = r.result or {}
                out.append(GxCount(spec.index, spec.type, spec.rule, spec.field, spec.severity,
                                   int(result.get("element_count") or 0),
                                   int(result.get("unexpected_count") or 0), bool(r.success),
                                   error))
        return out


def build_docs(context: Any) -> Path | None:
    """Render Data Docs of every stored validation result; returns the index page."""
    urls = context.build_data_docs()
    for url in urls.values():
        path = Path(str(url).removeprefix("file://"))
        if path.exists():
            return path
    return None
