"""Removing what killed runs left behind, by the run that holds their locks now.

Only the parts of the workspace the calling run holds locks for are touched (its
systems' files; the publisher's temporary files only with the ``publish`` lock), so a
live run of another system is never disturbed. Nothing here loses data: a stream's rows
count only once its state is committed in the ledger, and a stream that was not committed
is extracted again from the same state by the next run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hrss_hub.config import HubConfig
from hrss_hub.exchange.staging import PENDING_DIR
from hrss_hub.ledger import Ledger

STAGING_DIR = ".staging"


@dataclass
class Cleaned:
    """What was removed (paths relative to the workspace, for the run's notes)."""

    files: list[str] = field(default_factory=list)
    folders: int = 0

    def note(self) -> str | None:
        """One line for the run summary, or ``None`` when there was nothing."""
        if not self.files and not self.folders:
            return None
        shown = ", ".join(self.files[:5]) + (" …" if len(self.files) > 5 else "")
        return (f"removed leftovers of interrupted runs: {len(self.files)} file(s)"
                + (f" ({shown})" if shown else "") + f", {self.folders} empty folder(s)")


def clean(cfg: HubConfig, ledger: Ledger, run_id: str, systems: Iterable[str], *,
          publish: bool) -> Cleaned:
    """Remove leftovers of other runs for ``systems`` (held by ``run_id``):

    - half-written staging Parquet (``<exchange>/.staging/<other run>/…/<system>.*``);
    - staged data files without their sidecar, and sidecar temporaries, in ``.staged``;
    - quarantine temporaries, and quarantine files of runs that never committed that
      stream (their rows are extracted again: keeping them would list them twice);
    - with ``publish``: the publisher's ``.*.tmp`` files (e.g. ``.CURRENT.*.tmp``);
    - folders these removals leave empty.
    """
    out = Cleaned()
    systems = sorted(set(systems))
    root = cfg.exchange_root
    if root is not None and root.exists():
        for system in systems:
            for path in sorted((root / STAGING_DIR).glob(f"*/*/{system}.*")):
                if path.parts[-3] != run_id:
                    _remove(path, cfg, out)
            for path in sorted((root / PENDING_DIR).glob(f"*/{system}.*")):
                if path.name.endswith(".json.tmp") or (
                        path.suffix == ".parquet"
                        and not path.with_name(path.name + ".json").exists()):
                    _remove(path, cfg, out)
        if publish:
            for path in sorted(root.rglob(".*.tmp")):
                _remove(path, cfg, out)
        out.folders += prune_empty(root / STAGING_DIR) + prune_empty(root / PENDING_DIR)
    qdir = cfg.quarantine_dir
    if qdir is not None and qdir.exists():
        candidates = [p for s in systems for p in qdir.glob(f"*/{s}/*")
                      if p.parts[-3] != run_id]
        runs = {p.parts[-3] for p in candidates}
        committed = ledger.committed_batches(runs)
        for path in sorted(candidates):
            other, system = path.parts[-3], path.parts[-2]
            orphan = path.suffix == ".parquet" and (other, system, path.stem) not in committed
            if orphan or path.name.endswith(".tmp"):
                _remove(path, cfg, out)
        out.folders += prune_empty(qdir, keep_root=True)
    return out


def _remove(path: Path, cfg: HubConfig, out: Cleaned) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    try:
        out.files.append(str(path.relative_to(cfg.root)))
    except ValueError:
        out.files.append(str(path))


def prune_empty(top: Path, *, keep_root: bool = False) -> int:
    """Remove empty folders below ``top`` (and ``top`` itself unless ``keep_root``)."""
    if not top.exists():
        return 0
    removed = 0
    for path in sorted((p for p in top.rglob("*") if p.is_dir()), reverse=True):
        if not any(path.iterdir()):
            path.rmdir()
            removed += 1
    if not keep_root and not any(top.iterdir()):
        top.rmdir()
        removed += 1
    return removed
