"""The companions' vote page on the box (SPEC §16): `/v/{token}`, its votes and its tally.

No staff token: the unguessable token is the capability, a seat cookie (HttpOnly, SameSite=Strict,
scoped to the look's path) is the voter. Guessed tokens are rate-limited per client address.
Every vote is committed before it is answered.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import secrets
import time
import uuid
from collections.abc import Callable
from importlib import resources
from typing import Protocol

from aiohttp import web

from ..core.events import FriendForgotten, FriendRemembered, FriendVote, SeatTaken
from ..social.looks import Board, Look, Refusal
from .bodies import read_json
from .sessions import AttemptLimiter

SEAT_COOKIE = "seat"
HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}
VOTE_FIELDS = frozenset({"sku", "value"})
KEY_RE = re.compile(r"[0-9a-f]{32,128}")
ANSWERS = (("up", "Yes"), ("down", "No"), ("other_size", "Other size"), ("other_colour", "Other colour"))


class Votes(Protocol):
    """Where the page's seats and votes go: the box's pipeline (committed first), or the relay's broker."""

    async def submit(self, event: FriendVote | SeatTaken | FriendRemembered | FriendForgotten) -> bool: ...


def _answer(body: dict[str, object], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers=HEADERS)


def _page() -> str:
    return (resources.files("edge_agent.web") / "static" / "vote.html").read_text(encoding="utf-8")


class VotePages:
    """The routes under `/v/`; the looks are the social handler's board, votes go through the inbox."""

    def __init__(self, looks: Board, inbox: Votes, salt: str, titles: Callable[[str], str]) -> None:
        self._looks = looks
        self._inbox = inbox
        self._salt = salt.encode()
        self._titles = titles
        self.guesses = AttemptLimiter(limit=20, window_s=60.0)
        self.too_fast = 0

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v/{token}", self.page),
            web.post("/v/{token}/votes", self.vote),
            web.get("/v/{token}/tally", self.tally),
            web.post("/v/{token}/remember", self.remember),
            web.post("/v/{token}/forget", self.forget),
        ]

    def _look(self, request: web.Request) -> Look | web.Response:
        """The look of the token, or the answer for a guessed one (404, then 429 per client)."""
        client, now = request.remote or "?", time.time()
        wait = self.guesses.retry_after(client, now)
        if wait is not None:
            return web.json_response(
                {"error": "too many unknown links"}, status=429, headers={**HEADERS, "Retry-After": str(wait)}
            )
        look = self._looks.by_token(request.match_info["token"])
        if look is None:
            self.guesses.failed(client, now)
            return _answer({"error": "unknown look"}, 404)
        return look

    async def page(self, request: web.Request) -> web.StreamResponse:
        look = self._look(request)
        if isinstance(look, web.Response):
            return look
        now = time.time()
        seat = request.cookies.get(SEAT_COOKIE)
        fresh_seat = None
        if look.live(now) and (seat is None or seat not in look.seats) and look.may_seat():
            fresh_seat = secrets.token_urlsafe(16)
            try:
                taken = await self._inbox.submit(SeatTaken(look.look_id, fresh_seat, now))
            except TimeoutError:
                return _answer({"error": "busy, try again"}, 503)
            seat = fresh_seat if taken else None
        state = "open" if look.live(now) else "over"
        if state == "open" and (seat is None or seat not in look.seats):
            state = "full"
        response = web.Response(text=self._render(look, state, seat), content_type="text/html", headers=HEADERS)
        if not look.live(now):
            response.set_status(410)
        if fresh_seat is not None and seat == fresh_seat:
            response.set_cookie(
                SEAT_COOKIE, fresh_seat, path=f"/v/{look.token}", httponly=True, samesite="Strict",
                max_age=int(max(look.expires_at - now, 60)), secure=request.secure,
            )  # fmt: skip
        return response

    def _render(self, look: Look, state: str, seat: str | None) -> str:
        items = "\n".join(self._item(sku) for sku in look.skus)
        seated = "voted" if seat is not None and look.voted(seat) else ("seated" if seat else "none")
        who = html.escape(look.nickname or "A shopper")
        return (
            _page()
            .replace("{{base}}", f"/v/{html.escape(look.token)}")
            .replace("{{state}}", state)
            .replace("{{seated}}", seated)
            .replace("{{who}}", who)
            .replace("{{items}}", items)
        )

    def _item(self, sku: str) -> str:
        buttons = "".join(f'<button type="button" data-value="{v}">{label}</button>' for v, label in ANSWERS)
        return (
            f'    <li class="item" data-sku="{html.escape(sku)}"><h2>{html.escape(self._titles(sku))}</h2>'
            f'<div class="answers">{buttons}</div></li>'
        )

    async def vote(self, request: web.Request) -> web.Response:
        look = self._look(request)
        if isinstance(look, web.Response):
            return look
        body = await _json(request)
        if isinstance(body, web.Response):
            return body
        sku, value = body.get("sku"), body.get("value")
        if body.keys() != VOTE_FIELDS or not isinstance(sku, str) or not isinstance(value, str):
            return _answer({"error": 'expected {"sku": str, "value": up|down|other_size|other_colour}'}, 400)
        now = time.time()
        seat = request.cookies.get(SEAT_COOKIE)
        seat = seat if seat in look.seats else None
        refusal = look.refusal(seat, sku, value, now)
        if refusal is not None:
            self.too_fast += refusal is Refusal.TOO_FAST
            return _answer({"error": str(refusal)}, refusal.status)
        assert seat is not None
        try:
            counted = await self._inbox.submit(
                FriendVote(look.look_id, uuid.uuid4().hex, seat, sku, value, now, "companion")
            )
        except TimeoutError:
            return _answer({"error": "busy, try again"}, 503)
        if not counted:  # refused by the handler after all (e.g. two votes raced within the second)
            refusal = look.refusal(seat, sku, value, time.time()) or Refusal.TOO_FAST
            self.too_fast += refusal is Refusal.TOO_FAST
            return _answer({"error": str(refusal)}, refusal.status)
        return _answer({"tally": look.tally()})

    async def tally(self, request: web.Request) -> web.Response:
        look = self._look(request)
        if isinstance(look, web.Response):
            return look
        seat = request.cookies.get(SEAT_COOKIE)
        if seat is None or not look.voted(seat):
            return _answer({"error": "vote first"}, 403)
        return _answer({"tally": look.tally()})

    async def remember(self, request: web.Request) -> web.Response:
        look = self._look(request)
        if isinstance(look, web.Response):
            return look
        friend = await self._friend(request)
        if isinstance(friend, web.Response):
            return friend
        seat = request.cookies.get(SEAT_COOKIE)
        if seat is None or seat not in look.seats:
            return _answer({"error": "no seat"}, 403)
        kept = await self._inbox.submit(FriendRemembered(look.look_id, seat, friend, time.time()))
        return _answer({"remembered": kept})  # false for a shopper who is not a consenting customer

    async def forget(self, request: web.Request) -> web.Response:
        """Works from any look's page, even one that is over: the browser's key is the capability."""
        friend = await self._friend(request)
        if isinstance(friend, web.Response):
            return friend
        await self._inbox.submit(FriendForgotten(friend, time.time()))
        return _answer({"forgotten": True})

    async def _friend(self, request: web.Request) -> str | web.Response:
        """The keyed hash of the browser's key: the key itself is never stored."""
        body = await _json(request)
        if isinstance(body, web.Response):
            return body
        key = body.get("key")
        if body.keys() != {"key"} or not isinstance(key, str) or not KEY_RE.fullmatch(key):
            return _answer({"error": 'expected {"key": 32-128 lowercase hex digits}'}, 400)
        return hmac.new(self._salt, f"friend|{key}".encode(), hashlib.sha256).hexdigest()


async def _json(request: web.Request) -> dict[str, object] | web.Response:
    try:
        return await read_json(request)
    except web.HTTPBadRequest as exc:
        return _answer({"error": (exc.text or "bad JSON")[:200]}, 400)
