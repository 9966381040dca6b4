"""The staff tablet page and the HTTP API (aiohttp)."""
