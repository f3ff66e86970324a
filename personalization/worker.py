"""The personalization worker: a Kafka consumer group member feeding the :class:`Engine`.

Exactly-once state, at-least-once reading: the store is the source of truth for offsets.

- Every checkpoint writes, in one atomic store transaction, the changed profiles, the item-graph
  increments, the pickled model *and the next offset of every partition the worker owns*.
- When partitions are assigned (start, restart, rebalance) the worker seeks each one to the
  offset in the store, not to Kafka's committed offset. Events after the last checkpoint are
  read again, but the state they had produced was never stored, so each event changes the
  stored state once: a worker killed at any instant and restarted loses nothing and counts
  nothing twice.
- Kafka's committed offsets are written after each checkpoint, never before it, so lag
  monitoring works and a consumer without our store would still not skip anything. Between
  polls the commit is asynchronous (the store already holds the truth, so the worker does not
  wait a broker round trip per checkpoint); before partitions are revoked and at shutdown it
  is synchronous.
- A poll that returns nothing (the worker has caught up) checkpoints whatever is unsaved at
  once, instead of waiting up to ``checkpoint_seconds``: an idle worker has the time, and the
  store's readers see the last events sooner. An empty poll has waited its whole timeout
  (200 ms), so this adds at most five checkpoints a second, and only under a trickle of events.
- Before a partition is handed to another worker, the worker checkpoints and drops its cache of
  that partition's visitors.

Stream time drives session closing: the newest event time seen, advanced by the wall clock
while no newer event arrives (so sessions still close when traffic stops, and a replay of old
events closes sessions at the replayed pace, not all at once).

With ``CLICKLOOP_LABELS_TOPIC`` set, several workers share one model (:mod:`.learner`): a worker
publishes its labels and bandit outcomes instead of learning them, flushes them before each
checkpoint, predicts with the newest model snapshot the learner stored, and checkpoints the
bandit decisions still waiting for an outcome per partition, so they follow the partition.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

from personalization import features as feats
from personalization.bandit.learning import BanditLearner, Pending
from personalization.engine import Engine, Labels
from personalization.intent import IntentModel
from personalization.learner import bandit_record, intent_record
from personalization.observation import NoVisitor, UnusableEvent, read_record
from personalization.recommend import ItemGraph
from personalization.rules import RulesSource
from personalization.stores import Checkpoint, CheckpointStore
from tracker.settings import Settings
from tracker.topic_headers import import_ingest

log = logging.getLogger("clickloop.personalization.worker")

MAX_CACHED_PROFILES = 100_000
MODEL_REFRESH_S = 1.0  # look for a newer shared model this often
PRODUCE_TIMEOUT_S = 30.0
GRAPH_REFRESH_S = 60.0  # pick up other workers' item counts this often
TOMBSTONE_POLL_S = 0.5
STATS_EVERY_S = 60.0
# wall seconds a partition read to its (last known) end must stay without a newer event before
# the other partitions' stream time closes its sessions
PARTITION_QUIET_S = 3.0


def source_of(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


class Worker:
    """One worker: restore, consume, learn, checkpoint. ``run`` until ``stop`` is set."""

    def __init__(self, settings: Settings, store: CheckpointStore, *, bootstrap: str,
                 clock: Callable[[], float] = time.monotonic):
        section = settings.personalization
        self.settings = settings
        self.store = store
        self.bootstrap = bootstrap
        self.topic = settings.kafka.topic
        self.group = section.consumer_group
        self.clock = clock
        self.checkpoint_seconds = section.checkpoint_seconds
        self.checkpoint_events = section.checkpoint_events
        self.offsets: dict[str, int] = {}  # owned partition -> next offset to read
        self.unusable = 0
        self.anonymous = 0  # events without a visitor id (consent denied on a backend event)
        self.since_checkpoint = 0
        self.consumer: Any = None
        self.producer: Any = None
        self.labels_topic = section.labels_topic  # None: this worker learns its own model
        self._outbox: list[bytes] = []  # labels and outcomes to publish before the checkpoint
        self.labels_published = 0
        self.model_version = 0
        # partition -> (its newest event time, wall time it moved), for its stream time
        self._partition_seen: dict[str, tuple[float, float]] = {}
        self._tombstone_cursor = "0"
        self._restore(section.intent_model)

    # --- state --------------------------------------------------------------------------------

    def _restore(self, kind: str) -> None:
        checkpoint = self.store.load_checkpoint(self.group)
        state: dict[str, Any] = {}
        if self.labels_topic:
            pass  # the model is the learner's (below), the rest is per partition
        elif checkpoint.worker_state:
            try:
                state = pickle.loads(checkpoint.worker_state)
            except Exception as exc:  # e.g. a River upgrade changed the model's classes
                log.error("cannot read the checkpointed model (%s): starting a new model; "
                          "profiles, offsets and item counts are kept", exc)
        model = state.get("model")
        if model is not None and model.kind != kind:
            log.warning("the checkpointed model is %r but CLICKLOOP_INTENT_MODEL=%r: starting a "
                        "new %r model", model.kind, kind, kind)
            model = None
        if model is not None and not model.fits(feats.NAMES):
            log.warning("the checkpointed model was built for another feature set: starting a "
                        "new %r model", kind)
            model = None
        graph = ItemGraph()
        counts = self.store.load_graph()
        graph.load(counts.items, counts.views, counts.buys, counts.coview, counts.cobuy)
        self.bandit = self._bandit(state.get("bandit"))
        sink = None
        if self.labels_topic:
            model = self._shared_model(kind) or model
            self.bandit.on_learn = self._publish_outcome
            sink = self._publish_labels
        self.engine = Engine(model or IntentModel(kind), graph,
                             gap_s=self.settings.spark.session_gap_minutes * 60.0,
                             load=self.store.load_profile, identity=self.store.resolve,
                             bandit=self.bandit, label_sink=sink)
        self.engine.restore_state(state.get("engine", {}))
        skipped = state.get("skipped", {})
        self.unusable = int(skipped.get("unusable", 0))
        self.anonymous = int(skipped.get("anonymous", 0))
        self._poll_tombstones()
        self._seen_event_time = self.engine.event_time
        self._seen_at = self.clock()
        now = self.clock()
        self._last_checkpoint = self._last_graph_refresh = self._last_tombstones = now
        self._last_stats = self._last_model_check = now

    def _bandit(self, saved: dict[str, Any] | None) -> BanditLearner:
        """The slots' bandit learner: rewards as the rules file configures them (re-read when
        it changes, like the API's), state from the checkpoint with the model, else from the
        statistics the store publishes (a checkpoint from before the bandit existed)."""
        rules = RulesSource(self.settings.personalization.rules_file)

        def reward_of(slot: str) -> str | None:
            config = rules.current().slot(slot)
            return config.bandit.reward if config and config.bandit else None

        learner = BanditLearner(reward_of, lookup=self.store.decision)
        learner.restore_state(saved or {"slots": self.store.bandit_state()})
        return learner

    # --- shared model -------------------------------------------------------------------------

    def _shared_model(self, kind: str) -> IntentModel | None:
        """The learner's newest model, if it is newer than ours and of the configured kind."""
        if self.store.model_version(self.group) <= self.model_version:
            return None
        snapshot = self.store.load_model(self.group)
        if snapshot is None:
            return None
        try:
            model = pickle.loads(snapshot.blob).model
        except Exception as exc:  # a learner of another version: keep predicting with ours
            log.error("cannot read shared model version %d: %s", snapshot.version, exc)
            return None
        self.model_version = snapshot.version
        if model.kind != kind or not model.fits(feats.NAMES):
            log.warning("the shared model is %r for another feature set or kind: ignored",
                        model.kind)
            return None
        return model

    def _publish_labels(self, labels: Labels) -> None:
        self._outbox.append(intent_record(labels, self.engine.event_time))

    def _publish_outcome(self, pending: Pending, reward: float) -> None:
        self._outbox.append(bandit_record(pending, reward, self.engine.event_time))

    def _flush_outbox(self) -> None:
        """Publish the labels and outcomes gathered since the last checkpoint, acknowledged
        by the broker, *before* the checkpoint that forgets them is written."""
        if not self._outbox:
            return
        if self.producer is None:
            from kafka import KafkaProducer

            self.producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                          linger_ms=5, client_id="clickloop-personalization")
        futures = [self.producer.send(self.labels_topic, value) for value in self._outbox]
        self.producer.flush(timeout=PRODUCE_TIMEOUT_S)
        for future in futures:
            future.get(timeout=PRODUCE_TIMEOUT_S)  # raises: no checkpoint without the labels
        self.labels_published += len(self._outbox)
        self._outbox.clear()

    def _partition_states(self) -> dict[str, bytes]:
        """Per owned partition: the bandit decisions of its visitors waiting for an outcome."""
        parts: dict[str, dict[str, Any]] = {s: {"pending": {}, "learned": {}}
                                            for s in self.offsets}
        partition_of = self.engine.partition_of
        bandit = self.bandit
        for pid, entries in bandit.pending.items():
            part = parts.get(partition_of.get(pid) or "")
            if part is not None and entries:
                part["pending"][pid] = [vars(e) for e in entries]
        for pid, ids in bandit.learned.items():
            part = parts.get(partition_of.get(pid) or "")
            if part is not None and ids:
                part["learned"][pid] = list(ids)
        return {source: pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
                for source, state in parts.items()}

    def _adopt_partition_state(self, source: str) -> None:
        """Take over the waiting decisions the partition's last owner checkpointed."""
        blob = self.store.load_partition_state(self.group, source)
        if not blob:
            return
        state = pickle.loads(blob)
        for pid, entries in state.get("pending", {}).items():
            self.bandit.pending[pid] = [Pending(**e) for e in entries]
            self.engine.partition_of.setdefault(pid, source)
        for pid, ids in state.get("learned", {}).items():
            self.bandit.learned[pid] = list(ids)
            self.engine.partition_of.setdefault(pid, source)

    def _poll_tombstones(self) -> None:
        tombstones, self._tombstone_cursor = self.store.tombstones(self._tombstone_cursor)
        if tombstones:
            dropped = self.engine.forget({t.key: t.at for t in tombstones})
            if dropped:
                log.info("forgot %d cached profile(s) on request", len(dropped))

    def stream_time(self) -> float:
        """Newest event time seen, plus the wall time elapsed since it last moved."""
        now = self.clock()
        if self.engine.event_time > self._seen_event_time:
            self._seen_event_time = self.engine.event_time
            self._seen_at = now
        return self.engine.event_time + (now - self._seen_at)

    def checkpoint(self, *, wait_commit: bool = True) -> None:
        """Store profiles, graph, model and offsets atomically; then commit to Kafka
        (``wait_commit=False``: without waiting for the broker's answer)."""
        engine = self.engine
        stream_time = self.stream_time()
        profiles = engine.publish(stream_time)
        sources = {p.profile_id: engine.partition_of.get(p.profile_id) or "" for p in profiles}
        worker_state: bytes | None = None
        summary: dict[str, Any] | None = None
        partition_states: dict[str, bytes] = {}
        if self.labels_topic:
            self._flush_outbox()
            partition_states = self._partition_states()
        else:
            worker_state = pickle.dumps({"model": engine.model, "engine": engine.state(),
                                         "bandit": self.bandit.state(),
                                         "skipped": {"unusable": self.unusable,
                                                     "anonymous": self.anonymous}},
                                        protocol=pickle.HIGHEST_PROTOCOL)
            summary = {**engine.model.summary(), "counters": engine.state()["counters"],
                       "unusable": self.unusable, "anonymous": self.anonymous,
                       "event_time": engine.event_time,
                       "bandit": vars(self.bandit.counters).copy()}
        result = self.store.save(Checkpoint(
            group=self.group, offsets=dict(self.offsets), profiles=profiles, sources=sources,
            worker_state=worker_state, summary=summary, graph=engine.graph.delta,
            popular=engine.graph.popular(20), tombstone_cursor=self._tombstone_cursor,
            bandit=None if self.labels_topic else self.bandit.publish(),
            links=dict(engine.link_changes), partition_states=partition_states,
        ))
        engine.graph.clear_delta()
        engine.link_changes.clear()
        engine.dirty.clear()
        if result.tombstones:
            self._tombstone_cursor = result.cursor
            engine.forget({t.key: t.at for t in result.tombstones})
        engine.evict(MAX_CACHED_PROFILES)
        self.since_checkpoint = 0
        self._last_checkpoint = self.clock()
        self._commit_kafka(wait=wait_commit)

    def _commit_kafka(self, *, wait: bool = True) -> None:
        if self.consumer is None or not self.offsets:
            return
        from kafka import OffsetAndMetadata, TopicPartition

        offsets = {}
        for source, offset in self.offsets.items():
            topic, _, partition = source.rpartition(":")
            offsets[TopicPartition(topic, int(partition))] = OffsetAndMetadata(offset, "", -1)
        try:
            if wait:
                self.consumer.commit(offsets)
            else:
                self.consumer.commit_async(offsets, callback=_commit_failed)
        except Exception as exc:  # the store holds the truth; Kafka's copy is for monitoring
            log.warning("could not commit offsets to Kafka (the store has them): %s", exc)

    # --- consuming ----------------------------------------------------------------------------

    def handle(self, source: str, offset: int, value: bytes,
               headers: list[tuple[str, bytes]] | None = None) -> None:
        """Process one record read from ``source`` at ``offset``."""
        try:
            obs = read_record(value)
            obs.imported = bool(headers) and import_ingest(headers) is not None
        except NoVisitor:
            self.anonymous += 1
        except UnusableEvent as exc:
            self.unusable += 1
            if self.unusable <= 10 or self.unusable % 1000 == 0:
                log.warning("skipping record %s@%d (%d so far): %s", source, offset,
                            self.unusable, exc)
        else:
            self.engine.process(obs, source)
        self.offsets[source] = offset + 1
        self.since_checkpoint += 1

    def handle_batch(self, source: str, records: list[Any]) -> None:
        """Process the records of one partition a poll returned (``offset``, ``value``)."""
        process = self.engine.process
        for record in records:
            try:
                obs = read_record(record.value)
            except NoVisitor:
                self.anonymous += 1
            except UnusableEvent as exc:
                self.unusable += 1
                if self.unusable <= 10 or self.unusable % 1000 == 0:
                    log.warning("skipping record %s@%d (%d so far): %s", source, record.offset,
                                self.unusable, exc)
            else:
                if record.headers:  # live records have none; imports are history only
                    obs.imported = import_ingest(record.headers) is not None
                process(obs, source)
        if records:
            self.offsets[source] = records[-1].offset + 1
            self.since_checkpoint += len(records)

    def assigned(self, partitions: list[Any]) -> None:
        """Partitions are ours: seek to the store's offsets, track their open sessions."""
        stored = self.store.load_checkpoint(self.group).offsets
        for tp in partitions:
            source = source_of(tp.topic, tp.partition)
            if source in stored:
                self.consumer.seek(tp, stored[source])
                self.offsets[source] = stored[source]
            self.engine.restore_open(self.store.open_sessions(source), source)
            if self.labels_topic:
                self._adopt_partition_state(source)
        log.info("assigned %s", sorted(source_of(tp.topic, tp.partition) for tp in partitions))

    def revoked(self, partitions: list[Any]) -> None:
        """Partitions go to another worker: checkpoint first, then drop their cache."""
        self.checkpoint()
        sources = [source_of(tp.topic, tp.partition) for tp in partitions]
        self.engine.release(sources)
        for source in sources:
            self.offsets.pop(source, None)
            self._partition_seen.pop(source, None)  # a later owner's clock starts afresh
        log.info("revoked %s", sorted(sources))

    def tick(self, *, idle: bool = False) -> None:
        """Time-driven work between polls: close idle sessions, apply tombstones, checkpoint
        (at once when ``idle``, the last poll having returned nothing, and events are unsaved)."""
        now = self.clock()
        if now - self._last_tombstones >= TOMBSTONE_POLL_S:
            self._poll_tombstones()
            self._last_tombstones = now
        self.engine.advance(self.stream_time(), self._clocks())
        unsaved = self.since_checkpoint > 0
        due = self.since_checkpoint >= self.checkpoint_events or (idle and unsaved) or (
            now - self._last_checkpoint >= self.checkpoint_seconds
            and (unsaved or self.engine.dirty))
        if due:
            self.checkpoint(wait_commit=False)
        if self.labels_topic and now - self._last_model_check >= MODEL_REFRESH_S:
            self._last_model_check = now
            model = self._shared_model(self.engine.model.kind)
            if model is not None:
                self.engine.model = model
        if now - self._last_graph_refresh >= GRAPH_REFRESH_S:
            counts = self.store.load_graph()
            self.engine.graph.load(counts.items, counts.views, counts.buys, counts.coview,
                                   counts.cobuy)
            self._last_graph_refresh = now
        if now - self._last_stats >= STATS_EVERY_S:
            self._last_stats = now
            c = self.engine.counters
            log.info("events %d (applied %d, bots %d, duplicates %d, unusable %d); sessions "
                     "closed %d; labels +%d/-%d; %s", c.events, c.applied, c.bots, c.duplicates,
                     self.unusable, c.sessions_closed, c.positives, c.negatives,
                     self.engine.model.metrics.summary().get("roc_auc"))

    def run(self, stop: threading.Event, *, consumer_config: dict[str, Any] | None = None) -> None:
        """Consume until ``stop`` is set; checkpoint and leave the group cleanly."""
        from kafka import ConsumerRebalanceListener, KafkaConsumer

        worker = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked: Any) -> None:
                worker.revoked(list(revoked))

            def on_partitions_assigned(self, assigned: Any) -> None:
                worker.assigned(list(assigned))

        config: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "group_id": self.group,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_poll_records": 500,
            "client_id": "clickloop-personalization",
            # one fetch answer may carry up to fetch_max_bytes (50 MB) of a backlog (an import,
            # a restart): kafka-python's default 1 MB frame bound fails such a fetch
            "receive_message_max_bytes": 64 * 1024 * 1024,
        }
        instance_id = self.settings.personalization.worker_instance_id
        if instance_id:
            config["group_instance_id"] = instance_id
        config.update(consumer_config or {})
        self.consumer = KafkaConsumer(**config)
        self.consumer.subscribe([self.topic], listener=Listener())
        log.info("consuming %s as group %s from %s", self.topic, self.group, self.bootstrap)
        try:
            while not stop.is_set():
                batches = self.consumer.poll(timeout_ms=200)
                for tp, records in batches.items():
                    source = source_of(tp.topic, tp.partition)
                    if source not in self.offsets and not self._owned(tp):
                        continue
                    self.handle_batch(source, records)
                self.tick(idle=not batches)
            self.checkpoint()
        finally:
            self.consumer.close(autocommit=False)
            self.consumer = None
            if self.producer is not None:
                self.producer.close(timeout=PRODUCE_TIMEOUT_S)
                self.producer = None

    def _clocks(self) -> dict[str, float]:
        """Each partition's stream time: its newest event time, plus the wall time elapsed
        since that last moved (the engine closes a partition's sessions by its own clock)."""
        now = self.clock()
        seen = self._partition_seen
        clocks = {}
        for source, event_time in self.engine.partition_time.items():
            last = seen.get(source)
            if last is None or event_time > last[0]:
                last = seen[source] = (event_time, now)
            clocks[source] = event_time + (now - last[1])
        # a partition read to its end has nothing older to wait for: the newest event time
        # of any partition applies (sessions close when traffic stops on one partition). The
        # high watermark is the last fetch's, so it can be stale while a backlog is still
        # being read: the partition must also have been quiet for a while
        consumer, stream_time = self.consumer, self.stream_time()
        for tp in (consumer.assignment() or ()) if consumer is not None else ():
            source = source_of(tp.topic, tp.partition)
            highwater = consumer.highwater(tp)
            if source in clocks and highwater is not None \
                    and self.offsets.get(source, 0) >= highwater \
                    and now - seen[source][1] >= PARTITION_QUIET_S:
                clocks[source] = max(clocks[source], stream_time)
        return clocks

    def _owned(self, tp: Any) -> bool:
        return tp in (self.consumer.assignment() or set())


def _commit_failed(offsets: Any, response: Any) -> None:
    """An asynchronous offset commit's answer: only a failure is worth a line (the store
    holds the offsets; Kafka's copy is for lag monitoring)."""
    if isinstance(response, Exception):
        log.warning("could not commit offsets to Kafka (the store has them): %s", response)
