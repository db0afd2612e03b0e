"""Streaming XLSX reading (openpyxl read-only mode): one sheet, a header row, string cells.

Cells are returned as text, because typing is the mapping's job: numbers keep their digits
(``44931`` stays ``"44931"`` even if it is an Excel date serial in a General-formatted
cell — the mapping's ``excel_date`` normalizer converts it), and cells Excel itself marks
as dates (a date number format) become ISO text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hrss_hub.connectors.base import Reject
from hrss_hub.connectors.files_csv import RowBlock


def cell_text(value: Any) -> str | None:
    """One cell as text (None for empty)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def open_sheet(path: Path, sheet: str | None) -> tuple[Any, Any]:
    """(workbook, worksheet) in read-only mode; raises ``KeyError`` listing sheet names."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    if sheet is None:
        return wb, wb.worksheets[0]
    if sheet not in wb.sheetnames:
        names = list(wb.sheetnames)
        wb.close()
        raise KeyError(f"sheet {sheet!r} not found; sheets: {', '.join(names)}")
    return wb, wb[sheet]


def read_header(path: Path, sheet: str | None, header_row: int) -> list[str]:
    """The header row's cells as column names (rows above it are skipped)."""
    wb, ws = open_sheet(path, sheet)
    try:
        for row in ws.iter_rows(min_row=header_row, max_row=header_row, values_only=True):
            names = [cell_text(v) for v in row]
            while names and names[-1] is None:  # trailing empty cells are not columns
                names.pop()
            return [(n or "").strip() or f"column_{i + 1}" for i, n in enumerate(names)]
        return []
    finally:
        wb.close()


def estimate_rows(path: Path, sheet: str | None, header_row: int) -> int | None:
    """Data rows below ``header_row`` as the sheet's dimension says (``None`` when the
    workbook records none); trailing formatted but empty rows are counted too."""
    wb, ws = open_sheet(path, sheet)
    try:
        last = ws.max_row
    finally:
        wb.close()
    return None if last is None else max(int(last) - header_row, 0)


def read_blocks(path: Path, *, sheet: str | None, header_row: int, batch_size: int,
                start_row: int | None = None) -> Iterator[RowBlock]:
    """Yield blocks of data rows (below ``header_row``) from ``start_row``; last has done=True."""
    header = read_header(path, sheet, header_row)
    width = len(header)
    first = start_row or header_row + 1
    wb, ws = open_sheet(path, sheet)
    try:
        block = RowBlock(header, [], [])
        row_no = first - 1
        for values in ws.iter_rows(min_row=first, values_only=True):
            row_no += 1
            cells = [cell_text(v) for v in values]
            if not any(c is not None and c.strip() for c in cells):
                continue  # empty rows (often trailing formatting) are not records
            extra = cells[width:]
            if any(c is not None and c.strip() for c in extra):
                block.rejects.append(Reject(f"{path.name}:{row_no}",
                                            f"expected {width} cells, found values beyond "
                                            f"column {width}", "\t".join(c or "" for c in cells)))
                continue
            cells = cells[:width] + [None] * (width - len(cells))
            block.rows.append(cells)
            block.lines.append(row_no)
            if len(block.rows) >= batch_size:
                block.next_line = row_no + 1
                yield block
                block = RowBlock(header, [], [])
        block.next_line = row_no + 1
        block.done = True
        yield block
    finally:
        wb.close()
