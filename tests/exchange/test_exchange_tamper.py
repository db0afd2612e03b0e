"""Tampering: one flipped byte anywhere makes `hrss-hub verify` fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from exchange_helpers import person_entity, persons, stage

from hrss_hub.cli import cli
from hrss_hub.exchange.pending import list_pending
from hrss_hub.exchange.signing import (
    Signer,
    generate_key_file,
    load_signer,
    public_pem,
    verify_signature,
)
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.versions import publish_entity


@pytest.fixture
def published(tmp_path: Path, signer: Signer) -> Path:
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(40)))
    stage(root, persons("510104", range(30)), tag="b")
    publish_entity(Store.open(root), person_entity(), list_pending(root, "person"),
                   signer=signer, standard_version="1.0.0",
                   publisher={"hub_id": "t", "level": "district", "division": "510107"})
    return root


def _verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["verify", *args])
    return result.exit_code, result.output


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


def test_clean_version_verifies(published: Path) -> None:
    for target in (published, published / "person", published / "person" / "v1"):
        code, out = _verify(str(target))
        assert code == 0, out
        assert out.startswith("ok")


@pytest.mark.parametrize("name", ["part-510104-0000.parquet", "part-510107-0000.parquet",
                                  "_manifest.json", "_manifest.sig"])
@pytest.mark.parametrize("where", [0.0, 0.37, 0.5, 0.93, 1.0])
def test_any_flipped_byte_fails(published: Path, name: str, where: float) -> None:
    path = published / "person" / "v1" / name
    _flip(path, int((path.stat().st_size - 1) * where))
    code, out = _verify(str(published / "person"))
    assert code == 1, out
    assert "FAIL" in out


def test_every_byte_of_the_manifest_and_signature_is_covered(published: Path) -> None:
    # even without the pointer's hash, the signature alone covers every byte of both
    folder = published / "person" / "v1"
    manifest = (folder / "_manifest.json").read_bytes()
    sig = (folder / "_manifest.sig").read_bytes()
    assert verify_signature(manifest, sig)[0] == []
    for offset in range(len(manifest)):
        changed = bytearray(manifest)
        changed[offset] ^= 0x01
        assert verify_signature(bytes(changed), sig)[0], f"manifest byte {offset}"
    for offset in range(len(sig)):
        changed = bytearray(sig)
        changed[offset] ^= 0x01
        assert verify_signature(manifest, bytes(changed))[0], f"signature byte {offset}"


def test_pointer_extra_and_missing_files_fail(published: Path) -> None:
    folder = published / "person" / "v1"
    pointer = published / "person" / "CURRENT"
    original = pointer.read_bytes()
    doc = json.loads(original)
    doc["manifest_sha256"] = "0" * 64
    pointer.write_text(json.dumps(doc))
    assert _verify(str(published))[0] == 1
    pointer.write_bytes(original)
    (folder / "extra.parquet").write_bytes((folder / "part-510104-0000.parquet").read_bytes())
    code, out = _verify(str(published))
    assert code == 1 and "not in the manifest" in out
    (folder / "extra.parquet").unlink()
    (folder / "part-510104-0000.parquet").unlink()
    code, out = _verify(str(published))
    assert code == 1 and "missing" in out


def test_trusted_key_rejects_a_resigned_manifest(published: Path, tmp_path: Path,
                                                 signer: Signer) -> None:
    trusted = tmp_path / "publisher.pub"
    trusted.write_text(public_pem(signer.public_key))
    assert _verify(str(published), "--trusted-key", str(trusted))[0] == 0
    # an attacker edits the manifest and re-signs it with their own key
    folder = published / "person" / "v1"
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest["publisher"]["hub_id"] = "evil"
    data = json.dumps(manifest).encode()
    (folder / "_manifest.json").write_bytes(data)
    generate_key_file(tmp_path / "evil.pem")
    (folder / "_manifest.sig").write_bytes(load_signer(str(tmp_path / "evil.pem")).sign(data))
    code, out = _verify(str(folder), "--trusted-key", str(trusted))
    assert code == 1 and "not a trusted key" in out


def test_signing_key_never_appears_in_outputs(published: Path, signer: Signer,
                                              tmp_path: Path) -> None:
    pem = (tmp_path / "keys" / "signing.pem").read_text()
    body = "".join(pem.strip().splitlines()[1:-1])
    for path in published.rglob("*"):
        if path.is_file():
            assert body.encode() not in path.read_bytes()
    assert body not in repr(signer)
