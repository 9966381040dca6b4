"""The outbox drainer with the mock transport: order, retries, Retry-After, the backlog bound."""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from pathlib import Path

from edge_agent.config.agent import UplinkConfig
from edge_agent.store import StoreWriter, Write, connect
from edge_agent.testing.components import running
from edge_agent.testing.wait import eventually
from edge_agent.uplink.outbox import Uplink, outbox_status
from edge_agent.uplink.transports import MockTransport, UplinkError, retry_after


def batch(i: int, size: int = 0) -> Write:
    payload = json.dumps(
        {
            "schema": "edge-agent/aggregates/v1",
            "batch_id": f"b{i}",
            "store_id": "s",
            "buckets": [{"start": "x", "end": "y", "metrics": [], "pad": "x" * size}],
        }
    )
    return Write(
        "INSERT INTO outbox(batch_id, created_at, payload, size) VALUES (?, ?, ?, ?)",
        (f"b{i}", float(i), payload, len(payload)),
    )


async def test_sends_oldest_first_and_retries_after_failures(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    mock = MockTransport()
    async with running(StoreWriter(db)) as writer, contextlib.AsyncExitStack() as stack:
        await writer.write(*(batch(i) for i in range(5)))
        mock.fail = UplinkError("cloud down", retry_after=0.2)
        uplink = await stack.enter_async_context(
            running(Uplink(db, writer, mock, UplinkConfig(kind="mqtt", interval_s=0.1), client_id=None))
        )
        await eventually(lambda: outbox_status(connect(db))["batches_retrying"] == 1)
        assert mock.sent == []
        mock.fail = None
        uplink.wake()  # the link is back: no need to wait out the backoff
        await eventually(lambda: len(mock.sent) == 5)
    assert [b for b, _ in mock.sent] == ["b0", "b1", "b2", "b3", "b4"]
    status = outbox_status(connect(db))
    assert status["backlog"] == 0 and status["resent"] == 1 and status["last_error"]["error"] == "cloud down"


async def test_backlog_bound_drops_oldest_and_reports_it(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    mock = MockTransport()
    async with running(StoreWriter(db)) as writer, contextlib.AsyncExitStack() as stack:
        await writer.write(*(batch(i, size=300_000) for i in range(6)))  # ~1.8 MB
        await stack.enter_async_context(
            running(
                Uplink(db, writer, mock, UplinkConfig(kind="mqtt", max_backlog_mb=1.0, interval_s=0.1), client_id=None)
            )
        )
        await eventually(lambda: len(mock.sent) == 3)
    assert [b for b, _ in mock.sent] == ["b3", "b4", "b5"]
    first = json.loads(mock.sent[0][1])
    assert {"name": "uplink_dropped_batches", "labels": {}, "value": 3} in first["buckets"][-1]["metrics"]
    later = json.loads(mock.sent[1][1])
    assert all(m["name"] != "uplink_dropped_batches" for m in later["buckets"][-1]["metrics"])  # reported once
    assert outbox_status(connect(db))["dropped"] == 3


def test_retry_after_header_forms() -> None:
    assert retry_after("7") == 7.0
    assert retry_after(None) is None and retry_after("soon") is None
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


async def test_an_outbox_that_empties_and_refills_while_the_link_stays_up(tmp_path: Path) -> None:
    """Batch numbers are never reused: batches written after the outbox emptied are still sent."""
    db = tmp_path / "a.db"
    mock = MockTransport()
    async with running(StoreWriter(db)) as writer, contextlib.AsyncExitStack() as stack:
        uplink = await stack.enter_async_context(
            running(Uplink(db, writer, mock, UplinkConfig(kind="mqtt", interval_s=0.05), client_id=None))
        )
        for round_ in range(4):
            await writer.write(*(batch(round_ * 10 + i) for i in range(3)))
            uplink.wake()
            await eventually(lambda r=round_: len(mock.sent) == 3 * (r + 1))  # type: ignore[misc]
            await eventually(lambda: outbox_status(connect(db))["backlog"] == 0)  # emptied before the next round
    assert [b for b, _ in mock.sent] == [f"b{r * 10 + i}" for r in range(4) for i in range(3)]


class Clocked(MockTransport):
    """Notes when each publish left."""

    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    async def send(self, batch_id: str, payload: bytes) -> None:
        self.at.append(time.monotonic())
        await super().send(batch_id, payload)


async def test_a_backlog_leaves_no_faster_than_the_brokers_publish_limit(tmp_path: Path) -> None:
    """AWS IoT Core allows 100 publishes/s per connection: a backlog after an outage is paced."""
    db = tmp_path / "a.db"
    clocked = Clocked()
    config = UplinkConfig(kind="mqtt", interval_s=0.05, max_publish_per_s=40)
    async with running(StoreWriter(db)) as writer, contextlib.AsyncExitStack() as stack:
        await writer.write(*(batch(i) for i in range(12)))
        await stack.enter_async_context(running(Uplink(db, writer, clocked, config, client_id=None)))
        await eventually(lambda: len(clocked.sent) == 12)
    gaps = [b - a for a, b in itertools.pairwise(clocked.at)]
    assert min(gaps) >= 1 / 40 - 0.002  # the event loop's clock resolution, never a burst
