"""What a link failure means: refused (fix the credentials), lost (the peer closed it), or other."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import aiomqtt

from ..core.errors import EdgeAgentError, LinkError

# CONNACK return codes (3.1.1) and reason codes (5) that mean "your credentials or identity are refused"
_REFUSED_CODES = frozenset({2, 4, 5, 0x85, 0x86, 0x87, 0x8A, 0x8C})
# paho's rc for a connection that went away under us
_LOST_CODES = frozenset({7})


@dataclass(frozen=True, slots=True)
class Failure:
    text: str
    refused: bool = False  # retrying soon will not help: wait at the long cap, say it once
    lost: bool = False  # the other side closed a working session
    retry_after: float | None = None  # the other side said when to come back
    unexpected: bool = False  # not a connection problem we know: log the traceback once


def describe(exc: BaseException) -> Failure:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, LinkError):
        return Failure(text, refused=exc.refused, lost=exc.lost, retry_after=exc.retry_after)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Failure(f"certificate refused: {exc.verify_message or text}", refused=True)
    if isinstance(exc, aiomqtt.MqttCodeError):
        code = exc.rc if isinstance(exc.rc, int) else getattr(exc.rc, "value", None)
        return Failure(text, refused=code in _REFUSED_CODES, lost=code in _LOST_CODES)
    if isinstance(exc, aiomqtt.MqttError):
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower():
            return Failure(f"certificate refused: {text}", refused=True)
        return Failure(text, lost="Disconnected" in text)
    if isinstance(exc, ConnectionError | EOFError):
        return Failure(f"{type(exc).__name__}: {text}", lost=True)
    if isinstance(exc, OSError | TimeoutError | EdgeAgentError):
        return Failure(f"{type(exc).__name__}: {text}" if not isinstance(exc, EdgeAgentError) else text)
    return Failure(f"{type(exc).__name__}: {text}", unexpected=not _known(exc))


def _known(exc: BaseException) -> bool:
    """Errors of the hardware libraries that mean "the device or port is not usable right now"."""
    names = {cls.__module__.split(".")[0] for cls in type(exc).__mro__}
    return bool(names & {"bleak", "serial", "pymodbus", "aiohttp"})
