"""`friend_vote`: Friends' advice: a vote from the mirror's own guest buttons."""

from __future__ import annotations

from ..core.mirror import MirrorKind
from . import Kind, register

KIND = register(Kind(MirrorKind.FRIEND_VOTE, sku=True, requires=frozenset({"value"}), sharing=True))
