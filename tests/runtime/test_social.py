"""Friends' advice at the mirror, end to end: a real broker, the running agent, its HTTP vote page."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt

from edge_agent.config.agent import AgentConfig
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.social.trust import UNKNOWN_WEIGHT
from edge_agent.sources.mqtt import mirror_source, pos_source
from edge_agent.store import connect
from edge_agent.testing.store import running_agent
from edge_agent.testing.wait import eventually

from .test_learning import mirror, setup

SOCIAL_ALLOWED = {"look_id", "session_id", "urls", "remote_available", "expires_at", "state", "tally", "advice"}


async def next_social(messages: Any) -> dict[str, Any]:
    return json.loads((await anext(messages)).payload)


async def test_a_shared_look_is_voted_on_from_a_phone_and_the_mirror_and_the_card_hear_it(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = _config(tmp_path, mqtt_broker)
    prefix = config.topic_prefix
    async with (
        running_agent(Agent(config, [mirror_source(config)])) as agent,
        aiomqtt.Client("127.0.0.1", mqtt_broker.port) as client,
    ):
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-mirror"]["link"] == "connected")
        await client.subscribe(f"{prefix}/mirror/mirror-1/social", qos=1)
        for payload in (
            mirror("s1", "session_start"),
            mirror("s1", "try_on", "COAT-1"),
            mirror("s1", "share_start", circle="companions", nickname="<b>Ada</b>"),
        ):
            await client.publish(f"{prefix}/mirror/mirror-1/events", payload, qos=1)
        state = await next_social(client.messages)
        assert set(state) <= SOCIAL_ALLOWED and state["remote_available"] is False and state["urls"]["remote"] is None
        assert state["tally"] == {"COAT-1": {"up": 0, "down": 0, "other_size": 0, "other_colour": 0}}
        url = state["urls"]["companions"]
        token = url.rsplit("/", 1)[1]
        assert len(token) >= 22  # ≥ 128 bits
        base = f"{agent.http_url}/v/{token}"
        assert url == base  # the companions' link is the box's own address and port
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as phone:
            async with phone.get(base) as page:
                assert page.status == 200
                assert page.headers["Referrer-Policy"] == "no-referrer" and "noindex" in page.headers["X-Robots-Tag"]
                html = await page.text()
                assert "&lt;b&gt;Ada&lt;/b&gt;" in html and "<b>Ada</b>" not in html  # a nickname is text
            async with phone.get(f"{base}/tally") as r:
                assert r.status == 403  # the tally only after voting
            async with phone.post(f"{base}/votes", json={"sku": "COAT-1", "value": "up"}) as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["tally"]["COAT-1"]["up"] == 1
            async with phone.post(f"{base}/votes", json={"sku": "COAT-1", "value": "down"}) as r:
                assert r.status == 429  # one vote per second per seat
            async with phone.post(f"{base}/votes", json={"sku": "COAT-1", "value": "up", "name": "x"}) as r:
                assert r.status == 400
            async with phone.get(f"{base}/tally") as r:
                assert r.status == 200
        while (state := await next_social(client.messages))["tally"]["COAT-1"]["up"] != 1:
            pass
        assert state["advice"]["COAT-1"] > 0
        advice = UNKNOWN_WEIGHT / (UNKNOWN_WEIGHT + 1)
        assert abs(state["advice"]["COAT-1"] - round(advice, 3)) < 1e-9
        # the mirror's guest buttons are a second path
        await client.publish(
            f"{prefix}/mirror/mirror-1/events", mirror("s1", "friend_vote", "COAT-1", value="down"), qos=1
        )
        while (state := await next_social(client.messages))["tally"]["COAT-1"]["down"] != 1:
            pass
        await client.publish(f"{prefix}/mirror/mirror-1/events", mirror("s1", "share_stop"), qos=1)
        while (state := await next_social(client.messages))["state"] != "stopped":
            pass
        assert state["urls"]["companions"] is None
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as phone:
            async with phone.post(f"{base}/votes", json={"sku": "COAT-1", "value": "up"}) as r:
                assert r.status == 410
            async with phone.get(f"{agent.http_url}/v/not-a-token") as r:
                assert r.status == 404
    votes = connect(config.db_path).execute("SELECT channel, value FROM social_votes ORDER BY ts").fetchall()
    assert votes == [("companion", "up"), ("mirror", "down")]


async def test_guessing_tokens_is_rate_limited_per_client(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    config = _config(tmp_path, mqtt_broker)
    async with running_agent(Agent(config, [])) as agent, aiohttp.ClientSession() as http:
        statuses = []
        for n in range(25):
            async with http.get(f"{agent.http_url}/v/guess-{n}") as r:
                statuses.append(r.status)
    assert statuses[:20] == [404] * 20 and set(statuses[20:]) == {429}


def _config(tmp_path: Path, broker: MosquittoBroker) -> AgentConfig:
    return setup(tmp_path, broker)


async def test_a_remembered_friend_earns_trust_is_listed_as_a_pseudonym_and_is_erased(
    tmp_path: Path, mqtt_broker: MosquittoBroker, cli: Any
) -> None:
    config = _config(tmp_path, mqtt_broker)
    config = config.model_copy(
        update={
            "outcomes": config.outcomes.model_copy(update={"attribution_window_s": 1}),
            "social": config.social.model_copy(update={"ttl_after_session_s": 1}),
        }
    )
    prefix, key = config.topic_prefix, "ab" * 32
    async with (
        running_agent(Agent(config, [mirror_source(config), pos_source(config)])) as agent,
        aiomqtt.Client("127.0.0.1", mqtt_broker.port) as client,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as phone,
    ):
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-pos"]["link"] == "connected")
        await client.subscribe(f"{prefix}/mirror/mirror-1/social", qos=1)
        for payload in (mirror("v1", "try_on", "COAT-1"), mirror("v1", "try_on", "COAT-2"),
                        mirror("v1", "share_start", circle="both")):  # fmt: skip
            await client.publish(f"{prefix}/mirror/mirror-1/events", payload, qos=1)
        state = await next_social(client.messages)
        base = f"{agent.http_url}/v/{state['urls']['companions'].rsplit('/', 1)[1]}"
        async with phone.get(base) as page:
            assert page.status == 200
        async with phone.post(f"{base}/remember", json={"key": key}) as r:
            assert (await r.json()) == {"remembered": True}
        async with phone.post(f"{base}/votes", json={"sku": "COAT-1", "value": "up"}) as r:
            assert r.status == 200
        await asyncio.sleep(1.05)  # the next vote of this seat, a second later
        async with phone.post(f"{base}/votes", json={"sku": "COAT-2", "value": "up"}) as r:
            assert r.status == 200
        sale = {"sale_id": "T-1", "customer_ref": "c-ada", "lines": [{"sku": "COAT-1", "qty": 1, "amount": 189.0}]}
        await client.publish(f"{prefix}/pos/till-1/sales", json.dumps(sale), qos=1)
        await eventually(lambda: agent.stats.device_events["till-1"] == 1)
        await client.publish(f"{prefix}/mirror/mirror-1/events", mirror("v1", "session_end"), qos=1)
        await eventually(lambda: _friends(config) != [])
    alpha, beta, visits = _friends(config)[0]
    assert (alpha, beta, visits) == (4.0, 3.0, 1)  # COAT-1 bought (agreed), COAT-2 tried and not bought (disagreed)
    shown = json.loads(cli("customer", "show", "c-ada", "--json", "--config", tmp_path / "agent.yaml").out)
    [friend] = shown["friends"]
    assert friend["friend"].startswith("friend-") and key not in json.dumps(shown)
    assert friend["weight"] == round(math.log(4 / 3), 3)
    hashed = connect(config.db_path).execute("SELECT friend FROM social_friends").fetchone()[0]
    forgotten = cli("customer", "forget", "c-ada", "--yes", "--config", tmp_path / "agent.yaml")
    assert forgotten.code == 0
    on_disk = b"".join(p.read_bytes() for p in config.db_path.parent.glob("edge-agent.db*") if p.is_file())
    assert hashed.encode() not in on_disk and state["look_id"].encode() not in on_disk


@asynccontextmanager
async def a_shared_look(
    config: AgentConfig, session: str
) -> AsyncIterator[tuple[Agent, aiomqtt.Client, aiohttp.ClientSession, str]]:
    """The agent running; Ada tries the wool coat on at mirror-1 and shares it with her companions.
    Yields the agent, a client on the store broker, a companion's phone and the companions' link."""
    prefix = config.topic_prefix
    async with (
        running_agent(Agent(config, [mirror_source(config)])) as agent,
        aiomqtt.Client("127.0.0.1", int(config.mqtt.url.rsplit(":", 1)[1])) as client,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as phone,
    ):
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-mirror"]["link"] == "connected")
        await client.subscribe(f"{prefix}/mirror/mirror-1/social", qos=1)
        for payload in (mirror(session, "try_on", "COAT-1"), mirror(session, "share_start", circle="companions")):
            await client.publish(f"{prefix}/mirror/mirror-1/events", payload, qos=1)
        yield agent, client, phone, (await next_social(client.messages))["urls"]["companions"]


async def test_a_friends_forget_me_erases_their_record_for_every_shopper(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config, key = _config(tmp_path, mqtt_broker), "cd" * 32
    async with a_shared_look(config, "f1") as (_, _, phone, base):
        async with phone.get(base):
            pass
        async with phone.post(f"{base}/remember", json={"key": key}) as r:
            assert (await r.json()) == {"remembered": True}
        conn = connect(config.db_path)
        conn.execute("INSERT INTO social_friends VALUES ('c-bob', (SELECT friend FROM social_seats), 5, 2, 3, 0)")
        conn.commit()
        async with phone.post(f"{base}/forget", json={"key": key}) as r:
            assert r.status == 200
        assert conn.execute("SELECT count(*) FROM social_friends").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM social_seats WHERE friend IS NOT NULL").fetchone() == (0,)
        async with phone.post(f"{base}/forget", json={"key": "not hex"}) as r:
            assert r.status == 400


def _friends(config: AgentConfig) -> list[tuple[float, float, int]]:
    conn = connect(config.db_path)
    try:
        return conn.execute("SELECT alpha, beta, visits FROM social_friends").fetchall()
    finally:
        conn.close()


async def test_a_forgotten_shoppers_look_leaves_the_running_box_at_once(
    tmp_path: Path, mqtt_broker: MosquittoBroker, cli: Any
) -> None:
    config = _config(tmp_path, mqtt_broker)
    async with a_shared_look(config, "g1") as (agent, _, phone, base):
        async with phone.get(base) as page:
            assert page.status == 200
        forgotten = await asyncio.to_thread(
            cli, "customer", "forget", "c-ada", "--yes", "--config", tmp_path / "agent.yaml"
        )
        assert forgotten.code == 0
        await eventually(lambda: agent.snapshot()["social"]["looks_held"] == 0)
        async with phone.get(base) as page:
            assert page.status == 404
