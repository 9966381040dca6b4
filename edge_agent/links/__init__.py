"""Links: every reconnecting connection runs the one connect–serve–retry loop (`Link.run`)."""

from .link import Backoff, Identity, Link, LinkState, LinkStatus, identity_on

__all__ = ["Backoff", "Identity", "Link", "LinkState", "LinkStatus", "identity_on"]
