"""A quality score per source system: completeness, validity and timeliness, quantified.

The three dimensions follow GB/T 36344-2018 (信息技术 数据质量评价指标: 完整性, 规范性/准确性,
时效性), each measured from what the hub already counts, so a department can recompute it:

* completeness (完整性) = 1 − null cells / checked cells, over the not-null expectations of
  the standard's required fields, every row the source delivered this run;
* validity (有效性) = 1 − failed checks / checks, over every other expectation (code lists,
  identifiers, dates, ranges, cross-field and key rules) on the same rows;
* timeliness (时效性) = stream runs that delivered (status ``succeeded``) / stream runs,
  over the last runs (at most :data:`WINDOW`) that included the source — data that did
  not arrive on schedule is not current for its recipients;
* score = the mean of the dimensions that could be measured, in percent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

WINDOW = 10
NOT_NULL = "expect_column_values_to_not_be_null"

DEFINITIONS: tuple[tuple[str, str, str], ...] = (
    ("completeness", "完整性 = 1 − 必填字段空值数 / 必填字段校验数",
     "completeness = 1 − null cells / checked cells of the standard's required fields"),
    ("validity",
     "有效性 = 1 − 不符合次数 / 校验次数（代码表、证件号码、日期、范围、跨字段与主键规则）",
     "validity = 1 − failed checks / checks of every other expectation (code lists, IDs, "
     "dates, ranges, cross-field and key rules)"),
    ("timeliness", f"时效性 = 成功交付的数据流运行次数 / 数据流运行次数（最近 {WINDOW} 次运行）",
     f"timeliness = stream runs that delivered / stream runs (last {WINDOW} runs with the "
     "source)"),
    ("score", "质量得分 = 可计算维度的平均值（百分制）",
     "score = mean of the measurable dimensions, in percent"),
)


def _ratio(bad: int, total: int) -> float | None:
    return None if total <= 0 else round(100.0 * (total - bad) / total, 2)


def source_scores(streams: Iterable[Mapping[str, Any]],
                  history: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One score per source system.

    ``streams``: the report's stream entries of this run (``system``, ``expectations`` with
    ``type``/``evaluated``/``unexpected``). ``history``: run summaries (newest first) whose
    streams give ``system`` and ``status``; the current run included.
    """
    acc: dict[str, dict[str, int]] = {}
    for s in streams:
        a = acc.setdefault(str(s["system"]), {"null": 0, "cells": 0, "failed": 0, "checks": 0,
                                              "ok_runs": 0, "runs": 0})
        for e in s.get("expectations", []):
            if e["type"] == NOT_NULL:
                a["null"] += int(e["unexpected"])
                a["cells"] += int(e["evaluated"])
            else:
                a["failed"] += int(e["unexpected"])
                a["checks"] += int(e["evaluated"])
    seen: dict[str, int] = {}
    for summary in history:
        in_run: set[str] = set()
        for system in summary.get("systems", []):
            name = str(system.get("system"))
            if name not in acc or seen.get(name, 0) >= WINDOW:
                continue
            in_run.add(name)
            for st in system.get("streams", []):
                acc[name]["runs"] += 1
                acc[name]["ok_runs"] += st.get("status") == "succeeded"
        for name in in_run:
            seen[name] = seen.get(name, 0) + 1
    out = []
    for name in sorted(acc):
        a = acc[name]
        dims = {"completeness": _ratio(a["null"], a["cells"]),
                "validity": _ratio(a["failed"], a["checks"]),
                "timeliness": _ratio(a["runs"] - a["ok_runs"], a["runs"])}
        measured = [v for v in dims.values() if v is not None]
        out.append({"system": name, **dims,
                    "score": round(sum(measured) / len(measured), 2) if measured else None,
                    "counts": dict(a), "runs_in_window": seen.get(name, 0)})
    return out
