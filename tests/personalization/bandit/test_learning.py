"""Delayed rewards attributed to decision ids (:mod:`personalization.bandit.learning`)."""

from __future__ import annotations

import numpy as np

from personalization.bandit.context import DIM, VERSION
from personalization.forgetting import forget_key
from personalization.holdout import BANDIT, RULES
from personalization.observation import observe
from tests.personalization.bandit.support import click, learner_for, pulls, run
from tests.personalization.builders import add, buy, epoch, shown, view


def test_a_click_rewards_its_decision_once_and_a_repeated_show_counts_nothing() -> None:
    x = [1.0, *([0.0] * (DIM - 1))]
    log = {"d-1": {"bandit_x": x, "bandit_learn": True, "bandit_version": VERSION,
                   "ts": epoch(0)}}
    engine, learner = learner_for("click", log)
    run(engine, [shown("ann", 0, "hero", "discount", BANDIT, "d-1"),
                 shown("ann", 1, "hero", "discount", BANDIT, "d-1"),  # the page shown again
                 shown("ann", 2, "hero", "standard", BANDIT, "d-2"),
                 click("ann", 3, "d-1", "discount")])
    assert pulls(learner) == {"discount": (1, 1.0)}  # learned at once, d-2 still waits
    run(engine, [click("ann", 4, "d-1", "discount"),  # a second click: already learned
                 shown("ann", 5, "hero", "discount", BANDIT, "d-1")], until=epoch(60))
    # the session closed: d-2 had no click, so it counts as no reward, once
    assert pulls(learner) == {"discount": (1, 1.0), "standard": (1, 0.0)}
    assert learner.counters.repeated == 2 and learner.counters.unlogged == 1
    assert np.allclose(learner.slots["hero"].b["discount"], x)  # learned with the logged x
    run(engine, [], until=epoch(200))  # closing again later learns nothing more
    assert sum(n for n, _ in pulls(learner).values()) == 2
    # the next day the page comes back from the browser's cache and reports d-1 again: stale
    run(engine, [shown("ann", 1440, "hero", "discount", BANDIT, "d-1")], until=epoch(1600))
    assert sum(n for n, _ in pulls(learner).values()) == 2 and learner.counters.repeated == 3
    assert not learner.pending and not learner.learned  # nothing kept after the sessions


def test_add_to_cart_and_purchase_rewards_wait_for_their_event() -> None:
    engine, learner = learner_for("purchase")
    run(engine, [view("bob", 0, "JK-1"), shown("bob", 1, "hero", "discount", BANDIT, "d-b"),
                 add("bob", 2, "JK-1")])
    assert pulls(learner) == {}  # an add to cart is not this slot's reward
    run(engine, [buy("bob", 5, "o-1", {"JK-1": 1})])
    assert pulls(learner) == {"discount": (1, 1.0)}
    carts, cart_learner = learner_for("add_to_cart")
    run(carts, [shown("cy", 0, "hero", "standard", BANDIT, "d-c"), add("cy", 1, "SK-1")])
    assert pulls(cart_learner) == {"standard": (1, 1.0)}


def test_other_arms_pinned_decisions_and_forgotten_visitors_are_not_learned() -> None:
    log = {"d-pin": {"bandit_learn": False}}
    engine, learner = learner_for("click", log)
    run(engine, [shown("di", 0, "hero", "discount", RULES, "d-r"),
                 shown("di", 1, "hero", "discount", BANDIT, "d-pin"),
                 shown("di", 2, "recommended", "x", BANDIT, "d-other-slot"),
                 shown("ed", 0, "hero", "standard", BANDIT, "d-e")])
    assert learner.counters.not_learned == 1 and learner.pending.keys() == {"ed"}
    assert engine.forget({forget_key("ed"): epoch(1)}) == ["ed"]
    run(engine, [], until=epoch(100))
    assert pulls(learner) == {}


def test_a_released_partition_takes_its_pending_decisions_along() -> None:
    engine, learner = learner_for("click")
    engine.process(observe(shown("fay", 0, "hero", "discount", BANDIT, "d-f")), "events:1")
    engine.process(observe(shown("gus", 0, "hero", "discount", BANDIT, "d-g")), "events:2")
    engine.release(["events:1"])
    assert learner.pending.keys() == {"gus"}
