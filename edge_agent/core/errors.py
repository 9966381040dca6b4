"""One exception root, a few meaningful subclasses."""

from __future__ import annotations


class EdgeAgentError(Exception):
    """Root of every error edge-agent raises on purpose."""


class ConfigError(EdgeAgentError):
    """The configuration file is missing or invalid (CLI exit code 2)."""


class ProfileError(EdgeAgentError):
    """A device profile is missing or invalid."""


class DeviceError(EdgeAgentError):
    """A device registration is refused or unknown."""


class StoreError(EdgeAgentError):
    """The local database cannot be used."""


class DecodeError(EdgeAgentError):
    """A payload could not be decoded; `reason` is a short machine-readable tag."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class CatalogError(EdgeAgentError):
    """An import file (customers, offers) cannot be used as a whole."""


class LinkError(EdgeAgentError):
    """A connection failed or ended; says whether retrying soon can help.

    `refused`: the other side refused our credentials or certificate (wait long, say it once);
    `lost`: it closed a working session; `retry_after`: it said when to come back.
    """

    def __init__(
        self, message: str, *, refused: bool = False, lost: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.refused = refused
        self.lost = lost
        self.retry_after = retry_after
