"""The store learns each consenting customer from the mirror, the till and staff — and forgets on request."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from edge_agent.config.agent import AgentConfig
from edge_agent.learning.profile import AFFINITY_CAP
from edge_agent.presence.checkin import make_token
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sources.mqtt import mirror_source, pos_source
from edge_agent.store import connect
from edge_agent.testing.store import running_agent, seeded_config
from edge_agent.testing.wait import eventually

PRODUCTS = [
    {"sku": "COAT-1", "title": "Wool coat", "category": "outerwear", "price": 189},
    {"sku": "COAT-2", "title": "Rain jacket", "category": "outerwear", "price": 120},
    {"sku": "SHOE-1", "title": "Running shoe", "category": "shoes", "price": 90},
    {"sku": "SCARF-1", "title": "Cashmere scarf", "category": "accessories", "price": 60, "accessory_of": "COAT-1"},
]
OFFERS = [
    {"offer_id": "o-shoes", "title": "15% off running shoes", "category": "shoes", "kind": "discount", "value": "15%"},
    {"offer_id": "o-shoes-2", "title": "Trail shoes event", "category": "shoes", "kind": "event"},
    {"offer_id": "o-coat", "title": "Personal coat fitting", "category": "outerwear", "kind": "service"},
    {
        "offer_id": "o-jacket",
        "title": "10% off rain jackets",
        "category": "outerwear",
        "kind": "discount",
        "value": "10%",
    },
    {"offer_id": "o-care", "title": "Coat care kit", "category": "accessories", "kind": "accessory", "skus": "COAT-1"},
    {"offer_id": "o-bag", "title": "Tote bag", "category": "bags", "kind": "discount", "value": "5%"},
]


def setup(tmp_path: Path, broker: MosquittoBroker) -> AgentConfig:
    config = seeded_config(
        tmp_path, mqtt={"url": broker.url}, scoring={"holdout_pct": 0, "cooldown_s": 0, "max_alerts_per_day": 100}
    )
    conn = connect(config.db_path)
    for device, profile in (("mirror-1", "smart-mirror"), ("till-1", "pos-terminal")):
        conn.execute(
            "INSERT INTO devices(id, profile, transport, created_at) VALUES (?, ?, 'mqtt', 0)", (device, profile)
        )
    conn.close()
    from edge_agent.field.imports import import_offers, import_products

    (tmp_path / "products.json").write_text(json.dumps(PRODUCTS))
    (tmp_path / "offers2.json").write_text(json.dumps(OFFERS))
    conn = connect(config.db_path)
    assert import_products(conn, tmp_path / "products.json").ok
    conn.execute("DELETE FROM offers")
    assert import_offers(conn, tmp_path / "offers2.json").ok
    conn.close()
    return config


LEARNED = b"c-adaouterwear"  # the two text fields of an `affinities` record, side by side on disk


def files(config: AgentConfig) -> bytes:
    return b"".join(p.read_bytes() for p in config.db_path.parent.glob("edge-agent.db*") if p.is_file())


def mirror(session: str, kind: str, sku: str | None = None, **extra: Any) -> bytes:
    body: dict[str, Any] = {"event": kind, "session_id": session, "ts": time.time(), "customer_ref": "c-ada", **extra}
    if sku:
        body["sku"] = sku
    return json.dumps(body).encode()


async def checkin(url: str, config: AgentConfig, nonce: str) -> int:
    token = make_token(config.checkin.key, "c-ada", config.store_id, int(time.time()) + 120, nonce)
    async with aiohttp.ClientSession() as http, http.post(f"{url}/api/checkin", json={"token": token}) as r:
        return r.status


async def test_a_customer_whose_taste_moved_gets_offers_for_what_they_now_like(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = setup(tmp_path, mqtt_broker)  # Ada's import says: shoes
    prefix = config.topic_prefix
    sources = [mirror_source(config), pos_source(config)]
    async with running_agent(Agent(config, sources)) as agent, aiomqtt.Client("127.0.0.1", mqtt_broker.port) as client:
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-pos"]["link"] == "connected")
        await client.subscribe(f"{prefix}/alerts", qos=1)
        assert await checkin(agent.http_url or "", config, "before") == 200
        before = json.loads((await anext(client.messages)).payload)
        assert before["offers"][0]["offer_id"].startswith("o-shoes")  # what the CRM said
        for n in range(5):
            session = f"s{n}"
            for payload in (
                mirror(session, "session_start"),
                mirror(session, "try_on", "COAT-1"),
                mirror(session, "like", "COAT-1"),
                mirror(session, "dislike", "SHOE-1"),
                mirror(session, "like", "COAT-2"),
                mirror(session, "session_end"),
            ):
                await client.publish(f"{prefix}/mirror/mirror-1/events", payload, qos=1)
        sale = {"sale_id": "T-1", "customer_ref": "c-ada", "lines": [{"sku": "COAT-1", "qty": 1, "amount": 189.0}]}
        await client.publish(f"{prefix}/pos/till-1/sales", json.dumps(sale), qos=1)
        await eventually(
            lambda: agent.stats.device_events["till-1"] == 1 and agent.stats.device_events["mirror-1"] == 30
        )
        await eventually(lambda: bool(connect(config.db_path).execute("SELECT 1 FROM owned").fetchone()))
        # While she is still in the store, the mirror's evidence re-ranks her card in the moment.
        while (moment := json.loads((await anext(client.messages)).payload)).get("kind") != "offers_updated":
            pass
        assert moment["offers"][0]["offer_id"] != before["offers"][0]["offer_id"]
    # Her next visit (another day: a fresh agent) starts from what the store learned.
    async with running_agent(Agent(config, [])) as agent, aiomqtt.Client("127.0.0.1", mqtt_broker.port) as client:
        await client.subscribe(f"{prefix}/alerts", qos=1)
        assert await checkin(agent.http_url or "", config, "after") == 200
        after = json.loads((await anext(client.messages)).payload)
    top = [o["offer_id"] for o in after["offers"]]
    assert top[0] in ("o-coat", "o-jacket"), top  # outerwear leads now
    assert not {"o-shoes", "o-shoes-2"} & set(top), top  # and no shoe offer in the top three
    kinds = {h["kind"] for h in after["hints"]}
    assert "owns" not in kinds or any("Wool coat" in h["text"] for h in after["hints"])
    conn = connect(config.db_path)
    affinity = dict(conn.execute("SELECT category, score FROM affinities WHERE customer_id = 'c-ada'").fetchall())
    assert affinity["outerwear"] == pytest.approx(AFFINITY_CAP) and affinity["shoes"] < -5  # a state, not a tally
    (grp, visit) = conn.execute("SELECT grp, visit_id FROM sales WHERE sale_id = 'T-1'").fetchone()
    assert grp == "treatment" and visit is not None  # attributed to the visit it followed


async def test_a_redelivered_mirror_event_or_sale_teaches_nothing_more(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    """The same bytes again (a QoS 1 redelivery after a crash) leave the learned profile as it was."""
    config = setup(tmp_path, mqtt_broker)
    prefix = config.topic_prefix
    like = mirror("s1", "like", "COAT-1")
    sale = json.dumps({"sale_id": "T-9", "customer_ref": "c-ada", "lines": [{"sku": "SHOE-1", "qty": 1, "amount": 90}]})

    def learned() -> dict[str, float]:
        conn = connect(config.db_path)
        try:
            return dict(conn.execute("SELECT category, score FROM affinities WHERE customer_id = 'c-ada'").fetchall())
        finally:
            conn.close()

    async with (
        running_agent(Agent(config, [mirror_source(config), pos_source(config)])) as agent,
        aiomqtt.Client("127.0.0.1", mqtt_broker.port) as client,
    ):
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-pos"]["link"] == "connected")
        await client.publish(f"{prefix}/mirror/mirror-1/events", like, qos=1)
        await client.publish(f"{prefix}/pos/till-1/sales", sale, qos=1)
        await eventually(lambda: learned().keys() == {"outerwear", "shoes"})
        once = learned()
        await client.publish(f"{prefix}/mirror/mirror-1/events", like, qos=1)
        await client.publish(f"{prefix}/pos/till-1/sales", sale, qos=1)
        await eventually(
            lambda: agent.stats.device_events["mirror-1"] == 2 and agent.stats.device_events["till-1"] == 2
        )
        await client.publish(f"{prefix}/mirror/mirror-1/events", mirror("s1", "session_end"), qos=1)
        await eventually(lambda: agent.stats.device_events["mirror-1"] == 3)  # committed in order after the rest
    assert once == {"outerwear": pytest.approx(2.0), "shoes": pytest.approx(3.0)}
    assert learned() == once


async def test_sales_over_http_are_deduplicated_and_bad_ones_refused(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = setup(tmp_path, mqtt_broker)
    headers = {"Authorization": f"Bearer {config.http.staff_token}"}
    sale = {"sale_id": "B-7", "customer_ref": None, "lines": [{"sku": "SCARF-1", "qty": 2, "amount": 120}]}
    async with running_agent(Agent(config)) as agent, aiohttp.ClientSession(headers=headers) as http:
        url = agent.http_url
        async with http.post(f"{url}/api/pos/sales", json=sale) as r:
            assert r.status == 200 and (await r.json())["duplicate"] is False
        async with http.post(f"{url}/api/pos/sales", json=sale) as r:
            assert r.status == 200 and (await r.json())["duplicate"] is True
        for bad in ({"sale_id": "x"}, {**sale, "lines": [{"sku": "A", "qty": 0, "amount": 1}]}, {**sale, "lines": []}):
            async with http.post(f"{url}/api/pos/sales", json=bad) as r:
                assert r.status == 400
        async with aiohttp.ClientSession() as anonymous, anonymous.post(f"{url}/api/pos/sales", json=sale) as r:
            assert r.status == 401
    conn = connect(config.db_path)
    assert conn.execute("SELECT COUNT(*), SUM(amount) FROM sales").fetchone() == (1, 120.0)
    totals = dict(conn.execute("SELECT labels, value FROM open_counts WHERE name = 'sales_amount'").fetchall())
    assert totals == {'{"group":"unattributed"}': 120.0}


async def test_consent_withdrawal_stops_recognition_at_once_and_erases_what_was_learned(
    cli, tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = setup(tmp_path, mqtt_broker)
    prefix = config.topic_prefix
    async with (
        running_agent(Agent(config, [mirror_source(config)])) as agent,
        aiomqtt.Client("127.0.0.1", mqtt_broker.port) as c,
    ):
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-mirror"]["link"] == "connected")
        for payload in (mirror("w", "try_on", "COAT-1"), mirror("w", "like", "COAT-1")):
            await c.publish(f"{prefix}/mirror/mirror-1/events", payload, qos=1)
        assert await checkin(agent.http_url or "", config, "a") == 200
        await eventually(lambda: agent.stats.counters["entries_alert"] == 1)
        await eventually(lambda: bool(connect(config.db_path).execute("SELECT 1 FROM affinities").fetchone()))
        assert LEARNED in files(config)  # what the erasure must remove: Ada's affinity record, on disk
        token = make_token(config.checkin.key, "c-ada", config.store_id, int(time.time()) + 120, "w1", consent=False)
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{agent.http_url}/api/consent", json={"token": token}) as r,
        ):
            assert r.status == 200 and (await r.json()) == {"ok": True, "consent": False}
        assert await checkin(agent.http_url or "", config, "b") == 200  # answered, but nobody is recognised
        assert agent.stats.counters["checkins_unrecognised"] == 1 and agent.stats.counters["entries_alert"] == 1
        db = connect(config.db_path)
        tables = ("affinities", "visits", "visit_days", "alerts", "owned")
        held = {t: db.execute(f"SELECT COUNT(*) FROM {t} WHERE customer_id = 'c-ada'").fetchone()[0] for t in tables}
        assert set(held.values()) == {0}, held
        assert LEARNED not in files(config)  # the database, its WAL and shared memory
        given = await asyncio.to_thread(
            cli, "customer", "consent", "c-ada", "--give", "--config", tmp_path / "agent.yaml"
        )
        assert given.code == 0 and "applied it at once" in given.out, given.out + given.err
        assert await checkin(agent.http_url or "", config, "c") == 200
        await eventually(lambda: agent.stats.counters["entries_alert"] == 2)
    shown = cli("customer", "show", "c-ada", "--json", "--config", tmp_path / "agent.yaml")
    export = json.loads(shown.out)
    assert export["customer"]["consent"] is True and len(export["visits"]) == 1 and export["affinities"] == []
