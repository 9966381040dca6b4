"""Friends' advice at the mirror, end to end: a real broker, the running agent, its HTTP vote page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt

from edge_agent.config.agent import AgentConfig
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.social.trust import UNKNOWN_WEIGHT
from edge_agent.sources.mqtt import mirror_source
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
