"""What a link failure means: refused (fix the credentials), lost (the peer closed it), or other —
decided by the error's type and the protocol's code where it happened, never by its text."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from ..core.errors import EdgeAgentError, LinkError

# OpenSSL's reason codes for a broker that refused our client certificate (TLS alerts 42, 116, 48, 45, 46)
_CERTIFICATE_ALERTS = frozenset({
    "SSLV3_ALERT_BAD_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED", "TLSV1_ALERT_UNKNOWN_CA",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED", "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Failure:
    text: str
    refused: bool = False  # retrying soon will not help: wait at the long cap, say it once
    lost: bool = False  # the other side closed a working session
    conflict: bool = False  # the other side said another client took our session over
    retry_after: float | None = None  # the other side said when to come back
    unexpected: bool = False  # not a connection problem we know: log the traceback once


def socket_error(exc: OSError) -> LinkError:
    """A socket's own error as the project's: a certificate that does not verify, or one the broker
    refused, is a refusal; a reset or a closed stream is lost; the rest is retried at the normal pace."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return LinkError(f"certificate refused: {exc.verify_message or exc}", refused=True)
    if isinstance(exc, ssl.SSLError) and exc.reason in _CERTIFICATE_ALERTS:
        return LinkError(f"certificate refused by the broker: {exc.reason}", refused=True)
    return LinkError(f"{type(exc).__name__}: {exc}", lost=isinstance(exc, ConnectionError | EOFError))


def describe(exc: BaseException) -> Failure:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, LinkError):
        return Failure(
            str(exc) or text, refused=exc.refused, lost=exc.lost, conflict=exc.conflict, retry_after=exc.retry_after
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Failure(f"certificate refused: {exc.verify_message or text}", refused=True)
    if isinstance(exc, ConnectionError | EOFError):
        return Failure(f"{type(exc).__name__}: {text}", lost=True)
    if isinstance(exc, EdgeAgentError):
        return Failure(text)
    if isinstance(exc, OSError | TimeoutError):  # serial ports, sockets: not usable right now
        return Failure(f"{type(exc).__name__}: {text}")
    return Failure(f"{type(exc).__name__}: {text}", unexpected=True)
