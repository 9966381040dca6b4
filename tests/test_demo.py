"""`edge-agent demo` runs a living store on embedded defaults and stops by itself with --duration."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
from collections import Counter


def test_demo_tells_the_whole_story_without_log_noise() -> None:
    """At speed 10, twenty seconds are two store minutes: every beat of Ada's visit is there."""
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "demo", "--speed", "10", "--duration", "20"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "400", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "staff token:" in out and "tablet page: http://" in out
    beats = [line for line in out.splitlines() if re.match(r"\d\d:\d\d:\d\d  ", line)]
    story = "\n".join(beats)
    assert re.search(r"ALERT  Ada L\. \(gold\) entered entrance", story), out
    expected = (
        "MIRROR  Ada tries on",
        "SIZE REQUEST  size M of the Wool coat for Ada L.",
        "ZONE  Ada's card follows her",
        "suggests to go with the SKU-COAT-7: Cashmere scarf",
        "TILL  Ada buys the wool coat",
        "SHARE  Ada's look is open for her companions: http://",
        "VOTE  a companion taps Yes on the wool coat",
        "MIRROR  friends: 1 up, 0 down (advice +0.29)",
        "CLOUD  first batch arrived",
    )
    for beat in expected:
        assert beat in story, f"missing {beat!r} in:\n{out}"
    said = Counter(line[10:] for line in beats)
    assert [text for text, n in said.items() if n > 1] == []  # one line per beat, never twice
    assert "Not Consented" not in out  # a customer without consent is never recognised
    assert "stopped:" in out
    assert proc.stderr.strip() == "", proc.stderr  # no warnings, no log noise


def test_the_agents_log_names_nobody() -> None:
    """Logs outlive `customer forget` (journald): alerts, check-ins and consent say a keyed hash."""
    from edge_agent.demo import CUSTOMERS

    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "demo", "--speed", "10", "--duration", "10", "--verbose"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "400", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
    )
    assert proc.returncode == 0, proc.stderr
    log = proc.stderr
    assert re.search(r"alert [0-9a-f]+: customer [0-9a-f]{8} entered", log), log[-2000:]
    for customer in CUSTOMERS:
        for value in (customer["customer_id"], customer["display_name"], str(customer.get("ibeacon", ""))):
            assert value and value not in log, value


def test_the_demo_says_when_its_port_is_taken() -> None:
    with contextlib.ExitStack() as stack:
        holder = stack.enter_context(socket.socket())
        with contextlib.suppress(OSError):  # already taken by something else on this machine: as good
            holder.bind(("0.0.0.0", 8080))
            holder.listen()
        proc = subprocess.run(
            [sys.executable, "-m", "edge_agent", "demo", "--speed", "10", "--duration", "3"],
            capture_output=True,
            text=True,
            timeout=120,
            env={"COLUMNS": "400", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
        )
    assert proc.returncode == 0, proc.stderr
    assert "port 8080 is taken on this machine" in proc.stdout
    page = re.search(r"tablet page: http://[^:]+:(\d+)/", proc.stdout)
    assert page is not None and page.group(1) != "8080", proc.stdout
