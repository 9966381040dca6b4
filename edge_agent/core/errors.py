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
    `lost`: it closed a working session; `conflict`: it said another client took our session
    over (MQTT 5's DISCONNECT 0x8E; over 3.1.1 the link infers it from short sessions);
    `retry_after`: it said when to come back; `code`: the protocol's own reason code, when it gave
    one (a CONNACK return code, an MQTT 5 reason code).
    """

    def __init__(
        self,
        message: str,
        *,
        refused: bool = False,
        lost: bool = False,
        conflict: bool = False,
        retry_after: float | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.refused = refused
        self.lost = lost
        self.conflict = conflict
        self.retry_after = retry_after
        self.code = code


# Errors a user fixes by changing their input (bad usage or config): exit code 2.
USAGE_ERRORS = (ConfigError, ProfileError, DeviceError, CatalogError)


def exit_code(exc: BaseException) -> int | None:
    """A command's exit code for an error it reports in one line; None for a bug (a traceback)."""
    if isinstance(exc, USAGE_ERRORS):
        return 2
    if isinstance(exc, EdgeAgentError | OSError):  # OSError: the environment refused (path, permission, disk)
        return 1
    return None


def one_line(exc: BaseException) -> str:
    """What the user reads: the error, or for an OSError the path and the cause."""
    if isinstance(exc, OSError) and not isinstance(exc, EdgeAgentError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return str(exc)
