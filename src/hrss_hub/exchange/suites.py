"""Signature suites: how manifests are digested and signed.

Two suites, chosen per hub (``signature_suite`` in ``hub.yaml``) and named in every
manifest and signature document, so that a verifier needs no configuration:

- ``ed25519`` (default): Ed25519 signatures (RFC 8032), SHA-256 file digests;
- ``sm2-sm3``: SM2 signatures (GB/T 32918.2, GM/T 0003.2) over SM3 (GB/T 32905) with the
  standard's default signer id ``1234567812345678``, SM3 file digests. This is what the
  商用密码 assessment (GB/T 39786) of a government system expects.

Libraries, chosen by measurement (numbers in the workstream note): Ed25519 and SM3 from
``cryptography`` (OpenSSL; SM3 ≈ 470 MB/s); SM2 from ``gmalg`` (pure Python, maintained,
MIT): ≈ 13 ms per signature and 20 ms per verification, which is nothing next to one
publish, and it lets the known-answer tests fix the nonce ``k`` exactly as the standard's
worked example does. Keys are stored in the formats OpenSSL and GmSSL use (PKCS#8 PEM for
Ed25519, SEC1 ``EC PRIVATE KEY`` PEM on curve sm2p256v1 for SM2; public keys as
SubjectPublicKeyInfo PEM), so ``openssl`` / ``gmssl`` tools read them too.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from hrss_hub.errors import ConfigError

ED25519 = "ed25519"
SM2_SM3 = "sm2-sm3"
SUITES = (ED25519, SM2_SM3)
DEFAULT_SUITE = ED25519

#: GB/T 35276-2017 §5.4.4 / GM/T 0009: the default signer id when none is agreed
SM2_DEFAULT_UID = b"1234567812345678"

# DER prefixes (fixed length) of SM2 keys on sm2p256v1 (OID 1.2.156.10197.1.301)
_SM2_OID = bytes.fromhex("06082a811ccf5501822d")
_SM2_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d0201") + _SM2_OID + bytes.fromhex(
    "034200")
_SM2_SEC1_HEAD = bytes.fromhex("307702010104")  # SEQUENCE, version 1, OCTET STRING …
_SM2_SEC1_MID = bytes.fromhex("a00a") + _SM2_OID + bytes.fromhex("a144034200")


class Digest(Protocol):
    """An incremental hash (``hashlib`` style)."""

    def update(self, data: bytes, /) -> None:
        """Feed bytes."""

    def hexdigest(self) -> str:
        """The digest as lower-case hex."""


class _SM3:
    """SM3 through OpenSSL, with the ``hashlib`` interface used for file digests."""

    def __init__(self) -> None:
        self._h = hashes.Hash(hashes.SM3())

    def update(self, data: bytes, /) -> None:
        self._h.update(bytes(data))

    def hexdigest(self) -> str:
        return self._h.finalize().hex()


def new_digest(suite: str) -> Digest:
    """A fresh file-digest hash of ``suite`` (SHA-256 or SM3)."""
    if suite == SM2_SM3:
        return _SM3()
    return hashlib.sha256()


def digest_name(suite: str) -> str:
    """Name of the digest algorithm of ``suite`` as written into manifests."""
    return "sm3" if suite == SM2_SM3 else "sha256"


def digest_bytes(suite: str, data: bytes) -> str:
    """Hex digest of ``data`` under ``suite``."""
    h = new_digest(suite)
    h.update(data)
    return h.hexdigest()


#: other spellings of a suite (hub.yaml's ``signature_suite: sm2``)
ALIASES = {"sm2": SM2_SM3, "sm2/sm3": SM2_SM3, "ed25519": ED25519}


def check_suite(name: str, where: str = "signature_suite") -> str:
    """The suite ``name`` stands for, else a :class:`ConfigError` listing them."""
    name = ALIASES.get(name.lower(), name) if isinstance(name, str) else name
    if name not in SUITES:
        raise ConfigError(f"unknown signature suite {name!r}", {"setting": where},
                          f"use one of: {', '.join(SUITES)}")
    return name


# -- keys -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PublicKey:
    """A verification key of either suite."""

    suite: str
    raw: bytes  # Ed25519: 32 bytes; SM2: 04 || X || Y (65 bytes)

    @property
    def key_id(self) -> str:
        """Short stable id (SHA-256 of the raw key, 16 hex digits), the same for both
        suites so that the catalog pins keys uniformly."""
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def pem(self) -> str:
        """SubjectPublicKeyInfo PEM (safe to publish)."""
        if self.suite == ED25519:
            key = Ed25519PublicKey.from_public_bytes(self.raw)
            return key.public_bytes(serialization.Encoding.PEM,
                                    serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        return _pem("PUBLIC KEY", _SM2_SPKI_PREFIX + self.raw)

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is valid over ``data``."""
        if self.suite == ED25519:
            try:
                Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
            except InvalidSignature:
                return False
            return True
        try:
            r, s = decode_dss_signature(signature)
        except ValueError:
            return False
        if not (0 < r < 2**256 and 0 < s < 2**256):
            return False
        import gmalg

        sm2 = gmalg.SM2(uid=SM2_DEFAULT_UID, pk=self.raw)
        return bool(sm2.verify(data, r.to_bytes(32, "big"), s.to_bytes(32, "big")))


class PrivateKey:
    """A signing key of either suite (never printed, never serialised by accident)."""

    def __init__(self, suite: str, secret: bytes, public: bytes,
                 nonce: Callable[[int], int] | None = None) -> None:
        self.suite = suite
        self._secret = secret
        self.public = PublicKey(suite, public)
        # only the known-answer tests fix the SM2 nonce k; production draws it at random
        self._nonce = nonce

    def __repr__(self) -> str:
        return f"PrivateKey(suite={self.suite!r}, key_id={self.public.key_id!r})"

    def sign(self, data: bytes) -> bytes:
        """Signature bytes over ``data`` (Ed25519: 64 bytes; SM2: DER ``SEQUENCE {r, s}``,
        GB/T 35276)."""
        if self.suite == ED25519:
            return Ed25519PrivateKey.from_private_bytes(self._secret).sign(data)
        import gmalg

        sm2 = gmalg.SM2(sk=self._secret, uid=SM2_DEFAULT_UID, pk=self.public.raw,
                        rnd_fn=self._nonce or _random_below)
        r, s = sm2.sign(data)
        return encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))

    def private_pem(self) -> bytes:
        """The private key as PEM (PKCS#8 for Ed25519, SEC1 for SM2)."""
        if self.suite == ED25519:
            return Ed25519PrivateKey.from_private_bytes(self._secret).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption())
        der = _SM2_SEC1_HEAD + b"\x20" + self._secret + _SM2_SEC1_MID + self.public.raw
        return _pem("EC PRIVATE KEY", der).encode()


def _random_below(n: int) -> int:
    """A uniformly random nonce in [1, n) from the OS CSPRNG (gmalg's hook)."""
    return 1 + secrets.randbelow(n - 1)


def generate_key(suite: str) -> PrivateKey:
    """A new random key of ``suite``."""
    check_suite(suite)
    if suite == ED25519:
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        pub = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
        return PrivateKey(ED25519, raw, pub)
    import gmalg

    sk, pk = gmalg.SM2().generate_keypair()
    # gmalg gives the secret as a minimal big-endian integer: about 1 key in 256 comes
    # out shorter than 32 bytes; the key file and sm2_private_key want all 32
    return PrivateKey(SM2_SM3, sk.rjust(32, b"\0"), pk)


def sm2_private_key(secret: bytes, nonce: Callable[[int], int] | None = None) -> PrivateKey:
    """An SM2 key from its 32-byte secret (the public point is derived)."""
    import gmalg

    if len(secret) != 32:
        raise ConfigError("an SM2 private key is 32 bytes")
    return PrivateKey(SM2_SM3, secret, gmalg.SM2().generate_pk(secret), nonce)


def load_private_pem(pem: bytes, source: str) -> PrivateKey:
    """A private key of either suite from PEM; errors name ``source``, never the key."""
    text = pem.decode("ascii", errors="replace")
    if "BEGIN EC PRIVATE KEY" in text:
        der = _unpem(text, "EC PRIVATE KEY", source)
        head = len(_SM2_SEC1_HEAD) + 1
        if (len(der) != head + 32 + len(_SM2_SEC1_MID) + 65
                or not der.startswith(_SM2_SEC1_HEAD + b"\x20")
                or der[head + 32:head + 32 + len(_SM2_SEC1_MID)] != _SM2_SEC1_MID):
            raise ConfigError("the EC private key is not an SM2 (sm2p256v1) key",
                              {"key": source}, "create one with: hrss-hub publish keygen "
                              "--suite sm2-sm3 PATH")
        key = sm2_private_key(der[head:head + 32])
        if key.public.raw != der[-65:]:
            raise ConfigError("the SM2 key file's public point does not match its secret",
                              {"key": source})
        return key
    try:
        loaded = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError("the signing key is not an unencrypted PEM private key",
                          {"key": source},
                          "create one with: hrss-hub publish keygen PATH") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ConfigError("the signing key must be an Ed25519 or SM2 key", {"key": source},
                          "create one with: hrss-hub publish keygen PATH")
    raw = loaded.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                               serialization.NoEncryption())
    pub = loaded.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    return PrivateKey(ED25519, raw, pub)


def load_public_pem(text: str, source: str) -> PublicKey:
    """A public key of either suite from SubjectPublicKeyInfo PEM."""
    der = _unpem(text, "PUBLIC KEY", source)
    if der.startswith(_SM2_SPKI_PREFIX) and len(der) == len(_SM2_SPKI_PREFIX) + 65:
        return PublicKey(SM2_SM3, der[len(_SM2_SPKI_PREFIX):])
    try:
        loaded = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        raise ConfigError("not a PEM public key", {"key": source}) from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise ConfigError("the public key must be an Ed25519 or SM2 key", {"key": source})
    return PublicKey(ED25519, loaded.public_bytes(serialization.Encoding.Raw,
                                                  serialization.PublicFormat.Raw))


def public_from_raw(suite: str, raw: bytes) -> PublicKey:
    """A public key from its raw bytes as embedded in a signature document."""
    check_suite(suite, "signature suite")
    if suite == ED25519 and len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    if suite == SM2_SM3 and (len(raw) != 65 or raw[0] != 4):
        raise ValueError("an SM2 public key is 04 || X || Y (65 bytes)")
    return PublicKey(suite, raw)


def write_private_key(path: os.PathLike[str] | str, key: PrivateKey) -> None:
    """Write ``key`` as PEM with mode 0600 (refuses to overwrite)."""
    from pathlib import Path

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_pem())


def _pem(label: str, der: bytes) -> str:
    body = base64.b64encode(der).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _unpem(text: str, label: str, source: str) -> bytes:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ConfigError(f"not a PEM {label.lower()}", {"key": source})
    body = "".join(text[start + len(begin):stop].split())
    try:
        return base64.b64decode(body, validate=True)
    except ValueError:
        raise ConfigError(f"the PEM {label.lower()} is not valid base64",
                          {"key": source}) from None
