"""Forgetting a visitor: what a tombstone is and why the worker needs one.

Deleting a profile is not enough: the worker may hold that visitor in memory, and events the
visitor sent before the request may still be in Kafka. So ``DELETE /v1/visitors/<id>`` deletes
everything stored *and* leaves a tombstone: a keyed hash of the visitor id (not the id: the
tombstone list must not become a list of the people who asked to be forgotten) and the time of
the request. The worker drops its cached copy when it sees the tombstone, and ignores that
visitor's events stamped before it. Tombstones expire after :data:`TOMBSTONE_DAYS`, longer than
any event can wait in Kafka.

>>> forget_key("v-1") == forget_key("v-1") != forget_key("v-2")
True
"""

from __future__ import annotations

from dataclasses import dataclass

from tracker.erasure import forget_key  # one key for tombstones and the suppression list

__all__ = ["TOMBSTONE_DAYS", "Forgotten", "Tombstone", "forget_key"]

TOMBSTONE_DAYS = 30


@dataclass(frozen=True)
class Tombstone:
    key: str  # forget_key(visitor_id)
    at: float  # epoch seconds of the request: events stamped up to then are dropped


@dataclass(frozen=True)
class Forgotten:
    """What a forget request removed (counts only, for the API's answer and the audit)."""

    profile_id: str
    profiles: int
    links: int
    decisions: int
    # forgetting a user: the visitor ids only they used, whose rows the batch jobs drop too
    devices: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, int | str]:
        return {"profile_id": self.profile_id, "profiles": self.profiles, "links": self.links,
                "decisions": self.decisions}
