"""The exchange location is decided once (hub.yaml ``exchange_uri`` / HRSS_HUB_EXCHANGE_URI)
and every reader uses it: publishing, and the quality checks that look up published keys.

Defect 11 (second half): with HRSS_HUB_EXCHANGE_URI set, reference checks read the empty
local ``exchange_root`` and passed every row.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from exchange_helpers import persons, stage
from hrss_test_s3 import bucket_uri, create_bucket

from hrss_hub.config import load_config
from hrss_hub.exchange.versions import publish_pending
from hrss_hub.ledger import Ledger
from hrss_hub.quality.validate import RunValidation, reference_values
from hrss_hub.standard.model import load_standard


@pytest.fixture
def exchange_uri(s3_endpoint: str, s3_credentials: None,
                 monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("HRSS_HUB_SIGNING_KEY", "HRSS_HUB_OUTBOX_URI", "HRSS_HUB_LEDGER_URL"):
        monkeypatch.delenv(name, raising=False)
    return bucket_uri(s3_endpoint, create_bucket(s3_endpoint, "refs"), "hub/exchange")


def test_reference_checks_read_where_the_hub_publishes(
        tmp_path: Path, exchange_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hub.yaml").write_text("hub_id: wuhou\nlevel: district\ndivision: '510107'\n",
                                       encoding="utf-8")
    monkeypatch.setenv("HRSS_HUB_EXCHANGE_URI", exchange_uri)
    cfg = load_config(tmp_path / "hub.yaml")
    assert cfg.exchange_uri == exchange_uri and cfg.origins["exchange_uri"] == \
        "HRSS_HUB_EXCHANGE_URI"
    published = persons("510107", range(12))
    assert cfg.exchange_root is not None
    stage(cfg.exchange_root, published)
    with Ledger.open(cfg.ledger_url) as ledger:
        report = publish_pending(cfg, ledger, None)
    assert [(v.dataset, v.rows) for v in report.versions] == [("person", 12)]
    assert not (cfg.exchange_root / "person").exists()  # nothing published locally

    expected = sorted(published["citizen_id"].to_pylist())
    values = reference_values(cfg.exchange_uri, "person", "citizen_id")
    assert values is not None and sorted(values.to_pylist()) == expected
    # what a contribution stream's reference check is given (was None: "nothing published")
    run = RunValidation(cfg, load_standard(cfg.standard_dir), "run-2", gx=False)
    standard = load_standard(cfg.standard_dir)
    validator = run.stream(standard.entity("contribution"), "si_core", "AC43")
    refs = validator.ctx.references[("person", "citizen_id")]
    assert refs is not None and sorted(refs.to_pylist()) == expected
    assert reference_values(cfg.exchange_uri, "employer", "uscc") is None  # none published
