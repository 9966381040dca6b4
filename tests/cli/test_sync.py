"""`edge-agent sync status|now` work from outside, with or without a running agent."""

from __future__ import annotations

import json
from pathlib import Path

from edge_agent.store import connect


def test_sync_status_reads_the_outbox_and_sync_now_needs_the_agent(cli, config_file: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    conn = connect(data_dir / "edge-agent.db")
    for i in range(3):
        conn.execute("INSERT INTO outbox(batch_id, created_at, payload, size) VALUES (?, ?, '{}', 100)", (f"b{i}", 1.0))
    conn.execute("INSERT INTO state(key, value) VALUES ('uplink.dropped', '4')")
    conn.close()
    result = cli("sync", "status", "--json", "--config", config_file)
    assert result.code == 0
    data = json.loads(result.out)
    assert data["backlog"] == 3 and data["backlog_bytes"] == 300 and data["dropped"] == 4
    assert data["oldest_pending_age_s"] > 0 and data["agent_running"] is False
    text = cli("sync", "status", "--config", config_file)
    assert "backlog 3 batch(es)" in text.out and "dropped 4" in text.out
    now = cli("sync", "now", "--config", config_file)
    assert now.code == 1 and "not running" in now.err
