"""Raw, personal rows older than privacy.retention_days are deleted; aggregates stay."""

from __future__ import annotations

import time
from pathlib import Path

from edge_agent.runtime import Agent
from edge_agent.store import connect
from edge_agent.testing.store import running_agent, seeded_config
from edge_agent.testing.wait import eventually


async def test_old_rows_are_purged_on_start(tmp_path: Path) -> None:
    config = seeded_config(tmp_path, privacy={"retention_days": 7})
    old, recent = time.time() - 8 * 86400, time.time() - 86400
    conn = connect(config.db_path)
    for ts in (old, recent):
        conn.execute("INSERT INTO events(ts, device_id, kind) VALUES (?, 'm1', 'mirror')", (ts,))
        conn.execute("INSERT INTO visits(customer_id, zone, entered_at) VALUES ('c-ada', 'entrance', ?)", (ts,))
        conn.execute(
            "INSERT INTO alerts(alert_id, ts, customer_id, zone, payload) VALUES (?, ?, 'c-ada', 'e', '{}')",
            (f"a{ts}", ts),
        )
        conn.execute(
            "INSERT INTO dead_letters(ts, device_id, reason, sample) VALUES (?, 'm1', 'bad_json', x'00')", (ts,)
        )
    conn.execute(
        "INSERT INTO aggregates(bucket_start, bucket_end, name, labels, value) VALUES (?, ?, 'x', '{}', 1)",
        (old, old + 3600),
    )
    conn.close()

    def counts() -> tuple[int, ...]:
        db = connect(config.db_path)
        try:
            return tuple(
                db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("events", "visits", "alerts", "dead_letters", "aggregates")
            )
        finally:
            db.close()

    async with running_agent(Agent(config)):
        await eventually(lambda: counts() == (1, 1, 1, 1, 1))
