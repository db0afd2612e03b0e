"""Generate the demo world: five incompatible source systems of 武侯区 plus an answer key.

``generate_world`` writes a complete workspace; ``append_world`` adds newer records to
every system and writes the key of what the next *incremental* run must add. Both are
deterministic given the seed (no wall clock: every timestamp derives from fixed windows).

The answer key is computed *by construction*: every emitted row is planted either clean
(published), with exactly one defect (quarantined under one rule), or as filtered, and the
counts follow docs/mapping.md ("How rules are evaluated"). Clean rows are made so that no
rule can fire on them: valid IDs and USCCs, existing dates, codes in the lists, unique
entity keys, contribution bases well inside the bounds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import shutil
import sqlite3
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np

from hrss_hub.demo.checks import USCC_ALPHABET
from hrss_hub.demo.population import (
    EDUCATIONS,
    ETHNICITIES,
    TRADITIONAL,
    Employer,
    Person,
    build_employers,
    build_persons,
    words,
)
from hrss_hub.demo.supervision_world import SupervisionWorld, build_supervision, rename
from hrss_hub.errors import ConfigError

#: Share of rows per stream that carry each planted defect.
DEFECT_RATE = 0.01
#: Share of rows removed by a mapping ``filter`` (AC01 cancelled records, revoked registrations).
FILTER_RATE = 0.01

STATE_FILE = ".demo-world.json"
TOKEN_ENV = "HRSS_DEMO_API_TOKEN"
URL_ENV = "HRSS_DEMO_API_URL"

# Timestamp windows (AAE036 / updatedAt). The base world lives in 2024-01-01 … 2025-06-30;
# append n lives in its own later 30-day window, so an incremental run sees only new rows.
_BASE_WINDOW = (datetime(2024, 1, 1), datetime(2025, 7, 1))
_APPEND_START = datetime(2025, 7, 1)
_BASE_PERIODS = ("202502", "202503")
_APPEND_PERIODS = ("202505", "202506")
_CONTRIB_TYPES = (("110", 0.16, 0.08), ("210", 0.006, 0.004))  # (AAE140, unit rate, personal rate)
# 310 (medical) moved to the NHSA (医保局) in 2018: the 人社 core keeps pension, unemployment,
# work injury.
_ENROLL_TYPES = ("110", "210", "410")
_EXCEL_EPOCH = date(1899, 12, 30)

CONTRACT_TYPES = (("固定期限", 0.65), ("无固定期限", 0.20), ("以完成一定工作任务为期限", 0.05),
                  ("劳务派遣", 0.10))
CSV_HEADER = ("合同编号", "身份证号", "姓名", "单位名称", "统一社会信用代码", "合同类型",
              "合同开始日期", "合同结束日期", "岗位")
ROSTER_TITLE = "成都市武侯区事业单位人员花名册"
XLSX_HEADER = ("工号", "姓名", "身份证号码", "性别", "出生日期", "民族", "学历", "入职日期")
_POSITIONS = words("行政专员 会计 软件工程师 销售代表 教师 护士 厨师 司机 保洁员 仓库管理员 "
                   "客服专员 电工 设计师 项目经理 医生 保安")

SYSTEMS: dict[str, dict[str, str]] = {
    "si_core": {"AB01": "employer", "AC01": "person", "AC02": "insurance_enrollment",
                "AC43": "contribution", "AC63": "benefit_payment", "JC09": "benefit_payment"},
    "employment": {"persons": "person", "registrations": "employment"},
    "contracts": {"filings": "employment"},
    "personnel": {"roster": "person"},
    "civil_register": {"events": "civil_status_event"},
}
#: identity conflicts planted per 1,000 persons of the employment-services system
CONFLICT_RATE = 0.004


# --------------------------------------------------------------------------- the tally


@dataclass
class Tally:
    """What one run of one stream must report, accumulated row by row."""

    entity: str
    published: int = 0
    filtered: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    keys: set[str] = field(default_factory=set)  # published entity keys (person / employer)

    def publish(self, key: str | None = None) -> None:
        """A clean row: published (``key`` feeds the distinct-person/employer count)."""
        self.published += 1
        if key is not None:
            self.keys.add(key)

    def quarantine(self, rule: str) -> None:
        """A row with exactly one planted defect."""
        self.quarantined[rule] += 1

    def filter(self) -> None:
        """A row the mapping's ``filter`` removes."""
        self.filtered += 1

    def as_json(self) -> dict[str, Any]:
        """The stream's entry of the answer key."""
        q = sum(self.quarantined.values())
        return {"entity": self.entity, "read": self.published + q + self.filtered,
                "published": self.published, "quarantined_rows": q,
                "quarantined": dict(sorted(self.quarantined.items())), "filtered": self.filtered}


def _count(n: int, rate: float) -> int:
    """Defects per rule: ~rate of the rows, at least one once a stream has 10 rows."""
    if n < 10:
        return 0
    return max(1, round(n * rate))


def _always(_i: int) -> bool:
    return True


def plan_defects(rng: random.Random, n: int, rules: Sequence[str], rate: float = DEFECT_RATE,
                 eligible: dict[str, Callable[[int], bool]] | None = None) -> dict[int, str]:
    """Assign each rule to ~``rate`` of the rows; a row gets at most one rule."""
    eligible = eligible or {}
    per = _count(n, rate)
    want = per * len(rules)
    candidates = rng.sample(range(n), min(n, max(4 * want, 50))) if want else []
    out: dict[int, str] = {}
    pos = 0
    for rule in rules:
        ok = eligible.get(rule, _always)
        got = 0
        for j in range(len(candidates)):
            if got == per:
                break
            i = candidates[(pos + j) % len(candidates)]
            if i not in out and ok(i):
                out[i] = rule
                got += 1
        pos += per
    return out


def _clean_sample(rng: random.Random, n: int, planted: dict[int, str], k: int) -> list[int]:
    """``k`` row indices without a planted verdict (sources for duplicates), ascending."""
    free = [i for i in rng.sample(range(n), min(n, 4 * k + 20)) if i not in planted]
    return sorted(free[:k])


# --------------------------------------------------------------------------- rendering helpers


def _stamps(nrng: np.random.Generator, n: int, start: datetime, end: datetime) -> list[str]:
    """``n`` ISO timestamps (seconds) uniformly in [start, end)."""
    span = int((end - start).total_seconds())
    secs = nrng.integers(0, span, size=n)
    base = np.datetime64(start.replace(microsecond=0), "s")
    out: list[str] = np.datetime_as_string(base + secs.astype("timedelta64[s]"), unit="s").tolist()
    return out


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _corrupt_check(id18: str, rng: random.Random) -> str:
    """Same body, a wrong check character: fails GB 11643 on the checksum only."""
    options = [c for c in "0123456789X" if c != id18[17]]
    return id18[:17] + rng.choice(options)


def _corrupt_uscc(code: str, rng: random.Random) -> str:
    options = [c for c in USCC_ALPHABET if c != code[17]]
    return code[:17] + rng.choice(options)


def _legacy15(id18: str) -> str:
    return id18[:6] + id18[8:17]


def _variant_dot(name: str, dots: Sequence[str], rng: random.Random) -> str:
    return name.replace("\u00b7", rng.choice(dots)) if "\u00b7" in name else name


def _traditional(name: str) -> str:
    return "".join(TRADITIONAL.get(c, c) for c in name)


def _impossible(d: date) -> tuple[int, int, int]:
    """A (year, month, day) that does not exist: Feb 30 or Apr 31 of ``d``'s year."""
    return (d.year, 2, 30) if d.day % 2 else (d.year, 4, 31)


def _shift(d: date, rng: random.Random) -> date:
    """A different, valid date close to ``d`` (birth-date contradictions)."""
    return d + timedelta(days=rng.choice((-1, 1)) * rng.randint(1, 400))


def _ymd(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"  # faster than strftime at 10^6 rows


def _cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _slash(d: date) -> str:
    return f"{d.year}/{d.month}/{d.day}"


# --------------------------------------------------------------------------- world state


@dataclass
class Counters:
    """Next free numbers of every surrogate key, so appends continue the sequences."""

    employer_no: int = 1
    person_seq: int = 1
    ac02_id: int = 1
    ac43_id: int = 1
    rest_person: int = 1
    rest_reg: int = 1
    contract_no: int = 1
    worker_no: int = 1


@dataclass
class Batch:
    """Everything one generation step (the base world or one append) emits."""

    n: int  # 0 = base world, k = append k
    seed: int
    window: tuple[datetime, datetime]
    periods: tuple[str, ...]
    employers: list[Employer]  # all employers known so far (new ones at the end)
    new_employers: list[Employer]
    persons: list[Person]  # new persons only
    c: Counters
    tallies: dict[str, dict[str, Tally]] = field(default_factory=dict)
    #: the base world's payments, civil register and planted supervision cases
    supervision: SupervisionWorld | None = None

    def tally(self, system: str, stream: str) -> Tally:
        """The tally of one stream (created on first use)."""
        per = self.tallies.setdefault(system, {})
        if stream not in per:
            per[stream] = Tally(SYSTEMS[system][stream])
        return per[stream]


# --------------------------------------------------------------------------- si_core


_SI_TABLES = """
CREATE TABLE IF NOT EXISTS AB01 (
  AAB001 TEXT PRIMARY KEY, AAB004 TEXT, AAB998 TEXT, AAB019 TEXT, AAB022 TEXT, AAB301 TEXT,
  AAE036 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS AC01 (
  AAC001 TEXT PRIMARY KEY, AAC002 TEXT, AAC003 TEXT, AAC004 TEXT, AAC005 TEXT, AAC006 TEXT,
  AAC009 TEXT, AAC011 TEXT, AAE100 TEXT, AAE036 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS AC02 (
  id INTEGER PRIMARY KEY, AAC001 TEXT, AAC002 TEXT, AAB001 TEXT, AAB998 TEXT, AAE140 TEXT,
  AAC031 TEXT, AAC030 TEXT, AAE031 TEXT, AAE036 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS AC43 (
  id INTEGER PRIMARY KEY, AAC001 TEXT, AAC002 TEXT, AAB001 TEXT, AAB998 TEXT, AAE140 TEXT,
  AAE003 TEXT, AAE180 REAL, AAE022 REAL, AAE021 REAL, AAE036 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS AC63 (
  id INTEGER PRIMARY KEY, AAC001 TEXT, AAC002 TEXT, AAE140 TEXT, AAA036 TEXT, AAE002 TEXT,
  AAE008 TEXT, AAE019 REAL, AAE036 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS JC09 (
  id INTEGER PRIMARY KEY, AAC001 TEXT, AAC002 TEXT, AAE002 TEXT, AJC050 REAL,
  AAE036 TEXT NOT NULL);
"""
_SI_INDEXES = """
CREATE INDEX IF NOT EXISTS ix_ab01_aae036 ON AB01 (AAE036);
CREATE INDEX IF NOT EXISTS ix_ac01_aae036 ON AC01 (AAE036);
CREATE INDEX IF NOT EXISTS ix_ac02_aae036 ON AC02 (AAE036);
CREATE INDEX IF NOT EXISTS ix_ac43_aae036 ON AC43 (AAE036);
CREATE INDEX IF NOT EXISTS ix_ac63_aae036 ON AC63 (AAE036);
CREATE INDEX IF NOT EXISTS ix_jc09_aae036 ON JC09 (AAE036);
"""


def _si_id(p: Person, rng: random.Random) -> str:
    """How si_core stores a person's number: 15-digit legacy, lower-case x, or plain."""
    if p.legacy15:
        return _legacy15(p.id18)
    if p.id18[17] == "X" and rng.random() < 0.5:
        return p.id18[:17] + "x"
    return p.id18


def _aac001(p: Person) -> str:
    return f"51010700{p.seq:08d}"


def _build_si(b: Batch, rng: random.Random,
              nrng: np.random.Generator) -> dict[str, list[tuple[Any, ...]]]:
    w0, w1 = b.window
    # ---- AB01 employers
    emps = b.new_employers
    t = b.tally("si_core", "AB01")
    plan = plan_defects(rng, len(emps), ("uscc_invalid", "required_missing", "code_unknown"))
    dups = _clean_sample(rng, len(emps), plan, _count(len(emps), DEFECT_RATE))
    stamps = _stamps(nrng, len(emps) + len(dups), w0, w1)
    ab01: list[tuple[Any, ...]] = []
    for i, e in enumerate(emps):
        industry = e.industry.lower() if rng.random() < 0.05 else e.industry  # alias a..t
        row: list[Any] = [e.aab001, e.name, e.uscc, e.kind, industry, e.division, stamps[i]]
        rule = plan.get(i)
        if rule == "uscc_invalid":
            row[2] = _corrupt_uscc(e.uscc, rng)
        elif rule == "required_missing":
            row[1] = None
        elif rule == "code_unknown":
            row[4] = "Z"
        if rule:
            t.quarantine(rule)
        else:
            t.publish(e.uscc)
        ab01.append(tuple(row))
    for k, i in enumerate(dups):
        # a unit registered twice under a new 单位编号 (same USCC): duplicate_key
        row = list(ab01[i])
        row[0] = f"B{b.c.employer_no + len(emps) + k:09d}"
        row[6] = stamps[len(emps) + k]
        ab01.append(tuple(row))
        t.quarantine("duplicate_key")
    b.c.employer_no += len(emps) + len(dups)

    # ---- AC01 persons
    people = [p for p in b.persons if p.si]
    raw_id = {p.seq: _si_id(p, rng) for p in people}
    t = b.tally("si_core", "AC01")
    rules: tuple[str, ...] = ("citizen_id_invalid", "date_invalid", "gender_id_mismatch",
                              "birth_date_id_mismatch",
             "code_unknown", "required_missing", "filtered")
    plan = plan_defects(rng, len(people), rules,
                        eligible={"citizen_id_invalid": lambda i: not people[i].legacy15})
    stamps = _stamps(nrng, len(people) * 2 + 16, w0, w1)
    ac01: list[tuple[Any, ...]] = []
    for i, p in enumerate(people):
        name = _traditional(p.name) if rng.random() < 0.1 else p.name
        name = _variant_dot(name, ("\u00b7", "."), rng)
        eth = "57" if p.ethnicity == "97" and rng.random() < 0.5 else p.ethnicity
        row = [_aac001(p), raw_id[p.seq], name, p.gender, eth, _ymd(p.birth), p.hukou,
               p.education, "1", stamps[i]]
        rule = plan.get(i)
        if rule == "citizen_id_invalid":
            row[1] = _corrupt_check(p.id18, rng)
        elif rule == "date_invalid":
            y, m, d = _impossible(p.birth)
            row[5] = f"{y:04d}{m:02d}{d:02d}"
        elif rule == "gender_id_mismatch":
            row[3] = "2" if p.gender == "1" else "1"
        elif rule == "birth_date_id_mismatch":
            row[5] = _ymd(_shift(p.birth, rng))
        elif rule == "code_unknown":
            row[4] = "88"
        elif rule == "required_missing":
            row[2] = None
        elif rule == "filtered":
            row[8] = "0"  # AAE100 有效标志: a cancelled record
        if rule == "filtered":
            t.filter()
        elif rule:
            t.quarantine(rule)
        else:
            t.publish(p.id18)
        ac01.append(tuple(row))
    for k, i in enumerate(_clean_sample(rng, len(people), plan, _count(len(people), DEFECT_RATE))):
        # 一人多号: the same person under a second 个人编号, sometimes with the other ID form
        p = people[i]
        row = list(ac01[i])
        row[0] = f"51010799{p.seq:08d}"
        row[1] = p.id18 if p.legacy15 else (_legacy15(p.id18) if p.birth.year < 1985 else p.id18)
        row[9] = stamps[len(people) + k]
        ac01.append(tuple(row))
        t.quarantine("duplicate_key")

    # ---- AC02 enrollments (one per person and insurance type)
    t = b.tally("si_core", "AC02")
    enr: list[list[Any]] = []
    status_of: dict[int, str] = {}
    for p in people:
        aac001, pid, hired = _aac001(p), raw_id[p.seq], _ymd(p.hire)
        if p.employer < 0:  # flexible worker: pension only, no employer
            status_of[p.seq] = "2"
            enr.append([None, aac001, pid, None, None, "110", "2", hired, None, p.hire])
            continue
        e = b.employers[p.employer]
        u = rng.random()
        status = "1" if u < 0.95 else "2" if u < 0.97 else "3"
        status_of[p.seq] = status
        end = None
        if status == "3":
            end = _ymd(min(p.hire + timedelta(days=rng.randint(30, 300)), date(2024, 12, 31)))
            if end <= hired:
                end = _ymd(p.hire + timedelta(days=1))
        for ins in _ENROLL_TYPES:
            enr.append([None, aac001, pid, e.aab001, e.uscc, ins, status, hired, end, p.hire])
    rules = ("code_unknown", "date_invalid", "required_missing", "end_before_start")
    plan = plan_defects(rng, len(enr), rules)
    dups = _clean_sample(rng, len(enr), plan, _count(len(enr), DEFECT_RATE))
    stamps = _stamps(nrng, len(enr) + len(dups), w0, w1)
    for i, rule in sorted(plan.items()):
        row = enr[i] = list(enr[i])  # copy: duplicates must come from untouched rows
        start = row[9]  # the start date rides in the AAE036 slot until the stamp replaces it
        if rule == "code_unknown":
            row[5] = "999"
        elif rule == "date_invalid":
            y, m, d = _impossible(start)
            row[7] = f"{y:04d}{m:02d}{d:02d}"
        elif rule == "required_missing":
            row[7] = None
        elif rule == "end_before_start":
            row[8] = _ymd(start - timedelta(days=rng.randint(10, 200)))
        t.quarantine(rule)
    t.published += len(enr) - len(plan)
    first = b.c.ac02_id
    ac02 = [(first + i, *r[1:9], stamps[i]) for i, r in enumerate(enr)]
    for k, i in enumerate(dups):
        ac02.append((first + len(enr) + k, *enr[i][1:9], stamps[len(enr) + k]))
        t.quarantine("duplicate_key")
    b.c.ac02_id += len(enr) + len(dups)

    # ---- AC43 contributions (status 1 with an employer; pension + unemployment; per period)
    t = b.tally("si_core", "AC43")
    con: list[list[Any]] = []
    payers = [p for p in people if p.employer >= 0 and status_of[p.seq] == "1"]
    bases = nrng.integers(5000, 15001, size=len(payers))
    first = b.c.ac43_id
    for p, base in zip(payers, bases.tolist(), strict=True):
        e = b.employers[p.employer]
        aac001, pid = _aac001(p), raw_id[p.seq]
        for ins, unit_rate, own_rate in _CONTRIB_TYPES:
            unit, own = round(base * unit_rate, 2), round(base * own_rate, 2)
            for period in b.periods:
                con.append([first + len(con), aac001, pid, e.aab001, e.uscc, ins, period,
                            float(base), unit, own, period])
    rules = ("contribution_base_out_of_bounds", "period_invalid", "code_unknown",
             "required_missing")
    plan = plan_defects(rng, len(con), rules)
    dups = _clean_sample(rng, len(con), plan, _count(len(con), DEFECT_RATE))
    clean_copies = [list(con[i]) for i in dups]
    for i, rule in sorted(plan.items()):
        row = con[i]
        if rule == "contribution_base_out_of_bounds":
            row[7] = 3000.0 if i % 2 else 30000.0  # Sichuan 2025 bounds: 4311 … 21555
        elif rule == "period_invalid":
            row[6] = row[6][:4] + "13"
        elif rule == "code_unknown":
            row[5] = "999"
        elif rule == "required_missing":
            row[7] = None
        t.quarantine(rule)
    t.published += len(con) - len(plan)
    n_con = len(con)
    ac43 = con
    for k, row in enumerate(clean_copies):  # the same contribution posted twice (new id)
        row[0] = first + n_con + k
        ac43.append(row)
        t.quarantine("duplicate_key")
    b.c.ac43_id += n_con + len(dups)
    # AAE036: posted in the month after the period (base world) or in the append window.
    # row[10] still holds the original period (a planted period_invalid changed row[6]).
    if b.n == 0:
        by_period: dict[str, list[int]] = {}
        for i, row in enumerate(ac43):
            by_period.setdefault(str(row[10]), []).append(i)
        for period, idx in sorted(by_period.items()):
            y, m = int(period[:4]), int(period[4:])
            month1 = datetime(y + m // 12, m % 12 + 1, 1)
            for i, s in zip(idx, _stamps(nrng, len(idx), month1, month1 + timedelta(days=28)),
                            strict=True):
                ac43[i][10] = s
    else:
        for row, s in zip(ac43, _stamps(nrng, len(ac43), w0, w1), strict=True):
            row[10] = s
    tables = {"AB01": ab01, "AC01": ac01, "AC02": ac02, "AC43": [tuple(r) for r in ac43]}
    if b.n == 0:  # payments and the planted supervision cases live in the base world
        world = build_supervision(people, raw_id, status_of, {p.seq for p in payers},
                                  random.Random(b.seed * 31 + 7), _aac001)
        b.supervision = world
        tables["AC63"], tables["JC09"] = world.pensions, world.unemployment
        b.tally("si_core", "AC63").published += len(world.pensions)
        b.tally("si_core", "JC09").published += len(world.unemployment)
        b.tally("civil_register", "events").published += world.event_count()
    return tables


def _write_si(path: Path, tables: dict[str, list[tuple[Any, ...]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    try:
        # a generated file, not a live database: no journal, no fsync, indexes after the load
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.executescript(_SI_TABLES)
        with con:  # one transaction for everything
            for name, rows in tables.items():
                if rows:
                    marks = ",".join("?" * len(rows[0]))
                    con.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
        con.executescript(_SI_INDEXES)
    finally:
        con.close()


# --------------------------------------------------------------------------- employment REST


def _api_id(p: Person, rng: random.Random) -> str:
    if p.id18[17] == "X":
        return p.id18[:17] + rng.choice(("X", "X", "x", "Ｘ", "ｘ"))
    return p.id18


def _build_api(b: Batch, rng: random.Random,
               nrng: np.random.Generator) -> dict[str, list[dict[str, Any]]]:
    w0, w1 = b.window
    people = [p for p in b.persons if p.api]
    t = b.tally("employment", "persons")
    rules: tuple[str, ...] = ("citizen_id_invalid", "date_invalid", "gender_id_mismatch",
                              "birth_date_id_mismatch",
             "required_missing")
    plan = plan_defects(rng, len(people), rules)
    stamps = _stamps(nrng, 2 * len(people) + 16, w0, w1)
    persons: list[dict[str, Any]] = []
    eth_name = {k: v[1] for k, v in ETHNICITIES.items()}
    for i, p in enumerate(people):
        rec: dict[str, Any] = {
            "id": f"P{b.c.rest_person + i:08d}", "idNo": _api_id(p, rng),
            "fullName": _variant_dot(p.name, ("\u2022", "\u30fb", "\u00b7"), rng),
            "gender": "男" if p.gender == "1" else "女", "birthDate": _cn_date(p.birth),
            "nation": eth_name[p.ethnicity], "mobile": p.phone,
            "registeredAt": stamps[len(people) + i], "updatedAt": stamps[i],
        }
        if rec["registeredAt"] > rec["updatedAt"]:
            rec["registeredAt"], rec["updatedAt"] = rec["updatedAt"], rec["registeredAt"]
        rule = plan.get(i)
        if rule == "citizen_id_invalid":
            rec["idNo"] = _corrupt_check(p.id18, rng)
        elif rule == "date_invalid":
            y, m, d = _impossible(p.birth)
            rec["birthDate"] = f"{y}年{m}月{d}日"
        elif rule == "gender_id_mismatch":
            rec["gender"] = "女" if p.gender == "1" else "男"
        elif rule == "birth_date_id_mismatch":
            rec["birthDate"] = _cn_date(_shift(p.birth, rng))
        elif rule == "required_missing":
            rec["fullName"] = ""
        if rule:
            t.quarantine(rule)
        else:
            t.publish(p.id18)
        persons.append(rec)
    n = len(persons)
    if b.supervision is not None:
        # identity conflicts: a clean record naming the person differently from si_core's
        # clean record (the same person, one given character typed wrongly)
        si_clean = b.tally("si_core", "AC01").keys
        pool = [i for i, p in enumerate(people) if i not in plan and p.id18 in si_clean]
        conflicts = rng.sample(pool, min(len(pool), max(1, round(len(people) * CONFLICT_RATE))))
        for i in sorted(conflicts):
            persons[i]["fullName"] = rename(people[i].name, rng)
            b.supervision.cases["identity_conflict"].add(people[i].id18)
    dups = _clean_sample(rng, len(people), plan, _count(len(people), DEFECT_RATE))
    for k, i in enumerate(dups):  # registered twice at two service windows
        rec = dict(persons[i])
        rec["id"] = f"P{b.c.rest_person + n + k:08d}"
        rec["idNo"] = people[i].id18
        rec["updatedAt"] = max(rec["updatedAt"], stamps[2 * n + k % 16])
        persons.append(rec)
        t.quarantine("duplicate_key")
    b.c.rest_person += n + len(dups)

    # ---- registrations (就业登记) of employed API persons
    t = b.tally("employment", "registrations")
    workers = [p for p in people if p.employer >= 0]
    rules = ("citizen_id_invalid", "uscc_invalid", "end_before_start", "date_invalid",
             "required_missing", "filtered")
    plan = plan_defects(rng, len(workers), rules)
    stamps = _stamps(nrng, len(workers) + 16, w0, w1)
    regs: list[dict[str, Any]] = []
    for i, p in enumerate(workers):
        e = b.employers[p.employer]
        rec = {"id": f"R{b.c.rest_reg + i:08d}", "idNo": _api_id(p, rng),
               "fullName": _variant_dot(p.name, ("\u2022", "\u00b7"), rng),
               "employerCreditCode": e.uscc, "employerName": e.name,
               "registeredAt": p.hire.isoformat(), "endedAt": None, "status": "active",
               "updatedAt": stamps[i]}
        rule = plan.get(i)
        if rule == "citizen_id_invalid":
            rec["idNo"] = _corrupt_check(p.id18, rng)
        elif rule == "uscc_invalid":
            rec["employerCreditCode"] = _corrupt_uscc(e.uscc, rng)
        elif rule == "end_before_start":
            rec["endedAt"] = (p.hire - timedelta(days=rng.randint(1, 300))).isoformat()
            rec["status"] = "ended"
        elif rule == "date_invalid":
            y, m, d = _impossible(p.hire)
            rec["registeredAt"] = f"{y:04d}-{m:02d}-{d:02d}"
        elif rule == "required_missing":
            rec["employerCreditCode"] = ""
        elif rule == "filtered":
            rec["status"] = "revoked"  # 撤销登记: filtered by the mapping
        if rule == "filtered":
            t.filter()
        elif rule:
            t.quarantine(rule)
        else:
            t.publish()
        regs.append(rec)
    n = len(regs)
    dups = _clean_sample(rng, len(workers), plan, _count(len(workers), DEFECT_RATE))
    for k, i in enumerate(dups):
        rec = dict(regs[i])
        rec["id"] = f"R{b.c.rest_reg + n + k:08d}"
        rec["updatedAt"] = max(str(rec["updatedAt"]), stamps[n + k % 16])
        regs.append(rec)
        t.quarantine("duplicate_key")
    b.c.rest_reg += n + len(dups)
    return {"persons": persons, "registrations": regs}


def _write_json(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        json.dump(records, fh, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- contracts CSV


def _csv_id(p: Person, rng: random.Random) -> str:
    text = p.id18
    if text[17] == "X" and rng.random() < 0.4:
        text = text[:17] + rng.choice(("x", "ｘ", "Ｘ"))
    if rng.random() < 0.03:
        text = _fullwidth(text[:17]) + text[17:]  # typed with a full-width IME
    return text


def _contract_end(kind: str, start: date, rng: random.Random) -> str:
    if kind == "固定期限":
        three = date(start.year + 3, start.month, min(start.day, 28 if start.month == 2 else 30))
        return _slash(three - timedelta(days=1))
    if kind == "以完成一定工作任务为期限":
        return _slash(start + timedelta(days=rng.randint(180, 540)))
    if kind == "劳务派遣":
        return _slash(start + timedelta(days=730))
    return ""


def _build_contracts(b: Batch, rng: random.Random, months: Sequence[str]) -> dict[str, list[bytes]]:
    t = b.tally("contracts", "filings")
    kinds = [k for k, _ in CONTRACT_TYPES]
    weights = [w for _, w in CONTRACT_TYPES]
    rows: list[list[str]] = []
    facts: list[tuple[Person, Employer, date]] = []
    for p in b.persons:
        if not p.contract:
            continue
        if p.prev_employer >= 0:
            e = b.employers[p.prev_employer]
            end = _slash(p.hire - timedelta(days=1))
            rows.append(["", _csv_id(p, rng), p.name, e.name, e.uscc, "固定期限",
                         _slash(p.prev_start), end, rng.choice(_POSITIONS)])
            facts.append((p, e, p.prev_start))
        e = b.employers[p.employer]
        kind = rng.choices(kinds, weights)[0]
        rows.append(["", _csv_id(p, rng), p.name, e.name, e.uscc, kind, _slash(p.hire),
                     _contract_end(kind, p.hire, rng), rng.choice(_POSITIONS)])
        facts.append((p, e, p.hire))
    rules = ("citizen_id_invalid", "uscc_invalid", "code_unmapped", "end_before_start",
             "date_invalid", "required_missing")
    plan = plan_defects(rng, len(rows), rules)
    for i, row in enumerate(rows):
        p, e, start = facts[i]
        row[0] = f"HT510107{b.c.contract_no + i:08d}"
        row[2] = _variant_dot(row[2], ("\u00b7", "．", "."), rng)
        rule = plan.get(i)
        if rule == "citizen_id_invalid":
            row[1] = _corrupt_check(p.id18, rng)
        elif rule == "uscc_invalid":
            row[4] = _corrupt_uscc(e.uscc, rng)
        elif rule == "code_unmapped":
            row[5] = "临时工"
        elif rule == "end_before_start":
            row[7] = _slash(start - timedelta(days=rng.randint(1, 300)))
        elif rule == "date_invalid":
            y, m, d = _impossible(start)
            row[6] = f"{y}/{m}/{d}"
        elif rule == "required_missing":
            row[1] = ""
        if rule:
            t.quarantine(rule)
        else:
            t.publish()
    b.c.contract_no += len(rows)
    # distribute over the monthly drop files; a duplicate line follows its original
    dup_of = set(_clean_sample(rng, len(rows), plan, _count(len(rows), DEFECT_RATE)))
    files: dict[str, list[bytes]] = {m: [] for m in months}
    for i, row in enumerate(rows):
        month = months[rng.randrange(len(months))]
        line = _csv_line(row)
        files[month].append(line)
        if i in dup_of:
            files[month].append(line)
            t.quarantine("duplicate_key")
    # malformed records: a truncated line, and (base world) one with bytes invalid in GB18030
    if rows:
        truncated = [f"HT510107BAD{b.c.contract_no:06d}", *rows[0][1:4]]  # 4 of 9 fields
        last = files[months[-1]]
        last.insert(len(last) // 2, _csv_line(truncated))
        t.quarantine("malformed_record")
        if b.n == 0:
            fields = [f"HT510107BAD{b.c.contract_no + 1:06d}", *rows[-1][1:]]
            parts = [f.encode("gbk") for f in fields]
            parts[2] = b"\xff\xfe" + parts[2]  # 0xFF is never valid in GB18030 (or UTF-8)
            first = files[months[0]]
            first.insert(len(first) // 2, b",".join(parts) + b"\r\n")
            t.quarantine("malformed_record")
        b.c.contract_no += 2
    header = _csv_line(list(CSV_HEADER))
    return {m: [header, *lines] for m, lines in files.items()}


_CSV_BUF = io.StringIO()
_CSV_WRITER = csv.writer(_CSV_BUF, lineterminator="\r\n")


def _csv_line(fields: Sequence[str]) -> bytes:
    _CSV_BUF.seek(0)
    _CSV_BUF.truncate()
    _CSV_WRITER.writerow(fields)
    return _CSV_BUF.getvalue().encode("gbk")  # strict: every generated value is in GBK


# --------------------------------------------------------------------------- personnel xlsx


def _xlsx_id(p: Person, rng: random.Random) -> str:
    if p.birth.year < 1985 and rng.random() < 0.08:
        return _legacy15(p.id18)
    if p.id18[17] == "X" and rng.random() < 0.3:
        return p.id18[:17] + "x"
    return p.id18


def _serial(d: date) -> int:
    return (d - _EXCEL_EPOCH).days


def _build_roster(b: Batch, rng: random.Random) -> list[list[Any]]:
    t = b.tally("personnel", "roster")
    people = [p for p in b.persons if p.personnel]
    eth_name = {k: v[1] for k, v in ETHNICITIES.items()}
    edu_label = {k: v[1] for k, v in EDUCATIONS.items()}
    rules = ("citizen_id_invalid", "gender_id_mismatch", "birth_date_id_mismatch", "code_unmapped",
             "required_missing")
    plan = plan_defects(rng, len(people), rules)
    rows: list[list[Any]] = []
    for i, p in enumerate(people):
        row: list[Any] = [f"GH{b.c.worker_no + i:06d}",
                          _variant_dot(p.name, ("\u30fb", "\u2022", "\u00b7"), rng),
                          _xlsx_id(p, rng), "男" if p.gender == "1" else "女", _serial(p.birth),
                          eth_name[p.ethnicity], edu_label[p.education], _serial(p.hire)]
        rule = plan.get(i)
        if rule == "citizen_id_invalid":
            row[2] = _corrupt_check(p.id18, rng)
        elif rule == "gender_id_mismatch":
            row[3] = "女" if p.gender == "1" else "男"
        elif rule == "birth_date_id_mismatch":
            row[4] = _serial(_shift(p.birth, rng))
        elif rule == "code_unmapped":
            row[6] = "博士后"  # not a degree level: the personnel system's own free text
        elif rule == "required_missing":
            row[2] = None
        if rule:
            t.quarantine(rule)
        else:
            t.publish(p.id18)
        rows.append(row)
    n = len(rows)
    dups = _clean_sample(rng, n, plan, _count(n, DEFECT_RATE))
    for k, i in enumerate(dups):  # the same person listed under two 工号
        row = list(rows[i])
        row[0] = f"GH{b.c.worker_no + n + k:06d}"
        rows.append(row)
        t.quarantine("duplicate_key")
    b.c.worker_no += n + len(dups)
    return rows


_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_XLSX_STATIC = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/></Types>'),
    "_rels/.rels": (
        f'<Relationships xmlns="{_NS_PKG}"><Relationship Id="rId1" '
        f'Type="{_NS_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_NS_PKG}">'
        f'<Relationship Id="rId1" Type="{_NS_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_NS_REL}/styles" Target="styles.xml"/></Relationships>'),
    "xl/styles.xml": (
        f'<styleSheet xmlns="{_NS_MAIN}"><fonts count="2"><font><sz val="11"/>'
        '<name val="宋体"/></font><font><b/><sz val="14"/><name val="宋体"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill><fill>'
        '<patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/>'
        '<right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" '
        'applyAlignment="1"><alignment horizontal="center"/></xf></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        '</styleSheet>'),
}


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xlsx_cells(r: int, values: Sequence[Any], style: str = "") -> str:
    out = [f'<row r="{r}">']
    for j, v in enumerate(values):
        if v is None:
            continue  # an empty cell is simply absent
        ref = f"{chr(ord('A') + j)}{r}"
        if isinstance(v, int | float):
            out.append(f'<c r="{ref}"{style}><v>{v}</v></c>')
        else:
            out.append(f'<c r="{ref}"{style} t="inlineStr"><is><t>{_xml_text(str(v))}</t></is></c>')
    out.append("</row>")
    return "".join(out)


def _write_xlsx(path: Path, title: str, rows: list[list[Any]], sheet: str = "花名册") -> None:
    """A roster workbook written directly as OOXML (SpreadsheetML).

    openpyxl needs ~1 s per 1,000 rows here, cannot merge cells in write-only mode and stamps
    the wall clock into the package; this writer is fast and byte-for-byte deterministic.
    Row 1 is the title merged over the header's width; row 2 the header; numbers (Excel date
    serials) are numeric cells in the General format, text is inline strings.
    """
    last_col = chr(ord("A") + len(XLSX_HEADER) - 1)
    parts = [_XML_HEAD, f'<worksheet xmlns="{_NS_MAIN}">',
             f'<dimension ref="A1:{last_col}{len(rows) + 2}"/><sheetData>',
             _xlsx_cells(1, [title], ' s="1"'), _xlsx_cells(2, XLSX_HEADER)]
    parts.extend(_xlsx_cells(i + 3, row) for i, row in enumerate(rows))
    parts.append(f'</sheetData><mergeCells count="1"><mergeCell ref="A1:{last_col}1"/>'
                 "</mergeCells></worksheet>")
    files = dict(_XLSX_STATIC)
    files["xl/workbook.xml"] = (
        f'<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}"><sheets>'
        f'<sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>')
    files["xl/worksheets/sheet1.xml"] = "".join(parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            body = text if text.startswith("<?xml") else _XML_HEAD + text
            zf.writestr(zipfile.ZipInfo(name, _FIXED_ZIP_TIME), body.encode("utf-8"),
                        compress_type=zipfile.ZIP_DEFLATED)


# --------------------------------------------------------------------------- orchestration


def _version() -> str:
    try:
        return metadata.version("hrss-hub")
    except metadata.PackageNotFoundError:  # running from a bare checkout
        return "0+unknown"


def _key(b: Batch, seed: int, persons: int) -> dict[str, Any]:
    systems = {sys: {s: b.tally(sys, s).as_json() for s in streams}
               for sys, streams in SYSTEMS.items()}
    person_keys: set[str] = set()
    employer_keys: set[str] = set()
    for sys, streams in SYSTEMS.items():
        for s, entity in streams.items():
            if entity == "person":
                person_keys |= b.tally(sys, s).keys
            elif entity == "employer":
                employer_keys |= b.tally(sys, s).keys
    key: dict[str, Any] = {
        "seed": seed, "persons": persons, "generated_with": f"hrss-hub {_version()}",
        "systems": systems,
        "distinct": {"persons": len(person_keys), "employers": len(employer_keys)}}
    if b.supervision is not None:
        key["supervision"] = b.supervision.key()
    return key


def _emit(b: Batch, root: Path, months: Sequence[str], xlsx_name: str, json_suffix: str) -> None:
    rng = random.Random(b.seed * 31 + 1)
    nrng = np.random.default_rng(b.seed * 31 + 2)
    _write_si(root / "sources" / "si_core.db", _build_si(b, rng, nrng))
    api = _build_api(b, random.Random(b.seed * 31 + 3), np.random.default_rng(b.seed * 31 + 4))
    for stream, records in api.items():
        _write_json(root / "sources" / "employment" / f"{stream}_{json_suffix}.json", records)
    for month, lines in _build_contracts(b, random.Random(b.seed * 31 + 5), months).items():
        out = root / "sources" / "contracts" / f"contracts_{month}.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b"".join(lines))
    roster = _build_roster(b, random.Random(b.seed * 31 + 6))
    _write_xlsx(root / "sources" / "personnel" / xlsx_name, ROSTER_TITLE, roster)
    folder = root / "sources" / "civil_register"
    folder.mkdir(parents=True, exist_ok=True)  # the monthly drops; appends add none
    for month, lines in sorted((b.supervision.events if b.supervision else {}).items()):
        (folder / f"civil_{month}.csv").write_bytes(b"".join(lines))


def _token(seed: int) -> str:
    return "demo-" + hashlib.sha256(f"hrss-demo-token:{seed}".encode()).hexdigest()[:32]


def _copy_templates(root: Path, token: str) -> None:
    tpl = resources.files("hrss_hub.demo") / "templates"
    (root / "connectors").mkdir(parents=True, exist_ok=True)
    for name in ("si_core", "employment", "contracts", "personnel", "civil_register"):
        (root / "connectors" / f"{name}.yaml").write_text(
            (tpl / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (root / "hub.yaml").write_text((tpl / "hub.yaml").read_text(encoding="utf-8"),
                                   encoding="utf-8")
    # the district shares with its peer departments and reports up to the city
    (root / "sharing").mkdir(parents=True, exist_ok=True)
    for agreement in (tpl / "sharing").iterdir():
        if agreement.name.endswith(".yaml"):
            (root / "sharing" / agreement.name).write_text(
                agreement.read_text(encoding="utf-8"), encoding="utf-8")
    (root / ".env").write_text(
        "# The demo employment-services API (hrss-hub demo serve / demo run set these themselves)\n"
        f"{TOKEN_ENV}={token}\n{URL_ENV}=http://127.0.0.1:8765/api\n", encoding="utf-8")


def demo_token(workspace: Path) -> str:
    """The bearer token of a demo workspace's REST API (read from its ``.env``)."""
    env = Path(workspace) / ".env"
    if env.exists():
        for line in env.read_text(encoding="utf-8").splitlines():
            if line.startswith(f"{TOKEN_ENV}="):
                return line.split("=", 1)[1].strip()
    raise ConfigError("not a demo workspace (no .env with the API token)",
                      {"dir": str(workspace)}, "run `hrss-hub demo init --dir DIR` first")


def _n_employers(persons: int) -> int:
    return max(12, persons // 50)


def generate_world(workspace: str | Path, persons: int = 2000, seed: int = 42,
                   *, force: bool = False) -> dict[str, Any]:
    """Write the demo workspace into ``workspace`` and return the answer key.

    Refuses a non-empty directory unless ``force``: then the demo's files and the hub's
    outputs in it (``.hrss-hub/``, ``exchange/``, ``quarantine/``, ``reports/``) are replaced.
    """
    root = Path(workspace)
    if persons < 1:
        raise ConfigError("--persons must be at least 1", {"persons": persons})
    if root.exists() and any(root.iterdir()):
        if not force:
            raise ConfigError("directory is not empty", {"dir": str(root)},
                              "choose a new directory, or pass --force to overwrite the demo files")
        # the hub's own outputs go too: a ledger or exchange of an older world would make
        # the next run incremental against data that no longer exists
        for sub in ("sources", "connectors", ".hrss-hub", "exchange", "quarantine", "reports"):
            shutil.rmtree(root / sub, ignore_errors=True)
        for f in root.glob("answer_key*.json"):
            f.unlink()
    root.mkdir(parents=True, exist_ok=True)
    taken_ids: set[str] = set()
    taken_uscc: set[str] = set()
    c = Counters()
    employers = build_employers(seed, _n_employers(persons), c.employer_no, taken_uscc)
    people = build_persons(seed, persons, c.person_seq, employers, taken_ids)
    c.person_seq += persons
    b = Batch(0, seed, _BASE_WINDOW, _BASE_PERIODS, employers, employers, people, c)
    months = [f"2025-{m:02d}" for m in range(1, 7)]
    _emit(b, root, months, "花名册.xlsx", "000")
    _copy_templates(root, _token(seed))
    key = _key(b, seed, persons)
    _write_key(root / "answer_key.json", key)
    state = {"seed": seed, "persons": persons, "employers": len(employers), "appends": [],
             "counters": vars(c), "cumulative": key["distinct"]}
    (root / STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")
    return key


def _write_key(path: Path, key: dict[str, Any]) -> None:
    path.write_text(json.dumps(key, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def append_world(workspace: str | Path, persons: int = 200,
                 seed: int | None = None) -> dict[str, Any]:
    """Append newer records for ``persons`` new people to every system of a demo workspace.

    Existing rows and files stay as they are; new rows carry newer cursors (AAE036,
    updatedAt) and new files are added. Writes ``answer_key_append_<n>.json``: what the next
    incremental run must add (``distinct`` counts that run; ``distinct_cumulative`` all runs).
    """
    root = Path(workspace)
    state_path = root / STATE_FILE
    if not state_path.exists():
        raise ConfigError("not a demo workspace", {"dir": str(root)},
                          "run `hrss-hub demo init --dir DIR` first")
    if persons < 1:
        raise ConfigError("--persons must be at least 1", {"persons": persons})
    state = json.loads(state_path.read_text(encoding="utf-8"))
    base_seed = int(state["seed"])
    n = len(state["appends"]) + 1
    seed_n = (seed if seed is not None else base_seed) * 1_000_003 + n
    # rebuild every earlier population: its IDs and USCCs must not be reused
    taken_ids: set[str] = set()
    taken_uscc: set[str] = set()
    employers = build_employers(base_seed, int(state["employers"]), 1, taken_uscc)
    build_persons(base_seed, int(state["persons"]), 1, employers, taken_ids)
    for prev in state["appends"]:
        extra = build_employers(prev["seed"], prev["employers"], prev["employer_start"], taken_uscc)
        employers += extra
        build_persons(prev["seed"], prev["persons"], prev["person_start"], employers, taken_ids)
    c = Counters(**state["counters"])
    new_emps = build_employers(seed_n, max(1, persons // 100), c.employer_no, taken_uscc)
    employer_start = c.employer_no
    employers += new_emps
    person_start = c.person_seq
    people = build_persons(seed_n, persons, person_start, employers, taken_ids)
    c.person_seq += persons
    start = _APPEND_START + timedelta(days=30 * (n - 1))
    b = Batch(n, seed_n, (start, start + timedelta(days=30)), _APPEND_PERIODS, employers,
              new_emps, people, c)
    y, m = divmod(2025 * 12 + 6 + (n - 1), 12)  # 2025-07 for the first append
    _emit(b, root, [f"{y}-{m + 1:02d}"], f"花名册_追加{n:02d}.xlsx", f"{n:03d}")
    key = _key(b, base_seed if seed is None else seed, persons)
    base_key = root / "answer_key.json"
    if base_key.exists():  # appends plant no new case: the base world's findings stay
        base = json.loads(base_key.read_text(encoding="utf-8"))
        if "supervision" in base:
            key["supervision"] = base["supervision"]
    cumulative = {k: int(state["cumulative"][k]) + key["distinct"][k] for k in key["distinct"]}
    key["append"] = n
    key["distinct_cumulative"] = cumulative
    _write_key(root / f"answer_key_append_{n}.json", key)
    state["appends"].append({"n": n, "seed": seed_n, "persons": persons,
                             "person_start": person_start, "employers": len(new_emps),
                             "employer_start": employer_start})
    state["counters"] = vars(c)
    state["cumulative"] = cumulative
    state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return key
