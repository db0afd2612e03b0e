"""The hub's secret HMAC keys: where each comes from, and what a usable key is.

Two keys are HMAC keys kept by the hub: a recipient's **pseudonym key** (a pseudonym is
HMAC-SHA256 of an identifier under it) and the sharing server's **URL key** (it signs file
URLs and page tokens). Each is protected by its secrecy and length alone: with an empty or
short pseudonym key anyone can recompute the pseudonym of every possible citizen ID and
reverse it; with a weak URL key anyone can forge a download link. So a key is refused unless
it has at least :data:`MIN_KEY_BYTES` bytes (RFC 2104 recommends no less than the hash
output, 32 bytes).

Lookup, in order: the environment variable (hex) — ``HRSS_HUB_PSEUDONYM_KEY_<RECIPIENT>`` or
``HRSS_HUB_SHARE_URL_KEY`` —, then the key file (hex; created once with 32 random bytes and
mode 0600 when absent): ``<pseudonym_keys_dir>/<recipient>.key`` or
``<state_dir>/share-url.key``. A present but unusable key is an error naming the key and the
variable or file; it is never replaced silently, since that would change every pseudonym
(or invalidate every link) already handed out.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from hrss_hub.config import env
from hrss_hub.errors import ConfigError

#: the shortest HMAC key accepted (bytes)
MIN_KEY_BYTES = 32

_NEW_KEY = ("at least 64 hex digits, e.g. from: "
            "python -c 'import secrets; print(secrets.token_hex(32))'")


def load_pseudonym_key(recipient: str, keys_dir: Path | None, *, create: bool = True,
                       environ: Mapping[str, str] | None = None) -> bytes:
    """``recipient``'s pseudonym key (see the module docstring for where it comes from)."""
    return load_hmac_key(
        env.EnvVar(env.pseudonym_key_var(recipient), "pseudonym key", ""),
        None if keys_dir is None else keys_dir / f"{recipient}.key",
        what="pseudonym key", danger="pseudonyms would be reversible",
        context={"recipient": recipient}, create=create, environ=environ,
        consequence="pseudonyms made with another key will not match")


def load_share_url_key(state_dir: Path | None, *, create: bool = True,
                       environ: Mapping[str, str] | None = None) -> bytes:
    """The key signing the sharing server's file URLs and page tokens."""
    return load_hmac_key(env.SHARE_URL_KEY,
                         None if state_dir is None else state_dir / "share-url.key",
                         what="share URL key", danger="signed URLs could be forged",
                         context={}, create=create, environ=environ,
                         consequence="links handed out with another key stop working")


def load_hmac_key(var: env.EnvVar, file: Path | None, *, what: str, danger: str,
                  context: Mapping[str, str], consequence: str, create: bool = True,
                  environ: Mapping[str, str] | None = None) -> bytes:
    """A hex HMAC key from ``var``, else from ``file`` (created when absent and ``create``)."""
    value = var.read(environ)
    if value is not None:
        return _parse(value, what, danger, {**context, "env": var.name},
                      f"set {var.name} to {_NEW_KEY}")
    if file is None:
        raise ConfigError(f"no {what}", dict(context), f"set {var.name}")
    if not file.exists():
        if not create:
            raise ConfigError(f"no {what}", {**context, "file": str(file)}, f"set {var.name}")
        _create(file)
    try:
        text = file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the {what} file: {exc}",
                          {**context, "file": str(file)}) from None
    return _parse(text, what, danger, {**context, "file": str(file), "env": var.name},
                  f"write a new key of {_NEW_KEY} into the file, or set {var.name} "
                  f"({consequence})")


def _parse(text: str, what: str, danger: str, where: dict[str, str], hint: str) -> bytes:
    stripped = text.strip()
    if not stripped:
        raise ConfigError(f"the {what} is empty: {danger}", where, hint)
    try:
        key = bytes.fromhex(stripped)
    except ValueError:
        raise ConfigError(f"the {what} is not hex", where, hint) from None
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"the {what} has {len(key)} bytes; at least {MIN_KEY_BYTES} are "
                          f"required (a short key: {danger})", where, hint)
    return key


def _create(path: Path) -> None:
    # written whole under a temporary name, then linked into place: a concurrent process
    # (another Airflow task, a second server) sees no key or a complete one, never an empty
    # file, and exactly one key wins
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
