"""Where a recipient's pseudonym key comes from, and what a usable key is.

A pseudonym is HMAC-SHA256 of an identifier under the recipient's own key. Its protection is
the key alone: with an empty or short key, anyone can recompute the pseudonym of every
possible citizen ID and reverse it. So a key is refused unless it has at least
:data:`MIN_KEY_BYTES` bytes (RFC 2104 recommends no less than the hash output, 32 bytes).

Lookup, in order: ``HRSS_HUB_PSEUDONYM_KEY_<RECIPIENT>`` (hex), then
``<pseudonym_keys_dir>/<recipient>.key`` (hex; created once with 32 random bytes and mode
0600 when absent). A present but unusable key is an error naming the recipient and the
variable or file; it is never replaced silently, since that would change every pseudonym.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from hrss_hub.config import env
from hrss_hub.errors import ConfigError

#: the shortest pseudonym key accepted (bytes)
MIN_KEY_BYTES = 32

_NEW_KEY_HINT = ("a key is at least 64 hex digits, e.g. from: "
                 "python -c 'import secrets; print(secrets.token_hex(32))'")


def load_pseudonym_key(recipient: str, keys_dir: Path | None, *, create: bool = True,
                       environ: Mapping[str, str] | None = None) -> bytes:
    """``recipient``'s HMAC key (see the module docstring for where it comes from)."""
    var = env.pseudonym_key_var(recipient)
    value = env.read_pseudonym_key(recipient, environ)
    if value is not None:
        return _parse(value, recipient, {"recipient": recipient, "env": var},
                      f"set {var} to {_NEW_KEY_HINT.removeprefix('a key is ')}")
    if keys_dir is None:
        raise ConfigError("no pseudonym key for recipient", {"recipient": recipient},
                          f"set {var}, or configure pseudonym_keys_dir in hub.yaml")
    path = keys_dir / f"{recipient}.key"
    if not path.exists():
        if not create:
            raise ConfigError("no pseudonym key for recipient",
                              {"recipient": recipient, "file": str(path)}, f"set {var}")
        _create(path)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the pseudonym key file: {exc}",
                          {"recipient": recipient, "file": str(path)}) from None
    return _parse(text, recipient, {"recipient": recipient, "file": str(path), "env": var},
                  f"write a new key into the file or set {var}; {_NEW_KEY_HINT} (pseudonyms "
                  "made with another key will not match)")


def _parse(text: str, recipient: str, where: dict[str, str], hint: str) -> bytes:
    stripped = text.strip()
    if not stripped:
        raise ConfigError("the pseudonym key is empty: pseudonyms would be reversible",
                          where, hint)
    try:
        key = bytes.fromhex(stripped)
    except ValueError:
        raise ConfigError("the pseudonym key is not hex", where, hint) from None
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"the pseudonym key has {len(key)} bytes; at least {MIN_KEY_BYTES} "
                          "are required (a short key makes pseudonyms reversible)", where, hint)
    return key


def _create(path: Path) -> None:
    # written whole under a temporary name, then linked into place: a concurrent delivery
    # (another Airflow task) sees no key or a complete one, never an empty file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(MIN_KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: use its key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
