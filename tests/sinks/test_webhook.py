"""Webhook sinks against a real local HTTP server: signed, keyed, retried, at least once across restarts."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from edge_agent.config.agent import load_config
from edge_agent.core.events import Alert
from edge_agent.runtime import Agent
from edge_agent.sim.adverts import arrivals
from edge_agent.sim.ble import SimulatedBleSource
from edge_agent.sim.broker import free_port
from edge_agent.sinks.webhook import WebhookError, WebhookSink
from edge_agent.sinks.worker import SinkWorker
from edge_agent.store import StoreWriter, connect, rows
from edge_agent.testing.components import running
from edge_agent.testing.config import write_config
from edge_agent.testing.store import UUID, running_agent, seeded_config
from edge_agent.testing.wait import eventually

SECRET = "a-webhook-secret-of-the-store"


class ChatTool:
    """A staff messaging tool's webhook endpoint: answers `fail_first` requests with 503, then 200."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503)
        self.received.append((dict(request.headers), body))
        return web.Response(status=204)


@asynccontextmanager
async def serving(tool: ChatTool, port: int) -> AsyncIterator[None]:
    app = web.Application()
    app.router.add_post("/hooks/store", tool.hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()


def ada_walks_in() -> SimulatedBleSource:
    return SimulatedBleSource(arrivals(f"{UUID}:100:1", first_at_s=1, stay_s=60))


async def test_each_alert_is_posted_signed_with_its_idempotency_key_after_a_refusal(tmp_path: Path) -> None:
    port = free_port()
    tool = ChatTool(fail_first=2)  # the tool is briefly unwell: the sink retries with backoff
    hook = {"url": f"http://127.0.0.1:{port}/hooks/store", "secret": SECRET, "kinds": ["entry"]}
    config = seeded_config(tmp_path, sinks={"webhooks": [hook]})
    async with serving(tool, port), running_agent(Agent(config, [ada_walks_in()])):
        await eventually(lambda: len(tool.received) == 1, within=60)
    headers, body = tool.received[0]
    alert = json.loads(body)
    assert alert["customer_id"] == "c-ada" and headers["Idempotency-Key"] == alert["alert_id"]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Edge-Agent-Signature"], expected)


async def test_what_was_committed_but_not_delivered_is_delivered_after_a_restart(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there yet: the tool is down while Ada walks in
    hook = {"url": f"http://127.0.0.1:{port}/hooks/store", "secret": SECRET, "timeout_s": 1}
    config = seeded_config(tmp_path, sinks={"webhooks": [hook]})
    async with running_agent(Agent(config, [ada_walks_in()])):
        await eventually(lambda: connect(config.db_path).execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 1)
    tool = ChatTool()
    async with serving(tool, port), running_agent(Agent(config, [])):  # back up, the box restarted
        await eventually(lambda: len(tool.received) == 1, within=30)
        await eventually(
            lambda: (
                connect(config.db_path)
                .execute("SELECT COUNT(*) FROM sink_deliveries WHERE alert_id != ''")
                .fetchone()[0]
                == 1
            )
        )
    alert_id = connect(config.db_path).execute("SELECT alert_id FROM alerts").fetchone()[0]
    assert tool.received[0][0]["Idempotency-Key"] == alert_id
    name = f"webhook:127.0.0.1:{_digest(hook['url'])}"
    async with serving(tool, port), running_agent(Agent(config, [])) as agent:  # delivered: never offered again
        sink = agent.snapshot()["sinks"][name]
        assert (sink["queued"], sink["delivered"]) == (0, 0)
    assert rows.undelivered_alerts(connect(config.db_path), name, 0) == []
    assert len(tool.received) == 1


async def test_a_new_webhook_is_not_sent_the_past(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    async with running_agent(Agent(config, [ada_walks_in()])):
        await eventually(lambda: connect(config.db_path).execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 1)
    port = free_port()
    tool = ChatTool()
    hook = {"url": f"http://127.0.0.1:{port}/hooks/store", "secret": SECRET}
    later = load_config(write_config(tmp_path / "later.yaml", data_dir=config.data_dir, sinks={"webhooks": [hook]}))
    async with serving(tool, port), running_agent(Agent(later, [])) as agent:
        sink = agent.snapshot()["sinks"][f"webhook:127.0.0.1:{_digest(hook['url'])}"]
        assert (sink["queued"], sink["delivered"]) == (0, 0)
    assert tool.received == []


def _digest(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:8]


def test_doctor_names_every_webhook_a_name_can_leave_through(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hook = {"url": "https://chat.example/hooks/store-0042?token=x", "secret": SECRET, "kinds": ["size_request"]}
    config = write_config(tmp_path / "agent.yaml", data_dir=tmp_path / "data", sinks={"webhooks": [hook]})
    result = cli("doctor", "--json", "--config", config)
    (check,) = [c for c in json.loads(result.out) if c["name"] == "webhooks"]
    assert (
        check["level"] == "warn" and "chat.example (size_request)" in check["detail"] and "token" not in check["detail"]
    )


async def test_a_webhook_sink_keeps_one_http_session_while_it_runs(tmp_path: Path) -> None:
    """The sink owns its HTTP session: opened with the worker, reused for every alert, closed after."""
    port = free_port()
    peers: list[object] = []

    class Counting(ChatTool):
        async def hook(self, request: web.Request) -> web.Response:
            peers.append(request.transport.get_extra_info("peername") if request.transport else None)
            return await super().hook(request)

    tool = Counting()
    wanted = {"url": f"http://127.0.0.1:{port}/hooks/store", "secret": SECRET, "kinds": ["entry"]}
    config = load_config(write_config(tmp_path / "a.yaml", data_dir=tmp_path / "d", sinks={"webhooks": [wanted]}))
    hook = config.sinks.webhooks[0]
    alerts = [entry_alert(f"a{i}") for i in range(3)]
    async with serving(tool, port), running(StoreWriter(tmp_path / "w.db")) as writer:
        sink = WebhookSink(hook, writer)
        async with running(SinkWorker(sink.name, sink)) as worker:
            for alert in alerts:
                worker.offer(alert)
            await eventually(lambda: len(tool.received) == 3)
        assert len(set(peers)) == 1, peers  # one connection carried them all
        with pytest.raises(WebhookError, match="before it was opened"):
            await sink.deliver(alerts[0])  # the session went with the worker
    assert [json.loads(body)["alert_id"] for _, body in tool.received] == ["a0", "a1", "a2"]


def entry_alert(alert_id: str) -> Alert:
    return Alert(alert_id, 1_760_000_000.0, "c-ada", "Ada", "gold", "entrance", ())
