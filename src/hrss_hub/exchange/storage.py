"""Where exchanges live: a local folder or an S3-compatible bucket, behind one small API.

Everything above this module speaks in ``/``-separated paths relative to a root, so the
same publishing code runs against ``/srv/exchange`` and ``s3://bucket/exchange``. Two
clients reach the same place: pyarrow's filesystem (the hub's ``_hrss/`` manifests, file
digests, plain reads) and delta-rs' object store (the Delta log and data files), which
gets the same endpoint, region and scheme through :meth:`Store.delta_options`. The
endpoint comes from the URI (``?endpoint_override=host:port&scheme=http&region=…``) or
``AWS_ENDPOINT_URL``; credentials only from the environment / AWS profile.

Delta commits are atomic on both: a local ``rename``-free create of the next log file,
and on S3 a conditional ``PUT`` (``If-None-Match``), which delta-rs uses by default, so
two publishers racing for one version cannot both win (tested against a local S3
server). One more operation needs care per backend: replacing a small file atomically.

- Local: write a temporary file next to the target, ``fsync`` it, ``os.replace`` it over
  the target and ``fsync`` the folder, so that after a crash the pointer is either the old
  one or the new one, never empty or half-written.
- S3: a single ``PUT`` is atomic per object (readers see the old or the new object), so
  the pointer is written with one PUT after every file it names is complete.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from hrss_hub.config.env import object_store_variable
from hrss_hub.errors import PublishError, redact


@dataclass(frozen=True)
class Store:
    """A root (local folder or bucket prefix) holding exchanges."""

    fs: pafs.FileSystem
    base: str
    uri: str
    #: non-secret delta-rs storage options (endpoint, region, scheme) of an object store
    options: tuple[tuple[str, str], ...] = ()

    # -- construction --------------------------------------------------------------------

    @classmethod
    def open(cls, root: str | Path | Store) -> Store:
        """A store for a local path or a URI (``s3://bucket/prefix?endpoint_override=…``).

        S3 credentials come from the usual AWS environment variables or profile, never
        from the URI, so that no secret ends up in a manifest, log or error.
        """
        if isinstance(root, Store):
            return root
        text = str(root)
        if "://" in text and not text.startswith("file://"):
            try:
                fs, base = pafs.FileSystem.from_uri(text)
            except pa_errors() as exc:
                raise PublishError(f"cannot open exchange storage: {exc}",
                                   {"uri": _safe_uri(text)}) from None
            return cls(fs, base.rstrip("/"), _safe_uri(text), _delta_options(text))
        path = Path(text.removeprefix("file://")).resolve()
        return cls(pafs.LocalFileSystem(), path.as_posix(), str(path))

    @property
    def is_local(self) -> bool:
        """Whether the store is a local folder (POSIX rename and fsync are available)."""
        return isinstance(self.fs, pafs.LocalFileSystem)

    def sub(self, *parts: str) -> Store:
        """A store rooted at a sub-path of this one."""
        rel = "/".join(p.strip("/") for p in parts if p)
        return Store(self.fs, f"{self.base}/{rel}" if rel else self.base,
                     f"{self.uri.rstrip('/')}/{rel}" if rel else self.uri, self.options)

    def path(self, rel: str) -> str:
        """Absolute filesystem path of ``rel`` inside the store."""
        return f"{self.base}/{rel.strip('/')}" if rel else self.base

    def delta_uri(self, rel: str = "") -> str:
        """The URI delta-rs opens for ``rel`` (a local path, or ``s3://bucket/…``)."""
        if self.is_local:
            return self.path(rel)
        return f"{self.uri.rstrip('/')}/{rel.strip('/')}" if rel else self.uri

    def delta_options(self) -> dict[str, str]:
        """Storage options for delta-rs (no secrets: those come from the environment)."""
        return dict(self.options)

    def display(self, rel: str = "") -> str:
        """Human-readable location of ``rel`` (for messages; no secrets)."""
        return f"{self.uri.rstrip('/')}/{rel.strip('/')}" if rel else self.uri

    # -- reading -------------------------------------------------------------------------

    def exists(self, rel: str) -> bool:
        """Whether a file or folder exists."""
        return bool(self.fs.get_file_info(self.path(rel)).type != pafs.FileType.NotFound)

    def is_dir(self, rel: str) -> bool:
        """Whether ``rel`` is a folder (on S3: a non-empty prefix)."""
        return bool(self.fs.get_file_info(self.path(rel)).type == pafs.FileType.Directory)

    def read_bytes(self, rel: str) -> bytes:
        """The whole content of a (small) file."""
        try:
            with self.fs.open_input_stream(self.path(rel)) as fh:
                data: bytes = fh.read()
                return data
        except FileNotFoundError:
            raise
        except OSError as exc:
            if self.fs.get_file_info(self.path(rel)).type == pafs.FileType.NotFound:
                raise FileNotFoundError(self.display(rel)) from None
            raise PublishError(f"cannot read {self.display(rel)}: {exc}") from None

    def listdir(self, rel: str = "") -> list[str]:
        """Names (not paths) of the direct children of a folder; empty if it is missing."""
        selector = pafs.FileSelector(self.path(rel), allow_not_found=True, recursive=False)
        return sorted(info.base_name for info in self.fs.get_file_info(selector))

    def size(self, rel: str) -> int:
        """Size of a file in bytes."""
        return int(self.fs.get_file_info(self.path(rel)).size)

    def sha256(self, rel: str) -> str:
        """SHA-256 of a file, streamed in 1 MiB blocks."""
        digest = hashlib.sha256()
        with self.fs.open_input_stream(self.path(rel)) as fh:
            while True:
                block = fh.read(1 << 20)
                if not block:
                    break
                digest.update(block)
        return digest.hexdigest()

    # -- writing -------------------------------------------------------------------------

    def makedirs(self, rel: str) -> None:
        """Create a folder and its parents (no-op on S3, where folders are prefixes and
        pyarrow would leave empty marker objects)."""
        if self.is_local:
            self.fs.create_dir(self.path(rel), recursive=True)

    @contextmanager
    def open_output(self, rel: str) -> Iterator[Any]:
        """A binary output stream for a new file (parents are created)."""
        parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
        if parent:
            self.makedirs(parent)
        with self.fs.open_output_stream(self.path(rel)) as out:
            yield out

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a whole file (not atomically: only for files no reader looks at yet)."""
        with self.open_output(rel) as out:
            out.write(data)
        if self.is_local:
            _fsync_file(self.path(rel))

    def replace_atomic(self, rel: str, data: bytes) -> None:
        """Replace ``rel`` with ``data`` so that a reader sees either the old or the new
        content, also when the process dies halfway (see the module docstring)."""
        if not self.is_local:
            self.write_bytes(rel, data)  # one PUT: atomic per object
            return
        target = Path(self.path(rel))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(target.parent)

    def delete_file(self, rel: str) -> None:
        """Delete a file if it exists."""
        with suppress(FileNotFoundError):
            self.fs.delete_file(self.path(rel))

    def delete_dir(self, rel: str) -> None:
        """Delete a folder and everything below it, if it exists."""
        if self.exists(rel):
            self.fs.delete_dir(self.path(rel))

    def sync_dir(self, rel: str) -> None:
        """Make the folder entries of ``rel`` durable (local only; S3 needs nothing)."""
        if self.is_local and self.exists(rel):
            _fsync_dir(Path(self.path(rel)))


def pa_errors() -> tuple[type[BaseException], ...]:
    """Exceptions pyarrow raises for bad URIs or unreachable storage."""
    import pyarrow as pa

    return (pa.ArrowInvalid, pa.ArrowIOError, OSError, ValueError)


def _safe_uri(uri: str) -> str:
    parts = urlsplit(uri)
    # query strings may carry access keys: keep only the scheme, host and path
    return redact(f"{parts.scheme}://{parts.netloc}{parts.path}")


def _delta_options(uri: str) -> tuple[tuple[str, str], ...]:
    """delta-rs options from a pyarrow-style S3 URI's query (endpoint, scheme, region)."""
    from urllib.parse import parse_qs

    parts = urlsplit(uri)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    out: dict[str, str] = {}
    endpoint = query.get("endpoint_override") or object_store_variable("AWS_ENDPOINT_URL")
    scheme = query.get("scheme", "https")
    if endpoint:
        if "://" not in endpoint:
            endpoint = f"{scheme}://{endpoint}"
        out["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            out["AWS_ALLOW_HTTP"] = "true"
    region = (query.get("region") or object_store_variable("AWS_REGION")
              or object_store_variable("AWS_DEFAULT_REGION"))
    if region:
        out["AWS_REGION"] = region
    return tuple(sorted(out.items()))


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
