"""The Redis store: profiles, model and decisions shared by several API instances and workers.

Key layout (every key starts with ``settings.personalization.redis_prefix``, ``clickloop:``):

===============================  ===============================================================
key                              what
===============================  ===============================================================
``profile:<profile id>``         hash: ``data`` (public JSON), ``worker`` (worker JSON),
                                 ``source`` (``topic:partition`` it is read from)
``link:<visitor id>``            string: the profile id, when it differs from the visitor id
``links-of:<profile id>``        set: the visitor ids linked to a profile
``user-profiles:<user id>``      set: the profile ids of a user (one per device, see stitching)
``visitor-profiles:<visitor>``   set: the user profile ids on a device
``open:<topic>:<partition>``     sorted set: profile id -> last event time of an open session
``offsets:<group>``              hash: ``topic:partition`` -> next offset (see the worker)
``state:<group>``                hash: ``worker_state`` (pickled model), ``summary``, ``saved``
``items``, ``views``, ``buys``   hashes: sku -> catalogue JSON / view count / order count
``pairs:view``, ``pairs:buy``    hashes: ``a<US>b`` -> co-occurrence count
``popular``                      string: the popular items JSON
``bandit``                       string: the slots' bandit statistics JSON (last checkpoint)
``tombstones``                   stream: ``key``, ``at`` (see :mod:`personalization.forgetting`)
``partition-state:<group>``      hash: ``topic:partition`` -> pickled state that moves with it
``model:<group>``                hash: ``version``, ``blob`` (the shared learner's snapshot)
``learner-offsets:<group>``      hash: labels ``topic:partition`` -> next offset (the learner)
``decision:<decision id>``       string with a TTL: the decision record
``decisions:<profile id>``       list: that profile's recent decision ids (to forget them)
===============================  ===============================================================

A checkpoint is one ``MULTI``/``EXEC`` under ``WATCH tombstones``: if a visitor is forgotten while
the worker prepares it, the transaction fails and is rebuilt without that visitor.

The model is stored pickled: whoever can write to this Redis can run code in the workers, as
with any pickle. Keep Redis private (bind to a private network, ``requirepass``/ACLs).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import redis

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

PAIR_SEP = "\x1f"
DECISIONS_PER_PROFILE = 200


class RedisStore(shared.LogsDecisionsInBatches):
    """Redis-backed :class:`~personalization.stores.base.Store`."""

    def __init__(self, url: str, prefix: str = "clickloop:"):
        self.url = url
        self.prefix = prefix
        self._client: redis.Redis | None = None
        self._pid = 0

    @property
    def r(self) -> redis.Redis:
        # one client (and connection pool) per process: sockets must not cross a fork
        if self._client is None or self._pid != os.getpid():
            try:
                self._client = redis.Redis.from_url(self.url, socket_timeout=5,
                                                    socket_connect_timeout=5)
            except ValueError as exc:
                raise StoreError(f"CLICKLOOP_REDIS_URL={self.url!r}: {exc}") from None
            self._pid = os.getpid()
        return self._client

    def k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def ping(self) -> None:
        try:
            self.r.ping()
        except redis.RedisError as exc:
            raise StoreError(f"Redis at {self.url}: {exc}") from None

    # --- decision API -------------------------------------------------------------------------

    def resolve(self, visitor_id: str) -> str:
        linked = self.r.get(self.k("link", visitor_id))
        return linked.decode() if linked else visitor_id

    def read_profile(self, visitor_id: str) -> Profile | None:
        pipe = self.r.pipeline(transaction=False)
        pipe.get(self.k("link", visitor_id))
        pipe.hget(self.k("profile", visitor_id), "data")
        linked, data = pipe.execute()
        if linked and linked.decode() != visitor_id:
            data = self.r.hget(self.k("profile", linked.decode()), "data")
        return from_dicts(json.loads(data)) if data else None

    def popular(self) -> list[dict[str, Any]]:
        data = self.r.get(self.k("popular"))
        return json.loads(data) if data else []

    def bandit_state(self) -> dict[str, Any] | None:
        data = self.r.get(self.k("bandit"))
        return json.loads(data) if data else None

    def model_summary(self, group: str) -> dict[str, Any] | None:
        summary, saved = self.r.hmget(self.k("state", group), ["summary", "saved"])
        if summary is None:
            return None
        return {**json.loads(summary), "saved": float(saved) if saved else None}

    def log_decisions(self, records: list[dict[str, Any]]) -> None:
        keyed = [(*shared.decision_key_fields(r), r) for r in records]
        if not keyed:
            return
        since = min(ts for _, _, ts, _ in keyed)
        # stream ids are the server's clock: look a little further back than the oldest record
        low = f"{max(0, int((since - 60) * 1000))}-0"
        latest = shared.latest_tombstones(
            (fields[b"key"].decode(), float(fields[b"at"]))
            for _, fields in self.r.xrange(self.k("tombstones"), min=low, max="+"))
        pipe = self.r.pipeline(transaction=False)
        for decision_id, profile_id, ts, record in keyed:
            if shared.forgotten_after(profile_id, ts, latest):
                continue  # the visitor asked to be forgotten after this decision
            index = self.k("decisions", profile_id)
            pipe.set(self.k("decision", decision_id), shared.dumps(record),
                     ex=shared.DECISION_TTL_S)
            pipe.rpush(index, decision_id)
            pipe.ltrim(index, -DECISIONS_PER_PROFILE, -1)
            pipe.expire(index, shared.DECISION_TTL_S)
        pipe.execute()

    def decision(self, decision_id: str) -> dict[str, Any] | None:
        data = self.r.get(self.k("decision", decision_id))
        return json.loads(data) if data else None

    def link(self, visitor_id: str, profile_id: str) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self.k("link", visitor_id), profile_id)
        pipe.sadd(self.k("links-of", profile_id), visitor_id)
        pipe.execute()

    def user_profiles(self, user_id: str) -> list[Profile]:
        ids = sorted(m.decode() for m in self.r.smembers(self.k("user-profiles", user_id)))
        if not ids:
            return []
        pipe = self.r.pipeline(transaction=False)
        for profile_id in ids:
            pipe.hget(self.k("profile", profile_id), "data")
        return [from_dicts(json.loads(data)) for data in pipe.execute() if data]

    def forget(self, visitor_id: str, now: float) -> Forgotten:
        r = self.r
        profile_id = self.resolve(visitor_id)
        profile_ids = {visitor_id, profile_id} | {
            m.decode() for m in r.smembers(self.k("visitor-profiles", visitor_id))}
        keys = {forget_key(visitor_id)}
        visitors = {visitor_id}
        for pid in profile_ids:  # every visitor id of those profiles (links)
            ids = shared.visitor_ids_of(r.hget(self.k("profile", pid), "data"))
            visitors.update(ids)
            keys.update(forget_key(v) for v in ids)
        return self._forget(profile_id, profile_ids, visitors, keys, now)

    def forget_user(self, user_id: str, now: float) -> Forgotten:
        r = self.r
        profile_ids = {m.decode() for m in r.smembers(self.k("user-profiles", user_id))}
        keys = {user_tombstone_key(user_id)}
        own = []
        for device in sorted({device_of(p) for p in profile_ids}):
            worker = r.hget(self.k("profile", device), "worker")  # anonymous history it took
            if shared.claimed_by(worker) == user_id:
                profile_ids.add(device)
                # a device only this user identified on: drop its anonymous events still in
                # Kafka too (not on a shared device: the other users' events are theirs)
                on_device = {m.decode() for m in r.smembers(self.k("visitor-profiles", device))}
                if on_device <= profile_ids:
                    keys.add(forget_key(device))
                    own.append(device)
        forgotten = self._forget(f"user:{user_id}", profile_ids, set(), keys, now)
        r.delete(self.k("user-profiles", user_id))
        return dataclasses.replace(forgotten, devices=tuple(own))

    def _forget(self, label: str, profile_ids: set[str], visitors: set[str], keys: set[str],
                now: float) -> Forgotten:
        """Delete ``profile_ids`` with their links, index entries, open-session entries and
        decisions, and write the tombstones ``keys``, in one transaction."""
        r = self.r
        # decisions still in flight (anonymous profiles: the visitor key, if any)
        keys = shared.with_in_flight_keys(keys, profile_ids)
        ordered = sorted(profile_ids)
        pipe = r.pipeline(transaction=False)
        for pid in ordered:
            pipe.hget(self.k("profile", pid), "source")
            pipe.smembers(self.k("links-of", pid))
            pipe.lrange(self.k("decisions", pid), 0, -1)
        read = pipe.execute()
        sources, linked, decision_ids = read[0::3], read[1::3], read[2::3]
        candidates = sorted(set(visitors) | {m.decode() for ms in linked for m in ms})
        current = r.mget([self.k("link", v) for v in candidates]) if candidates else []
        # links-of may be stale (a link moved on): delete only links that still point here
        link_keys = {self.k("link", v) for v, to in zip(candidates, current, strict=True)
                     if v in visitors or (to is not None and to.decode() in profile_ids)}
        pipe = r.pipeline(transaction=True)
        pipe.delete(self.k("profile", "-"), *(self.k("profile", p) for p in ordered))
        pipe.delete(self.k("link", "-"), *sorted(link_keys))
        pipe.delete(self.k("decision", "-"),
                    *(self.k("decision", d.decode()) for ids in decision_ids for d in ids))
        pipe.delete(self.k("links-of", "-"), *(self.k("links-of", p) for p in ordered),
                    *(self.k("decisions", p) for p in ordered))
        for pid, source in zip(ordered, sources, strict=True):
            if source:
                pipe.zrem(self.k("open", source.decode()), pid)
            device = device_of(pid)
            if device != pid:
                pipe.srem(self.k("visitor-profiles", device), pid)
                pipe.srem(self.k("user-profiles", pid[:-len(device) - 1]), pid)
        for key in sorted(keys):
            pipe.xadd(self.k("tombstones"), {"key": key, "at": repr(now)})
        # stream ids are the server's clock in ms: expire by wall time, not the request's
        cutoff = max(0, int((time.time() - TOMBSTONE_DAYS * 86_400) * 1000))
        pipe.xtrim(self.k("tombstones"), minid=f"{cutoff}-0", approximate=True)
        profiles, links, decisions, *_ = pipe.execute()
        return Forgotten(label, int(profiles), int(links), int(decisions))

    # --- worker -------------------------------------------------------------------------------

    def load_profile(self, profile_id: str) -> Profile | None:
        data, worker = self.r.hmget(self.k("profile", profile_id), ["data", "worker"])
        if not data:
            return None
        return from_dicts(json.loads(data), json.loads(worker) if worker else None)

    def load_checkpoint(self, group: str) -> WorkerCheckpoint:
        state = self.r.hget(self.k("state", group), "worker_state")
        offsets = {k.decode(): int(v) for k, v in
                   self.r.hgetall(self.k("offsets", group)).items()}
        return WorkerCheckpoint(state, offsets)

    def open_sessions(self, source: str) -> dict[str, float]:
        return {member.decode(): score for member, score in
                self.r.zrange(self.k("open", source), 0, -1, withscores=True)}

    def load_graph(self) -> GraphCounts:
        pipe = self.r.pipeline(transaction=False)
        for name in ("items", "views", "buys", "pairs:view", "pairs:buy"):
            pipe.hgetall(self.k(name))
        items, views, buys, coview, cobuy = pipe.execute()

        def pairs(raw: dict[bytes, bytes]) -> list[tuple[str, str, int]]:
            out = []
            for field, n in raw.items():
                a, _, b = field.decode().partition(PAIR_SEP)
                out.append((a, b, int(n)))
            return out

        return GraphCounts(
            {sku.decode(): json.loads(info) for sku, info in items.items()},
            {sku.decode(): int(n) for sku, n in views.items()},
            {sku.decode(): int(n) for sku, n in buys.items()},
            pairs(coview), pairs(cobuy),
        )

    def tombstones(self, cursor: str, client: Any = None) -> tuple[list[Tombstone], str]:
        low = "-" if cursor in ("", "0") else "(" + cursor
        entries = (client or self.r).xrange(self.k("tombstones"), min=low, max="+")
        if not entries:
            return [], cursor
        out = [Tombstone(fields[b"key"].decode(), float(fields[b"at"]))
               for _, fields in entries]
        return out, entries[-1][0].decode()

    def save(self, checkpoint: Checkpoint) -> SaveResult:
        with self.r.pipeline(transaction=True) as pipe:
            for _ in range(20):
                try:
                    pipe.watch(self.k("tombstones"))
                    tombstones, cursor = self.tombstones(checkpoint.tombstone_cursor, pipe)
                    refused, keys = shared.refused_profiles(checkpoint.profiles, tombstones)
                    pipe.multi()
                    self._queue_checkpoint(pipe, checkpoint, set(refused), keys)
                    pipe.execute()
                    return SaveResult(refused, tombstones, cursor)
                except redis.WatchError:
                    continue  # a visitor was forgotten meanwhile: look again
        raise StoreError("could not save a checkpoint: visitors kept being forgotten during it")

    def _queue_checkpoint(self, pipe: Any, checkpoint: Checkpoint, skip: set[str],
                          keys: set[str]) -> None:
        for visitor_id, linked in sorted(checkpoint.links.items()):
            if shared.unlinks(visitor_id, linked, skip, keys):
                pipe.delete(self.k("link", visitor_id))
            else:
                pipe.set(self.k("link", visitor_id), linked)
                pipe.sadd(self.k("links-of", linked), visitor_id)
        for profile in checkpoint.profiles:
            pid = profile.profile_id
            if pid in skip:
                continue
            device = shared.user_device(profile)
            if device is not None:
                pipe.sadd(self.k("user-profiles", profile.user_id), pid)
                pipe.sadd(self.k("visitor-profiles", device), pid)
            source = checkpoint.sources.get(pid) or ""
            pipe.hset(self.k("profile", pid), mapping={
                "data": shared.dumps(public_dict(profile)),
                "worker": shared.dumps(worker_dict(profile)), "source": source})
            if source:
                if profile.session is not None:
                    pipe.zadd(self.k("open", source), {pid: profile.session.last})
                else:
                    pipe.zrem(self.k("open", source), pid)
        if checkpoint.offsets:
            pipe.hset(self.k("offsets", checkpoint.group), mapping=checkpoint.offsets)
        if checkpoint.partition_states:
            pipe.hset(self.k("partition-state", checkpoint.group),
                      mapping=checkpoint.partition_states)
        if checkpoint.worker_state is not None:
            pipe.hset(self.k("state", checkpoint.group), mapping={
                "worker_state": checkpoint.worker_state,
                "summary": shared.dumps(checkpoint.summary), "saved": repr(time.time())})
        delta = checkpoint.graph
        if delta.items:
            pipe.hset(self.k("items"), mapping={sku: shared.dumps(info)
                                                for sku, info in delta.items.items()})
        for name, counts in (("views", delta.views), ("buys", delta.buys)):
            for sku, n in counts.items():
                pipe.hincrby(self.k(name), sku, n)
        for name, pairs in (("pairs:view", delta.coview), ("pairs:buy", delta.cobuy)):
            for (a, b), n in pairs.items():
                pipe.hincrby(self.k(name), a + PAIR_SEP + b, n)
        if checkpoint.popular:
            pipe.set(self.k("popular"), shared.dumps(checkpoint.popular))
        if checkpoint.bandit is not None:
            pipe.set(self.k("bandit"), shared.dumps(checkpoint.bandit))

    def load_partition_state(self, group: str, source: str) -> bytes | None:
        return self.r.hget(self.k("partition-state", group), source)

    # --- shared model ---------------------------------------------------------------------------

    def model_version(self, group: str) -> int:
        version = self.r.hget(self.k("model", group), "version")
        return int(version) if version else 0

    def load_model(self, group: str) -> ModelSnapshot | None:
        pipe = self.r.pipeline(transaction=True)
        pipe.hmget(self.k("model", group), ["version", "blob"])
        pipe.hgetall(self.k("learner-offsets", group))
        pipe.hget(self.k("state", group), "summary")
        pipe.get(self.k("bandit"))
        (version, blob), offsets, summary, bandit = pipe.execute()
        if not version:
            return None
        return ModelSnapshot(group, int(version), blob, json.loads(summary) if summary else {},
                             json.loads(bandit) if bandit else {},
                             {k.decode(): int(v) for k, v in offsets.items()})

    def save_model(self, snapshot: ModelSnapshot) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self.k("model", snapshot.group),
                  mapping={"version": snapshot.version, "blob": snapshot.blob})
        if snapshot.offsets:
            pipe.hset(self.k("learner-offsets", snapshot.group), mapping=snapshot.offsets)
        pipe.hset(self.k("state", snapshot.group), mapping={
            "summary": shared.dumps(snapshot.summary), "saved": repr(time.time())})
        pipe.set(self.k("bandit"), shared.dumps(snapshot.bandit))
        pipe.execute()

    # --- reports ------------------------------------------------------------------------------

    def iter_profiles(self) -> Iterator[Profile]:
        batch: list[bytes] = []
        for key in self.r.scan_iter(match=self.k("profile", "*"), count=1000):
            batch.append(key)
            if len(batch) >= 500:
                yield from self._read_batch(batch)
                batch = []
        if batch:
            yield from self._read_batch(batch)

    def _read_batch(self, keys: list[bytes]) -> Iterator[Profile]:
        pipe = self.r.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, "data")
        for data in pipe.execute():
            if data:
                yield from_dicts(json.loads(data))
