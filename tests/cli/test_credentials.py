"""Per-device MQTT credentials, enforced by a real mosquitto: own topic yes, another's no."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
import pytest

from edge_agent.config.agent import load_config
from edge_agent.core.events import Device
from edge_agent.field.credentials import acl_lines, grant_agent, pbkdf2_entry
from edge_agent.links.wire import topic_matches
from edge_agent.sim.broker import MosquittoBroker, free_port
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually


def secured_broker(tmp_path: Path, passwd: Path, acl: Path) -> MosquittoBroker:
    (tmp_path / "broker").mkdir()
    return MosquittoBroker(
        free_port(),
        workdir=tmp_path / "broker",
        extra_config=f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n",
    )


async def test_device_can_publish_its_own_topic_only(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config_path = write_config(tmp_path / "agent.yaml", data_dir=tmp_path / "data")
    config = load_config(config_path)
    added = cli(
        "device", "add", "mirror-1", "--profile", "smart-mirror", "--credentials", "--json", "--config", config_path
    )
    assert added.code == 0, added.err
    password = json.loads(added.out)["mqtt_password"]
    assert (
        cli("device", "add", "mirror-2", "--profile", "smart-mirror", "--credentials", "--config", config_path).code
        == 0
    )
    # the agent itself reads everything
    agent_password = grant_agent(config)
    acl = config.mqtt_acl_file.read_text()
    assert "user mirror-1\ntopic write store/store-test/mirror/mirror-1/events" in acl
    with secured_broker(tmp_path, config.mqtt_password_file, config.mqtt_acl_file) as broker:
        seen: list[str] = []
        async with aiomqtt.Client("127.0.0.1", broker.port, username="edge-agent", password=agent_password) as agent:
            await agent.subscribe("store/#", qos=1)

            async def listen() -> None:
                async for message in agent.messages:
                    seen.append(message.topic.value)

            listener = asyncio.create_task(listen())
            async with aiomqtt.Client("127.0.0.1", broker.port, username="mirror-1", password=password) as mirror:
                await mirror.publish("store/store-test/mirror/mirror-2/events", b"{}", qos=1)  # someone else's: dropped
                await mirror.publish("store/store-test/mirror/mirror-1/events", b"{}", qos=1)  # its own
            await eventually(lambda: "store/store-test/mirror/mirror-1/events" in seen)
            listener.cancel()
        assert seen == ["store/store-test/mirror/mirror-1/events"]
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", broker.port, username="mirror-1", password="wrong"):
                pass

        removed = cli("device", "remove", "mirror-1", "--config", config_path)
        assert removed.code == 0 and "revoked" in removed.out
        assert (
            "mirror-1" not in config.mqtt_password_file.read_text()
            and "mirror-1" not in config.mqtt_acl_file.read_text()
        )
        assert "mirror-2" in config.mqtt_password_file.read_text()
        broker.restart()
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", broker.port, username="mirror-1", password=password):
                pass


async def test_our_pbkdf2_hash_is_accepted_by_mosquitto(tmp_path: Path) -> None:
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    passwd.write_text(pbkdf2_entry("dev", "s3cret") + "\n")
    acl.write_text("user dev\ntopic write x/#\n")
    with secured_broker(tmp_path, passwd, acl) as broker:
        async with aiomqtt.Client("127.0.0.1", broker.port, username="dev", password="s3cret") as client:
            await client.publish("x/y", b"1", qos=1)
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", broker.port, username="dev", password="nope"):
                pass


def test_credentials_refused_for_serial_devices(cli, config_file: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "device",
        "add",
        "c1",
        "--profile",
        "serial-people-counter",
        "--port",
        "/dev/ttyS0",
        "--credentials",
        "--config",
        config_file,
    )
    assert result.code == 2 and "--credentials is for MQTT devices" in result.err


def test_init_can_create_the_agents_own_broker_user(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "agent.yaml"
    assert cli("init", "--config", path, "--data-dir", tmp_path / "data", "--broker-credentials").code == 0
    config = load_config(path)
    assert config.mqtt.username == "edge-agent" and config.mqtt.password
    assert config.mqtt_password_file.read_text().startswith("edge-agent:$7$")
    assert "user edge-agent\ntopic readwrite #" in config.mqtt_acl_file.read_text()


def test_each_scanner_kind_may_write_its_own_topics_only(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "agent.yaml", data_dir=tmp_path / "data"))
    cases = {
        "theengs-remote-scanner": ("home/gw-1/BTtoMQTT/AABBCCDDEEFF", "home/gw-2/BTtoMQTT/AABBCCDDEEFF"),
        "openmqttgateway-scanner": ("home/gw-1/BTtoMQTT/AABBCCDDEEFF", "home/gw-2/BTtoMQTT/AABBCCDDEEFF"),
        "espresense-scanner": ("espresense/devices/iBeacon:x-1-2/gw-1", "espresense/devices/iBeacon:x-1-2/gw-2"),
    }
    for profile, (own, other) in cases.items():
        filters = [line.split()[2] for line in acl_lines(Device("gw-1", profile, "mqtt"), config)]
        assert any(topic_matches(f, own) for f in filters), profile
        assert not any(topic_matches(f, other) for f in filters), profile
