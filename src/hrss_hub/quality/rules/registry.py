"""The rule registry: every rule the hub knows, by id — the single source of rule ids.

Built-in rules are the modules of :mod:`hrss_hub.quality.rules.builtin` (one rule class per
file: adding a rule is adding a file). Other packages add rules through the entry-point group
``hrss_hub.rules``; each entry point names a rule class::

    [project.entry-points."hrss_hub.rules"]
    benefit_after_death = "county_rules.death:BenefitAfterDeath"

The standard checker, suite generation, the row gate, the Great Expectations custom
expectations, the data dictionary's rule table and the quality report's labels all read
this registry. The registry is built on first use and cached for the process (it is code
discovery, not run state); :func:`refresh` rescans after a plugin was installed at run time.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from hrss_hub.errors import ConfigError, unknown_choice
from hrss_hub.quality.rules.base import (
    EXPECTATION_TYPE,
    RULE_ID,
    STAGES,
    RecordedRule,
    Rule,
    RuleBase,
    RuleParams,
)

ENTRY_POINT_GROUP = "hrss_hub.rules"
_BUILTIN_PACKAGE = "hrss_hub.quality.rules.builtin"
_REQUIRED = ("id", "label_zh", "label_en", "description")


class RuleRegistrationError(ConfigError):
    """A rule class (built in or from an entry point) is not a valid rule."""


class Registry:
    """Rules by id, in registration order (built-ins first, then entry points by name)."""

    def __init__(self) -> None:
        self._rules: dict[str, RuleBase] = {}
        self._by_expectation: dict[str, Rule[Any]] = {}

    def add(self, cls: type[RuleBase], origin: str) -> None:
        """Instantiate and register one rule class; RuleRegistrationError if it is invalid."""
        where = {"rule_class": f"{cls.__module__}.{cls.__qualname__}", "origin": origin}
        for attr in _REQUIRED:
            if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
                raise RuleRegistrationError(f"rule class lacks {attr!r}", where,
                                            "set id, label_zh, label_en and description")
        if not RULE_ID.match(cls.id):
            raise RuleRegistrationError(f"rule id {cls.id!r} is not snake_case", where)
        if cls.id in self._rules:
            other = self._rules[cls.id]
            raise RuleRegistrationError(
                f"rule id {cls.id!r} is registered twice", where,
                f"already registered by {type(other).__module__} ({other.origin})")
        if cls.stage not in STAGES:
            raise RuleRegistrationError(f"unknown stage {cls.stage!r}", where,
                                        "valid: " + ", ".join(STAGES))
        if cls.default_severity not in cls.severities:
            raise RuleRegistrationError(
                f"default severity {cls.default_severity!r} is not among {cls.severities}", where)
        rule = cls()
        rule.origin = origin
        if isinstance(rule, Rule):
            self._check_checked_rule(rule, where)
            for type_ in rule.expectation_types:
                self._by_expectation[type_] = rule
        self._rules[cls.id] = rule

    def _check_checked_rule(self, rule: Rule[Any], where: dict[str, str]) -> None:
        model = getattr(rule, "params_model", None)
        if not (inspect.isclass(model) and issubclass(model, RuleParams)):
            raise RuleRegistrationError("params_model must be a RuleParams subclass", where)
        expectation = getattr(rule, "expectation", None)
        if not isinstance(expectation, str):
            raise RuleRegistrationError("a rule needs its expectation type", where)
        for type_ in rule.expectation_types:
            if not EXPECTATION_TYPE.match(type_):
                raise RuleRegistrationError(f"expectation type {type_!r} must look like "
                                            "expect_<snake_case>", where)
            if type_ in self._by_expectation:
                raise RuleRegistrationError(
                    f"expectation {type_!r} already evaluates rule "
                    f"{self._by_expectation[type_].id!r}", where)
        refs = model.field_params()
        if rule.single_column_expectation and not (len(refs) == 1 and refs[0][2]):
            raise RuleRegistrationError("single_column_expectation needs a rule over one "
                                        "list of fields", where)
        if not refs:
            raise RuleRegistrationError("a rule needs at least one field parameter "
                                        "(Annotated[str, FieldRef()])", where)
        if any(is_list for _, _, is_list in refs) and len(refs) > 1:
            raise RuleRegistrationError("a list of fields must be the rule's only field "
                                        "parameter", where)
        if rule.reported not in {name for name, _, _ in refs}:
            raise RuleRegistrationError(f"reported parameter {rule.reported!r} is not a field "
                                        "parameter", where)

    def check_links(self) -> None:
        """Every ``counts_also`` names a registered recorded rule (after all are added)."""
        for rule in self.checked():
            for also in rule.counts_also:
                if not isinstance(self._rules.get(also), RecordedRule):
                    raise RuleRegistrationError(
                        f"counts_also names {also!r}, which is not a registered recorded rule",
                        {"rule": rule.id, "origin": rule.origin})

    # -- lookups -------------------------------------------------------------------------
    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __iter__(self) -> Iterator[RuleBase]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    def ids(self) -> tuple[str, ...]:
        """Every rule id, in registration order."""
        return tuple(self._rules)

    def get(self, rule_id: str, **context: object) -> RuleBase:
        """The rule ``rule_id``; a ConfigError with did-you-mean otherwise."""
        try:
            return self._rules[rule_id]
        except KeyError:
            raise unknown_choice("rule", rule_id, self._rules, **context) from None

    def find(self, rule_id: str) -> RuleBase | None:
        """The rule ``rule_id``, or None."""
        return self._rules.get(rule_id)

    def checked(self) -> tuple[Rule[Any], ...]:
        """The rules with a predicate (everything but recorded outcomes)."""
        return tuple(r for r in self._rules.values() if isinstance(r, Rule))

    def recorded(self) -> tuple[RecordedRule, ...]:
        """The rules recorded by a connector or the mapping (no predicate)."""
        return tuple(r for r in self._rules.values() if isinstance(r, RecordedRule))

    def declarable(self) -> tuple[Rule[Any], ...]:
        """Rules an entity may list in ``rules:``."""
        return tuple(r for r in self.checked() if r.declarable)

    def field_rules(self) -> tuple[Rule[Any], ...]:
        """Rules that field attributes can declare, in suite order."""
        own = [r for r in self.checked()
               if type(r).from_field is not Rule.from_field]
        return tuple(sorted(own, key=lambda r: r.order))

    def entity_rules(self) -> tuple[Rule[Any], ...]:
        """Rules the entity as a whole declares (e.g. its key)."""
        return tuple(r for r in self.checked() if type(r).from_entity is not Rule.from_entity)

    def expectation_types(self) -> tuple[str, ...]:
        """Every expectation type a suite may use."""
        return tuple(self._by_expectation)

    def for_expectation(self, type_: str) -> Rule[Any] | None:
        """The rule an expectation type evaluates (None: not a hub expectation)."""
        return self._by_expectation.get(type_)

    def counted_by(self, rule_id: str) -> tuple[str, ...]:
        """``rule_id`` and the recorded rules its expectations also count."""
        rule = self._rules.get(rule_id)
        return (rule_id, *rule.counts_also) if isinstance(rule, Rule) else (rule_id,)


def _builtin_classes() -> Iterator[type[RuleBase]]:
    package = importlib.import_module(_BUILTIN_PACKAGE)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{_BUILTIN_PACKAGE}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, RuleBase) \
                    and not inspect.isabstract(cls) and "id" in vars(cls):
                yield cls


def _entry_point_class(ep: EntryPoint) -> type[RuleBase]:
    where = {"entry_point": f"{ep.group}:{ep.name} = {ep.value}"}
    try:
        obj = ep.load()
    except Exception as exc:  # any import error of a plugin: name the plugin, keep the cause
        raise RuleRegistrationError(f"cannot load rule plugin: {type(exc).__name__}: {exc}",
                                    where, "fix or uninstall the package providing it") from exc
    if not (inspect.isclass(obj) and issubclass(obj, RuleBase)) or inspect.isabstract(obj):
        raise RuleRegistrationError("a rule entry point must name a concrete rule class "
                                    "(a subclass of hrss_hub.quality.rules.Rule)", where)
    return obj


def _build() -> Registry:
    registry = Registry()
    for cls in sorted(_builtin_classes(), key=lambda c: (c.order, c.id)):
        registry.add(cls, "builtin")
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        cls = _entry_point_class(ep)
        dist = ep.dist
        origin = f"{dist.name} {dist.version}" if dist is not None else ep.value
        registry.add(cls, origin)
    registry.check_links()
    return registry


_REGISTRY: Registry | None = None


def registry() -> Registry:
    """The process's rule registry (built on first use)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _build()
    return _REGISTRY


def refresh() -> Registry:
    """Rebuild the registry, picking up rule plugins installed since it was built."""
    global _REGISTRY
    _REGISTRY = None
    return registry()
