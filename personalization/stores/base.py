"""The interfaces profiles, model and decisions are stored behind, one per kind of caller.

Two implementations: :class:`~personalization.stores.embedded.EmbeddedStore` (SQLite files under
the state dir: no service to run, several local processes) and
:class:`~personalization.stores.redis_store.RedisStore` (several API instances and workers on
several machines). Both are a whole :class:`Store` and pass the same contract tests
(``tests/personalization/stores/test_stores.py``); their shared rules are in
:mod:`personalization.stores.shared`.

Who calls what (each caller is typed against the narrow interface it uses):

- :class:`DecisionStore` — the decision API reads a profile by *visitor id* (the store resolves
  it to a profile id) with the user's other profiles, the popular items, the bandit
  statistics and the model summary;
- :class:`DecisionLogStore` — the API's decision log writes decisions in batches;
- :class:`ErasureStore` — :func:`personalization.erase.erase` (the API's DELETE routes and
  ``clickloop forget``) forgets visitors and users;
- :class:`CheckpointStore` — the worker loads a profile with its worker part, its checkpoint
  (model, offsets), the open sessions of a partition, the item graph, new tombstones and
  logged decisions; and saves a :class:`Checkpoint` — profiles, graph increments, model, *and
  the Kafka offsets that produced them* — in one atomic write. On restart it seeks to those
  offsets, so each event changes the stored state exactly once, whatever moment the worker
  died at;
- :class:`ReportStore` — ``clickloop report`` reads every profile.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from personalization.forgetting import Forgotten, Tombstone
from personalization.profile import Profile
from personalization.recommend import GraphDelta


class StoreError(RuntimeError):
    """The store cannot be reached or used; the message says which and why."""


@dataclass
class Checkpoint:
    """Everything one worker checkpoint writes, atomically."""

    group: str
    offsets: dict[str, int]  # "topic:partition" -> next offset to read
    profiles: list[Profile]
    sources: dict[str, str]  # profile id -> "topic:partition" it is read from
    # pickled model + engine state, and the model summary for the API; None when a shared
    # learner owns the model (see personalization.learner): then neither is written
    worker_state: bytes | None
    summary: dict[str, Any] | None
    graph: GraphDelta = field(default_factory=GraphDelta)
    popular: list[dict[str, Any]] = field(default_factory=list)
    bandit: dict[str, Any] | None = None  # the slots' bandit statistics, JSON, for the API
    tombstone_cursor: str = "0"  # newest tombstone the worker has applied
    # visitor id -> profile id of its linked session, None to unlink (see stitching)
    links: dict[str, str | None] = field(default_factory=dict)
    # "topic:partition" -> pickled state that moves with the partition (the bandit decisions
    # of its visitors still waiting for an outcome), for whichever worker owns it next
    partition_states: dict[str, bytes] = field(default_factory=dict)


@dataclass
class ModelSnapshot:
    """What the shared learner publishes, atomically with the label offsets it has read."""

    group: str
    version: int  # increases by one per publication
    blob: bytes  # pickled learner state (model, bandit statistics, de-duplication keys)
    summary: dict[str, Any]  # model summary for the API (as a worker's checkpoint writes it)
    bandit: dict[str, Any]  # the slots' bandit statistics, JSON, for the API
    offsets: dict[str, int]  # "labels topic:partition" -> next offset to read


@dataclass
class SaveResult:
    """Profiles the store refused because their visitor was forgotten meanwhile, and the
    tombstones that caused it, for the worker to apply."""

    refused: list[str]
    tombstones: list[Tombstone]
    cursor: str


@dataclass
class WorkerCheckpoint:
    worker_state: bytes | None
    offsets: dict[str, int]


@dataclass
class GraphCounts:
    items: dict[str, dict[str, Any]]
    views: dict[str, int]
    buys: dict[str, int]
    coview: list[tuple[str, str, int]]
    cobuy: list[tuple[str, str, int]]


class StoreConnection(Protocol):
    def ping(self) -> None:
        """Raise :class:`StoreError` if the store cannot be used."""

    def close(self) -> None:
        """Release connections."""


class DecisionStore(StoreConnection, Protocol):
    """The decision API's reads (a profile, as :func:`personalization.stitching.read_person`
    reads it; popular items; bandit statistics; the model summary)."""

    def read_profile(self, visitor_id: str) -> Profile | None:
        """The public part of the visitor's profile, or None."""

    def user_profiles(self, user_id: str) -> list[Profile]:
        """The public part of every profile of a user (one per device; see stitching)."""


    def popular(self) -> list[dict[str, Any]]:
        """Popular items (sku, name, url, price), most popular first."""

    def bandit_state(self) -> dict[str, Any] | None:
        """The bandit statistics of the latest checkpoint (:mod:`personalization.bandit`)."""

    def model_summary(self, group: str) -> dict[str, Any] | None:
        """The worker's latest model summary and progressive metrics."""


class DecisionLogStore(Protocol):
    """Where the API's decisions are logged (:mod:`personalization.api.decision_log`)."""

    def log_decision(self, record: dict[str, Any]) -> None:
        """Keep a decision (``decision_id``, ``profile_id``, ``ts``, slot, variant, arm, ...)."""

    def log_decisions(self, records: list[dict[str, Any]]) -> None:
        """Keep a batch of decisions, except those whose visitor was forgotten after them."""


class ErasureStore(Protocol):
    """Forgetting people (:mod:`personalization.erase`)."""

    def forget(self, visitor_id: str, now: float) -> Forgotten:
        """Delete every profile of the visitor (anonymous, and as each user identified on
        it), their links and decisions; leave tombstones."""

    def forget_user(self, user_id: str, now: float) -> Forgotten:
        """Delete every profile of the user and of the visitor ids it was seen on, their links
        and decisions; leave tombstones (the user's, and each visitor id's)."""


class CheckpointStore(StoreConnection, Protocol):
    """The worker's reads and its one atomic write (see the module docstring)."""

    def resolve(self, visitor_id: str) -> str:
        """The profile id a visitor id maps to (the visitor id itself unless linked)."""

    def load_profile(self, profile_id: str) -> Profile | None:
        """Public and worker parts of a profile."""

    def load_checkpoint(self, group: str) -> WorkerCheckpoint:
        """The group's last checkpoint (model blob and offsets), empty if none."""

    def open_sessions(self, source: str) -> dict[str, float]:
        """Profile id -> last event time of every open session read from ``source``."""

    def load_graph(self) -> GraphCounts:
        """All item counts."""

    def bandit_state(self) -> dict[str, Any] | None:
        """The bandit statistics of the latest checkpoint (restored when the model is not)."""

    def decision(self, decision_id: str) -> dict[str, Any] | None:
        """A logged decision, for attributing a later outcome to it."""

    def tombstones(self, cursor: str) -> tuple[list[Tombstone], str]:
        """Tombstones newer than ``cursor`` and the new cursor."""

    def save(self, checkpoint: Checkpoint) -> SaveResult:
        """Write a checkpoint atomically (see the module docstring)."""

    def load_partition_state(self, group: str, source: str) -> bytes | None:
        """The state the last owner of ``source`` checkpointed for it, if any."""

    def model_version(self, group: str) -> int:
        """Version of the latest shared model snapshot (0: none yet)."""

    def load_model(self, group: str) -> ModelSnapshot | None:
        """The latest shared model snapshot, with the learner's offsets."""

    def save_model(self, snapshot: ModelSnapshot) -> None:
        """Publish a model snapshot, its summary and bandit statistics and the learner's
        offsets in one transaction."""


class ReportStore(StoreConnection, Protocol):
    """``clickloop report``'s read."""

    def iter_profiles(self) -> Iterator[Profile]:
        """Every stored profile (public part), in no particular order."""


class Store(DecisionStore, DecisionLogStore, ErasureStore, CheckpointStore, ReportStore,
            Protocol):
    """A whole store: what :func:`~personalization.stores.open_store` returns."""

    def link(self, visitor_id: str, profile_id: str) -> None:
        """Map a visitor id to a profile id (the worker writes links with its checkpoints;
        this is for tools and tests)."""
