"""The catalog: what an exchange holds, as JSON for tools and one static HTML page.

Per table: its current signed version, kept versions (time travel), schema with the
standard's bilingual labels (字段 / field), partition columns, rows, quality of the runs
it absorbed, lineage, the recipients whose agreements cover it, and the publisher key
that signed it. The ``publishers`` section **pins** those keys: a recipient keeps the
catalog it received through a trusted channel and runs ``hrss-hub verify --catalog
catalog.json``, which then accepts no data re-signed with another key. The page needs
no script and no external asset (government intranets).
"""

from __future__ import annotations

import html
from typing import Any

from hrss_hub.exchange.commit import manifest_versions, read_manifest
from hrss_hub.exchange.manifest import signature_rel
from hrss_hub.exchange.policy import Agreement
from hrss_hub.exchange.signing import parse_signature
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.suites import PublicKey
from hrss_hub.exchange.tables import Table
from hrss_hub.exchange.verify import find_tables
from hrss_hub.standard.model import Standard

FORMAT = "hrss-hub/catalog/2"


def _labels(standard: Standard | None, dataset: str) -> tuple[dict[str, str],
                                                              dict[str, dict[str, str]]]:
    if standard is None or dataset not in standard.entities:
        return {}, {}
    entity = standard.entity(dataset)
    fields = {f.name: {"zh": f.label_zh, "en": f.label_en}
              for f in (*entity.fields, *entity.lineage_fields)}
    return {"zh": entity.label_zh, "en": entity.label_en}, fields


def _signer(table: Table, version: int) -> dict[str, str] | None:
    try:
        _, public, _ = parse_signature(table.hub.read_bytes(signature_rel(version)))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    return {"suite": public.suite, "key_id": public.key_id, "public_key": public.pem()}


def describe_table(table: Table, standard: Standard | None = None,
                   agreements: list[Agreement] | None = None) -> dict[str, Any] | None:
    """The catalog entry of one table (``None`` when it has no signed version)."""
    versions = manifest_versions(table)
    if not versions:
        return None
    manifest, _ = read_manifest(table, versions[-1])
    label, field_labels = _labels(standard, table.name)
    kept = []
    log = set(table.log_versions())
    for n in versions:
        m, _ = read_manifest(table, n)
        kept.append({"version": n, "operation": m.get("operation"), "rows": m["rows"],
                     "created_at": m["created_at"], "readable": n in log})
    recipients = [
        {"recipient": a.recipient_id, "name": a.recipient_name, "purpose": a.purpose,
         "columns": dict(a.datasets[table.name].columns),
         "division_prefix": list(a.datasets[table.name].division_prefixes or []) or None,
         "valid_from": a.valid_from.isoformat(), "valid_to": a.valid_to.isoformat()}
        for a in agreements or [] if table.name in a.datasets]
    signer = _signer(table, versions[-1])
    lineage = manifest.get("lineage", {})
    return {
        "dataset": table.name,
        "label": label,
        "location": table.display(),
        "current_version": versions[-1],
        "rows": manifest["rows"],
        "created_at": manifest["created_at"],
        "standard_version": manifest.get("standard_version"),
        "key": manifest.get("key"),
        "partition_columns": manifest.get("partition_columns", []),
        "schema_fingerprint": manifest["schema_fingerprint"],
        "schema": [{**f, "label": field_labels.get(f["name"], {})} for f in manifest["schema"]],
        "publisher": manifest.get("publisher"),
        "recipient": manifest.get("recipient"),
        "policy": manifest.get("policy"),
        "quality": manifest.get("quality"),
        "lineage": {k: lineage.get(k) for k in ("systems", "runs", "merge", "upstream")},
        "files": len(manifest["files"]),
        "signature_suite": manifest.get("signature_suite"),
        "signer_key_id": None if signer is None else signer["key_id"],
        "versions": kept,
        "recipients": recipients,
        "_signer": signer,
    }


def build_catalog(store: Store, agreements: list[Agreement] | None = None,
                  shares: list[dict[str, Any]] | None = None,
                  standard: Standard | None = None) -> dict[str, Any]:
    """Describe every table in ``store`` (an exchange root or an outbox root).

    ``shares`` is the sharing server's section (:func:`hrss_hub.share.catalog.share_section`).
    """
    datasets = []
    publishers: dict[str, dict[str, Any]] = {}
    for table in find_tables(store):
        entry = describe_table(table, standard, agreements)
        if entry is None:
            continue
        signer = entry.pop("_signer")
        if signer is not None:
            pub = publishers.setdefault(signer["key_id"], {**signer, "hubs": []})
            hub = (entry.get("publisher") or {}).get("hub_id")
            if hub and hub not in pub["hubs"]:
                pub["hubs"].append(hub)
        datasets.append(entry)
    return {"format": FORMAT, "root": store.display(), "datasets": datasets,
            "publishers": sorted(publishers.values(), key=lambda p: p["key_id"]),
            "shares": shares or []}


def pinned_keys(catalog: dict[str, Any]) -> list[PublicKey]:
    """The publisher keys a catalog pins (for ``verify --catalog``)."""
    from hrss_hub.exchange.suites import load_public_pem

    return [load_public_pem(str(p["public_key"]), "catalog") for p in
            catalog.get("publishers", [])]


def render_html(catalog: dict[str, Any]) -> str:
    """A self-contained HTML page (no scripts, no external assets)."""
    e = html.escape
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<title>hrss-hub 数据目录 / catalog</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:75em}",
        "table{border-collapse:collapse;margin:.5em 0 1.5em}",
        "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;font-size:.9em}",
        "code{font-size:.85em}</style></head><body>",
        f"<h1>数据目录 · Catalog</h1><p>位置 root: <code>{e(str(catalog['root']))}</code></p>",
    ]
    if not catalog["datasets"]:
        parts.append("<p>尚未发布数据 · No dataset published yet.</p>")
    for d in catalog["datasets"]:
        q = d.get("quality") or {}
        label = d.get("label") or {}
        title = f"{label.get('zh', '')} · {label.get('en', '')}" if label else ""
        parts.append(f"<h2 id='{e(d['dataset'])}'>{e(d['dataset'])} "
                     f"<small>{e(title)} v{d['current_version']}</small></h2>")
        parts.append("<table>" + "".join(
            f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in [
                ("行数 rows", d["rows"]), ("时间 created", d["created_at"]),
                ("标准 standard", d["standard_version"]),
                ("主键 key", ", ".join(d["key"] or [])),
                ("分区 partitions", ", ".join(d["partition_columns"] or []) or "-"),
                ("发布方 publisher", d["publisher"]),
                ("签名 signature", f"{d['signature_suite']} {d['signer_key_id']}"),
                ("模式指纹 schema fingerprint", d["schema_fingerprint"]),
                ("质量 quality", {k: q.get(k) for k in
                                  ("read", "published", "quarantined", "staged_rows")}),
                ("来源系统 systems", ", ".join(d["lineage"].get("systems") or [])),
                ("版本 versions", ", ".join(f"v{v['version']} {v['operation']} ({v['rows']})"
                                            for v in d["versions"])),
            ]) + "</table>")
        parts.append("<table><tr><th>字段 column</th><th>名称 label</th><th>type</th>"
                     "<th>nullable</th></tr>" + "".join(
            f"<tr><td>{e(f['name'])}</td><td>{e(f['label'].get('zh', ''))} / "
            f"{e(f['label'].get('en', ''))}</td><td>{e(f['type'])}</td>"
            f"<td>{f['nullable']}</td></tr>" for f in d["schema"]) + "</table>")
        if d["recipients"]:
            parts.append("<table><tr><th>接收方 recipient</th><th>用途 purpose</th>"
                         "<th>字段 columns</th><th>范围 rows</th><th>有效期 valid</th></tr>"
                         + "".join(
                f"<tr><td>{e(r['name'])} ({e(r['recipient'])})</td><td>{e(r['purpose'])}</td>"
                f"<td>{e(', '.join(f'{c}:{a}' for c, a in r['columns'].items()))}</td>"
                f"<td>{e(', '.join(r['division_prefix'] or ['all']))}</td>"
                f"<td>{e(r['valid_from'])}..{e(r['valid_to'])}</td></tr>"
                for r in d["recipients"]) + "</table>")
    if catalog.get("publishers"):
        parts.append("<h2 id='publishers'>发布方公钥 · Pinned publisher keys</h2><table>"
                     "<tr><th>key id</th><th>suite</th><th>hubs</th><th>public key</th></tr>"
                     + "".join(
            f"<tr><td><code>{e(p['key_id'])}</code></td><td>{e(p['suite'])}</td>"
            f"<td>{e(', '.join(p['hubs']))}</td><td><pre>{e(p['public_key'])}</pre></td></tr>"
            for p in catalog["publishers"]) + "</table>")
    from hrss_hub.share.catalog import render_shares_html

    parts.append(render_shares_html(catalog.get("shares")))
    parts.append("</body></html>")
    return "\n".join(parts)
