"""Signed app check-ins (docs/interface.md): `b64url(payload) "." b64url(HMAC-SHA256(key, b64url(payload)))`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..core.errors import EdgeAgentError


class CheckinRefused(EdgeAgentError):
    """A check-in token that must not be honoured; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(key_hex: str, customer_id: str, store_id: str, exp: int, nonce: str, consent: bool | None = None) -> str:
    """What the store app sends (used by tests and app developers); `consent` makes a consent token."""
    payload: dict[str, object] = {"cid": customer_id, "sid": store_id, "exp": exp, "nonce": nonce}
    if consent is not None:
        payload["consent"] = consent
    body = _b64(json.dumps(payload).encode())
    mac = hmac.new(bytes.fromhex(key_hex), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


@dataclass(frozen=True, slots=True)
class CheckinToken:
    """A token whose signature, store and expiry window hold; its nonce is claimed when committed."""

    customer_id: str
    nonce: str
    exp: float
    consent: bool | None = None  # on a consent token (docs/interface.md): true gives, false withdraws
    kind: str = "checkin"  # "consent" when the payload carries `consent` at all


class CheckinVerifier:
    """Checks signature, store and expiry window; single use is decided by the store (nonce row)."""

    def __init__(self, key_hex: str, store_id: str, max_ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self._key = bytes.fromhex(key_hex)
        self._store_id = store_id
        self._max_ttl_s = max_ttl_s
        self._clock = clock

    def verify(self, token: object) -> CheckinToken:
        """A valid token within its expiry window; otherwise CheckinRefused."""
        if not isinstance(token, str) or len(token) > 2048 or token.count(".") != 1:
            raise CheckinRefused("malformed")
        body, _, signature = token.partition(".")
        try:
            mac = _unb64(signature)
            payload = json.loads(_unb64(body))
        except (binascii.Error, ValueError):
            raise CheckinRefused("malformed") from None
        expected = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise CheckinRefused("bad_signature")
        if not isinstance(payload, dict):
            raise CheckinRefused("malformed")
        cid, sid, exp, nonce = (payload.get(k) for k in ("cid", "sid", "exp", "nonce"))
        if not (isinstance(cid, str) and isinstance(sid, str) and isinstance(nonce, str) and cid and nonce):
            raise CheckinRefused("malformed")
        if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
            raise CheckinRefused("malformed")
        if sid != self._store_id:
            raise CheckinRefused("other_store")
        now = self._clock()
        if exp <= now:
            raise CheckinRefused("expired")
        if exp > now + self._max_ttl_s:
            raise CheckinRefused("ttl_too_long")
        if len(nonce) > 200:
            raise CheckinRefused("malformed")
        consent = payload.get("consent")
        kind = "consent" if "consent" in payload else "checkin"
        return CheckinToken(cid, nonce, float(exp), consent if isinstance(consent, bool) else None, kind)
