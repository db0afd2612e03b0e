"""What record linkage keeps between runs, on disk under the workspace's ``state_dir``.

``<state_dir>/linkage/`` holds:

- ``model.json``: the trained Splink model (its settings dict with the estimated prior,
  m- and u-probabilities), the fingerprint of the settings and training plan it was trained
  with, and the number of candidate records it was trained on. A pass reuses it; it is
  retrained when absent, when the fingerprint differs (the comparisons, blocking rules,
  training plan or the Splink version changed), when the candidates grew by more than
  :data:`RETRAIN_GROWTH` (×1.5) since training — the prior and the EM sample were drawn
  from a smaller population — or when asked (``hrss-hub master build --retrain``);
- ``pass.json``: the inputs of the last completed pass (the published ``person_master`` and
  ``person_link`` versions, the quarantine files, the model, the threshold and the size of
  the review queue after it). A pass whose inputs are all unchanged is skipped;
- ``people.parquet``: one hash per candidate record of the last pass (its uid and compared
  fields; no citizen ID in clear). The next pass compares only pairs with at least one
  record whose hash is not there — a pair of two unchanged records was scored with the same
  model then, and the queue keeps what it proposed.

Everything is read from disk (no process memory), so a run on another Airflow worker of
the same workspace sees it; files are replaced atomically, ``pass.json`` last, after the
queue was written, so a crash in between only repeats a pass.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the model is retrained when the candidates exceed this multiple of those it was trained on
RETRAIN_GROWTH = 1.5
#: bumped when what a pass computes changes in a way the inputs do not show
STATE_FORMAT = 1


def linkage_dir(state_dir: Path) -> Path:
    """The folder of the linkage state of a workspace."""
    return state_dir / "linkage"


def fingerprint(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (shortened: it names, it does not protect)."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # absent or torn by hand: as if never written (retrain / full pass)
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class StoredModel:
    """A trained model as ``model.json`` keeps it."""

    fingerprint: str  # of the settings and training plan it was trained with
    candidates: int  # candidate records it was trained on
    splink: dict[str, Any]  # Splink's settings dict with the trained parameters
    training: dict[str, Any]  # what the training did (sample sizes), for the report

    @property
    def model_id(self) -> str:
        """Fingerprint of the trained parameters (what the predictions depend on)."""
        return fingerprint(self.splink)


def load_model(state_dir: Path) -> StoredModel | None:
    """The stored model (``None`` when absent or unreadable)."""
    data = _read_json(linkage_dir(state_dir) / "model.json")
    if data is None or data.get("format") != STATE_FORMAT or not isinstance(
            data.get("splink"), dict):
        return None
    return StoredModel(str(data.get("fingerprint")), int(data.get("candidates") or 0),
                       dict(data["splink"]), dict(data.get("training") or {}))


def save_model(state_dir: Path, model: StoredModel) -> None:
    """Store ``model`` (atomically)."""
    _write_json(linkage_dir(state_dir) / "model.json", {
        "format": STATE_FORMAT, "fingerprint": model.fingerprint,
        "candidates": model.candidates, "training": model.training, "splink": model.splink})


def retrain_reason(model: StoredModel | None, settings_fingerprint: str, candidates: int,
                   *, force: bool = False) -> str | None:
    """Why the model must be (re)trained, or ``None`` to reuse it."""
    if force:
        return "forced"
    if model is None:
        return "no model"
    if model.fingerprint != settings_fingerprint:
        return "settings changed"
    if candidates > RETRAIN_GROWTH * max(model.candidates, 1):
        return "candidates grew"
    return None


def load_pass(state_dir: Path) -> dict[str, Any] | None:
    """The inputs of the last completed pass (``None``: no pass yet)."""
    data = _read_json(linkage_dir(state_dir) / "pass.json")
    return data if data is not None and data.get("format") == STATE_FORMAT else None


def save_pass(state_dir: Path, inputs: dict[str, Any], result: dict[str, Any]) -> None:
    """Record a completed pass: its ``inputs`` (compared by the next pass) and what it did."""
    _write_json(linkage_dir(state_dir) / "pass.json",
                {"format": STATE_FORMAT, "inputs": inputs, "result": result})


def people_path(state_dir: Path) -> Path:
    """The record hashes of the last pass's candidates."""
    return linkage_dir(state_dir) / "people.parquet"


def quarantine_stamp(files: list[Path]) -> list[list[Any]]:
    """What identifies the quarantine files' contents cheaply: name, size, change time."""
    out: list[list[Any]] = []
    for f in sorted(files):
        try:
            st = f.stat()
        except OSError:
            continue
        out.append([str(f), st.st_size, st.st_mtime_ns])
    return out
