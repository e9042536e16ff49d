"""Pausing the cyclic garbage collector while a large result is built or written.

A rescan of 144,000 components makes millions of small objects (components, findings, report
pieces) and no reference cycles. With the collector on, every full collection walks all of them
again: a quarter of the rescan's time. Acyclic objects are freed by reference counting with the
collector paused; whatever cycles appear are collected when it resumes.

A one-shot process (the command line) goes further with ``freeze_after_pauses``: what a paused
block built lives until the process ends, so when the block ends it is moved out of the
collector's sight (``gc.freeze``) instead of being walked by the next collections and by the
interpreter's last one at exit (a scan of 365 distributions spent 20-30 ms in those). Objects
stay freed by reference counting; only a reference cycle built before a freeze is never reclaimed,
which in a process about to end costs nothing. Libraries and long-lived processes never freeze.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_freeze = False


def freeze_after_pauses() -> None:
    """For the rest of this process, freeze what exists when an outermost paused block ends (see above)."""
    global _freeze
    _freeze = True


def resume_gc() -> None:
    """Turn the collector back on after a pause (freezing first, in a process that asked for it)."""
    if _freeze:
        gc.freeze()
    gc.enable()


@contextmanager
def paused_gc() -> Iterator[None]:
    """The collector off inside the block, back as it was after it (nested blocks are fine)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            resume_gc()
