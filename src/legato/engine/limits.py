"""Concurrency limits by tag: at most N steps carrying a tag run at once (in this run)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping


class TagLimits:
    def __init__(self, limits: Mapping[str, int]) -> None:
        self._slots = {tag: threading.BoundedSemaphore(n) for tag, n in limits.items()}

    @contextlib.contextmanager
    def hold(self, tags: Iterable[str]) -> Iterator[None]:
        """Wait for a slot of every limited tag (in a fixed order, so never deadlocks)."""
        wanted = sorted(t for t in set(tags) if t in self._slots)
        taken: list[threading.BoundedSemaphore] = []
        try:
            for tag in wanted:
                slot = self._slots[tag]
                slot.acquire()
                taken.append(slot)
            yield
        finally:
            for slot in reversed(taken):
                slot.release()
