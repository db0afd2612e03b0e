"""Packaging: the engine in ``src/``, plus the data folders users edit at the top level.

``standards/``, ``expectations/`` and ``supervision/`` stay where users and docs expect
them (the repository root) and ship inside the distribution as the namespace packages
``hrss_hub_data.standards``, ``.expectations`` and ``.supervision``, read at run time through
``importlib`` (``hrss_hub.config.bundled``). The same mapping serves a wheel (the files are
copied into it) and an editable install (setuptools maps the package names to these
folders), so no code assumes it runs from a checkout. Everything else is in pyproject.toml.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

DATA_PACKAGES = {
    name: folder
    for name, folder in (("hrss_hub_data.standards", "standards"),
                         ("hrss_hub_data.expectations", "expectations"),
                         ("hrss_hub_data.supervision", "supervision"))
    if (Path(__file__).parent / folder).is_dir()
}

setup(
    packages=[*find_namespace_packages("src", include=["hrss_hub", "hrss_hub.*"]),
              *DATA_PACKAGES],
    package_dir={"": "src", **DATA_PACKAGES},
)
