"""MQTT clients for a broker URL, and the store-broker publisher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..config.agent import MqttConfig, TlsConfig
from ..core.component import Component, Sample, Status
from ..core.errors import LinkError
from . import presence
from .address import broker_address, tls_context
from .client import MqttClient, Options, Will
from .link import Link, identity_on
from .presence import Box

log = logging.getLogger(__name__)

ANNOUNCE_S = 60.0
RIVAL_S = 3 * ANNOUNCE_S  # how long another box's announcement keeps this box in conflict (renewed each minute)


def make_client(
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    tls: TlsConfig | None = None,
    identifier: str | None = None,
    clean_session: bool | None = None,
    timeout: float = 10.0,
    protocol: int = 4,
    max_inflight: int | None = None,
    will: Will | None = None,
    session_expiry_s: int | None = None,
) -> MqttClient:
    """A client for an `mqtt://` or `mqtts://` URL (`protocol` 4 = MQTT 3.1.1, 5 = MQTT 5)."""
    host, port, secure = broker_address(url)
    options = Options(
        identifier=identifier or "",
        username=username,
        password=password,
        tls=tls_context(tls or TlsConfig()) if secure else None,
        protocol=protocol,
        clean_session=None if protocol == 5 else clean_session,
        session_expiry_s=session_expiry_s if protocol == 5 else None,
        will=will,
        timeout=timeout,
        max_inflight=max_inflight,
    )
    return MqttClient(host, port, options)


def store_client(config: MqttConfig, identifier: str, **options: Any) -> MqttClient:
    """A client for the store broker with the config's credentials and TLS."""
    return make_client(
        config.url,
        username=config.username,
        password=config.password,
        tls=config.tls,
        identifier=identifier,
        **options,
    )


class MqttPublisher(Component):
    """The store-broker link for publishing. Each caller awaits its own confirmation, so every
    sink keeps its own bounded queue in front of it; the link state follows the socket."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        client_id: str,
        name: str = "store-broker",
        topic_prefix: str | None = None,
        box: Box | None = None,
    ) -> None:
        self.name = name
        self._config = config
        self._box = box or Box("unnamed", "")
        # With presence (links/presence.py) the client id is this box's own: two boxes can both publish.
        self._client_id = f"{client_id}-{self._box.box}" if topic_prefix is not None else client_id
        self._presence = presence.topic(topic_prefix, self._box) if topic_prefix is not None else None
        self._watch = presence.topic(topic_prefix) if topic_prefix is not None else None
        self._identity = identity_on(config.url)
        self.link = Link(
            f"store broker {config.url}",
            initial=0.5,
            cap=30.0,
            client_id=client_id,
            identity=self._identity,
            logger=log,
        )
        self._client: MqttClient | None = None
        self._ready = asyncio.Event()
        self._over = asyncio.Event()  # the current connection's end
        self.published = 0
        self.retried = 0
        self._dropped = 0  # received on earlier connections and dropped unread (see MqttClient.dropped)

    async def run(self) -> None:
        await self.link.run(self._connect, self._serve)

    def _connect(self) -> MqttClient:
        will = None
        if self._presence is not None:
            gone = presence.announcement(self._box, online=False, client_id=self._client_id)
            will = Will(self._presence, gone, qos=1, retain=True)
        return store_client(self._config, self._client_id, will=will)

    async def _serve(self, client: MqttClient) -> None:
        self._client, self._over = client, asyncio.Event()
        if self._watch is not None:
            await client.subscribe(self._watch, qos=1)
        self._ready.set()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._announce(client), name="presence")
                async for message in client.messages():  # only presence is subscribed; ends with the connection
                    self._announced(message.payload)
                raise LinkError("disconnected", lost=True)
        except* LinkError as group:
            raise group.exceptions[0] from None
        finally:
            self._client = None
            self._dropped += client.dropped
            self._ready.clear()
            self._over.set()
            await self._leave(client)

    async def _announce(self, client: MqttClient) -> None:
        """This box is here, now and again (another box renews its conflict with each of these)."""
        while self._presence is not None:
            here = presence.announcement(self._box, online=True, client_id=self._client_id)
            await client.publish(self._presence, here, qos=1, retain=True)
            await asyncio.sleep(ANNOUNCE_S)

    def _announced(self, payload: bytes) -> None:
        seen = presence.read(payload)
        if seen is None or not seen.get("online") or seen["box"] == self._box.box:
            return
        who = f"box {seen['box']} (host {seen.get('host')!r})"
        if self._identity.announced(who, RIVAL_S):
            log.warning(
                "%s announced itself on this store's broker with the same store_id: two boxes with one identity "
                "(a cloned SD card or copied config?) take each other's MQTT sessions over; give each its own store_id",
                who,
            )

    async def _leave(self, client: MqttClient) -> None:
        """A clean stop says so (the will only speaks for a connection that was lost)."""
        if self._presence is None:
            return
        gone = presence.announcement(self._box, online=False, client_id=self._client_id)
        with contextlib.suppress(LinkError, TimeoutError):
            async with asyncio.timeout(1.0):
                await client.publish(self._presence, gone, qos=1, retain=True)

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Publish once connected; returns when the broker confirmed it (QoS 1), trying again on the
        next connection when this one drops first (at least once)."""
        while True:
            await self._ready.wait()
            client, over = self._client, self._over
            if client is None:
                continue
            try:
                await client.publish(topic, payload, qos=qos, retain=retain)
            except LinkError:
                self.retried += 1
                await over.wait()  # the link notices, reconnects, and this goes out again
                continue
            self.published += 1
            return

    @property
    def dropped(self) -> int:
        return self._dropped + (self._client.dropped if self._client is not None else 0)

    def status(self) -> Status:
        link = self.link.status()
        return Status(
            self.name,
            "mqtt",
            state=str(link.state),
            link=link,
            health=link.health(),
            samples=(
                Sample("mqtt_published", self.published, help="Messages confirmed by the store broker"),
                Sample("mqtt_received_dropped", self.dropped, help="Received messages dropped unread (queue full)"),
            ),
            body={"published": self.published, "retried": self.retried, "last_error": link.last_error},
        )
