"""One typed configuration layer for every file a user writes.

========================  ============================================  ====================
file                      model                                         loaded by
========================  ============================================  ====================
``hub.yaml``              :class:`~hrss_hub.config.hub.HubFile`         :func:`load_config`
``connectors/*.yaml``     :mod:`hrss_hub.connectors.config` (+ options)  ``load_system(s)``
a stream's ``mapping:``   :mod:`hrss_hub.mapping.spec`                  ``parse_mapping``
``sharing/*.yaml``        :mod:`hrss_hub.config.sharing`                ``load_agreements``
``threshold:``            :class:`~hrss_hub.config.thresholds.Threshold`  (in the above)
========================  ============================================  ====================

Every model is pydantic v2; every file is read with its YAML marks, so each problem names
the file, line and YAML path, and all problems of a file are raised together as one
:class:`ConfigProblems` (a ``ConfigError``: exit 2 in the CLI). Environment variables and
command-line flags are applied in one place (:mod:`hrss_hub.config.env`). Nothing here
imports pyarrow, SQLAlchemy or Great Expectations, so the Airflow DAG parser uses the same
models as ``hrss-hub run``.
"""

from __future__ import annotations

from hrss_hub.config.bundled import (
    bundled_expectations_dir,
    bundled_standards_dir,
    shipped_standards_dir,
)
from hrss_hub.config.hub import DEFAULT_BATCH_SIZE, HubConfig, HubFile, find_config, load_config
from hrss_hub.config.levels import LEVELS
from hrss_hub.config.problems import ConfigProblems, Problem
from hrss_hub.config.thresholds import Threshold

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "LEVELS",
    "ConfigProblems",
    "HubConfig",
    "HubFile",
    "Problem",
    "Threshold",
    "bundled_expectations_dir",
    "bundled_standards_dir",
    "find_config",
    "load_config",
    "shipped_standards_dir",
]
