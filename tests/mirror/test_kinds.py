"""Mirror event kinds: each is one module; a new one flows to the decoder, the profile, the
moment and the card without touching anything else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from edge_agent import mirror
from edge_agent.core.errors import DecodeError
from edge_agent.core.mirror import MirrorKind
from edge_agent.decoders.mirror import decode_mirror
from edge_agent.learning.profile import SIGNALS
from edge_agent.mirror import Kind, register, unregister
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sources.mqtt import mirror_source
from edge_agent.store import connect
from edge_agent.testing.store import running_agent
from edge_agent.testing.wait import eventually
from tests.runtime.test_learning import checkin, setup
from tests.runtime.test_learning import mirror as mirror_event

DOCS = Path(__file__).parents[2] / "docs" / "interface.md"


def test_every_built_in_kind_is_registered_and_documented() -> None:
    names = {kind.name for kind in mirror.kinds()}
    assert names >= set(MirrorKind)
    for name in names:
        assert f"`{name}`" in DOCS.read_text(), f"{name} has no line in docs/interface.md"


def test_what_each_built_in_kind_teaches_the_profile() -> None:
    assert {k: SIGNALS[k] for k in ("try_on", "like", "dislike", "size_request")} == {
        "try_on": 1.0, "like": 2.0, "dislike": -2.0, "size_request": 1.5
    }  # fmt: skip
    assert SIGNALS["purchase"] == 3.0 and "session_start" not in SIGNALS


def test_a_kind_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(Kind(MirrorKind.LIKE))


# --- a new kind: this block is the whole of what adding one takes (plus its line in the docs) ---
COMPLIMENT = Kind("compliment", sku=True, metric="mirror_compliments", teaches=2.0, evidence=True, shows="liked")


@pytest.fixture
def compliment() -> Iterator[Kind]:
    register(COMPLIMENT)
    try:
        yield COMPLIMENT
    finally:
        unregister(COMPLIMENT.name)


def test_an_unregistered_kind_is_refused_by_the_decoder() -> None:
    body = json.dumps({"event": "compliment", "session_id": "s1", "sku": "COAT-1"}).encode()
    with pytest.raises(DecodeError, match="unknown_event"):
        decode_mirror("m1", body)


def test_a_registered_kind_is_decoded_with_its_own_required_fields(compliment: Kind) -> None:
    event = decode_mirror("m1", json.dumps({"event": "compliment", "session_id": "s1", "sku": "COAT-1"}).encode())
    assert (event.event, event.sku) == ("compliment", "COAT-1")
    with pytest.raises(DecodeError, match="missing_field: sku"):
        decode_mirror("m1", json.dumps({"event": "compliment", "session_id": "s1"}).encode())


async def test_a_new_kind_flows_to_the_profile_the_moment_and_the_card(
    tmp_path: Path, mqtt_broker: MosquittoBroker, compliment: Kind
) -> None:
    config = setup(tmp_path, mqtt_broker)  # Ada's import says: shoes
    prefix = config.topic_prefix
    async with (
        running_agent(Agent(config, [mirror_source(config)])) as agent,
        aiomqtt.Client("127.0.0.1", mqtt_broker.port) as client,
    ):
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-mirror"]["link"] == "connected")
        await client.subscribe(f"{prefix}/alerts", qos=1)
        assert await checkin(agent.http_url or "", config, "compliments") == 200
        before = json.loads((await anext(client.messages)).payload)
        assert before["offers"][0]["offer_id"].startswith("o-shoes")
        for n in range(5):
            for sku in ("COAT-1", "COAT-2"):
                payload = mirror_event(f"s{n}", "compliment", sku)
                await client.publish(f"{prefix}/mirror/mirror-1/events", payload, qos=1)
        await eventually(lambda: agent.stats.device_events["mirror-1"] == 10)
        # The moment: her card's offers re-rank with the new evidence.
        while (moment := json.loads((await anext(client.messages)).payload)).get("kind") != "offers_updated":
            pass
        assert moment["offers"][0]["offer_id"] != before["offers"][0]["offer_id"]
        # The card: what she was complimented on shows as liked in this visit.
        cards = [c for c in agent.runtime.hub.recent() if c.alert.customer_id == "c-ada"] if agent.runtime else []
        assert cards and cards[-1].live.mirror is not None
        assert {item.sku for item in cards[-1].live.mirror.liked} == {"COAT-1", "COAT-2"}
    # The profile: outerwear learned from the new kind's signal; every event stored once.
    conn = connect(config.db_path)
    affinity = dict(conn.execute("SELECT category, score FROM affinities WHERE customer_id = 'c-ada'").fetchall())
    assert affinity["outerwear"] > 0
    stored = conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'mirror'").fetchone()[0]
    assert stored == 10
