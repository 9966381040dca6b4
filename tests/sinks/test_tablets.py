"""The tablets' cards: typed, changed live, rendered to JSON in one place."""

from __future__ import annotations

import json

from edge_agent.core.cards import Activity, Card, Change, Friends, Item, Live, Patch
from edge_agent.core.events import Alert, AlertKind, ScoredOffer, SizeAsked
from edge_agent.sinks.tablets import AlertHub

NOW = 1_760_000_000.0  # a fixed moment: nothing here depends on the day it runs


def entry(alert_id: str, customer_id: str = "c-ada", ts: float = NOW) -> Alert:
    return Alert(alert_id, ts, customer_id, "Ada", "gold", "entrance", (ScoredOffer("o-1", "Coat", 0.91234, "r"),))


def size_request(alert_id: str, sku: str, customer_id: str = "c-ada", ts: float = NOW) -> Alert:
    asked = SizeAsked(sku, sku.title(), "M", "m1", "s1")
    return Alert(alert_id, ts, customer_id, "Ada", "gold", "fitting-rooms", (), kind=AlertKind.SIZE_REQUEST,
                 asked=asked)  # fmt: skip


async def hub_with(*alerts: Alert) -> tuple[AlertHub, list[tuple[int, Card | Patch]]]:
    hub = AlertHub()
    stream = hub.subscribe()
    for alert in alerts:
        await hub.deliver(alert)
    seen = []
    while not stream.empty():
        seen.append(stream.get_nowait())
    hub.unsubscribe(stream)
    hub.subscribe()  # a fresh stream for what follows
    return hub, seen


def card_of(hub: AlertHub, alert_id: str) -> Card:
    return next(c for c in hub.recent() if c.alert.alert_id == alert_id)


async def test_a_new_card_is_the_alert_for_staff_with_its_place_in_the_stream() -> None:
    hub, seen = await hub_with(entry("a1"), entry("a2", ts=NOW))  # same millisecond: ids still grow
    ids = [event_id for event_id, _ in seen]
    assert ids == [int(NOW * 1000), int(NOW * 1000) + 1]
    body = card_of(hub, "a1").to_json()
    assert body["alert_id"] == "a1" and body["event_id"] == ids[0] and body["action"] is None
    assert body["offers"] == [{"offer_id": "o-1", "title": "Coat", "score": 0.9123, "reason": "r"}]
    assert "zone" in body and body["zone"] == "entrance"
    json.dumps(body)  # what the stream and /api/alerts send


async def test_a_change_for_a_customer_goes_to_their_newest_entry_card_only() -> None:
    hub, _ = await hub_with(entry("old"), size_request("sr", "COAT-1"), entry("new", ts=NOW + 60))
    hub.update(Change(Live(zone="fitting-rooms"), customer_id="c-ada"))
    assert card_of(hub, "new").to_json()["zone"] == "fitting-rooms"
    assert card_of(hub, "old").to_json()["zone"] == "entrance"
    assert card_of(hub, "sr").live.zone is None


async def test_a_change_for_nobody_on_the_board_changes_nothing() -> None:
    hub, _ = await hub_with(entry("a1"))
    before = hub.recent()
    hub.update(Change(Live(left=True), customer_id="c-someone-else"))
    hub.update(Change(Live(action="ack"), alert_id="no-such-alert"))
    assert hub.recent() == before


async def test_every_sale_of_a_visit_is_listed_and_the_update_carries_them_all() -> None:
    hub = AlertHub()
    await hub.deliver(entry("a1"))
    stream = hub.subscribe()
    hub.update(Change(Live(bought=(Item("COAT-1", "Wool coat", 240.0),)), customer_id="c-ada"))
    hub.update(Change(Live(bought=(Item("SCARF-1", "Scarf", 30.0),)), customer_id="c-ada"))
    assert [i.sku for i in card_of(hub, "a1").live.bought] == ["COAT-1", "SCARF-1"]
    _, first = stream.get_nowait()
    _, second = stream.get_nowait()
    assert isinstance(first, Patch) and [i["sku"] for i in first.to_json()["bought"]] == ["COAT-1"]
    assert isinstance(second, Patch)
    assert second.to_json() == {
        "alert_id": "a1",
        "bought": [
            {"sku": "COAT-1", "title": "Wool coat", "amount": 240.0},
            {"sku": "SCARF-1", "title": "Scarf", "amount": 30.0},
        ],
    }


async def test_a_sale_closes_the_open_size_requests_for_what_was_bought_and_no_others() -> None:
    hub, _ = await hub_with(
        entry("visit"),
        size_request("coat", "COAT-1"),
        size_request("coat-again", "COAT-1"),
        size_request("boots", "BOOTS-1"),
        size_request("answered", "COAT-1"),
        size_request("someone-else", "COAT-1", customer_id="c-bob"),
    )
    hub.update(Change(Live(action="on_my_way"), alert_id="answered"))
    hub.update(Change(Live(action="bought"), customer_id="c-ada", requests_for=frozenset({"COAT-1"})))
    actions = {c.alert.alert_id: c.live.action for c in hub.recent()}
    assert actions == {"visit": None, "coat": "bought", "coat-again": "bought", "boots": None,
                       "answered": "on_my_way", "someone-else": None}  # fmt: skip


async def test_the_live_fields_render_as_the_interface_documents_them() -> None:
    hub, _ = await hub_with(entry("a1"))
    tried = (Item("COAT-1", "Wool coat"),)
    hub.update(Change(Live(mirror=Activity(tried=tried, disliked=(Item("HAT-1", "Hat"),))), customer_id="c-ada"))
    hub.update(Change(Live(friends=Friends(3, 1, 0.6)), customer_id="c-ada"))
    hub.update(Change(Live(offers=(ScoredOffer("o-2", "Scarf", 0.5, "liked"),)), alert_id="a1"))
    hub.update(Change(Live(left=True), customer_id="c-ada"))
    body = card_of(hub, "a1").to_json(action="accepted")  # the action staff stored wins
    assert body["mirror"] == {"tried": [{"sku": "COAT-1", "title": "Wool coat"}], "liked": [],
                              "disliked": [{"sku": "HAT-1", "title": "Hat"}]}  # fmt: skip
    assert body["friends"] == {"up": 3, "down": 1, "advice": 0.6}
    assert [o["offer_id"] for o in body["offers"]] == ["o-2"]
    assert body["left"] is True and body["action"] == "accepted"


async def test_a_card_comes_back_from_its_stored_alert_after_a_restart() -> None:
    alert = size_request("sr", "COAT-1")
    card = Card.stored(json.loads(json.dumps(alert.card())), 42)
    assert card.alert == alert and card.event_id == 42
    hub = AlertHub()
    hub.seed([card])
    await hub.deliver(entry("after", ts=0.001))  # a clock behind the stored cards still moves forward
    assert [c.event_id for c in hub.since(0)] == [42, 43]
    assert hub.knows("sr") and not hub.knows("nope")


async def test_a_forgotten_customer_leaves_the_board() -> None:
    hub, _ = await hub_with(entry("ada"), entry("bob", customer_id="c-bob"))
    hub.retain(lambda customer_id: customer_id != "c-ada")
    assert [c.alert.alert_id for c in hub.recent()] == ["bob"]
