"""Text encodings of files dropped by source systems: UTF-8 (with or without BOM) or GB18030.

Chinese government systems still export GBK/GB2312 files. GB18030 is a superset of both,
so we always decode them as GB18030: decoding as GB2312 turns rare characters in names
(e.g. 䶮, 𠀀) into errors or, worse, into silently wrong text. Decoding is always strict:
an undecodable line is quarantined with its line number, never replaced by U+FFFD.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path

UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
#: names meaning "a GB code page": all decoded as the superset GB18030
_GB_ALIASES = {"gb2312", "gbk", "cp936", "ms936", "gb18030", "euc-cn", "euc_cn", "hz"}
_BLOCK = 1 << 20
#: non-ASCII lines after which a clear vote is final (per-line decoding is the slow part)
_DECISIVE_VOTES = 2000


def normalize_codec(name: str) -> str:
    """The codec we actually decode with: ``gbk``/``gb2312``/``cp936`` → ``gb18030``.

    Raises ``LookupError`` for an unknown codec name.
    """
    canonical = codecs.lookup(name).name
    if canonical.replace("_", "-") in _GB_ALIASES or name.lower() in _GB_ALIASES:
        return "gb18030"
    if canonical in ("utf-8-sig", "utf_8_sig"):
        return "utf-8"  # the BOM is skipped by the reader, see FileScan.bom_length
    return canonical


@dataclass(frozen=True)
class Undecodable:
    """Where a codec first fails on a file: 1-based physical line, 0-based byte offset."""

    line: int
    offset: int
    reason: str


@dataclass
class _Vote:
    """How well one codec decodes a file's non-ASCII lines, and where it first fails."""

    codec: str
    good: int = 0
    bad: int = 0
    first_bad: Undecodable | None = None

    @property
    def decided(self) -> bool:
        """Enough lines voted, by a clear margin, and the first failure (if any) is known:
        judging every further line one by one would not change the outcome."""
        votes = self.good + self.bad
        clear = self.bad >= 4 * self.good or self.good >= 4 * self.bad
        return votes >= _DECISIVE_VOTES and clear and (self.bad == 0 or
                                                       self.first_bad is not None)

    def count(self, data: bytes, first_line: int, offset: int) -> None:
        """Vote on ``data`` (whole lines starting at ``first_line`` / byte ``offset``)."""
        if data.isascii():
            return
        try:
            data.decode(self.codec)
        except UnicodeDecodeError:
            pass
        else:
            self.good += 1  # one vote per clean block is enough: a block is many lines
            return
        if self.decided:
            self.bad += 1  # the block has a bad line; where it is matters no more
            return
        at = offset
        for i, line in enumerate(data.split(b"\n")):
            if not line.isascii():
                try:
                    line.decode(self.codec)
                    self.good += 1
                except UnicodeDecodeError as exc:
                    self.bad += 1
                    if self.first_bad is None:
                        self.first_bad = Undecodable(first_line + i, at + exc.start,
                                                     f"bytes {line[exc.start:exc.end].hex(' ')} "
                                                     f"are not valid {self.codec}")
            at += len(line) + 1

    @property
    def mostly_fails(self) -> bool:
        """More non-ASCII lines fail than decode: the wrong codec, not a corrupt line."""
        return self.bad > self.good

    @property
    def clean(self) -> bool:
        """Non-ASCII text that decodes everywhere."""
        return self.bad == 0 and self.good > 0


@dataclass(frozen=True)
class FileScan:
    """One pass over a file: its checksum and the encoding its bytes are in."""

    sha256: str
    #: the codec the file is decoded with (declared, or detected for ``auto``)
    encoding: str
    bom_length: int
    size: int
    #: what ``auto`` detects for this file (equal to ``encoding`` under ``auto``)
    detected: str = "utf-8"
    #: where ``encoding`` first fails on the file, if it does
    first_undecodable: Undecodable | None = None
    #: True when the declared codec does not fit the file at all (see :func:`scan`)
    mismatch: bool = False


def scan(path: Path, encoding: str = "auto") -> FileScan:
    """Hash ``path`` and check its encoding in one streaming pass (bounded memory).

    Detection (``encoding="auto"``): a UTF-8 BOM → UTF-8; otherwise UTF-8 if the file's
    non-ASCII lines decode as strict UTF-8 more often than they fail (so one corrupt line
    in a UTF-8 file is quarantined instead of turning the whole file into mojibake);
    otherwise GB18030. GBK text is practically never valid UTF-8, so the vote is decisive.

    With an explicit ``encoding`` the file is checked against it: ``mismatch`` is set when
    most non-ASCII lines do not decode (the file is in another encoding, rather than
    having a corrupt line), or when a GB code page is declared for text that is valid
    UTF-8 throughout (GB18030 would decode it without error, into the wrong characters).
    """
    digest = hashlib.sha256()
    size = 0
    bom = 0
    declared = None if encoding == "auto" else normalize_codec(encoding)
    utf8 = _Vote("utf-8")
    other = _Vote(declared) if declared not in (None, "utf-8") else None
    carry = b""
    line = 1  # physical line number of the first line in ``carry + block``
    offset = 0  # byte offset of the same
    with open(path, "rb") as fh:
        first = True
        while block := fh.read(_BLOCK):
            digest.update(block)
            size += len(block)
            if first:
                first = False
                if block.startswith(UTF8_BOM):
                    bom = offset = len(UTF8_BOM)
                    block = block[bom:]
                elif block.startswith(_UTF16_BOMS):
                    raise UnicodeError("UTF-16 text is not supported; save the file as UTF-8")
            if bom and declared in (None, "utf-8"):
                continue  # a BOM settles it: only the checksum is needed
            data = carry + block
            cut = data.rfind(b"\n") + 1
            data, carry = (data[:cut], data[cut:]) if cut else (b"", data)
            for vote in (utf8, other):
                if vote is not None:
                    vote.count(data, line, offset)
            line += data.count(b"\n")
            offset += len(data)
        for vote in (utf8, other):
            if carry and vote is not None:
                vote.count(carry, line, offset)
    detected = "utf-8" if bom or utf8.bad == 0 or utf8.good > utf8.bad else "gb18030"
    if declared is None:
        chosen = utf8 if detected == "utf-8" else None
        return FileScan(digest.hexdigest(), detected, bom, size, detected,
                        chosen.first_bad if chosen else None)
    vote = other or utf8
    mismatch = vote.mostly_fails or (declared == "gb18030" and (bom > 0 or utf8.clean))
    return FileScan(digest.hexdigest(), declared, bom, size, detected, vote.first_bad, mismatch)
