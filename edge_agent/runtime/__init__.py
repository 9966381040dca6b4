"""The running agent: build, route, commit, emit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agent import Agent
    from .build import Runtime

__all__ = ["Agent", "Runtime"]


def __getattr__(name: str) -> Any:
    # Lazy: the CLI's quick commands (status, customer list) reach runtime.control without paying
    # for aiohttp, onnxruntime and the whole pipeline at every start.
    if name == "Agent":
        from .agent import Agent

        return Agent
    if name == "Runtime":
        from .build import Runtime

        return Runtime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
