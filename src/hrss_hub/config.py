"""The workspace: ``hub.yaml`` and the folders it points to.

A workspace is a directory holding ``hub.yaml``. Every path in it is relative to that
directory. Anything not set falls back to a sensible default, so an empty ``hub.yaml``
(or none at all) is a valid workspace that uses the repository's bundled standard.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hrss_hub.errors import ConfigError

#: The repository root when running from a checkout / editable install.
REPO_ROOT = Path(__file__).resolve().parents[2]

LEVELS = ("district", "city", "province")

_KNOWN_KEYS = {
    "hub_id", "level", "division", "standard", "connectors", "expectations", "sharing",
    "ledger_url", "exchange_root", "quarantine_dir", "reports_dir", "state_dir", "batch_size",
    "keep_versions", "signing_key", "share",
}


def bundled_standards_dir() -> Path:
    """The ``standards/`` folder shipped with hrss-hub (``HRSS_HUB_STANDARDS`` overrides)."""
    env = os.environ.get("HRSS_HUB_STANDARDS")
    if env:
        return Path(env)
    return REPO_ROOT / "standards"


@dataclass
class HubConfig:
    """Resolved settings of one workspace (all paths absolute)."""

    root: Path
    hub_id: str = "hrss-hub"
    level: str = "district"
    division: str = "510107"
    standard_dir: Path = field(default_factory=bundled_standards_dir)
    connectors_dir: Path | None = None
    expectations_dir: Path | None = None
    sharing_dir: Path | None = None
    ledger_url: str = ""
    exchange_root: Path | None = None
    quarantine_dir: Path | None = None
    reports_dir: Path | None = None
    state_dir: Path | None = None
    batch_size: int = 50_000
    keep_versions: int = 10
    signing_key: str | None = None
    #: the ``share:`` section (Delta Sharing server), validated by hrss_hub.share.settings
    share: dict[str, Any] = field(default_factory=dict)
    source_file: Path | None = None

    def __post_init__(self) -> None:
        r = self.root
        self.connectors_dir = self.connectors_dir or r / "connectors"
        self.expectations_dir = self.expectations_dir or r / "expectations"
        self.sharing_dir = self.sharing_dir or r / "sharing"
        self.exchange_root = self.exchange_root or r / "exchange"
        self.quarantine_dir = self.quarantine_dir or r / "quarantine"
        self.reports_dir = self.reports_dir or r / "reports"
        self.state_dir = self.state_dir or r / ".hrss-hub"
        if not self.ledger_url:
            self.ledger_url = os.environ.get("HRSS_HUB_LEDGER_URL") or (
                f"sqlite:///{self.state_dir / 'ledger.db'}"
            )


def load_config(path: str | Path | None = None) -> HubConfig:
    """Load ``hub.yaml`` (default: ``./hub.yaml`` if present, else defaults rooted at cwd).

    ``HRSS_HUB_LEDGER_URL`` overrides ``ledger_url`` from the file.
    """
    if path is None:
        candidate = Path.cwd() / "hub.yaml"
        if not candidate.exists():
            return HubConfig(root=Path.cwd())
        path = candidate
    path = Path(path).resolve()
    if path.is_dir():
        path = path / "hub.yaml"
    if not path.exists():
        raise ConfigError("workspace file not found", {"file": str(path)},
                          "pass --config PATH to an existing hub.yaml, or create one")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"hub.yaml is not valid YAML: {getattr(exc, 'problem', exc)}",
                          {"file": str(path), "line": line}) from None
    if not isinstance(raw, dict):
        raise ConfigError("hub.yaml must be a mapping", {"file": str(path)})
    unknown = set(raw) - _KNOWN_KEYS
    if unknown:
        key = sorted(unknown)[0]
        from hrss_hub.errors import unknown_choice

        err = unknown_choice("setting", key, _KNOWN_KEYS, file=str(path), path=key)
        raise err
    root = path.parent
    kwargs: dict[str, Any] = {"root": root, "source_file": path}
    for key in ("connectors", "expectations", "sharing", "exchange_root", "quarantine_dir",
                "reports_dir", "state_dir"):
        if key in raw:
            target = key if key.endswith(("_root", "_dir")) else f"{key}_dir"
            kwargs[target] = (root / str(raw[key])).resolve()
    if "standard" in raw:
        kwargs["standard_dir"] = (root / str(raw["standard"])).resolve()
    for key in ("hub_id", "division", "signing_key"):
        if key in raw:
            kwargs[key] = str(raw[key])
    if "level" in raw:
        if raw["level"] not in LEVELS:
            from hrss_hub.errors import unknown_choice

            raise unknown_choice("level", str(raw["level"]), LEVELS, file=str(path), path="level")
        kwargs["level"] = raw["level"]
    for key in ("batch_size", "keep_versions"):
        if key in raw:
            if not isinstance(raw[key], int) or raw[key] <= 0:
                raise ConfigError(f"{key} must be a positive integer, got {raw[key]!r}",
                                  {"file": str(path), "path": key})
            kwargs[key] = raw[key]
    if "share" in raw:
        if not isinstance(raw["share"], dict):
            raise ConfigError("share must be a mapping (endpoint, host, port, tls_cert, …)",
                              {"file": str(path), "path": "share"})
        kwargs["share"] = dict(raw["share"])
    env_url = os.environ.get("HRSS_HUB_LEDGER_URL")
    if env_url:
        kwargs["ledger_url"] = env_url
    elif "ledger_url" in raw:
        url = str(raw["ledger_url"])
        # relative sqlite paths are relative to the workspace, not the cwd
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            url = f"sqlite:///{(root / url[len('sqlite:///'):]).resolve()}"
        kwargs["ledger_url"] = url
    return HubConfig(**kwargs)
