"""Ed25519 signatures of manifests (detached, next to the manifest as ``_manifest.sig``).

Where the private key comes from, first match wins:

1. ``HRSS_HUB_SIGNING_KEY``: a path to a PEM file, or the PEM text itself;
2. ``signing_key`` in ``hub.yaml``: a path (relative to the workspace);
3. ``<state_dir>/signing_key.pem``, created on first use with mode 0600.

(1 and 2 are resolved into ``HubConfig.signing_key`` by :func:`hrss_hub.config.load_config`;
:func:`load_signer` receives the result.)

The key never leaves this module: errors name the source (``env``/a file path), never
its content. A signature document carries the signer's public key and its id so that a
recipient can verify without the hub; a recipient that wants more than integrity pins the
publisher's public key (``hrss-hub verify --trusted-key``), which defeats re-signing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from hrss_hub.config.env import SIGNING_KEY
from hrss_hub.errors import ConfigError

ENV_KEY = SIGNING_KEY.name
ALGORITHM = "Ed25519"


def key_id(public: Ed25519PublicKey) -> str:
    """Short, stable id of a public key (SHA-256 of its raw bytes, 16 hex digits)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    """The public key as PEM text (safe to publish)."""
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass(frozen=True)
class Signer:
    """Signs manifests with one private key."""

    _key: Ed25519PrivateKey
    source: str  # where the key came from, for messages (never the key itself)

    def __repr__(self) -> str:  # the dataclass default would print the key object
        return f"Signer(key_id={self.key_id!r}, source={self.source!r})"

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The matching public key."""
        return self._key.public_key()

    @property
    def key_id(self) -> str:
        """Id of the public key."""
        return key_id(self.public_key)

    def sign(self, data: bytes) -> bytes:
        """A detached signature document (JSON bytes) over ``data``."""
        doc = {
            "algorithm": ALGORITHM,
            "key_id": self.key_id,
            "public_key": base64.b64encode(self.public_key.public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode(),
            "signature": base64.b64encode(self._key.sign(data)).decode(),
        }
        return json.dumps(doc, indent=2).encode()


def generate_key_file(path: Path) -> None:
    """Write a new private key as PEM with mode 0600 (refuses to overwrite)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def _private_from_pem(pem: bytes, source: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError("the signing key is not an unencrypted PEM private key",
                          {"key": source},
                          "create one with: hrss-hub publish keygen PATH") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError("the signing key must be an Ed25519 key", {"key": source},
                          "create one with: hrss-hub publish keygen PATH")
    return key


def load_signer(configured: str | None = None, state_dir: Path | None = None,
                *, create: bool = True) -> Signer:
    """The signer of this hub (see the module docstring for where the key comes from).

    ``configured``: ``HubConfig.signing_key`` — PEM text (from ``HRSS_HUB_SIGNING_KEY``)
    or the path of a PEM file.
    """
    if configured and configured.lstrip().startswith("-----BEGIN"):
        return Signer(_private_from_pem(configured.encode(), "env"), f"env {ENV_KEY}")
    if configured:
        return _from_file(Path(configured), f"file {configured}")
    if state_dir is None:
        raise ConfigError("no signing key configured", {},
                          f"set {ENV_KEY} or signing_key in hub.yaml")
    path = state_dir / "signing_key.pem"
    if not path.exists():
        if not create:
            raise ConfigError("no signing key configured", {"file": str(path)},
                              f"set {ENV_KEY} or signing_key in hub.yaml")
        generate_key_file(path)
    return _from_file(path, f"file {path}")


def _from_file(path: Path, source: str) -> Signer:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the signing key: {exc.strerror}", {"file": str(path)},
                          f"set {ENV_KEY} or signing_key in hub.yaml to a readable file") from None
    return Signer(_private_from_pem(pem, source), source)


def load_public_key(pem_or_path: str) -> Ed25519PublicKey:
    """A trusted public key from PEM text or a PEM file."""
    text = pem_or_path
    if not text.lstrip().startswith("-----BEGIN"):
        text = Path(pem_or_path).read_text(encoding="ascii")
    key = serialization.load_pem_public_key(text.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError("trusted key is not an Ed25519 public key", {"key": pem_or_path[:80]})
    return key


def verify_signature(data: bytes, signature_doc: bytes,
                     trusted: list[Ed25519PublicKey] | None = None) -> tuple[list[str], str]:
    """Check ``signature_doc`` over ``data``; return (problems, signer key id).

    Without ``trusted`` keys the embedded public key is used: that proves integrity (no
    byte changed since signing) but not who signed. With ``trusted`` keys the signer must
    be one of them.
    """
    try:
        doc: dict[str, Any] = json.loads(signature_doc)
        raw = base64.b64decode(doc["public_key"], validate=True)
        sig = base64.b64decode(doc["signature"], validate=True)
        public = Ed25519PublicKey.from_public_bytes(raw)
        kid = str(doc["key_id"])
        algorithm = doc["algorithm"]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"signature file is malformed ({type(exc).__name__})"], ""
    problems: list[str] = []
    # base64 leaves the low bits of the last character unused, and JSON allows any
    # whitespace: demand the exact bytes the signer wrote, so every byte is covered
    canonical = {"algorithm": algorithm, "key_id": kid,
                 "public_key": base64.b64encode(raw).decode(),
                 "signature": base64.b64encode(sig).decode()}
    if json.dumps(canonical, indent=2).encode() != signature_doc:
        problems.append("signature file is not in its canonical form (it was edited)")
    if algorithm != ALGORITHM:
        problems.append(f"unsupported signature algorithm {algorithm!r}")
    if key_id(public) != kid:
        problems.append("signature key_id does not match its public key")
    if trusted is not None and kid not in {key_id(k) for k in trusted}:
        problems.append(f"manifest signed by key {kid}, which is not a trusted key")
    try:
        public.verify(sig, data)
    except InvalidSignature:
        problems.append("manifest signature is invalid (the manifest or signature was changed)")
    return problems, kid
