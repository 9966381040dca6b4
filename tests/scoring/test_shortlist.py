"""With a chain's catalog, the model scores a bounded shortlist: what touches this customer and
this moment first, then an even spread over the rest."""

from __future__ import annotations

from edge_agent.core.events import Customer, Offer
from edge_agent.scoring.rules import Context
from edge_agent.scoring.shortlist import LIMIT, shortlist

CATS = ("shoes", "bags", "outerwear", "beauty")
ADA = Customer("c-ada", "Ada", "gold", True, ("shoes",))


def catalog(n: int) -> list[Offer]:
    return [Offer(f"o-{i}", f"Offer {i}", CATS[i % 4], "discount", skus=(f"SKU-{i}",)) for i in range(n)]


def test_a_small_catalog_is_scored_whole() -> None:
    offers = catalog(LIMIT)
    assert shortlist(ADA, offers, Context("entrance", 10, 1)) == offers


def test_a_large_catalog_keeps_what_touches_the_customer_and_the_moment() -> None:
    offers = catalog(10_000)
    context = Context("fitting-rooms", 10, 1, try_ons=("SKU-1",), affinities=(("beauty", 2.0), ("bags", -1.0)))
    picked = shortlist(ADA, offers, context)
    assert len(picked) == LIMIT and len({o.offer_id for o in picked}) == LIMIT
    assert offers[1] in picked  # the coat she is trying on (its offer is in outerwear)
    assert {o.category for o in picked} >= {"shoes", "beauty"}  # preferred and learned
    assert shortlist(ADA, offers, context) == picked  # the same customer, the same choice


def test_the_rest_of_the_catalog_still_gets_a_chance() -> None:
    offers = catalog(300) + [Offer(f"x-{i}", "Other", "kids", "event") for i in range(5000)]
    picked = shortlist(ADA, offers, Context("entrance", 10, 1))
    shoes = [o for o in offers if o.category == "shoes"]
    assert set(shoes) <= set(picked)  # 75 shoe offers, all kept
    assert any(o.category == "kids" for o in picked)  # and a spread of everything else
