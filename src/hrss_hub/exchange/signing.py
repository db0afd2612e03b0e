"""The hub's signing key and detached signatures of manifests.

Where the private key comes from, first match wins:

1. ``HRSS_HUB_SIGNING_KEY``: a path to a PEM file, or the PEM text itself;
2. ``signing_key`` in ``hub.yaml``: a path (relative to the workspace);
3. ``<state_dir>/signing_key.pem`` (``signing_key.sm2.pem`` for the SM2 suite), created on
   first use with mode 0600.

(1 and 2 are resolved into ``HubConfig.signing_key`` by :func:`hrss_hub.config.load_config`;
:func:`load_signer` receives the result.)

The suite (Ed25519 or SM2/SM3, see :mod:`hrss_hub.exchange.suites`) follows from the key
file itself; ``signature_suite`` in ``hub.yaml`` only chooses which key a new hub creates
and is checked against the key found. The key never leaves this module: errors name the
source (``env``/a file path), never its content.

A signature document (canonical JSON next to the manifest) carries the suite, the
signer's public key and its id, so anyone can check integrity without the hub; a
recipient that wants to know *who* signed pins the publisher's key (``--trusted-key``, or
the key pinned in the catalog), which defeats re-signing with another key.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hrss_hub.config.env import SIGNING_KEY
from hrss_hub.errors import ConfigError
from hrss_hub.exchange.suites import (
    DEFAULT_SUITE,
    SM2_SM3,
    SUITES,
    PrivateKey,
    PublicKey,
    check_suite,
    generate_key,
    load_private_pem,
    load_public_pem,
    public_from_raw,
    write_private_key,
)

ENV_KEY = SIGNING_KEY.name
SIGNATURE_FORMAT = "hrss-hub/signature/2"

__all__ = ["ENV_KEY", "Signer", "generate_key_file", "key_id", "load_public_key",
           "load_signer", "public_pem", "verify_signature"]


def key_id(public: PublicKey) -> str:
    """Short, stable id of a public key."""
    return public.key_id


def public_pem(public: PublicKey) -> str:
    """The public key as PEM text (safe to publish)."""
    return public.pem()


@dataclass(frozen=True)
class Signer:
    """Signs manifests with one private key."""

    _key: PrivateKey
    source: str  # where the key came from, for messages (never the key itself)

    def __repr__(self) -> str:  # the dataclass default would print the key object
        return f"Signer(suite={self.suite!r}, key_id={self.key_id!r}, source={self.source!r})"

    @property
    def suite(self) -> str:
        """The signature suite of the key (``ed25519`` or ``sm2-sm3``)."""
        return self._key.suite

    @property
    def public_key(self) -> PublicKey:
        """The matching public key."""
        return self._key.public

    @property
    def key_id(self) -> str:
        """Id of the public key."""
        return self._key.public.key_id

    def sign(self, data: bytes) -> bytes:
        """A detached signature document (canonical JSON bytes) over ``data``."""
        return _signature_doc(self.suite, self.key_id, self.public_key.raw,
                              self._key.sign(data))


def _signature_doc(suite: str, kid: str, public: bytes, signature: bytes) -> bytes:
    doc = {"format": SIGNATURE_FORMAT, "suite": suite, "key_id": kid,
           "public_key": base64.b64encode(public).decode(),
           "signature": base64.b64encode(signature).decode()}
    return json.dumps(doc, indent=2, sort_keys=True).encode()


def generate_key_file(path: Path, suite: str = DEFAULT_SUITE) -> None:
    """Write a new private key of ``suite`` as PEM with mode 0600 (refuses to overwrite)."""
    write_private_key(path, generate_key(check_suite(suite)))


def load_signer(configured: str | None = None, state_dir: Path | None = None,
                *, create: bool = True, suite: str | None = None) -> Signer:
    """The signer of this hub (see the module docstring for where the key comes from).

    ``configured``: ``HubConfig.signing_key`` — PEM text (from ``HRSS_HUB_SIGNING_KEY``)
    or the path of a PEM file. ``suite`` is the hub's configured suite: a key of another
    suite is a configuration error, and a key created on first use is of that suite.
    """
    wanted = check_suite(suite) if suite else None
    if configured and configured.lstrip().startswith("-----BEGIN"):
        signer = Signer(load_private_pem(configured.encode(), "env"), f"env {ENV_KEY}")
    elif configured:
        signer = _from_file(Path(configured), f"file {configured}")
    else:
        if state_dir is None:
            raise ConfigError("no signing key configured", {},
                              f"set {ENV_KEY} or signing_key in hub.yaml")
        name = "signing_key.sm2.pem" if wanted == SM2_SM3 else "signing_key.pem"
        path = state_dir / name
        if not path.exists():
            if not create:
                raise ConfigError("no signing key configured", {"file": str(path)},
                                  f"set {ENV_KEY} or signing_key in hub.yaml")
            generate_key_file(path, wanted or DEFAULT_SUITE)
        signer = _from_file(path, f"file {path}")
    if wanted is not None and signer.suite != wanted:
        raise ConfigError(f"the signing key is a {signer.suite} key but hub.yaml asks for "
                          f"signature_suite {wanted}", {"key": signer.source},
                          f"create a key with: hrss-hub publish keygen --suite {wanted} PATH")
    return signer


def _from_file(path: Path, source: str) -> Signer:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the signing key: {exc.strerror}", {"file": str(path)},
                          f"set {ENV_KEY} or signing_key in hub.yaml to a readable file") from None
    return Signer(load_private_pem(pem, source), source)


def load_public_key(pem_or_path: str) -> PublicKey:
    """A trusted public key (either suite) from PEM text or a PEM file.

    A missing or unreadable file is a :class:`ConfigError` naming it (exit 2 in the CLI).
    """
    text = pem_or_path
    if not text.lstrip().startswith("-----BEGIN"):
        try:
            text = Path(pem_or_path).read_text(encoding="ascii")
        except FileNotFoundError:
            raise ConfigError("trusted key file not found", {"file": pem_or_path},
                              "ask the publisher for its key: hrss-hub publish public-key"
                              ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the trusted key: {exc}",
                              {"file": pem_or_path}) from None
        return load_public_pem(text, pem_or_path)
    return load_public_pem(text, "PEM text")


def parse_signature(signature_doc: bytes) -> tuple[dict[str, Any], PublicKey, bytes]:
    """The fields of a signature document, its public key and raw signature.

    Raises ``ValueError`` (or ``KeyError``/``TypeError``) for a malformed document.
    """
    doc: dict[str, Any] = json.loads(signature_doc)
    if not isinstance(doc, dict):
        raise TypeError("signature document is not an object")
    raw = base64.b64decode(doc["public_key"], validate=True)
    sig = base64.b64decode(doc["signature"], validate=True)
    suite = str(doc["suite"])
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}")
    return doc, public_from_raw(suite, raw), sig


def verify_signature(data: bytes, signature_doc: bytes,
                     trusted: list[PublicKey] | None = None) -> tuple[list[str], str]:
    """Check ``signature_doc`` over ``data``; return (problems, signer key id).

    Without ``trusted`` keys the embedded public key is used: that proves integrity (no
    byte changed since signing) but not who signed. With ``trusted`` keys the signer must
    be one of them (same suite and key).
    """
    try:
        doc, public, sig = parse_signature(signature_doc)
        kid = str(doc["key_id"])
    except (ValueError, KeyError, TypeError) as exc:
        return [f"signature file is malformed ({type(exc).__name__})"], ""
    problems: list[str] = []
    # base64 leaves the low bits of the last character unused, and JSON allows any
    # whitespace: demand the exact bytes the signer wrote, so every byte is covered
    if _signature_doc(public.suite, kid, public.raw, sig) != signature_doc:
        problems.append("signature file is not in its canonical form (it was edited)")
    if public.key_id != kid:
        problems.append("signature key_id does not match its public key")
    if trusted is not None and (public.suite, public.raw) not in {
            (k.suite, k.raw) for k in trusted}:
        problems.append(f"manifest signed by key {kid}, which is not a trusted key")
    if not public.verify(sig, data):
        problems.append("manifest signature is invalid (the manifest or signature was changed)")
    return problems, kid
