"""The reference relay: serves the vote page for the looks the stores publish, and publishes
the votes back, signed with each look's key (SPEC §16).

It is stateless apart from the looks it holds until they expire: the cards are retained on the
broker, so a relay that restarts gets every live look again. It never learns who shares: a card
holds catalog items, a question, a nickname and a key, nothing else.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..core.errors import LinkError
from ..core.events import FriendForgotten, FriendRemembered, FriendVote, SeatTaken
from ..links import Link
from ..links.client import MqttClient
from ..links.mqtt import make_client
from ..links.wire import topic_matches
from ..social.looks import Board, Channel, Circle, Look, Seat
from ..social.remote import CARD_FIELDS, signed_vote
from ..web.app import ASSETS, SECURITY_HEADERS
from ..web.vote import VotePages

log = logging.getLogger(__name__)

MAX_CARD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class RelayConfig:
    broker: str  # mqtt:// or mqtts:// URL of the chain's broker
    host: str = "0.0.0.0"
    port: int = 8090
    looks: str = "retail/+/social/looks/+"
    votes: str = "retail/{store_id}/social/votes"


def look_from_card(card: dict[str, Any], now: float) -> Look | None:
    """A look as the relay holds it (its token is the look id); None for a card that is off-spec or over."""
    if not isinstance(card, dict) or set(card) - CARD_FIELDS or not isinstance(card.get("skus"), list):
        return None
    try:
        expires = float(card["expires_at"])
        key = str(card["key"])
        bytes.fromhex(key)
        look_id, store_id = str(card["look_id"]), str(card["store_id"])
        skus = [str(item["sku"]) for item in card["skus"]]
        seats = int(card["seats"])
    except (KeyError, TypeError, ValueError):
        return None
    if not math.isfinite(expires) or expires <= now or not 0 < seats <= 64 or not look_id or "/" in store_id:
        return None
    look = Look(look_id, look_id, key, store_id, "", None, Circle.REMOTE, str(card.get("nickname") or "")[:20],
                now, expires, seats, skus[:24])  # fmt: skip
    return look


class Relay:
    """Looks in, votes out; the vote page in between (the same page the box serves)."""

    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self.board = Board(max_seats=64, ttl_after_session_s=math.inf, max_ttl_s=math.inf)
        self._titles: dict[tuple[str, str], str] = {}
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(1000)
        self.link = Link(f"relay broker {config.broker}", initial=0.5, cap=30.0, logger=log)
        self.pages = VotePages(self.board, self, secrets.token_hex(16), self._title)
        self.relayed = 0
        self.url: str | None = None  # where the vote pages are served, once listening

    def _title(self, sku: str) -> str:
        return next((t for (_, s), t in self._titles.items() if s == sku), sku)

    def card(self, topic: str, payload: bytes, now: float) -> None:
        """A retained look card arrived (or was cleared)."""
        look_id = topic.rsplit("/", 1)[-1]
        old = self.board.get(look_id)
        if old is not None:
            self.board.drop(old)
        if not payload or len(payload) > MAX_CARD_BYTES:
            return
        try:
            card = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            return
        look = look_from_card(card, now)
        if look is None or look.look_id != look_id:
            return
        for item in card["skus"]:
            self._titles[(look_id, str(item.get("sku")))] = str(item.get("title") or item.get("sku"))[:120]
        self.board.add(look)

    async def submit(self, event: FriendVote | SeatTaken | FriendRemembered | FriendForgotten) -> bool:
        """What the vote page hands over: seats are the relay's own; votes are signed and published."""
        look = self.board.get(event.look_id) if isinstance(event, FriendVote | SeatTaken) else None
        match event:
            case SeatTaken() if look is not None and look.may_seat():
                look.seats.setdefault(event.seat, Seat(Channel.REMOTE))
                return True
            case FriendVote() if look is not None:
                ts = round(time.time(), 3)
                vote = signed_vote(look.look_id, look.key, uuid.uuid4().hex, event.seat, event.sku, event.value, ts)
                topic = f"{self.config.votes.format(store_id=look.device_id)}/{look.look_id}"
                await self._outbox.put((topic, json.dumps(vote).encode()))
                look.record(event.seat, Channel.REMOTE, event.sku, event.value, event.ts)
                return True
        return False  # remembering needs the shopper's own box; the relay keeps nothing to forget

    def expire(self, now: float) -> None:
        for look in self.board.find(lambda lk: not lk.live(now)):
            self.board.drop(look)
            for key in [k for k in self._titles if k[0] == look.look_id]:
                del self._titles[key]

    async def run(self) -> None:
        await self.link.run(self._connect, self._serve)

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[MqttClient]:
        client_id = f"edge-agent-relay-{secrets.token_hex(4)}"
        async with make_client(self.config.broker, identifier=client_id) as client:
            await client.subscribe(self.config.looks, qos=1)
            yield client

    async def _serve(self, client: MqttClient) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._publish(client), name="relay-votes")
                async for message in client.messages():
                    if topic_matches(self.config.looks, message.topic):
                        self.card(message.topic, message.payload, time.time())
                raise LinkError("disconnected", lost=True)
        except* LinkError as group:
            raise group.exceptions[0] from None

    async def _publish(self, client: MqttClient) -> None:
        while True:
            topic, payload = await self._outbox.get()
            await client.publish(topic, payload, qos=1)
            self.relayed += 1

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_headers], client_max_size=16 * 1024)
        app.add_routes([*self.pages.routes(), web.get("/assets/{name}", _asset)])
        return app


@web.middleware
async def _headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.method == "POST" and request.content_type != "application/json":
        return web.json_response({"error": "expected Content-Type: application/json"}, status=415)
    origin = request.headers.get("Origin")
    if request.method == "POST" and origin is not None and origin != f"{request.scheme}://{request.host}":
        return web.json_response({"error": "cross-origin request refused"}, status=403)
    response = await handler(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def _asset(request: web.Request) -> web.Response:
    from importlib import resources

    name = request.match_info["name"]
    if name not in ("vote.js", "vote.css"):
        return web.json_response({"error": "no such asset"}, status=404)
    text = (resources.files("edge_agent.web") / "static" / name).read_text("utf-8")
    return web.Response(text=text, content_type=ASSETS[name])


async def serve(relay: Relay, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
    """Run the relay until `stop` is set; `relay.url` is where it listens once `ready` is set."""
    runner = web.AppRunner(relay.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, relay.config.host, relay.config.port)
    await site.start()
    relay.url = _bound(runner, relay.config.host)
    try:
        async with asyncio.TaskGroup() as tg:
            mqtt = tg.create_task(relay.run(), name="relay-broker")
            sweep = tg.create_task(_sweep(relay), name="relay-expiry")
            if ready is not None:
                ready.set()
            await stop.wait()
            mqtt.cancel()
            sweep.cancel()
    finally:
        await runner.cleanup()


async def _sweep(relay: Relay) -> None:
    while True:
        await asyncio.sleep(1.0)
        relay.expire(time.time())


def _bound(runner: web.AppRunner, host: str) -> str:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            address = server.sockets[0].getsockname()
            return f"http://{host if host not in ('0.0.0.0', '') else '127.0.0.1'}:{address[1]}"
    return f"http://{host}"
