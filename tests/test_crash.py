"""SIGKILL the agent at 12 seeded random moments while mirrors, apps and staff send: exactly-once counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.testing.crash import CrashPlan, crash_name, run_crash, try_ons


@pytest.mark.timeout(240)
def test_sigkill_at_random_moments_loses_nothing_and_counts_nothing_twice(tmp_path: Path) -> None:
    plan = CrashPlan.spread(kills=9, seed=7)  # bench/crash.py runs 60 or more; the suite runs it with 2 too
    report = run_crash(tmp_path, plan)
    figures = report.figures()
    assert report.integrity == "ok"
    assert report.published["mirror_try_ons"] == try_ons(plan.mirror_events)
    assert report.published["alerts_sent"] == plan.checkins  # every check-in was answered in the end
    assert report.published["alert_actions"] == plan.checkins  # and every alert acknowledged
    assert report.lost == 0, figures
    assert report.double_counted == 0, figures
    assert report.learned_mismatches == 0, figures  # learned state: every mirror event taught exactly once

    log = (tmp_path / "agent.log").read_text(errors="replace")
    assert "alert " in log  # the log is there and says what happened ...
    for i in range(plan.checkins):  # ... without one name or customer id, through every kill
        assert f"c-{i:04d}" not in log and crash_name(i) not in log
