"""Downlink: new offer models and catalogs from the cloud, verified before use, applied atomically.

Retained MQTT messages on `retail/{store_id}/config/model` and `.../config/offers` carry a JSON
document. Every document names the sha256 of what it carries; with `uplink.signing_key` (an
Ed25519 public key, hex) configured it must also carry a valid `signature` over its canonical
JSON. A model is test-loaded before it replaces the current one; a catalog is imported in one
transaction with `--strict` semantics. Anything that fails verification changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ..config.agent import AgentConfig
from ..config.rows import validated_offers
from ..core.component import Component, Status
from ..core.errors import CatalogError, EdgeAgentError
from ..links import Link, identity_on
from ..links.client import MqttClient
from ..links.mqtt import make_client
from ..scoring.onnx import Manifest, ModelError, OnnxScorer
from ..store import Effects, StoreWriter
from ..store.catalog import offer_write

log = logging.getLogger(__name__)


class DownlinkRejected(EdgeAgentError):
    """A downlink document that failed verification or could not be applied."""


def canonical(document: dict[str, Any]) -> bytes:
    body = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def verify_signature(document: dict[str, Any], public_key_hex: str | None) -> None:
    if public_key_hex is None:
        return
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(base64.b64decode(document.get("signature") or ""), canonical(document))
    except (InvalidSignature, ValueError, binascii.Error):
        raise DownlinkRejected("bad or missing signature") from None


def apply_model(document: dict[str, Any], models_dir: Path) -> str:
    """Verify, test-load and install a model; returns its version."""
    manifest = document.get("manifest")
    files = document.get("files")
    if not isinstance(manifest, dict) or not isinstance(files, dict):
        raise DownlinkRejected("model document needs 'manifest' and 'files'")
    incoming = models_dir / ".incoming"
    shutil.rmtree(incoming, ignore_errors=True)
    incoming.mkdir(parents=True)
    try:
        for entry in manifest.get("files", {}).values():
            name = Path(str(entry.get("path", ""))).name
            data = base64.b64decode(files.get(name, ""), validate=True)
            if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
                raise DownlinkRejected(f"{name}: sha256 does not match the manifest")
            (incoming / name).write_bytes(data)
        (incoming / "manifest.json").write_text(json.dumps(manifest))
        scorer = OnnxScorer(Manifest.read(incoming / "manifest.json"))  # must load and run here first
    except (ModelError, binascii.Error, ValueError) as exc:
        shutil.rmtree(incoming, ignore_errors=True)
        raise DownlinkRejected(f"model refused: {exc}") from None
    previous = models_dir / "previous"
    shutil.rmtree(previous, ignore_errors=True)
    previous.mkdir()
    for path in models_dir.iterdir():
        if path.is_file():
            shutil.copy2(path, previous / path.name)
    for path in incoming.iterdir():  # model files first, manifest last: a reader never sees a mix
        if path.name != "manifest.json":
            os.replace(path, models_dir / path.name)
    os.replace(incoming / "manifest.json", models_dir / "manifest.json")
    shutil.rmtree(incoming, ignore_errors=True)
    return scorer.manifest.version


def offers_effects(document: dict[str, Any]) -> Effects:
    """A verified offers document as the writes that replace the catalog (all rows valid, or none)."""
    offers = document.get("offers")
    if not isinstance(offers, list):
        raise DownlinkRejected("offers document needs an 'offers' list")
    body = json.dumps(offers, sort_keys=True, separators=(",", ":")).encode()
    if hashlib.sha256(body).hexdigest() != document.get("sha256"):
        raise DownlinkRejected("offers: sha256 does not match")
    try:
        rows = validated_offers(offers)
    except CatalogError as exc:
        raise DownlinkRejected(f"offers refused: {exc}") from None
    return Effects(writes=tuple(offer_write(row) for row in rows), urgent=True)


class Downlink(Component):
    """Subscribes to the config topics on the cloud broker and applies what verifies."""

    name = "downlink"

    def __init__(self, config: AgentConfig, writer: StoreWriter) -> None:
        self._config = config
        self._writer = writer
        self._prefix = f"retail/{config.store_id}/config"
        self._client_id = f"edge-agent-{config.store_id}-downlink"
        self.link = Link(
            f"downlink {config.uplink.url}",
            initial=1.0,
            cap=300.0,
            client_id=self._client_id,
            identity=identity_on(config.uplink.url),
            logger=log,
        )
        self.applied: list[str] = []
        self.last_error: str | None = None  # the last rejected document

    async def handle(self, topic: str, payload: bytes) -> str:
        """Verify and apply one document; returns what was applied."""
        try:
            document = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise DownlinkRejected("not JSON") from None
        if not isinstance(document, dict):
            raise DownlinkRejected("not a JSON object")
        verify_signature(document, self._config.uplink.signing_key)
        kind = topic.rsplit("/", 1)[-1]
        if kind == "model":
            models = self._config.data_dir / "models"
            models.mkdir(parents=True, exist_ok=True)
            return f"model {await asyncio.to_thread(apply_model, document, models)}"
        if kind == "offers":
            effects = offers_effects(document)
            await self._writer.commit(effects)  # through the one writer, in one transaction
            return f"{len(effects.writes)} offers"
        raise DownlinkRejected(f"unknown config topic {topic}")

    async def run(self) -> None:
        await self.link.run(self._connect, self._serve)

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[MqttClient]:
        uplink = self._config.uplink
        async with make_client(uplink.url, tls=uplink.tls, identifier=self._client_id) as client:
            await client.subscribe(f"{self._prefix}/#", qos=1)
            yield client

    async def _serve(self, client: MqttClient) -> None:
        async for message in client.messages():
            try:
                what = await self.handle(message.topic, message.payload)
            except (DownlinkRejected, OSError) as exc:  # a bad document never stops the agent
                self.last_error = str(exc)
                log.warning("downlink %s rejected: %s", message.topic, exc)
                continue
            self.applied.append(what)
            log.info("downlink applied: %s", what)

    def status(self) -> Status:
        link = self.link.status()
        return Status(
            self.name,
            "downlink",
            state=str(link.state),
            link=link,
            health=link.health(),
            body={"applied": self.applied[-10:], "last_error": self.last_error},
        )
