"""`share_stop`: Friends' advice: the shared look is revoked at once."""

from __future__ import annotations

from ..core.mirror import MirrorKind
from . import Kind, register

KIND = register(Kind(MirrorKind.SHARE_STOP, sharing=True))
