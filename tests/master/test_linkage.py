"""Record linkage bounded and incremental: training on a deterministic sample of whole
blocks, the trained model kept in the workspace and reused by later processes, retrained
when its settings change, a pass skipped when nothing changed, and an incremental pass
proposing the same queue as a full pass over the same data."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hrss_test_world import cid, run_publish_step, stage, workspace

from hrss_hub.config import HubConfig
from hrss_hub.ledger import Ledger
from hrss_hub.master import linkage
from hrss_hub.master.hooks import publish_run
from hrss_hub.master.linkage_state import (
    RETRAIN_GROWTH,
    StoredModel,
    load_model,
    people_path,
    retrain_reason,
)
from hrss_hub.master.review import ReviewStore

SURNAMES = "王李张刘陈杨黄赵"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟"
T = datetime(2025, 1, 1, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class _Run:
    run_id: str


def _person(person: str | None, key: str, name: str, gender: str, born: date,
            phone: str) -> dict[str, Any]:
    return {"citizen_id": person, "citizen_id_raw": person, "id_type": "01", "name": name,
            "gender": gender, "birth_date": born, "phone": phone,
            "address_division": "510107", "source_updated_at": T, "source_key": key}


def _population(seed: int, n: int, start: int = 0) -> tuple[list[dict[str, Any]],
                                                            list[dict[str, Any]]]:
    """``n`` si_core persons born within 40 days (blocks of a few records each) and the
    employment records of every 8th of them under a mistyped, still valid number."""
    rng = random.Random(seed)
    si, emp = [], []
    for i in range(start, start + n):
        born = date(1980, 1, 1) + timedelta(days=rng.randrange(40))
        seq = 2 * (i % 200) + 1 if i % 2 else 2 * (i % 200) + 2
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        gender = "1" if seq % 2 else "2"
        phone = f"139{i:08d}"
        si.append(_person(cid("510107", born, seq), f"S{i}", name, gender, born, phone))
        if i % 8 == 0:
            emp.append(_person(cid("510107", born, (seq + 400) % 1000), f"E{i}", name, gender,
                               born, phone))
    return si, emp


def _pass(cfg: HubConfig, batches: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """One run staging ``batches`` (system, rows); the run's linkage report."""
    return run_publish_step(cfg, batches).linkage


def _queue(cfg: HubConfig) -> dict[str, tuple[str, str, float]]:
    with Ledger.open(cfg.ledger_url) as ledger:
        return {r.id: (r.left, r.right, r.probability) for r in ReviewStore(ledger).all()}


def _in_subprocess(cfg: HubConfig) -> dict[str, Any]:
    """A linkage pass in another process: it knows the workspace only from disk."""
    code = ("import json, sys\n"
            "from pathlib import Path\n"
            "from hrss_hub.config import load_config\n"
            "from hrss_hub.ledger import Ledger\n"
            "from hrss_hub.master.linkage import propose_pairs\n"
            "cfg = load_config(Path(sys.argv[1]))\n"
            "with Ledger.open(cfg.ledger_url) as ledger:\n"
            "    print(json.dumps(propose_pairs(cfg, ledger).to_dict()))\n")
    out = subprocess.run([sys.executable, "-c", code, str(cfg.root / "hub.yaml")],
                         check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def cfg(tmp_path: Path) -> HubConfig:
    return _workspace(tmp_path / "hub")


def _workspace(root: Path) -> HubConfig:
    base = workspace(root)
    (root / "hub.yaml").write_text(
        (root / "hub.yaml").read_text(encoding="utf-8")
        + "master:\n  review_threshold: 0.9\n", encoding="utf-8")
    return dataclasses.replace(base, master={"review_threshold": 0.9})


def _blocks(con: duckdb.DuckDBPyConnection) -> None:
    rng = random.Random(3)
    rows = [(f"u{i}", f"v{rng.randrange(300)}") for i in range(3000)]
    con.execute("CREATE TABLE people (uid VARCHAR, k VARCHAR)")
    con.executemany("INSERT INTO people VALUES (?, ?)", rows)


def test_block_sample_keeps_whole_blocks_up_to_the_budget_and_is_deterministic() -> None:
    con = duckdb.connect()
    _blocks(con)
    rule, pairs = linkage.sampled_block_rule(con, "people", "k", budget=2000)
    assert "hash" in rule
    again = duckdb.connect()
    _blocks(again)
    assert linkage.sampled_block_rule(again, "people", "k", budget=2000) == (rule, pairs)
    total = con.execute("SELECT sum(n * (n - 1) // 2) FROM (SELECT count(*) n FROM people "
                        "GROUP BY k)").fetchall()[0][0]
    assert 2000 <= pairs < total
    kept = con.execute(f"""
        SELECT l.k, count(*) FROM people l JOIN people r ON l.uid < r.uid AND {rule}
        GROUP BY l.k""").fetchall()
    assert sum(n for _, n in kept) == pairs
    sizes = dict(con.execute("SELECT k, count(*) FROM people GROUP BY k").fetchall())
    # every pair of a sampled block is kept: a block is in or out, never cut
    assert all(n == sizes[k] * (sizes[k] - 1) // 2 for k, n in kept)
    # a budget above the whole: every block, plainly
    assert linkage.sampled_block_rule(con, "people", "k", budget=10**9) == (
        'l."k" = r."k"', total)


def test_retrain_rule() -> None:
    model = StoredModel("fp", 1000, {}, {})
    assert retrain_reason(None, "fp", 10) == "no model"
    assert retrain_reason(model, "other", 1000) == "settings changed"
    assert retrain_reason(model, "fp", int(1000 * RETRAIN_GROWTH)) is None
    assert retrain_reason(model, "fp", int(1000 * RETRAIN_GROWTH) + 1) == "candidates grew"
    assert retrain_reason(model, "fp", 1000, force=True) == "forced"


def _quarantined(cfg: HubConfig, run_id: str, rows: list[dict[str, Any]]) -> None:
    """The quarantine file the row gate writes for person records without a citizen ID."""
    import pyarrow as pa

    from hrss_hub.quality.gate import QUARANTINE_SCHEMA, _json_records
    from hrss_hub.quality.reprocess import quarantine_path
    from hrss_hub.quality.spool import QuarantineSpool

    assert cfg.quarantine_dir is not None
    fields = ("name", "gender", "birth_date", "phone", "address_division")
    record = _json_records({f: pa.array([r[f] for r in rows]) for f in fields})
    k = len(rows)
    spool = QuarantineSpool(quarantine_path(cfg.quarantine_dir, run_id, "employment",
                                            "persons"))
    spool.add(pa.table({
        "run_id": [run_id] * k, "system": ["employment"] * k, "stream": ["persons"] * k,
        "entity": ["person"] * k, "source_key": [r["source_key"] for r in rows],
        "location": [None] * k, "rules": [["required"]] * k, "fields": [["citizen_id"]] * k,
        "offending_values": [[None]] * k, "record": record}, schema=QUARANTINE_SCHEMA))
    spool.close()


def _first(cfg: HubConfig) -> dict[str, Any]:
    si, emp = _population(1, 400)
    with Ledger.open(cfg.ledger_url) as ledger:
        run_id = ledger.start_run(cfg.hub_id, "cli")
        stage(cfg, {"person": si}, run_id=run_id, system="si_core", tag="si")
        stage(cfg, {"person": emp[:30]}, run_id=run_id, system="employment", tag="emp")
        # the rest of the employment records lost their number: quarantined
        _quarantined(cfg, run_id, [{**r, "source_key": "Q" + r["source_key"]}
                                   for r in emp[30:]])
        report = publish_run(cfg, ledger, _Run(run_id))
        ledger.finish_run(run_id, "succeeded", {})
    return report.linkage


def _second() -> list[tuple[str, list[dict[str, Any]]]]:
    si, emp = _population(2, 40, start=400)
    moved = [{**r, "phone": "138" + r["phone"][3:]} for r in _population(1, 400)[0][:5]]
    return [("si_core", si + moved), ("employment", emp)]


def test_model_persisted_reused_by_another_process_and_unchanged_pass_skipped(
        cfg: HubConfig) -> None:
    first = _first(cfg)
    assert first["mode"] == "full" and first["retrained"] == "no model" and first["trained"]
    assert cfg.state_dir is not None
    model = load_model(cfg.state_dir)
    assert model is not None and model.candidates == first["candidates"]
    queue = _queue(cfg)
    assert first["queued"] == len(queue) > 0
    # nothing changed: another process skips the pass, reading only the workspace
    again = _in_subprocess(cfg)
    assert again["mode"] == "skipped" and again["queued"] == 0
    assert _queue(cfg) == queue
    # new records: the stored model is reused, only pairs with a fresh record are scored
    second = _pass(cfg, _second())
    assert second["mode"] == "incremental" and second["retrained"] is None
    assert 0 < second["fresh"] < second["candidates"] and second["queued"] > 0
    stored = load_model(cfg.state_dir)
    assert stored is not None and stored.model_id == model.model_id


def test_incremental_pass_proposes_the_queue_of_a_full_pass(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a budget below the blocks' pairs: EM trains on a sample of them
    monkeypatch.setattr(linkage, "EM_PAIR_BUDGET", 120)
    inc, full = _workspace(tmp_path / "inc"), _workspace(tmp_path / "full")
    for ws in (inc, full):
        _first(ws)
    # the same model in both: sampled training on the same data is deterministic
    assert inc.state_dir is not None and full.state_dir is not None
    a, b = load_model(inc.state_dir), load_model(full.state_dir)
    assert a is not None and b is not None and a.model_id == b.model_id
    assert 120 <= a.training["em_pairs"]["birth_date_s"] < 1000
    # without the last pass's record hashes the full workspace scores every pair
    people_path(full.state_dir).unlink()
    got_inc, got_full = _pass(inc, _second()), _pass(full, _second())
    assert (got_inc["mode"], got_full["mode"]) == ("incremental", "full")
    assert got_inc["fresh"] < got_full["fresh"] == got_full["candidates"]
    assert got_inc["pairs"] < got_full["pairs"]  # the old pairs were not scored again
    assert _queue(inc) == _queue(full)


def test_retrained_when_the_training_settings_change(cfg: HubConfig,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _first(cfg)
    assert cfg.state_dir is not None
    before = load_model(cfg.state_dir)
    monkeypatch.setattr(linkage, "EM_PAIR_BUDGET", 50)
    with Ledger.open(cfg.ledger_url) as ledger:
        report = linkage.propose_pairs(cfg, ledger)
    assert report.retrained == "settings changed" and report.mode == "full"
    after = load_model(cfg.state_dir)
    assert before is not None and after is not None and after.fingerprint != before.fingerprint
    assert after.training["em_pairs"]["birth_date_s"] < before.training["em_pairs"][
        "birth_date_s"]
    # forced: trained again though nothing changed
    from click.testing import CliRunner

    from hrss_hub.cli.master import master

    out = CliRunner().invoke(master, ["build", "--retrain", "--json",
                                      "--config", str(cfg.root / "hub.yaml")])
    assert out.exit_code == 0, out.output
    forced = json.loads(out.output)["linkage"]
    assert forced["retrained"] == "forced" and forced["mode"] == "full"


def _candidates(rows: list[tuple[str, str, str, str, bool]]) -> duckdb.DuckDBPyConnection:
    """``splink_people`` of (uid, name, birth date, phone, unidentified): one gender and
    division, as in a city's single district."""
    con = duckdb.connect()
    con.execute("""CREATE TABLE splink_people (uid VARCHAR, name_folded VARCHAR,
        birth_date_s VARCHAR, gender VARCHAR, phone VARCHAR, division VARCHAR,
        name_first VARCHAR, name_last VARCHAR, record_ref VARCHAR, unidentified BOOLEAN,
        linkage_fresh BOOLEAN)""")
    con.executemany(
        "INSERT INTO splink_people VALUES (?, ?, ?, '1', ?, '510107', left(?, 1), right(?, 1),"
        " 'person|si|' || ?, ?, true)",
        [(uid, name, born, phone, name, name, uid, unidentified)
         for uid, name, born, phone, unidentified in rows])
    return con


def test_loose_block_pairs_only_records_without_a_valid_id() -> None:
    """Same birth date, gender and division with a name character in common pairs a record
    without an ID with its likely owner, but never two identified persons: in a city that
    block holds hundreds of people (a quadratic blow-up at 10M persons)."""
    con = _candidates([
        ("a", "王伟芳", "19800101", "13900000001", False),
        ("b", "王娜敏", "19800101", "13900000002", False),  # identified, same surname only
        ("q|1", "王伟方", "19800101", "13900000009", True),  # no ID, one character off a
        ("q|2", "李静芳", "19800101", "13900000008", True),  # no ID, shares last char of a
        ("q|3", "赵丽强", "19800101", "13900000007", True),  # no ID, no character in common
    ])
    pairs = {tuple(sorted((c.left, c.right)))
             for c in linkage.score_pairs(con, linkage.prior_model(), 0.0)}
    assert ("person|si|a", "person|si|b") not in pairs
    assert ("person|si|a", "person|si|q|1") in pairs
    assert ("person|si|a", "person|si|q|2") in pairs
    assert not any("person|si|q|3" in p for p in pairs)

