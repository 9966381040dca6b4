"""Subprocess for the crash test: writes numbered events in batches, reporting each commit."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from edge_agent.store import StoreWriter, Write, connect
from edge_agent.testing.components import running


async def main(path: Path) -> None:
    conn = connect(path)
    start = (conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]) + 1
    conn.close()
    async with running(StoreWriter(path, max_delay_s=0.001)) as writer:
        n = start
        while True:
            batch = [
                Write(
                    "INSERT INTO events(id, ts, device_id, kind, payload) VALUES (?, ?, 'load', 'test', ?)",
                    (i, i, "x" * 200),
                )
                for i in range(n, n + 50)
            ]
            await writer.write(*batch)
            n += 50
            print(f"committed {n - 1}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
