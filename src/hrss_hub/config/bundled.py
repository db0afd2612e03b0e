"""The data shipped with hrss-hub: the unified standard and the expectation suites.

They live at the top of the repository (``standards/``, ``expectations/``) where users and
docs find them, and are packaged as ``hrss_hub_data.standards`` / ``.expectations``
(see ``setup.py``). Finding them through the import system works the same for a wheel,
``pip install .`` and an editable install; nothing here assumes a checkout.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from hrss_hub.config import env
from hrss_hub.errors import ConfigError

DATA_PACKAGE = "hrss_hub_data"


@cache
def _package_dir(name: str) -> Path:
    package = f"{DATA_PACKAGE}.{name}"
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location)
        if path.is_dir() and any(path.iterdir()):
            return path
    raise ConfigError(f"the bundled {name} are missing from this installation",
                      {"package": package},
                      "reinstall hrss-hub (pip install hrss-hub), or point hub.yaml's "
                      f"{'standard' if name == 'standards' else name} at a folder")


def shipped_standards_dir() -> Path:
    """The ``standards/`` folder shipped with hrss-hub (its versions inside)."""
    return _package_dir("standards")


def bundled_standards_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The standards folder used when nothing else is configured: ``HRSS_HUB_STANDARDS``
    if set, else the shipped one."""
    override = env.STANDARDS.read(environ)
    return Path(override).expanduser().resolve() if override else shipped_standards_dir()


def shipped_supervision_dir() -> Path | None:
    """The ``supervision/`` checks shipped with hrss-hub (``None`` when this installation
    has none)."""
    try:
        return _package_dir("supervision")
    except ConfigError:
        return None


def bundled_expectations_dir() -> Path:
    """The ``expectations/`` folder shipped with hrss-hub (generated + ``handwritten/``)."""
    return _package_dir("expectations")
