"""Great Expectations 1.x: the hub's custom expectations, validation runs and Data Docs.

Importing Great Expectations takes seconds and logs a burst of info lines, so it happens
here only, lazily (:func:`import_gx`), never at ``hrss_hub`` import time. The custom
expectations are derived from the rule registry: one expectation class per registered rule
whose expectation GX does not ship, with the rule's value parameters as its kwargs. Its
pandas metric converts the (non-null) column(s) GX selects to Arrow and calls the rule's
predicate — the same function the row gate calls. Validation uses ``result_format=SUMMARY``:
counts, never per-row failure lists (those cost ~34x, see reference/performance-reliability),
and no unexpected values at all (:data:`RESULT_FORMAT`): GX writes them raw into its
result store and Data Docs before any hook could mask them, and they include citizen IDs.
The hub's own report shows masked examples of every rule instead. Each custom expectation
renders in Data Docs as its rule's bilingual label and parameters (:func:`_prescriptive`),
and built sites are made to work offline (:mod:`hrss_hub.quality.datadocs`).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from hrss_hub.quality.rules import Rule, RuleContext, registry
from hrss_hub.quality.suites import Suite

_GX: Any = None
#: counts only: no unexpected values (raw identifiers) in the result store or Data Docs
RESULT_FORMAT: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 0,
                                 "exclude_unexpected_values": True}
#: expectation types whose classes this process has defined
_DEFINED: set[str] = set()
#: the standard and reference data the custom expectations evaluate against
_CONTEXT: ContextVar[RuleContext | None] = ContextVar("hrss_hub_gx_rule_context", default=None)
#: GX is not thread-safe (one shared ruamel YAML instance reads and writes every project's
#: great_expectations.yml): streams of a parallel run (hrss_hub.run.parallel) call it one
#: at a time
_ONE_AT_A_TIME = threading.RLock()
F = TypeVar("F", bound=Callable[..., Any])


def _serialized(func: F) -> F:
    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _ONE_AT_A_TIME:
            return func(*args, **kwargs)
    return call  # type: ignore[return-value]


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


@_serialized
def import_gx() -> Any:
    """Import Great Expectations once (quietly) and define the hub's expectations."""
    global _GX
    if _GX is None:
        _quiet_logging()
        import great_expectations as gx

        _GX = gx
    define_expectations()
    return _GX


def set_context(ctx: RuleContext) -> None:
    """The standard and reference data the custom expectations evaluate against."""
    _CONTEXT.set(ctx)


def _ctx() -> RuleContext:
    ctx = _CONTEXT.get()
    if ctx is None:
        from hrss_hub.standard.model import load_standard

        ctx = RuleContext(load_standard())
        set_context(ctx)
    return ctx


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _series_to_arrow(series: Any) -> pa.Array:
    arr = pa.array(series, from_pandas=True)
    if pa.types.is_large_string(arr.type) or not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _value_kwargs(rule: Rule[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: kwargs[k] for k in rule.params_model.value_params() if k in kwargs}


def define_expectations() -> list[str]:
    """Define the expectation + metric classes of every registered rule not defined yet
    (GX registers a class when it is defined); returns the types defined now. Called on
    import and again after the registry changed (a rule plugin installed at run time)."""
    if _GX is None:
        import_gx()
        return []
    new = []
    for rule in registry().checked():
        if rule.gx_builtin:
            continue
        for type_ in rule.expectation_types:
            if type_ not in _DEFINED:
                _define(rule, type_)
                _DEFINED.add(type_)
                new.append(type_)
    return new


def _define(rule: Rule[Any], type_: str) -> None:
    """One custom expectation (of type ``type_``) whose metric calls ``rule.predicate``."""
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

    model = rule.params_model
    column_list = rule.uses_column_list(type_)
    extra = {name: model.model_fields[name] for name in model.value_params()}
    metric = f"hrss_hub.{type_.removeprefix('expect_')}"
    if not column_list:
        def col_pandas(cls: Any, column: Any, _rule: Rule[Any] = rule, **kwargs: Any) -> Any:
            raw = _rule.from_kwargs({"column": str(column.name), **_value_kwargs(_rule, kwargs)})
            params = _rule.parse(raw)
            verdict = _rule.predicate([_series_to_arrow(column)], params, _ctx())
            return ~np.asarray(verdict.mask.to_numpy(zero_copy_only=False), dtype=bool)

        provider_attrs: dict[str, Any] = {
            "condition_metric_name": metric,
            "condition_value_keys": tuple(extra),
            "_pandas": column_condition_partial(engine=PandasExecutionEngine)(col_pandas),
        }
        type(f"{_camel(type_)}Metric", (ColumnMapMetricProvider,), provider_attrs)
        base: Any = ColumnMapExpectation
    else:
        def multi_pandas(cls: Any, column_list: Any, _rule: Rule[Any] = rule,
                         **kwargs: Any) -> Any:
            names = [str(c) for c in column_list.columns]
            raw = _rule.from_kwargs({"column_list": names, **_value_kwargs(_rule, kwargs)})
            params = _rule.parse(raw)
            cols = [_series_to_arrow(column_list[c]) for c in column_list.columns]
            verdict = _rule.predicate(cols, params, _ctx())
            return ~np.asarray(verdict.mask.to_numpy(zero_copy_only=False), dtype=bool)

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
        "__doc__": f"{rule.label_en} ({rule.label_zh}): {rule.description}",
        "__module__": __name__,
        "__annotations__": {name: info.annotation for name, info in extra.items()},
        "map_metric": metric,
        "success_keys": (*extra, "mostly"),
    }
    for name, info in extra.items():
        if not info.is_required():
            attrs[name] = info.default
    if column_list:
        attrs["__annotations__"]["ignore_row_if"] = str
        attrs["ignore_row_if"] = "any_value_is_missing"
    attrs["_prescriptive_renderer"] = _prescriptive_renderer(rule, column_list)
    type(_camel(type_), (base,), attrs)


def _param_text(value: Any) -> str:
    """A kwarg as a reader writes it: lists joined, no Python reprs."""
    if isinstance(value, (list, tuple, set)):
        return ", ".join(_param_text(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k} = {_param_text(v)}" for k, v in value.items())
    return str(value)


def _prescriptive_renderer(rule: Rule[Any], column_list: bool) -> Any:
    """The Data Docs text of a custom expectation: the rule's zh/en label, its column(s)
    and value parameters (GX's fallback shows ``expect_x(**{...})``)."""
    from great_expectations.render.components import (
        LegacyRendererType,
        RenderedStringTemplateContent,
    )
    from great_expectations.render.renderer.renderer import renderer

    value_params = rule.params_model.value_params()

    def render(cls: Any, configuration: Any = None, result: Any = None,
               runtime_configuration: Any = None, **kwargs: Any) -> list[Any]:
        cfg_kwargs: Mapping[str, Any] = getattr(configuration, "kwargs", None) or {}
        params: dict[str, str] = {}
        if column_list:
            params["columns"] = _param_text(cfg_kwargs.get("column_list") or [])
            template = "$columns: "
        else:
            params["column"] = _param_text(cfg_kwargs.get("column", ""))
            template = "$column: "
        # GX substitutes $name (string.Template): a literal "$" is written "$$"
        template += f"{rule.label_zh} / {rule.label_en}".replace("$", "$$")
        shown = []
        for name in value_params:
            if cfg_kwargs.get(name) is not None:
                params[name] = _param_text(cfg_kwargs[name])
                shown.append(f"{name} $" + name)
        mostly = cfg_kwargs.get("mostly")
        if isinstance(mostly, (int, float)) and mostly < 1:
            params["mostly_pct"] = f"{mostly * 100:g}"
            shown.append("at least $mostly_pct % of rows")
        if shown:
            template += " (" + ", ".join(shown) + ")"
        template += f" — {rule.description}".replace("$", "$$")
        return [RenderedStringTemplateContent(
            content_block_type="string_template",
            string_template={"template": template, "params": params,
                             "styling": (runtime_configuration or {}).get("styling")})]

    decorate: Any = renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    return classmethod(decorate(render))


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


@_serialized
def open_file_context(root: Path) -> Any:
    """A file-backed GX context under ``root`` (its suites, validation results, Data Docs).

    One project folder has one writer: a stream's validator owns its own folder, the run
    close owns the run's (see :mod:`hrss_hub.quality.validate`).
    """
    gx = import_gx()
    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    _progress_off(context)
    return context


@contextmanager
def file_context(root: Path) -> Iterator[Any]:
    """:func:`open_file_context` as a context manager."""
    yield open_file_context(root)


#: the stores of a GX file project that Data Docs render from (suites and results)
_DOCS_STORES = ("expectations", "uncommitted/validations")


def merge_results(source: Path, target: Path) -> int:
    """Copy the suites and validation results of the GX project folder ``source`` (its
    ``gx/`` directory) into the project folder ``target``; returns the files copied.

    The file stores key each result by suite name, run and batch, and suite names carry
    ``<system>.<stream>.``, so the results of different streams never collide. The
    stores' ``.ge_store_backend_id`` files (a project's own identity) are not copied.
    """
    copied = 0
    for store in _DOCS_STORES:
        src = source / store
        if not src.is_dir():
            continue
        for path in sorted(src.rglob("*.json")):
            dest = target / store / path.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            copied += 1
    return copied


class SuiteRunner:
    """Validates frames of one stream against its entity's suites with GX (``SUMMARY``).

    Each suite gets a ValidationDefinition, so every batch's results land in the context's
    validation-results store, from which :func:`build_docs` renders Data Docs.
    """

    @_serialized
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

    @_serialized
    def validate(self, frame: pa.Table) -> list[GxCount]:
        """Per-expectation counts of every suite on ``frame`` (results are stored)."""
        df = frame.to_pandas()
        out: list[GxCount] = []
        for suite, vd in zip(self.suites, self.definitions, strict=True):
            res = vd.run(batch_parameters={"dataframe": df}, result_format=dict(RESULT_FORMAT),
                         run_id=self.run_id)
            by_id = {r.expectation_config.id: r for r in res.results}
            for spec, exp in zip(suite.expectations, vd.suite.expectations, strict=True):
                r = by_id[exp.id]
                error = _exception_message(r.exception_info)
                result: Mapping[str, Any] = r.result or {}
                out.append(GxCount(spec.index, spec.type, spec.rule, spec.field, spec.severity,
                                   int(result.get("element_count") or 0),
                                   int(result.get("unexpected_count") or 0), bool(r.success),
                                   error))
        return out


def _exception_message(info: Any) -> str | None:
    """The message of a failed expectation: GX reports it flat or keyed by metric."""
    if not isinstance(info, Mapping):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, Mapping) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


@_serialized
def build_docs(context: Any) -> Path | None:
    """Render Data Docs of every stored validation result; returns the index page."""
    from hrss_hub.quality.datadocs import localize_site

    urls = context.build_data_docs()
    index: Path | None = None
    for url in urls.values():
        path = Path(str(url).removeprefix("file://"))
        if path.exists():
            # government intranets have no CDN: every page loads vendored copies
            localize_site(path.parent)
            index = index or path
    return index
