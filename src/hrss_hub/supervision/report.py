"""The supervision section of the quality report: findings by check and status, the trend
over the last runs, and an evidence drill-down with every identifier masked.

:func:`section` gathers the data (JSON, ``report.json``), :func:`section_html` renders it;
the report (:mod:`hrss_hub.quality.report`) calls both and owns the page around them.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from hrss_hub.ledger.models import Finding, FindingEvent
from hrss_hub.supervision.lifecycle import FindingStore

#: open findings shown with their evidence (the rest are counted)
DRILL_DOWN = 20
TREND_RUNS = 10
STATUSES = ("open", "confirmed", "dismissed", "resolved")


def section(cfg: Any, ledger: Any) -> dict[str, Any]:
    """Counts by check and status, per-run trend, masked evidence of open findings."""
    from hrss_hub.quality.report import mask_id
    from hrss_hub.standard.model import load_standard
    from hrss_hub.supervision.spec import load_checks

    store = FindingStore(ledger)
    findings = store.all()
    standard = load_standard(cfg.standard_dir)
    checks = {c.id: c for c in load_checks(cfg.supervision_dir, frozenset(standard.entities))}
    counts: dict[str, Counter[str]] = {c: Counter() for c in checks}
    for f in findings:
        counts.setdefault(f.check_id, Counter())[f.status] += 1
    with store._tx() as s:
        rows = s.execute(select(FindingEvent.run_id, FindingEvent.action, func.count())
                         .where(FindingEvent.run_id.is_not(None))
                         .group_by(FindingEvent.run_id, FindingEvent.action)).all()
        open_total = s.scalar(select(func.count()).select_from(Finding)
                              .where(Finding.status == "open"))
    per_run: dict[str, Counter[str]] = {}
    for run_id, action, n in rows:
        per_run.setdefault(str(run_id), Counter())[str(action)] += int(n)
    trend = [{"run_id": r, **{a: per_run[r].get(a, 0) for a in ("found", "reopened",
                                                                  "resolved")}}
             for r in sorted(per_run)[-TREND_RUNS:]]
    evidence = _evidence(cfg, standard)
    drill = []
    for f in [f for f in findings if f.status == "open"][:DRILL_DOWN]:
        drill.append({"id": f.id, "check": f.check_id, "severity": f.severity,
                      "divisions": list(f.divisions),
                      "evidence": json.loads(mask_id(evidence.get(f.id, "[]")))})
    return {
        "checks": [{"id": cid, "title_zh": checks[cid].title_zh if cid in checks else cid,
                    "title_en": checks[cid].title_en if cid in checks else cid,
                    "severity": checks[cid].severity if cid in checks else None,
                    **{st: counts[cid].get(st, 0) for st in STATUSES}}
                   for cid in sorted(counts)],
        "open": int(open_total or 0), "trend": trend, "drill_down": drill}


def _evidence(cfg: Any, standard: Any) -> dict[str, str]:
    from hrss_hub.exchange.versions import exchange_store
    from hrss_hub.master.derived import published

    rows = published(exchange_store(cfg), standard.entity("finding"),
                     ["finding_id", "evidence"]).to_pylist()
    return {str(r["finding_id"]): str(r["evidence"]) for r in rows}


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def section_html(data: dict[str, Any] | None) -> str:
    """The section as HTML (inline, no scripts); empty without data."""
    if not data:
        return ""
    out = ['<h2>监督比对疑点 <span class="en">Supervision findings</span></h2>',
           '<table id="supervision"><tr><th>比对规则 <span class="en">Check</span></th>'
           '<th>风险 <span class="en">Severity</span></th>'
           + "".join(f'<th>{s}</th>' for s in STATUSES) + "</tr>"]
    for c in data["checks"]:
        out.append(f'<tr><td>{_e(c["title_zh"])} <span class="en">{_e(c["title_en"])}</span>'
                   f'<br><code>{_e(c["id"])}</code></td><td>{_e(c["severity"])}</td>'
                   + "".join(f'<td class="num">{c[s]}</td>' for s in STATUSES) + "</tr>")
    out.append("</table>")
    if data["trend"]:
        out.append('<h3>趋势 <span class="en">Trend (per run: found, reopened, resolved)</span>'
                   '</h3><table id="supervision-trend"><tr><th>run</th><th>found</th>'
                   "<th>reopened</th><th>resolved</th></tr>")
        for t in data["trend"]:
            out.append(f'<tr><td><code>{_e(t["run_id"])}</code></td><td class="num">'
                       f'{t["found"]}</td><td class="num">{t["reopened"]}</td>'
                       f'<td class="num">{t["resolved"]}</td></tr>')
        out.append("</table>")
    if data["drill_down"]:
        out.append('<h3>待核查疑点证据 <span class="en">Open findings: evidence '
                   '(identifiers masked)</span></h3><table id="supervision-evidence"><tr>'
                   "<th>finding</th><th>check</th><th>divisions</th><th>evidence</th></tr>")
        for d in data["drill_down"]:
            rows = "<br>".join(
                "<code>" + _e(", ".join(f"{k}={v}" for k, v in sorted(r.items()))) + "</code>"
                for r in d["evidence"])
            out.append(f'<tr><td><code>{_e(d["id"])}</code></td><td>{_e(d["check"])}</td>'
                       f'<td>{_e(",".join(d["divisions"]))}</td><td>{rows}</td></tr>')
        out.append("</table>")
    return "\n".join(out)
