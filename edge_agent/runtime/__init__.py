"""The running agent: build, route, commit, emit."""

from .agent import Agent
from .build import Runtime

__all__ = ["Agent", "Runtime"]
