"""The async-context-manager shape shared by resources that hold nothing to release."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Resource:
    """`async with x:` yields `x`; subclasses override `__aexit__` when leaving must do something."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None
