"""The rules file as the API sees it: loaded at start, reloaded when it changes on disk.

A marketer saves the file; within a second every API process serves the new rules, with no
restart. A save that breaks the file does not break the site: the last valid rules stay in
force, the error (with its line) is logged once and shown by ``GET /v1/health``, and the next
valid save is picked up. At start, though, an invalid file is fatal: better to refuse to start
than to serve nothing the marketer meant.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from personalization.rules.model import Rules
from personalization.rules.parse import RulesError, load_rules

log = logging.getLogger("clickloop.personalization.rules")

DEFAULT_RULES_FILE = Path(__file__).resolve().parent / "default_rules.yaml"
CHECK_EVERY_S = 1.0


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class RulesSource:
    """Current rules of one file; :meth:`current` is cheap (a ``stat`` at most once a second)."""

    def __init__(self, path: Path | None = None, *, check_every_s: float = CHECK_EVERY_S,
                 clock: Callable[[], float] = time.monotonic):
        self.path = Path(path) if path is not None else DEFAULT_RULES_FILE
        self.check_every_s = check_every_s
        self.clock = clock
        self._lock = threading.Lock()
        self._signature = _signature(self.path)
        self._rules = load_rules(self.path)  # invalid at start: RulesError, fatal
        self._checked = clock()
        self.error: RulesError | None = None  # the last failed reload, if still failing

    def current(self) -> Rules:
        """The rules in force, reloading the file first if it changed."""
        now = self.clock()
        if now - self._checked < self.check_every_s:
            return self._rules
        with self._lock:
            if now - self._checked >= self.check_every_s:
                self._checked = now
                self._maybe_reload()
        return self._rules

    def _maybe_reload(self) -> None:
        signature = _signature(self.path)
        if signature == self._signature:
            return
        self._signature = signature
        try:
            self._rules = load_rules(self.path)
        except RulesError as exc:
            self.error = exc
            log.error("%s\nkeeping the previous rules until the file is fixed", exc)
            return
        self.error = None
        log.info("reloaded rules from %s: slots %s", self.path, sorted(self._rules.slots))
