"""`dislike`: A garment disliked: never suggested back this session, taught at -2.0."""

from __future__ import annotations

from ..core.mirror import MirrorKind
from . import Kind, register

KIND = register(Kind(MirrorKind.DISLIKE, sku=True, teaches=-2.0, evidence=True, shows="disliked"))
