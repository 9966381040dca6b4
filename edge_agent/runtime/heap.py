"""The heap a running agent starts with is left out of the garbage collector's full passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def settled() -> Iterator[None]:
    """Freeze what was built to start (imported modules, the config, the model, the components).

    None of it becomes garbage while the agent runs, yet every full collection walked all of it:
    measured on the mirror path, full collections took 29 % of the agent's CPU time. Frozen
    objects are still freed by reference counting; leaving hands them back to the collector.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
