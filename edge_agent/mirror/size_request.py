"""`size_request`: Another size asked for: a staff alert of its own (runtime/inputs.py), taught at 1.5."""

from __future__ import annotations

from ..core.mirror import MirrorKind
from . import Kind, register

KIND = register(Kind(MirrorKind.SIZE_REQUEST, sku=True, metric="mirror_size_requests", teaches=1.5, evidence=True))
