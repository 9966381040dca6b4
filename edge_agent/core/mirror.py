"""The kinds of smart-mirror event and what each one does, in one table (docs/interface.md § Mirror event).

A new kind is a member here, its row in `RULES`, its fields in `decoders/mirror.py` and its line in
docs/interface.md; the handlers read the row instead of spelling kinds out again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MirrorKind(StrEnum):
    SESSION_START = "session_start"
    TRY_ON = "try_on"
    LIKE = "like"
    DISLIKE = "dislike"
    SIZE_REQUEST = "size_request"
    SESSION_END = "session_end"
    SHARE_START = "share_start"  # friends' advice (SPEC §16)
    SHARE_STOP = "share_stop"
    FRIEND_VOTE = "friend_vote"


@dataclass(frozen=True, slots=True)
class Rules:
    """What one kind of event does."""

    sku: bool = False  # it names a SKU (required)
    metric: str | None = None  # the aggregate it counts (per SKU; sessions per device)
    wears: bool = False  # tried or liked: pairs with the session's SKUs, asks for suggestions, grows a shared look
    evidence: bool = False  # moves a live card's offers in the moment
    activity: bool = False  # shows on the card as tried / liked / disliked
    sharing: bool = False  # friends' advice: handled by runtime/social.py


RULES: dict[str, Rules] = {
    MirrorKind.SESSION_START: Rules(metric="mirror_sessions"),
    MirrorKind.TRY_ON: Rules(sku=True, metric="mirror_try_ons", wears=True, evidence=True, activity=True),
    MirrorKind.LIKE: Rules(sku=True, metric="mirror_likes", wears=True, evidence=True, activity=True),
    MirrorKind.DISLIKE: Rules(sku=True, evidence=True, activity=True),
    MirrorKind.SIZE_REQUEST: Rules(sku=True, metric="mirror_size_requests", evidence=True),
    MirrorKind.SESSION_END: Rules(),
    MirrorKind.SHARE_START: Rules(sharing=True),
    MirrorKind.SHARE_STOP: Rules(sharing=True),
    MirrorKind.FRIEND_VOTE: Rules(sku=True, sharing=True),
}
NOTHING = Rules()


def rules(kind: str) -> Rules:
    return RULES.get(kind, NOTHING)
