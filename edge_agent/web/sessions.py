"""Staff sign-in: signed session cookies whose sign-outs hold across restarts, and a limit on guessing.

A cookie carries a random session id, its expiry and a MAC under a key made from a secret kept in
the database and the staff token — never the token itself. Rotating the token ends every session;
signing out ends one, and the sign-out is stored (bounded; expired ones are purged), so a restart
does not bring a signed-out cookie back. Wrong tokens are counted per client address: beyond
`LIMIT` in `WINDOW_S` the address gets `429` with `Retry-After` until the oldest failure is old.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable

SESSION_S = 30 * 86400
MAX_REVOKED = 100_000
LIMIT = 10
WINDOW_S = 60.0
MAX_CLIENTS = 10_000


class Sessions:
    """Issue and check session cookies; `revoke` stores the sign-out through `persist`."""

    def __init__(
        self,
        staff_token: str,
        secret: bytes,
        revoked: dict[str, float],
        persist: Callable[[str, float], Awaitable[None]],
    ) -> None:
        self._key = hashlib.sha256(b"edge-agent/session/v2|" + secret + b"|" + staff_token.encode()).digest()
        self._revoked = dict(revoked)
        self._persist = persist

    def _mac(self, sid: str, expires: int) -> str:
        return hmac.new(self._key, f"{sid}|{expires}".encode(), hashlib.sha256).hexdigest()

    def issue(self) -> str:
        sid, expires = secrets.token_urlsafe(16), int(time.time()) + SESSION_S
        return f"{sid}.{expires}.{self._mac(sid, expires)}"

    def _parse(self, cookie: str) -> tuple[str, int] | None:
        sid, _, rest = cookie.partition(".")
        expires_text, _, mac = rest.partition(".")
        if not (expires_text.isascii() and expires_text.isdigit() and len(expires_text) <= 12):
            return None
        expires = int(expires_text)
        if expires < time.time() or not hmac.compare_digest(mac, self._mac(sid, expires)):
            return None
        return sid, expires

    def valid(self, cookie: str) -> bool:
        parsed = self._parse(cookie)
        return parsed is not None and parsed[0] not in self._revoked

    async def revoke(self, cookie: str) -> None:
        parsed = self._parse(cookie)
        if parsed is None or parsed[0] in self._revoked:
            return
        now = time.time()
        if len(self._revoked) >= MAX_REVOKED:
            self._revoked = {s: e for s, e in self._revoked.items() if e > now}
        if len(self._revoked) < MAX_REVOKED:
            self._revoked[parsed[0]] = float(parsed[1])
            await self._persist(parsed[0], float(parsed[1]))


class AttemptLimiter:
    """Failed sign-ins per client address within a sliding window."""

    def __init__(self, limit: int = LIMIT, window_s: float = WINDOW_S) -> None:
        self._limit = limit
        self._window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self.refused = 0  # attempts answered 429
        self.wrong = 0  # wrong tokens

    def retry_after(self, client: str, now: float) -> int | None:
        """Seconds until this client may try again, or None if it may now."""
        failures = self._failures.get(client)
        if failures is None:
            return None
        while failures and failures[0] <= now - self._window_s:
            failures.popleft()
        if len(failures) < self._limit:
            return None
        self.refused += 1
        return max(1, int(failures[0] + self._window_s - now + 0.999))

    def failed(self, client: str, now: float) -> None:
        self.wrong += 1
        if len(self._failures) >= MAX_CLIENTS and client not in self._failures:
            self._failures = {c: f for c, f in self._failures.items() if f and f[-1] > now - self._window_s}
            if len(self._failures) >= MAX_CLIENTS:
                self._failures.clear()
        self._failures.setdefault(client, deque(maxlen=self._limit)).append(now)
