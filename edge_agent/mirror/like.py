"""`like`: A garment liked: worn like a try-on, taught at 2.0."""

from __future__ import annotations

from ..core.mirror import MirrorKind
from . import Kind, register

KIND = register(
    Kind(MirrorKind.LIKE, sku=True, metric="mirror_likes", wears=True, teaches=2.0, evidence=True, shows="liked")
)
