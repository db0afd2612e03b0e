"""The catalog: what an exchange holds, as JSON for tools and one static HTML page.

Per table: its current signed version, kept versions (time travel), schema with the
standard's bilingual labels (字段 / field), partition columns, rows, quality of the runs
it absorbed, lineage, the recipients whose agreements cover it, and the publisher key
that signed it. The ``publishers`` section **pins** those keys: a recipient keeps the
catalog it received through a trusted channel and runs ``hrss-hub verify --catalog
catalog.json``, which then accepts no data re-signed with another key. The page needs
no script and no external asset (government intranets).

The page is bilingual from the standard: each table's and column's Chinese and English
label and description, the code list a column takes its values from. The code lists
themselves are published as data beside the page (:func:`write_code_lists`:
``codelists/<name>.csv`` and ``.json``: code, labels, description, deprecated, aliases),
so a recipient decodes ``gender = 2`` without the hub.
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path
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


#: the folder beside the HTML catalog that holds the code lists as data
CODE_LIST_DIR = "codelists"


def _labels(standard: Standard | None, dataset: str) -> tuple[dict[str, str],
                                                              dict[str, dict[str, Any]]]:
    if standard is None or dataset not in standard.entities:
        return {}, {}
    entity = standard.entity(dataset)
    fields = {f.name: {"zh": f.label_zh, "en": f.label_en, "description": f.description,
                       "code_list": f.code_list}
              for f in (*entity.fields, *entity.lineage_fields)}
    return {"zh": entity.label_zh, "en": entity.label_en}, fields


def _signer(table: Table, version: int) -> dict[str, str] | None:
    try:
        _, public, _ = parse_signature(table.hub.read_bytes(signature_rel(version)))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    return {"suite": public.suite, "key_id": public.key_id, "public_key": public.pem()}


def _column(f: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    return {**f, "label": {k: meta[k] for k in ("zh", "en") if k in meta},
            "description": meta.get("description") or "", "code_list": meta.get("code_list")}


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
        "description": (standard.entity(table.name).description
                        if standard is not None and table.name in standard.entities else ""),
        "location": table.display(),
        "current_version": versions[-1],
        "rows": manifest["rows"],
        "created_at": manifest["created_at"],
        "standard_version": manifest.get("standard_version"),
        "key": manifest.get("key"),
        "partition_columns": manifest.get("partition_columns", []),
        "schema_fingerprint": manifest["schema_fingerprint"],
        "schema": [_column(f, field_labels.get(f["name"], {})) for f in manifest["schema"]],
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
    used = sorted({str(f["code_list"]) for d in datasets for f in d["schema"]
                   if f.get("code_list")})
    return {"format": FORMAT, "root": store.display(), "datasets": datasets,
            "publishers": sorted(publishers.values(), key=lambda p: p["key_id"]),
            "shares": shares or [],
            "standard": None if standard is None else {
                "name": standard.name, "version": standard.version,
                "label": {"zh": standard.label_zh, "en": standard.label_en}},
            "code_lists": [_code_list_entry(standard, name) for name in used
                           if standard is not None and name in standard.code_lists]}


def _code_list_entry(standard: Standard, name: str) -> dict[str, Any]:
    cl = standard.code_lists[name]
    return {"name": name, "label": {"zh": cl.label_zh, "en": cl.label_en},
            "code_system": cl.code_system, "version": cl.version,
            "description": cl.description, "codes": len(cl.codes),
            "files": {"csv": f"{CODE_LIST_DIR}/{name}.csv",
                      "json": f"{CODE_LIST_DIR}/{name}.json"}}


def code_list_rows(standard: Standard, name: str) -> list[dict[str, Any]]:
    """One row per code: code, labels, description, deprecated, the aliases it accepts."""
    cl = standard.code_lists[name]
    aliases: dict[str, list[str]] = {}
    for alias, code in cl.aliases.items():
        aliases.setdefault(code, []).append(alias)
    return [{"code": code, "label_zh": lab.zh, "label_en": lab.en,
             "description": lab.description, "deprecated": code in cl.deprecated,
             "aliases": aliases.get(code, [])} for code, lab in cl.codes.items()]


def write_code_lists(catalog: dict[str, Any], standard: Standard, out_dir: Path) -> list[Path]:
    """Write the catalog's code lists as ``<out_dir>/codelists/<name>.csv`` (UTF-8 with
    BOM, for Excel) and ``.json``; returns the files written."""
    written = []
    for entry in catalog.get("code_lists", []):
        rows = code_list_rows(standard, entry["name"])
        csv_path = out_dir / entry["files"]["csv"]
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        with csv_path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["code", "label_zh", "label_en", "description", "deprecated",
                             "aliases"])
            for r in rows:
                writer.writerow([r["code"], r["label_zh"], r["label_en"], r["description"],
                                 "yes" if r["deprecated"] else "", "; ".join(r["aliases"])])
        json_path = out_dir / entry["files"]["json"]
        meta = {k: entry[k] for k in ("name", "label", "code_system", "version",
                                      "description")}
        json_path.write_text(json.dumps({**meta, "codes": rows}, ensure_ascii=False,
                                        indent=1), encoding="utf-8")
        written += [csv_path, json_path]
    return written


def write_html(catalog: dict[str, Any], path: Path, standard: Standard | None) -> Path:
    """Write the HTML catalog page and, beside it, the code lists it links to."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if standard is not None:
        write_code_lists(catalog, standard, path.parent)
    path.write_text(render_html(catalog), encoding="utf-8")
    return path


def pinned_keys(catalog: dict[str, Any]) -> list[PublicKey]:
    """The publisher keys a catalog pins (for ``verify --catalog``)."""
    from hrss_hub.exchange.suites import load_public_pem

    return [load_public_pem(str(p["public_key"]), "catalog") for p in
            catalog.get("publishers", [])]


_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",system-ui,sans-serif;margin:2em;
 max-width:80em;color:#1a1a1a}
table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top;
 font-size:.88em}th{background:#eef2f8}table.info th{width:14em}
.en{color:#555;font-weight:normal}code{font-size:.85em}td.num{text-align:right}
p.desc{color:#333;max-width:60em}
@media print{thead{display:table-header-group}tr{break-inside:avoid}h2{break-after:avoid}}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _bi(zh: str, en: str) -> str:
    return f'{_e(zh)} <span class="en">/ {_e(en)}</span>'


def _head(*cols: tuple[str, str]) -> str:
    return "<thead><tr>" + "".join(f"<th>{_bi(z, e)}</th>" for z, e in cols) + "</tr></thead>"


def _publisher(p: Any) -> str:
    if not isinstance(p, dict):
        return _e(p or "–")
    extra = ", ".join(str(p[k]) for k in ("level", "division") if p.get(k))
    return f"<code>{_e(p.get('hub_id', ''))}</code>" + (f" ({_e(extra)})" if extra else "")


def _counts(q: dict[str, Any]) -> str:
    names = (("read", "读取", "read"), ("published", "发布", "published"),
             ("quarantined", "隔离", "quarantined"), ("filtered", "过滤", "filtered"))
    return " · ".join(f"{_bi(z, en)} {_e(q[k])}" for k, z, en in names if q.get(k) is not None)


def _quality(q: Any) -> str:
    """The quality block of a manifest: totals, then one line per contributing stream."""
    if not isinstance(q, dict) or not q:
        return "–"
    lines = [_counts(q)] if _counts(q) else []
    for c in q.get("contributions") or []:
        lines.append(f"<code>{_e(c.get('system'))}/{_e(c.get('stream'))}</code>: {_counts(c)}")
    if q.get("runs"):
        lines.append(f"{_bi('运行', 'runs')}: " + ", ".join(
            f"<code>{_e(r)}</code>" for r in q["runs"]))
    return "<br>".join(lines) or "–"


def _dataset(d: dict[str, Any]) -> list[str]:
    label = d.get("label") or {}
    title = _bi(label["zh"], label["en"]) if label.get("zh") else ""
    parts = [f"<h2 id='{_e(d['dataset'])}'><code>{_e(d['dataset'])}</code> {title} "
             f"<small>v{_e(d['current_version'])}</small></h2>"]
    if d.get("description"):
        parts.append(f"<p class='desc'>{_e(d['description'])}</p>")
    info = [
        (("行数", "Rows"), _e(d["rows"])), (("创建时间", "Created (UTC)"), _e(d["created_at"])),
        (("数据标准", "Standard"), _e(d["standard_version"] or "–")),
        (("主键", "Key"), _e(", ".join(d["key"] or []) or "–")),
        (("分区", "Partitions"), _e(", ".join(d["partition_columns"] or []) or "–")),
        (("发布方", "Publisher"), _publisher(d["publisher"])),
        (("签名", "Signature"),
         f"{_e(d['signature_suite'] or '–')} <code>{_e(d['signer_key_id'] or '')}</code>"),
        (("模式指纹", "Schema fingerprint"), f"<code>{_e(d['schema_fingerprint'])}</code>"),
        (("数据质量", "Quality"), _quality(d.get("quality"))),
        (("来源系统", "Source systems"),
         _e(", ".join(d["lineage"].get("systems") or []) or "–")),
        (("保留版本", "Versions kept"),
         _e(", ".join(f"v{v['version']} {v['operation']} ({v['rows']})"
                      for v in d["versions"]))),
    ]
    parts.append("<table class='info'><tbody>" + "".join(
        f"<tr><th>{_bi(z, en)}</th><td>{value}</td></tr>" for (z, en), value in info)
        + "</tbody></table>")
    parts.append("<table class='schema'>" + _head(
        ("字段名", "Column"), ("中文名称", "Chinese label"), ("英文名称", "English label"),
        ("说明", "Description"), ("类型", "Type"), ("可空", "Nullable"),
        ("代码表", "Code list")) + "<tbody>")
    for f in d["schema"]:
        cl = f.get("code_list")
        cl_cell = (f"<a href='{CODE_LIST_DIR}/{_e(cl)}.csv'><code>{_e(cl)}</code></a>"
                   if cl else "–")
        parts.append(f"<tr data-column='{_e(f['name'])}'><td><code>{_e(f['name'])}</code></td>"
                     f"<td>{_e(f['label'].get('zh', ''))}</td>"
                     f"<td>{_e(f['label'].get('en', ''))}</td>"
                     f"<td>{_e(f.get('description', ''))}</td><td><code>{_e(f['type'])}</code>"
                     f"</td><td>{'是 yes' if f['nullable'] else '否 no'}</td>"
                     f"<td>{cl_cell}</td></tr>")
    parts.append("</tbody></table>")
    if d["recipients"]:
        parts.append("<table class='recipients'>" + _head(
            ("接收方", "Recipient"), ("用途", "Purpose"), ("字段与处理", "Columns (treatment)"),
            ("行范围", "Rows (division)"), ("有效期", "Valid")) + "<tbody>" + "".join(
            f"<tr><td>{_e(r['name'])} (<code>{_e(r['recipient'])}</code>)</td>"
            f"<td>{_e(r['purpose'])}</td>"
            f"<td>{_e(', '.join(f'{c} ({a})' for c, a in r['columns'].items()))}</td>"
            f"<td>{_e(', '.join(r['division_prefix'] or ['全部 all']))}</td>"
            f"<td>{_e(r['valid_from'])} – {_e(r['valid_to'])}</td></tr>"
            for r in d["recipients"]) + "</tbody></table>")
    return parts


def _code_lists(catalog: dict[str, Any]) -> list[str]:
    lists = catalog.get("code_lists") or []
    if not lists:
        return []
    return [f"<h2 id='code-lists'>{_bi('代码表', 'Code lists')}</h2>",
            "<table class='code-lists'>" + _head(
                ("代码表", "Code list"), ("中文名称", "Chinese label"),
                ("英文名称", "English label"), ("代码体系", "Code system"),
                ("版本", "Version"), ("代码数", "Codes"), ("数据文件", "Data files"))
            + "<tbody>" + "".join(
                f"<tr data-code-list='{_e(c['name'])}'><td><code>{_e(c['name'])}</code></td>"
                f"<td>{_e(c['label']['zh'])}</td><td>{_e(c['label']['en'])}</td>"
                f"<td>{_e(c['code_system'])}</td><td>{_e(c['version'])}</td>"
                f"<td class='num'>{_e(c['codes'])}</td>"
                f"<td><a href='{_e(c['files']['csv'])}'>CSV</a> · "
                f"<a href='{_e(c['files']['json'])}'>JSON</a></td></tr>"
                for c in lists) + "</tbody></table>"]


def render_html(catalog: dict[str, Any]) -> str:
    """A self-contained HTML page (no scripts, no external assets)."""
    std = catalog.get("standard") or {}
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>hrss-hub 数据目录 / Catalog</title><style>{_CSS}</style></head><body>",
        f"<h1>{_bi('数据目录', 'Catalog')}</h1>",
        f"<p>{_bi('位置', 'Root')}: <code>{_e(catalog['root'])}</code>"
        + (f" · {_bi('数据标准', 'Standard')}: {_e(std['label']['zh'])} / "
           f"{_e(std['label']['en'])} <code>{_e(std['name'])} {_e(std['version'])}</code>"
           if std else "") + "</p>",
    ]
    if not catalog["datasets"]:
        parts.append(f"<p>{_bi('尚未发布数据', 'No dataset published yet')}.</p>")
    for d in catalog["datasets"]:
        parts += _dataset(d)
    parts += _code_lists(catalog)
    if catalog.get("publishers"):
        parts.append(f"<h2 id='publishers'>{_bi('发布方公钥', 'Pinned publisher keys')}</h2>"
                     "<table class='publishers'>" + _head(
                         ("密钥编号", "Key id"), ("签名算法", "Suite"), ("发布方", "Hubs"),
                         ("公钥", "Public key")) + "<tbody>" + "".join(
            f"<tr><td><code>{_e(p['key_id'])}</code></td><td>{_e(p['suite'])}</td>"
            f"<td>{_e(', '.join(p['hubs']))}</td><td><pre>{_e(p['public_key'])}</pre></td></tr>"
            for p in catalog["publishers"]) + "</tbody></table>")
    from hrss_hub.share.catalog import render_shares_html

    parts.append(render_shares_html(catalog.get("shares")))
    parts.append("</body></html>")
    return "\n".join(parts)
