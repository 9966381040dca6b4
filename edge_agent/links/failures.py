"""What a link failure means: refused (fix the credentials), lost (the peer closed it), or other —
decided by the error's type and the protocol's code where it happened, never by its text."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import aiomqtt

from ..core.errors import EdgeAgentError, LinkError
from .wire import LOST_CODES, REFUSED_CODES

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
    retry_after: float | None = None  # the other side said when to come back
    unexpected: bool = False  # not a connection problem we know: log the traceback once


def link_error(exc: aiomqtt.MqttError) -> LinkError:
    """aiomqtt's error as the project's own, by its type and code.

    A CONNACK or disconnect code says refused or lost (`wire.REFUSED_CODES`, `wire.LOST_CODES`);
    for the socket's own errors aiomqtt raises `MqttError(str(error)) from None`, which still keeps
    the OSError as `__context__`: a certificate that does not verify is a refusal, a reset is lost.
    """
    if isinstance(exc, aiomqtt.MqttCodeError):
        code = exc.rc if isinstance(exc.rc, int) else getattr(exc.rc, "value", None)
        return LinkError(str(exc), refused=code in REFUSED_CODES, lost=code in LOST_CODES, code=code)
    behind = exc.__cause__ or exc.__context__
    if isinstance(behind, aiomqtt.MqttError):
        return link_error(behind)
    if isinstance(behind, ssl.SSLCertVerificationError):
        return LinkError(f"certificate refused: {behind.verify_message or behind}", refused=True)
    if isinstance(behind, ssl.SSLError) and behind.reason in _CERTIFICATE_ALERTS:
        return LinkError(f"certificate refused by the broker: {behind.reason}", refused=True)
    return LinkError(str(exc), lost=isinstance(behind, ConnectionError | EOFError))


def describe(exc: BaseException) -> Failure:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiomqtt.MqttError):  # raised outside `connected()`, e.g. by a publish
        exc = link_error(exc)
    if isinstance(exc, LinkError):
        return Failure(str(exc) or text, refused=exc.refused, lost=exc.lost, retry_after=exc.retry_after)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Failure(f"certificate refused: {exc.verify_message or text}", refused=True)
    if isinstance(exc, ConnectionError | EOFError):
        return Failure(f"{type(exc).__name__}: {text}", lost=True)
    if isinstance(exc, EdgeAgentError):
        return Failure(text)
    if isinstance(exc, OSError | TimeoutError):  # serial ports, sockets: not usable right now
        return Failure(f"{type(exc).__name__}: {text}")
    return Failure(f"{type(exc).__name__}: {text}", unexpected=True)
