"""Sales at the till and consent changes: what they teach and what they erase, committed with their ack."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable

from ..aggregation.rollup import count
from ..config.agent import AgentConfig
from ..core.cards import Change, Item, Live
from ..core.events import ConsentChange, Sale
from ..learning.profile import SIGNALS
from ..presence.identity import IdentityResolver
from ..store import Effects, Operation, Write, outcomes, rows
from .learned import Products
from .ports import Ports, after_commit

Ack = Callable[[bool], None]


def source_key(kind: str, value: str) -> str:
    """A co-occurrence source that names no session or sale (pairs outlive the raw rows)."""
    return f"{kind}:{hashlib.blake2b(value.encode(), digest_size=8).hexdigest()}"


class SaleHandler:
    """A sale: stored once, attributed to the visit it belongs to, and taught to the learned profile."""

    def __init__(
        self,
        ports: Ports,
        identity: IdentityResolver,
        config: AgentConfig,
        titles: Callable[[], Products],
    ) -> None:
        self._ports = ports
        self._titles = titles
        self._identity = identity
        self._window_s = config.outcomes.attribution_window_s
        self._half_life_s = config.learning.half_life_s

    async def handle(self, sale: Sale, ack: Ack | None) -> None:
        self._ports.stats.device_event(sale.device_id, sale.ts)
        customer = self._identity.customer_by_id(sale.customer_ref)  # consenting customers only
        cid = customer.customer_id if customer is not None else None
        skus = sorted({line.sku for line in sale.lines})
        lines = json.dumps([{"sku": x.sku, "qty": x.qty, "amount": x.amount} for x in sale.lines])
        writes: list[Write] = []
        teach: list[Operation] = []
        if cid is not None:
            for sku in skus:
                writes.append(outcomes.owned(cid, sku, sale.ts))
                teach.append(outcomes.LearnFromSku(cid, sku, SIGNALS["purchase"], sale.ts, self._half_life_s))
        source = source_key("sale", sale.sale_id)
        writes += [outcomes.pair(source, a, b, sale.ts) for a, b in itertools.combinations(skus, 2)]
        bucket = self._ports.aggregator.open_start or 0.0
        who = self._ports.subject(f"sale|{sale.sale_id}")  # one sale is one person's purchase
        attribute = outcomes.AttributeSale(
            sale.sale_id, cid, sale.ts, self._window_s, sale.amount, tuple(skus), sale.offer_ids, bucket, who
        )
        await self._ports.apply(
            Effects(
                guard=outcomes.sale_row(
                    sale.sale_id, sale.ts, sale.device_id, cid, sale.amount, lines, json.dumps(sale.offer_ids)
                ),
                writes=tuple(writes),
                ops=(*teach, attribute),
                counts=(count("sales", device=sale.device_id, subject=who),),
                on_commit=after_commit(ack, self._card(sale, cid)),
                urgent=ack is not None,
            )
        )

    def _card(self, sale: Sale, customer_id: str | None) -> Callable[[], None] | None:
        """After the commit: the card shows what they bought; size requests for it are done."""
        if customer_id is None:
            return None
        titles = self._titles()
        bought = tuple(Item(x.sku, titles.title(x.sku), x.amount) for x in sale.lines)

        def show() -> None:
            self._ports.updates(Change(Live(bought=bought), customer_id=customer_id))
            # A dressing-room rule: a sale closes the customer's open size requests for what they bought.
            skus = frozenset(x.sku for x in sale.lines)
            self._ports.updates(Change(Live(action="bought"), customer_id=customer_id, requests_for=skus))

        return show


async def consent_change(ports: Ports, event: ConsentChange, ack: Ack | None, refresh: Callable[[], None]) -> None:
    """Withdrawal erases the learned profile and visit history and takes effect before the next advert."""
    ports.stats.counters["consent_given" if event.consent else "consent_withdrawn"] += 1
    await ports.apply(
        Effects(
            guard=rows.nonce(event.nonce, event.exp) if event.nonce else None,
            ops=(outcomes.SetConsent(event.customer_id, event.consent),),
            on_commit=after_commit(ack, refresh),
            urgent=True,
            checkpoint=not event.consent,
        )
    )
