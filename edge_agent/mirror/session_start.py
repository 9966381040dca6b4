"""`session_start`: A mirror session begins (one shopper at the mirror)."""

from __future__ import annotations

from ..core.mirror import MirrorKind
from . import Kind, register

KIND = register(Kind(MirrorKind.SESSION_START, metric="mirror_sessions"))
