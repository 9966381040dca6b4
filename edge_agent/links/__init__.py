"""Links: every reconnecting connection runs the one connect–serve–retry loop (`Link.run`)."""

from .link import Backoff, Link, LinkState, LinkStatus

__all__ = ["Backoff", "Link", "LinkState", "LinkStatus"]
