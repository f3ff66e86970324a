"""Identity stitching (see :mod:`personalization.stitching`): one person on two devices is one
profile to act on; a second person on the same device is never merged into the first.

The story runs through the real worker, a real Kafka broker and each store (embedded SQLite,
Redis), in phases so that what is asserted does not depend on how the consumer batches the
partitions:

- Ann's phone ``ph-1`` browses anonymously (trail shoe), logs in, buys the shoe;
- Ann's laptop ``lp-1`` browses anonymously (jacket, cap), comes back later, logs in, views
  the watch: her laptop profile now holds the phone's purchase;
- later Bob uses the same laptop: browses (socks) anonymously, logs in, views the road shoe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from personalization.profile import History, Profile
from personalization.segments import segment_of
from personalization.stitching import merge_history, person_view, read_person
from personalization.stores import Store
from personalization.stores.embedded import EmbeddedStore
from tests.embedded.events import produce
from tests.personalization.builders import add, buy, epoch, event, view
from tests.personalization.helpers import seed
from tests.personalization.test_worker import RunningWorker, settings_for, stored_total, wait_for

ANN, BOB = "ann@example.com", "bob@example.com"
ANN_PHONE, ANN_LAPTOP, BOB_LAPTOP = f"{ANN}@ph-1", f"{ANN}@lp-1", f"{BOB}@lp-1"


def phone() -> list[dict[str, Any]]:
    return [view("ph-1", 0, "SH-1", device="mobile"), add("ph-1", 1, "SH-1", device="mobile"),
            event("identify", "ph-1", 2, device="mobile", user_id=ANN),
            buy("ph-1", 3, "o-ph", {"SH-1": 1}, device="mobile", user_id=ANN)]


def laptop_ann() -> list[dict[str, Any]]:
    return [view("lp-1", 60, "JK-1"), view("lp-1", 61, "CP-1"),
            event("page_view", "lp-1", 200),
            event("identify", "lp-1", 201, user_id=ANN),
            view("lp-1", 202, "WA-1", user_id=ANN)]


def laptop_bob() -> list[dict[str, Any]]:
    return [view("lp-1", 300, "SK-1"),
            event("identify", "lp-1", 301, user_id=BOB),
            view("lp-1", 302, "SH-2", user_id=BOB)]


def check_ann_on_the_laptop(store: Store) -> None:
    """After phone and laptop: the laptop's profile has the phone's purchase (by hand)."""
    laptop = read_person(store, "lp-1")
    assert laptop is not None
    assert (laptop.profile_id, laptop.user_id) == (ANN_LAPTOP, ANN)
    assert sorted(laptop.visitor_ids) == ["lp-1", "ph-1"]
    h = laptop.history
    assert (h.purchases, h.revenue, h.last_purchase) == (1, 129.0, epoch(3))
    assert list(h.bought) == ["SH-1"] and list(h.orders) == ["o-ph"]
    assert h.sessions == 2  # the phone's visit and the laptop's anonymous one
    assert set(h.viewed) == {"SH-1", "JK-1", "CP-1"}
    assert h.first_seen == epoch(0)
    assert laptop.session is not None  # the laptop's visit in progress, the device's own
    assert (laptop.session.events, laptop.session.product_views) == (3, 1)
    assert laptop.cart == {}
    # the laptop alone would be a returning visitor; with the phone's order she is a customer
    alone = store.read_profile("lp-1")
    assert alone is not None and alone.history.purchases == 0
    assert segment_of(laptop, None, epoch(203)) == "first_time_customer"
    assert segment_of(alone, None, epoch(203)) == "returning_visitor"

    assert sorted(p.profile_id for p in store.user_profiles(ANN)) == [ANN_LAPTOP, ANN_PHONE]
    # the phone's linked session is over: the phone is anonymous again (and empty: its
    # anonymous history went to Ann)
    phone_now = read_person(store, "ph-1")
    assert phone_now is not None and phone_now.profile_id == "ph-1"
    assert phone_now.user_id is None and phone_now.history == History()
    assert store.resolve("lp-1") == ANN_LAPTOP and store.resolve("ph-1") == "ph-1"


def check_bob_not_merged(store: Store) -> None:
    """Bob on Ann's laptop: his own profile, nothing of Ann's, nothing of his in Ann's."""
    laptop = read_person(store, "lp-1")
    assert laptop is not None
    assert (laptop.profile_id, laptop.user_id, laptop.visitor_ids) == (BOB_LAPTOP, BOB,
                                                                      ["lp-1"])
    # no purchase, no earlier session, no views of Ann's: seen from his login on, only
    assert laptop.history == History(first_seen=epoch(301), last_seen=epoch(302))
    assert laptop.session is not None and laptop.session.viewed == ["SH-2"]
    assert [p.profile_id for p in store.user_profiles(BOB)] == [BOB_LAPTOP]

    ann = {p.profile_id: p for p in store.user_profiles(ANN)}
    assert sorted(ann) == [ANN_LAPTOP, ANN_PHONE]
    merged = merge_history(p.history for p in ann.values())
    assert (merged.purchases, merged.revenue, merged.sessions) == (1, 129.0, 3)
    assert set(merged.viewed) == {"SH-1", "JK-1", "CP-1", "WA-1"}  # no SK-1, no SH-2
    # Bob's anonymous browsing before his login stays with the device: it may be Ann's
    device = store.load_profile("lp-1")
    assert device is not None and device.claimed_by == ANN and device.user_id is None
    seen = (device.session.viewed if device.session else []) + device.history.viewed
    assert seen == ["SK-1"]


# --- the rule, on the engine (no Kafka) ---------------------------------------------------------

def test_the_story_through_the_engine(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    engine = seed(store, phone() + laptop_ann(), now=epoch(203))
    check_ann_on_the_laptop(store)
    assert engine.profiles[ANN_LAPTOP].history.purchases == 0  # the device's own part
    seed(store, laptop_bob(), now=epoch(303))
    check_bob_not_merged(store)


def test_a_second_user_in_the_same_session_takes_over_from_the_identify_on(
        tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    seed(store, [
        view("kiosk", 0, "JK-1"),
        event("identify", "kiosk", 1, user_id=ANN), add("kiosk", 2, "JK-1", user_id=ANN),
        event("identify", "kiosk", 3, user_id=BOB), view("kiosk", 4, "SK-1", user_id=BOB),
        # a server event without user_id in Bob's session is Bob's
        buy("kiosk", 5, "o-bob", {"SK-1": 1}),
    ], now=epoch(6))
    ann = store.load_profile(f"{ANN}@kiosk")
    bob = store.load_profile(f"{BOB}@kiosk")
    assert ann is not None and bob is not None
    assert ann.history.purchases == 0 and ann.history.sessions == 1  # closed at Bob's login
    assert list(ann.cart) == ["JK-1"] and ann.history.viewed == ["JK-1"]
    assert bob.history.purchases == 1 and bob.cart == {}
    assert bob.session is not None and bob.session.viewed == ["SK-1"]
    assert store.resolve("kiosk") == f"{BOB}@kiosk"


def test_person_view_keeps_the_device_session_and_merges_history() -> None:
    served = Profile("u@a", visitor_ids=["a"], user_id="u",
                     history=History(sessions=1, purchases=0, last_seen=5.0), intent=0.2)
    other = Profile("u@b", visitor_ids=["b"], user_id="u",
                    history=History(sessions=2, purchases=2, revenue=30.0, last_purchase=4.0,
                                    orders={"o1": [3.0, 10.0], "o2": [4.0, 20.0]},
                                    last_seen=4.0))
    view_ = person_view(served, [served, other])
    assert (view_.profile_id, view_.intent, view_.visitor_ids) == ("u@a", 0.2, ["a", "b"])
    assert (view_.history.sessions, view_.history.purchases, view_.history.revenue) == \
        (3, 2, 30.0)
    assert view_.history.last_seen == 5.0
    assert served.history.purchases == 0  # not changed in place
    assert person_view(served, [served]) is served


def test_logging_in_never_moves_a_device_between_experiment_arms() -> None:
    from personalization.decision import decide
    from personalization.rules import parse_rules

    rules = parse_rules("version: 1\nslots:\n  hero:\n    default: {variant: a}\n")
    arms = {}
    for vid in (f"v{i}" for i in range(200)):
        for profile in (Profile(vid, visitor_ids=[vid]),
                        Profile(f"u-{vid}@{vid}", visitor_ids=[vid], user_id=f"u-{vid}")):
            decision, _ = decide(rules, "hero", visitor_id=vid, profile=profile, popular=[],
                                 holdout_share=0.5, salt="s", now=10.0)
            arms.setdefault(vid, set()).add(decision.arm)
    assert all(len(a) == 1 for a in arms.values())  # same arm before and after identify
    assert {next(iter(a)) for a in arms.values()} == {"holdout", "rules"}  # both arms drawn


# --- the real worker and Kafka ------------------------------------------------------------------

@pytest.mark.kafka
def test_two_devices_one_person_and_a_shared_laptop_through_kafka(
        kafka_broker: str, kafka_topic: str, tmp_path: Path, store: Store) -> None:
    settings = settings_for(tmp_path, kafka_broker, kafka_topic)
    group = settings.personalization.consumer_group
    running = RunningWorker(settings, store, kafka_broker)
    sent = 0
    try:
        for phase in (phone(), laptop_ann()):
            produce(kafka_broker, kafka_topic, phase)
            sent += len(phase)
            wait_for(lambda n=sent: stored_total(store, group) == n, f"{sent} events stored")

        def phone_closed() -> bool:
            profile = store.load_profile(ANN_PHONE)
            return profile is not None and profile.session is None

        wait_for(phone_closed, "the phone's session to close")
        check_ann_on_the_laptop(store)
        worker_copy = running.worker.engine.profiles[ANN_LAPTOP]  # the worker's state agrees
        assert worker_copy.user_id == ANN and worker_copy.history.sessions == 1

        produce(kafka_broker, kafka_topic, laptop_bob())
        sent += len(laptop_bob())
        wait_for(lambda: stored_total(store, group) == sent, "Bob's events stored")
        wait_for(lambda: store.resolve("lp-1") == BOB_LAPTOP, "Bob's link")
    finally:
        running.stop()
    assert running.error is None
    check_bob_not_merged(store)
