"""Settings of the sharing server: the ``share:`` section of ``hub.yaml`` and its overrides.

```yaml
share:
  endpoint: https://share.example.gov.cn/delta-sharing   # what profiles and file URLs name
  host: 0.0.0.0            # where ``hrss-hub share serve`` listens (default 127.0.0.1)
  port: 8443               # default 8080
  tls_cert: certs/share.pem
  tls_key: certs/share.key
  url_ttl_seconds: 900     # life of a signed file URL (default 15 minutes)
```

Paths are relative to the workspace. ``HRSS_HUB_SHARE_ENDPOINT`` overrides ``endpoint``
(a deployment behind a reverse proxy knows its public name only at deploy time);
command-line options override both. The key that signs file URLs and page tokens comes from
``HRSS_HUB_SHARE_URL_KEY`` (hex, ≥ 32 bytes) or ``<state_dir>/share-url.key`` (created
once, mode 0600) — every server process of one deployment must share it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hrss_hub.config import HubConfig, env
from hrss_hub.errors import ConfigError, unknown_choice

PREFIX = "/delta-sharing"
ENV_URL_KEY = env.SHARE_URL_KEY.name
_KEYS = {"endpoint", "host", "port", "tls_cert", "tls_key", "url_ttl_seconds"}


@dataclass(frozen=True)
class ShareSettings:
    """Resolved settings of the sharing server."""

    host: str = "127.0.0.1"
    port: int = 8080
    endpoint: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    url_ttl_seconds: int = 900

    @property
    def public_endpoint(self) -> str:
        """The endpoint profiles name: the configured one, else this host and port."""
        if self.endpoint:
            return self.endpoint.rstrip("/")
        scheme = "https" if self.tls_cert else "http"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}:{self.port}{PREFIX}"

    def with_overrides(self, **values: Any) -> ShareSettings:
        """A copy with the given (non-``None``) values replaced, then checked."""
        clean = {k: v for k, v in values.items() if v is not None}
        return _checked(replace(self, **clean), "command line")


def load_settings(cfg: HubConfig) -> ShareSettings:
    """The ``share:`` section of ``cfg`` (``HRSS_HUB_SHARE_ENDPOINT`` already applied by
    :mod:`hrss_hub.config`) as settings; the checks here also guard command-line values."""
    raw = dict(cfg.share)
    where = str(cfg.source_file or cfg.root / "hub.yaml")
    unknown = set(raw) - _KEYS
    if unknown:
        raise unknown_choice("share setting", sorted(unknown)[0], _KEYS, file=where,
                             path=f"share.{sorted(unknown)[0]}")
    values: dict[str, Any] = {}
    for key in ("host", "endpoint"):
        if raw.get(key) is not None:
            values[key] = str(raw[key])
    for key in ("port", "url_ttl_seconds"):
        if key in raw:
            if not isinstance(raw[key], int) or isinstance(raw[key], bool):
                raise ConfigError(f"share.{key} must be an integer, got {raw[key]!r}",
                                  {"file": where, "path": f"share.{key}"})
            values[key] = raw[key]
    for key in ("tls_cert", "tls_key"):
        if raw.get(key):
            values[key] = (cfg.root / str(raw[key])).resolve()
    return _checked(ShareSettings(**values), where)


def _checked(s: ShareSettings, where: str) -> ShareSettings:
    if not 0 < s.port < 65536:
        raise ConfigError(f"share port must be 1–65535, got {s.port}", {"file": where})
    if not 10 <= s.url_ttl_seconds <= 7 * 24 * 3600:
        raise ConfigError(f"share.url_ttl_seconds must be between 10 s and 7 days, got "
                          f"{s.url_ttl_seconds}", {"file": where})
    if (s.tls_cert is None) != (s.tls_key is None):
        raise ConfigError("TLS needs both a certificate and its key", {"file": where},
                          "set share.tls_cert and share.tls_key (or --tls-cert and --tls-key)")
    for path in (s.tls_cert, s.tls_key):
        if path is not None and not Path(path).is_file():
            raise ConfigError("TLS file not found", {"file": str(path)})
    if s.endpoint is not None:
        parts = urlsplit(s.endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"share endpoint must be an http(s) URL, got {s.endpoint!r}",
                              {"file": where, "path": "share.endpoint"})
    return s


def url_key(state_dir: Path | None) -> bytes:
    """The HMAC key of file URLs and page tokens (see the module docstring)."""
    value = env.SHARE_URL_KEY.read()
    if value:
        try:
            key = bytes.fromhex(value.strip())
        except ValueError:
            raise ConfigError("the share URL key must be hex", {"env": ENV_URL_KEY}) from None
        if len(key) < 32:
            raise ConfigError("the share URL key must be at least 32 bytes (64 hex digits)",
                              {"env": ENV_URL_KEY})
        return key
    if state_dir is None:
        raise ConfigError("no share URL key", {}, f"set {ENV_URL_KEY}")
    path = state_dir / "share-url.key"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        # written aside, then linked into place: a second server process starting at the
        # same moment sees either no key or the whole key, and exactly one key wins
        tmp = state_dir / f".share-url.key.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(os.urandom(32).hex())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except ValueError:
        raise ConfigError("the share URL key file is not hex", {"file": str(path)}) from None
