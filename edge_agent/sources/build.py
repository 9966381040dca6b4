"""Which sources an agent runs, from its config and the device registry."""

from __future__ import annotations

import sqlite3

from ..config import AgentConfig
from .base import Source
from .mqtt import mirror_source, remote_scanner_source


def build_sources(config: AgentConfig, conn: sqlite3.Connection, *, radio: bool = True) -> list[Source]:
    """Every source the config and the registered devices call for."""
    del conn  # serial and Modbus devices come from the registry
    sources: list[Source] = [mirror_source(config)]
    if config.ble.remote_scanners:
        sources.append(remote_scanner_source(config))
    del radio
    return sources
