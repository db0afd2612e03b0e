"""``hrss-hub verify PATH``: a Delta table, exchange or outbox against its signed manifests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from hrss_hub.exchange.suites import PublicKey


@click.command()
@click.argument("path")
@click.option("--trusted-key", "trusted_keys", multiple=True,
              help="Publisher public key (PEM file, Ed25519 or SM2). Repeatable.")
@click.option("--catalog", "catalog_file", type=click.Path(path_type=Path), default=None,
              help="A catalog JSON (hrss-hub catalog --json) whose pinned publisher keys "
                   "must have signed the data.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="hub.yaml whose own key (and trusted_keys) are pinned; default: "
                   "./hub.yaml when present.")
@click.option("--all-versions", is_flag=True, help="Verify every signed version still in "
              "the log, not only the current one.")
@click.option("--shallow", is_flag=True, help="Check signatures, log and file list, but "
              "do not re-hash the data files.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def verify(path: str, trusted_keys: tuple[str, ...], catalog_file: Path | None,
           config_path: Path | None, all_versions: bool, shallow: bool,
           as_json: bool) -> None:
    """Verify PATH: a table folder, an exchange root or an outbox root (local or
    s3://bucket/prefix?endpoint_override=host:port&scheme=http).

    Exits 1 when a data file, a Delta log entry or a manifest was changed, added or
    removed, a log entry was not written by the hub, or the signer is not pinned;
    exits 2 for a missing or unreadable key or catalog file.
    """
    from hrss_hub.exchange.verify import verify_path

    trusted, source = _pins(trusted_keys, catalog_file, config_path)
    reports = verify_path(path, trusted=trusted, all_versions=all_versions, deep=not shallow)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=2))
    else:
        for r in reports:
            mark = "ok  " if r.ok else "FAIL"
            click.echo(f"{mark} {r.dataset or '?'} v{r.version} rows={r.rows} files={r.files} "
                       f"{r.suite or '-'} signer={r.key_id or '-'}  {r.location}")
            for p in r.problems:
                click.echo(f"     - {p}")
        if trusted is None and all(r.ok for r in reports):
            click.echo("note: no publisher key pinned: signatures prove integrity and that "
                       "every version has the first version's signer; pass --trusted-key "
                       "or --catalog to check who signed")
        elif source:
            click.echo(f"signers checked against {source}")
    if not all(r.ok for r in reports):
        sys.exit(1)


def _pins(trusted_keys: tuple[str, ...], catalog_file: Path | None,
          config_path: Path | None) -> tuple[list[PublicKey] | None, str]:
    """The pinned keys: --trusted-key files, else a catalog, else the workspace's keys."""
    from hrss_hub.errors import ConfigError
    from hrss_hub.exchange.signing import load_public_key

    if trusted_keys:
        return [load_public_key(k) for k in trusted_keys], "--trusted-key"
    if catalog_file is not None:
        from hrss_hub.exchange.catalog import pinned_keys

        try:
            doc = json.loads(catalog_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("catalog file not found", {"file": str(catalog_file)},
                              "write one with: hrss-hub catalog --json > catalog.json") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the catalog: {exc}",
                              {"file": str(catalog_file)}) from None
        pinned = pinned_keys(doc)
        if not pinned:
            raise ConfigError("the catalog pins no publisher key", {"file": str(catalog_file)})
        return pinned, f"the keys pinned in {catalog_file}"
    config = config_path or (Path("hub.yaml") if Path("hub.yaml").exists() else None)
    if config is None:
        return None, ""
    from hrss_hub.config import load_config
    from hrss_hub.exchange.versions import signer_of

    cfg = load_config(config)
    keys: list[PublicKey] = [signer_of(cfg).public_key]
    for extra in getattr(cfg, "trusted_keys", None) or []:
        keys.append(load_public_key(str(extra)))
    return keys, f"the keys pinned by {config}"
