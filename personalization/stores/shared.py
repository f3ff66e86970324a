"""The rules both stores follow, written once: what a decision record must hold, which
decisions and profiles a tombstone keeps out, which tombstones a forget writes.

Each store keeps only what is its own: how it reads and writes (SQL or Redis commands).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson

from personalization.forgetting import Tombstone, forget_key
from personalization.profile import Profile
from personalization.stitching import device_of, tombstone_keys

DECISION_TTL_S = 7 * 86_400  # decisions are kept a week: long enough to attribute an outcome


def dumps(value: Any) -> str:
    """Compact JSON, as both stores keep it (orjson: every checkpoint writes each changed
    profile; the standard library's encoder only for what orjson refuses).

    >>> dumps({"a": [1, 2]})
    '{"a":[1,2]}'
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))


def decision_key_fields(record: dict[str, Any]) -> tuple[str, str, float]:
    """(decision_id, profile_id, ts) of a decision record, checked."""
    try:
        return str(record["decision_id"]), str(record["profile_id"]), float(record["ts"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a decision record needs decision_id, profile_id and ts: {exc}") \
            from None


def latest_tombstones(tombstones: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Key -> time of its newest tombstone."""
    latest: dict[str, float] = {}
    for key, at in tombstones:
        latest[key] = max(at, latest.get(key, at))
    return latest


def forgotten_after(profile_id: str, ts: float, latest: dict[str, float]) -> bool:
    """Whether the visitor of ``profile_id`` asked to be forgotten at or after ``ts``.

    >>> forgotten_after("v1", 5.0, {forget_key("v1"): 6.0}), forgotten_after("v1", 7.0, {})
    (True, False)
    """
    return latest.get(forget_key(profile_id), float("-inf")) >= ts


def refused_profiles(profiles: Iterable[Profile], tombstones: Iterable[Tombstone]
                     ) -> tuple[list[str], set[str]]:
    """The ids of the checkpoint's profiles a tombstone written meanwhile refuses, and the
    tombstones' keys."""
    keys = {t.key for t in tombstones}
    return [p.profile_id for p in profiles if keys and tombstone_keys(p) & keys], keys


def unlinks(visitor_id: str, profile_id: str | None, skip: set[str], keys: set[str]) -> bool:
    """Whether a checkpoint's link change deletes the link (unlinked, refused, or forgotten)
    rather than writing it."""
    return profile_id is None or profile_id in skip or forget_key(visitor_id) in keys


def user_device(profile: Profile) -> str | None:
    """The device (visitor id) of a user's profile ``<user>@<visitor>``; None for an
    anonymous one."""
    device = device_of(profile.profile_id)
    return device if profile.user_id and device != profile.profile_id else None


def visitor_ids_of(data: str | bytes | None) -> list[str]:
    """The visitor ids linked to a stored profile (its public JSON)."""
    return (json.loads(data).get("visitor_ids") or []) if data else []


def claimed_by(worker: str | bytes | None) -> str | None:
    """The user an anonymous profile's history went to (its stored worker JSON)."""
    return json.loads(worker).get("claimed_by") if worker else None


def with_in_flight_keys(keys: set[str], profile_ids: Iterable[str]) -> set[str]:
    """A forget's tombstone keys, plus those that stop decisions still in flight (for a
    user's profile: the profile id's key)."""
    return keys | {forget_key(p) for p in profile_ids if device_of(p) != p}


class LogsDecisionsInBatches:
    """Mixin: one decision is logged as a batch of one (``log_decisions`` is the store's)."""

    def log_decisions(self, records: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def log_decision(self, record: dict[str, Any]) -> None:
        self.log_decisions([record])
