"""Business rules around scoring: who gets an alert, when, and with which offers."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ..config.agent import ScoringConfig
from ..core.events import Alert, Customer, ScoredOffer
from .catalog import OfferCatalog
from .rules import Context, Scorer

Decision = Literal["alert", "cooldown", "quiet_hours", "frequency_cap", "holdout"]


def in_holdout(customer_id: str, pct: float) -> bool:
    """Deterministic holdout: the same customer is always in or out, on every box."""
    digest = hashlib.sha256(f"edge-agent/holdout/v1|{customer_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 * 100 < pct


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: Decision
    alert: Alert | None = None


class AlertPolicy:
    """Decides whether a known customer's entry becomes an alert, and scores its offers.

    Holdout customers are scored like everyone else, so what they would have been shown is
    recorded for uplift, but they never get an alert.
    """

    def __init__(self, config: ScoringConfig, scorer: Scorer) -> None:
        self._config = config
        self.scorer = scorer
        self._history: dict[str, list[float]] = {}

    def remember(self, customer_id: str, ts: float) -> None:
        """Seed cooldowns and caps from alerts sent before a restart."""
        self._history.setdefault(customer_id, []).append(ts)

    def retain(self, keep: Callable[[str], bool]) -> None:
        """Drop the history of customers who were forgotten or withdrew consent."""
        self._history = {c: h for c, h in self._history.items() if keep(c)}

    def rank(
        self,
        customer: Customer,
        catalog: OfferCatalog,
        context: Context,
        ts: float,
        rerank: Callable[[list[ScoredOffer]], list[ScoredOffer]] | None = None,
    ) -> list[ScoredOffer]:
        """The top-k eligible offers for this customer in this context (no cooldown or cap)."""
        candidates = catalog.candidates(customer, datetime.fromtimestamp(ts).date(), context)
        ranked = self.scorer.score(customer, candidates, context)
        return (rerank(ranked) if rerank is not None else ranked)[: self._config.top_k]

    def decide(
        self,
        customer: Customer,
        catalog: OfferCatalog,
        context: Context,
        ts: float,
        rerank: Callable[[list[ScoredOffer]], list[ScoredOffer]] | None = None,
    ) -> Outcome:
        history = [t for t in self._history.get(customer.customer_id, ()) if ts - t < 86400]
        if history and ts - max(history) < self._config.cooldown_s:
            return Outcome("cooldown")
        local = datetime.fromtimestamp(ts)
        quiet = self._config.quiet_hours
        if quiet is not None and quiet.contains(local.time()):
            return Outcome("quiet_hours")
        if len(history) >= self._config.max_alerts_per_day:
            return Outcome("frequency_cap")
        scored = self.rank(customer, catalog, context, ts, rerank)
        self._history[customer.customer_id] = [*history, ts]
        alert = Alert(
            alert_id=uuid.uuid4().hex,
            ts=time.time(),
            customer_id=customer.customer_id,
            display_name=customer.display_name,
            tier=customer.tier,
            zone=context.zone,
            offers=tuple(scored),
            visits_90d=customer.visits_90d,
        )
        if in_holdout(customer.customer_id, self._config.holdout_pct):
            return Outcome("holdout", alert)
        return Outcome("alert", alert)
