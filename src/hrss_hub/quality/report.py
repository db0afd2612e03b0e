"""The per-run quality report for auditors: one self-contained, printable, bilingual HTML page.

``write_report(cfg, run_id)`` writes ``<reports_dir>/<run_id>/report.html`` and
``report.json`` from the ledger (the run summary, trends over the last runs), the run's
validation files (pass rate per expectation, GX's counts) and quarantine files (the worst
offenders with examples). Identifiers in examples are masked (``510107********123X``);
each example carries its reference id (``quarantine release`` accepts it). Also: a score per
source system (:mod:`hrss_hub.quality.scores`), inline SVG charts (:mod:`.charts`), masked
CSV/XLSX downloads of the quarantined rows (:mod:`.quarantine_export`), and A4 print CSS
with repeating table heads, page numbers and a sign-off block. Runs that extracted
nothing (publish-only, maintenance) are not runs here (:func:`is_data_run`).
No external resources: inline CSS, inline SVG, no scripts.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from hrss_hub.errors import HubError
from hrss_hub.quality.charts import bar_chart, line_chart
from hrss_hub.quality.reprocess import row_ref
from hrss_hub.quality.rules import label, registry
from hrss_hub.quality.scores import DEFINITIONS, source_scores
from hrss_hub.quality.validate import gx_root, load_validations

_ID_LIKE = re.compile(r"[0-9A-Za-z]{15,18}")
EXAMPLES_PER_RULE = 3
TREND_RUNS = 10
#: the report folder's sub-folder of masked quarantine downloads (CSV, XLSX)
EXPORT_DIR = "quarantine"


def mask_id(value: str) -> str:
    """Mask every ID-like token (15–18 alphanumerics): first 6 and last 4 characters kept."""
    def repl(m: re.Match[str]) -> str:
        s = m.group(0)
        return s[:6] + "*" * (len(s) - 10) + s[-4:]
    return _ID_LIKE.sub(repl, value)


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def is_data_run(summary: dict[str, Any] | None) -> bool:
    """A run that extracted at least one stream (publish-only or maintenance runs have none:
    they are not runs for the report, its trends or its default run)."""
    return any(system.get("streams") for system in (summary or {}).get("systems", []))


def _offenders(qfile: Path) -> tuple[Counter[str], dict[str, list[dict[str, str]]]]:
    """Per-rule row counts and a few masked examples (with their reference ids), read
    column-wise by row group."""
    counts: Counter[str] = Counter()
    examples: dict[str, list[dict[str, str]]] = {}
    pf = pq.ParquetFile(qfile)
    n = 0
    for i in range(pf.num_row_groups):
        t = pf.read_row_group(i, columns=["run_id", "system", "stream", "rules", "fields",
                                          "offending_values", "location", "source_key"])
        rules = t["rules"].to_pylist()
        # only the first few rows of each rule need more than the rule list
        for row, rlist in enumerate(rules):
            n += 1
            for j, rule in enumerate(rlist or []):
                counts[rule] += 1
                ex = examples.setdefault(rule, [])
                if len(ex) < EXAMPLES_PER_RULE:
                    fields = t["fields"][row].as_py() or []
                    values = t["offending_values"][row].as_py() or []
                    ex.append({
                        "field": fields[j] if j < len(fields) else "",
                        "value": mask_id(values[j] if j < len(values) else ""),
                        "location": mask_id(str(t["location"][row].as_py() or "")),
                        "source_key": mask_id(str(t["source_key"][row].as_py() or "")),
                        "ref": row_ref(str(t["run_id"][row].as_py()),
                                       str(t["system"][row].as_py()),
                                       str(t["stream"][row].as_py()), n),
                    })
    return counts, examples


def _rate(good: int, total: int) -> float | None:
    return round(100.0 * good / total, 2) if total > 0 else None


def _stream_trend(runs: list[Any]) -> dict[str, Any]:
    """Pass rate and quarantined rows per stream across runs (oldest first)."""
    labels = [r.started_at.strftime("%m-%d %H:%M") for r in runs]
    pass_rate: dict[str, list[float | None]] = {}
    quarantined: dict[str, list[int | None]] = {}
    for i, r in enumerate(runs):
        for system in (r.summary or {}).get("systems", []):
            for st in system.get("streams", []):
                sid = f"{st['system']}.{st['stream']}"
                pass_rate.setdefault(sid, [None] * len(runs))
                quarantined.setdefault(sid, [None] * len(runs))
                rows = int(st.get("read", 0)) - int(st.get("filtered", 0))
                pass_rate[sid][i] = _rate(int(st.get("published", 0)), rows)
                quarantined[sid][i] = int(st.get("quarantined", 0))
    return {"runs": [r.id for r in runs], "labels": labels,
            "pass_rate": dict(sorted(pass_rate.items())),
            "quarantined": dict(sorted(quarantined.items()))}


def build_report_data(cfg: Any, run_id: str | None = None) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready data (``hrss-hub report --json``)."""
    from hrss_hub.ledger import Ledger

    ledger = Ledger.open(cfg.ledger_url)
    try:
        recent = [r for r in ledger.recent_runs(TREND_RUNS + 40) if is_data_run(r.summary)]
        if run_id is None:
            if not recent:
                raise HubError("no runs in the ledger", {"ledger": ledger.safe_url},
                               "run the hub first: hrss-hub run")
            run_id = recent[0].id
        run = ledger.get_run(run_id)
        if run is None:
            raise HubError("unknown run", {"run": run_id},
                           "list runs with: hrss-hub ledger runs")
        if run.status != "running" and not is_data_run(run.summary):
            raise HubError("the run extracted no stream (a publish or maintenance run): it "
                           "has no quality report", {"run": run_id},
                           "report a run that extracted data; list runs with: "
                           "hrss-hub ledger runs")
    finally:
        ledger.close()
    out_dir = cfg.reports_dir / run_id
    summary = run.summary or {}
    validations = {(v["system"], v["stream"]): v
                   for v in load_validations(cfg.reports_dir, run_id)}
    streams = []
    for system in summary.get("systems", []):
        for st in system.get("streams", []):
            rows = max(int(st.get("read", 0)) - int(st.get("filtered", 0)), 0)
            v = validations.get((st["system"], st["stream"]))
            expectations = []
            for e in (v or {}).get("expectations", []):
                ev = max(int(e["evaluated"]), 0)
                expectations.append({
                    "type": e["type"], "rule": e["rule"], "label": label(e["rule"]),
                    "field": e["field"],
                    "severity": e["severity"], "evaluated": ev, "unexpected": e["unexpected"],
                    "gx_unexpected": e["gx_unexpected"],
                    "pass_rate": round(100.0 * (ev - e["unexpected"]) / ev, 2) if ev else 100.0,
                })
            qfile = st.get("quarantine_file")
            counts: Counter[str] = Counter()
            examples: dict[str, list[dict[str, str]]] = {}
            has_q = bool(qfile and Path(qfile).exists())
            if has_q:
                counts, examples = _offenders(Path(qfile))
            rules = [{"rule": r, "label": label(r), "failed": n,
                      "pass_rate": round(100.0 * (rows - n) / rows, 2) if rows else 100.0,
                      "examples": examples.get(r, [])}
                     for r, n in sorted((st.get("quarantined_by_rule") or {}).items(),
                                        key=lambda kv: -kv[1])]
            stem = f'{st["system"]}.{st["stream"]}'
            streams.append({
                "system": st["system"], "stream": st["stream"], "entity": st.get("entity"),
                "status": st.get("status"), "read": st.get("read", 0),
                "published": st.get("published", 0), "quarantined": st.get("quarantined", 0),
                "filtered": st.get("filtered", 0),
                "pass_rate": round(100.0 * st.get("published", 0) / rows, 2) if rows else 100.0,
                "rules": rules, "expectations": expectations,
                "quarantine_file": _rel(Path(qfile), out_dir) if qfile else None,
                "downloads": ({"csv": f"{EXPORT_DIR}/{stem}.csv",
                               "xlsx": f"{EXPORT_DIR}/{stem}.xlsx"} if has_q else None),
                "quarantine_rows_checked": sum(counts.values()),
                "gx_rows": (v or {}).get("gx_rows"),
                "validated_rows": (v or {}).get("rows"),
            })
    # every rule that quarantined rows, with examples (worst first)
    worst = sorted(({"system": s["system"], "stream": s["stream"], "entity": s["entity"], **r}
                    for s in streams for r in s["rules"]), key=lambda r: -int(r["failed"]))
    by_rule: Counter[str] = Counter()
    for s in streams:
        for r in s["rules"]:
            by_rule[r["rule"]] += int(r["failed"])
    window = sorted((r for r in recent if r.started_at <= run.started_at),
                    key=lambda r: r.started_at, reverse=True)[:TREND_RUNS]
    if run.id not in {r.id for r in window} and is_data_run(summary):
        window = [run, *window[:TREND_RUNS - 1]]
    window = sorted(window, key=lambda r: r.started_at)
    trend = []
    for r in window:
        totals = Counter[str]()
        for system in (r.summary or {}).get("systems", []):
            for st in system.get("streams", []):
                for k in ("read", "published", "quarantined", "filtered"):
                    totals[k] += int(st.get(k, 0))
        rows = totals["read"] - totals["filtered"]
        trend.append({"run_id": r.id, "started_at": r.started_at.isoformat(),
                      "status": r.status, **totals,
                      "pass_rate": round(100.0 * totals["published"] / rows, 2) if rows else None})
    docs = sorted(gx_root(cfg.reports_dir, run_id).glob("**/data_docs/local_site/index.html"))
    return {
        "run_id": run_id, "status": run.status, "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "hub_id": run.hub_id, "streams": streams, "worst_offenders": worst, "trend": trend,
        "stream_trend": _stream_trend(window),
        "quarantined_by_rule": [{"rule": r, "label": label(r), "rows": n}
                                for r, n in by_rule.most_common()],
        "scores": source_scores(streams, [r.summary or {} for r in reversed(window)]),
        "score_definitions": [{"key": k, "zh": zh, "en": en} for k, zh, en in DEFINITIONS],
        "data_docs": _rel(docs[0], out_dir) if docs else None,
    }


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",
 system-ui,sans-serif;margin:2rem;color:#1a1a1a;max-width:1200px}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
 border-bottom:2px solid #2b5797;padding-bottom:.2rem}h3{font-size:1rem;margin:1.2rem 0 .4rem}
.en{color:#555;font-weight:normal}table{border-collapse:collapse;width:100%;margin:.4rem 0;
 font-size:.85rem}th,td{border:1px solid #ccc;padding:.25rem .45rem;text-align:left;
 vertical-align:top}th{background:#eef2f8}td.num{text-align:right;font-variant-numeric:
 tabular-nums}.bad{color:#b00020;font-weight:600}.ok{color:#1b7f3b}.meta{color:#444;
 font-size:.9rem}code{font-family:"DejaVu Sans Mono",monospace;font-size:.8rem}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.chart{max-width:100%;height:auto}
dl.defs dt{font-weight:600;margin-top:.4rem}dl.defs dd{margin-left:1rem}
.signoff{margin-top:2.5rem;border:1px solid #888;padding:1rem;break-inside:avoid}
.signoff table td{height:2.4rem;border:none;border-bottom:1px solid #888}
.signoff table th{background:none;border:none;width:18%}
.running{display:none}
@page{size:A4;margin:16mm 12mm 18mm 12mm;
 @top-left{content:"数据质量报告 / Data quality report · RUN_ID";font-size:8pt;color:#555}
 @top-right{content:"hrss-hub";font-size:8pt;color:#555}
 @bottom-right{content:"第 " counter(page) " 页，共 " counter(pages) " 页 · page "
  counter(page) " of " counter(pages);font-size:8pt;color:#555}}
@media print{body{margin:0;max-width:none;font-size:10pt}a{color:inherit;
 text-decoration:none}h2{break-after:avoid}thead{display:table-header-group}
 tfoot{display:table-footer-group}table{break-inside:auto}tr{break-inside:avoid}
 .chart{break-inside:avoid}.noprint{display:none}}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _bi(zh: str, en: str) -> str:
    return f'{_e(zh)} <span class="en">/ {_e(en)}</span>'


def _rule(entry: dict[str, Any]) -> str:
    """A rule id with its labels from the rule registry."""
    zh, en = entry.get("label") or label(str(entry["rule"]))
    return f'<code>{_e(entry["rule"])}</code><br>{_bi(zh, en)}'


def _pct(value: float | None) -> str:
    if value is None:
        return "–"
    cls = "ok" if value >= 99 else "bad" if value < 95 else ""
    return f'<span class="{cls}">{value:.2f}%</span>'


def _head(*cols: tuple[str, str]) -> str:
    """A table head row (repeated on every printed page)."""
    return "<thead><tr>" + "".join(f"<th>{_bi(z, e)}</th>" for z, e in cols) + "</tr></thead>"


def _summary_table(data: dict[str, Any]) -> list[str]:
    parts = ['<table id="summary">' + _head(
        ("系统", "System"), ("数据流", "Stream"), ("实体", "Entity"), ("状态", "Status"),
        ("读取", "Read"), ("发布", "Published"), ("隔离", "Quarantined"), ("过滤", "Filtered"),
        ("通过率", "Pass rate"), ("隔离行下载(脱敏)", "Quarantined rows (masked)")) + "<tbody>"]
    for s in data["streams"]:
        d = s.get("downloads")
        qlink = (f'<a href="{_e(d["csv"])}">CSV</a> · <a href="{_e(d["xlsx"])}">XLSX</a>'
                 if d else "–")
        sid = f'{s["system"]}.{s["stream"]}'
        parts.append(
            f'<tr data-stream="{_e(sid)}"><td>{_e(s["system"])}</td><td>{_e(s["stream"])}</td>'
            f'<td>{_e(s["entity"])}</td><td>{_e(s["status"])}</td>'
            f'<td class="num">{s["read"]}</td><td class="num">{s["published"]}</td>'
            f'<td class="num quarantined">{s["quarantined"]}</td>'
            f'<td class="num">{s["filtered"]}</td><td class="num">{_pct(s["pass_rate"])}</td>'
            f"<td>{qlink}</td></tr>")
    parts.append("</tbody></table>")
    return parts


def _scores(data: dict[str, Any]) -> list[str]:
    parts = [f"<h2>{_bi('各来源系统质量得分', 'Quality score per source system')}</h2>",
             '<table id="scores">' + _head(
                 ("来源系统", "Source system"), ("完整性", "Completeness"),
                 ("有效性", "Validity"), ("时效性", "Timeliness"), ("得分", "Score"),
                 ("统计运行数", "Runs counted")) + "<tbody>"]
    for sc in data.get("scores", []):
        parts.append(
            f'<tr data-system="{_e(sc["system"])}"><td>{_e(sc["system"])}</td>'
            f'<td class="num">{_pct(sc["completeness"])}</td>'
            f'<td class="num">{_pct(sc["validity"])}</td>'
            f'<td class="num">{_pct(sc["timeliness"])}</td>'
            f'<td class="num score"><b>{_pct(sc["score"])}</b></td>'
            f'<td class="num">{sc["runs_in_window"]}</td></tr>')
    parts.append("</tbody></table><dl class=\"defs\" id=\"score-definitions\">")
    for d in data.get("score_definitions", []):
        parts.append(f"<dt>{_e(d['key'])}</dt><dd>{_e(d['zh'])}<br>"
                     f'<span class="en">{_e(d["en"])}</span></dd>')
    parts.append("</dl>")
    return parts


def _charts(data: dict[str, Any]) -> list[str]:
    by_rule = [(f'{r["label"][0]} {r["rule"]}', float(r["rows"]))
               for r in data.get("quarantined_by_rule", [])]
    by_stream = sorted(((f'{s["system"]}.{s["stream"]}', float(s["quarantined"]))
                        for s in data["streams"]), key=lambda kv: -kv[1])
    parts = [f"<h2>{_bi('隔离行分布', 'Quarantined rows')}</h2>", '<div class="charts">',
             bar_chart(by_rule, title="按规则的隔离行数 / Quarantined rows by rule",
                       value_label="行数 / rows", category_label="规则 / rule",
                       chart_id="chart-by-rule"),
             bar_chart(by_stream, title="按数据流的隔离行数 / Quarantined rows by stream",
                       value_label="行数 / rows", category_label="数据流 / stream",
                       chart_id="chart-by-stream"),
             "</div>"]
    return parts


def _trends(data: dict[str, Any]) -> list[str]:
    st = data.get("stream_trend") or {}
    labels = st.get("labels", [])
    parts = [f"<h2>{_bi('各数据流最近运行趋势', 'Trend per stream over the last runs')}</h2>",
             '<div class="charts">',
             line_chart(labels, list((st.get("pass_rate") or {}).items()),
                        title="各数据流通过率 / Pass rate per stream",
                        x_label="运行开始时间 (UTC) / run started (UTC)",
                        y_label="通过率 % / pass rate %", chart_id="chart-trend-pass-rate",
                        y_max=100.0),
             line_chart(labels, [(k, [None if v is None else float(v) for v in vs])
                                 for k, vs in (st.get("quarantined") or {}).items()],
                        title="各数据流隔离行数 / Quarantined rows per stream",
                        x_label="运行开始时间 (UTC) / run started (UTC)",
                        y_label="隔离行数 / quarantined rows",
                        chart_id="chart-trend-quarantined", y_min=0.0),
             "</div>"]
    parts.append('<table id="trend">' + _head(
        ("运行", "Run"), ("开始", "Started"), ("状态", "Status"), ("读取", "Read"),
        ("发布", "Published"), ("隔离", "Quarantined"), ("通过率", "Pass rate")) + "<tbody>")
    for t in data["trend"]:
        parts.append(f'<tr><td><code>{_e(t["run_id"])}</code></td><td>{_e(t["started_at"])}'
                     f'</td><td>{_e(t["status"])}</td><td class="num">{t.get("read", 0)}</td>'
                     f'<td class="num">{t.get("published", 0)}</td>'
                     f'<td class="num">{t.get("quarantined", 0)}</td>'
                     f'<td class="num">{_pct(t["pass_rate"])}</td></tr>')
    parts.append("</tbody></table>")
    return parts


def _rules_by_stream(data: dict[str, Any]) -> list[str]:
    parts = [f"<h2>{_bi('按规则的通过率', 'Pass rate by rule')}</h2>"]
    for s in data["streams"]:
        if not s["rules"] and not s["expectations"]:
            continue
        sid = f'{s["system"]}.{s["stream"]}'
        parts.append(f"<h3>{_e(s['system'])} / {_e(s['stream'])} → {_e(s['entity'])}</h3>")
        if s.get("gx_rows") is not None and s["gx_rows"] < (s.get("validated_rows") or 0):
            parts.append(f'<p class="note">{_bi("GX 列为前", "GX column: the first")} '
                         f'{s["gx_rows"]:,} {_bi("行抽样", "rows (sample)")}</p>')
        parts.append(f'<table class="rules" data-stream="{_e(sid)}">' + _head(
            ("规则", "Rule"), ("字段", "Field"), ("级别", "Severity"), ("校验行数", "Rows"),
            ("不符合", "Failed"), ("GX", "GX"), ("通过率", "Pass rate")) + "<tbody>")
        shown = [e for e in s["expectations"] if e["unexpected"] or e["gx_unexpected"]]
        for e in shown:
            parts.append(
                f'<tr data-rule="{_e(e["rule"])}" data-field="{_e(e["field"])}">'
                f'<td>{_rule(e)}</td><td>{_e(e["field"])}</td><td>{_e(e["severity"])}</td>'
                f'<td class="num">{e["evaluated"]}</td>'
                f'<td class="num failed">{e["unexpected"]}</td>'
                f'<td class="num">{_e(e["gx_unexpected"])}</td>'
                f'<td class="num">{_pct(e["pass_rate"])}</td></tr>')
        # a recorded rule (code_unmapped) is covered by the expectations that count it
        covered = {r for e in shown for r in registry().counted_by(e["rule"])}
        for r in s["rules"]:
            if r["rule"] not in covered:
                parts.append(
                    f'<tr data-rule="{_e(r["rule"])}"><td>{_rule(r)}</td><td>–</td>'
                    f'<td>gate</td><td class="num">{s["read"] - s["filtered"]}</td>'
                    f'<td class="num failed">{r["failed"]}</td><td>–</td>'
                    f'<td class="num">{_pct(r["pass_rate"])}</td></tr>')
        passed = len(s["expectations"]) - len(shown)
        parts.append(f'<tr><td colspan="7" class="meta">{passed} '
                     f"{_bi('项期望全部通过', 'other expectations passed on every row')}"
                     "</td></tr></tbody></table>")
    return parts


def _examples(data: dict[str, Any]) -> list[str]:
    title = _bi("每条规则的隔离示例（已脱敏）", "Examples of every rule (masked)")
    parts = [f"<h2>{title}</h2>",
             '<p class="meta">参考编号可直接用于 <code>hrss-hub quarantine release|reject '
             "REF --system SYSTEM</code>. The reference id works in place of the source key "
             "there.</p>",
             '<table id="worst">' + _head(
                 ("系统/数据流", "System/stream"), ("规则", "Rule"), ("行数", "Rows"),
                 ("参考编号 · 主键(脱敏)", "Reference · source key (masked)"),
                 ("示例", "Example: field = value @ source location")) + "<tbody>"]
    for w in data["worst_offenders"]:
        for k, x in enumerate(w["examples"] or [{}]):
            lead = (f'<td rowspan="{max(len(w["examples"]), 1)}">{_e(w["system"])}/'
                    f'{_e(w["stream"])}</td><td rowspan="{max(len(w["examples"]), 1)}">'
                    f'{_rule(w)}</td><td class="num" rowspan="{max(len(w["examples"]), 1)}">'
                    f'{w["failed"]}</td>') if k == 0 else ""
            ref = (f'<code class="ref">{_e(x["ref"])}</code><br><code>{_e(x["source_key"])}'
                   "</code>") if x else "–"
            ex = (f'<code>{_e(x["field"])} = {_e(x["value"])}</code> @ {_e(x["location"])}'
                  if x else "–")
            parts.append(f'<tr data-rule="{_e(w["rule"])}">{lead}<td>{ref}</td>'
                         f"<td>{ex}</td></tr>")
    parts.append("</tbody></table>")
    return parts


def _signoff() -> list[str]:
    rows = [("审核意见", "Findings"), ("审核人", "Reviewed by"), ("签字", "Signature"),
            ("日期", "Date"), ("单位（盖章）", "Organisation (seal)")]
    return ['<section class="signoff" id="sign-off">',
            f"<h2>{_bi('审核签字', 'Sign-off')}</h2><table>"
            + "".join(f"<tr><th>{_bi(z, e)}</th><td></td></tr>" for z, e in rows)
            + "</table></section>"]


def render_html(data: dict[str, Any]) -> str:
    """The report page for :func:`build_report_data`'s output."""
    run_label = re.sub(r"[^0-9A-Za-z_.:-]", "", str(data["run_id"]))
    parts = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>数据质量报告 / Data quality report {_e(data['run_id'])}</title>",
        f"<style>{_CSS.replace('RUN_ID', run_label)}</style></head><body>",
        f"<h1>{_bi('数据质量报告', 'Data quality report')}</h1>",
        f'<p class="meta">{_bi("运行批次", "Run")}: <code id="run-id">{_e(data["run_id"])}'
        f'</code> · {_bi("状态", "status")}: <b id="run-status">{_e(data["status"])}</b> · '
        f'{_e(data["started_at"])} → {_e(data["finished_at"])} · hub {_e(data["hub_id"])}</p>',
    ]
    if data["data_docs"]:
        parts.append(f'<p><a id="data-docs" href="{_e(data["data_docs"])}">'
                     f'{_bi("Great Expectations 数据文档", "Great Expectations Data Docs")}'
                     "</a></p>")
    parts.append(f"<h2>{_bi('各系统与实体汇总', 'Summary per system and entity')}</h2>")
    parts += _summary_table(data)
    parts += _scores(data)
    parts += _charts(data)
    parts += _rules_by_stream(data)
    parts += _examples(data)
    parts += _trends(data)
    parts.append('<p class="meta">通过率 = 发布行数 / (读取 − 过滤)；'
                 "规则通过率 = 1 − 不符合行数 / 校验行数。"
                 " Pass rate = published / (read − filtered); per rule: 1 − failed / rows. "
                 "GX = Great Expectations' own count on the same rows (SUMMARY). "
                 "身份证号等标识已脱敏 · identifiers are masked.</p>")
    parts += _signoff()
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(cfg: Any, run_id: str | None = None) -> Path:
    """Write ``report.html`` + ``report.json`` and the masked quarantine downloads of a run
    (default: the latest run that extracted data)."""
    from hrss_hub.quality.quarantine_export import export_quarantine

    data = build_report_data(cfg, run_id)
    out_dir: Path = cfg.reports_dir / data["run_id"]
    out_dir.mkdir(parents=True, exist_ok=True)
    for s in data["streams"]:
        if s.get("downloads"):
            export_quarantine(out_dir / str(s["quarantine_file"]), out_dir / EXPORT_DIR,
                              f'{s["system"]}.{s["stream"]}')
    (out_dir / "report.json").write_text(json.dumps(data, ensure_ascii=False, indent=1),
                                         encoding="utf-8")
    path = out_dir / "report.html"
    path.write_text(render_html(data), encoding="utf-8")
    return path
