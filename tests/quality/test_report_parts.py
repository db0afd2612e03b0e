"""The quality report's parts on small inputs: scores, charts, data runs, masked exports,
and the vendored Data Docs assets."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hrss_hub.quality import datadocs
from hrss_hub.quality.charts import bar_chart, line_chart, nice_ticks
from hrss_hub.quality.quarantine_export import export_quarantine
from hrss_hub.quality.report import is_data_run
from hrss_hub.quality.scores import WINDOW, source_scores


def _exp(type_: str, evaluated: int, unexpected: int) -> dict[str, object]:
    return {"type": type_, "evaluated": evaluated, "unexpected": unexpected}


def test_scores_follow_their_definitions() -> None:
    streams = [
        {"system": "si", "expectations": [
            _exp("expect_column_values_to_not_be_null", 100, 5),   # completeness 95%
            _exp("expect_column_values_to_not_be_null", 100, 5),
            _exp("expect_column_values_to_be_in_code_list", 100, 10),  # validity 90%
        ]},
        {"system": "files", "expectations": [
            _exp("expect_column_values_to_be_valid_citizen_id", 50, 0)]},
    ]
    history = [{"systems": [{"system": "si", "streams": [{"status": "succeeded"}]},
                            {"system": "files", "streams": [{"status": "succeeded"}]}]},
               {"systems": [{"system": "si", "streams": [{"status": "failed"}]}]},
               {"systems": [{"system": "maintenance-only", "streams": []}]}]
    by = {s["system"]: s for s in source_scores(streams, history)}
    assert by["si"]["completeness"] == 95.0
    assert by["si"]["validity"] == 90.0
    assert by["si"]["timeliness"] == 50.0
    assert by["si"]["score"] == round((95 + 90 + 50) / 3, 2)
    # no required-field check: completeness is not measured, not counted as 100 %
    assert by["files"]["completeness"] is None
    assert by["files"]["score"] == 100.0
    assert set(by) == {"si", "files"}


def test_timeliness_counts_only_the_window() -> None:
    streams = [{"system": "si", "expectations": []}]
    ok = {"systems": [{"system": "si", "streams": [{"status": "succeeded"}]}]}
    bad = {"systems": [{"system": "si", "streams": [{"status": "failed"}]}]}
    score = source_scores(streams, [ok] * WINDOW + [bad] * 5)[0]
    assert score["timeliness"] == 100.0 and score["runs_in_window"] == WINDOW


def test_maintenance_runs_are_not_data_runs() -> None:
    assert not is_data_run(None)
    assert not is_data_run({})
    assert not is_data_run({"published": {"person": 3}})
    assert not is_data_run({"systems": [{"system": "si", "streams": []}]})
    assert is_data_run({"systems": [{"system": "si", "streams": [{"stream": "AC01"}]}]})


def test_bar_chart_has_labelled_axes_and_proportional_bars() -> None:
    svg = bar_chart([("主键重复 duplicate_key", 40), ("日期无效 date_invalid", 10)],
                    title="by rule", value_label="rows", category_label="rule", chart_id="c")
    assert svg.startswith('<svg id="c"') and "<script" not in svg
    widths = [float(w) for w in re.findall(r'class="bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)"',
                                           svg)]
    assert len(widths) == 2 and widths[0] == pytest.approx(4 * widths[1], abs=0.5)
    assert ">rows</text>" in svg and ">rule</text>" in svg
    assert "主键重复 duplicate_key: 40" in svg
    assert bar_chart([], title="t", value_label="v", category_label="c", chart_id="x") == ""


def test_line_chart_draws_one_line_per_series_with_gaps() -> None:
    svg = line_chart(["r1", "r2", "r3"], [("si.AC01", [99.0, None, 97.5]),
                                          ("files.x", [100.0, 100.0, 100.0])],
                     title="pass rate", x_label="run started", y_label="pass rate %",
                     chart_id="t", y_max=100.0)
    assert svg.count('class="series"') == 2
    assert svg.count("<circle") == 5  # the missing run has no point
    assert ">run started</text>" in svg and ">pass rate %</text>" in svg
    assert "si.AC01 · r3: 97.5" in svg


def test_nice_ticks() -> None:
    assert nice_ticks(17) == [0, 5, 10, 15, 20]
    assert nice_ticks(0) == [0.0, 1.0]
    assert nice_ticks(1234)[-1] >= 1234


def test_quarantine_export_is_masked_and_numbered(tmp_path: Path) -> None:
    raw = "51010719900101123X"
    table = pa.table({
        "run_id": ["r1", "r1"], "system": ["si", "si"], "stream": ["AC01", "AC01"],
        "entity": ["person", "person"], "source_key": [raw, "k2"],
        "location": [f"AC01[AAC147={raw}]", "AC01[id=2]"],
        "rules": [["citizen_id_invalid"], ["required_missing", "date_invalid"]],
        "fields": [["citizen_id"], ["name", "birth_date"]],
        "offending_values": [[raw], ["", "1990-02-30"]],
        "record": [f'{{"citizen_id": "{raw}"}}', "{}"],
    })
    qfile = tmp_path / "q.parquet"
    pq.write_table(table, qfile, row_group_size=1)
    out = export_quarantine(qfile, tmp_path / "out", "si.AC01")
    data = Path(out["csv"]).read_bytes()
    assert raw.encode() not in data
    with Path(out["csv"]).open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][0] == "r1/si/AC01#1" and rows[2][0] == "r1/si/AC01#2"
    assert rows[1][1] == "510107********123X"
    assert "必填项缺失 / required value missing" in rows[2][4]
    import openpyxl

    sheet = openpyxl.load_workbook(out["xlsx"], read_only=True)["quarantine"]
    cells = [c for r in sheet.iter_rows(values_only=True) for c in r if c]
    assert len([c for c in cells if str(c).startswith("r1/si/AC01#")]) == 2
    assert not any(raw in str(c) for c in cells)


def test_every_vendored_asset_exists_with_its_licence() -> None:
    for local in datadocs.CDN_ASSETS.values():
        assert (datadocs.VENDOR_DIR / local).is_file(), local
    readme = (datadocs.VENDOR_DIR / "README.md").read_text(encoding="utf-8")
    for folder in {local.split("/")[0] for local in datadocs.CDN_ASSETS.values()}:
        assert f"`{folder}/`" in readme, folder


def test_every_cdn_link_in_gx_templates_is_vendored() -> None:
    import great_expectations

    templates = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
    text = "\n".join(p.read_text(encoding="utf-8") for p in templates.glob("*.j2"))
    linked = set(re.findall(r"""(?:src|href)=["'](https://[^"'{]+)["']""", text))
    # links to follow (GX's site, its newsletter) are not loaded with the page
    resources = {u for u in linked if not u.startswith("https://greatexpectations.io")}
    assert resources and resources <= set(datadocs.CDN_ASSETS), resources - set(
        datadocs.CDN_ASSETS)


def test_localize_site_rewrites_relative_to_each_page(tmp_path: Path) -> None:
    site = tmp_path / "local_site"
    (site / "static" / "images").mkdir(parents=True)
    (site / "static" / "images" / "logo-long.png").write_bytes(b"png")
    (site / "static" / "styles").mkdir()
    (site / "static" / "styles" / "s.css").write_text(
        "a{background:url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
        "full_logo_dark.png')}", encoding="utf-8")
    page = site / "validations" / "a" / "b.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
        '<link href="../../../static/images/favicon.ico" rel="icon">'
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/'
        'logo-long.png?d=1&dataContextId=x">', encoding="utf-8")
    assert datadocs.localize_site(site) == 4
    text = page.read_text(encoding="utf-8")
    assert 'src="../../static/vendor/jquery-3.7.1/jquery.min.js"' in text
    assert 'href="../../static/images/favicon.ico"' in text
    assert 'src="../../static/images/logo-long.png"' in text
    assert datadocs.external_resources(text) == []
    css = (site / "static" / "styles" / "s.css").read_text(encoding="utf-8")
    assert "url('../../static/images/logo-long.png')" in css
    assert (page.parent / "../../static/vendor/jquery-3.7.1/jquery.min.js").resolve().is_file()
    assert datadocs.localize_site(site) == 0  # idempotent
