"""Mirror event kinds: one module per kind, each declaring everything the agent does with it.

A kind (`Kind`) says which fields its message must carry, the aggregate it counts, whether it is
worn (paired with the session's other SKUs, asking for suggestions, growing a shared look), what
it teaches a consenting customer's profile, whether it moves a live card's offers in the moment,
and which list of the visit it shows on the card (tried, liked, disliked). Adding a kind means a
module here that calls `register()`, its test and its line in docs/interface.md; the decoder,
the counts, the profile, the moment, the card and friends' advice read the registry instead of
naming kinds themselves (`core/mirror.py` names the built-in ones for the code that must).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Shown = Literal["tried", "liked", "disliked"]


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of mirror event (see the module docstring)."""

    name: str  # the message's `event`
    sku: bool = False  # it names a SKU (required)
    requires: frozenset[str] = frozenset()  # further fields its message must carry
    metric: str | None = None  # the aggregate it counts (per SKU; sessions per device)
    wears: bool = False  # tried or liked: pairs with the session's SKUs, asks for suggestions, grows a shared look
    teaches: float | None = None  # the signal it gives a consenting customer's learned profile
    evidence: bool = False  # moves a live card's offers in the moment
    shows: Shown | None = None  # the visit's list on the card (and the session's memory) it joins
    ends_session: bool = False  # the mirror session is over: its memory goes
    sharing: bool = False  # friends' advice: handled by runtime/social.py

    @property
    def activity(self) -> bool:
        """It shows on the card as tried / liked / disliked."""
        return self.shows is not None


NOTHING = Kind("")
_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    if not kind.name or kind.name in _KINDS:
        raise ValueError(f"mirror event kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    _KINDS.pop(name, None)


def kind_of(name: str) -> Kind | None:
    """The registered kind of that name, if any."""
    return _KINDS.get(name)


def rules(name: str) -> Kind:
    """What an event of that kind does (nothing, for a name nobody registered)."""
    return _KINDS.get(name, NOTHING)


def kinds() -> Iterator[Kind]:
    return iter(tuple(_KINDS.values()))


from . import (  # noqa: E402 -- the built-in kinds register themselves once the registry exists
    dislike,
    friend_vote,
    like,
    session_end,
    session_start,
    share_start,
    share_stop,
    size_request,
    try_on,
)

__all__ = ["NOTHING", "Kind", "kind_of", "kinds", "register", "rules", "unregister"]
__all__ += ["dislike", "friend_vote", "like", "session_end", "session_start", "share_start", "share_stop"]
__all__ += ["size_request", "try_on"]
