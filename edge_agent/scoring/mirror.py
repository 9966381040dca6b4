"""Mirror suggestions: accessory offers scored for a fitting-room session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..core.cache import Bounded
from ..core.events import Customer, MirrorEvent, Product, ScoredOffer
from ..mirror import Shown, rules
from .catalog import OfferCatalog
from .rules import Context, Scorer

ANONYMOUS = Customer("anonymous", "", "bronze", False)
# What one session remembers of each kind: a mirror stuck in a loop must not grow without bound.
SESSION_SKUS = 64


@dataclass(slots=True)
class _Session:
    try_ons: list[str] = field(default_factory=list)
    likes: list[str] = field(default_factory=list)
    dislikes: list[str] = field(default_factory=list)

    def note(self, shown: Shown | None, sku: str) -> None:
        target = {"tried": self.try_ons, "liked": self.likes, "disliked": self.dislikes}.get(shown or "")
        if target is None or sku in target:
            return
        target.append(sku)
        if len(target) > SESSION_SKUS:
            del target[0]


class MirrorAdvisor:
    """Keeps what each session tried, liked and disliked; suggests accessories on try-on and like."""

    def __init__(self, scorer: Scorer, *, top_k: int, max_sessions: int = 1000) -> None:
        self._scorer = scorer
        self._top_k = top_k
        self._sessions: Bounded[str, _Session] = Bounded(max_sessions)

    def session(self, device_id: str, session_id: str) -> _Session | None:
        """What this session tried, liked and disliked so far."""
        return self._sessions.get(f"{device_id}/{session_id}")

    def observe(
        self,
        event: MirrorEvent,
        customer: Customer | None,
        catalog: OfferCatalog,
        zone: str,
        categories: Mapping[str, Product] | None = None,
        also_liked: Sequence[str] = (),
    ) -> list[ScoredOffer] | None:
        """Update the session; the suggestions to publish, or None when the event asks for none."""
        key = f"{event.device_id}/{event.session_id}"
        kind = rules(event.event)
        if kind.ends_session:
            self._sessions.pop(key)
            return None
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = _Session()
        if event.sku is not None:
            session.note(kind.shows, event.sku)
        if not kind.wears:
            return None
        if not catalog.has("accessory"):
            return []
        who = customer or ANONYMOUS
        local = datetime.fromtimestamp(event.ts)
        # A disliked SKU, and anything of its category, is never suggested back in this session.
        avoid = {categories[s].category for s in session.dislikes if categories and s in categories} - {""}
        context = Context(
            zone=zone,
            hour=local.hour,
            weekday=local.weekday(),
            try_ons=tuple(session.try_ons),
            likes=tuple(session.likes),
            dislikes=tuple(session.dislikes),
            also_liked=tuple(also_liked),
        )
        candidates = catalog.candidates(
            who, local.date(), context, kind="accessory", avoid_skus=session.dislikes, avoid_categories=avoid
        )
        if not candidates:
            return []
        return self._scorer.score(who, candidates, context)[: self._top_k]
