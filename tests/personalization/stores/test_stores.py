"""One contract, two stores: the embedded SQLite store and Redis (a real redis-server)."""

from __future__ import annotations

import dataclasses
import pickle
from collections import Counter

import pytest

from personalization.forgetting import forget_key
from personalization.profile import Profile, Session, Snapshot
from personalization.recommend import GraphDelta
from personalization.stores import Checkpoint, ModelSnapshot, Store

pytestmark = pytest.mark.redis


def profile(pid: str, *, open_until: float | None = None, visitors: list[str] | None = None
            ) -> Profile:
    p = Profile(pid, visitor_ids=visitors or [pid], intent=0.25, segment="new_visitor")
    if open_until is not None:
        p.session = Session(started=open_until - 60, last=open_until, events=3,
                            pending=[Snapshot([1.0, 2.0], 0.1, 1)], snapshots_offered=1)
    p.recent_event_ids = ["e-1", "e-2"]
    return p


def checkpoint(profiles: list[Profile], offsets: dict[str, int], *, cursor: str = "0",
               graph: GraphDelta | None = None, model: object = "model-v1") -> Checkpoint:
    return Checkpoint(group="g", offsets=offsets, profiles=profiles,
                      sources={p.profile_id: "events:1" for p in profiles},
                      worker_state=pickle.dumps({"model": model}),
                      summary={"roc_auc": 0.8, "labels": 10}, graph=graph or GraphDelta(),
                      popular=[{"sku": "A", "name": "a", "url": "https://x/a", "price": 1.0}],
                      tombstone_cursor=cursor)


def test_a_checkpoint_stores_profiles_model_and_offsets_together(store: Store) -> None:
    assert store.load_checkpoint("g").worker_state is None
    assert store.load_checkpoint("g").offsets == {}
    store.save(checkpoint([profile("ann", open_until=100.0), profile("bob")],
                          {"events:0": 12, "events:1": 7}))
    saved = store.load_checkpoint("g")
    assert pickle.loads(saved.worker_state) == {"model": "model-v1"}  # type: ignore[arg-type]
    assert saved.offsets == {"events:0": 12, "events:1": 7}
    assert store.load_checkpoint("other-group").offsets == {}

    ann = store.load_profile("ann")
    assert ann is not None and ann.session is not None
    assert ann.session.pending == [Snapshot([1.0, 2.0], 0.1, 1)]  # the worker part
    assert ann.recent_event_ids == ["e-1", "e-2"]
    public = store.read_profile("ann")
    assert public is not None and public.intent == 0.25
    assert public.session is not None and public.session.pending == []  # API reads skip it
    assert store.read_profile("nobody") is None
    assert store.open_sessions("events:1") == {"ann": 100.0}
    assert store.model_summary("g")["roc_auc"] == 0.8  # type: ignore[index]
    assert store.popular()[0]["sku"] == "A"

    # the next checkpoint moves offsets on and closes ann's session
    store.save(checkpoint([profile("ann")], {"events:1": 9}, model="model-v2"))
    saved = store.load_checkpoint("g")
    assert saved.offsets == {"events:0": 12, "events:1": 9}
    assert pickle.loads(saved.worker_state) == {"model": "model-v2"}  # type: ignore[arg-type]
    assert store.open_sessions("events:1") == {}
    assert sorted(p.profile_id for p in store.iter_profiles()) == ["ann", "bob"]


def test_item_counts_are_added_up_across_checkpoints(store: Store) -> None:
    first = GraphDelta(items={"A": {"sku": "A", "name": "a", "url": "u", "price": 1.0,
                                    "category": None}},
                       views=Counter({"A": 2, "B": 1}), buys=Counter({"A": 1}),
                       coview=Counter({("A", "B"): 1, ("B", "A"): 1}),
                       cobuy=Counter({("A", "C"): 1, ("C", "A"): 1}))
    second = GraphDelta(views=Counter({"A": 3}), coview=Counter({("A", "B"): 2, ("B", "A"): 2}))
    store.save(checkpoint([], {}, graph=first))
    store.save(checkpoint([], {}, graph=second))
    counts = store.load_graph()
    assert counts.views == {"A": 5, "B": 1}
    assert counts.buys.get("A") == 1 and counts.buys.get("B", 0) == 0
    assert sorted(counts.coview) == [("A", "B", 3), ("B", "A", 3)]
    assert sorted(counts.cobuy) == [("A", "C", 1), ("C", "A", 1)]
    assert counts.items["A"]["name"] == "a"


def test_forget_removes_the_profile_links_and_decisions_and_leaves_tombstones(
        store: Store) -> None:
    store.save(checkpoint([profile("main", visitors=["main", "phone"])], {"events:1": 3}))
    store.link("phone", "main")
    assert store.read_profile("phone").profile_id == "main"  # type: ignore[union-attr]
    store.log_decision({"decision_id": "d-1", "profile_id": "main", "ts": 1.0, "slot": "hero",
                        "variant": "default", "arm": "rules"})
    store.log_decision({"decision_id": "d-2", "profile_id": "someone-else", "ts": 1.0})
    assert store.decision("d-1")["variant"] == "default"  # type: ignore[index]

    forgotten = store.forget("phone", now=50.0)
    assert forgotten.as_dict() == {"profile_id": "main", "profiles": 1, "links": 1,
                                   "decisions": 1}
    assert store.read_profile("main") is None and store.read_profile("phone") is None
    assert store.load_profile("main") is None
    assert store.resolve("phone") == "phone"
    assert store.decision("d-1") is None
    assert store.decision("d-2") is not None
    assert list(store.iter_profiles()) == []
    tombstones, cursor = store.tombstones("0")
    assert {t.key for t in tombstones} == {forget_key("main"), forget_key("phone")}
    assert {t.at for t in tombstones} == {50.0}
    assert store.tombstones(cursor) == ([], cursor)


def test_a_checkpoint_never_brings_a_forgotten_visitor_back(store: Store) -> None:
    _, cursor = store.tombstones("0")
    store.forget("eve", now=10.0)  # while the worker still holds eve in memory
    result = store.save(checkpoint([profile("eve"), profile("fay")], {"events:1": 5},
                                   cursor=cursor))
    assert result.refused == ["eve"]
    assert [t.key for t in result.tombstones] == [forget_key("eve")]
    assert store.read_profile("eve") is None
    assert store.read_profile("fay") is not None
    assert store.load_checkpoint("g").offsets == {"events:1": 5}


def test_decisions_made_before_a_forget_are_not_logged_after_it(store: Store) -> None:
    store.forget("gil", now=100.0)
    store.log_decisions([
        {"decision_id": "before", "profile_id": "gil", "ts": 99.0},
        {"decision_id": "after", "profile_id": "gil", "ts": 101.0},  # came back later
        {"decision_id": "other", "profile_id": "hal", "ts": 99.0},
    ])
    assert store.decision("before") is None
    assert store.decision("after") is not None and store.decision("other") is not None


def test_ping_answers(store: Store) -> None:
    store.ping()


def test_labelled_snapshots_keep_their_label_across_a_checkpoint(store: Store) -> None:
    ann = profile("ann", open_until=100.0)
    assert ann.session is not None
    ann.session.pending = [Snapshot([1.0], 0.3, 1, True), Snapshot([2.0], 0.1, 1)]
    store.save(checkpoint([ann], {"events:1": 3}))
    back = store.load_profile("ann")
    assert back is not None and back.session is not None
    assert back.session.pending == [Snapshot([1.0], 0.3, 1, True), Snapshot([2.0], 0.1, 1)]


def test_a_shared_model_workers_checkpoint_keeps_partition_states_not_a_model(
        store: Store) -> None:
    shared = Checkpoint(group="g", offsets={"events:0": 5}, profiles=[profile("bob")],
                        sources={"bob": "events:0"}, worker_state=None, summary=None,
                        partition_states={"events:0": b"waiting-0", "events:2": b"waiting-2"})
    store.save(shared)
    assert store.load_checkpoint("g").worker_state is None  # the learner owns the model
    assert store.model_summary("g") is None
    assert store.load_checkpoint("g").offsets == {"events:0": 5}
    assert store.load_partition_state("g", "events:2") == b"waiting-2"
    assert store.load_partition_state("g", "events:1") is None
    assert store.load_partition_state("other", "events:0") is None
    store.save(dataclasses.replace(shared, partition_states={"events:0": b"later"}))
    assert store.load_partition_state("g", "events:0") == b"later"
    assert store.load_partition_state("g", "events:2") == b"waiting-2"  # untouched


def test_model_snapshots_are_versioned_with_the_learners_offsets(store: Store) -> None:
    assert store.model_version("g") == 0 and store.load_model("g") is None
    for version in (1, 2):
        store.save_model(ModelSnapshot(
            group="g", version=version, blob=pickle.dumps({"v": version}),
            summary={"labels": 10 * version}, bandit={"hero": {"v": version}},
            offsets={"labels:0": 100 * version}))
    assert store.model_version("g") == 2 and store.model_version("other") == 0
    latest = store.load_model("g")
    assert latest is not None
    assert (latest.version, pickle.loads(latest.blob), latest.offsets) == (
        2, {"v": 2}, {"labels:0": 200})
    # what the API reads: the summary and the bandit statistics are the learner's
    assert store.model_summary("g")["labels"] == 20  # type: ignore[index]
    assert store.bandit_state() == {"hero": {"v": 2}}
    assert store.load_checkpoint("g").offsets == {}  # the workers' offsets are apart
