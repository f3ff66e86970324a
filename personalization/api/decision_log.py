"""Decisions are logged in batches, off the request path.

Writing each decision as it is made cost more than deciding (a transaction per request); one
transaction per batch costs a tenth per decision. Each process buffers its decisions and a
background thread writes them every :data:`FLUSH_EVERY_S`, and when the process exits. A crash
can lose the last fraction of a second of the *log* (never a decision a visitor saw: those come
back through ``personalization_shown``). A decision whose visitor is forgotten before its batch
is written is dropped by the store (it checks the tombstones), so a buffer in another process
cannot bring a forgotten visitor back.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from typing import Any

from personalization.stores import STORE_ERRORS, DecisionLogStore

log = logging.getLogger("clickloop.personalization.api")

FLUSH_EVERY_S = 0.2
MAX_BUFFER = 20_000  # a store outage must not eat the process's memory
PER_STATE = 16  # decisions logged per profile state (a page's slots, a few reloads)
REMEMBERED_STATES = 50_000  # profile states whose counts one process keeps (least recent go)


class LogGate:
    """What an anonymous caller can make the decision log keep, bounded.

    Only decisions for a visitor the worker has a profile of are logged: a cookie the collector
    never saw events from (a made-up ``cl_vid``) gets its decision, and nothing is stored. And
    per profile *state* (its ``updated`` time, which moves only when the worker applies a new
    event from the collector) at most :data:`PER_STATE` decisions are logged by one process: a
    script replaying one real cookie cannot grow the log either. Decisions not logged still
    have their outcomes attributed (the snippet's ``personalization_shown`` carries the
    decision), and the bandit learns them with the context recomputed from the profile.

    >>> gate = LogGate(per_state=2)
    >>> [gate.admit("v1", 10.0) for _ in range(3)], gate.admit("v1", 11.0)
    ([True, True, False], True)
    """

    def __init__(self, per_state: int = PER_STATE, remembered: int = REMEMBERED_STATES):
        self.per_state = per_state
        self.remembered = remembered
        self._counts: OrderedDict[tuple[str, float | None], int] = OrderedDict()
        self._lock = threading.Lock()
        self.refused = 0

    def admit(self, profile_id: str, state: float | None) -> bool:
        key = (profile_id, state)
        with self._lock:
            count = self._counts.get(key, 0)
            if count >= self.per_state:
                self.refused += 1
                return False
            self._counts[key] = count + 1
            self._counts.move_to_end(key)
            if len(self._counts) > self.remembered:
                self._counts.popitem(last=False)
            return True


class DecisionLog:
    def __init__(self, store: DecisionLogStore, every_s: float = FLUSH_EVERY_S):
        self.store = store
        self.every_s = every_s
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.dropped = 0

    def add(self, record: dict[str, Any]) -> None:
        with self._lock:
            if len(self._buffer) >= MAX_BUFFER:
                self.dropped += 1
                return
            self._buffer.append(record)
            if self._thread is None or self._pid != os.getpid():
                # started on first use, i.e. in the gunicorn worker after the fork
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="decision-log",
                                                daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Write everything buffered so far (also called by forget and at exit)."""
        with self._flush_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            if not batch:
                return
            try:
                self.store.log_decisions(batch)
            except STORE_ERRORS as exc:
                log.error("could not log %d decisions: %s", len(batch), exc)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()
