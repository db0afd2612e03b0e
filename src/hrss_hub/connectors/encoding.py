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
class FileScan:
    """One pass over a file: its checksum and the encoding its bytes are in."""

    sha256: str
    encoding: str
    bom_length: int
    size: int


def scan(path: Path, encoding: str = "auto") -> FileScan:
    """Hash ``path`` and detect its encoding in one streaming pass (bounded memory).

    Detection (``encoding="auto"``): a UTF-8 BOM → UTF-8; otherwise UTF-8 if the file's
    non-ASCII lines decode as strict UTF-8 more often than they fail (so one corrupt line
    in a UTF-8 file is quarantined instead of turning the whole file into mojibake);
    otherwise GB18030. GBK text is practically never valid UTF-8, so the vote is decisive.
    """
    digest = hashlib.sha256()
    size = 0
    utf8_good = utf8_bad = 0
    bom = 0
    carry = b""
    with open(path, "rb") as fh:
        first = True
        while block := fh.read(_BLOCK):
            digest.update(block)
            size += len(block)
            if first:
                first = False
                if block.startswith(UTF8_BOM):
                    bom = len(UTF8_BOM)
                    block = block[bom:]
                elif block.startswith(_UTF16_BOMS):
                    raise UnicodeError("UTF-16 text is not supported; save the file as UTF-8")
            if encoding != "auto" or bom:
                continue  # only the checksum is needed
            data = carry + block
            cut = data.rfind(b"\n") + 1
            data, carry = (data[:cut], data[cut:]) if cut else (b"", data)
            good, bad = _vote(data)
            utf8_good, utf8_bad = utf8_good + good, utf8_bad + bad
        if carry:
            good, bad = _vote(carry)
            utf8_good, utf8_bad = utf8_good + good, utf8_bad + bad
    if encoding != "auto":
        codec = normalize_codec(encoding)
    elif bom or utf8_bad == 0 or utf8_good > utf8_bad:
        codec = "utf-8"
    else:
        codec = "gb18030"
    return FileScan(digest.hexdigest(), codec, bom, size)


def _vote(data: bytes) -> tuple[int, int]:
    """(non-ASCII lines valid as UTF-8, lines invalid as UTF-8) in ``data``."""
    if data.isascii():
        return 0, 0
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return 1, 0  # one vote per clean block is enough: a block is many lines
    good = bad = 0
    for line in data.split(b"\n"):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad += 1
    return good, bad
