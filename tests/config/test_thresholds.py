"""Stream thresholds: one model (hub.yaml default + the stream's own keys), judged by
quality.thresholds."""

from __future__ import annotations

import pytest

from hrss_hub.config import ConfigProblems, Threshold
from hrss_hub.config.thresholds import parse_threshold
from hrss_hub.pipeline import StreamSummary
from hrss_hub.quality.thresholds import QualityThresholdError, check, enforce


def summary(read: int, quarantined: int, critical: int) -> StreamSummary:
    return StreamSummary("si_core", "AC01", "person", read=read, mapped=read,
                         quarantined=quarantined,
                         quarantined_by_rule={"citizen_id_invalid": critical,
                                              "phone_pattern": quarantined - critical})


def test_verdicts() -> None:
    crit = frozenset({"citizen_id_invalid"})
    assert check({"critical_fail_pct": 5}, summary(100, 6, 4), crit) is None
    fail = check({"critical_fail_pct": 5}, summary(100, 6, 6), crit)
    assert fail is not None and fail.level == "fail" and "6.00% of 100 rows" in fail.message
    warn = check(Threshold(warn_fail_pct=1), summary(100, 2, 0), crit)
    assert warn is not None and warn.level == "warn"
    with pytest.raises(QualityThresholdError, match="limit 5%"):
        enforce({"critical_fail_pct": 5, "warn_fail_pct": 1}, summary(100, 9, 9), crit)
    # no threshold written: the default quarantine_fail_pct (90) still fails an all-bad stream
    default = check(None, summary(100, 100, 100), crit)
    assert default is not None and default.level == "fail"


def test_a_threshold_given_as_data_is_checked_like_a_file() -> None:
    assert parse_threshold({"critical_fail_pct": "5"}).critical_fail_pct == 5.0
    over = Threshold(warn_fail_pct=2).over(Threshold(critical_fail_pct=5, warn_fail_pct=1))
    assert over.as_dict() == {"critical_fail_pct": 5.0, "warn_fail_pct": 2.0}
    with pytest.raises(ConfigProblems) as info:
        parse_threshold({"critical_fail_pct": -1, "warn": 1}, where="si_core.AC01.threshold")
    assert [(p.path, p.message) for p in info.value.problems] == [
        ("si_core.AC01.threshold.critical_fail_pct",
         "critical_fail_pct must be a non-negative number, got -1"),
        ("si_core.AC01.threshold.warn", "unknown key 'warn'")]
