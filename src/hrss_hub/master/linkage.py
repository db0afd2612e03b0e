"""一人多号: probabilistic record linkage of records whose ID is different, invalid or missing.

Splink (Fellegi–Sunter, DuckDB backend, in process) compares master rows — one per
citizen ID — and the person records the row gate quarantined for an invalid or missing
citizen ID, on the folded name, birth date, gender, phone and division. Only the candidate
records are given to Splink (:func:`linkage_input`: the records without an ID, their
blocking partners, and the persons sharing the name and birth date or the phone with a
person of another ID), and only pairs sharing a blocking rule are compared (same name and
birth date; same phone; for a record without an ID, same birth date, gender, division and
first or last character of the name: :data:`_BLOCKS`), so the work grows with the
candidates and their blocks, not with the population or its square. The parameters are
estimated from the candidates with bounded work (:func:`train_model`): the prior from a
deterministic rule (name + birth date + phone), u-probabilities from a fixed number of
random pairs, m-probabilities by expectation maximisation (EM) blocked once on birth date
and once on name, each over a deterministic sample of whole blocks of at most about
:data:`EM_PAIR_BUDGET` pairs. The trained model is kept in the workspace and reused; a pass
with unchanged inputs is skipped, and otherwise only pairs with a new or changed record are
scored (:mod:`.linkage_state`: where it is kept, when the model is retrained). Pairs at or
above ``master.review_threshold`` go to the steward queue (:mod:`.review`) with their
match weight and the weight of every comparison (log2 Bayes factors: the explanation of
the pair); none is merged unless a steward accepts it or it reaches the optional
``auto_link_threshold``.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hrss_hub.exchange.versions import exchange_store
from hrss_hub.master.build import fold_into, master_settings
from hrss_hub.master.linkage_state import (
    StoredModel,
    fingerprint,
    load_model,
    load_pass,
    people_path,
    quarantine_stamp,
    retrain_reason,
    save_model,
    save_pass,
)
from hrss_hub.master.quarantined import quarantine_of, quarantined_persons_sql
from hrss_hub.master.review import Candidate, ReviewStore

if TYPE_CHECKING:
    import duckdb

    from hrss_hub.config import HubConfig

log = logging.getLogger(__name__)

#: compared fields: (column, Splink comparison kind)
COMPARED = ("name_folded", "birth_date_s", "gender", "phone", "division")


@dataclass(frozen=True)
class Block:
    """A blocking rule of the predictions: pairs agreeing on every one of ``columns``;
    with ``unidentified_only`` only the pairs of which one record has no valid ID."""

    columns: tuple[str, ...]
    unidentified_only: bool = False


#: the blocking rules of the predictions: only pairs sharing one of these are compared.
#: The loose rules (birth date, gender, division and the first or the last character of
#: the folded name) find a record without an ID whose name has one wrong character: the
#: other end of the name still agrees. They are restricted to pairs with such a record,
#: and carry a name character, because birth date, gender and division alone put hundreds
#: of people in one block of a city (10M persons: ~900M pairs, nearly all candidates).
_BLOCKS = (Block(("name_folded", "birth_date_s")), Block(("phone",)),
           Block(("birth_date_s", "gender", "division", "name_first"), unidentified_only=True),
           Block(("birth_date_s", "gender", "division", "name_last"), unidentified_only=True))


def block_sql(block: Block, *, fresh_only: bool = False) -> str:
    """The DuckDB condition of ``block`` over Splink's pair aliases ``l`` and ``r``; with
    ``fresh_only`` also only pairs with a record marked ``linkage_fresh``."""
    parts = [f'l."{c}" = r."{c}"' for c in block.columns]
    if block.unidentified_only:
        parts.append("(l.unidentified OR r.unidentified)")
    if fresh_only:
        parts.append("(l.linkage_fresh OR r.linkage_fresh)")
    return " AND ".join(parts)


def _blocking_rules(*, fresh_only: bool = False) -> list[dict[str, Any]]:
    return [{"blocking_rule": block_sql(b, fresh_only=fresh_only), "sql_dialect": "duckdb"}
            for b in _BLOCKS]


@dataclass
class LinkageReport:
    """What one linkage pass did."""

    persons: int = 0  # master persons
    candidates: int = 0  # records compared: see linkage_input
    pairs: int = 0  # pairs at or above the review threshold
    queued: int = 0  # new pairs put in the queue
    auto_accepted: int = 0
    trained: bool = False  # a trained model scored the pairs (else the prior m-probabilities)
    retrained: str | None = None  # why the model was trained in this pass (None: reused)
    mode: str = "full"  # full | incremental (pairs with a fresh record) | skipped (unchanged)
    fresh: int = 0  # candidates new or changed since the last pass (all in a full pass)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dict(self.__dict__)


def _settings() -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator

    rules: list[Any] = _blocking_rules()  # Splink types the list as its own rule union
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        blocking_rules_to_generate_predictions=rules,
        comparisons=[
            cl.LevenshteinAtThresholds("name_folded", [1]).configure(
                m_probabilities=[0.9, 0.07, 0.03]),
            cl.LevenshteinAtThresholds("birth_date_s", [1]).configure(
                m_probabilities=[0.9, 0.07, 0.03]),
            cl.ExactMatch("gender").configure(m_probabilities=[0.97, 0.03]),
            cl.ExactMatch("phone").configure(m_probabilities=[0.8, 0.2]),
            cl.ExactMatch("division").configure(m_probabilities=[0.8, 0.2]),
        ],
        additional_columns_to_retain=["record_ref"],
        retain_intermediate_calculation_columns=True,
        probability_two_random_records_match=1e-6,
    )


#: identified persons sharing one of these with another record are candidates
_STRONG = tuple(b.columns for b in _BLOCKS if not b.unidentified_only)


def linkage_input(con: duckdb.DuckDBPyConnection, quarantined: list[Path] | None = None) -> int:
    """Create ``splink_people``: the candidate records of record linkage; returns their
    number.

    The records are the master persons not merged into another, each with the record that
    names it (``record_ref``: entity|system|source key of the winning name's record), and
    the person records the row gate quarantined for their citizen ID (invalid or missing:
    ``quarantined`` files) that are not linked since. Candidates are those records without
    an ID, every person sharing a blocking key with one of them, and the persons sharing
    the name and birth date, or the phone, with another person of a different ID — not the
    whole population: the rest cannot be in a pair of a strong blocking rule.
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE __linkable AS
        WITH named AS (
          SELECT m.citizen_id, min(l.record_key) AS record_key
          FROM person_master m JOIN person_link l
            ON l.citizen_id = m.citizen_id AND l.record_system = m.name_source
           AND l.record_entity = 'person'
          GROUP BY m.citizen_id)
        SELECT m.citizen_id AS uid, m.name, m.gender,
               strftime(m.birth_date, '%Y%m%d') AS birth_date_s, m.phone, m.division,
               'person|' || m.name_source || '|' || n.record_key AS record_ref,
               false AS unidentified
        FROM person_master m JOIN named n USING (citizen_id)
        WHERE m.merged_into IS NULL AND m.name IS NOT NULL""")
    if quarantined:
        con.execute(f"""
            INSERT INTO __linkable
            SELECT 'q|' || q.system || '|' || q.source_key AS uid, q.name, q.gender,
                   strftime(q.birth_date, '%Y%m%d') AS birth_date_s, q.phone, q.division,
                   'person|' || q.system || '|' || q.source_key AS record_ref,
                   true AS unidentified
            FROM ({quarantined_persons_sql(quarantined)}) q
            WHERE q.name IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM person_link l WHERE l.record_entity = 'person'
                              AND l.record_system = q.system AND l.record_key = q.source_key)
            """)
    fold_into(con, "SELECT name FROM __linkable", "__folded")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE __people AS
        SELECT r.uid, f.name_folded, r.birth_date_s, r.gender, r.phone, r.division,
               left(f.name_folded, 1) AS name_first, right(f.name_folded, 1) AS name_last,
               r.record_ref, r.unidentified
        FROM __linkable r LEFT JOIN __folded f USING (name)""")
    strong = " OR ".join(
        "EXISTS (SELECT 1 FROM __people o WHERE o.uid <> p.uid AND "
        + " AND ".join(f"o.{c} = p.{c}" for c in key) + ")" for key in _STRONG)
    loose = " OR ".join(
        "EXISTS (SELECT 1 FROM __people u WHERE u.unidentified AND u.uid <> p.uid AND "
        + " AND ".join(f"u.{c} = p.{c}" for c in block.columns) + ")" for block in _BLOCKS)
    con.execute(f"""
        CREATE OR REPLACE TABLE splink_people AS
        SELECT p.uid, p.name_folded, p.birth_date_s, p.gender, p.phone, p.division,
               p.name_first, p.name_last, p.record_ref, p.unidentified,
               md5(to_json(struct_pack(p.uid, p.name_folded, p.birth_date_s, p.gender,
                                       p.phone, p.division, p.record_ref))) AS linkage_hash,
               true AS linkage_fresh
        FROM __people p WHERE p.unidentified OR {strong} OR {loose}""")
    rows = con.execute("SELECT count(*) FROM splink_people").fetchall()
    return int(rows[0][0])


#: EM passes, each blocked on one column (m-probabilities of the others are estimated)
EM_BLOCKS = ("birth_date_s", "name_folded")
#: pairs per EM pass: whole blocks are sampled up to this many (bounded training)
EM_PAIR_BUDGET = 400_000
#: pairs of random records for the u-probabilities
U_MAX_PAIRS = 1_000_000
#: hash buckets of the block sample: blocks are kept by bucket, lowest bucket first
_BUCKETS = 1024


def training_plan() -> dict[str, Any]:
    """How the model is trained (part of the model's fingerprint)."""
    return {"prior_rule": ["name_folded", "birth_date_s", "phone"], "prior_recall": 0.8,
            "u_max_pairs": U_MAX_PAIRS, "u_seed": 1, "em_blocks": list(EM_BLOCKS),
            "em_pair_budget": EM_PAIR_BUDGET, "buckets": _BUCKETS}


def _plain(settings: dict[str, Any]) -> dict[str, Any]:
    # the linker's random uid is no part of the model
    return {k: v for k, v in settings.items() if k != "linker_uid"}


def settings_fingerprint() -> str:
    """Fingerprint of what a trained model depends on besides the data: the comparisons,
    blocking rules and priors, the training plan and Splink's version."""
    import splink

    return fingerprint({"settings": _plain(_settings().create_settings_dict("duckdb")),
                        "plan": training_plan(), "splink": splink.__version__})


def sampled_block_rule(con: duckdb.DuckDBPyConnection, table: str, column: str,
                       budget: int = EM_PAIR_BUDGET) -> tuple[str, int]:
    """The EM blocking rule on ``column`` restricted to a deterministic sample of whole
    blocks of about ``budget`` pairs, and its number of pairs.

    Blocks (records sharing the value) go to one of :data:`_BUCKETS` buckets by the hash of
    the value, and the lowest buckets are kept until they hold ``budget`` pairs. Every pair
    of a kept block is kept, so the matches and non-matches of the sample are those of the
    blocks at large (m-probabilities stay unbiased); sampling records instead would keep a
    pair only if both its records were drawn (a 41% sample keeps ~17% of the pairs and the
    true pairs among them no more often). Same data, same sample.
    """
    rows = con.execute(f"""
        SELECT hash({column}) % {_BUCKETS} AS bucket, sum(n * (n - 1) // 2) AS pairs
        FROM (SELECT {column}, count(*) AS n FROM {table} WHERE {column} IS NOT NULL
              GROUP BY {column})
        GROUP BY bucket ORDER BY bucket""").fetchall()
    total = kept = 0
    cut = _BUCKETS
    for bucket, pairs in rows:
        total += int(pairs)
        if cut == _BUCKETS and total >= budget:
            cut, kept = int(bucket) + 1, total
    rule = f'l."{column}" = r."{column}"'
    if cut == _BUCKETS or kept == sum(int(p) for _, p in rows):
        return rule, total
    return f'{rule} AND hash(l."{column}") % {_BUCKETS} < {cut}', kept


def _quiet_splink() -> None:
    # Splink would call logging.basicConfig() on the hub's root logger and print its training
    # chatter (INFO/WARNING) into every run's output; the hub reports ``trained`` instead
    logging.getLogger("splink").setLevel(logging.ERROR)


def train_model(con: duckdb.DuckDBPyConnection, settings_fp: str,
                candidates: int) -> StoredModel | None:
    """Estimate the model from ``splink_people`` with bounded work: the prior from a
    deterministic rule (name + birth date + phone), u-probabilities from
    :data:`U_MAX_PAIRS` random pairs, m-probabilities by EM on a sample of whole blocks
    (:func:`sampled_block_rule`) of each of :data:`EM_BLOCKS`. ``None`` when there is too
    little data to estimate (the priors are used then)."""
    from splink import DuckDBAPI, Linker, block_on

    _quiet_splink()
    linker = Linker("splink_people", _settings(), db_api=DuckDBAPI(connection=con),
                    set_up_basic_logging=False)
    sampled: dict[str, int] = {}
    try:
        linker.training.estimate_probability_two_random_records_match(
            [block_on("name_folded", "birth_date_s", "phone")], recall=0.8)
        linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=1)
        for column in EM_BLOCKS:
            rule, sampled[column] = sampled_block_rule(con, "splink_people", column,
                                                       EM_PAIR_BUDGET)
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
    except Exception as exc:  # noqa: BLE001 - too little data to estimate: keep the priors
        log.info("record linkage: parameters not estimated (%s); using the priors", exc)
        return None
    return StoredModel(settings_fp, candidates, _plain(linker.misc.save_model_to_json()),
                       {"em_pairs": sampled})


def prior_model() -> StoredModel:
    """The untrained model (the configured m-probabilities and prior)."""
    return StoredModel("priors", 0, _plain(_settings().create_settings_dict("duckdb")), {})


def score_pairs(con: duckdb.DuckDBPyConnection, model: StoredModel, threshold: float, *,
                fresh_only: bool = False) -> list[Candidate]:
    """Pairs of ``splink_people`` (:func:`linkage_input`) at or above ``threshold`` with
    their explanations, scored with ``model``; with ``fresh_only`` only the pairs with at
    least one record marked ``linkage_fresh`` (the others were scored by the last pass)."""
    from splink import DuckDBAPI, Linker

    _quiet_splink()
    settings = copy.deepcopy(model.splink)
    if fresh_only:
        # the same blocking rules, each restricted to pairs touching a fresh record; Splink
        # drops a pair found by an earlier rule from the later ones, as in a full pass
        settings["blocking_rules_to_generate_predictions"] = _blocking_rules(fresh_only=True)
    linker = Linker("splink_people", settings, db_api=DuckDBAPI(connection=con),
                    set_up_basic_logging=False)
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    rows = con.sql(f"SELECT * FROM {predictions.physical_name}").to_arrow_table().to_pylist()
    out = []
    for r in rows:
        weights = {c: _log2(r.get(f"bf_{c}")) for c in COMPARED}
        explanation = {"match_weight": round(float(r["match_weight"]), 3),
                       "weights": weights,
                       "levels": {c: r.get(f"gamma_{c}") for c in COMPARED}}
        out.append(Candidate(str(r["record_ref_l"]), str(r["record_ref_r"]),
                             round(float(r["match_probability"]), 6), explanation))
    return sorted(out, key=lambda c: c.id)

def _count_people(con: duckdb.DuckDBPyConnection) -> int:
    rows = con.execute("SELECT count(*) FROM person_master WHERE merged_into IS NULL"
                       ).fetchall()
    return int(rows[0][0])


def _log2(bf: Any) -> float | None:
    if bf is None or float(bf) <= 0:
        return None
    return round(math.log2(float(bf)), 3)


def _queue_size(ledger: Any) -> int:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from hrss_hub.ledger.models import MasterReview

    with Session(ledger.engine) as s:
        return int(s.scalar(select(func.count()).select_from(MasterReview)) or 0)


def _mark_fresh(con: duckdb.DuckDBPyConnection, previous: Path | None) -> int:
    """Mark the candidates whose hash is not among ``previous``'s (all without one)."""
    if previous is None:
        con.execute("UPDATE splink_people SET linkage_fresh = true")
    else:
        con.execute(f"""
            UPDATE splink_people SET linkage_fresh = linkage_hash NOT IN (
              SELECT h FROM read_parquet('{str(previous).replace("'", "''")}'))""")
    rows = con.execute("SELECT count(*) FROM splink_people WHERE linkage_fresh").fetchall()
    return int(rows[0][0])


def propose_pairs(cfg: HubConfig, ledger: Any, *, retrain: bool = False) -> LinkageReport:
    """Score the published master and queue the new candidate pairs for review.

    Bounded and incremental (state in :mod:`.linkage_state`): the model trained once is
    reused until its settings change or the candidates grow (or ``retrain``); a pass whose
    inputs are unchanged since the last one is skipped; otherwise only the pairs with a
    record that is new or changed since the last pass are scored — the queue is the same
    as a full pass would leave it.
    """
    from hrss_hub.exchange.versions import current
    from hrss_hub.supervision.duck import connect, register

    assert cfg.state_dir is not None
    state = cfg.state_dir
    settings = master_settings(cfg)
    report = LinkageReport()
    store = exchange_store(cfg)
    versions = {}
    for name in ("person_master", "person_link"):
        version = current(store, name)
        if version is None:
            return report
        versions[name] = version.version
    files = quarantine_of(cfg.quarantine_dir)
    settings_fp = settings_fingerprint()
    model = load_model(state)
    usable = model if model is not None and model.fingerprint == settings_fp else None
    inputs = {"versions": versions, "quarantine": quarantine_stamp(files),
              "threshold": settings.review_threshold,
              "auto_threshold": settings.auto_link_threshold,
              "model": usable.model_id if usable else None, "queue": _queue_size(ledger)}
    last = load_pass(state)
    if not retrain and last is not None and last.get("inputs") == inputs:
        done = dict(last.get("result") or {})
        report.persons, report.candidates = int(done.get("persons", 0)), int(
            done.get("candidates", 0))
        report.trained, report.mode = bool(done.get("trained")), "skipped"
        return report
    snapshot = people_path(state)
    con = connect(cfg)
    try:
        register(con, store, ("person_master", "person_link"))
        report.persons = _count_people(con)
        report.candidates = linkage_input(con, files)
        candidates: list[Candidate] = []
        if report.candidates >= 2:
            report.retrained = retrain_reason(model, settings_fp, report.candidates,
                                              force=retrain)
            if report.retrained is not None:
                usable = train_model(con, settings_fp, report.candidates)
                if usable is not None:
                    save_model(state, usable)
            report.trained = usable is not None
            used = usable or prior_model()
            previous = last.get("inputs", {}) if last is not None else {}
            incremental = (report.retrained is None and snapshot.is_file()
                           and previous.get("model") == used.model_id
                           and previous.get("threshold") == settings.review_threshold
                           and previous.get("queue") == inputs["queue"])
            report.fresh = _mark_fresh(con, snapshot if incremental else None)
            report.mode = "incremental" if incremental else "full"
            if report.fresh:
                candidates = score_pairs(con, used, settings.review_threshold,
                                         fresh_only=incremental)
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        staged = snapshot.with_name(snapshot.name + ".tmp")
        con.execute(f"COPY (SELECT linkage_hash AS h FROM splink_people ORDER BY h) TO "
                    f"'{str(staged).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")
    finally:
        con.close()
    report.pairs = len(candidates)
    report.queued, report.auto_accepted = ReviewStore(ledger).propose(
        candidates, auto_threshold=settings.auto_link_threshold, actor=f"hub:{cfg.hub_id}")
    # the snapshot and the pass are recorded only once the queue holds the pairs
    staged.replace(snapshot)
    # what the next pass will find if nothing changes meanwhile
    inputs["model"] = usable.model_id if usable is not None else None
    inputs["queue"] = _queue_size(ledger)
    save_pass(state, inputs, report.to_dict())
    return report
