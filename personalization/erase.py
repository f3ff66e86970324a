"""Forget a person everywhere at once: the one path the API's DELETE routes and
``clickloop forget`` share.

1. The store deletes the profiles (anonymous, and per device of a user), links, decisions and
   open-session entries, and writes tombstones so the worker drops its cached copy and the
   person's events still waiting in Kafka (:mod:`personalization.forgetting`).
2. A suppression entry (:class:`tracker.erasure.SuppressionList`) carries the request to the
   batch jobs, which drop the person's rows from the lake and sessions on their next run. For
   a user, the visitor ids only they used get one too (their anonymous browsing before each
   login); a shared device's do not (the other people's rows are theirs).
3. The audit log (:class:`tracker.erasure.AuditLog`) records when and what was erased, and
   where the request came from, never who.

The store goes first: if it cannot be reached the request fails (503, or exit 1) and nothing
claims it was done; a retry repeats it harmlessly (every step is idempotent).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from personalization.forgetting import Forgotten
from personalization.stores.base import ErasureStore
from tracker.erasure import AuditLog, Kind, SuppressionList

ACTION = "forget"


def erase(store: ErasureStore, state_dir: Path, kind: Kind, identifier: str, *, now: float,
          origin: str) -> Forgotten:
    """Forget the visitor or user ``identifier``; ``origin`` (``api``, ``cli``) is audited."""
    if kind == "visitor":
        forgotten = store.forget(identifier, now)
    elif kind == "user":
        forgotten = store.forget_user(identifier, now)
    else:
        raise ValueError(f"kind must be 'visitor' or 'user', got {kind!r}")
    moment = datetime.fromtimestamp(now, UTC)
    suppressions = SuppressionList(state_dir)
    suppressions.add(kind, identifier, now=moment)
    for device in forgotten.devices:  # a forgotten user's own devices: their anonymous rows
        suppressions.add("visitor", device, now=moment)
    AuditLog(state_dir).record(ACTION, kind, removed_counts(forgotten), now=moment,
                               origin=origin, devices=len(forgotten.devices))
    return forgotten


def removed_counts(forgotten: Forgotten) -> dict[str, int]:
    """What was removed, as counts only (the profile id names the person: never audited)."""
    return {"profiles": forgotten.profiles, "links": forgotten.links,
            "decisions": forgotten.decisions}
