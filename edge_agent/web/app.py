"""HTTP: the tablet page, the alert API with SSE, app check-ins, health, status and metrics."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from ..core.cards import Card, Patch
from ..core.component import Component, Sample, Status
from ..core.errors import DecodeError
from ..core.events import HTTP_API, AlertAction, CheckIn, ConsentChange
from ..decoders.pos import decode_sale_object
from ..presence.checkin import CheckinRefused, CheckinVerifier
from ..sinks.tablets import AlertHub
from ..sources.inbox import InboxSource
from ..store.alerts import StoredAlerts
from .bodies import read_json
from .sessions import SESSION_S, AttemptLimiter, Sessions
from .vote import VotePages

log = logging.getLogger(__name__)

COOKIE = "edge_agent_session"
OPEN_PATHS = frozenset({"/healthz", "/metrics", "/api/checkin", "/api/consent", "/login", "/logout", "/favicon.ico",
                        "/assets/login.css", "/assets/vote.css", "/assets/vote.js"})  # fmt: skip
OPEN_PREFIX = "/v/"  # a shared look's vote page: its unguessable token is the capability (web/vote.py)
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#2f6fed"/></svg>'
)
ACTIONS = ("ack", "accepted", "dismissed")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no-referrer would make browsers send `Origin: null` on form posts
    # No inline script or style anywhere: pages load their scripts and styles from the box itself.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}
ASSETS = {  # what /assets/{name} serves, and as what
    "tablet.js": "application/javascript",
    "tablet.css": "text/css",
    "insights.js": "application/javascript",
    "insights.css": "text/css",
    "login.css": "text/css",
    "vote.js": "application/javascript",
    "vote.css": "text/css",
    "chart.umd.min.js": "application/javascript",
}


def bad_request(reason: str, status: int = 400) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def _too_many(wait: int) -> web.Response:
    response = bad_request(f"too many wrong tokens from this address; try again in {wait} s", 429)
    response.headers["Retry-After"] = str(wait)
    return response


def same_origin(request: web.Request) -> bool:
    """A browser's state-changing request must come from this page (SameSite does not separate ports)."""
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


def _page(name: str) -> str:
    return (resources.files("edge_agent.web") / "static" / name).read_text(encoding="utf-8")


class WebApi:
    """The routes; state lives in the hub (alerts), the inbox (inbound events) and the database."""

    def __init__(
        self,
        *,
        staff_token: str,
        hub: AlertHub,
        inbox: InboxSource,
        checkin: CheckinVerifier,
        alerts: StoredAlerts,
        status: Callable[[], dict[str, Any]],
        health: Callable[[], dict[str, Any]],
        metrics: Callable[[], bytes],
        store_id: str,
        sessions: Sessions,
        insights: Callable[[int], dict[str, Any]],
        votes: VotePages | None = None,
    ) -> None:
        self._token = staff_token
        self._hub = hub
        self._inbox = inbox
        self._checkin = checkin
        self._alerts = alerts
        self._status = status
        self._health = health
        self._metrics = metrics
        self._store_id = store_id
        self._sessions = sessions
        self._limiter = AttemptLimiter()
        self._insights = insights  # days -> the insights, on a connection of their own
        self._votes = votes

    @property
    def tablets(self) -> int:
        return self._hub.clients

    def samples(self) -> tuple[Sample, ...]:
        return (
            Sample("tablets_connected", self._hub.clients, kind="gauge", help="Open tablet streams"),
            Sample("login_refused", self._limiter.wrong, (("reason", "wrong_token"),), help="Refused sign-ins"),
            Sample("login_refused", self._limiter.refused, (("reason", "rate_limited"),), help="Refused sign-ins"),
        )

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth], client_max_size=64 * 1024)
        app.add_routes(
            [
                web.get("/", self.index),
                web.post("/login", self.login),
                web.post("/logout", self.logout),
                web.get("/api/alerts", self.alerts),
                web.get("/api/alerts/stream", self.stream),
                web.post("/api/alerts/{alert_id}/ack", self.ack),
                web.post("/api/checkin", self.checkin),
                web.post("/api/consent", self.consent),
                web.post("/api/pos/sales", self.sale),
                web.get("/api/status", self.status),
                web.get("/insights", self.insights_page),
                web.get("/assets/{name}", self.asset),
                web.get("/api/insights", self.insights),
                web.get("/healthz", self.healthz),
                web.get("/favicon.ico", self.favicon),
                web.get("/metrics", self.metrics),
                *(self._votes.routes() if self._votes is not None else ()),
            ]
        )
        return app

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            offered = header.removeprefix("Bearer ").strip()
            if bool(offered) and hmac.compare_digest(offered.encode(), self._token.encode()):
                return True
            self._limiter.failed(request.remote or "?", time.time())
            return False
        return self._sessions.valid(request.cookies.get(COOKIE, ""))

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await self._guarded(request, handler)
        except web.HTTPException as exc:  # redirects and errors carry the same headers
            exc.headers.update({k: v for k, v in SECURITY_HEADERS.items() if k not in exc.headers})
            raise
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    async def _guarded(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST":
            if not same_origin(request):
                return bad_request("cross-origin request refused", 403)
            if request.path not in ("/login", "/logout") and request.content_type != "application/json":
                return bad_request("expected Content-Type: application/json", 415)
        if request.path in OPEN_PATHS or request.path.startswith(OPEN_PREFIX):
            return await handler(request)
        wait = self._limiter.retry_after(request.remote or "?", time.time())
        if wait is not None and "Authorization" in request.headers:
            return _too_many(wait)
        if self._authorized(request):
            return await handler(request)
        if request.path == "/":
            return web.Response(text=_page("login.html").replace("{{store}}", self._store_id), content_type="text/html")
        return bad_request("staff token required", 401)

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(text=_page("tablet.html").replace("{{store}}", self._store_id), content_type="text/html")

    async def login(self, request: web.Request) -> web.Response:
        try:
            form = urllib.parse.parse_qs((await request.read()).decode("utf-8"), max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            return bad_request("expected a form with the staff token")
        token = (form.get("token") or [""])[0]
        client = request.remote or "?"
        wait = self._limiter.retry_after(client, time.time())
        if wait is not None:
            return _too_many(wait)
        if not hmac.compare_digest(token.encode(), self._token.encode()):
            self._limiter.failed(client, time.time())
            page = _page("login.html").replace("{{store}}", self._store_id)
            return web.Response(
                text=page.replace("<!--error-->", '<p class="error">Wrong token.</p>'),
                content_type="text/html",
                status=401,
            )
        response = web.HTTPSeeOther("/")
        response.set_cookie(COOKIE, self._sessions.issue(), httponly=True, samesite="Strict", max_age=SESSION_S)
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        await self._sessions.revoke(request.cookies.get(COOKIE, ""))
        response = web.HTTPSeeOther("/")
        response.del_cookie(COOKIE)
        raise response

    def _stored_actions(self, alert_ids: list[str]) -> dict[str, str]:
        return self._alerts.actions(alert_ids)

    async def alerts(self, request: web.Request) -> web.Response:
        limit = request.query.get("limit", "50")
        if not (limit.isascii() and limit.isdigit() and 1 <= int(limit[:6]) <= 500):
            return bad_request("limit must be a whole number from 1 to 500")
        cards = self._hub.recent(int(limit))
        actions = self._stored_actions([c.alert.alert_id for c in cards])
        return web.json_response([c.to_json(action=actions.get(c.alert.alert_id)) for c in reversed(cards)])

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        queue = self._hub.subscribe()
        try:
            last = request.headers.get("Last-Event-ID") or request.query.get("last_event_id") or ""
            # A reconnecting page gets exactly what it missed; a new one the last 50 alerts.
            known = last.isascii() and last.isdigit() and len(last) <= 18
            backlog = self._hub.since(int(last)) if known else self._hub.since(0)[-50:]
            actions = self._stored_actions([card.alert.alert_id for card in backlog])
            for card in backlog:
                await _send(response, card.event_id, card, actions.get(card.alert.alert_id))
            await response.write(b"retry: 2000\n\n")
            while True:
                try:
                    async with asyncio.timeout(15):
                        event_id, item = await queue.get()
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")  # proxies and tablets drop silent streams
                    continue
                await _send(response, event_id, item)
        except ConnectionResetError:
            pass
        finally:
            self._hub.unsubscribe(queue)
        return response

    async def ack(self, request: web.Request) -> web.Response:
        alert_id = request.match_info["alert_id"]
        if len(alert_id) > 64:
            return bad_request("no such alert", 404)
        body = await read_json(request)
        action = body.get("action")
        if action not in ACTIONS:
            return web.json_response({"error": f"action must be one of {', '.join(ACTIONS)}"}, status=400)
        offer_id = body.get("offer_id")
        if offer_id is not None and not (isinstance(offer_id, str) and 0 < len(offer_id) <= 128):
            return bad_request("offer_id must be a string of 1..128 characters")
        # Just-decided alerts may still be on their way to disk; the writer keeps them in order.
        if not (self._hub.knows(alert_id) or self._alerts.exists(alert_id)):
            return web.json_response({"error": "no such alert"}, status=404)
        try:
            await self._inbox.submit(AlertAction(alert_id, action, time.time(), offer_id))
        except TimeoutError:
            return web.json_response({"error": "busy, try again"}, status=503)
        return web.json_response({"alert_id": alert_id, "action": action})

    async def checkin(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        try:
            token = self._checkin.verify(body.get("token"))
        except CheckinRefused as exc:
            status = 400 if exc.reason == "malformed" else 403
            return web.json_response({"error": exc.reason}, status=status)
        if token.kind != "checkin":  # refused before its nonce is spent: the withdrawal stays possible
            return bad_request("wrong_kind", 403)
        try:
            fresh = await self._inbox.submit(CheckIn(token.customer_id, time.time(), token.nonce, token.exp))
        except TimeoutError:
            return web.json_response({"error": "busy, try again"}, status=503)
        if not fresh:
            return web.json_response({"error": "replayed"}, status=403)
        return web.json_response({"ok": True})  # never says whether the customer was recognised

    async def consent(self, request: web.Request) -> web.Response:
        """A signed consent token (like a check-in, with `"consent": true|false`)."""
        body = await read_json(request)
        try:
            token = self._checkin.verify(body.get("token"))
        except CheckinRefused as exc:
            return bad_request(exc.reason, 400 if exc.reason == "malformed" else 403)
        if token.kind != "consent":
            return bad_request("wrong_kind", 403)
        if token.consent is None:
            return bad_request("malformed: consent must be true or false")
        event = ConsentChange(token.customer_id, token.consent, time.time(), token.nonce, token.exp)
        return await self._submit(event, {"ok": True, "consent": token.consent}, "replayed")

    async def sale(self, request: web.Request) -> web.Response:
        """A sale from a back office or a till without MQTT (staff token)."""
        body = await read_json(request)
        try:
            sale = decode_sale_object(HTTP_API, body)
        except DecodeError as exc:
            return bad_request(f"{exc.reason}: {exc.detail}"[:200])
        return await self._submit(sale, {"ok": True, "sale_id": sale.sale_id, "duplicate": False}, None)

    async def _submit(self, event: Any, answer: dict[str, Any], refused_when_stale: str | None) -> web.Response:
        try:
            fresh = await self._inbox.submit(event)
        except TimeoutError:
            return bad_request("busy, try again", 503)
        if not fresh and refused_when_stale is not None:
            return bad_request(refused_when_stale, 403)
        return web.json_response({**answer, "duplicate": not fresh} if "duplicate" in answer else answer)

    async def insights_page(self, request: web.Request) -> web.Response:
        return web.Response(text=_page("insights.html").replace("{{store}}", self._store_id), content_type="text/html")

    async def asset(self, request: web.Request) -> web.Response:
        """The pages' scripts and styles and the vendored chart library, served by the box itself."""
        name = request.match_info["name"]
        kind = ASSETS.get(name)
        if kind is None:
            return bad_request("no such asset", 404)
        folder = resources.files("edge_agent.web") / "static"
        text = (folder / "vendor" / name if name == "chart.umd.min.js" else folder / name).read_text("utf-8")
        return web.Response(text=text, content_type=kind, headers={"Cache-Control": "no-cache"})

    async def insights(self, request: web.Request) -> web.Response:
        days = request.query.get("days", "28")
        if not (days.isascii() and days.isdigit() and 1 <= int(days[:5]) <= 3650):
            return bad_request("days must be a whole number from 1 to 3650")
        data = await asyncio.to_thread(self._insights, int(days))
        return web.json_response(data)

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(self._status(), dumps=lambda d: json.dumps(d, default=str))

    async def favicon(self, request: web.Request) -> web.Response:
        return web.Response(text=FAVICON, content_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    async def healthz(self, request: web.Request) -> web.Response:
        verdict = self._health()
        return web.json_response(verdict, status=200 if verdict["status"] == "ok" else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self._metrics(), content_type="text/plain", charset="utf-8")


async def _send(response: web.StreamResponse, event_id: int, item: Card | Patch, action: str | None = None) -> None:
    if isinstance(item, Patch):  # no id: a replay after a reconnect sends the updated card instead
        await response.write(f"event: update\ndata: {json.dumps(item.to_json())}\n\n".encode())
        return
    card = item.to_json(action=action)
    await response.write(f"id: {event_id}\nevent: alert\ndata: {json.dumps(card)}\n\n".encode())


class WebServer(Component):
    """Runs the app on `host:port` (port 0 picks a free one; `url` tells which)."""

    name = "web"

    def __init__(self, api: WebApi, host: str, port: int) -> None:
        self._api = api
        self._runner = web.AppRunner(api.app(), access_log=None, shutdown_timeout=1.0)
        self._host, self._port = host, port
        self.url = ""

    def status(self) -> Status:
        tablets = self._api.tablets
        return Status(
            self.name,
            "http",
            samples=self._api.samples(),
            body={"http": self.url, "tablets": tablets},
            merge=True,
        )

    async def __aenter__(self) -> WebServer:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        sockets = self._runner.addresses
        port = sockets[0][1] if sockets else self._port
        shown = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host
        self.url = f"http://{shown}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()
