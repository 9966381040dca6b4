"""Where a broker is and how to trust it: shared by the publisher, the inbound session and the simulators."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

from ..config.agent import TlsConfig


def tls_context(tls: TlsConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(tls.ca) if tls.ca else None)
    if tls.cert:
        ctx.load_cert_chain(str(tls.cert), str(tls.key) if tls.key else None)
    return ctx


def broker_address(url: str) -> tuple[str, int, bool]:
    """(host, port, TLS?) of an `mqtt://` or `mqtts://` URL, with the standard ports."""
    parts = urlsplit(url)
    secure = parts.scheme == "mqtts"
    return parts.hostname or "127.0.0.1", parts.port or (8883 if secure else 1883), secure
