"""The worker's logic without Kafka or a store: observations in; profiles, model, graph out.

For each event, in order:

1. skip bots, forgotten visitors' older events, and event ids seen recently (a browser retry);
2. if the visitor's open session has been idle longer than the gap, close it first (below);
3. apply the event (:mod:`.transitions`); on a *purchase*, every snapshot waiting in the session
   is labelled **positive** (and learned when the session closes: see "Label delay" below);
4. compute the features of the new state, predict, store the score on the profile (what the API
   serves) and keep the snapshot ``(features, prediction)`` waiting for its label. Page pings
   (the snippet's engagement heartbeat, a third of all events) only add engaged time: the next
   page event is scored with it, which halves the model's work for no loss of signal.

Imported history (``clickloop import``, marked by its record's header) takes another road
after step 1: it changes profile history, the item graph and so segments, never a session, a
clock or the model (:meth:`Engine._imported`).

A session closes after ``gap`` seconds without events, measured in *stream time* (the latest
event time seen, advanced by the wall clock while the stream is idle: see :meth:`Engine.advance`).
Closing labels the snapshots still waiting **negative** ("no purchase after this state").

So each snapshot is learned exactly once, after its outcome is known, with the features it had
when it was predicted; the outcome never leaks into features, and progressive validation scores
the prediction made then. Snapshots per session are capped by reservoir sampling, so a long
session does not outweigh many short ones.

Label delay. A purchase is known at once, "no purchase" only when the session closes, 30 minutes
after its last event. Learning positives at once means that whenever traffic rises (cold start,
a replay, a morning peak) the model trains on a stream made mostly of positives (62-92 % against
a true 4.5 % on a real shop) and its probabilities drift far above the truth. So by default
(``delay="session"``) a positive waits in its session like a negative, and every snapshot is
learned when its session closes, whatever its outcome: both outcomes reach the model at the same
delay, in the proportion they happen. ``delay="none"`` learns positives at once (the old way,
kept to measure the difference: ``bench/label_delay.py``).

Where labels go: to the engine's own model, or, when several workers share one model, to
``label_sink`` (:mod:`personalization.learner` learns them all and publishes the model back).
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from personalization import features as feats
from personalization.bandit.learning import BanditLearner
from personalization.forgetting import forget_key
from personalization.intent import IntentModel
from personalization.observation import Observation
from personalization.profile import Profile, Session, Snapshot
from personalization.recommend import ItemGraph
from personalization.segments import segment_of
from personalization.stitching import (
    absorb,
    device_of,
    emptied,
    person_profile_id,
    tombstone_keys,
    user_tombstone_key,
)
from personalization.transitions import (
    apply,
    apply_imported,
    close_session,
    is_duplicate,
    session_expired,
    start_session,
)
from tracker.contract.spec import LIMITS

MAX_PENDING = 30  # snapshots per session waiting for a label
DELAYS = ("session", "none")  # when a positive is learned: at the session's close, or at once


@dataclass(frozen=True, slots=True)
class Labels:
    """Snapshots learned together (one session's): features, outcomes, predictions then, and a
    key naming them (profile, session start, which labelling), the same whenever the events
    are replayed: a shared learner drops a batch it has learned already."""

    key: str
    xs: list[list[float]]
    ys: list[bool]
    ps: list[float]


def _labelled(pending: list[Snapshot]) -> int:
    """How many snapshots at the front of ``pending`` already carry their label."""
    n = 0
    for snapshot in pending:
        if snapshot.y is None:
            break
        n += 1
    return n


@dataclass
class Counters:
    events: int = 0
    applied: int = 0
    bots: int = 0
    duplicates: int = 0
    forgotten: int = 0
    imported: int = 0  # past events from ``clickloop import`` applied (history only)
    sessions_closed: int = 0
    positives: int = 0  # labels learned
    negatives: int = 0


class Engine:
    """Profiles (a cache over a store), the intent model and the item graph of one worker."""

    def __init__(self, model: IntentModel, graph: ItemGraph, *, gap_s: float = 1800.0,
                 load: Callable[[str], Profile | None] | None = None,
                 identity: Callable[[str], str] | None = None,
                 max_pending: int = MAX_PENDING,
                 on_label: Callable[[dict[str, float], bool, float], None] | None = None,
                 bandit: BanditLearner | None = None, delay: str = "session",
                 label_sink: Callable[[Labels], None] | None = None):
        if delay not in DELAYS:
            raise ValueError(f"unknown label delay {delay!r}; choose one of {DELAYS}")
        self.delay = delay
        # labels learned elsewhere (a shared learner) instead of by ``model``; ``model`` then
        # only predicts and is replaced by the learner's newer snapshots
        self.label_sink = label_sink
        self.model = model
        self.bandit = bandit  # learns the slots' bandits from decisions' delayed outcomes
        self.graph = graph
        self.gap_s = gap_s
        self._load = load or (lambda profile_id: None)
        # visitor id -> profile id of its linked session, as stored (see stitching)
        self._identity = identity or (lambda visitor_id: visitor_id)
        self._routes: dict[str, str] = {}  # visitor id -> profile id its events go to now
        self.link_changes: dict[str, str | None] = {}  # for the next checkpoint (None: unlink)
        self.max_pending = max_pending
        # called with (features, outcome, prediction) for every label learned: the benchmark's
        # baselines are scored on exactly the model's examples, and tests watch when labels come
        self.on_label = on_label
        self.profiles: dict[str, Profile] = {}
        self.partition_of: dict[str, Any] = {}
        self.open: dict[str, float] = {}  # profile id -> last event time of its open session
        # per partition, a heap over ``open`` (stale entries are skipped when popped)
        self._expiry: dict[Any, list[tuple[float, str]]] = {}
        self.dirty: set[str] = set()
        self.event_time = 0.0  # latest event time seen
        self.partition_time: dict[Any, float] = {}  # latest event time seen per partition
        self.tombstones: dict[str, float] = {}  # forget key -> time of the request
        self.counters = Counters()
        # the shop's own conversion rates and prices, learned online from this worker's stream
        self.shop = feats.ShopStats()
        # while ``advance`` closes sessions: their labels and profiles, learned and scored at
        # its end (None outside it)
        self._closing: tuple[list[Labels], list[Profile]] | None = None

    # --- events -------------------------------------------------------------------------------

    def process(self, obs: Observation, partition: Any = None) -> bool:
        """Apply one observation; False when it was skipped (bot, duplicate, forgotten)."""
        self.counters.events += 1
        if obs.is_bot:
            self.counters.bots += 1
            return False
        if self.tombstones and self._forgotten(obs):
            self.counters.forgotten += 1
            return False
        if obs.imported:
            return self._imported(obs, partition)
        profile_id = self._route(obs, partition)
        profile = self.profile(profile_id, partition)
        if is_duplicate(profile, obs.event_id):
            self.counters.duplicates += 1
            return False
        if obs.ts > self.event_time:
            self.event_time = obs.ts
        if obs.ts > self.partition_time.get(partition, float("-inf")):
            self.partition_time[partition] = obs.ts
        if session_expired(profile, obs.ts, self.gap_s):
            self._close(profile)
        session = profile.session or start_session(profile, obs)
        applied = apply(profile, obs)
        self.shop.observe(obs)
        if applied.purchase:
            self._purchased(profile_id, session)
        self._learn_items(obs, applied.viewed, applied.viewed_before, applied.bought)
        if self.bandit is not None:
            self.bandit.observe(profile, obs)
        if obs.event_type != "page_ping":
            v = feats.vector(profile, self.shop)
            p = self.model.predict_vector(v)
            profile.intent = p
            self._offer(session, Snapshot(v, p, feats.VERSION), obs.event_id)
        self._track_open(profile_id, session.last)
        self.dirty.add(profile_id)
        self.counters.applied += 1
        return True

    def _imported(self, obs: Observation, partition: Any) -> bool:
        """A past event from ``clickloop import``: profile history, item graph, segment.

        It goes to the profile of the user it names on its device (``<user>@<visitor>``, as a
        live event with that user id would), else to the visitor's anonymous profile, without
        linking, unlinking or closing anything: identity and sessions are today's. Its old time
        moves no clock (stream time, a partition's time), opens or closes no session, takes no
        snapshot and gives no label; the bandit and the shop's live conversion rates never see
        it. A re-imported event is skipped by its id, kept for every imported event applied
        (``Profile.imported_ids``: a file holds more than the 64 recent ids).
        """
        user = obs.user_id
        profile_id = person_profile_id(user, obs.visitor_id) if user else obs.visitor_id
        profile = self.profile(profile_id, partition)
        event_id = obs.event_id
        if event_id in profile.imported_ids or event_id in profile.recent_event_ids:
            self.counters.duplicates += 1
            return False
        if event_id:
            profile.imported_ids.add(event_id)
        applied = apply_imported(profile, obs, self.gap_s)
        graph = self.graph
        for item in (obs.product,) if obs.product else obs.order_items or obs.products:
            if item.sku not in graph.items:  # an old price or name never replaces today's
                graph.observe_item(item, obs.url if obs.event_type == "product_view" else None)
        if applied.viewed is not None:
            graph.observe_view(applied.viewed, applied.viewed_before)
        if applied.bought:  # pairs of a live order's bound (a past order may hold 1,000 lines)
            graph.observe_order(applied.bought[:LIMITS.max_items])
        self.dirty.add(profile_id)
        self.counters.applied += 1
        self.counters.imported += 1
        return True

    def _forgotten(self, obs: Observation) -> bool:
        keys = [forget_key(obs.visitor_id)]
        if obs.user_id:
            keys.append(user_tombstone_key(obs.user_id))
        return any(obs.ts <= self.tombstones.get(key, float("-inf")) for key in keys)

    # --- identity -----------------------------------------------------------------------------

    def _route(self, obs: Observation, partition: Any) -> str:
        """The profile ``obs`` belongs to, linking or unlinking its visitor id on the way
        (the rule is in :mod:`personalization.stitching`)."""
        visitor = obs.visitor_id
        current = self._routes.get(visitor)
        if current is None:
            current = self._routes[visitor] = self._identity(visitor)
        if current != visitor:
            linked = self.profile(current, partition)
            if linked.session is None or session_expired(linked, obs.ts, self.gap_s):
                self._close(linked)  # the linked session is over: the visitor is anonymous
                self._set_route(visitor, None)
                current = visitor
        user = obs.user_id
        if not user:
            return current
        target_id = person_profile_id(user, visitor)
        if current == target_id:
            return current
        if current != visitor:
            self._close(self.profile(current, partition))  # another user's session ends here
        target = self.profile(target_id, partition)
        if target.user_id is None:
            target.user_id = user
        self._close(target)
        anonymous = self.profile(visitor, partition)
        if anonymous.claimed_by in (None, user):
            # the device's anonymous history is this user's (a shared device's is not moved)
            absorb(target, anonymous)
            self.profiles[visitor] = emptied(anonymous, user)
            # its imported events stay known here: re-imported, they must not count again
            self.profiles[visitor].imported_ids = anonymous.imported_ids
            if self.open.pop(visitor, None) is not None and target.session is not None:
                self._track_open(target_id, target.session.last)
            self.dirty.update((visitor, target_id))
        self._set_route(visitor, target_id)
        return target_id

    def _set_route(self, visitor_id: str, profile_id: str | None) -> None:
        self._routes[visitor_id] = profile_id or visitor_id
        self.link_changes[visitor_id] = profile_id

    def _learn_items(self, obs: Observation, viewed: str | None, viewed_before: tuple[str, ...],
                     bought: tuple[str, ...]) -> None:
        graph = self.graph
        if obs.product is not None:
            graph.observe_item(obs.product, obs.url if obs.event_type == "product_view" else None)
        for item in obs.order_items or obs.products:
            graph.observe_item(item)
        if viewed is not None:
            graph.observe_view(viewed, viewed_before)
        if bought:
            graph.observe_order(bought)

    def _offer(self, session: Session, snapshot: Snapshot, event_id: str) -> None:
        """Reservoir sampling, seeded by the event id so a replay keeps the same snapshots.

        Snapshots already labelled (a purchase, waiting for the close) come first in
        ``pending`` and are not part of the reservoir."""
        session.snapshots_offered += 1
        pending = session.pending
        labelled = _labelled(pending)
        if len(pending) - labelled < self.max_pending:
            pending.append(snapshot)
            return
        slot = zlib.crc32(f"{event_id}:{session.snapshots_offered}".encode()) \
            % session.snapshots_offered
        if slot < self.max_pending:
            pending[labelled + slot] = snapshot

    def _purchased(self, profile_id: str, session: Session) -> None:
        """Every snapshot waiting in ``session`` is positive: learn now, or at the close."""
        if self.delay == "none":
            self._label(session, True, f"{profile_id}:{session.started!r}:buy{session.purchases}")
            return
        for snapshot in session.pending:
            if snapshot.y is None:
                snapshot.y = True
        session.snapshots_offered = 0  # the next snapshots form a new reservoir

    def _label(self, session: Session, outcome: bool, key: str) -> None:
        """Learn every snapshot waiting in ``session``, once: those labelled by a purchase
        with their label, the others with ``outcome``."""
        # a snapshot written by code with another feature set is unreadable: skipped
        ready = [s for s in session.pending if s.version == feats.VERSION]
        if ready:
            ys = [outcome if s.y is None else s.y for s in ready]
            labels = Labels(key, [s.x for s in ready], ys, [s.p for s in ready])
            if self.label_sink is not None:
                self.label_sink(labels)
            elif self._closing is not None:
                self._closing[0].append(labels)  # learned at the end of ``advance``
            else:
                self.model.learn_many(labels.xs, labels.ys, labels.ps)
            if self.on_label is not None:
                for snapshot, y in zip(ready, ys, strict=True):
                    self.on_label(feats.from_list(snapshot.x), y, snapshot.p)
            positives = sum(ys)
            self.counters.positives += positives
            self.counters.negatives += len(ys) - positives
        session.pending = []
        session.snapshots_offered = 0

    # --- sessions -----------------------------------------------------------------------------

    def _track_open(self, profile_id: str, last: float) -> None:
        if self.open.get(profile_id) != last:
            self.open[profile_id] = last
            heap = self._expiry.setdefault(self.partition_of.get(profile_id), [])
            heapq.heappush(heap, (last, profile_id))

    def _close(self, profile: Profile) -> None:
        session = close_session(profile)
        device = device_of(profile.profile_id)
        if device != profile.profile_id and self._routes.get(device) == profile.profile_id:
            self._set_route(device, None)  # the link lasts one session
        if session is None:
            return
        self._label(session, False, f"{profile.profile_id}:{session.started!r}:close")
        if self.bandit is not None:
            self.bandit.session_closed(profile.profile_id)
        self.open.pop(profile.profile_id, None)
        if self._closing is not None:
            self._closing[1].append(profile)  # scored at the end of ``advance``
        else:
            profile.intent = self.model.predict_vector(feats.vector(profile, self.shop))
        self.dirty.add(profile.profile_id)
        self.counters.sessions_closed += 1

    def advance(self, stream_time: float, clocks: Mapping[Any, float] | None = None) -> int:
        """Close every session idle for longer than the gap; how many.

        Each partition's sessions are judged by its own clock, ``clocks[partition]`` (the
        worker passes each partition's latest event time, advanced by the wall clock while it
        is quiet), else by ``stream_time``. A visitor's events are all in one partition, which
        is all that orders them: judged by another partition's newer events, a replay that
        reads one partition ahead of another would close the lagging one's sessions before
        their next events are read, and the labels would depend on the partitions' pace.

        The sessions closed here end at the same stream time, so their labels are learned
        together once all are closed (:meth:`IntentModel.learn_batches`: session after session
        in closing order, the very steps of one session at a time, except that the calibration
        reads every session's logits from before the first), and their profiles are then
        scored by the model that learned them. The fixed cost of the array arithmetic is paid
        once per call instead of once per session (measured: ``bench/worker_throughput.py``,
        docs/personalization.md)."""
        self._closing = ([], [])
        try:
            return self._close_idle(stream_time, clocks)
        finally:
            labels, profiles = self._closing
            self._closing = None
            self._learn_closed(labels, profiles)

    def _learn_closed(self, labels: list[Labels], profiles: list[Profile]) -> None:
        """Learn the labels of sessions closed together, then score their profiles."""
        if labels:
            self.model.learn_batches([(b.xs, b.ys, b.ps) for b in labels])
        if profiles:
            scores = self.model.predict_many([feats.vector(p, self.shop) for p in profiles])
            for profile, score in zip(profiles, scores, strict=True):
                profile.intent = score

    def _close_idle(self, stream_time: float, clocks: Mapping[Any, float] | None) -> int:
        closed = 0
        for partition, expiry in list(self._expiry.items()):
            clock = stream_time if clocks is None else clocks.get(partition, stream_time)
            while expiry and expiry[0][0] + self.gap_s < clock:
                last, profile_id = heapq.heappop(expiry)
                if self.open.get(profile_id) != last:
                    continue  # the session moved on (or closed) since this entry was pushed
                profile = self.profile(profile_id, self.partition_of.get(profile_id))
                if profile.session is not None and profile.session.last == last:
                    self._close(profile)
                    closed += 1
                else:
                    self.open.pop(profile_id, None)
        return closed

    def restore_open(self, sessions: dict[str, float], partition: Any = None) -> None:
        """Track open sessions a store reports (after a restart or a partition assignment).

        The partition's clock starts at its newest restored session: until its first event
        is read again, its sessions would otherwise be judged by the worker's other
        partitions, which may be far ahead (a partition taken over from a dead worker is
        replayed from that worker's last checkpoint), and close before their next events."""
        for profile_id, last in sessions.items():
            self.partition_of.setdefault(profile_id, partition)
            self._track_open(profile_id, last)
        if sessions and partition is not None:
            newest = max(sessions.values())
            if newest > self.partition_time.get(partition, float("-inf")):
                self.partition_time[partition] = newest

    # --- profiles -----------------------------------------------------------------------------

    def profile(self, profile_id: str, partition: Any = None) -> Profile:
        """The cached profile, else the stored one, else a new one."""
        profile = self.profiles.get(profile_id)
        if profile is None:
            profile = self._load(profile_id) or Profile(profile_id)
            self.profiles[profile_id] = profile
            self.partition_of[profile_id] = partition
            if profile.session is not None:
                self._track_open(profile_id, profile.session.last)
        return profile

    def publish(self, now: float) -> list[Profile]:
        """Segment and recommendations for every changed profile; the profiles to store."""
        out = []
        graph = self.graph
        order = graph.popular_order() if self.dirty else None  # the same for every profile
        for profile_id in self.dirty:
            profile = self.profiles.get(profile_id)
            if profile is None:
                continue
            profile.segment = segment_of(profile, profile.intent, now)
            profile.recommendations = graph.for_profile(profile, now, popular_order=order)
            out.append(profile)
        return out

    def forget(self, tombstones: dict[str, float]) -> list[str]:
        """Apply tombstones: drop matching cached profiles; returns their ids."""
        self.tombstones.update(tombstones)
        self.link_changes = {v: p for v, p in self.link_changes.items()
                             if forget_key(v) not in tombstones}
        dropped = [profile_id for profile_id, profile in self.profiles.items()
                   if tombstone_keys(profile) & tombstones.keys()]
        self.drop(dropped)
        if self.bandit is not None:
            self.bandit.forget(dropped)
        return dropped

    def drop(self, profile_ids: Iterable[str]) -> None:
        """Forget cached profiles (forgotten visitors, partitions handed to another worker)."""
        for profile_id in list(profile_ids):
            self._routes.pop(device_of(profile_id), None)  # re-read from the store if needed
            self.profiles.pop(profile_id, None)
            self.partition_of.pop(profile_id, None)
            self.open.pop(profile_id, None)
            self.dirty.discard(profile_id)

    def release(self, partitions: Iterable[Any]) -> None:
        """Drop everything cached for ``partitions`` (they now belong to another worker)."""
        gone = set(partitions)
        released = [pid for pid, part in self.partition_of.items() if part in gone]
        self.drop(released)
        for partition in gone:
            self._expiry.pop(partition, None)
            self.partition_time.pop(partition, None)
        if self.bandit is not None:  # their open sessions close in another worker: unlearned
            self.bandit.forget(released)

    def evict(self, keep: int) -> None:
        """Bound memory: drop clean profiles without an open session beyond ``keep``."""
        excess = len(self.profiles) - keep
        if excess <= 0:
            return
        idle = [pid for pid in self.profiles if pid not in self.open and pid not in self.dirty]
        self.drop(idle[:excess])

    def state(self) -> dict[str, Any]:
        """What the worker checkpoints besides profiles and the graph."""
        return {"event_time": self.event_time, "counters": asdict(self.counters),
                "shop": self.shop.state()}

    def restore_state(self, state: dict[str, Any]) -> None:
        self.event_time = float(state.get("event_time", 0.0))
        self.counters = Counters(**state.get("counters", {}))
        self.shop = feats.ShopStats.from_state(state.get("shop"))
