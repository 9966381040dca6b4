"""The one bounded JSON reader for request bodies."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..core.errors import DecodeError
from ..decoders.jsonsafe import loads_object


async def read_json(request: web.Request) -> dict[str, Any]:
    """The one bounded JSON reader: size, encoding, depth and number limits; a 400 with a reason otherwise."""
    body = await request.read()  # bounded by the app's client_max_size (413 beyond it)
    try:
        return loads_object(body)
    except DecodeError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"{exc.reason}: {exc.detail}"[:200]}), content_type="application/json"
        ) from None
