"""edge-agent: an offline-first retail edge gateway."""

__version__ = "0.1.0"
