"""Erasure records shared by every component: the suppression list and the audit log.

Forgetting a person touches state owned by different processes: the personalization store
(deleted at once), and the event lake and sessions (rewritten by the next batch run). The
*suppression list* is how the request reaches the batch jobs: every batch job drops the events
of a suppressed visitor or user id, and the re-run rewrites the partitions that held them.

Neither file names anyone. The suppression list holds a keyed hash of the id (the same
:func:`forget_key` the personalization tombstones use, so a Spark job can compute it with
``sha2``), and the audit log records when and what was erased, never who.

Both are append-only JSON Lines under ``<state_dir>/privacy/``; an append is one ``write`` of
one line on a file opened with ``O_APPEND``, so concurrent writers never interleave lines.

>>> forget_key("v-1") == forget_key("v-1") != forget_key("v-2")
True
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Kind = Literal["visitor", "user"]
KINDS: tuple[Kind, ...] = ("visitor", "user")

# Domain separation: the key of an id is not the plain SHA-256 anyone could look up.
FORGET_KEY_PREFIX = "clickloop-forget\x00"
FORGET_KEY_HEX_CHARS = 32  # 128 bits


def forget_key(identifier: str) -> str:
    """The erasure key of a visitor or user id (SHA-256, domain-separated, 128 bits).

    Spark computes the same with
    ``substring(sha2(concat(lit(FORGET_KEY_PREFIX), col), 256), 1, FORGET_KEY_HEX_CHARS)``.
    """
    digest = hashlib.sha256((FORGET_KEY_PREFIX + identifier).encode()).hexdigest()
    return digest[:FORGET_KEY_HEX_CHARS]


def privacy_dir(state_dir: Path) -> Path:
    """Where the suppression list and the audit log live."""
    return state_dir / "privacy"


@dataclass(frozen=True)
class Suppression:
    key: str  # forget_key(id)
    kind: Kind
    at: str  # ISO 8601 UTC of the request


def _append_line(path: Path, record: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _now_iso(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


class SuppressionList:
    """``<state_dir>/privacy/suppressions.jsonl``: one ``{"key", "kind", "at"}`` per erasure."""

    def __init__(self, state_dir: Path):
        self.path = privacy_dir(state_dir) / "suppressions.jsonl"

    def add(self, kind: Kind, identifier: str, now: datetime | None = None) -> Suppression:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if not identifier:
            raise ValueError("identifier must not be empty")
        entry = Suppression(key=forget_key(identifier), kind=kind, at=_now_iso(now))
        _append_line(self.path, {"key": entry.key, "kind": entry.kind, "at": entry.at})
        return entry

    def __iter__(self) -> Iterator[Suppression]:
        """Every entry; a torn last line (a crash mid-write) is skipped, not fatal."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                    yield Suppression(key=str(record["key"]), kind=record["kind"],
                                      at=str(record["at"]))
                except (ValueError, KeyError, TypeError):
                    continue

    def keys(self, kind: Kind | None = None) -> set[str]:
        """The erasure keys of one kind (or all)."""
        return {s.key for s in self if kind is None or s.kind == kind}


class AuditLog:
    """``<state_dir>/privacy/audit.jsonl``: when and what was erased, never who."""

    def __init__(self, state_dir: Path):
        self.path = privacy_dir(state_dir) / "audit.jsonl"

    def record(self, action: str, kind: Kind, removed: Mapping[str, int],
               now: datetime | None = None, **details: str | int) -> dict[str, Any]:
        entry: dict[str, Any] = {"at": _now_iso(now), "action": action, "kind": kind,
                                 "removed": dict(removed), **details}
        _append_line(self.path, entry)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out
