"""Every environment override is resolved in one module, with one precedence:
command-line flag > environment variable > hub.yaml > default."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hrss_hub.config import env as hub_env
from hrss_hub.config import load_config
from hrss_hub.config.bundled import shipped_standards_dir
from hrss_hub.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _fresh_pem() -> str:
    # generated per run: no key material is committed, not even a test one
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()


PEM = _fresh_pem()


def workspace(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text("level: county\ndivision: '510107'\n" + extra, encoding="utf-8")
    return path


#: setting → (hub.yaml line, its value in HubConfig, env value, its value, CLI value)
CASES = {
    "ledger_url": ("ledger_url: sqlite:///file.db", "sqlite:///{root}/file.db",
                   "postgresql+psycopg://u:pw@db/hub", "postgresql+psycopg://u:pw@db/hub",
                   "sqlite:////tmp/cli.db"),
    "exchange_uri": ("exchange_uri: pub", "{root}/pub", "s3://b/ex?scheme=http",
                     "s3://b/ex?scheme=http", "s3://cli/ex"),
    "outbox_uri": ("outbox_uri: /srv/out", "/srv/out", "s3://b/out", "s3://b/out", "/cli/out"),
    "gx": ("gx: false", False, "1", True, False),
    "gx_rows": ("gx_rows: 10", 10, "all", None, 5),
    "airflow_queue": ("airflow_queue: hrss_{system}", "hrss_{system}", "hrss_{level}",
                      "hrss_{level}", "q"),
}


@pytest.mark.parametrize("setting", sorted(CASES))
def test_precedence_cli_over_env_over_file_over_default(tmp_path: Path, setting: str) -> None:
    line, from_file, env_value, from_env, from_cli = CASES[setting]
    var = next(v for v in hub_env.SETTINGS if v.setting == setting)
    bare = load_config(workspace(tmp_path), environ={})
    assert bare.origins.get(setting, "default") == "default"
    path = workspace(tmp_path, line + "\n")
    expected_file = (from_file.replace("{root}", str(tmp_path)) if isinstance(from_file, str)
                     else from_file)
    cfg = load_config(path, environ={})
    assert (getattr(cfg, setting), cfg.origins[setting]) == (expected_file, "hub.yaml")
    cfg = load_config(path, environ={var.name: env_value})
    assert (getattr(cfg, setting), cfg.origins[setting]) == (from_env, var.name)
    cfg = load_config(path, environ={var.name: env_value}, overrides={setting: from_cli})
    assert (getattr(cfg, setting), cfg.origins[setting]) == (from_cli, "cli")


def test_standard_and_signing_key(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    path = workspace(tmp_path, "standard: mine\nsigning_key: keys/hub.pem\n")
    cfg = load_config(path, environ={})
    assert cfg.standard_dir == tmp_path / "mine"
    assert cfg.signing_key == str(tmp_path / "keys" / "hub.pem")  # relative to hub.yaml
    cfg = load_config(path, environ={"HRSS_HUB_STANDARDS": str(shipped_standards_dir()),
                                     "HRSS_HUB_SIGNING_KEY": PEM})
    assert cfg.standard_dir == shipped_standards_dir()
    assert cfg.signing_key == PEM and cfg.origins["signing_key"] == "HRSS_HUB_SIGNING_KEY"
    assert PEM not in repr(cfg)  # the key never shows in a repr or a log line
    cfg = load_config(path, environ={}, overrides={"standard": tmp_path})
    assert cfg.standard_dir == tmp_path and cfg.origins["standard_dir"] == "cli"


def test_only_settings_can_be_overridden(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="'paralel' is not a setting"):
        load_config(workspace(tmp_path), environ={}, overrides={"paralel": 2})
    cfg = load_config(workspace(tmp_path), environ={}, overrides={"parallel": 3, "gx": None})
    assert (cfg.parallel, cfg.origins["parallel"], cfg.origins["gx"]) == (3, "cli", "default")


def test_the_env_signing_key_signs(tmp_path: Path) -> None:
    from hrss_hub.exchange.versions import signer_of

    cfg = load_config(workspace(tmp_path), environ={"HRSS_HUB_SIGNING_KEY": PEM})
    assert signer_of(cfg).source == "env HRSS_HUB_SIGNING_KEY"


@pytest.mark.parametrize(("var", "value", "fragment"), [
    ("HRSS_HUB_GX", "maybe", "HRSS_HUB_GX must be 0 or 1, got 'maybe'"),
    ("HRSS_HUB_GX_ROWS", "lots", "HRSS_HUB_GX_ROWS must be a number or 'all', got 'lots'"),
    ("HRSS_HUB_AIRFLOW_QUEUE", "q_{sys}", "unknown placeholder {sys}"),
])
def test_bad_environment_values_name_the_variable(tmp_path: Path, var: str, value: str,
                                                  fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("{", r"\{").replace("}", r"\}")):
        load_config(workspace(tmp_path), environ={var: value})


def test_misspelt_variables_are_found() -> None:
    environ = {"HRSS_HUB_LEDGER_ULR": "x", "HRSS_HUB_GX": "0",
               "HRSS_HUB_PSEUDONYM_KEY_MIB": "00", "HRSS_TEST_PG_URL": "y"}
    assert hub_env.unknown_variables(environ) == ["HRSS_HUB_LEDGER_ULR"]
    assert hub_env.pseudonym_key_var("city-510100") == "HRSS_HUB_PSEUDONYM_KEY_CITY_510100"


#: modules that read the environment for something that is not a hub setting
NOT_SETTINGS = {
    "src/hrss_hub/config/env.py": "the one module of hub settings",
    "src/hrss_hub/connectors/credentials.py": "source credentials a connector file names",
    "src/hrss_hub/demo/server.py": "the demo API's own token (a source credential)",
    "src/hrss_hub/demo_tour.py": "keeps the demo API's variables to restore them",
}


def _environ_reads(path: Path) -> list[int]:
    """Lines of ``path`` reading ``os.environ`` / ``os.getenv`` (writes do not count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            name = ast.unparse(target)
            if (name == "os.environ" and node.func.attr == "get") or ast.unparse(
                    node.func) == "os.getenv":
                lines.append(node.lineno)
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ" \
                and isinstance(node.ctx, ast.Load):
            lines.append(node.lineno)
    return lines


def test_no_module_reads_hub_settings_from_the_environment_itself() -> None:
    found = {}
    for path in sorted([*(ROOT / "src").rglob("*.py"), *(ROOT / "dags").rglob("*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        reads = _environ_reads(path)
        if reads and rel not in NOT_SETTINGS:
            found[rel] = reads
    assert found == {}, "read settings through hrss_hub.config (env.py), not os.environ"


def test_every_variable_is_documented() -> None:
    docs = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for var in hub_env.SETTINGS:
        assert var.name in docs, var.name
        assert var.name in readme, var.name
    assert "HRSS_HUB_PSEUDONYM_KEY_<RECIPIENT>" in docs
