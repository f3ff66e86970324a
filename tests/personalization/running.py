"""A long-running loop (worker, learner) in a thread of the test process."""

from __future__ import annotations

import threading
from collections.abc import Callable


class InThread:
    """Runs ``loop(stop_event)`` in a daemon thread; ``stop()`` sets the event and joins.

    An exception that ends the loop is kept in ``error`` rather than lost in the thread: the
    crash tests look at it, the others assert it is None."""

    def __init__(self, loop: Callable[[threading.Event], None]):
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self._loop = loop
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self._loop(self.stop_event)
        except BaseException as exc:  # kept for the test to see
            self.error = exc

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()
