"""Friends elsewhere, end to end: the box, a real broker and the reference relay (`edge-agent relay`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt

from edge_agent.config.agent import AgentConfig
from edge_agent.relay.server import Relay, RelayConfig, serve
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.social.remote import CARD_FIELDS, ITEM_FIELDS, signed_vote
from edge_agent.sources.mqtt import mirror_source, remote_votes_source
from edge_agent.store import connect
from edge_agent.testing.store import running_agent
from edge_agent.testing.wait import eventually

from ..runtime.test_learning import mirror, setup


@asynccontextmanager
async def running_relay(broker: MosquittoBroker) -> AsyncIterator[Relay]:
    relay, stop, ready = Relay(RelayConfig(broker.url, "127.0.0.1", 0)), asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(relay, stop, ready))
    await eventually(lambda: ready.is_set() and relay.link.state == "connected")
    try:
        yield relay
    finally:
        stop.set()
        await task


def remote_config(tmp_path: Path, store: MosquittoBroker, cloud: MosquittoBroker, relay_url: str) -> AgentConfig:
    config = setup(tmp_path, store)
    return config.model_copy(
        update={
            "uplink": config.uplink.model_copy(update={"kind": "mqtt", "url": cloud.url, "downlink": False}),
            "social": config.social.model_copy(update={"remote_url": relay_url}),
        }
    )


async def states(client: aiomqtt.Client, until: Any) -> dict[str, Any]:
    async for message in client.messages:
        if message.topic.value.endswith("/social") and until(state := json.loads(message.payload)):
            return state
    raise AssertionError("the broker went away")


async def test_a_friend_elsewhere_votes_through_the_relay_and_the_box_counts_it_once(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    async with running_relay(mqtt_broker) as relay:
        config = remote_config(tmp_path, mqtt_broker, mqtt_broker, relay.url or "")
        prefix, votes_topic = config.topic_prefix, f"retail/{config.store_id}/social/votes"
        sources = [mirror_source(config), remote_votes_source(config)]
        async with (
            running_agent(Agent(config, sources)) as agent,
            aiomqtt.Client("127.0.0.1", mqtt_broker.port) as client,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as friend,
        ):
            await client.subscribe(f"{prefix}/mirror/mirror-1/social", qos=1)
            await eventually(lambda: agent.snapshot()["sources"]["mqtt-social-votes"]["link"] == "connected")
            for payload in (
                mirror("r1", "try_on", "COAT-1"),
                mirror("r1", "share_start", circle="both", nickname="Ada"),
            ):
                await client.publish(f"{prefix}/mirror/mirror-1/events", payload, qos=1)
            state = await states(client, lambda s: s["remote_available"])
            look_id = state["look_id"]
            assert state["urls"]["remote"] == f"{relay.url}/v/{look_id}"
            await eventually(lambda: relay.board.get(look_id) is not None)
            async with friend.get(state["urls"]["remote"]) as page:
                assert page.status == 200 and "Wool coat" in await page.text()
            async with friend.post(f"{relay.url}/v/{look_id}/votes", json={"sku": "COAT-1", "value": "up"}) as r:
                assert r.status == 200, await r.text()
            state = await states(client, lambda s: s["tally"]["COAT-1"]["up"] == 1)
            assert state["advice"]["COAT-1"] > 0
            # a redelivered vote and a forged one change nothing
            key = relay.board.get(look_id).key  # type: ignore[union-attr]
            forged = signed_vote(look_id, "00" * 32, "v-forged", "s", "COAT-1", "down", 1.0)
            replay = signed_vote(look_id, key, "v-once", "s2", "COAT-1", "down", 1.0)
            for body in (forged, replay, replay):
                await client.publish(f"{votes_topic}/{look_id}", json.dumps(body), qos=1)
            state = await states(client, lambda s: s["tally"]["COAT-1"]["down"] == 1)
            await client.publish(f"{prefix}/mirror/mirror-1/events", mirror("r1", "share_stop"), qos=1)
            await eventually(lambda: relay.board.get(look_id) is None)  # the retained card was cleared
            async with friend.get(f"{relay.url}/v/{look_id}") as page:
                assert page.status == 404
            assert agent.snapshot()["social"]["votes_refused"] >= 1
            late = signed_vote(look_id, key, "v-late", "s3", "COAT-1", "up", 1.0)  # the look is over by now
            await client.publish(f"{votes_topic}/{look_id}", json.dumps(late), qos=1)
            await eventually(lambda: agent.snapshot()["social"]["votes_late"] == 1)
    rows = connect(config.db_path).execute("SELECT channel, value FROM social_votes ORDER BY value").fetchall()
    assert rows == [("remote", "down"), ("remote", "up")]  # the replay once, the forgery never


async def test_nothing_about_the_shopper_leaves_in_a_look_card(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    """An allow-list over every message the box sends up for friends elsewhere."""
    async with running_relay(mqtt_broker) as relay:
        config = remote_config(tmp_path, mqtt_broker, mqtt_broker, relay.url or "")
        prefix = config.topic_prefix
        async with (
            running_agent(Agent(config, [mirror_source(config)])),
            aiomqtt.Client("127.0.0.1", mqtt_broker.port) as client,
        ):
            await client.subscribe(f"retail/{config.store_id}/social/looks/+", qos=1)
            for payload in (
                mirror("p1", "session_start"), mirror("p1", "try_on", "COAT-1"), mirror("p1", "like", "COAT-2"),
                mirror("p1", "share_start", circle="remote", nickname="A"), mirror("p1", "try_on", "SHOE-1"),
            ):  # fmt: skip
                await client.publish(f"{prefix}/mirror/mirror-1/events", payload, qos=1)
            cards = []
            async for message in client.messages:
                cards.append(json.loads(message.payload))
                if len(cards[-1]["skus"]) == 3:
                    break
    for card in cards:
        assert set(card) == CARD_FIELDS and all(set(item) <= ITEM_FIELDS for item in card["skus"])
        text = json.dumps(card)
        for personal in ("c-ada", "Ada Lovelace", "gold", "mirror-1", "p1"):
            assert personal not in text, personal


async def test_the_mirror_is_told_when_friends_elsewhere_cannot_be_reached(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    with MosquittoBroker() as cloud:
        config = remote_config(tmp_path, mqtt_broker, cloud, "https://friends.example")
        prefix = config.topic_prefix
        async with (
            running_agent(Agent(config, [mirror_source(config)])) as agent,
            aiomqtt.Client("127.0.0.1", mqtt_broker.port) as client,
        ):
            await client.subscribe(f"{prefix}/mirror/mirror-1/social", qos=1)
            await eventually(lambda: agent.snapshot()["sources"]["mqtt-mirror"]["link"] == "connected")
            for payload in (mirror("n1", "try_on", "COAT-1"), mirror("n1", "share_start", circle="both")):
                await client.publish(f"{prefix}/mirror/mirror-1/events", payload, qos=1)
            await states(client, lambda s: s["remote_available"])
            cloud.stop()
            state = await states(client, lambda s: not s["remote_available"])
            assert state["urls"]["remote"] is None and state["urls"]["companions"]
