"""Business rules around scoring: who gets an alert, when, and with which offers."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ..config import ScoringConfig
from ..model import Alert, Customer, Offer
from .rules import Context, Scorer, eligible

Decision = Literal["alert", "cooldown", "quiet_hours", "holdout", "no_offers"]


def in_holdout(customer_id: str, pct: float) -> bool:
    """Deterministic holdout: the same customer is always in or out, on every box."""
    digest = hashlib.sha256(f"edge-agent/holdout/v1|{customer_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 * 100 < pct


def load_offers(conn: sqlite3.Connection) -> list[Offer]:
    return [
        Offer(oid, title, cat, kind, min_tier, bool(stock), tuple(json.loads(skus)), value, starts, ends)
        for oid, title, cat, kind, min_tier, stock, skus, value, starts, ends in conn.execute(
            "SELECT offer_id, title, category, kind, min_tier, in_stock, skus, value, starts, ends FROM offers"
        )
    ]


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: Decision
    alert: Alert | None = None


class AlertPolicy:
    """Decides whether a known customer's entry becomes an alert, and scores its offers."""

    def __init__(self, config: ScoringConfig, scorer: Scorer, *, clock: type[datetime] = datetime) -> None:
        self._config = config
        self._scorer = scorer
        self._last_alert: dict[str, float] = {}
        self._clock = clock

    def remember(self, customer_id: str, ts: float) -> None:
        """Seed cooldowns from alerts sent before a restart."""
        self._last_alert[customer_id] = max(ts, self._last_alert.get(customer_id, 0.0))

    def decide(
        self, customer: Customer, zone: str, offers: Sequence[Offer], ts: float, dwell_s: float = 0.0
    ) -> Outcome:
        last = self._last_alert.get(customer.customer_id)
        if last is not None and ts - last < self._config.cooldown_s:
            return Outcome("cooldown")
        local = self._clock.fromtimestamp(ts)
        quiet = self._config.quiet_hours
        if quiet is not None and quiet.contains(local.time()):
            return Outcome("quiet_hours")
        if in_holdout(customer.customer_id, self._config.holdout_pct):
            self._last_alert[customer.customer_id] = ts
            return Outcome("holdout")
        candidates = [o for o in offers if eligible(customer, o)]
        context = Context(zone=zone, hour=local.hour, weekday=local.weekday(), dwell_s=dwell_s)
        scored = self._scorer.score(customer, candidates, context)[: self._config.top_k]
        self._last_alert[customer.customer_id] = ts
        alert = Alert(
            alert_id=uuid.uuid4().hex,
            ts=time.time(),
            customer_id=customer.customer_id,
            display_name=customer.display_name,
            tier=customer.tier,
            zone=zone,
            offers=tuple(scored),
        )
        return Outcome("alert", alert)
