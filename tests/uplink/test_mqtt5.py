"""The uplink over MQTT 5, against mosquitto's MQTT 5 listener: PUBACK reason codes are read,
"no matching subscribers" is a success, and a refusal keeps the batch and backs off, said once."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import aiomqtt
import pytest

from edge_agent.config.agent import UplinkConfig
from edge_agent.links.link import LinkState
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.store import StoreWriter, connect
from edge_agent.testing.components import running
from edge_agent.testing.wait import eventually
from edge_agent.uplink.outbox import Uplink, outbox_status
from edge_agent.uplink.transports import MqttTransport, refusal
from tests.uplink.test_outbox import batch


def v5(url: str, topic: str = "retail/{store_id}/aggregates") -> UplinkConfig:
    return UplinkConfig(kind="mqtt", url=url, protocol=5, topic=topic, interval_s=0.1)


async def test_batches_leave_over_mqtt5_even_with_nobody_subscribed(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    """Mosquitto answers PUBACK 0x10 (no matching subscribers) to an MQTT 5 client: a success."""
    db = tmp_path / "a.db"
    config = v5(mqtt_broker.url)
    async with running(StoreWriter(db)) as writer, contextlib.AsyncExitStack() as stack:
        await writer.write(*(batch(i) for i in range(3)))
        uplink = Uplink(db, writer, MqttTransport(config, "s"), config, client_id="up5")
        await stack.enter_async_context(running(uplink))
        await eventually(lambda: outbox_status(connect(db))["backlog"] == 0)
        async with aiomqtt.Client(
            "127.0.0.1", mqtt_broker.port, identifier="cloud5", protocol=aiomqtt.ProtocolVersion.V5
        ) as cloud:
            await cloud.subscribe("retail/s/aggregates", qos=1)
            await writer.write(batch(3))
            uplink.wake()
            async for message in cloud.messages:
                assert b'"batch_id": "b3"' in bytes(message.payload)  # type: ignore[arg-type]
                break
    assert uplink.sent == 4


async def test_a_refused_publish_keeps_the_batch_and_backs_off_saying_it_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An ACL that denies the topic: mosquitto answers PUBACK 0x87 (not authorized)."""
    workdir = tmp_path / "broker"
    workdir.mkdir()
    (workdir / "acl").write_text("topic write allowed/#\n")
    with MosquittoBroker(workdir=workdir, extra_config=f"acl_file {workdir / 'acl'}") as broker:
        db = tmp_path / "a.db"
        config = v5(broker.url)
        async with running(StoreWriter(db)) as writer, contextlib.AsyncExitStack() as stack:
            await writer.write(batch(0))
            uplink = Uplink(db, writer, MqttTransport(config, "s"), config, client_id="up5")
            await stack.enter_async_context(running(uplink))
            await eventually(lambda: uplink.link.status().state == LinkState.REFUSED)
            status = outbox_status(connect(db))
    assert status["backlog"] == 1 and "Not authorized (0x87)" in status["last_error"]["error"]
    said = [r for r in caplog.records if "Not authorized" in r.getMessage() and r.levelno >= logging.WARNING]
    assert len(said) == 1


def test_puback_reasons() -> None:
    assert refusal(0x00, "Success") is None and refusal(0x10, "No matching subscribers") is None
    quota = refusal(0x97, "Quota exceeded")
    assert quota is not None and quota.retry_after == 60.0 and not quota.refused
    invalid = refusal(0x99, "Payload format invalid")
    assert invalid is not None and invalid.refused and "0x99" in str(invalid)
    unspecified = refusal(0x80, "Unspecified error")
    assert unspecified is not None and not unspecified.refused
