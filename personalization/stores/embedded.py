"""The embedded store: SQLite files under ``<state>/personalization/``, nothing to install.

Why SQLite rather than pickled snapshots: the worker and every gunicorn worker of the API are
separate processes. SQLite in WAL mode gives them what they need without a server: the worker's
checkpoint is one transaction (profiles + graph + model + Kafka offsets, fsync'd), API readers
never wait for it, and a profile read is one indexed lookup instead of reloading a snapshot.

Decisions go to a second file so that API writes never queue behind a worker checkpoint.
Connections are per process and thread (a SQLite connection must not cross a fork).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from personalization.forgetting import TOMBSTONE_DAYS, Forgotten, Tombstone, forget_key
from personalization.profile import Profile, from_dicts, public_dict, worker_dict
from personalization.stitching import device_of, user_tombstone_key
from personalization.stores import shared
from personalization.stores.base import (
    Checkpoint,
    GraphCounts,
    ModelSnapshot,
    SaveResult,
    StoreError,
    WorkerCheckpoint,
)

PROFILES_SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    profile_id TEXT PRIMARY KEY, source TEXT, session_last REAL, data TEXT NOT NULL, worker TEXT);
CREATE INDEX IF NOT EXISTS profiles_open ON profiles (source, session_last)
    WHERE session_last IS NOT NULL;
CREATE TABLE IF NOT EXISTS links (visitor_id TEXT PRIMARY KEY, profile_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS links_profile ON links (profile_id);
CREATE TABLE IF NOT EXISTS person_profiles (
    user_id TEXT NOT NULL, visitor_id TEXT NOT NULL, profile_id TEXT NOT NULL,
    PRIMARY KEY (user_id, visitor_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS person_profiles_visitor ON person_profiles (visitor_id);
CREATE TABLE IF NOT EXISTS checkpoints (
    grp TEXT PRIMARY KEY, worker_state BLOB, summary TEXT, saved REAL);
CREATE TABLE IF NOT EXISTS offsets (
    grp TEXT, source TEXT, next INTEGER NOT NULL, PRIMARY KEY (grp, source));
CREATE TABLE IF NOT EXISTS items (
    sku TEXT PRIMARY KEY, info TEXT NOT NULL, views INTEGER NOT NULL, buys INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pairs (
    kind TEXT, a TEXT, b TEXT, n INTEGER NOT NULL, PRIMARY KEY (kind, a, b)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS partition_states (
    grp TEXT, source TEXT, state BLOB NOT NULL, PRIMARY KEY (grp, source));
CREATE TABLE IF NOT EXISTS models (grp TEXT PRIMARY KEY, version INTEGER NOT NULL, blob BLOB);
CREATE TABLE IF NOT EXISTS tombstones (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, at REAL NOT NULL);
"""

DECISIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    decision_id TEXT PRIMARY KEY, profile_id TEXT NOT NULL, ts REAL NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS decisions_profile ON decisions (profile_id);
CREATE INDEX IF NOT EXISTS decisions_ts ON decisions (ts);
"""

_PRUNE_EVERY = 1000  # decision inserts between deletions of expired decisions


class EmbeddedStore(shared.LogsDecisionsInBatches):
    """SQLite-backed :class:`~personalization.stores.base.Store`."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {self.folder}: {exc}") from None
        self.profiles_path = self.folder / "profiles.sqlite"
        self.decisions_path = self.folder / "decisions.sqlite"
        self._local = threading.local()
        self._inserts = 0
        self._conn("profiles").executescript(PROFILES_SCHEMA)
        self._conn("decisions").executescript(DECISIONS_SCHEMA)

    def _conn(self, name: str) -> sqlite3.Connection:
        conns = getattr(self._local, "conns", None)
        if conns is None or self._local.pid != os.getpid():
            conns = self._local.conns = {}
            self._local.pid = os.getpid()
        conn = conns.get(name)
        if conn is None:
            path = self.profiles_path if name == "profiles" else self.decisions_path
            try:
                conn = sqlite3.connect(path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                # checkpoints must survive a power cut; decisions may lose the last instant
                conn.execute("PRAGMA synchronous=" + ("FULL" if name == "profiles" else "NORMAL"))
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open {path}: {exc}") from None
            conns[name] = conn
        return conn

    def close(self) -> None:
        conns = getattr(self._local, "conns", None) or {}
        for conn in conns.values():
            conn.close()
        conns.clear()

    def ping(self) -> None:
        try:
            self._conn("profiles").execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"embedded store {self.profiles_path}: {exc}") from None

    # --- decision API -------------------------------------------------------------------------

    def resolve(self, visitor_id: str) -> str:
        row = self._conn("profiles").execute(
            "SELECT profile_id FROM links WHERE visitor_id = ?", (visitor_id,)).fetchone()
        return row[0] if row else visitor_id

    def read_profile(self, visitor_id: str) -> Profile | None:
        row = self._conn("profiles").execute(
            "SELECT data FROM profiles WHERE profile_id = "
            "coalesce((SELECT profile_id FROM links WHERE visitor_id = ?1), ?1)",
            (visitor_id,)).fetchone()
        return from_dicts(json.loads(row[0])) if row else None

    def popular(self) -> list[dict[str, Any]]:
        row = self._conn("profiles").execute(
            "SELECT value FROM kv WHERE key = 'popular'").fetchone()
        return json.loads(row[0]) if row else []

    def bandit_state(self) -> dict[str, Any] | None:
        row = self._conn("profiles").execute(
            "SELECT value FROM kv WHERE key = 'bandit'").fetchone()
        return json.loads(row[0]) if row else None

    def model_summary(self, group: str) -> dict[str, Any] | None:
        row = self._conn("profiles").execute(
            "SELECT summary, saved FROM checkpoints WHERE grp = ?", (group,)).fetchone()
        if not row or row[0] is None:
            return None
        return {**json.loads(row[0]), "saved": row[1]}

    def log_decisions(self, records: list[dict[str, Any]]) -> None:
        rows = [(*shared.decision_key_fields(r), shared.dumps(r)) for r in records]
        if not rows:
            return
        since = min(ts for _, _, ts, _ in rows)
        latest = shared.latest_tombstones(self._conn("profiles").execute(
            "SELECT key, at FROM tombstones WHERE at >= ?", (since,)))
        rows = [row for row in rows if not shared.forgotten_after(row[1], row[2], latest)]
        conn = self._conn("decisions")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?)", rows)
            self._inserts += len(rows)
            if self._inserts >= _PRUNE_EVERY:
                self._inserts = 0
                conn.execute("DELETE FROM decisions WHERE ts < ?",
                             (time.time() - shared.DECISION_TTL_S,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def decision(self, decision_id: str) -> dict[str, Any] | None:
        row = self._conn("decisions").execute(
            "SELECT record FROM decisions WHERE decision_id = ?", (decision_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def link(self, visitor_id: str, profile_id: str) -> None:
        self._conn("profiles").execute("INSERT OR REPLACE INTO links VALUES (?, ?)",
                                       (visitor_id, profile_id))

    def user_profiles(self, user_id: str) -> list[Profile]:
        return [from_dicts(json.loads(data)) for (data,) in self._conn("profiles").execute(
            "SELECT p.data FROM person_profiles u JOIN profiles p USING (profile_id) "
            "WHERE u.user_id = ?", (user_id,))]

    def forget(self, visitor_id: str, now: float) -> Forgotten:
        def targets(conn: sqlite3.Connection) -> tuple[set[str], set[str]]:
            profile_ids = {visitor_id, self.resolve(visitor_id)} | {r[0] for r in conn.execute(
                "SELECT profile_id FROM person_profiles WHERE visitor_id = ?", (visitor_id,))}
            keys = {forget_key(visitor_id)}
            for profile_id in profile_ids:  # every visitor id of those profiles (links)
                row = conn.execute("SELECT data FROM profiles WHERE profile_id = ?",
                                   (profile_id,)).fetchone()
                keys.update(forget_key(v) for v in shared.visitor_ids_of(row[0] if row else None))
            return profile_ids, keys

        return self._forget(self.resolve(visitor_id), targets, {visitor_id}, now)

    def forget_user(self, user_id: str, now: float) -> Forgotten:
        def targets(conn: sqlite3.Connection) -> tuple[set[str], set[str]]:
            profile_ids = {r[0] for r in conn.execute(
                "SELECT profile_id FROM person_profiles WHERE user_id = ?", (user_id,))}
            # the devices whose anonymous history went to this user
            for device in sorted({device_of(p) for p in profile_ids}):
                row = conn.execute("SELECT worker FROM profiles WHERE profile_id = ?",
                                   (device,)).fetchone()
                if row and shared.claimed_by(row[0]) == user_id:
                    profile_ids.add(device)
            # a device only this user identified on: drop its anonymous events still in Kafka
            # too (not on a shared device: the other users' events are theirs)
            own = [d for d in profile_ids if device_of(d) == d and not conn.execute(
                "SELECT 1 FROM person_profiles WHERE visitor_id = ? AND user_id != ? LIMIT 1",
                (d, user_id)).fetchone()]
            devices[:] = sorted(own)
            return profile_ids, {user_tombstone_key(user_id)} | {forget_key(d) for d in own}

        devices: list[str] = []
        forgotten = self._forget(f"user:{user_id}", targets, set(), now)
        return dataclasses.replace(forgotten, devices=tuple(devices))

    def _forget(self, label: str, targets: Any, visitors: set[str], now: float) -> Forgotten:
        """Delete the profiles ``targets(conn)`` names, with their links, index entries and
        decisions, and write its tombstones, in one transaction."""
        conn = self._conn("profiles")
        conn.execute("BEGIN IMMEDIATE")
        try:
            profile_ids, keys = targets(conn)
            # decisions still in flight (anonymous profiles: the visitor key, if any)
            keys = shared.with_in_flight_keys(keys, profile_ids)
            profiles = 0
            for profile_id in sorted(profile_ids):
                profiles += conn.execute("DELETE FROM profiles WHERE profile_id = ?",
                                         (profile_id,)).rowcount
            links = 0
            for profile_id in sorted(profile_ids):
                links += conn.execute("DELETE FROM links WHERE profile_id = ?",
                                      (profile_id,)).rowcount
                conn.execute("DELETE FROM person_profiles WHERE profile_id = ?", (profile_id,))
            for visitor in sorted(visitors):
                links += conn.execute("DELETE FROM links WHERE visitor_id = ?",
                                      (visitor,)).rowcount
            conn.executemany("INSERT INTO tombstones (key, at) VALUES (?, ?)",
                             [(key, now) for key in sorted(keys)])
            conn.execute("DELETE FROM tombstones WHERE at < ?", (now - TOMBSTONE_DAYS * 86_400,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        decisions = sum(self._conn("decisions").execute(
            "DELETE FROM decisions WHERE profile_id = ?", (p,)).rowcount for p in profile_ids)
        return Forgotten(label, profiles, links, decisions)

    # --- worker -------------------------------------------------------------------------------

    def load_profile(self, profile_id: str) -> Profile | None:
        row = self._conn("profiles").execute(
            "SELECT data, worker FROM profiles WHERE profile_id = ?", (profile_id,)).fetchone()
        if not row:
            return None
        return from_dicts(json.loads(row[0]), json.loads(row[1]) if row[1] else None)

    def load_checkpoint(self, group: str) -> WorkerCheckpoint:
        conn = self._conn("profiles")
        row = conn.execute("SELECT worker_state FROM checkpoints WHERE grp = ?",
                           (group,)).fetchone()
        offsets = dict(conn.execute("SELECT source, next FROM offsets WHERE grp = ?", (group,)))
        return WorkerCheckpoint(row[0] if row else None, offsets)

    def open_sessions(self, source: str) -> dict[str, float]:
        return dict(self._conn("profiles").execute(
            "SELECT profile_id, session_last FROM profiles "
            "WHERE source = ? AND session_last IS NOT NULL", (source,)))

    def load_graph(self) -> GraphCounts:
        conn = self._conn("profiles")
        items, views, buys = {}, {}, {}
        for sku, info, n_views, n_buys in conn.execute("SELECT sku, info, views, buys FROM items"):
            parsed = json.loads(info)
            if parsed:
                items[sku] = parsed
            views[sku], buys[sku] = n_views, n_buys
        coview = list(conn.execute("SELECT a, b, n FROM pairs WHERE kind = 'view'"))
        cobuy = list(conn.execute("SELECT a, b, n FROM pairs WHERE kind = 'buy'"))
        return GraphCounts(items, views, buys, coview, cobuy)

    def tombstones(self, cursor: str) -> tuple[list[Tombstone], str]:
        rows = self._conn("profiles").execute(
            "SELECT id, key, at FROM tombstones WHERE id > ? ORDER BY id", (int(cursor),)
        ).fetchall()
        if not rows:
            return [], cursor
        return [Tombstone(key, at) for _, key, at in rows], str(rows[-1][0])

    def save(self, checkpoint: Checkpoint) -> SaveResult:
        conn = self._conn("profiles")
        conn.execute("BEGIN IMMEDIATE")
        try:
            # tombstones written since the worker last looked: refuse those profiles
            tombstones, cursor = self.tombstones(checkpoint.tombstone_cursor)
            refused, keys = shared.refused_profiles(checkpoint.profiles, tombstones)
            skip = set(refused)
            saved = [p for p in checkpoint.profiles if p.profile_id not in skip]
            conn.executemany(
                "INSERT OR REPLACE INTO profiles VALUES (?, ?, ?, ?, ?)",
                [(p.profile_id, checkpoint.sources.get(p.profile_id),
                  p.session.last if p.session else None, shared.dumps(public_dict(p)),
                  shared.dumps(worker_dict(p))) for p in saved])
            conn.executemany(
                "INSERT OR IGNORE INTO person_profiles VALUES (?, ?, ?)",
                [(p.user_id, device, p.profile_id) for p in saved
                 if (device := shared.user_device(p)) is not None])
            self._save_links(conn, checkpoint.links, skip, keys)
            conn.executemany(
                "INSERT INTO offsets VALUES (?, ?, ?) ON CONFLICT (grp, source) "
                "DO UPDATE SET next = excluded.next",
                [(checkpoint.group, source, offset)
                 for source, offset in checkpoint.offsets.items()])
            if checkpoint.worker_state is not None:
                conn.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)",
                             (checkpoint.group, checkpoint.worker_state,
                              shared.dumps(checkpoint.summary), time.time()))
            conn.executemany("INSERT OR REPLACE INTO partition_states VALUES (?, ?, ?)",
                             [(checkpoint.group, source, state)
                              for source, state in checkpoint.partition_states.items()])
            self._save_graph(conn, checkpoint)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return SaveResult(refused, tombstones, cursor)

    @staticmethod
    def _save_links(conn: sqlite3.Connection, links: dict[str, str | None], skip: set[str],
                    keys: set[str]) -> None:
        for visitor_id, profile_id in sorted(links.items()):
            if shared.unlinks(visitor_id, profile_id, skip, keys):
                conn.execute("DELETE FROM links WHERE visitor_id = ?", (visitor_id,))
            else:
                conn.execute("INSERT OR REPLACE INTO links VALUES (?, ?)",
                             (visitor_id, profile_id))

    def _save_graph(self, conn: sqlite3.Connection, checkpoint: Checkpoint) -> None:
        delta = checkpoint.graph
        skus = set(delta.items) | set(delta.views) | set(delta.buys)
        conn.executemany(
            "INSERT INTO items VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sku) DO UPDATE SET "
            "info = CASE WHEN ?2 = '{}' THEN info ELSE ?2 END, "
            "views = views + ?3, buys = buys + ?4",
            [(sku, shared.dumps(delta.items.get(sku, {})), delta.views.get(sku, 0),
              delta.buys.get(sku, 0)) for sku in sorted(skus)])
        for kind, counts in (("view", delta.coview), ("buy", delta.cobuy)):
            conn.executemany(
                "INSERT INTO pairs VALUES (?, ?, ?, ?) ON CONFLICT (kind, a, b) "
                "DO UPDATE SET n = n + excluded.n",
                [(kind, a, b, n) for (a, b), n in counts.items()])
        if checkpoint.popular:
            conn.execute("INSERT OR REPLACE INTO kv VALUES ('popular', ?)",
                         (shared.dumps(checkpoint.popular),))
        if checkpoint.bandit is not None:
            conn.execute("INSERT OR REPLACE INTO kv VALUES ('bandit', ?)",
                         (shared.dumps(checkpoint.bandit),))

    def load_partition_state(self, group: str, source: str) -> bytes | None:
        row = self._conn("profiles").execute(
            "SELECT state FROM partition_states WHERE grp = ? AND source = ?",
            (group, source)).fetchone()
        return row[0] if row else None

    # --- shared model ---------------------------------------------------------------------------

    def model_version(self, group: str) -> int:
        row = self._conn("profiles").execute(
            "SELECT version FROM models WHERE grp = ?", (group,)).fetchone()
        return int(row[0]) if row else 0

    def load_model(self, group: str) -> ModelSnapshot | None:
        conn = self._conn("profiles")
        row = conn.execute("SELECT version, blob FROM models WHERE grp = ?", (group,)).fetchone()
        if not row:
            return None
        offsets = dict(conn.execute("SELECT source, next FROM offsets WHERE grp = ?",
                                    (_learner_group(group),)))
        return ModelSnapshot(group, int(row[0]), row[1], self.model_summary(group) or {},
                             self.bandit_state() or {}, offsets)

    def save_model(self, snapshot: ModelSnapshot) -> None:
        conn = self._conn("profiles")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("INSERT OR REPLACE INTO models VALUES (?, ?, ?)",
                         (snapshot.group, snapshot.version, snapshot.blob))
            conn.executemany(
                "INSERT INTO offsets VALUES (?, ?, ?) ON CONFLICT (grp, source) "
                "DO UPDATE SET next = excluded.next",
                [(_learner_group(snapshot.group), source, offset)
                 for source, offset in snapshot.offsets.items()])
            conn.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, NULL, ?, ?)",
                         (snapshot.group, shared.dumps(snapshot.summary), time.time()))
            conn.execute("INSERT OR REPLACE INTO kv VALUES ('bandit', ?)",
                         (shared.dumps(snapshot.bandit),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # --- reports ------------------------------------------------------------------------------

    def iter_profiles(self) -> Iterator[Profile]:
        cursor = self._conn("profiles").execute("SELECT data FROM profiles")
        for (data,) in cursor:
            yield from_dicts(json.loads(data))


def _learner_group(group: str) -> str:
    """The learner's offsets share the offsets table under their own group name."""
    return group + "\x1flearner"
