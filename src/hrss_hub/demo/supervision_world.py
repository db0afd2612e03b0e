"""The demo world's supervision cases: pension and unemployment-benefit payments in the
社保核心 tables, the civil-affairs / public-security register (the fifth system, monthly CSV
files) and the planted cases every supervision check must find — and only those.

Built from the canonical facts of the base world's people after the other systems are
rendered (it needs who is enrolled and contributing), deterministic given the seed. Every
row here is clean (no quality rule fires), so each stream's tally is its row count. The
answer key's ``supervision`` section lists, per check, the persons of the planted cases as
``sha256("person|" + citizen ID)`` — the subject the ledger keeps for a finding.

Cases (all in 2025):

- ``benefit_after_death``: pensioners who died in March, still paid April–June; other
  pensioners died in March and were paid through March only (no finding);
- ``pension_during_imprisonment``: pensioners admitted to prison in February and never
  released, paid on; others released in April, whose March pension was suspended;
- ``unemployment_while_employed``: contributing employees also paid the unemployment
  benefit for February; the other recipients have no employer, contract or registration;
- ``deceased_still_enrolled``: employees who died in April whose enrollment is still active;
- ``identity_conflict``: persons whose employment-services record names them differently
  from si_core (traditional characters and dot variants elsewhere are no conflict);
- ``duplicate_enrollment`` needs two districts: the single-district world has none.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hrss_hub.demo.population import GIVEN, Person

PENSION_PERIODS = tuple(f"2025{m:02d}" for m in range(1, 7))
UNEMPLOYMENT_PERIODS = ("202502", "202503")
CIVIL_HEADER = ("身份证号", "姓名", "事件类型", "事件日期", "登记机关", "文书编号")
EVENT_LABEL = {"01": "死亡", "03": "收监", "04": "刑满释放"}
AUTHORITY = {"01": "成都市武侯区民政局", "03": "四川省成都监狱", "04": "四川省成都监狱"}
CHECKS = ("benefit_after_death", "pension_during_imprisonment", "unemployment_while_employed",
          "deceased_still_enrolled", "identity_conflict", "duplicate_enrollment")


def subject(citizen_id: str) -> str:
    """What the ledger keeps of a finding's person (see hrss_hub.supervision)."""
    return hashlib.sha256(f"person|{citizen_id}".encode()).hexdigest()


@dataclass
class SupervisionWorld:
    """Rows of the new streams and the planted cases."""

    pensions: list[tuple[Any, ...]] = field(default_factory=list)  # AC63 rows
    unemployment: list[tuple[Any, ...]] = field(default_factory=list)  # JC09 rows
    events: dict[str, list[bytes]] = field(default_factory=dict)  # month → CSV lines
    cases: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in CHECKS})

    def event_count(self) -> int:
        """Rows of the civil register over every monthly file (headers excluded)."""
        return sum(len(lines) - 1 for lines in self.events.values())

    def key(self) -> dict[str, list[str]]:
        """The answer key's ``supervision`` section."""
        return {c: sorted(subject(i) for i in ids) for c, ids in sorted(self.cases.items())}


def _stamp(period: str, day: int) -> str:
    """The AAE036 of a payment posted on ``day`` of its month (ISO, like every table)."""
    return f"{period[:4]}-{period[4:]}-{day:02d}T09:00:00"


def _pick(rng: random.Random, pool: list[Person], k: int, used: set[int]) -> list[Person]:
    free = [p for p in pool if p.seq not in used]
    chosen = rng.sample(free, min(k, len(free)))
    used.update(p.seq for p in chosen)
    return sorted(chosen, key=lambda p: p.seq)


def _line(values: tuple[str, ...]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(values)
    return buf.getvalue().encode("utf-8")


def build_supervision(people: list[Person], raw_id: dict[int, str], status_of: dict[int, str],
                      payers: set[int], rng: random.Random,
                      aac001: Any) -> SupervisionWorld:
    """The payments, the civil register and the planted cases of the base world.

    ``people`` are si_core's persons (``raw_id`` how si_core stores each number,
    ``status_of`` each one's enrollment status, ``payers`` those with employee
    contributions); ``aac001`` gives a person's 个人编号.
    """
    w = SupervisionWorld()
    used: set[int] = set()
    pensioners = [p for p in people if p.birth.year <= 1965]
    inactive = [p for p in pensioners if status_of.get(p.seq) != "1"]
    k = max(1, round(len(people) * 0.004))
    dead_paid = _pick(rng, inactive, k, used)
    dead_clean = _pick(rng, inactive, k, used)
    prison_paid = _pick(rng, pensioners, k, used)
    prison_clean = _pick(rng, pensioners, k, used)
    younger_payers = [p for p in people if p.birth.year > 1965 and p.seq in payers]
    dead_enrolled = _pick(rng, younger_payers, k, used)
    working_paid = _pick(rng, younger_payers, k, used)
    jobless = [p for p in people if p.birth.year > 1965 and p.employer < 0
               and not p.contract and not p.api]
    recipients = _pick(rng, jobless, 3 * k, used)
    supplementary = {p.seq for p in _pick(rng, pensioners, k, used)}
    deaths = {p.seq: date(2025, 3, 5 + i % 20) for i, p in enumerate(dead_paid + dead_clean)}
    deaths.update({p.seq: date(2025, 4, 3 + i % 20) for i, p in enumerate(dead_enrolled)})
    events: list[tuple[date, Person, str]] = [
        (deaths[p.seq], p, "01") for p in dead_paid + dead_clean + dead_enrolled]
    events += [(date(2025, 2, 10), p, "03") for p in prison_paid + prison_clean]
    events += [(date(2025, 4, 20), p, "04") for p in prison_clean]
    w.cases["benefit_after_death"] = {p.id18 for p in dead_paid}
    w.cases["pension_during_imprisonment"] = {p.id18 for p in prison_paid}
    w.cases["deceased_still_enrolled"] = {p.id18 for p in dead_enrolled}
    w.cases["unemployment_while_employed"] = {p.id18 for p in working_paid}

    clean_prison = {p.seq for p in prison_clean}
    serial = 1
    for p in pensioners:
        amount = round(2200 + (p.seq * 37) % 1800, 2)
        for period in PENSION_PERIODS:
            if p.seq in deaths and p.seq not in {q.seq for q in dead_paid} \
                    and period > f"{deaths[p.seq]:%Y%m}":
                continue  # stopped after the month of death
            if p.seq in clean_prison and period == "202503":
                continue  # suspended while in prison, resumed after the release
            w.pensions.append((serial, aac001(p), raw_id[p.seq], "110", "101", period, "1",
                               amount, _stamp(period, 15)))
            serial += 1
            if p.seq in supplementary and period == "202503":  # 补发 for the same month
                w.pensions.append((serial, aac001(p), raw_id[p.seq], "110", "101", period, "2",
                                   round(amount * 0.05, 2), _stamp(period, 28)))
                serial += 1
    serial = 1
    for p in recipients:
        for period in UNEMPLOYMENT_PERIODS:
            w.unemployment.append((serial, aac001(p), raw_id[p.seq], period, 1850.0,
                                   _stamp(period, 10)))
            serial += 1
    for p in working_paid:
        w.unemployment.append((serial, aac001(p), raw_id[p.seq], "202502", 1850.0,
                               _stamp("202502", 10)))
        serial += 1
    for n, (day, p, etype) in enumerate(sorted(events, key=lambda e: (e[0], e[1].seq))):
        month = f"{day:%Y-%m}"
        lines = w.events.setdefault(month, [_line(CIVIL_HEADER)])
        lines.append(_line((p.id18, p.name, EVENT_LABEL[etype], day.isoformat(),
                            AUTHORITY[etype], f"WH{day:%Y%m}{n:05d}")))
    return w


def rename(name: str, rng: random.Random) -> str:
    """A different name for the same person (one given character replaced): a record an
    office typed wrongly, which no quality rule can tell."""
    last = name[-1]
    other = rng.choice([c for c in GIVEN if c != last])
    return name[:-1] + other
