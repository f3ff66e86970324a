"""The slots' contextual bandit end to end: configuration, choosing in ``decide``, state across
restarts and stores, the API, the report. The policies are in ``test_policy.py``, delayed
rewards in ``test_learning.py``, learning against a known ground truth in
``tests/simulation/test_bandit_exam.py``."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from clickloop.cli import main
from personalization.api import create_app
from personalization.bandit.context import DIM, NAMES, VERSION
from personalization.bandit.policy import LinearArms, state_dict
from personalization.decision import decide
from personalization.engine import Engine
from personalization.holdout import BANDIT, HOLDOUT, RULES, arm_of
from personalization.intent import IntentModel
from personalization.recommend import ItemGraph
from personalization.rules import RulesError, RulesSource, parse_rules
from personalization.stores import Checkpoint, Store
from personalization.stores.embedded import EmbeddedStore
from personalization.worker import Worker
from tests.personalization.bandit.support import click, pulls, rules_text, run, trained
from tests.personalization.builders import add, buy, epoch, event, shown
from tests.personalization.helpers import ORIGIN, api_settings, seed

# --- configuration ------------------------------------------------------------------------------


def test_a_bandit_block_is_read_with_its_defaults() -> None:
    slot = parse_rules(rules_text(0.3, "linucb", "purchase")).slot("hero")
    assert slot is not None and slot.bandit is not None
    assert (slot.bandit.share, slot.bandit.policy, slot.bandit.reward, slot.bandit.explore,
            slot.bandit.pin) == (0.3, "linucb", "purchase", 0.05, None)
    minimal = parse_rules("version: 1\nslots:\n  hero:\n    default: {variant: a}\n"
                          "    bandit: {}\n").slot("hero")
    assert minimal is not None and minimal.bandit is not None
    assert (minimal.bandit.policy, minimal.bandit.reward, minimal.bandit.share) == (
        "linucb", "click", 0.5)


def test_every_bandit_mistake_is_reported_with_its_line() -> None:
    text = ("version: 1\nslots:\n  hero:\n    default: {variant: a}\n    bandit:\n"
            "      share: 1.5\n      policy: greedy\n      reward: visit\n      explore: -1\n"
            "      pin: b\n      speed: 3\n")
    with pytest.raises(RulesError) as caught:
        parse_rules(text)
    problems = {p.path: (p.line, p.reason) for p in caught.value.problems}
    assert problems["slots.hero.bandit.share"][0] == 6
    assert "unknown policy 'greedy'" in problems["slots.hero.bandit.policy"][1]
    assert "linucb, thompson, epsilon_greedy" in problems["slots.hero.bandit.policy"][1]
    assert "unknown reward 'visit'" in problems["slots.hero.bandit.reward"][1]
    assert problems["slots.hero.bandit.explore"][0] == 9
    assert "unknown variant 'b'" in problems["slots.hero.bandit.pin"][1]
    assert "unknown key 'speed'" in problems["slots.hero.bandit.speed"][1]


def test_the_bandit_share_splits_the_treated_without_moving_the_holdout() -> None:
    ids = [f"visitor-{i}" for i in range(4000)]
    before = {v: arm_of(v, holdout_share=0.2, salt="s") for v in ids}
    after = {v: arm_of(v, holdout_share=0.2, salt="s", bandit_share=0.5) for v in ids}
    assert {v for v, a in before.items() if a == HOLDOUT} == {
        v for v, a in after.items() if a == HOLDOUT}
    counts = Counter(after.values())
    assert 700 < counts[HOLDOUT] < 900 and 1450 < counts[BANDIT] < 1750
    assert counts[RULES] + counts[BANDIT] == len(ids) - counts[HOLDOUT]


# --- choosing -----------------------------------------------------------------------------------


def test_decide_lets_the_bandit_choose_among_what_the_rules_allow() -> None:
    rules = parse_rules(rules_text())
    engine = Engine(IntentModel(), ItemGraph())
    run(engine, [event("page_view", "mo", 0, device="mobile"), add("mo", 1, "SK-1"),
                 event("page_view", "desk", 0, device="desktop")])
    rng = np.random.default_rng(1)
    seen: Counter[str] = Counter()
    for _ in range(300):
        decision, ctx = decide(rules, "hero", visitor_id="mo", profile=engine.profiles["mo"],
                               popular=(), holdout_share=0.0, salt="s", now=epoch(2), rng=rng)
        assert decision.arm == BANDIT and decision.bandit_learn
        assert decision.bandit_x is not None and len(decision.bandit_x) == DIM
        seen[decision.variant] += 1
    assert ctx is not None and [v.name for v in rules.slots["hero"].allowed(ctx)] == [
        "standard", "free_shipping", "discount"]
    # nothing learned yet: every allowed variant is equally likely
    assert set(seen) == {"standard", "free_shipping", "discount"} and min(seen.values()) > 70
    # a desktop visitor with an empty cart is allowed the default only: no choice, no learning
    only, _ = decide(rules, "hero", visitor_id="desk", profile=engine.profiles["desk"],
                     popular=(), holdout_share=0.0, salt="s", now=epoch(2), rng=rng)
    assert (only.arm, only.variant, only.bandit_learn) == (BANDIT, "standard", False)


def test_a_pinned_variant_is_shown_and_not_learned_and_the_holdout_is_untouched() -> None:
    rules = parse_rules(rules_text(pin="discount"))
    decision, _ = decide(rules, "hero", visitor_id="v1", profile=None, popular=(),
                         holdout_share=0.0, salt="s", now=0.0)
    assert (decision.arm, decision.variant, decision.bandit_learn) == (BANDIT, "discount", False)
    held, _ = decide(parse_rules(rules_text()), "hero", visitor_id="v1", profile=None,
                     popular=(), holdout_share=1.0, salt="s", now=0.0)
    assert (held.arm, held.variant, held.bandit_x) == (HOLDOUT, "standard", None)


# --- state across restarts and stores -----------------------------------------------------------


def test_stores_keep_the_published_statistics(store: Store) -> None:
    assert store.bandit_state() is None
    state = state_dict({"hero": trained("b", ["a"], n=20)})
    store.save(Checkpoint(group="g", offsets={}, profiles=[], sources={},
                              worker_state=b"", summary={}, bandit=state))
    assert store.bandit_state() == json.loads(json.dumps(state))
    store.save(Checkpoint(group="g", offsets={}, profiles=[], sources={},
                              worker_state=b"", summary={}))  # no bandit: the last one stays
    assert store.bandit_state() == json.loads(json.dumps(state))


def test_a_restarted_worker_restores_the_bandit_and_its_pending_decisions(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(rules_text(), encoding="utf-8")
    base = api_settings(tmp_path / "state")
    settings = dataclasses.replace(base, personalization=dataclasses.replace(
        base.personalization, rules_file=rules_file))
    store = EmbeddedStore(settings.state_dir / "personalization")
    x = [1.0, *([0.0] * (DIM - 1))]
    store.log_decisions([{"decision_id": d, "profile_id": "ann", "ts": epoch(0),
                          "bandit_x": x, "bandit_learn": True, "bandit_version": VERSION}
                         for d in ("d-1", "d-2")])
    worker = Worker(settings, store, bootstrap="127.0.0.1:9")  # Kafka is only used by run()
    records = [shown("ann", 0, "hero", "discount", BANDIT, "d-1"),
               click("ann", 1, "d-1", "discount"),
               shown("ann", 2, "hero", "standard", BANDIT, "d-2")]
    for offset, raw in enumerate(records):
        worker.handle("events:0", offset, json.dumps(raw).encode())
    worker.checkpoint()
    assert worker.bandit.counters.unlogged == 0  # the context came from the decision log
    published = store.bandit_state()
    assert published is not None and published["slots"]["hero"]["discount"]["rewards"] == 1.0

    restarted = Worker(settings, store, bootstrap="127.0.0.1:9")
    assert restarted.bandit.publish() == worker.bandit.publish()
    assert [p.decision_id for p in restarted.bandit.pending["ann"]] == ["d-2"]
    restarted.handle("events:0", 3, json.dumps(
        shown("ann", 3, "hero", "discount", BANDIT, "d-1")).encode())  # replayed: learned
    restarted.engine.advance(epoch(90))  # ann has gone: d-2 is learned as no reward, once
    assert pulls(restarted.bandit) == {"discount": (1, 1.0), "standard": (1, 0.0)}

    # a worker whose checkpoint predates the bandit starts from the published statistics
    fresh = EmbeddedStore(tmp_path / "other")
    fresh.save(Checkpoint(group=settings.personalization.consumer_group, offsets={},
                          profiles=[], sources={}, worker_state=b"", summary={},
                          bandit=published))
    assert Worker(settings, fresh, bootstrap="127.0.0.1:9").bandit.publish() == published


def test_the_api_chooses_with_the_published_statistics_and_logs_the_context(
        tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(rules_text(), encoding="utf-8")
    settings = api_settings(tmp_path / "state")
    store = EmbeddedStore(settings.state_dir / "personalization")
    # on mobile, free shipping always converts and the standard content never does
    arms = LinearArms()
    mobile = [0.0] * DIM
    mobile[0] = mobile[NAMES.index("dev_mobile")] = 1.0
    for _ in range(300):
        arms.update("standard", mobile, 0.0)
        arms.update("free_shipping", mobile, 1.0)
    store.save(Checkpoint(group="g", offsets={}, profiles=[], sources={}, worker_state=b"",
                          summary={}, bandit=state_dict({"hero": arms})))
    app = create_app(settings, store=store, rules=RulesSource(rules_file))
    svc = app.extensions["clickloop_personalization"]
    svc.rng = np.random.default_rng(4)  # the explore share's draws, reproducible
    run_engine = Engine(IntentModel(), ItemGraph())
    run(run_engine, [event("page_view", "mo", 0, device="mobile")])
    store.save(Checkpoint(group="g", offsets={}, profiles=run_engine.publish(epoch(0)),
                          sources={"mo": "events:0"}, worker_state=b"", summary={}))
    client = app.test_client()
    client.set_cookie("cl_vid", "mo")
    variants = Counter()
    bodies = []
    for _ in range(60):
        body = client.get("/v1/decide?slot=hero", headers={"Origin": ORIGIN}).get_json()
        assert body["arm"] == BANDIT
        variants[body["variant"]] += 1
        bodies.append(body)
    assert variants["free_shipping"] >= 54, variants  # the 5 % explore share aside
    svc.decisions.flush()
    # the first decision (the log keeps a bounded number per profile state: see LogGate)
    record = store.decision(bodies[0]["decision_id"])
    assert record is not None and record["bandit_learn"] is True
    assert record["bandit_version"] == VERSION and len(record["bandit_x"]) == DIM
    assert record["bandit_x"][NAMES.index("dev_mobile")] == 1.0
    svc.decisions.close()


# --- the report -----------------------------------------------------------------------------------


def test_report_uplift_per_slot_compares_the_three_arms(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    events = []
    for i, (arm, buys) in enumerate([(HOLDOUT, False)] * 3 + [(RULES, True), (RULES, False)]
                                    + [(BANDIT, True)] * 2 + [(BANDIT, False)]):
        vid = f"v{i}"
        events.append(shown(vid, 0, "hero", "standard", arm, f"d-{i}"))
        events.append(shown(vid, 1, "recommended", "bestsellers", RULES if arm == BANDIT
                            else arm, f"r-{i}"))
        if buys:
            events.append(buy(vid, 2, f"o-{i}", {"SK-1": 1}))
    store = EmbeddedStore(tmp_path / "state" / "personalization")
    seed(store, events, now=epoch(60))
    monkeypatch.setenv("CLICKLOOP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CLICKLOOP_REDIS_URL", raising=False)
    assert main(["report", "uplift", "--per-slot", "--json"]) == 0
    slots = json.loads(capsys.readouterr().out)["slots"]
    assert set(slots) == {"hero", "recommended"}
    hero = slots["hero"]
    assert {a: v["visitors"] for a, v in hero["arms"].items()} == {
        BANDIT: 3, HOLDOUT: 3, RULES: 2}
    pairs = {(c["arm"], c["versus"]): c for c in hero["comparisons"]}
    assert set(pairs) == {(BANDIT, HOLDOUT), (RULES, HOLDOUT), (BANDIT, RULES)}
    assert pairs[(BANDIT, RULES)]["conversion_diff"] == pytest.approx(2 / 3 - 1 / 2, abs=1e-6)
    assert set(slots["recommended"]["arms"]) == {HOLDOUT, RULES}  # no bandit in that slot
    assert main(["report", "uplift", "--per-slot"]) == 0
    text = capsys.readouterr().out
    assert "in slot 'hero'" in text and "in slot 'recommended'" in text
    assert "bandit vs rules:" in text and "bandit vs holdout:" in text
    assert main(["report", "uplift", "--per-slot", "--slot", "hero"]) == 2
    assert "not both" in capsys.readouterr().err


def test_a_worker_refuses_to_start_on_a_broken_rules_file(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(rules_text(policy="greedy"), encoding="utf-8")
    base = api_settings(tmp_path / "state")
    settings = dataclasses.replace(base, personalization=dataclasses.replace(
        base.personalization, rules_file=rules_file))
    store = EmbeddedStore(settings.state_dir / "personalization")
    with pytest.raises(RulesError, match=r"rules.yaml:16:15: slots.hero.bandit.policy"):
        Worker(settings, store, bootstrap="127.0.0.1:9")


def test_check_rules_shows_each_slots_bandit(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(rules_text(share=0.5, reward="purchase"), encoding="utf-8")
    assert main(["personalization", "check-rules", str(rules_file)]) == 0
    assert ("hero: standard, free_shipping, discount (default standard; bandit thompson for 50% "
            "of the treated, reward purchase, explore 5%)") in capsys.readouterr().out
    rules_file.write_text(rules_text(pin="discount"), encoding="utf-8")
    assert main(["personalization", "check-rules", str(rules_file)]) == 0
    assert "pinned to discount" in capsys.readouterr().out
