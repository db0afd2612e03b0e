"""Streaming CSV reading with exact physical line numbers and per-line quarantine.

The file is read in blocks of lines, each line decoded strictly, and fed to the C ``csv``
reader; rows are collected ``batch_size`` at a time and turned into Arrow columns once
per batch. Memory is bounded by one batch plus one read block, whatever the file size.

Every physical line ends up in a row or in a ``Reject`` with its own ``file.csv:LINE``:

* a line that does not decode, a malformed quote within a line, or a one-line record
  with the wrong number of fields is rejected on its own;
* a quoted field may span lines (addresses with line breaks are legal CSV). But when such
  a record turns out bad — its quote never closes before the end of the file (or grows
  past the csv module's field limit), it has the wrong number of fields, or one of its
  lines does not decode — the reader cannot know where the record really ended. It then
  rejects only the record's *first* line (whose quote opened the field) and reads on
  from the next physical line, so each following line gets its own verdict. An unclosed
  quote on line 51 of 176 thus costs line 51, not lines 51–176.

The reader goes back to the next line by seeking to its byte offset, so recovering does
not buffer the runaway record.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from hrss_hub.connectors.base import Reject

if TYPE_CHECKING:
    from collections.abc import Iterator

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
    """Decoded physical lines of a binary file, with line numbers and byte offsets.

    Undecodable lines become rejects and are skipped. ``record_*`` describe the first line
    of the record being parsed (set when the csv reader pulls it), so a bad record can be
    rejected at its start and reading resumed right after that line (:meth:`rewind`).
    """

    def __init__(self, fh: BinaryIO, encoding: str, name: str, first_line: int,
                 offset: int) -> None:
        self._fh = fh
        self._encoding = encoding
        self._name = name
        self.line_no = first_line - 1  # last line handed out (or skipped)
        self._base = offset  # byte offset of the current block in the file
        self._raw: list[bytes] = []
        self._text: list[str | None] = []
        self._ends: list[int] = []  # end offset of each line of the block, from _base
        self._next = 0
        self.rejects: list[Reject] = []
        self.record_start: int | None = None
        self.record_text = ""
        self.record_after = offset  # byte offset just after the record's first line
        self.tainted = False  # a line inside the current record did not decode

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        while True:
            i = self._next
            if i >= len(self._text):
                self._fill()
                i = 0
            self._next = i + 1
            self.line_no += 1
            text = self._text[i]
            if text is None:
                self._reject(i)
                continue
            if self.record_start is None:
                self.record_start = self.line_no
                self.record_text = text
                self.record_after = self._base + self._ends[i]
            return text

    def _fill(self) -> None:
        if self._ends:
            self._base += self._ends[-1]
        raw_lines: list[bytes] = self._fh.readlines(_READ_HINT)
        if not raw_lines:
            self._raw, self._text, self._ends = [], [], []
            raise StopIteration
        try:
            # fast path: the whole block decodes (one C call per line, no try per line)
            decoded: list[str | None] = [raw.decode(self._encoding) for raw in raw_lines]
        except UnicodeDecodeError:
            decoded = [self._decode(raw) for raw in raw_lines]
        self._raw, self._text, self._next = raw_lines, decoded, 0
        self._ends = list(itertools.accumulate(map(len, raw_lines)))

    def _decode(self, raw: bytes) -> str | None:
        try:
            return raw.decode(self._encoding)
        except UnicodeDecodeError:
            return None

    def _reject(self, index: int) -> None:
        raw = self._raw[index]
        offset = self._base + (self._ends[index - 1] if index else 0)
        reason = f"bytes not valid {self._encoding}"
        try:
            raw.decode(self._encoding)
        except UnicodeDecodeError as exc:
            reason += f" at column {exc.start + 1} (byte offset {offset + exc.start})"
        if self.record_start is not None:
            self.tainted = True
        self.rejects.append(Reject(f"{self._name}:{self.line_no}", reason,
                                   raw.decode(self._encoding, errors="replace").rstrip("\r\n")))

    def start_record(self) -> None:
        """The next line handed out begins a new record."""
        self.record_start = None
        self.tainted = False

    def rewind(self) -> None:
        """Continue at the line after the current record's first line (a bad record)."""
        assert self.record_start is not None
        start = self.record_start
        # lines after the first one will be read again and judged on their own
        self.rejects = [r for r in self.rejects if _line(r) <= start]
        self._fh.seek(self.record_after)
        self._base = self.record_after
        self._raw, self._text, self._ends, self._next = [], [], [], 0
        self.line_no = start
        self.start_record()


def _line(reject: Reject) -> int:
    return int(reject.location.rsplit(":", 1)[1])


def read_header(path: Path, encoding: str, bom: int, delimiter: str,
                quotechar: str) -> list[str]:
    """The header row (line 1) of a CSV file, names stripped.

    Raises ``UnicodeDecodeError`` when line 1 does not decode.
    """
    with open(path, "rb") as fh:
        fh.seek(bom)
        first = fh.readline().decode(encoding)
    row = next(csv.reader([first], delimiter=delimiter, quotechar=quotechar), [])
    return [name.strip() or f"column_{i + 1}" for i, name in enumerate(row)]


#: bytes of a CSV file whose lines are counted to estimate its rows
ESTIMATE_SAMPLE_BYTES = 1 << 20


def estimate_rows(path: Path, bom: int, size: int) -> int:
    """Data lines of a CSV file (its header excluded): counted in the first
    :data:`ESTIMATE_SAMPLE_BYTES` after the BOM and scaled to the file's size, so exact for
    a smaller file. A newline byte is one in UTF-8, GBK and GB18030 alike (never part of
    a multi-byte character); quoted fields spanning lines make it an overestimate."""
    with path.open("rb") as fh:
        fh.seek(bom)
        sample = fh.read(ESTIMATE_SAMPLE_BYTES)
    if not sample:
        return 0
    lines = sample.count(b"\n") + (0 if sample.endswith(b"\n") else 1)
    body = size - bom
    if len(sample) < body:  # a larger file: scale the sampled line density to its size
        lines = round(lines * body / len(sample))
    return max(lines - 1, 0)


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
        lines = _Lines(fh, encoding, name, start_line, fh.tell())
        reader = csv.reader(lines, delimiter=delimiter, quotechar=quotechar, strict=True)
        block = RowBlock(header, [], [])
        while True:
            lines.start_record()
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                if lines.record_start is None:  # nothing of a record was read
                    continue
                first, last = lines.record_start, lines.line_no
                reason = f"malformed CSV: {exc}"
                if last > first:
                    reason += (f"; the quoted field opened on this line does not close (read "
                               f"on to line {last}); the lines after it are read on their own")
                block.rejects.append(Reject(f"{name}:{first}", reason,
                                            lines.record_text.rstrip("\r\n")))
                lines.rewind()
                reader = csv.reader(lines, delimiter=delimiter, quotechar=quotechar,
                                    strict=True)
                continue
            start = lines.record_start or lines.line_no
            if not row:  # a blank line is not a record
                continue
            if lines.line_no > start and (len(row) != width or lines.tainted):
                why = (f"{len(row)} fields, expected {width}" if len(row) != width else
                       "a line inside it does not decode")
                block.rejects.append(Reject(
                    f"{name}:{start}", f"malformed CSV: a quoted field opened on this line "
                    f"runs to line {lines.line_no} and the record is bad ({why}); the lines "
                    "after it are read on their own", lines.record_text.rstrip("\r\n")))
                lines.rewind()
                reader = csv.reader(lines, delimiter=delimiter, quotechar=quotechar,
                                    strict=True)
                continue
            if len(row) != width:
                block.rejects.append(Reject(
                    f"{name}:{start}", f"expected {width} fields, got {len(row)}",
                    lines.record_text.rstrip("\r\n")))
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
