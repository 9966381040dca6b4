"""Links: every reconnecting connection shares one reconnect object (state, backoff, quiet logging)."""

from .backoff import Backoff, Link, LinkState

__all__ = ["Backoff", "Link", "LinkState"]
