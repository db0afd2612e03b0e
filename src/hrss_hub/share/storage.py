"""Where the outbox tables live, in the three forms the server needs.

An outbox root is a local folder or an S3-compatible prefix, given like every hub
storage location (``/srv/outbox``, ``s3://bucket/outbox?endpoint_override=host:9000&scheme=http``).
The server reads it three ways: Delta tables through delta-rs (a URI plus
``storage_options``), raw ``_delta_log`` commits and data files through pyarrow's
filesystem (:class:`~hrss_hub.exchange.storage.Store`), and — on S3 only — presigned GET
URLs handed to recipients. Credentials come from the usual ``AWS_*`` environment, never
from the URI, so no secret reaches a response, a log or the audit chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hrss_hub.errors import ConfigError
from hrss_hub.exchange.storage import Store


@dataclass(frozen=True)
class OutboxRoot:
    """The root folder / bucket prefix holding ``<recipient>/<dataset>/`` Delta tables."""

    store: Store
    #: ``None`` for a local folder; else (bucket, key prefix)
    bucket: str | None = None
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None

    @classmethod
    def open(cls, root: str | Path) -> OutboxRoot:
        """An outbox root for a local path or an ``s3://`` URI (see the module docstring)."""
        text = str(root)
        if "://" not in text or text.startswith("file://"):
            return cls(Store.open(text))
        parts = urlsplit(text)
        if parts.scheme != "s3":
            raise ConfigError(f"outboxes on {parts.scheme}:// are not supported",
                              {"uri": f"{parts.scheme}://{parts.netloc}{parts.path}"},
                              "use a local folder or an s3:// URI")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        endpoint = query.get("endpoint_override")
        scheme = query.get("scheme", "https")
        endpoint_url = None if endpoint is None else (
            endpoint if "://" in endpoint else f"{scheme}://{endpoint}")
        # without ``region=`` in the URI, delta-rs and boto3 take it from the AWS_* env
        return cls(Store.open(text), parts.netloc, parts.path.strip("/"), endpoint_url,
                   query.get("region"))

    @property
    def is_s3(self) -> bool:
        """Whether the outboxes are on S3-compatible object storage."""
        return self.bucket is not None

    def table_uri(self, rel: str) -> str:
        """The URI delta-rs opens for the table at ``rel`` (``recipient/dataset``)."""
        if self.bucket is None:
            return self.store.path(rel)
        key = "/".join(p for p in (self.prefix, rel.strip("/")) if p)
        return f"s3://{self.bucket}/{key}"

    def delta_storage_options(self) -> dict[str, str]:
        """``storage_options`` for delta-rs (endpoint and region; keys from the env)."""
        if self.bucket is None:
            return {}
        options: dict[str, str] = {}
        if self.endpoint_url:
            options["AWS_ENDPOINT_URL"] = self.endpoint_url
            if self.endpoint_url.startswith("http://"):
                options["AWS_ALLOW_HTTP"] = "true"
        if self.region:
            options["AWS_REGION"] = self.region
        # delta-rs needs a locking provider only to write; the server only reads
        return options

    def object_key(self, rel: str) -> str:
        """The S3 key of ``rel`` (a path below the root)."""
        return "/".join(p for p in (self.prefix, rel.strip("/")) if p)

    def presign(self, rel: str, expires_in: int) -> str:
        """A presigned GET URL for the object at ``rel``, valid ``expires_in`` seconds."""
        if self.bucket is None:
            raise ConfigError("presigned URLs exist only for S3 outboxes", {"path": rel})
        client = _s3_client(self.endpoint_url, self.region)
        url: str = client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.object_key(rel)},
            ExpiresIn=expires_in)
        return url

    def display(self) -> str:
        """The root for messages (no query string, no secrets)."""
        return self.store.display()


_CLIENTS: dict[tuple[str | None, str | None], Any] = {}


def _s3_client(endpoint_url: str | None, region: str | None) -> Any:
    # one client per endpoint: building one costs ~50 ms, signing with it microseconds
    key = (endpoint_url, region)
    if key not in _CLIENTS:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ConfigError("presigned URLs for an S3 outbox need boto3", {},
                              "pip install 'hrss-hub[s3]'") from None
        _CLIENTS[key] = boto3.client("s3", endpoint_url=endpoint_url, region_name=region,
                                     config=Config(signature_version="s3v4"))
    return _CLIENTS[key]
