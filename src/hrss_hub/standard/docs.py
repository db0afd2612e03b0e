"""Render the standard as a bilingual (中文 / English) data dictionary.

Both renderers walk the same section model (:func:`_sections`), so the Markdown and the
HTML dictionary always list the same things: entities and their fields, the lineage
columns, the quality rules (from the rule registry: every rule the hub enforces, built in
or from a plugin), every code list, the division tree and the contribution-base bounds.
The HTML is one self-contained, printable file (inline CSS, no external resources).
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from hrss_hub.quality.rules import Rule, RuleBase, registry
from hrss_hub.standard.codelists import Division
from hrss_hub.standard.model import Field, Standard


@dataclass(frozen=True)
class _Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class _Section:
    level: int  # 2 = chapter, 3 = item
    anchor: str
    title: str
    paragraphs: Sequence[str] = ()
    table: _Table | None = None
    tree: Sequence[tuple[int, str]] = ()  # (depth, text) lines of a nested list


_FIELD_HEADERS = ("字段 Field", "中文名", "English label", "类型 Type", "必填 Required",
                  "主键 Key", "代码表 / 标识 Code list / identifier", "说明 Description")


def _yes(flag: bool) -> str:
    return "是 yes" if flag else ""


def _field_row(f: Field) -> list[str]:
    refs = [r for r in (f.code_list and f"code list: {f.code_list}",
                        f.identifier and f"identifier: {f.identifier}") if r]
    constraints = []
    if f.pattern:
        constraints.append(f"pattern `{f.pattern}`")
    if f.min is not None:
        constraints.append(f"min {f.min}")
    if f.max is not None:
        constraints.append(f"max {f.max}")
    if f.max_length is not None:
        constraints.append(f"max length {f.max_length}")
    if f.example is not None:
        constraints.append(f"e.g. {f.example}")
    desc = f.description + (f" ({'; '.join(constraints)})" if constraints else "")
    return [f.name, f.label_zh, f.label_en, f.type, _yes(f.required), _yes(f.key),
            "; ".join(refs), desc]


_RULE_HEADERS = ("规则 Rule", "名称 Label", "默认级别 Default severity", "判定 Decided",
                 "声明方式 Declared by", "参数 Parameters", "说明 Description")
_STAGES = {"source": "读取 reading", "mapping": "映射 mapping", "row": "行校验 row check",
           "key": "主键 key, last"}


def _rule_row(rule: RuleBase) -> list[str]:
    params = ""
    if isinstance(rule, Rule):
        expectations = ", ".join(f"`{t}`" for t in rule.expectation_types)
        params = "; ".join([*rule.describe_params(), f"GX: {expectations}"])
    origin = "" if rule.origin == "builtin" else f" (plugin: {rule.origin})"
    return [f"`{rule.id}`", f"{rule.label_zh} / {rule.label_en}", rule.default_severity,
            _STAGES[rule.stage], rule.declared_by, params, rule.description + origin]


def rule_table_ids(std: Standard) -> list[str]:
    """The rule ids the dictionary's rule table lists, in order (for tests and tools)."""
    return [r.id for r in registry()]


def _division_tree(std: Standard) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []

    def walk(div: Division, depth: int) -> None:
        years = ""
        if div.valid_from or div.valid_to:
            years = f" [{div.valid_from or '…'}–{div.valid_to or ''}]"
        retired = " (已撤销 retired)" if not div.is_current else ""
        lines.append((depth, f"{div.code} {div.name_zh} {div.name_en}{years}{retired}".rstrip()))
        for child in std.divisions.children(div.code):
            walk(child, depth + 1)

    for province in std.divisions.children(None):
        walk(province, 0)
    return lines


def _sections(std: Standard) -> Iterator[_Section]:
    if std.profile is not None:
        from hrss_hub.standard.profile import differences

        info = std.profile
        yield _Section(2, "profile", f"标准扩展 Standard profile `{info.id}` {info.version}", [
            f"{info.label_zh} / {info.label_en}. 扩展 Extends {info.base_name} "
            f"{info.base_version}; 仅新增，不修改基础标准 it only adds to the base:",
            *(f"`{line}`" for line in differences(info))])
    yield _Section(2, "entities", "实体 Entities", table=_Table(
        ("实体 Entity", "中文名", "English", "主键 Key"),
        [[e.name, e.label_zh, e.label_en, ", ".join(e.key)] for e in std.entities.values()]))
    for e in std.entities.values():
        paras = [e.description, f"主键 Key: {', '.join(e.key)}"]
        for r in e.rules:
            params = ", ".join(f"{k}={v}" for k, v in r.params.items())
            rule = registry().get(r.id)
            severity = f", {r.severity}" if r.severity else ""
            paras.append(f"规则 Rule `{r.id}` {rule.label_zh} / {rule.label_en} "
                         f"({params}{severity}): {r.description}")
        paras.append("另含溯源字段 Plus the lineage columns (see below).")
        yield _Section(3, f"entity-{e.name}", f"{e.label_zh} {e.label_en} (`{e.name}`)",
                       paras, _Table(_FIELD_HEADERS, [_field_row(f) for f in e.fields]))
    yield _Section(2, "lineage", "溯源字段 Lineage columns",
                   ["每条记录都带有以下字段。Every record of every entity carries these columns."],
                   _Table(_FIELD_HEADERS, [_field_row(f) for f in std.lineage_fields]))
    yield _Section(2, "rules", "质量规则 Quality rules",
                   ["每条记录都按这些规则校验：字段属性、实体的 rules: 和主键声明它们；"
                    "级别 critical / error 的规则隔离记录，warning 只报告；"
                    "主键字段上的映射规则为 critical。"
                    "Every record is checked against these rules, declared by field attributes, "
                    "an entity's rules: and its key; critical / error quarantine the record, "
                    "warning reports it (a suite may set another severity). Mapping rules on "
                    "key fields are critical."],
                   _Table(_RULE_HEADERS, [_rule_row(r) for r in registry()]))
    yield _Section(2, "code-lists", "代码表 Code lists", table=_Table(
        ("代码表 Code list", "中文名", "English", "代码体系 Code system", "版本 Version"),
        [[c.name, c.label_zh, c.label_en, c.code_system, c.version]
         for c in std.code_lists.values() if c.name != "divisions"]))
    for c in std.code_lists.values():
        if c.name == "divisions":
            continue  # rendered as a tree below
        paras = [f"代码体系 Code system: {c.code_system}, 版本 version {c.version}."]
        if c.description:
            paras.append(c.description)
        if c.aliases:
            paras.append("输入别名 Accepted input aliases: " + ", ".join(
                f"{a} → {code}" for a, code in c.aliases.items()))
        rows = [[code, lab.zh, lab.en, "已废止 deprecated" if code in c.deprecated else ""]
                for code, lab in c.codes.items()]
        yield _Section(3, f"code-list-{c.name}", f"{c.label_zh} {c.label_en} (`{c.name}`)",
                       paras, _Table(("代码 Code", "中文", "English", "状态 Status"), rows))
    d = std.divisions
    yield _Section(2, "divisions", "行政区划 Administrative divisions",
                   [f"代码体系 Code system: {d.code_system}, 版本 version {d.version}. "
                    f"{len(d)} codes, including retired ones (ID numbers keep old codes)."],
                   tree=_division_tree(std))
    b = std.contribution_bounds
    note = " 示例数据，非官方 Illustrative figures, not official." if b.illustrative else ""
    yield _Section(2, "bounds", "缴费基数上下限 Contribution base bounds",
                   [f"单位 Unit: {b.unit} ({b.currency}). A row applies to every division whose "
                    "code starts with its significant prefix; the longest prefix wins." + note],
                   _Table(("行政区划 Division", "年度 Year", "险种 Insurance type", "下限 Min",
                           "上限 Max"),
                          [[r.division, str(r.year), r.insurance_type, str(r.min), str(r.max)]
                           for r in b.rows]))


def _title(std: Standard) -> str:
    return f"{std.label_zh} — 数据字典 Data dictionary v{std.version}"


# --------------------------------------------------------------------------- Markdown


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(std: Standard) -> str:
    """The data dictionary as GitHub-flavoured Markdown."""
    out = [f"# {_title(std)}", "", std.label_en, "", std.description, ""]
    for s in _sections(std):
        out += ["#" * s.level + " " + s.title, ""]
        for p in s.paragraphs:
            out += [p, ""]
        if s.table is not None:
            out.append("| " + " | ".join(s.table.headers) + " |")
            out.append("|" + "---|" * len(s.table.headers))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in s.table.rows]
            out.append("")
        if s.tree:
            out += ["  " * depth + f"- {text}" for depth, text in s.tree]
            out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",
sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem;border-bottom:2px solid #333}h2{margin-top:2.2rem;border-bottom:1px solid #999}
h3{margin-top:1.6rem}table{border-collapse:collapse;width:100%;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #bbb;padding:.25rem .45rem;vertical-align:top;text-align:left}
th{background:#eef1f5}tr:nth-child(even) td{background:#fafafa}code{font-size:.9em}
td code{overflow-wrap:anywhere}td:first-child code{overflow-wrap:normal}
nav ul{columns:2}ul.tree{font-family:monospace;font-size:.9rem}
@media print{body{margin:0;max-width:none}h2,h3{break-after:avoid}tr{break-inside:avoid}
nav{display:none}a{color:inherit;text-decoration:none}}
"""


def _h(text: str) -> str:
    """Escape text, then render `code` spans (the only markup our texts use)."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def render_html(std: Standard) -> str:
    """The data dictionary as one self-contained, printable HTML page."""
    sections = list(_sections(std))
    out = ['<!DOCTYPE html>', '<html lang="zh-CN">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_h(_title(std))}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
           f"<h1>{_h(_title(std))}</h1>", f'<p lang="en">{_h(std.label_en)}</p>',
           f"<p>{_h(std.description)}</p>", "<nav><ul>"]
    out += [f'<li><a href="#{s.anchor}">{_h(s.title)}</a></li>' for s in sections]
    out.append("</ul></nav>")
    for s in sections:
        out.append(f'<h{s.level} id="{s.anchor}">{_h(s.title)}</h{s.level}>')
        out += [f"<p>{_h(p)}</p>" for p in s.paragraphs]
        if s.table is not None:
            out.append("<table><thead><tr>" + "".join(f"<th>{_h(c)}</th>" for c in s.table.headers)
                       + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>"
                    for row in s.table.rows]
            out.append("</tbody></table>")
        if s.tree:
            out.append(_html_tree(s.tree))
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _html_tree(lines: Sequence[tuple[int, str]]) -> str:
    """Nested ``<ul>`` lists from (depth, text) lines in document order."""
    if not lines:
        return ""
    out: list[str] = []
    prev = -1
    for depth, text in lines:
        if depth > prev:
            out += ["<ul>"] * (depth - prev)
        else:
            out.append("</li>")
            out += ["</ul></li>"] * (prev - depth)
        out.append(f"<li>{_h(text)}")
        prev = depth
    out.append("</li>")
    out += ["</ul></li>"] * prev
    out.append("</ul>")
    out[0] = '<ul class="tree">'
    return "\n".join(out)
