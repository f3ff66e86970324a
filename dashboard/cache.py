"""A small answer cache keyed by the lake's state, so a new batch run is seen at once.

The key includes a cheap signature of the folders read (their and their partitions'
modification times): writing a partition changes its folder's time, so a changed lake is a
cache miss; entries also expire after ``ttl_s`` and the oldest go past ``max_entries``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any


def folder_signature(*folders: Path) -> tuple:
    """Modification times of ``folders`` and their direct subfolders (partitions)."""
    out: list[Any] = []
    for folder in folders:
        if not folder.is_dir():
            out.append((str(folder), None))
            continue
        out.append((str(folder), folder.stat().st_mtime_ns))
        out.extend((p.name, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())
                   if p.is_dir())
    return tuple(out)


class AnswerCache:
    """Thread-safe memo of computed answers (gunicorn threads share one per worker)."""

    def __init__(self, ttl_s: float = 60.0, max_entries: int = 256,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        now = self.clock()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and now - hit[0] < self.ttl_s:
                self._entries.move_to_end(key)
                return hit[1]
        value = compute()  # outside the lock: a slow query must not block other pages
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value
