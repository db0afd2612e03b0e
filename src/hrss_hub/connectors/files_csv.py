"""Streaming CSV reading with exact physical line numbers and per-line quarantine.

The file is read in blocks of lines, each line decoded strictly, and fed to the C ``csv``
reader; rows are collected ``batch_size`` at a time and turned into Arrow columns once
per batch. Memory is bounded by one batch plus one read block, whatever the file size.
A line that does not decode, a malformed quote, or a row with the wrong number of fields
becomes a ``Reject`` with ``file.csv:LINE`` — never dropped silently, never fatal.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from hrss_hub.connectors.base import Reject

_READ_HINT = 1 << 20


@dataclass
class RowBlock:
    """Up to ``batch_size`` parsed rows of one file, plus what was rejected among them."""

    header: list[str]
    rows: list[list[str | None]]
    lines: list[int]
    rejects: list[Reject] = field(default_factory=list)
    #: physical line number where the next record starts (the resume point)
    next_line: int = 0
    done: bool = False


class _Lines:
    """Decoded lines of a binary file, tracking physical line numbers; rejects bad bytes."""

    def __init__(self, fh: BinaryIO, encoding: str, name: str, first_line: int) -> None:
        self._fh = fh
        self._encoding = encoding
        self._name = name
        self.line_no = first_line - 1  # last line handed out (or skipped)
        self.record_start: int | None = None
        self.rejects: list[Reject] = []

    def __iter__(self) -> Iterator[str]:
        encoding = self._encoding
        while True:
            raw_lines: list[bytes] = self._fh.readlines(_READ_HINT)
            if not raw_lines:
                return
            try:
                # fast path: the whole block decodes (one C call per line, no try per line)
                decoded: list[str | None] = [raw.decode(encoding) for raw in raw_lines]
            except UnicodeDecodeError:
                decoded = [self._decode_or_reject(raw, i) for i, raw in enumerate(raw_lines)]
            for text in decoded:
                self.line_no += 1
                if text is None:
                    continue
                if self.record_start is None:
                    self.record_start = self.line_no
                yield text

    def _decode_or_reject(self, raw: bytes, index: int) -> str | None:
        try:
            return raw.decode(self._encoding)
        except UnicodeDecodeError as exc:
            line = self.line_no + index + 1
            self.rejects.append(Reject(
                f"{self._name}:{line}",
                f"bytes not valid {self._encoding} at column {exc.start + 1}",
                raw.decode(self._encoding, errors="replace").rstrip("\r\n")))
            return None


def read_header(path: Path, encoding: str, bom: int, delimiter: str,
                quotechar: str) -> list[str]:
    """The header row (line 1) of a CSV file, names stripped."""
    with open(path, "rb") as fh:
        fh.seek(bom)
        first = fh.readline().decode(encoding)
    row = next(csv.reader([first], delimiter=delimiter, quotechar=quotechar), [])
    return [name.strip() or f"column_{i + 1}" for i, name in enumerate(row)]


def read_blocks(path: Path, *, encoding: str, bom: int, delimiter: str, quotechar: str,
                batch_size: int, start_line: int = 2) -> Iterator[RowBlock]:
    """Yield blocks of rows from ``start_line`` (a record start; line 1 is the header).

    The last block has ``done=True`` (it may be empty).
    """
    header = read_header(path, encoding, bom, delimiter, quotechar)
    width = len(header)
    name = path.name
    with open(path, "rb") as fh:
        fh.seek(bom)
        for _ in range(start_line - 1):  # skip the header and already-committed lines
            if not fh.readline():
                break
        lines = _Lines(fh, encoding, name, start_line)
        reader = csv.reader(lines, delimiter=delimiter, quotechar=quotechar, strict=True)
        block = RowBlock(header, [], [])
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                line = lines.record_start or lines.line_no
                block.rejects.append(Reject(f"{name}:{line}", f"malformed CSV: {exc}"))
                lines.record_start = None
                continue
            start = lines.record_start or lines.line_no
            lines.record_start = None
            if not row:  # a blank line is not a record
                continue
            if len(row) != width:
                block.rejects.append(Reject(
                    f"{name}:{start}", f"expected {width} fields, got {len(row)}",
                    delimiter.join(row)))
            else:
                block.rows.append(row)  # type: ignore[arg-type]
                block.lines.append(start)
            block.rejects.extend(lines.rejects)
            lines.rejects.clear()
            if len(block.rows) >= batch_size:
                block.next_line = lines.line_no + 1
                yield block
                block = RowBlock(header, [], [])
        block.rejects.extend(lines.rejects)
        block.next_line = lines.line_no + 1
        block.done = True
        yield block
