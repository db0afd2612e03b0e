"""一人多号: probabilistic record linkage of records whose ID is different, invalid or missing.

Splink (Fellegi–Sunter, DuckDB backend, in process) compares master rows — one per
citizen ID — and the person records the row gate quarantined for an invalid or missing
citizen ID, on the folded name, birth date, gender, phone and division. Only the candidate
records are given to Splink (:func:`linkage_input`: the records without an ID, their
blocking partners, and the persons sharing the name and birth date or the phone with a
person of another ID), and only pairs sharing a blocking rule are compared (same name and
birth date; same phone; same birth date, gender and division), so the work grows with the
candidates and their blocks, not with the population or its square. The parameters are
estimated from the candidates: the prior from a deterministic rule (name + birth date +
phone), u-probabilities by random sampling, m-probabilities by
expectation maximisation (EM) blocked once on birth date and once on name. Pairs at or
above ``master.review_threshold`` go to the steward queue (:mod:`.review`) with their
match weight and the weight of every comparison (log2 Bayes factors: the explanation of
the pair); none is merged unless a steward accepts it or it reaches the optional
``auto_link_threshold``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hrss_hub.exchange.versions import exchange_store
from hrss_hub.master.build import fold_into, master_settings
from hrss_hub.master.quarantined import quarantine_of, quarantined_persons_sql
from hrss_hub.master.review import Candidate, ReviewStore

if TYPE_CHECKING:
    import duckdb

    from hrss_hub.config import HubConfig

log = logging.getLogger(__name__)

#: compared fields: (column, Splink comparison kind)
COMPARED = ("name_folded", "birth_date_s", "gender", "phone", "division")
#: the blocking rules of the predictions: only pairs sharing one of these are compared
_BLOCKS = (("name_folded", "birth_date_s"), ("phone",), ("birth_date_s", "gender", "division"))


@dataclass
class LinkageReport:
    """What one linkage pass did."""

    persons: int = 0  # master persons
    candidates: int = 0  # records compared: see linkage_input
    pairs: int = 0  # pairs at or above the review threshold
    queued: int = 0  # new pairs put in the queue
    auto_accepted: int = 0
    trained: bool = False  # EM estimation succeeded (else the prior m-probabilities)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dict(self.__dict__)


def _settings() -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        blocking_rules_to_generate_predictions=[
            *(block_on(*rule) for rule in _BLOCKS)],
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
_STRONG = (("name_folded", "birth_date_s"), ("phone",))


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
               r.record_ref, r.unidentified
        FROM __linkable r LEFT JOIN __folded f USING (name)""")
    strong = " OR ".join(
        "EXISTS (SELECT 1 FROM __people o WHERE o.uid <> p.uid AND "
        + " AND ".join(f"o.{c} = p.{c}" for c in key) + ")" for key in _STRONG)
    loose = " OR ".join(
        "EXISTS (SELECT 1 FROM __people u WHERE u.unidentified AND u.uid <> p.uid AND "
        + " AND ".join(f"u.{c} = p.{c}" for c in rule) + ")" for rule in _BLOCKS)
    con.execute(f"""
        CREATE OR REPLACE TABLE splink_people AS
        SELECT p.uid, p.name_folded, p.birth_date_s, p.gender, p.phone, p.division,
               p.record_ref
        FROM __people p WHERE p.unidentified OR {strong} OR {loose}""")
    rows = con.execute("SELECT count(*) FROM splink_people").fetchall()
    return int(rows[0][0])


def score_pairs(con: duckdb.DuckDBPyConnection,
                threshold: float) -> tuple[list[Candidate], bool]:
    """Pairs of ``splink_people`` (:func:`linkage_input`) at or above ``threshold`` with
    their explanations; and whether EM training succeeded."""
    from splink import DuckDBAPI, Linker, block_on

    # Splink would call logging.basicConfig() on the hub's root logger and print its training
    # chatter (INFO/WARNING) into every run's output; the hub reports ``trained`` instead
    logging.getLogger("splink").setLevel(logging.ERROR)
    linker = Linker("splink_people", _settings(), db_api=DuckDBAPI(connection=con),
                    set_up_basic_logging=False)
    trained = True
    try:
        linker.training.estimate_probability_two_random_records_match(
            [block_on("name_folded", "birth_date_s", "phone")], recall=0.8)
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("birth_date_s"))
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("name_folded"))
    except Exception as exc:  # noqa: BLE001 - too little data to estimate: keep the priors
        trained = False
        log.info("record linkage: parameters not estimated (%s); using the priors", exc)
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
    return sorted(out, key=lambda c: c.id), trained


def _count_people(con: duckdb.DuckDBPyConnection) -> int:
    rows = con.execute("SELECT count(*) FROM person_master WHERE merged_into IS NULL"
                       ).fetchall()
    return int(rows[0][0])


def _log2(bf: Any) -> float | None:
    if bf is None or float(bf) <= 0:
        return None
    return round(math.log2(float(bf)), 3)


def propose_pairs(cfg: HubConfig, ledger: Any) -> LinkageReport:
    """Score the published master and queue the new candidate pairs for review."""
    from hrss_hub.supervision.duck import connect, register

    settings = master_settings(cfg)
    report = LinkageReport()
    con = connect(cfg)
    try:
        have = register(con, exchange_store(cfg), ("person_master", "person_link"))
        if have != {"person_master", "person_link"}:
            return report
        report.persons = _count_people(con)
        report.candidates = linkage_input(con, quarantine_of(cfg.quarantine_dir))
        if report.candidates < 2:
            return report
        candidates, report.trained = score_pairs(con, settings.review_threshold)
    finally:
        con.close()
    report.pairs = len(candidates)
    report.queued, report.auto_accepted = ReviewStore(ledger).propose(
        candidates, auto_threshold=settings.auto_link_threshold, actor=f"hub:{cfg.hub_id}")
    return report
