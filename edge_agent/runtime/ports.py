"""What every handler writes to: the committer, live counters, the open bucket and the sinks."""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..aggregation.rollup import Aggregator
from ..config.agent import AgentConfig
from ..core.cards import Change
from ..core.events import Alert, MirrorEvent, OffersUpdated, ScoredOffer
from ..core.stats import AgentStats
from ..social.looks import LookState
from ..social.remote import LookCard
from ..store import Effects, StoreWriter

Ack = Callable[[bool], None]  # an input's acknowledgement, once its effects are committed (fresh or not)

# (the mirror event, scored accessory offers, also-liked (sku, title, support))
Suggestion = tuple[MirrorEvent, list[ScoredOffer] | tuple[ScoredOffer, ...], list[tuple[str, str, int]]]


@functools.lru_cache(maxsize=4)
def _mac_key(salt: str) -> bytes:
    """The salt as a BLAKE2b key (at most 64 bytes)."""
    raw = salt.encode()
    return raw if len(raw) <= 64 else hashlib.sha512(raw).digest()


@dataclass(frozen=True, slots=True)
class Ports:
    """Shared by the handlers; none of them reaches back up to the sources."""

    config: AgentConfig
    writer: StoreWriter
    stats: AgentStats
    aggregator: Aggregator
    alerts: Callable[[Alert], None]
    suggestions: Callable[[Suggestion], None]
    updates: Callable[[Change], None] = lambda change: None  # live changes to the tablets' cards
    offers_updated: Callable[[OffersUpdated], None] = lambda update: None  # to `{topic_prefix}/alerts`
    # a look's state for its mirror: (device_id, payload) to `{topic_prefix}/mirror/{device_id}/social`
    social: Callable[[str, LookState], None] = lambda device, state: None
    # a look card for the chain's relay, or None once the look is over: (look_id, card)
    look_cards: Callable[[str, LookCard | None], None] = lambda look_id, card: None
    clock: Callable[[], float] = time.time

    def subject(self, who: str) -> str:
        """Who stands behind a count, for k-anonymity: the same key for the same person (or
        session, or sale) within the open bucket, across restarts; unlinkable between buckets;
        it names nobody."""
        bucket = self.aggregator.open_start or 0.0
        # keyed BLAKE2b is a MAC in one C call (RFC 7693 §2.9); HMAC-SHA256 cost 4 % of each event
        return hashlib.blake2b(
            f"{bucket}|{who}".encode(), key=_mac_key(self.config.privacy.salt), digest_size=8
        ).hexdigest()

    def pseudonym(self, customer_id: str) -> str:
        """A short keyed hash for log lines: the same customer reads the same, and names nobody
        (logs outlive `customer forget` in journald)."""
        key = self.config.privacy.salt.encode()
        return hmac.new(key, f"log|{customer_id}".encode(), hashlib.sha256).hexdigest()[:8]

    async def apply(self, effects: Effects) -> None:
        """Queue one input's effects, counted into the open bucket."""
        await self.writer.apply(effects, self.aggregator.open_start or 0.0)


def after_commit(
    ack: Callable[[bool], None] | None,
    then: Callable[[], None] | None = None,
    otherwise: Callable[[], None] | None = None,
) -> Callable[[bool], None] | None:
    """An `on_commit` that runs `then` only for a fresh input (`otherwise` for a redelivered
    one), and always acknowledges."""
    if ack is None and then is None and otherwise is None:
        return None

    def done(fresh: bool) -> None:
        if fresh and then is not None:
            then()
        elif not fresh and otherwise is not None:
            otherwise()
        if ack is not None:
            ack(fresh)

    return done
