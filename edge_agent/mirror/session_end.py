"""`session_end`: The shopper left the mirror: the session's memory goes, its shared looks settle."""

from __future__ import annotations

from ..core.mirror import MirrorKind
from . import Kind, register

KIND = register(Kind(MirrorKind.SESSION_END, ends_session=True))
