"""Hints read like something a colleague would tell you, and follow the visit history."""

from __future__ import annotations

from edge_agent.learning.hints import owns_hints, visit_hints


def test_first_visit_regular_and_lapsed() -> None:
    assert [h.kind for h in visit_hints([], 100)] == ["first_visit"]
    assert [h.kind for h in visit_hints([100], 100)] == ["first_visit"]  # today's own visit does not count
    regular = visit_hints([60, 72, 84, 96], 108)
    assert [h.kind for h in regular] == ["regular"] and "usually every 12 days" in regular[0].text
    lapsed = visit_hints([0, 12, 24, 36], 36 + 63)
    assert [h.kind for h in lapsed] == ["lapsed"]
    assert lapsed[0].text == "Welcome back — usually every 12 days, last seen 9 weeks ago"
    assert visit_hints([0, 12], 20) == []  # neither new, nor regular, nor lapsed: nothing to say


def test_before_the_box_knows_them_the_crm_count_speaks() -> None:
    (hint,) = visit_hints([], 100, imported_visits_90d=12)
    assert hint.kind == "regular" and hint.text == "Regular — 12 visits in the last 90 days"
    assert visit_hints([], 100, imported_visits_90d=1) == []  # not new to the store, not a regular either


def test_owns_names_the_item_and_the_offer_that_goes_with_it() -> None:
    (hint,) = owns_hints([("COAT-1", "wool coat", 0.0)], [("Coat care kit", ["COAT-1", "COAT-2"])], 40 * 86400)
    assert hint.kind == "owns" and hint.text == "Bought the wool coat 5 weeks ago — “Coat care kit” goes with it"
    assert owns_hints([("SHOE-1", "trainers", 0.0)], [("Coat care kit", ["COAT-1"])], 0.0) == []
