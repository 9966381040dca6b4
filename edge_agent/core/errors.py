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
