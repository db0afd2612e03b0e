"""The catalog: what an exchange holds (datasets, versions, schemas, rows, quality,
recipients), as JSON for tools and as one static HTML page for people."""

from __future__ import annotations

import html
from typing import Any

from hrss_hub.exchange.commit import committed_versions, read_manifest, read_pointer
from hrss_hub.exchange.policy import Agreement
from hrss_hub.exchange.storage import Store


def build_catalog(store: Store, agreements: list[Agreement] | None = None,
                  shares: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Describe every dataset in ``store`` (its current version in full, older ones briefly);
    ``shares`` is the sharing server's section (:func:`hrss_hub.share.catalog.share_section`)."""
    datasets = []
    for name in store.listdir():
        if name.startswith(".") or not store.exists(f"{name}/CURRENT"):
            continue
        pointer = read_pointer(store, name)
        assert pointer is not None
        manifest, _ = read_manifest(store, name, pointer.version)
        versions = []
        for n in committed_versions(store, name):
            m, _ = read_manifest(store, name, n)
            versions.append({"version": n, "rows": m["rows"], "created_at": m["created_at"]})
        recipients = [
            {"recipient": a.recipient_id, "name": a.recipient_name, "purpose": a.purpose,
             "columns": dict(a.datasets[name].columns),
             "division_prefix": list(a.datasets[name].division_prefixes or []) or None,
             "valid_to": a.valid_to.isoformat()}
            for a in agreements or [] if name in a.datasets]
        datasets.append({
            "dataset": name,
            "current_version": pointer.version,
            "manifest_sha256": pointer.manifest_sha256,
            "rows": manifest["rows"],
            "created_at": manifest["created_at"],
            "standard_version": manifest.get("standard_version"),
            "key": manifest.get("key"),
            "schema_fingerprint": manifest["schema_fingerprint"],
            "schema": manifest["schema"],
            "publisher": manifest.get("publisher"),
            "recipient": manifest.get("recipient"),
            "quality": manifest.get("quality"),
            "lineage": {k: manifest.get("lineage", {}).get(k)
                        for k in ("systems", "runs", "merge", "upstream")},
            "files": len(manifest["files"]),
            "versions": versions,
            "recipients": recipients,
        })
    return {"root": store.display(), "datasets": datasets, "shares": shares or []}


def render_html(catalog: dict[str, Any]) -> str:
    """A self-contained HTML page (no scripts, no external assets)."""
    e = html.escape
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<title>hrss-hub 数据目录 / catalog</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}",
        "table{border-collapse:collapse;margin:.5em 0 1.5em}",
        "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;font-size:.9em}",
        "code{font-size:.85em}</style></head><body>",
        f"<h1>数据目录 · Catalog</h1><p>root: <code>{e(str(catalog['root']))}</code></p>",
    ]
    if not catalog["datasets"]:
        parts.append("<p>No dataset published yet.</p>")
    for d in catalog["datasets"]:
        q = d.get("quality") or {}
        parts.append(f"<h2 id='{e(d['dataset'])}'>{e(d['dataset'])} "
                     f"<small>v{d['current_version']}</small></h2>")
        parts.append("<table>" + "".join(
            f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in [
                ("rows", d["rows"]), ("created", d["created_at"]),
                ("standard", d["standard_version"]), ("key", ", ".join(d["key"] or [])),
                ("publisher", d["publisher"]), ("manifest sha256", d["manifest_sha256"]),
                ("schema fingerprint", d["schema_fingerprint"]),
                ("quality (last run)", {k: q.get(k) for k in
                                        ("read", "published", "quarantined", "filtered")}),
                ("systems", ", ".join(d["lineage"].get("systems") or [])),
                ("versions kept", ", ".join(f"v{v['version']} ({v['rows']})"
                                            for v in d["versions"])),
            ]) + "</table>")
        parts.append("<table><tr><th>column</th><th>type</th><th>nullable</th></tr>" + "".join(
            f"<tr><td>{e(f['name'])}</td><td>{e(f['type'])}</td><td>{f['nullable']}</td></tr>"
            for f in d["schema"]) + "</table>")
        if d["recipients"]:
            parts.append("<table><tr><th>recipient</th><th>purpose</th><th>columns</th>"
                         "<th>rows</th><th>valid to</th></tr>" + "".join(
                f"<tr><td>{e(r['name'])} ({e(r['recipient'])})</td><td>{e(r['purpose'])}</td>"
                f"<td>{e(', '.join(f'{c}:{a}' for c, a in r['columns'].items()))}</td>"
                f"<td>{e(', '.join(r['division_prefix'] or ['all']))}</td>"
                f"<td>{e(r['valid_to'])}</td></tr>" for r in d["recipients"]) + "</table>")
    from hrss_hub.share.catalog import render_shares_html

    parts.append(render_shares_html(catalog.get("shares")))
    parts.append("</body></html>")
    return "\n".join(parts)
