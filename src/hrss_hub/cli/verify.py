"""``hrss-hub verify PATH``: signature, checksums and schema of a dataset or outbox."""

from __future__ import annotations

import json
import sys

import click


@click.command()
@click.argument("path")
@click.option("--trusted-key", "trusted_keys", multiple=True,
              help="Publisher public key (PEM file). Repeatable. Without it the signature "
                   "proves integrity, not who signed.")
@click.option("--all-versions", is_flag=True, help="Verify every kept version, not only the "
              "current one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def verify(path: str, trusted_keys: tuple[str, ...], all_versions: bool, as_json: bool) -> None:
    """Verify PATH: a version folder, a dataset folder or a whole exchange/outbox.

    Exits 1 when any byte of any file or manifest was changed, a file is missing or
    extra, or the signer is not trusted.
    """
    from hrss_hub.exchange.signing import load_public_key
    from hrss_hub.exchange.verify import verify_path

    trusted = [load_public_key(k) for k in trusted_keys] or None
    reports = verify_path(path, trusted=trusted, all_versions=all_versions)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=2))
    else:
        for r in reports:
            mark = "ok  " if r.ok else "FAIL"
            click.echo(f"{mark} {r.dataset or '?'} v{r.version} rows={r.rows} files={r.files} "
                       f"signer={r.key_id or '-'}  {r.location}")
            for p in r.problems:
                click.echo(f"     - {p}")
        if trusted is None and all(r.ok for r in reports):
            click.echo("note: signatures checked against the embedded key (integrity); pass "
                       "--trusted-key to also check who signed")
    if not all(r.ok for r in reports):
        sys.exit(1)
