"""Models and offer catalogs from the cloud: signed, verified, test-loaded, applied atomically."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import aiomqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from edge_agent.config.agent import load_config
from edge_agent.runtime import Agent
from edge_agent.scoring.onnx import shipped_manifest
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.store import running_agent
from edge_agent.testing.wait import eventually
from edge_agent.uplink.downlink import canonical

KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def signed(document: dict[str, object], key: Ed25519PrivateKey = KEY) -> bytes:
    return json.dumps({**document, "signature": base64.b64encode(key.sign(canonical(document))).decode()}).encode()


def model_document(version: str, tamper: bool = False) -> dict[str, object]:
    manifest = json.loads(shipped_manifest().read_text())
    manifest["version"] = version
    data = (shipped_manifest().parent / "offer_scorer.fp32.onnx").read_bytes()
    manifest["files"] = {"int8": {"path": "offer_scorer.int8.onnx", "sha256": hashlib.sha256(data).hexdigest()}}
    if tamper:
        data = data[:-1] + bytes([data[-1] ^ 1])
    return {"manifest": manifest, "files": {"offer_scorer.int8.onnx": base64.b64encode(data).decode()}}


async def test_signed_model_and_catalog_are_applied_tampered_ones_are_not(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = load_config(
        write_config(
            tmp_path / "agent.yaml",
            data_dir=tmp_path / "data",
            mqtt={"url": "mqtt://127.0.0.1:1"},
            uplink={"kind": "mqtt", "url": mqtt_broker.url, "signing_key": PUBLIC},
        )
    )
    offers = [{"offer_id": "o-new", "title": "New season 10%", "category": "shoes", "kind": "discount", "value": "10%"}]
    offers_sha = hashlib.sha256(json.dumps(offers, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    topic = f"retail/{config.store_id}/config"
    async with running_agent(Agent(config)) as agent, aiomqtt.Client("127.0.0.1", mqtt_broker.port) as cloud:
        assert agent.runtime.scorer is not None
        shipped = agent.runtime.scorer.report()["model"]
        await cloud.publish(f"{topic}/model", signed(model_document("x-tampered", tamper=True)), qos=1, retain=True)
        await eventually(
            lambda: agent.runtime.downlink is not None and "sha256" in str(agent.runtime.downlink.last_error)
        )
        other = Ed25519PrivateKey.generate()
        await cloud.publish(f"{topic}/model", signed(model_document("x-forged"), other), qos=1, retain=True)
        await eventually(lambda: "signature" in str(agent.runtime.downlink.last_error))  # type: ignore[union-attr]
        assert agent.runtime.scorer.report()["model"] == shipped  # nothing changed
        await cloud.publish(f"{topic}/model", signed(model_document("2026.12.0")), qos=1, retain=True)
        await cloud.publish(f"{topic}/offers", signed({"sha256": offers_sha, "offers": offers}), qos=1, retain=True)
        await eventually(
            lambda: agent.runtime.scorer is not None and agent.runtime.scorer.report()["model"] == "2026.12.0"
        )
        await eventually(lambda: len(agent.runtime.downlink.applied) == 2)  # type: ignore[union-attr]
    assert (tmp_path / "data" / "models" / "previous").is_dir() is True
    rows = connect(config.db_path).execute("SELECT offer_id, title FROM offers").fetchall()
    assert rows == [("o-new", "New season 10%")]
