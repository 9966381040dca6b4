"""Friends' advice at the mirror (SPEC §16): looks shared from a session, votes from companions,
the mirror's guest buttons and the chain's relay, and the trust remembered friends earn.

Every change is committed before anyone hears of it: the vote's HTTP answer, the relay's PUBACK,
the mirror's `social` message and the staff card all wait for the same transaction.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..aggregation.rollup import count
from ..core.cards import Change, Live
from ..core.events import Customer, FriendForgotten, FriendRemembered, FriendVote, MirrorEvent, SeatTaken
from ..core.mirror import MirrorKind
from ..mirror import rules
from ..social.looks import GONE_S, MIRROR_SEAT, Board, Channel, Circle, Look, LookState, Refusal, Seat, summary
from ..social.remote import Item, look_card, verified
from ..social.trust import Trust
from ..store import Count, Effects, Operation, rows, social
from ..store.rows import Write
from .learned import Products
from .ports import Ack, Ports, after_commit

log = logging.getLogger(__name__)


class Friends(Protocol):
    """What the handler reads from the store (SQLite on the box, a dict in tests)."""

    def trusts(self, customer_id: str) -> dict[str, Trust]: ...

    def bought(self, customer_id: str, start: float, end: float) -> set[str]: ...

    def open_looks(self, now: float) -> list[Look]: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """A mirror event's social effects, committed with the event itself."""

    writes: tuple[Write, ...] = ()
    counts: tuple[Count, ...] = ()
    after: Callable[[], None] = lambda: None  # once committed
    undo: Callable[[], None] = lambda: None  # the event was a redelivery: it changed nothing


NO_PLAN = Plan()


@dataclass(frozen=True, slots=True)
class Links:
    """Where the look's links point: the box for companions, the chain's relay for friends elsewhere."""

    public_url: Callable[[], str]
    remote_url: str | None
    remote_available: Callable[[], bool]


class SocialHandler:
    """See the module docstring."""

    def __init__(self, ports: Ports, friends: Friends, links: Links, titles: Callable[[], Products]) -> None:
        self._ports = ports
        self._friends = friends
        self._links = links
        self._titles = titles
        cfg = ports.config.social
        self.board = Board(
            max_seats=cfg.max_seats, ttl_after_session_s=cfg.ttl_after_session_s, max_ttl_s=cfg.max_ttl_s
        )
        self._window_s = ports.config.outcomes.attribution_window_s
        self._remote_was: bool | None = None
        self._settling: set[str] = set()
        self._over: set[str] = set()  # looks whose end the mirror and the relay were told
        self.on_advice: Callable[[str], None] = lambda customer_id: None  # the moment re-ranks the card
        self.late_votes = 0
        self.refused_votes = 0

    def restore(self, now: float) -> None:
        for look in self._friends.open_looks(now):
            self.board.add(look)

    def retain(self, may_recognise: Callable[[str], bool]) -> None:
        """A forgotten customer's looks leave the board with their rows (`customer forget`)."""
        for look in self.board.find(lambda lk: lk.customer_id is not None and not may_recognise(lk.customer_id)):
            self.board.drop(look)

    # --- mirror events ------------------------------------------------------------------------

    def mirror(
        self, event: MirrorEvent, customer: Customer | None, seen: Callable[[], tuple[list[str], list[str]]]
    ) -> Plan:
        """What a mirror event does to the session's looks (nothing for most events). `seen()` is what
        the session tried or liked, and disliked, so far (asked only when a look needs it)."""
        looks = self.board.of_session(event.device_id, event.session_id)
        if not looks and event.event != MirrorKind.SHARE_START:
            return NO_PLAN
        live = [lk for lk in looks if lk.live(event.ts)]
        match event.event:
            case MirrorKind.SHARE_START:
                return self._share(event, customer, seen()[0]) if not live else Plan(after=lambda: self._tell(live))
            case MirrorKind.SHARE_STOP:
                return self._changed(live, lambda lk: setattr(lk, "stopped_at", event.ts))
            case MirrorKind.FRIEND_VOTE:
                return self._mirror_vote(event, live)
            case _ if rules(event.event).wears and event.sku is not None:
                sku = event.sku
                grows = [lk for lk in live if sku not in lk.skus]
                return self._changed(grows, lambda lk: lk.add_sku(sku))
            case MirrorKind.SESSION_END:
                return self._changed(looks, lambda lk: self.board.session_ended(lk, event.ts), seen()[1])
        return NO_PLAN

    def _share(self, event: MirrorEvent, customer: Customer | None, tried: list[str]) -> Plan:
        circle = Circle(event.circle or "companions")
        who = customer.customer_id if customer is not None and customer.consent else None
        # On the board at once: the session's next events (committed after this one) grow the look.
        look = self.board.open(event.device_id, event.session_id, who, circle, event.nickname or "", tried, event.ts)
        if who is not None:
            look.trust = self._friends.trusts(who)
        subject = self._ports.subject(f"mirror|{event.device_id}|{event.session_id}")

        def after() -> None:
            self._tell([look])
            self._card_up(look)

        return Plan(
            (social.look(look),), (count("social_looks", subject=subject),), after, lambda: self.board.drop(look)
        )

    def _changed(self, looks: list[Look], change: Callable[[Look], object], disliked: list[str] | None = None) -> Plan:
        if not looks:
            return Plan()
        for look in looks:
            change(look)
        writes = tuple(social.look_changed(lk, disliked or ()) for lk in looks)

        def after() -> None:
            self._tell(looks)
            for look in looks:
                self._card_up(look)

        return Plan(writes, (), after)

    def _mirror_vote(self, event: MirrorEvent, live: list[Look]) -> Plan:
        look = next((lk for lk in live if event.sku in lk.skus), None)
        assert event.sku is not None and event.value is not None
        if look is None or look.refusal(MIRROR_SEAT, event.sku, event.value, event.ts) is not None:
            self.refused_votes += 1
            return Plan()
        vote_id = hashlib.blake2b(f"{look.look_id}|{event.sku}|{event.value}|{event.ts}".encode(), digest_size=12)
        vote = FriendVote(look.look_id, vote_id.hexdigest(), MIRROR_SEAT, event.sku, event.value, event.ts, "mirror")
        writes, counts = self._vote_effects(look, vote, MIRROR_SEAT)
        return Plan(writes, counts, lambda: self._voted(look, vote, MIRROR_SEAT))

    # --- votes, seats, friends -----------------------------------------------------------------

    async def vote(self, vote: FriendVote, ack: Ack | None) -> None:
        """A vote from the phone page or the relay: verified, de-duplicated, committed, then told."""
        look = self.board.get(vote.look_id)
        seat = f"remote:{vote.seat}" if vote.channel == Channel.REMOTE else vote.seat
        refusal = self._refusal(look, vote, seat)
        if look is None or refusal is not None:
            self.late_votes += look is not None and refusal is Refusal.GONE
            self.refused_votes += 1
            guard = rows.seen(f"vote-refused:{vote.channel}:{vote.vote_id}", vote.ts)
            refused = (count("social_votes_refused", channel=vote.channel),)
            told = (lambda fresh: ack(False)) if ack is not None else None  # the page answers with the refusal
            await self._ports.apply(Effects(guard=guard, counts=refused, on_commit=told))
            return
        writes, counts = self._vote_effects(look, vote, seat)
        await self._ports.apply(
            Effects(
                guard=writes[0], writes=writes[1:], counts=counts, urgent=True,
                on_commit=after_commit(ack, lambda: self._voted(look, vote, seat)),
            )
        )  # fmt: skip

    def _refusal(self, look: Look | None, vote: FriendVote, seat: str) -> Refusal | None:
        """Why this vote changes nothing (None: it counts). A relayed vote must carry the look's MAC,
        and is late by this box's clock, not the relay's."""
        if look is None:
            return Refusal.GONE
        if vote.channel == Channel.REMOTE:
            if not verified(vote, look.key):
                return Refusal.BAD_VALUE
            if not look.live(self._ports.clock()):
                return Refusal.GONE
        return look.refusal(seat, vote.sku, vote.value, vote.ts)

    def _vote_effects(self, look: Look, vote: FriendVote, seat: str) -> tuple[tuple[Write, ...], tuple[Count, ...]]:
        channel = Channel(vote.channel)
        writes = (
            social.vote(f"{channel}:{vote.vote_id}", look.look_id, seat, vote.sku, vote.value, vote.ts, channel),
            social.seat(look.look_id, seat, channel, vote.ts),
        )
        who = self._ports.subject(f"seat|{look.look_id}|{seat}")  # one seat is one person
        return writes, (count("social_votes", channel=str(channel), subject=who),)

    def _voted(self, look: Look, vote: FriendVote, seat: str) -> None:
        look.record(seat, Channel(vote.channel), vote.sku, vote.value, vote.ts)
        self._tell([look])
        if look.customer_id is not None:
            friends = summary(self.board.of_customer(look.customer_id, vote.ts))
            self._ports.updates(Change(Live(friends=friends), customer_id=look.customer_id))
            self.on_advice(look.customer_id)

    async def seat(self, taken: SeatTaken, ack: Ack | None) -> None:
        look = self.board.get(taken.look_id)
        if look is None or not look.may_seat():
            if ack is not None:
                ack(False)
            return

        def after() -> None:
            look.seats.setdefault(taken.seat, Seat(Channel.COMPANION))

        write = social.seat(look.look_id, taken.seat, Channel.COMPANION, taken.ts)
        await self._ports.apply(Effects(guard=write, on_commit=after_commit(ack, after), urgent=True))

    async def remembered(self, event: FriendRemembered, ack: Ack | None) -> None:
        """Only a consenting customer's friends are remembered; anyone else's "remember me" keeps nothing."""
        look = self.board.get(event.look_id)
        if look is None or look.customer_id is None or event.seat not in look.seats:
            if ack is not None:
                ack(False)
            return
        trust = self._friends.trusts(look.customer_id).get(event.friend, Trust())

        def after() -> None:
            look.seats[event.seat].friend = event.friend
            look.trust[event.friend] = trust

        write = social.remembered(look.look_id, event.seat, event.friend)
        await self._ports.apply(Effects(writes=(write,), on_commit=after_commit(ack, after), urgent=True))

    async def forgotten(self, event: FriendForgotten, ack: Ack | None) -> None:
        def after() -> None:
            for look in self.board.all():
                look.trust.pop(event.friend, None)
                for seat in look.seats.values():
                    if seat.friend == event.friend:
                        seat.friend = None

        effects = Effects(
            writes=social.forget_friend(event.friend), on_commit=after_commit(ack, after), urgent=True, checkpoint=True
        )
        await self._ports.apply(effects)

    # --- what the mirror, the relay and the moment hear ----------------------------------------

    def advice_for(self, device_id: str, session_id: str) -> dict[str, float]:
        advice: dict[str, float] = {}
        for look in self.board.of_session(device_id, session_id):
            advice |= {sku: a for sku, a in look.advice().items() if a}
        return advice

    def state(self, look: Look, now: float) -> LookState:
        """What the look's mirror shows (SPEC §16)."""
        remote = look.circle.remote and self._links.remote_url is not None and self._links.remote_available()
        live = look.live(now)
        return LookState.of(
            look,
            companions_url=f"{self._links.public_url()}/v/{look.token}" if look.circle.companions and live else None,
            remote_url=f"{self._links.remote_url}/v/{look.look_id}" if remote and live else None,
            remote_available=bool(remote),
            state="open" if live else ("stopped" if look.stopped_at is not None else "expired"),
        )

    def _tell(self, looks: list[Look]) -> None:
        now = self._ports.clock()
        for look in looks:
            self._ports.social(look.device_id, self.state(look, now))

    def _card_up(self, look: Look) -> None:
        """The card for friends elsewhere (retained, so a relay that restarts has it); empty once it is over."""
        if not look.circle.remote or self._links.remote_url is None:
            return
        if not look.live(self._ports.clock()):
            self._ports.look_cards(look.look_id, None)
            return
        titles = self._titles()
        items = {sku: Item(sku, titles.title(sku)) for sku in look.skus}
        self._ports.look_cards(look.look_id, look_card(look, self._ports.config.store_id, items))

    # --- periodic -------------------------------------------------------------------------------

    async def tick(self, now: float) -> None:
        """Expired looks are told and cleared; remote availability changes are told within a tick;
        looks whose attribution window is over are settled, one per tick."""
        remote = self._links.remote_available()
        if remote != self._remote_was:
            self._remote_was = remote
            self._tell([lk for lk in self.board.all() if lk.live(now) and lk.circle.remote])
        for look in self.board.all():
            if not look.live(now) and look.look_id not in self._over:
                self._over.add(look.look_id)
                self._tell([look])
                self._card_up(look)
        await self._settle_one(now)

    async def _settle_one(self, now: float) -> None:
        for look in self.board.all():
            if look.settled and now > look.expires_at + GONE_S:
                self.board.drop(look)  # its link has said "gone" long enough; now it is unknown
                self._over.discard(look.look_id)
                continue
            if look.live(now) or look.settled or look.look_id in self._settling:
                continue
            over = (look.ended_at or look.stopped_at or look.expires_at) + self._window_s
            if look.customer_id is not None and now < over:
                continue
            await self._settle(look, over, now)
            return

    async def _settle(self, look: Look, until: float, now: float) -> None:
        self._settling.add(look.look_id)
        ops: tuple[Operation, ...] = ()
        counts: tuple[Count, ...] = ()
        if look.customer_id is not None:
            ops = (social.SettleLook(look.look_id, look.customer_id, look.created_at, until, now),)
            bought = self._friends.bought(look.customer_id, look.created_at, until)
            assisted = [sku for sku, a in look.advice().items() if a > 0 and sku in bought]
            who = self._ports.subject(f"look|{look.look_id}")
            counts = tuple(count("social_assisted_sales", subject=who) for _ in assisted)

        def done(fresh: bool) -> None:
            self._settling.discard(look.look_id)
            look.settled = True

        await self._ports.apply(Effects(guard=social.settled(look.look_id), ops=ops, counts=counts, on_commit=done))

    def status(self) -> dict[str, Any]:
        now = self._ports.clock()
        return {
            "looks_live": sum(1 for lk in self.board.all() if lk.live(now)),
            "looks_held": len(self.board),
            "votes_refused": self.refused_votes,
            "votes_late": self.late_votes,
            "remote_available": bool(self._remote_was),
        }
