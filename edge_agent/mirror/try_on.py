"""`try_on`: A garment tried on: paired with the session, suggestions, taught at 1.0."""

from __future__ import annotations

from ..core.mirror import MirrorKind
from . import Kind, register

KIND = register(
    Kind(MirrorKind.TRY_ON, sku=True, metric="mirror_try_ons", wears=True, teaches=1.0, evidence=True, shows="tried")
)
