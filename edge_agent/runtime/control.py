"""The control socket: the running agent serves its status as JSON on a Unix socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ..core.component import Component, Status
from ..core.errors import EdgeAgentError


class StatusServer(Component):
    """One command per connection (`status`, or one of `commands`), answered with one JSON line."""

    name = "control"

    def __init__(
        self,
        path: Path,
        snapshot: Callable[[], dict[str, Any]],
        commands: dict[str, Callable[[], dict[str, Any]]] | None = None,
    ) -> None:
        self._path = path
        self._snapshot = snapshot
        self._commands = {"status": snapshot, **(commands or {})}
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> Self:
        if len(str(self._path)) > 100:
            raise EdgeAgentError(f"{self._path}: path too long for a Unix socket; use a shorter data_dir")
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        self._server = await asyncio.start_unix_server(self._serve, path=str(self._path))
        os.chmod(self._path, 0o660)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    def status(self) -> Status:
        return Status(self.name, "control", body={"socket": str(self._path)})

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                async with asyncio.timeout(2):
                    command = (await reader.readline()).decode(errors="replace").strip() or "status"
            except TimeoutError:
                command = "status"
            handler = self._commands.get(command)
            answer = handler() if handler is not None else {"error": f"unknown command {command[:40]!r}"}
            writer.write(json.dumps(answer, default=str).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def query_status(path: Path, timeout: float = 3.0, command: str = "status") -> dict[str, Any] | None:
    """The running agent's answer to `command`, or None when no agent answers on `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError:  # no agent there, or one that does not answer in time
            return None
    result: dict[str, Any] = json.loads(b"".join(chunks))
    return result
