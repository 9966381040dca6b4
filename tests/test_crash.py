"""SIGKILL the agent at seeded random moments while mirrors, apps and staff send: exactly-once counts,
and every alert committed reaches the staff's webhook at least once."""

from __future__ import annotations

import hashlib
import hmac
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from edge_agent.store import connect
from edge_agent.testing.crash import CrashPlan, crash_name, run_crash, try_ons
from edge_agent.testing.wait import wait_until

SECRET = "the-staff-chat-tool-secret"


class ChatTool(ThreadingHTTPServer):
    """A staff messaging tool's webhook: records each alert's Idempotency-Key, checks its signature."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.forged = 0
        tool = self

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(self.headers.get("X-Edge-Agent-Signature", ""), expected):
                    tool.forged += 1
                tool.keys.append(self.headers.get("Idempotency-Key", ""))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Hook)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/store"


@pytest.fixture
def chat_tool() -> Iterator[ChatTool]:
    tool = ChatTool()
    threading.Thread(target=tool.serve_forever, name="chat-tool", daemon=True).start()
    try:
        yield tool
    finally:
        tool.shutdown()
        tool.server_close()


@pytest.mark.timeout(240)
def test_sigkill_at_random_moments_loses_nothing_and_counts_nothing_twice(tmp_path: Path, chat_tool: ChatTool) -> None:
    # bench/crash.py runs 60 or more; the suite runs it with 2 too
    plan = replace(CrashPlan.spread(kills=9, seed=7), webhook=(chat_tool.url, SECRET))
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

    # The webhook: what was committed and not delivered when an agent died goes out at a later start.
    committed = {row[0] for row in connect(tmp_path / "data" / "edge-agent.db").execute("SELECT alert_id FROM alerts")}
    assert len(committed) == plan.checkins
    if not committed <= set(chat_tool.keys):
        agent = subprocess.Popen([sys.executable, "-m", "edge_agent", "run", "--config", str(tmp_path / "agent.yaml")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            wait_until(lambda: committed <= set(chat_tool.keys), within=60)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(20)
    assert committed <= set(chat_tool.keys)  # nothing lost; a key seen twice is the tool's to de-duplicate
    assert set(chat_tool.keys) <= committed and chat_tool.forged == 0
