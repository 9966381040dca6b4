"""The HTTPS uplink against a real TLS server: Idempotency-Key, 500 and 429 with Retry-After."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import trustme
from aiohttp import web

from edge_agent.config.agent import load_config
from edge_agent.runtime import Agent
from edge_agent.store import StoreWriter, Write, connect
from edge_agent.testing.components import running
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually
from edge_agent.uplink.outbox import outbox_status


async def test_https_uplink_survives_500_and_honours_429(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(ca.cert_pem.bytes())
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)

    answers = [web.Response(status=500), web.Response(status=429, headers={"Retry-After": "1"})]
    seen: list[tuple[str, str]] = []

    async def ingest(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append((request.headers["Idempotency-Key"], body["batch_id"]))
        return answers.pop(0) if answers else web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/ingest", ingest)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = runner.addresses[0][1]

    config = load_config(
        write_config(
            tmp_path / "agent.yaml",
            data_dir=tmp_path / "data",
            mqtt={"url": "mqtt://127.0.0.1:1"},
            uplink={
                "kind": "https",
                "url": f"https://127.0.0.1:{port}/ingest",
                "tls": {"ca": str(ca_pem)},
                "interval_s": 0.2,
            },
        )
    )
    connect(config.db_path).close()
    async with running(StoreWriter(config.db_path)) as writer:
        await writer.write(
            *(
                Write(
                    "INSERT INTO outbox(batch_id, created_at, payload, size) VALUES (?, ?, ?, ?)",
                    (f"b{i}", float(i), json.dumps({"batch_id": f"b{i}", "buckets": []}), 30),
                )
                for i in range(3)
            )
        )
    agent = Agent(config, [])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: outbox_status(connect(config.db_path))["backlog"] == 0, within=30)
    stop.set()
    await task
    await runner.cleanup()
    # b0 was tried three times (500, 429, then accepted), each time with its own key.
    assert seen == [("b0", "b0"), ("b0", "b0"), ("b0", "b0"), ("b1", "b1"), ("b2", "b2")]
    status = outbox_status(connect(config.db_path))
    assert status["resent"] == 1 and "429" in status["last_error"]["error"]
