"""One model for many workers: labels in from every worker, versioned model snapshots out.

With one worker, the worker learns its own model (:mod:`personalization.worker`). With N workers
(one consumer group on an N-partition topic) each worker would learn from a third of the traffic
and overwrite the others' model. So, when ``CLICKLOOP_LABELS_TOPIC`` is set:

- each worker *publishes* what it would have learned to the labels topic: one record per
  labelled session (its snapshots' features, outcomes and the predictions made then) and one per
  bandit decision whose outcome is known. It flushes them (acknowledged by the broker) *before*
  its checkpoint, so a label is never lost: a worker killed after publishing but before its
  checkpoint publishes the same labels again when its events are replayed;
- one **learner** (:class:`Learner`, ``clickloop personalization learner``) reads that topic
  (one partition; a consumer group whose single active member learns, any other instance waits
  as a standby) and learns everything into one :class:`~personalization.intent.IntentModel` and
  one set of bandit statistics. Every record carries a key that is the same however often it is
  replayed (the session's, or the decision id), so a replayed record is recognised and skipped;
- the learner publishes a :class:`~personalization.stores.base.ModelSnapshot` — version, pickled
  model, summary and bandit statistics for the API — atomically with its own offsets in the
  store; workers pick up a newer version within a second and predict with it, the API reads the
  statistics and summary from the same keys as before.

Decisions waiting for an outcome live in the partition state (the worker checkpoints them per
partition), so they move with their partition on a rebalance and survive a killed worker.

The learner's offsets, like a worker's, are the store's: on assignment it seeks to the offsets
saved with its last snapshot, so its state and its position never disagree.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from personalization.bandit.context import DIM
from personalization.bandit.learning import Pending
from personalization.bandit.policy import LinearArms, state_dict
from personalization.engine import Labels
from personalization.features import NAMES, VERSION
from personalization.intent import IntentModel
from personalization.stores import CheckpointStore, ModelSnapshot
from tracker.settings import Settings

log = logging.getLogger("clickloop.personalization.learner")

PUBLISH_S = 1.0  # a new model version at most this often (when something was learned)
KEEP_KEYS_S = 6 * 3600.0  # replays come from the last checkpoint: keys older than this go


# --- the records on the labels topic ------------------------------------------------------------


def intent_record(labels: Labels, at: float) -> bytes:
    """A labelled session as a labels-topic record (``at``: stream time it was labelled)."""
    return orjson.dumps({"kind": "intent", "key": labels.key, "v": VERSION, "at": at,
                         "xs": labels.xs, "ys": labels.ys, "ps": labels.ps})


def bandit_record(pending: Pending, reward: float, at: float) -> bytes:
    """A bandit decision's outcome as a labels-topic record."""
    return orjson.dumps({"kind": "bandit", "key": pending.decision_id, "at": at,
                         "slot": pending.slot, "variant": pending.variant, "x": pending.x,
                         "reward": reward})


# --- the learner's state (pure) -------------------------------------------------------------------


class SharedModel:
    """The model, the bandit statistics and the keys already learned: what a snapshot holds."""

    def __init__(self, kind: str):
        self.model = IntentModel(kind)
        self.slots: dict[str, LinearArms] = {}
        self.seen: dict[str, float] = {}  # record key -> stream time it was labelled
        self.counters = {"intent": 0, "bandit": 0, "replayed": 0, "unreadable": 0,
                         "rewarded": 0, "unrewarded": 0}

    def learn(self, value: bytes) -> bool:
        """Learn one labels-topic record; False if skipped (replayed, or unreadable)."""
        return self.learn_all([value]) == 1

    def learn_all(self, values: list[bytes]) -> int:
        """Learn labels-topic records in order (a poll's worth); how many were learned.

        The same as :meth:`learn` on each in turn, at the cost of about one intent batch:
        the labelled sessions are handed to :meth:`IntentModel.learn_batches` together (the
        same logistic steps, the calibration counted session by session with logits from
        before the first; the worker learns the sessions one ``advance`` closes the same
        way). Bandit outcomes update their arm at once (a separate model, order kept)."""
        sessions: list[tuple[list[list[float]], list[bool], list[float]]] = []
        learned = 0
        for value in values:
            try:
                record = orjson.loads(value)
                kind, key, at = record["kind"], str(record["key"]), float(record["at"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                self.counters["unreadable"] += 1
                continue
            if key in self.seen:
                self.counters["replayed"] += 1
                continue
            if kind == "intent" and record.get("v") == VERSION and _vectors(record, len(NAMES)):
                sessions.append((record["xs"], [bool(y) for y in record["ys"]],
                                 [float(p) for p in record["ps"]]))
            elif kind == "bandit" and len(record.get("x") or ()) == DIM:
                reward = float(record["reward"])
                self.slots.setdefault(record["slot"], LinearArms()).update(
                    record["variant"], record["x"], reward)
                self.counters["rewarded" if reward else "unrewarded"] += 1
            else:
                self.counters["unreadable"] += 1
                continue
            self.counters[kind] += 1
            self.seen[key] = at
            learned += 1
        if sessions:
            self.model.learn_batches(sessions)
        return learned

    def prune(self) -> None:
        """Forget keys too old to be replayed (bounded memory)."""
        if not self.seen:
            return
        horizon = max(self.seen.values()) - KEEP_KEYS_S
        self.seen = {k: at for k, at in self.seen.items() if at >= horizon}

    def summary(self) -> dict[str, Any]:
        return {**self.model.summary(), "learner": dict(self.counters),
                "bandit": {"rewarded": self.counters["rewarded"],
                           "unrewarded": self.counters["unrewarded"]}}


def _vectors(record: dict[str, Any], width: int) -> bool:
    """Whether an intent record's lists line up (a worker of another feature set, or a
    damaged record, must not reach the model)."""
    xs, ys, ps = record.get("xs"), record.get("ys"), record.get("ps")
    return (isinstance(xs, list) and isinstance(ys, list) and isinstance(ps, list)
            and len(xs) == len(ys) == len(ps) > 0
            and all(isinstance(x, list) and len(x) == width for x in xs))


# --- the process ----------------------------------------------------------------------------------


class Learner:
    """Consume the labels topic, learn, publish model snapshots. ``run`` until ``stop``."""

    def __init__(self, settings: Settings, store: CheckpointStore, *, bootstrap: str,
                 clock: Callable[[], float] = time.monotonic):
        section = settings.personalization
        if not section.labels_topic:
            raise ValueError("the learner needs CLICKLOOP_LABELS_TOPIC (the topic workers "
                             "publish their labels to)")
        self.topic = section.labels_topic
        self.group = section.consumer_group
        self.store = store
        self.bootstrap = bootstrap
        self.clock = clock
        snapshot = store.load_model(self.group)
        self.version = snapshot.version if snapshot else 0
        self.offsets: dict[str, int] = dict(snapshot.offsets) if snapshot else {}
        self.state = pickle.loads(snapshot.blob) if snapshot else SharedModel(
            section.intent_model)
        self.read_since = 0  # records read since the last publication
        self._published_at = clock()
        self.consumer: Any = None

    def handle_all(self, source: str, records: list[tuple[int, bytes]]) -> None:
        """Learn one partition's polled records (offset, value), in offset order."""
        if not records:
            return
        self.state.learn_all([value for _, value in records])
        self.offsets[source] = records[-1][0] + 1
        self.read_since += len(records)  # learned or skipped: the offsets to store moved on

    def publish(self) -> None:
        """Store a new model version with the offsets that produced it."""
        self.state.prune()
        self.version += 1
        self.store.save_model(ModelSnapshot(
            group=self.group, version=self.version,
            blob=pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL),
            summary=self.state.summary(), bandit=state_dict(self.state.slots),
            offsets=dict(self.offsets)))
        self.read_since = 0
        self._published_at = self.clock()

    def tick(self) -> None:
        if self.read_since and self.clock() - self._published_at >= PUBLISH_S:
            self.publish()

    def run(self, stop: threading.Event, *, consumer_config: dict[str, Any] | None = None
            ) -> None:
        from kafka import ConsumerRebalanceListener, KafkaConsumer

        learner = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked: Any) -> None:
                if learner.read_since:
                    learner.publish()

            def on_partitions_assigned(self, assigned: Any) -> None:
                stored = learner.store.load_model(learner.group)
                offsets = stored.offsets if stored else {}
                for tp in assigned:
                    source = f"{tp.topic}:{tp.partition}"
                    if source in offsets:
                        learner.consumer.seek(tp, offsets[source])

        config: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap, "group_id": self.group + ".learner",
            "enable_auto_commit": False, "auto_offset_reset": "earliest",
            "max_poll_records": 500, "client_id": "clickloop-learner"}
        config.update(consumer_config or {})
        self.consumer = KafkaConsumer(**config)
        self.consumer.subscribe([self.topic], listener=Listener())
        log.info("learning from %s as group %s.learner", self.topic, self.group)
        try:
            while not stop.is_set():
                for tp, records in self.consumer.poll(timeout_ms=200).items():
                    self.handle_all(f"{tp.topic}:{tp.partition}",
                                    [(record.offset, record.value) for record in records])
                self.tick()
            if self.read_since:
                self.publish()
        finally:
            self.consumer.close(autocommit=False)
            self.consumer = None
