"""hub.yaml → HubConfig: valid files load with the documented defaults; every mistake is
reported at once with line and YAML path; a workspace says its level and division."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from hrss_hub.config import DEFAULT_BATCH_SIZE, ConfigProblems, HubConfig, load_config
from hrss_hub.config.bundled import shipped_standards_dir
from hrss_hub.errors import ConfigError

#: no HRSS_HUB_* variable is set in these tests unless a test says so
CLEAN: dict[str, str] = {}


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    problems: tuple[tuple[str, int | None, str], ...] = ()
    hints: tuple[str, ...] = ()


VALID_CONFIGS = [
    Case("county tier", "level: county\ndivision: '510107'\n"),
    Case("district is the county tier", "level: district\ndivision: 510107\n"),
    Case("city", "level: city\ndivision: '510100'\nhub_id: chengdu\n"),
    Case("municipality city tier", "level: city\ndivision: '110000'\n"),
    Case("province", "level: province\ndivision: '510000'\n"),
    Case("every key", """\
hub_id: wuhou
level: district
division: "510107"
standard: std
connectors: conn
expectations: exp
sharing: share
ledger_url: sqlite:///state/l.db
exchange_root: ex
exchange_uri: s3://bucket/exchange?endpoint_override=127.0.0.1:9000
outbox_uri: out
quarantine_dir: q
reports_dir: r
state_dir: s
pseudonym_keys_dir: /srv/keys
batch_size: 20000
keep_versions: 3
signing_key: keys/hub.pem
signature_suite: sm2
source_precedence: [si_core, personnel]
parallel: 2
gx: false
gx_rows: all
threshold: {critical_fail_pct: 5, warn_fail_pct: 1}
airflow_queue: "hrss_{level}"
"""),
]

INVALID_CONFIGS = [
    Case("empty file", "", (("level is required", None, "level"),
                            ("division is required", None, "division")),
         ("level: county (县/县级市/区", "GB/T 2260")),
    Case("no division (was the demo's 510107)", "hub_id: x\nlevel: city\n",
         (("division is required", 1, "division"),), ('division: "510107"',)),
    Case("no level", "division: '510107'\n", (("level is required", 1, "level"),)),
    Case("unknown level", "level: cty\ndivision: '510100'\n",
         (("unknown level 'cty'", 1, "level"),), ("did you mean 'city'", "county, district")),
    Case("division of another tier", "level: city\ndivision: '510107'\n",
         (("level city needs a prefecture-level code ending in 00, got 510107", 2,
           "division"),)),
    Case("county with a city code", "level: county\ndivision: '510100'\n",
         (("county tier (县/县级市/区), but 510100 is a prefecture", 2, "division"),)),
    Case("division form", "level: county\ndivision: 51010\n",
         (("six-digit GB/T 2260 code, got '51010'", 2, "division"),)),
    Case("typos and bad values", """\
level: county
division: "510107"
levl: city
batch_size: 0
keep_versions: many
signature_suite: sm3
gx: perhaps
gx_rows: -5
parallel: 0
""", (("unknown key 'levl'", 3, "levl"), ("batch_size must be a positive integer, got 0", 4,
                                        "batch_size"),
      ("keep_versions must be an integer, got 'many'", 5, "keep_versions"),
      ("unknown signature suite 'sm3'", 6, "signature_suite"),
      ("gx must be true or false, got 'perhaps'", 7, "gx"),
      ("gx_rows must be a non-negative integer, got -5", 8, "gx_rows"),
      ("parallel must be a positive integer, got 0", 9, "parallel")),
         ("did you mean 'level'", "did you mean 'sm2'")),
    Case("threshold", "level: county\ndivision: '510107'\nthreshold:\n"
         "  critical_fail_pct: 101\n  warn_fail: 1\n",
         (("critical_fail_pct must be at most 100, got 101", 4, "threshold.critical_fail_pct"),
          ("unknown key 'warn_fail'", 5, "threshold.warn_fail")),
         ("did you mean 'warn_fail_pct'",)),
    Case("password in ledger_url", "level: county\ndivision: '510107'\n"
         "ledger_url: postgresql://hub:S3cret@db/hub\n",
         (("ledger_url contains a password", 3, "ledger_url"),), ("HRSS_HUB_LEDGER_URL",)),
    Case("queue template", "level: county\ndivision: '510107'\nairflow_queue: 'q_{systm}'\n",
         (("unknown placeholder {systm}", 3, "airflow_queue"),), ("{system}",)),
    Case("source precedence listed twice", "level: county\ndivision: '510107'\n"
         "source_precedence: [si_core, si_core]\n",
         (("'si_core' is listed twice", 3, "source_precedence"),)),
    Case("duplicate key", "level: county\ndivision: '510107'\nlevel: city\n",
         # YAML keeps the last value: the hub is read as a city, which the code contradicts
         (("key 'level' appears twice (first on line 1)", 3, "level"),
          ("level city needs a prefecture-level code", 2, "division"))),
    Case("not a mapping", "- level\n", (("must be a mapping", 1, ""),)),
    Case("service sections", """\
level: county
division: "510107"
share:
  endpoint: share.example.gov.cn
  port: 70000
  tls_cert: certs/s.pem
  url_ttl: 60
master:
  review_threshold: 1.5
duckdb:
  memory_limit: lots
  threads: 0
""", (("endpoint must be an http(s) URL", 4, "share.endpoint"),
      ("port must be at most 65535, got 70000", 5, "share.port"),
      ("unknown key 'url_ttl'", 7, "share.url_ttl"),
      ("review_threshold must be less than 1, got 1.5", 9, "master.review_threshold"),
      ("memory_limit must be a size like 1GB", 11, "duckdb.memory_limit"),
      ("threads must be a positive integer, got 0", 12, "duckdb.threads")),
         ("did you mean 'url_ttl_seconds'",)),
    Case("service sections across keys", "level: county\ndivision: '510107'\n"
         "share: {tls_cert: c.pem}\nmaster: {review_threshold: 0.9, auto_link_threshold: 0.5}\n",
         (("TLS needs both a certificate and its key", 3, "share.tls_key"),
          ("auto_link_threshold (0.5) is below review_threshold (0.9)", 4,
           "master.auto_link_threshold"))),
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", VALID_CONFIGS, ids=[c.id for c in VALID_CONFIGS])
def test_valid_configs_load(tmp_path: Path, case: Case) -> None:
    cfg = load_config(write(tmp_path, case.text), environ=CLEAN)
    assert cfg.level and cfg.division


@pytest.mark.parametrize("case", INVALID_CONFIGS, ids=[c.id for c in INVALID_CONFIGS])
def test_invalid_configs_report_every_problem(tmp_path: Path, case: Case) -> None:
    path = write(tmp_path, case.text)
    with pytest.raises(ConfigProblems) as info:
        load_config(path, environ=CLEAN)
    found = sorted(((p.message, p.line, p.path) for p in info.value.problems),
                   key=lambda f: (f[1] or 0, f[2]))
    expected = sorted(case.problems, key=lambda c: (c[1] or 0, c[2]))
    assert len(found) == len(expected), found
    for (fragment, line, where), (message, got_line, got_path) in zip(expected, found,
                                                                       strict=True):
        assert fragment in message, found
        assert (got_line or None, got_path) == (line, where), found
    text = str(info.value)
    assert str(path) in text and "S3cret" not in text
    for hint in case.hints:
        assert hint in text, text


def test_defaults_and_paths(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "level: county\ndivision: '510107'\n"), environ=CLEAN)
    assert (cfg.hub_id, cfg.batch_size, cfg.keep_versions, cfg.gx, cfg.gx_rows) == (
        "hrss-hub", DEFAULT_BATCH_SIZE, 10, True, 50_000)
    assert cfg.tier == "county" and cfg.signature_suite == "ed25519"
    assert cfg.standard_dir == shipped_standards_dir()
    assert cfg.connectors_dir == tmp_path / "connectors"
    assert cfg.ledger_url == f"sqlite:///{tmp_path / '.hrss-hub' / 'ledger.db'}"
    assert cfg.exchange_uri == str(tmp_path / "exchange")
    assert cfg.outbox_uri == str(tmp_path / "outbox")
    assert cfg.pseudonym_keys_dir == tmp_path / ".hrss-hub" / "pseudonym-keys"
    assert cfg.origins["batch_size"] == "default" and cfg.origins["division"] == "hub.yaml"


def test_every_key_is_read(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, VALID_CONFIGS[-1].text), environ=CLEAN)
    assert cfg.standard_dir == tmp_path / "std"
    assert (cfg.connectors_dir, cfg.expectations_dir, cfg.sharing_dir) == (
        tmp_path / "conn", tmp_path / "exp", tmp_path / "share")
    # relative paths in hub.yaml are relative to its folder, not the process's
    assert cfg.ledger_url == f"sqlite:///{tmp_path / 'state' / 'l.db'}"
    assert cfg.signing_key == str(tmp_path / "keys" / "hub.pem")
    assert cfg.exchange_uri == "s3://bucket/exchange?endpoint_override=127.0.0.1:9000"
    assert cfg.outbox_uri == str(tmp_path / "out")
    assert cfg.pseudonym_keys_dir == Path("/srv/keys")
    assert (cfg.batch_size, cfg.keep_versions, cfg.signature_suite, cfg.parallel) == (
        20000, 3, "sm2", 2)
    assert cfg.source_precedence == ("si_core", "personnel")
    assert cfg.source_rank("personnel") < cfg.source_rank("si_core2") < cfg.source_rank("zz")
    assert (cfg.gx, cfg.gx_rows, cfg.airflow_queue) == (False, None, "hrss_{level}")
    assert cfg.threshold.as_dict() == {"critical_fail_pct": 5.0, "warn_fail_pct": 1.0}
    assert "hub.yaml" == cfg.origins["gx_rows"] == cfg.origins["signature_suite"]


def test_service_sections(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "level: county\ndivision: '510107'\nsupervision: checks\n"
                                      "share: {port: '8443', tls_cert: c.pem, tls_key: k.pem}\n"
                                      "duckdb: {threads: 4}\n"), environ=CLEAN)
    # the keys written, validated, paths made absolute; defaults belong to the users
    assert cfg.share == {"port": 8443, "tls_cert": str(tmp_path / "c.pem"),
                         "tls_key": str(tmp_path / "k.pem")}
    assert (dict(cfg.master), dict(cfg.duckdb)) == ({}, {"threads": 4})
    assert cfg.supervision_dir == tmp_path / "checks"
    cfg = load_config(tmp_path / "hub.yaml", environ={
        "HRSS_HUB_SHARE_ENDPOINT": "https://share.example.gov.cn/delta-sharing"})
    assert cfg.share["endpoint"] == "https://share.example.gov.cn/delta-sharing"
    with pytest.raises(ConfigError, match="HRSS_HUB_SHARE_ENDPOINT: endpoint must be an http"):
        load_config(tmp_path / "hub.yaml", environ={"HRSS_HUB_SHARE_ENDPOINT": "ftp://x"})


def test_no_workspace_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no workspace here") as info:
        load_config(environ=CLEAN)
    assert "--config" in (info.value.hint or "") and "HRSS_HUB_CONFIG" in (info.value.hint or "")
    with pytest.raises(ConfigError, match="workspace file not found"):
        load_config(tmp_path / "nope.yaml", environ=CLEAN)
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_workspace_from_the_environment_or_a_folder(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    write(ws, "level: county\ndivision: '510107'\n")
    monkeypatch.chdir(tmp_path)
    assert load_config(environ={"HRSS_HUB_CONFIG": str(ws / "hub.yaml")}).root == ws
    assert load_config(ws, environ=CLEAN).source_file == ws / "hub.yaml"


def test_hubconfig_built_in_code_needs_a_real_level_and_division(tmp_path: Path) -> None:
    cfg = HubConfig(root=tmp_path, level="city", division="510100")
    assert cfg.exchange_root == tmp_path / "exchange"
    assert HubConfig(root=tmp_path, division="510107").tier == "county"  # code's default
    with pytest.raises(ConfigError, match="did you mean 'county'"):
        HubConfig(root=tmp_path, level="countyy", division="510107")
    with pytest.raises(ConfigError, match="ending in 0000"):
        HubConfig(root=tmp_path, level="province", division="510100")
