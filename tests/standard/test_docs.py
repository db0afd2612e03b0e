"""The bilingual data dictionary lists every entity, field, code list, division and bound."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import ClassVar

import pytest

from hrss_hub.standard.docs import render_html, render_markdown
from hrss_hub.standard.model import Standard, load_standard


@pytest.fixture(scope="module")
def std() -> Standard:
    return load_standard()


def test_markdown_has_every_entity_and_both_languages(std: Standard) -> None:
    md = render_markdown(std)
    for entity in std.entities.values():
        assert f"`{entity.name}`" in md
        assert entity.label_zh in md and entity.label_en in md
        for f in entity.fields:
            assert f"| {f.name} | {f.label_zh} | {f.label_en} | {f.type} |" in md
    for lineage in ("source_system", "source_key", "run_id", "extracted_at"):
        assert f"| {lineage} |" in md
    assert "| 46 | 德昂族 | De'ang |" in md
    assert "GB/T 3304-1991" in md and "57 → 97" in md
    assert "  - 510100 成都市 Chengdu" in md and "    - 510107 武侯区 Wuhou" in md
    assert "510102 东城区" in md and "retired" in md
    assert "| 510000 | 2023 | 110 | 4071 | 20355 |" in md
    # a pipe inside a pattern must not break the table
    assert r"(0[1-9]\|1[0-2])" in md


class _Checker(HTMLParser):
    """Tracks open tags to prove the page is well nested; collects external references."""

    VOID: ClassVar[frozenset[str]] = frozenset({"meta", "link", "br", "img", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-4:])
        self.stack.pop()


def test_html_is_self_contained_escaped_and_well_formed(std: Standard) -> None:
    page = render_html(std)
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in page and '<meta charset="utf-8">' in page
    assert "<style>" in page and "@media print" in page
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == [] and checker.external == []
    assert not re.search(r"https?://", page)
    for entity in std.entities.values():
        assert f'id="entity-{entity.name}"' in page and entity.label_zh in page
    # the apostrophe of a label is escaped
    assert "De&#x27;ang" in page
    assert "<li>510107 武侯区 Wuhou" in page


def test_html_escapes_hostile_text(std: Standard) -> None:
    from dataclasses import replace

    hostile = replace(std, description="<script>alert(1)</script> & co")
    page = render_html(hostile)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
