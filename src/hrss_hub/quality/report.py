"""The per-run quality report for auditors: one self-contained, printable, bilingual HTML page.

``write_report(cfg, run_id)`` writes ``<reports_dir>/<run_id>/report.html`` and
``report.json`` from the ledger (the run summary, trends over the last runs), the run's
validation files (pass rate per expectation, GX's counts) and quarantine files (the worst
offenders with examples). Identifiers in examples are masked (``510107********123X``).
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
from hrss_hub.quality.rules import label, registry
from hrss_hub.quality.validate import gx_root, load_validations

_ID_LIKE = re.compile(r"[0-9A-Za-z]{15,18}")
EXAMPLES_PER_RULE = 3
TREND_RUNS = 10


def mask_id(value: str) -> str:
    """Mask every ID-like token (15–18 alphanumerics): first 6 and last 4 characters kept."""
    def repl(m: re.Match[str]) -> str:
        s = m.group(0)
        return s[:6] + "*" * (len(s) - 10) + s[-4:]
    return _ID_LIKE.sub(repl, value)


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def _offenders(qfile: Path) -> tuple[Counter[str], dict[str, list[dict[str, str]]]]:
    """Per-rule row counts and a few masked examples, read column-wise by row group."""
    counts: Counter[str] = Counter()
    examples: dict[str, list[dict[str, str]]] = {}
    pf = pq.ParquetFile(qfile)
    for i in range(pf.num_row_groups):
        t = pf.read_row_group(i, columns=["rules", "fields", "offending_values", "location",
                                          "source_key"])
        rules = t["rules"].to_pylist()
        # only the first few rows of each rule need more than the rule list
        for row, rlist in enumerate(rules):
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
                    })
    return counts, examples


def build_report_data(cfg: Any, run_id: str | None = None) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready data (``hrss-hub report --json``)."""
    from hrss_hub.ledger import Ledger

    ledger = Ledger.open(cfg.ledger_url)
    try:
        recent = ledger.recent_runs(TREND_RUNS + 20)
        if run_id is None:
            if not recent:
                raise HubError("no runs in the ledger", {"ledger": ledger.safe_url},
                               "run the hub first: hrss-hub run")
            run_id = recent[0].id
        run = ledger.get_run(run_id)
        if run is None:
            raise HubError("unknown run", {"run": run_id},
                           "list runs with: hrss-hub report --list")
        from hrss_hub.supervision.report import section

        supervision = section(cfg, ledger)
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
            if qfile and Path(qfile).exists():
                counts, examples = _offenders(Path(qfile))
            rules = [{"rule": r, "label": label(r), "failed": n,
                      "pass_rate": round(100.0 * (rows - n) / rows, 2) if rows else 100.0,
                      "examples": examples.get(r, [])}
                     for r, n in sorted((st.get("quarantined_by_rule") or {}).items(),
                                        key=lambda kv: -kv[1])]
            streams.append({
                "system": st["system"], "stream": st["stream"], "entity": st.get("entity"),
                "status": st.get("status"), "read": st.get("read", 0),
                "published": st.get("published", 0), "quarantined": st.get("quarantined", 0),
                "filtered": st.get("filtered", 0),
                "pass_rate": round(100.0 * st.get("published", 0) / rows, 2) if rows else 100.0,
                "rules": rules, "expectations": expectations,
                "quarantine_file": _rel(Path(qfile), out_dir) if qfile else None,
                "quarantine_rows_checked": sum(counts.values()),
                "gx_rows": (v or {}).get("gx_rows"),
                "validated_rows": (v or {}).get("rows"),
            })
    worst = sorted(({"system": s["system"], "stream": s["stream"], "entity": s["entity"], **r}
                    for s in streams for r in s["rules"]), key=lambda r: -int(r["failed"]))[:10]
    trend = []
    for r in sorted(recent[:TREND_RUNS], key=lambda r: r.started_at):
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
        "data_docs": _rel(docs[0], out_dir) if docs else None,
        "supervision": supervision,
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
 font-size:.9rem}.bar{display:inline-block;height:.6rem;background:#2b5797;margin-left:.3rem}
code{font-family:"DejaVu Sans Mono",monospace;font-size:.8rem}
@media print{body{margin:0;max-width:none}a{color:inherit;text-decoration:none}
 h2{page-break-after:avoid}table{page-break-inside:auto}tr{page-break-inside:avoid}}
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


def _trend_svg(trend: list[dict[str, Any]]) -> str:
    points = [t for t in trend if t["pass_rate"] is not None]
    if not points:
        return ""
    w, h, pad = 600, 120, 20
    lo = min(min(p["pass_rate"] for p in points), 90.0)
    step = (w - 2 * pad) / max(len(points) - 1, 1)
    coords = [(pad + i * step, h - pad - (p["pass_rate"] - lo) / (100 - lo or 1) * (h - 2 * pad))
              for i, p in enumerate(points)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#2b5797">'
                   f'<title>{_e(p["run_id"])}: {p["pass_rate"]:.2f}%</title></circle>'
                   for (x, y), p in zip(coords, points, strict=True))
    return (f'<svg role="img" aria-label="pass rate trend" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}"><rect width="{w}" height="{h}" fill="#fafafa"/>'
            f'<text x="4" y="14" font-size="10">100%</text>'
            f'<text x="4" y="{h - 6}" font-size="10">{lo:.0f}%</text>'
            f'<polyline fill="none" stroke="#2b5797" stroke-width="2" points="{line}"/>'
            f'{dots}</svg>')


def render_html(data: dict[str, Any]) -> str:
    """The report page for :func:`build_report_data`'s output."""
    parts = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>数据质量报告 / Data quality report {_e(data['run_id'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_bi('数据质量报告', 'Data quality report')}</h1>",
        f'<p class="meta">{_bi("运行批次", "Run")}: <code id="run-id">{_e(data["run_id"])}'
        f'</code> · {_bi("状态", "status")}: <b id="run-status">{_e(data["status"])}</b> · '
        f'{_e(data["started_at"])} → {_e(data["finished_at"])} · hub {_e(data["hub_id"])}</p>',
    ]
    if data["data_docs"]:
        parts.append(f'<p><a id="data-docs" href="{_e(data["data_docs"])}">'
                     f'{_bi("Great Expectations 数据文档", "Great Expectations Data Docs")}'
                     '</a></p>')
    parts.append(f"<h2>{_bi('各系统与实体汇总', 'Summary per system and entity')}</h2>")
    parts.append("<table id=\"summary\"><tr>" + "".join(f"<th>{_bi(z, e)}</th>" for z, e in [
        ("系统", "System"), ("数据流", "Stream"), ("实体", "Entity"), ("状态", "Status"),
        ("读取", "Read"), ("发布", "Published"), ("隔离", "Quarantined"), ("过滤", "Filtered"),
        ("通过率", "Pass rate"), ("隔离文件", "Quarantine file")]) + "</tr>")
    for s in data["streams"]:
        qlink = (f'<a href="{_e(s["quarantine_file"])}">{_e(Path(s["quarantine_file"]).name)}'
                 "</a>" if s["quarantine_file"] else "–")
        sid = f'{s["system"]}.{s["stream"]}'
        parts.append(
            f'<tr data-stream="{_e(sid)}"><td>{_e(s["system"])}</td><td>{_e(s["stream"])}</td>'
            f'<td>{_e(s["entity"])}</td><td>{_e(s["status"])}</td>'
            f'<td class="num">{s["read"]}</td><td class="num">{s["published"]}</td>'
            f'<td class="num quarantined">{s["quarantined"]}</td>'
            f'<td class="num">{s["filtered"]}</td><td class="num">{_pct(s["pass_rate"])}</td>'
            f"<td>{qlink}</td></tr>")
    parts.append("</table>")
    parts.append(f"<h2>{_bi('按规则的通过率', 'Pass rate by rule')}</h2>")
    for s in data["streams"]:
        if not s["rules"] and not s["expectations"]:
            continue
        sid = f'{s["system"]}.{s["stream"]}'
        parts.append(f"<h3>{_e(s['system'])} / {_e(s['stream'])} → {_e(s['entity'])}</h3>")
        parts.append(f'<table class="rules" data-stream="{_e(sid)}"><tr>'
                     f"<th>{_bi('规则', 'Rule')}</th><th>{_bi('字段', 'Field')}</th>"
                     f"<th>{_bi('级别', 'Severity')}</th><th>{_bi('校验行数', 'Rows')}</th>"
                     f"<th>{_bi('不符合', 'Failed')}</th><th>GX</th>"
                     f"<th>{_bi('通过率', 'Pass rate')}</th></tr>")
        if s.get("gx_rows") is not None and s["gx_rows"] < (s.get("validated_rows") or 0):
            parts.append(f'<p class="note">{_bi("GX 列为前", "GX column: the first")} '
                         f'{s["gx_rows"]:,} {_bi("行抽样", "rows (sample)")}</p>')
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
                     "</td></tr></table>")
    worst_title = _bi("问题最多的规则（示例已脱敏）", "Worst offenders (examples masked)")
    parts.append(f"<h2>{worst_title}</h2>")
    parts.append('<table id="worst"><tr>' + "".join(f"<th>{_bi(z, e)}</th>" for z, e in [
        ("系统/数据流", "System/stream"), ("规则", "Rule"), ("行数", "Rows"),
        ("示例", "Examples: field = value @ source location")]) + "</tr>")
    for w in data["worst_offenders"]:
        examples = "<br>".join(
            f'<code>{_e(x["field"])} = {_e(x["value"])}</code> @ {_e(x["location"])}'
            for x in w["examples"])
        parts.append(f'<tr><td>{_e(w["system"])}/{_e(w["stream"])}</td><td>{_rule(w)}'
                     f'</td><td class="num">{w["failed"]}</td><td>{examples}</td></tr>')
    parts.append("</table>")
    parts.append(f"<h2>{_bi('最近运行趋势', 'Trend over the last runs')}</h2>")
    parts.append(_trend_svg(data["trend"]))
    parts.append('<table id="trend"><tr>' + "".join(f"<th>{_bi(z, e)}</th>" for z, e in [
        ("运行", "Run"), ("开始", "Started"), ("状态", "Status"), ("读取", "Read"),
        ("发布", "Published"), ("隔离", "Quarantined"), ("通过率", "Pass rate")]) + "</tr>")
    for t in data["trend"]:
        parts.append(f'<tr><td><code>{_e(t["run_id"])}</code></td><td>{_e(t["started_at"])}'
                     f'</td><td>{_e(t["status"])}</td><td class="num">{t.get("read", 0)}</td>'
                     f'<td class="num">{t.get("published", 0)}</td>'
                     f'<td class="num">{t.get("quarantined", 0)}</td>'
                     f'<td class="num">{_pct(t["pass_rate"])}</td></tr>')
    parts.append("</table>")
    parts.append('<p class="meta">通过率 = 发布行数 / (读取 − 过滤)；'
                 "规则通过率 = 1 − 不符合行数 / 校验行数。"
                 " Pass rate = published / (read − filtered); per rule: 1 − failed / rows. "
                 "GX = Great Expectations' own count on the same rows (SUMMARY).</p>")
    from hrss_hub.supervision.report import section_html

    parts.append(section_html(data.get("supervision")))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(cfg: Any, run_id: str | None = None) -> Path:
    """Write ``report.html`` + ``report.json`` for a run (default: the latest)."""
    data = build_report_data(cfg, run_id)
    out_dir: Path = cfg.reports_dir / data["run_id"]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(data, ensure_ascii=False, indent=1),
                                         encoding="utf-8")
    path = out_dir / "report.html"
    path.write_text(render_html(data), encoding="utf-8")
    return path
