"""A suite that passes on any date.

"Now" comes from the clock, or from one fixed `NOW` handed to the code under test with every other
time built from it. A test that mixes the two (a hard-coded date checked against the real clock)
passes on the day it was written and fails weeks later; so did the mirror test that stopped every
submission on 2026-12-04. This guard runs every module that writes a date down, and those whose
subject is a window of time (certificates, tokens, sessions, retention, insights), with the whole
process tree's clock a year ahead (libfaketime) — today, not in a year.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
# an ISO date, a datetime/date built from a year, or a fixed Unix time of this decade
DATED = re.compile(r"\b20\d\d-[01]\d-[0-3]\d|\b(?:datetime|date)\(20\d\d\b|\b1_?[6-9]\d\d_?\d\d\d_?\d\d\d(?:\.\d+)?\b")
# modules about windows of time, whatever they write down
WINDOWS = {
    "uplink/test_cloud.py",  # client and server certificates
    "uplink/test_https.py",  # a TLS server's certificate
    "web/test_api.py",  # check-in and consent tokens, their expiry and max TTL
    "web/test_sessions.py",  # staff sessions and sign-outs that expire
    "test_retention.py",  # retention_days
    "test_insights.py",  # --days windows
}
AHEAD = "+365d"
# Kill and restart tests are about durability, carry a fixed time only as data, and would take most
# of this run's time: they run (on today's date) in the suite itself.
SKIP = "not sigkill and not restart"


def dated_modules() -> list[str]:
    found = set(WINDOWS)
    for path in HERE.rglob("test_*.py"):
        if path.name != Path(__file__).name and DATED.search(path.read_text()):
            found.add(str(path.relative_to(HERE)))
    return sorted(found)


def test_the_guard_finds_what_it_should() -> None:
    assert DATED.search('ts = "2026-11-27T12:00:00Z"') and DATED.search("NOW = 1_795_000_000.0")
    assert DATED.search("date(2026, 12, 3)") and not DATED.search("port = 18830")
    assert "decoders/test_json_payloads.py" in dated_modules()
    assert all((HERE / module).exists() for module in WINDOWS)


@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime missing (make test installs it)")
def test_every_dated_module_passes_with_the_clock_a_year_ahead() -> None:
    env = {**os.environ, "HYPOTHESIS_PROFILE": "dev", "CI": ""}
    modules = [str(HERE / m) for m in dated_modules()]
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-k", SKIP]
    run = subprocess.run(
        ["faketime", "-f", AHEAD, *pytest, *modules],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:]
    faked = subprocess.run(["faketime", "-f", AHEAD, "date", "+%s"], capture_output=True, text=True, check=True)
    assert abs(int(faked.stdout) - time.time() - 365 * 86400) < 600  # the clock really was a year ahead
