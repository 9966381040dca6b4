"""The names of the built-in smart-mirror event kinds, for the code that must name one (the
size request's staff alert, friends' advice). What each kind does is declared by its module in
`edge_agent/mirror/` (docs/interface.md § Mirror event)."""

from __future__ import annotations

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
