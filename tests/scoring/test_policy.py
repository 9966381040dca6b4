"""Alert policy: cooldown, quiet hours, a deterministic holdout, top-k offers with reasons."""

from __future__ import annotations

from datetime import datetime, time

from edge_agent.config import QuietHours, ScoringConfig
from edge_agent.model import Customer, Offer
from edge_agent.scoring.policy import AlertPolicy, in_holdout
from edge_agent.scoring.rules import RuleScorer

ADA = Customer("c-1", "Ada", "gold", True, ("shoes",), 7)
OFFERS = [
    Offer("o1", "Shoes 15%", "shoes", "discount"),
    Offer("o2", "Coat fitting", "outerwear", "service", min_tier="platinum"),
    Offer("o3", "Scarf", "accessories", "accessory"),
    Offer("o4", "Out of stock", "shoes", "discount", in_stock=False),
]
NOON = datetime(2026, 11, 27, 12, 0).timestamp()


def policy(**kw: object) -> AlertPolicy:
    return AlertPolicy(ScoringConfig(holdout_pct=0, **kw), RuleScorer())  # type: ignore[arg-type]


def test_alert_has_top_k_eligible_offers_with_reasons() -> None:
    outcome = policy(top_k=2).decide(ADA, "entrance", OFFERS, NOON)
    assert outcome.decision == "alert" and outcome.alert is not None
    assert [o.offer_id for o in outcome.alert.offers] == ["o1", "o3"]
    assert "likes shoes" in outcome.alert.offers[0].reason


def test_cooldown_suppresses_a_second_alert() -> None:
    p = policy(cooldown_s=1800)
    assert p.decide(ADA, "entrance", OFFERS, NOON).decision == "alert"
    assert p.decide(ADA, "entrance", OFFERS, NOON + 1799).decision == "cooldown"
    assert p.decide(ADA, "entrance", OFFERS, NOON + 1800).decision == "alert"


def test_quiet_hours_wrap_midnight() -> None:
    quiet = QuietHours.model_validate("21:00-08:00")
    assert quiet.contains(time(23, 0)) and quiet.contains(time(7, 59)) and not quiet.contains(time(8, 0))
    p = policy(quiet_hours=quiet)
    assert p.decide(ADA, "entrance", OFFERS, datetime(2026, 11, 27, 22, 0).timestamp()).decision == "quiet_hours"
    assert p.decide(ADA, "entrance", OFFERS, NOON).decision == "alert"


def test_holdout_is_deterministic_and_near_its_share() -> None:
    ids = [f"c-{i}" for i in range(10_000)]
    share = sum(in_holdout(i, 10) for i in ids) / len(ids)
    assert 0.09 < share < 0.11
    assert [in_holdout(i, 10) for i in ids[:100]] == [in_holdout(i, 10) for i in ids[:100]]
    held = next(i for i in ids if in_holdout(i, 10))
    p = AlertPolicy(ScoringConfig(holdout_pct=10), RuleScorer())
    assert p.decide(Customer(held, "X", "gold", True), "entrance", OFFERS, NOON).decision == "holdout"
