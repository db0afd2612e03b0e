"""The hub.yaml sections of the hub's services: ``share``, ``master``, ``duckdb``.

Each is checked with the rest of hub.yaml (every problem at once, with its line); what the
settings *do* is up to the package that uses them — :mod:`hrss_hub.share` (the Delta Sharing
server), :mod:`hrss_hub.master` (person master and record linkage) and the DuckDB queries of
the master and the supervision checks. ``HubConfig`` carries each section as the mapping of
the keys that were written (defaults are the using package's, documented here and in
docs/configuration.md), with paths made absolute.

::

    share:
      endpoint: https://share.example.gov.cn/delta-sharing
      host: 0.0.0.0
      port: 8443
      tls_cert: certs/share.pem
      tls_key: certs/share.key
      url_ttl_seconds: 900
    master:
      review_threshold: 0.9
      auto_link_threshold: null
      survivorship: {phone: [employment, si_core]}
    duckdb:
      memory_limit: 512MB
      threads: 2
      temp_directory: .hrss-hub/duckdb
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from hrss_hub.config.model import FileModel, Name, NameList, PositiveInt, fail, fail_at

#: a probability strictly between 0 and 1
Probability = Annotated[float, Field(gt=0, lt=1)]
_SIZE = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


class ShareSection(FileModel):
    """``share:`` — the Delta Sharing server (``hrss-hub share serve``)."""

    endpoint: Name | None = None  # what profiles and file URLs name (a reverse proxy's URL)
    """What profiles and file URLs name (a reverse proxy's URL); unset: this host's serve address.
    """
    host: Name = "127.0.0.1"
    """Address the server listens on."""
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    """Port the server listens on."""
    tls_cert: Name | None = None
    """PEM certificate for HTTPS (with tls_key); unset: plain HTTP behind a TLS proxy."""
    tls_key: Name | None = None
    """PEM key of tls_cert."""
    url_ttl_seconds: Annotated[int, Field(ge=10, le=7 * 24 * 3600)] = 900
    """Lifetime of the signed file URLs handed to recipients."""

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise fail(f"endpoint must be an http(s) URL, got {value!r}",
                           "e.g. https://share.example.gov.cn/delta-sharing")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> ShareSection:
        if (self.tls_cert is None) != (self.tls_key is None):
            missing = "tls_key" if self.tls_key is None else "tls_cert"
            raise fail_at(((missing,), "TLS needs both a certificate and its key",
                           "set share.tls_cert and share.tls_key"))
        return self


class MasterSection(FileModel):
    """``master:`` — person-master survivorship and record-linkage thresholds."""

    review_threshold: Probability = 0.9  # pairs at or above go to the steward queue
    """Pairs at or above this match probability go to the steward queue."""
    auto_link_threshold: Probability | None = None  # at or above: linked without review
    """At or above: linked without review (not below review_threshold); unset: every pair is
    reviewed.
    """
    # field → systems, earlier wins (over source_precedence; the fields: hrss_hub.master)
    survivorship: dict[Name, NameList] = Field(default_factory=dict)
    """Field -> systems, earlier wins (over source_precedence)."""

    @model_validator(mode="after")
    def _auto_above_review(self) -> MasterSection:
        auto = self.auto_link_threshold
        if auto is not None and auto < self.review_threshold:
            raise fail_at((("auto_link_threshold",), f"auto_link_threshold ({auto}) is below "
                           f"review_threshold ({self.review_threshold})",
                           "automatic links must need more certainty than a review"))
        return self


class DuckdbSection(FileModel):
    """``duckdb:`` — limits of the DuckDB queries (master build, supervision checks)."""

    memory_limit: Name = "512MB"  # DuckDB's own cap; it spills to temp_directory beyond it
    """DuckDB's own memory cap; it spills to temp_directory beyond it."""
    threads: PositiveInt = 2
    """Threads of each DuckDB query."""
    temp_directory: Name | None = None  # default <state_dir>/duckdb
    """Where DuckDB spills; unset: <state_dir>/duckdb."""

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, value: str) -> str:
        if not _SIZE.match(value):
            raise fail(f"memory_limit must be a size like 1GB or 512MB, got {value!r}")
        return value


def written(section: FileModel) -> dict[str, Any]:
    """The keys of a section that hub.yaml sets, as validated (JSON-like values)."""
    return section.model_dump(mode="json", exclude_unset=True)
