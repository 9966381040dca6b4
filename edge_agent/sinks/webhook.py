"""Webhook sinks for the staff messaging tools a store already uses (docs/interface.md § Webhooks).

Each alert is POSTed as JSON with `X-Edge-Agent-Signature: sha256=<hex HMAC-SHA256 of the body
under the secret>` and `Idempotency-Key: <alert_id>`, retried with jittered backoff; once the
tool answers 2xx a delivery record is committed, and whatever was committed but not recorded is
offered again at the next start — at least once across crashes, de-duplicated by the key.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..config.agent import WebhookConfig
from ..core.errors import LinkError
from ..core.events import Alert, AlertKind, OffersUpdated
from ..store import StoreWriter, rows

if TYPE_CHECKING:
    import aiohttp

ATTEMPTS = 8  # about four minutes of backoff; then the record stays unwritten and a restart retries


class WebhookError(LinkError):
    """The webhook did not take an alert."""


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sink_name(config: WebhookConfig) -> str:
    """A stable name for the delivery records: the host and a digest of the URL (the path may hold a token)."""
    host = urlsplit(config.url).hostname or "webhook"
    return f"webhook:{host}:{hashlib.sha256(config.url.encode()).hexdigest()[:8]}"


class WebhookSink:
    def __init__(self, config: WebhookConfig, writer: StoreWriter, rng: random.Random | None = None) -> None:
        self._config = config
        self._writer = writer
        self._rng = rng or random.Random()
        self.name = sink_name(config)
        self._session: aiohttp.ClientSession | None = None

    @asynccontextmanager
    async def opened(self) -> AsyncIterator[WebhookSink]:
        """One HTTP session (its connection pool) for as long as the sink runs."""
        import aiohttp  # the daemon loads aiohttp already; the CLI's other commands need not

        timeout = aiohttp.ClientTimeout(total=self._config.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            self._session = session
            try:
                yield self
            finally:
                self._session = None

    def wants(self, item: Alert | OffersUpdated) -> bool:
        kind = AlertKind.OFFERS_UPDATED if isinstance(item, OffersUpdated) else item.kind
        return kind in self._config.kinds

    async def deliver(self, item: Alert | OffersUpdated) -> None:
        if not self.wants(item):
            return
        import aiohttp

        session = self._session
        if session is None:
            raise WebhookError(f"{self.name}: delivered to before it was opened")
        body = json.dumps(item.to_json(), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Edge-Agent-Signature": signature(self._config.secret, body),
            "Idempotency-Key": item.alert_id,
        }
        delay = 1.0
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with session.post(self._config.url, data=body, headers=headers) as response:
                    if 200 <= response.status < 300 or response.status == 409:  # 409: it has it already
                        break
                    problem = f"{response.status} {response.reason}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt == ATTEMPTS:
                raise WebhookError(f"{self.name}: {problem} after {ATTEMPTS} attempts; retried at the next start")
            await asyncio.sleep(self._rng.uniform(delay / 2, delay))
            delay = min(delay * 2, 60.0)
        if isinstance(item, Alert):
            await self._writer.submit(rows.sink_delivered(self.name, item.alert_id, time.time()))
