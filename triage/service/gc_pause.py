"""Pausing the cyclic garbage collector while one large response is built.

A day's queue builds tens of thousands of short-lived containers (rows, items,
reasons, the response's dicts) that reference counting frees as soon as the body is
written. With the collector running, enough of them survive two young collections
to trigger a full one, which walks every object the service holds (the models, the
app) and costs more than the read itself. Paused, nothing is lost: the garbage is
freed by reference counting, and the collector resumes when the last paused build
ends (requests run in threads, so pauses nest by count)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]


class _Pauses:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.resume = False  # whether the collector was running when the first pause began

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                self.resume = gc.isenabled()
                gc.disable()
            self.depth += 1

    def leave(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0 and self.resume:
                gc.enable()


_PAUSES = _Pauses()


@contextmanager
def paused_gc() -> Iterator[None]:
    """No automatic cyclic collection inside the block (in any thread) unless another
    caller had paused it already; the previous state returns when every block ends.
    Build and drop the large objects inside the block, return only the result."""
    _PAUSES.enter()
    try:
        yield
    finally:
        _PAUSES.leave()
