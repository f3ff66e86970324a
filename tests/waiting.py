"""Waiting with a deadline: the one polling loop the tests use for anything asynchronous.

Servers start, brokers elect leaders, consumers catch up: a test waits until a check holds,
and fails after a deadline with a message that says what was last seen, never hangs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], *, timeout: float, what: str | Callable[[], str],
               interval: float = 0.2) -> T:
    """Call ``check`` until it returns something truthy, and return that.

    After ``timeout`` seconds raise AssertionError with ``what`` (a callable is called then,
    so the message can show the last state). An exception from ``check`` propagates at once:
    a server that died is reported as such, not as a time-out.

    >>> calls = []
    >>> wait_until(lambda: calls.append(1) or len(calls) >= 3 and len(calls), timeout=5,
    ...            what="three calls", interval=0)
    3
    >>> wait_until(lambda: False, timeout=0.01, what=lambda: "never true", interval=0)
    Traceback (most recent call last):
    AssertionError: gave up after 0.01 s: never true
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            message = what() if callable(what) else what
            raise AssertionError(f"gave up after {timeout:g} s: {message}")
        time.sleep(interval)
