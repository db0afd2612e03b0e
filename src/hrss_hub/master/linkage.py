"""一人多号: probabilistic record linkage of master rows with different citizen IDs.

Splink (Fellegi–Sunter, DuckDB backend, in process) compares master rows — one per
citizen ID — on the folded name, birth date, gender, phone and division. Only pairs sharing
a blocking rule are compared (same name and birth date; same phone; same birth date,
gender and division), so the work grows with the blocks, not with the square of the
population. The parameters are estimated from the data: the prior from a deterministic rule
(name + birth date + phone), u-probabilities by random sampling, m-probabilities by
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
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from hrss_hub.exchange.versions import exchange_store
from hrss_hub.master.build import master_settings
from hrss_hub.master.names import fold_table
from hrss_hub.master.review import Candidate, ReviewStore

if TYPE_CHECKING:
    import duckdb

    from hrss_hub.config import HubConfig

log = logging.getLogger(__name__)

#: compared fields: (column, Splink comparison kind)
COMPARED = ("name_folded", "birth_date_s", "gender", "phone", "division")


@dataclass
class LinkageReport:
    """What one linkage pass did."""

    persons: int = 0
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
            block_on("name_folded", "birth_date_s"), block_on("phone"),
            block_on("birth_date_s", "gender", "division")],
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


def linkage_input(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """One row per master person not merged into another, with the record that names it
    (``record_ref``: entity|system|source key of the winning name's record)."""
    rows = con.sql("""
        WITH named AS (
          SELECT m.citizen_id, min(l.record_key) AS record_key
          FROM person_master m JOIN person_link l
            ON l.citizen_id = m.citizen_id AND l.record_system = m.name_source
           AND l.record_entity = 'person'
          GROUP BY m.citizen_id)
        SELECT m.citizen_id AS uid, m.name, m.gender,
               strftime(m.birth_date, '%Y%m%d') AS birth_date_s, m.phone, m.division,
               'person|' || m.name_source || '|' || n.record_key AS record_ref
        FROM person_master m JOIN named n USING (citizen_id)
        WHERE m.merged_into IS NULL AND m.name IS NOT NULL""").to_arrow_table()
    folded = fold_table(rows["name"])
    con.register("__names", folded)
    con.register("__rows", rows)
    return con.sql("SELECT r.uid, f.name_folded, r.birth_date_s, r.gender, r.phone, "
                   "r.division, r.record_ref FROM __rows r LEFT JOIN __names f USING (name)"
                   ).to_arrow_table()


def score_pairs(con: duckdb.DuckDBPyConnection, people: pa.Table,
                threshold: float) -> tuple[list[Candidate], bool]:
    """Candidate pairs at or above ``threshold`` with their explanations; and whether EM
    training succeeded."""
    from splink import DuckDBAPI, Linker, block_on

    con.register("__people", people)
    con.execute("CREATE OR REPLACE TABLE splink_people AS SELECT * FROM __people")
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
        people = linkage_input(con)
        report.persons = people.num_rows
        if people.num_rows < 2:
            return report
        candidates, report.trained = score_pairs(con, people, settings.review_threshold)
    finally:
        con.close()
    report.pairs = len(candidates)
    report.queued, report.auto_accepted = ReviewStore(ledger).propose(
        candidates, auto_threshold=settings.auto_link_threshold, actor=f"hub:{cfg.hub_id}")
    return report
