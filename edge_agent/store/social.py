"""Friends' advice in SQL: looks, seats, votes and the trust remembered friends earned."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from ..social.looks import GONE_S, Channel, Circle, Look, Seat
from ..social.trust import Trust, agrees
from .rows import Write


def look(lk: Look) -> Write:
    """A new look (a guard: the same share_start redelivered opens nothing)."""
    return Write(
        "INSERT OR IGNORE INTO social_looks(look_id, token, device_id, session_id, customer_id, circle, nickname, "
        "skus, key, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (lk.look_id, lk.token, lk.device_id, lk.session_id, lk.customer_id, str(lk.circle), lk.nickname,
         json.dumps(lk.skus), lk.key, lk.created_at, lk.expires_at),
    )  # fmt: skip


def look_changed(lk: Look, disliked: Sequence[str] = ()) -> Write:
    return Write(
        "UPDATE social_looks SET skus = ?, expires_at = ?, stopped_at = ?, ended_at = ?, "
        "disliked = CASE WHEN ? = '[]' THEN disliked ELSE ? END WHERE look_id = ?",
        (json.dumps(lk.skus), lk.expires_at, lk.stopped_at, lk.ended_at, json.dumps(list(disliked)),
         json.dumps(list(disliked)), lk.look_id),
    )  # fmt: skip


def seat(look_id: str, seat_id: str, channel: Channel, ts: float) -> Write:
    return Write(
        "INSERT OR IGNORE INTO social_seats(look_id, seat, channel, taken_at) VALUES (?, ?, ?, ?)",
        (look_id, seat_id, str(channel), ts),
    )


def remembered(look_id: str, seat_id: str, friend: str) -> Write:
    return Write("UPDATE social_seats SET friend = ? WHERE look_id = ? AND seat = ?", (friend, look_id, seat_id))


def vote(vote_id: str, look_id: str, seat_id: str, sku: str, value: str, ts: float, channel: Channel) -> Write:
    """A vote, claimed by its id (a guard: a redelivered vote changes nothing)."""
    return Write(
        "INSERT OR IGNORE INTO social_votes(vote_id, look_id, seat, sku, value, ts, channel) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (vote_id, look_id, seat_id, sku, value, ts, str(channel)),
    )


def forget_friend(friend: str) -> tuple[Write, ...]:
    """A friend's "forget me": their trust with every shopper, and the link from their seats."""
    return (
        Write("DELETE FROM social_friends WHERE friend = ?", (friend,)),
        Write("UPDATE social_seats SET friend = NULL WHERE friend = ?", (friend,)),
    )


def settled(look_id: str) -> Write:
    """Claims a look's settlement (a guard: settling twice changes nothing)."""
    return Write("UPDATE social_looks SET settled = 1 WHERE look_id = ? AND settled = 0", (look_id,))


@dataclass(frozen=True, slots=True)
class SettleLook:
    """After the visit: each remembered friend's votes meet what the shopper did (SPEC §16).

    A voted SKU bought within the window is +1; disliked, or tried and not bought, is −1.
    """

    look_id: str
    customer_id: str
    bought_from: float
    bought_until: float
    ts: float

    def apply(self, conn: sqlite3.Connection) -> None:
        row = conn.execute("SELECT skus, disliked FROM social_looks WHERE look_id = ?", (self.look_id,)).fetchone()
        if row is None:  # erased with its customer meanwhile: nothing to learn, nobody to learn for
            return
        skus_text, disliked_text = row
        bought = _bought(conn, self.customer_id, self.bought_from, self.bought_until)
        outcome = {sku: 1 if sku in bought else -1 for sku in json.loads(skus_text)}
        outcome |= {sku: -1 for sku in json.loads(disliked_text) if sku in outcome}
        per_friend: dict[str, dict[str, str]] = {}
        for friend, sku, value in conn.execute(
            "SELECT s.friend, v.sku, v.value FROM social_votes v JOIN social_seats s "
            "ON s.look_id = v.look_id AND s.seat = v.seat WHERE v.look_id = ? AND s.friend IS NOT NULL "
            "ORDER BY v.ts, v.vote_id",
            (self.look_id,),
        ):
            per_friend.setdefault(friend, {})[sku] = value  # the friend's last vote per SKU counts
        for friend, votes in per_friend.items():
            agreement = [a for sku, v in votes.items() if sku in outcome and (a := agrees(v, outcome[sku])) is not None]
            before = trust(conn, self.customer_id, friend)
            after = before.settled(agreement)
            conn.execute(
                "INSERT INTO social_friends(customer_id, friend, alpha, beta, visits, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(customer_id, friend) DO UPDATE SET alpha = excluded.alpha, beta = excluded.beta, "
                "visits = excluded.visits, updated_at = excluded.updated_at",
                (self.customer_id, friend, after.alpha, after.beta, after.visits, self.ts),
            )


def _bought(conn: sqlite3.Connection, customer_id: str, start: float, end: float) -> set[str]:
    return {
        sku
        for (sku,) in conn.execute(
            "SELECT json_extract(j.value, '$.sku') FROM sales s, json_each(s.lines) j "
            "WHERE s.customer_id = ? AND s.ts BETWEEN ? AND ?",
            (customer_id, start, end),
        )
        if sku
    }


# --- reads ----------------------------------------------------------------------------------


def trust(conn: sqlite3.Connection, customer_id: str, friend: str) -> Trust:
    row = conn.execute(
        "SELECT alpha, beta, visits FROM social_friends WHERE customer_id = ? AND friend = ?", (customer_id, friend)
    ).fetchone()
    return Trust(*row) if row is not None else Trust()


def trusts(conn: sqlite3.Connection, customer_id: str) -> dict[str, Trust]:
    """A shopper's remembered friends (keyed hashes) and what each earned."""
    return {
        friend: Trust(alpha, beta, visits)
        for friend, alpha, beta, visits in conn.execute(
            "SELECT friend, alpha, beta, visits FROM social_friends WHERE customer_id = ? ORDER BY friend",
            (customer_id,),
        )
    }


def bought_skus(conn: sqlite3.Connection, customer_id: str, start: float, end: float) -> set[str]:
    return _bought(conn, customer_id, start, end)


def open_looks(conn: sqlite3.Connection, now: float, max_seats: int) -> list[Look]:
    """Looks to hold again after a restart: live ones, and ended ones still to be settled."""
    looks: dict[str, Look] = {}
    for row in conn.execute(
        "SELECT look_id, token, key, device_id, session_id, customer_id, circle, nickname, created_at, expires_at, "
        "skus, stopped_at, ended_at, settled FROM social_looks WHERE settled = 0 OR expires_at > ? ORDER BY created_at",
        (now - GONE_S,),
    ):
        look_id, token, key, device_id, session_id, customer_id, circle, nickname, created, expires = row[:10]
        lk = Look(look_id, token, key, device_id, session_id, customer_id, Circle(circle), nickname, created, expires,
                  max_seats, json.loads(row[10]), row[11], row[12], bool(row[13]))  # fmt: skip
        looks[lk.look_id] = lk
    for look_id, seat_id, channel, friend in conn.execute(
        "SELECT s.look_id, s.seat, s.channel, s.friend FROM social_seats s JOIN social_looks l USING (look_id) "
        "WHERE l.settled = 0 OR l.expires_at > ? ORDER BY s.taken_at",
        (now - GONE_S,),
    ):
        if look_id in looks:
            looks[look_id].seats[seat_id] = Seat(Channel(channel), friend)
    for look_id, seat_id, sku, value, ts in conn.execute(
        "SELECT v.look_id, v.seat, v.sku, v.value, v.ts FROM social_votes v JOIN social_looks l USING (look_id) "
        "WHERE l.settled = 0 OR l.expires_at > ? ORDER BY v.ts, v.vote_id",
        (now - GONE_S,),
    ):
        if look_id in looks:
            looks[look_id].votes[(seat_id, sku)] = value
            looks[look_id].last_vote_at[seat_id] = ts
    for lk in looks.values():
        if lk.customer_id is not None:
            lk.trust = trusts(conn, lk.customer_id)
    return list(looks.values())


def friends_of(conn: sqlite3.Connection, customer_id: str) -> list[dict[str, object]]:
    """`customer show`: remembered friends as pseudonyms with their weight."""
    return [
        {"friend": f"friend-{friend[:8]}", "weight": round(t.weight, 3), "reliability": round(t.reliability, 3),
         "visits": t.visits}
        for friend, t in trusts(conn, customer_id).items()
    ]  # fmt: skip


class SqliteFriends:
    """What the social handler reads, on the loop's reader connection."""

    def __init__(self, conn: sqlite3.Connection, max_seats: int) -> None:
        self._conn = conn
        self._max_seats = max_seats

    def trusts(self, customer_id: str) -> dict[str, Trust]:
        return trusts(self._conn, customer_id)

    def bought(self, customer_id: str, start: float, end: float) -> set[str]:
        return _bought(self._conn, customer_id, start, end)

    def open_looks(self, now: float) -> list[Look]:
        return open_looks(self._conn, now, self._max_seats)
