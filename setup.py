"""Packaging: the engine in ``src/``, plus the data folders users edit at the top level.

``standards/`` and ``expectations/`` stay where users and docs expect them (the repository
root) and ship inside the distribution as the namespace packages
``hrss_hub_data.standards`` and ``hrss_hub_data.expectations``, read at run time through
``importlib`` (``hrss_hub.config.bundled``). The same mapping serves a wheel (the files are
copied into it) and an editable install (setuptools maps the package names to these
folders), so no code assumes it runs from a checkout. Everything else is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

DATA_PACKAGES = {
    "hrss_hub_data.standards": "standards",
    "hrss_hub_data.expectations": "expectations",
}

setup(
    packages=[*find_namespace_packages("src", include=["hrss_hub", "hrss_hub.*"]),
              *DATA_PACKAGES],
    package_dir={"": "src", **DATA_PACKAGES},
)
