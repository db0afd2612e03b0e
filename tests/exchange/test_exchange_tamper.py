"""Tampering with a Delta exchange table — its data files, its log, its manifests — makes
`hrss-hub verify` fail, under both signature suites; clean tables verify."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from deltalake import DeltaTable, write_deltalake
from exchange_helpers import persons, publish, stage

from hrss_hub.cli import cli, main
from hrss_hub.exchange.signing import (
    Signer,
    generate_key_file,
    load_signer,
    public_pem,
    verify_signature,
)

SUITES = ["ed25519", "sm2-sm3"]


@pytest.fixture(params=SUITES)
def suite_signer(request: pytest.FixtureRequest, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Signer:
    monkeypatch.delenv("HRSS_HUB_SIGNING_KEY", raising=False)
    path = tmp_path / "keys" / f"{request.param}.pem"
    generate_key_file(path, request.param)
    return load_signer(str(path))


@pytest.fixture
def published(tmp_path: Path, suite_signer: Signer) -> Path:
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(40), updated=0))
    stage(root, persons("510104", range(30), updated=0), tag="b")
    publish(root, suite_signer)
    stage(root, persons("510107", range(10), run_id="r2", updated=5, name="李四"),
          run_id="r2")
    publish(root, suite_signer)  # a MERGE: rewritten files, CDF files
    return root


def _verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["verify", *args])
    return result.exit_code, result.output


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


def _data_files(root: Path) -> list[Path]:
    dt = DeltaTable(str(root / "person"))
    return sorted(root / "person" / p for p in pa.table(dt.get_add_actions()).column(
        "path").to_pylist())


def test_clean_table_verifies(published: Path, suite_signer: Signer) -> None:
    for target in (published, published / "person"):
        code, out = _verify(str(target), "--all-versions")
        assert code == 0, out
        assert out.startswith("ok") and suite_signer.suite in out


@pytest.mark.parametrize("where", [0.0, 0.37, 0.93, 1.0])
def test_a_flipped_byte_in_a_data_file_fails(published: Path, where: float) -> None:
    for path in _data_files(published)[:2]:
        _flip(path, int((path.stat().st_size - 1) * where))
    code, out = _verify(str(published / "person"))
    assert code == 1 and "digest does not match" in out, out


def test_an_edited_log_entry_fails(published: Path) -> None:
    log = published / "person" / "_delta_log" / f"{2:020d}.json"
    lines = log.read_text().splitlines()
    # keep it valid JSON: tweak the commit's timestamp only
    info = json.loads(lines[0])
    info["commitInfo"]["timestamp"] += 1
    lines[0] = json.dumps(info)
    log.write_text("\n".join(lines) + "\n")
    code, out = _verify(str(published / "person"))
    assert code == 1 and "changed after the hub signed it" in out, out


def test_a_file_added_by_a_foreign_writer_fails(published: Path) -> None:
    extra = pa.table(DeltaTable(str(published / "person")).to_pyarrow_table()).slice(0, 3)
    write_deltalake(str(published / "person"), extra, mode="append")
    code, out = _verify(str(published / "person"))
    assert code == 1 and "written outside the hub" in out, out


def test_a_file_removed_from_the_log_fails(published: Path) -> None:
    DeltaTable(str(published / "person")).delete("address_division = '510104'")
    code, out = _verify(str(published / "person"))
    assert code == 1 and "written outside the hub" in out, out


def test_a_file_swapped_in_the_log_fails(published: Path) -> None:
    """Rewrite the signed log entry to point at another (valid) file: the commit digest
    and the manifest's file list both catch it."""
    folder = published / "person"
    log = folder / "_delta_log" / f"{1:020d}.json"
    a = _data_files(published)[0]
    shutil.copy(a, folder / "swapped.parquet")
    text = log.read_text().replace(a.relative_to(folder).as_posix(), "swapped.parquet")
    log.write_text(text)
    code, out = _verify(str(folder), "--all-versions")
    assert code == 1 and "changed after the hub signed it" in out
    assert "file added" in out or "file removed" in out or "swapped" in out


@pytest.mark.parametrize("name", ["manifest", "signature"])
def test_a_flipped_byte_in_a_manifest_or_signature_fails(published: Path, name: str) -> None:
    suffix = ".json" if name == "manifest" else ".sig"
    path = published / "person" / "_hrss" / "manifests" / f"{2:020d}{suffix}"
    _flip(path, path.stat().st_size // 2)
    code, out = _verify(str(published / "person"))
    assert code == 1 and "FAIL" in out, out


def test_every_byte_of_the_manifest_and_signature_is_covered(published: Path) -> None:
    folder = published / "person" / "_hrss" / "manifests"
    manifest = (folder / f"{1:020d}.json").read_bytes()
    sig = (folder / f"{1:020d}.sig").read_bytes()
    assert verify_signature(manifest, sig)[0] == []
    step = max(1, len(manifest) // 300)  # SM2 verification is ~20 ms: sample evenly
    for offset in range(0, len(manifest), step):
        changed = bytearray(manifest)
        changed[offset] ^= 0x01
        assert verify_signature(bytes(changed), sig)[0], f"manifest byte {offset}"
    for offset in range(len(sig)):
        changed = bytearray(sig)
        changed[offset] ^= 0x01
        assert verify_signature(manifest, bytes(changed))[0], f"signature byte {offset}"


def test_a_replaced_previous_manifest_breaks_the_chain(published: Path,
                                                       suite_signer: Signer) -> None:
    folder = published / "person" / "_hrss" / "manifests"
    doc = json.loads((folder / f"{1:020d}.json").read_text())
    doc["publisher"]["hub_id"] = "evil"
    data = json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1).encode()
    (folder / f"{1:020d}.json").write_bytes(data)
    (folder / f"{1:020d}.sig").write_bytes(suite_signer.sign(data))  # even re-signed
    code, out = _verify(str(published / "person"))
    assert code == 1 and "was replaced" in out, out


def test_pinned_keys_reject_data_re_signed_with_another_key(
        published: Path, tmp_path: Path, suite_signer: Signer) -> None:
    trusted = tmp_path / "publisher.pub"
    trusted.write_text(public_pem(suite_signer.public_key))
    assert _verify(str(published), "--trusted-key", str(trusted))[0] == 0
    # an attacker edits the newest manifest and re-signs it with their own key
    folder = published / "person" / "_hrss" / "manifests"
    doc = json.loads((folder / f"{2:020d}.json").read_text())
    doc["publisher"]["hub_id"] = "evil"
    data = json.dumps(doc).encode()
    (folder / f"{2:020d}.json").write_bytes(data)
    generate_key_file(tmp_path / "evil.pem", suite_signer.suite)
    (folder / f"{2:020d}.sig").write_bytes(load_signer(str(tmp_path / "evil.pem")).sign(data))
    code, out = _verify(str(published), "--trusted-key", str(trusted))
    assert code == 1 and "not a trusted key" in out
    # without --trusted-key: the key pinned in the catalog, and the table's first signer
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"publishers": [{"public_key": public_pem(
        suite_signer.public_key)}]}))
    code, out = _verify(str(published), "--catalog", str(catalog))
    assert code == 1 and "not a trusted key" in out
    code, out = _verify(str(published))
    assert code == 1 and "re-signed" in out


def test_missing_trusted_key_file_is_a_clear_error(published: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """#10 defect 12: a clear error, exit 2, no traceback."""
    for flag, name, message in (("--trusted-key", "missing.pem", "trusted key file not found"),
                                ("--catalog", "missing.json", "catalog file not found")):
        with pytest.raises(SystemExit) as exit_:
            main(["verify", str(published), flag, str(tmp_path / name)])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and message in err and "Traceback" not in err


def test_signing_key_never_appears_in_outputs(published: Path, suite_signer: Signer,
                                              tmp_path: Path) -> None:
    pem = next((tmp_path / "keys").glob("*.pem")).read_text()
    body = "".join(pem.strip().splitlines()[1:-1])
    for path in published.rglob("*"):
        if path.is_file():
            assert body.encode() not in path.read_bytes()
    assert body not in repr(suite_signer)
