"""A mirror session remembers what was tried, liked and disliked — the newest of each, bounded."""

from __future__ import annotations

import time

from edge_agent.core.events import MirrorEvent
from edge_agent.scoring.mirror import SESSION_SKUS, MirrorAdvisor
from edge_agent.scoring.rules import RuleScorer
from edge_agent.testing.catalog import catalog_of

NO_OFFERS = catalog_of([])


def test_a_session_keeps_the_newest_skus_of_each_kind_and_no_more() -> None:
    advisor = MirrorAdvisor(RuleScorer(), top_k=3)
    now = time.time()
    for n in range(SESSION_SKUS * 3):
        advisor.observe(MirrorEvent("m1", "try_on", "s1", now + n, f"SKU-{n}"), None, NO_OFFERS, "fitting_rooms")
        again = MirrorEvent("m1", "try_on", "s1", now + n, f"SKU-{n}")
        advisor.observe(again, None, NO_OFFERS, "fitting_rooms")
    advisor.observe(MirrorEvent("m1", "dislike", "s1", now, "SKU-0"), None, NO_OFFERS, "fitting_rooms")
    session = advisor.session("m1", "s1")
    assert session is not None
    assert session.try_ons == [f"SKU-{n}" for n in range(SESSION_SKUS * 2, SESSION_SKUS * 3)]
    assert session.dislikes == ["SKU-0"] and session.likes == []
    advisor.observe(MirrorEvent("m1", "session_end", "s1", now), None, NO_OFFERS, "fitting_rooms")
    assert advisor.session("m1", "s1") is None
