"""`share_start`: Friends' advice: the session's look is shared with a circle (SPEC §16)."""

from __future__ import annotations

from ..core.mirror import MirrorKind
from . import Kind, register

KIND = register(Kind(MirrorKind.SHARE_START, requires=frozenset({"circle"}), sharing=True))
