"""How clickloop.js groups a page's events into HTTP requests (js_snippet/src, the transport).

Separate from the page model because it is the snippet's rule, not the visitor's behaviour: the
same timeline of events always leaves the browser in the same batches.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

BATCH_DELAY = timedelta(seconds=1)  # clickloop.js `delay`
BATCH_MAX = 20  # clickloop.js `batch`


def batches(timeline: list[tuple[datetime, dict[str, Any]]], hide_at: datetime,
            at_boot: int = 0) -> list[tuple[datetime, list[dict[str, Any]]]]:
    """Group a page's events into requests the way clickloop.js's transport does.

    The first ``at_boot`` events of ``timeline`` are what the page queued while the snippet
    booted (the page view and the replayed calls): boot ends with a flush, so they go at once,
    by ``fetch``, whose answer sets the ``cl_vid`` cookie (Chromium keeps none from a beacon).
    After that the first event in an empty queue starts a :data:`BATCH_DELAY` timer, a full
    batch goes at once, and pagehide sends whatever is queued.

    >>> t = datetime(2026, 3, 2)
    >>> line = [(t, {"n": 0}), (t + timedelta(seconds=5), {"n": 1}),
    ...         (t + timedelta(seconds=5.5), {"n": 2})]
    >>> [(at.second, [e["n"] for e in events])
    ...  for at, events in batches(line, t + timedelta(seconds=60), at_boot=1)]
    [(0, [0]), (6, [1, 2])]
    """
    out: list[tuple[datetime, list[dict[str, Any]]]] = []
    boot, rest = timeline[:at_boot], timeline[at_boot:]
    if boot:
        flushed = max(at for at, _ in boot)
        events = [event for _, event in boot]
        out.extend((flushed, events[i:i + BATCH_MAX]) for i in range(0, len(events), BATCH_MAX))
    batch: list[dict[str, Any]] = []
    due: datetime | None = None
    for at, event in sorted(rest, key=lambda pair: pair[0]):  # stable: load order kept
        if due is not None and at > due:
            out.append((due, batch))
            batch, due = [], None
        if due is None:
            due = min(at + BATCH_DELAY, hide_at)
        batch.append(event)
        if len(batch) == BATCH_MAX:
            out.append((at, batch))
            batch, due = [], None
    if batch:
        assert due is not None
        out.append((due, batch))
    return out
