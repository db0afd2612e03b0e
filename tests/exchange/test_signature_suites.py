"""Signature suites against the standards' published examples (known-answer tests), and
interoperability of the SM2 suite with an independent implementation (GmSSL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from hrss_hub.errors import ConfigError
from hrss_hub.exchange.signing import generate_key_file, load_public_key, load_signer
from hrss_hub.exchange.suites import (
    ED25519,
    SM2_SM3,
    PublicKey,
    digest_bytes,
    generate_key,
    load_private_pem,
    sm2_private_key,
)

# GB/T 32905-2016 附录 A: SM3 examples 1 ("abc") and 2 ("abcd" × 16, 64 bytes)
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_64 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"

# GM/T 0003.5-2012 (= GB/T 32918.5) 附录 A, signature example on the recommended curve
# sm2p256v1: signer id 1234567812345678, message "message digest", fixed nonce k
SM2_D = "3945208F7B2144B13F36E38AC6D39F9588939369" "2860B51A42FB81EF4DF7C5B8"
SM2_PX = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
SM2_PY = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
SM2_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
SM2_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
SM2_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA

# RFC 8032 §7.1, Ed25519 test 1 (empty message)
ED_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
ED_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
ED_SIG = ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
          "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")


def test_sm3_known_answers() -> None:
    assert digest_bytes(SM2_SM3, b"abc") == SM3_ABC
    assert digest_bytes(SM2_SM3, b"abcd" * 16) == SM3_64


def test_sm2_signature_known_answer_with_the_standards_nonce() -> None:
    key = sm2_private_key(bytes.fromhex(SM2_D), nonce=lambda _n: SM2_K)
    assert key.public.raw == bytes.fromhex("04" + SM2_PX + SM2_PY)
    r, s = decode_dss_signature(key.sign(b"message digest"))
    assert (r, s) == (SM2_R, SM2_S)
    assert key.public.verify(encode_dss_signature(SM2_R, SM2_S), b"message digest")
    assert not key.public.verify(encode_dss_signature(SM2_R, SM2_S), b"message digesT")
    assert not key.public.verify(encode_dss_signature(SM2_R, SM2_S ^ 1), b"message digest")


def test_ed25519_known_answer() -> None:
    from hrss_hub.exchange.suites import PrivateKey

    key = PrivateKey(ED25519, bytes.fromhex(ED_SECRET), bytes.fromhex(ED_PUBLIC))
    assert key.sign(b"").hex() == ED_SIG
    assert PublicKey(ED25519, bytes.fromhex(ED_PUBLIC)).verify(bytes.fromhex(ED_SIG), b"")


def test_sm2_interoperates_with_gmssl() -> None:
    """Signatures made by the hub verify with GmSSL (an independent C implementation)
    and GmSSL's verify with the hub: same curve, Z value, SM3 and DER encoding."""
    gmssl = pytest.importorskip("gmssl_pyx")
    key = generate_key(SM2_SM3)
    message = b"hrss-hub manifest \xe6\x95\xb0\xe6\x8d\xae" * 10
    assert gmssl.sm2_verify(key.public.raw[1:], message, key.sign(message))
    secret = key._secret  # the test may look inside
    theirs = gmssl.sm2_sign(secret, key.public.raw[1:], message)
    assert key.public.verify(theirs, message)
    # the standard's own example, verified by GmSSL too
    assert gmssl.sm2_verify(bytes.fromhex(SM2_PX + SM2_PY), b"message digest",
                            encode_dss_signature(SM2_R, SM2_S))


@pytest.mark.parametrize("suite", [ED25519, SM2_SM3])
def test_keys_round_trip_as_pem(tmp_path: Path, suite: str) -> None:
    path = tmp_path / f"{suite}.pem"
    generate_key_file(path, suite)
    assert path.stat().st_mode & 0o077 == 0
    signer = load_signer(str(path))
    assert signer.suite == suite
    assert load_private_pem(path.read_bytes(), "test").public == signer.public_key
    pub = tmp_path / "pub.pem"
    pub.write_text(signer.public_key.pem())
    assert load_public_key(str(pub)) == signer.public_key
    head = path.read_text().splitlines()[0]
    assert head == ("-----BEGIN EC PRIVATE KEY-----" if suite == SM2_SM3
                    else "-----BEGIN PRIVATE KEY-----")


def test_an_sm2_secret_with_a_leading_zero_byte_round_trips(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """gmalg returns secrets as minimal integers (31 bytes for ~1 key in 256): the hub pads
    them, so such a key file loads and signs like any other."""
    import gmalg

    secret = bytes(1) + bytes(range(1, 32))
    public = gmalg.SM2().generate_pk(secret)
    monkeypatch.setattr(gmalg.SM2, "generate_keypair",
                        lambda self: (secret.lstrip(bytes(1)), public))
    key = generate_key(SM2_SM3)
    assert key.public.raw == public
    path = tmp_path / "short.pem"
    path.write_bytes(key.private_pem())
    loaded = load_private_pem(path.read_bytes(), "test")
    assert loaded.public == key.public
    assert loaded.public.verify(loaded.sign(b"manifest"), b"manifest")


def test_the_hubs_suite_must_match_its_key(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HRSS_HUB_SIGNING_KEY", raising=False)
    path = tmp_path / "ed.pem"
    generate_key_file(path)
    with pytest.raises(ConfigError, match="asks for signature_suite sm2-sm3"):
        load_signer(str(path), suite="sm2-sm3")
    with pytest.raises(ConfigError, match="unknown signature suite"):
        load_signer(str(path), suite="rsa")
    # a new hub with the SM2 suite creates an SM2 key on first use
    created = load_signer(None, tmp_path / "state", suite="sm2-sm3")
    assert created.suite == SM2_SM3 and (tmp_path / "state" / "signing_key.sm2.pem").exists()
