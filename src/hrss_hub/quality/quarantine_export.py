"""Quarantined rows as masked CSV and XLSX downloads beside the quality report.

One row per quarantined record: its reference id (``quarantine release`` accepts it), the
masked source key and location, the rules (with their zh/en labels), the fields and the
masked offending values. The raw record is not exported: the quarantine file keeps it for
release, the report's reader gets no raw identifier (ID-like tokens are masked).
Streams the quarantine file row group by row group; the XLSX sheet is streamed too
(:mod:`hrss_hub.quality.xlsx_sheet`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from hrss_hub.quality.reprocess import row_ref
from hrss_hub.quality.rules import label
from hrss_hub.quality.xlsx_sheet import SheetWriter

HEADER = ("参考编号 reference", "来源主键(脱敏) source key (masked)",
          "来源位置(脱敏) source location (masked)", "规则 rules", "规则名称 rule labels",
          "字段 fields", "问题值(脱敏) offending values (masked)")


def masked_rows(qfile: Path) -> Iterator[tuple[str, ...]]:
    """The export rows of one quarantine file, in file order (refs count from 1)."""
    from hrss_hub.quality.report import mask_id

    pf = pq.ParquetFile(qfile)
    cols = ["run_id", "system", "stream", "source_key", "location", "rules", "fields",
            "offending_values"]
    n = 0
    for i in range(pf.num_row_groups):
        for r in pf.read_row_group(i, columns=cols).to_pylist():
            n += 1
            rules = [str(x) for x in r["rules"] or []]
            yield (row_ref(r["run_id"], r["system"], r["stream"], n),
                   mask_id(str(r["source_key"] or "")), mask_id(str(r["location"] or "")),
                   "; ".join(rules),
                   "; ".join(f"{zh} / {en}" for zh, en in (label(x) for x in rules)),
                   "; ".join(str(x) for x in r["fields"] or []),
                   "; ".join(mask_id(str(x)) for x in r["offending_values"] or []))


def export_quarantine(qfile: Path, out_dir: Path, stem: str) -> dict[str, str]:
    """Write ``<out_dir>/<stem>.csv`` (UTF-8 with BOM, so Excel reads Chinese) and
    ``<stem>.xlsx``; returns ``{"csv": path, "xlsx": path}``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, xlsx_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.xlsx"
    with csv_path.open("w", encoding="utf-8-sig", newline="") as fh, \
            SheetWriter(xlsx_path, "quarantine") as sheet:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        sheet.append(HEADER)
        for row in masked_rows(qfile):
            writer.writerow(row)
            sheet.append(row)
    return {"csv": str(csv_path), "xlsx": str(xlsx_path)}
