"""Alert policy: eligibility, cooldown, quiet hours, frequency cap, a deterministic holdout."""

from __future__ import annotations

from datetime import date, datetime, time

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.config.agent import QuietHours, ScoringConfig
from edge_agent.core.events import Customer, Offer
from edge_agent.scoring.policy import AlertPolicy, in_holdout
from edge_agent.scoring.rules import TIERS, Context, RuleScorer, eligible
from edge_agent.testing.catalog import catalog_of

ADA = Customer("c-1", "Ada", "gold", True, ("shoes",), 7)
OFFERS = [
    Offer("o1", "Shoes 15%", "shoes", "discount"),
    Offer("o2", "Coat fitting", "outerwear", "service", min_tier="platinum"),
    Offer("o3", "Scarf", "accessories", "accessory"),
    Offer("o4", "Out of stock", "shoes", "discount", in_stock=False),
    Offer("o5", "Expired", "shoes", "discount", ends="2026-01-31"),
]
CATALOG = catalog_of(OFFERS)
NOON = datetime(2026, 11, 27, 12, 0).timestamp()
CTX = Context(zone="entrance", hour=12, weekday=4)


def policy(**kw: object) -> AlertPolicy:
    return AlertPolicy(ScoringConfig(holdout_pct=0, **kw), RuleScorer())  # type: ignore[arg-type]


def test_eligibility_checks_stock_tier_and_dates() -> None:
    today = date(2026, 11, 27)
    assert [o.offer_id for o in OFFERS if eligible(ADA, o, today)] == ["o1", "o3"]
    assert eligible(ADA, Offer("o6", "Future", "shoes", "discount", starts="2026-12-01"), today) is False
    assert eligible(ADA, Offer("o7", "Now", "shoes", "discount", starts="2026-11-27", ends="2026-11-27"), today)


def test_alert_has_top_k_eligible_offers_with_reasons() -> None:
    outcome = policy(top_k=2).decide(ADA, CATALOG, CTX, NOON)
    assert outcome.decision == "alert" and outcome.alert is not None
    assert [o.offer_id for o in outcome.alert.offers] == ["o1", "o3"]
    assert "likes shoes" in outcome.alert.offers[0].reason


def test_cooldown_suppresses_a_second_alert() -> None:
    p = policy(cooldown_s=1800)
    assert p.decide(ADA, CATALOG, CTX, NOON).decision == "alert"
    assert p.decide(ADA, CATALOG, CTX, NOON + 1799).decision == "cooldown"
    assert p.decide(ADA, CATALOG, CTX, NOON + 1800).decision == "alert"


def test_frequency_cap_per_day() -> None:
    p = policy(cooldown_s=60, max_alerts_per_day=2)
    assert [p.decide(ADA, CATALOG, CTX, NOON + i * 100).decision for i in range(3)] == [
        "alert",
        "alert",
        "frequency_cap",
    ]
    assert p.decide(ADA, CATALOG, CTX, NOON + 86400 + 1).decision == "alert"  # a new day


def test_quiet_hours_wrap_midnight() -> None:
    quiet = QuietHours.model_validate("21:00-08:00")
    assert quiet.contains(time(23, 0)) and quiet.contains(time(7, 59)) and not quiet.contains(time(8, 0))
    p = policy(quiet_hours=quiet)
    assert p.decide(ADA, CATALOG, CTX, datetime(2026, 11, 27, 22, 0).timestamp()).decision == "quiet_hours"
    assert p.decide(ADA, CATALOG, CTX, NOON).decision == "alert"


def test_holdout_is_deterministic_near_its_share_and_still_scored() -> None:
    ids = [f"c-{i}" for i in range(10_000)]
    share = sum(in_holdout(i, 10) for i in ids) / len(ids)
    assert 0.09 < share < 0.11
    assert [in_holdout(i, 10) for i in ids[:100]] == [in_holdout(i, 10) for i in ids[:100]]
    held = next(i for i in ids if in_holdout(i, 10))
    p = AlertPolicy(ScoringConfig(holdout_pct=10), RuleScorer())
    outcome = p.decide(Customer(held, "X", "gold", True), CATALOG, CTX, NOON)
    assert outcome.decision == "holdout"
    assert outcome.alert is not None and outcome.alert.offers  # recorded for uplift, never sent


@given(
    st.lists(
        st.tuples(
            st.sampled_from(TIERS),
            st.booleans(),
            st.one_of(st.none(), st.sampled_from(["2026-11-01", "2026-12-03", "2027-01-01"])),
            st.one_of(st.none(), st.sampled_from(["2026-11-30", "2026-12-03", "2027-02-01"])),
        ),
        max_size=40,
    ),
    st.sampled_from(TIERS),
    st.sampled_from([date(2026, 11, 15), date(2026, 12, 3), date(2027, 1, 15)]),
)
def test_the_catalog_query_admits_exactly_what_eligible_does_in_catalog_order(
    rows: list[tuple[str, bool, str | None, str | None]], tier: str, today: date
) -> None:
    offers = [
        Offer(f"o-{n}", "t", "c", "discount", t, stock, (), starts=s, ends=e) for n, (t, stock, s, e) in enumerate(rows)
    ]
    who = Customer("c-1", "Ada", tier, True)
    found = catalog_of(offers).candidates(who, today, Context("entrance", 12, 3))
    assert found == [o for o in offers if eligible(who, o, today)]
