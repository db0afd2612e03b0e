"""Every environment variable the hub reads, and the order in which settings are decided.

Precedence, for every setting: **command-line flag > environment variable > hub.yaml >
default**. :func:`hrss_hub.config.load_config` applies it once, when a workspace is loaded;
the resulting :class:`~hrss_hub.config.HubConfig` is what every step uses, so a value is
never decided twice in two places. The one exception is the per-recipient pseudonym key
(``HRSS_HUB_PSEUDONYM_KEY_<RECIPIENT>``): recipients come from the sharing agreements, so
it is looked up when a delivery needs it (:mod:`hrss_hub.config.keys`), here as well.

Source-system credentials (``url_env``, ``token_env`` … in connector files, Airflow's
``AIRFLOW_CONN_<ID>``) are not settings: a connector file names the variable, and the
connector reads it when it connects (:mod:`hrss_hub.connectors.credentials`).

This table is the documentation (``docs/configuration.md`` and ``hrss-hub config show``
are generated from / checked against it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: prefix of every hub variable
PREFIX = "HRSS_HUB_"


@dataclass(frozen=True)
class EnvVar:
    """One environment variable: its name, the setting it overrides and what it means."""

    name: str
    setting: str
    help: str

    def read(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The variable's value (``None`` when unset or blank)."""
        value = (os.environ if environ is None else environ).get(self.name)
        return value if value is not None and value.strip() else None


CONFIG = EnvVar("HRSS_HUB_CONFIG", "config",
                "the workspace's hub.yaml (CLI: --config); Airflow's DAG file needs it")
LEDGER_URL = EnvVar("HRSS_HUB_LEDGER_URL", "ledger_url",
                    "SQLAlchemy URL of the ledger (may hold a password: keep it out of "
                    "hub.yaml)")
SIGNING_KEY = EnvVar("HRSS_HUB_SIGNING_KEY", "signing_key",
                     "the manifest signing key: a PEM file path or the PEM text itself")
EXCHANGE_URI = EnvVar("HRSS_HUB_EXCHANGE_URI", "exchange_uri",
                      "where datasets are published: a folder or "
                      "s3://bucket/prefix?endpoint_override=…")
OUTBOX_URI = EnvVar("HRSS_HUB_OUTBOX_URI", "outbox_uri",
                    "where recipients' outboxes are written: a folder or s3://…")
GX = EnvVar("HRSS_HUB_GX", "gx",
            "0 skips Great Expectations (the Arrow row gate still checks every row)")
GX_ROWS = EnvVar("HRSS_HUB_GX_ROWS", "gx_rows",
                 "rows per stream Great Expectations validates (a number, or all)")
STANDARDS = EnvVar("HRSS_HUB_STANDARDS", "standard",
                   "a standards/ folder (or one version folder) to use instead of hub.yaml's "
                   "standard or the bundled one")
AIRFLOW_QUEUE = EnvVar("HRSS_HUB_AIRFLOW_QUEUE", "airflow_queue",
                       "Celery queue of every task, a template over {system}, {level}, "
                       "{division}, {hub_id} (e.g. hrss_{system})")
SHARE_ENDPOINT = EnvVar("HRSS_HUB_SHARE_ENDPOINT", "share.endpoint",
                        "the sharing server's public URL (known at deploy time, e.g. behind "
                        "a reverse proxy)")
SHARE_URL_KEY = EnvVar("HRSS_HUB_SHARE_URL_KEY", "share URL key",
                       "hex key (≥ 32 bytes) signing file URLs and page tokens; every server "
                       "process of a deployment needs the same (default: a key file in "
                       "state_dir)")

#: the variables that override one setting each, in documentation order
SETTINGS: tuple[EnvVar, ...] = (CONFIG, LEDGER_URL, SIGNING_KEY, EXCHANGE_URI, OUTBOX_URI, GX,
                                GX_ROWS, STANDARDS, AIRFLOW_QUEUE, SHARE_ENDPOINT,
                                SHARE_URL_KEY)

#: tests only: a kill point of :mod:`hrss_hub.run.crashpoints` (``name`` or ``name@n``);
#: not a setting, and unset in every deployment
TEST_CRASHPOINT = EnvVar("HRSS_HUB_TEST_CRASHPOINT", "test crash point",
                         "tests only: SIGKILL the process at this named point")

#: per recipient: ``HRSS_HUB_PSEUDONYM_KEY_<RECIPIENT>`` (upper case, ``-`` → ``_``)
PSEUDONYM_KEY_PREFIX = PREFIX + "PSEUDONYM_KEY_"


def pseudonym_key_var(recipient: str) -> str:
    """The variable holding ``recipient``'s pseudonym key (``city-510100`` →
    ``HRSS_HUB_PSEUDONYM_KEY_CITY_510100``)."""
    return PSEUDONYM_KEY_PREFIX + recipient.upper().replace("-", "_")


def read_pseudonym_key(recipient: str, environ: Mapping[str, str] | None = None) -> str | None:
    """``recipient``'s pseudonym key from the environment (hex text), if set."""
    return EnvVar(pseudonym_key_var(recipient), "pseudonym key", "").read(environ)


#: the object store's own standard variables, read (like pyarrow and boto3 do) when an
#: ``s3://`` URI does not name the endpoint or region itself; not hub settings
OBJECT_STORE_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION")


def object_store_variable(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """One of :data:`OBJECT_STORE_VARIABLES` from the environment (``None`` when unset)."""
    if name not in OBJECT_STORE_VARIABLES:
        raise ValueError(f"{name} is not an object-store variable")
    return EnvVar(name, "object store", "").read(environ)


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """``HRSS_HUB_*`` variables that the hub does not read (probably misspelt)."""
    env = os.environ if environ is None else environ
    known = {v.name for v in SETTINGS} | {TEST_CRASHPOINT.name}
    return sorted(name for name in env if name.startswith(PREFIX) and name not in known
                  and not name.startswith(PSEUDONYM_KEY_PREFIX))
