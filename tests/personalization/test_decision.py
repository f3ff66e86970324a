"""The decision-log record: the one shape the API logs and the worker learns from."""

from __future__ import annotations

from personalization.bandit.context import VERSION
from personalization.decision import decide, decision_record
from personalization.engine import Engine
from personalization.holdout import BANDIT, RULES
from personalization.intent import IntentModel
from personalization.recommend import ItemGraph
from personalization.rules import parse_rules
from tests.personalization.bandit.support import rules_text, run
from tests.personalization.builders import add, epoch, event


def test_a_record_keeps_the_decision_and_the_context_it_was_made_in() -> None:
    engine = Engine(IntentModel(), ItemGraph())
    run(engine, [event("page_view", "mo", 0, device="mobile"), add("mo", 1, "SK-1")])
    decision, ctx = decide(parse_rules(rules_text(share=0.0)), "hero", visitor_id="mo",
                           profile=engine.profiles["mo"], popular=(), holdout_share=0.0,
                           salt="s", now=epoch(2), new_id=lambda: "d-1")
    assert ctx is not None and decision.arm == RULES
    assert decision_record(decision, ctx, epoch(2)) == {
        "decision_id": "d-1", "profile_id": "mo", "ts": epoch(2), "slot": "hero",
        "variant": decision.variant, "arm": RULES, "segment": decision.segment,
        "intent": decision.intent,
        "context": {"cart_items": ctx.cart_items, "cart_value": ctx.cart_value,
                    "campaign": ctx.campaign, "source": ctx.source, "device": "mobile",
                    "returning": ctx.returning, "customer": ctx.customer},
    }


def test_a_bandit_record_carries_the_vector_it_chose_at() -> None:
    engine = Engine(IntentModel(), ItemGraph())
    run(engine, [event("page_view", "mo", 0, device="mobile"), add("mo", 1, "SK-1")])
    decision, ctx = decide(parse_rules(rules_text()), "hero", visitor_id="mo",
                           profile=engine.profiles["mo"], popular=(), holdout_share=0.0,
                           salt="s", now=epoch(2))
    assert ctx is not None and decision.arm == BANDIT
    record = decision_record(decision, ctx, epoch(2))
    assert record["bandit_x"] == decision.bandit_x and record["bandit_learn"] is True
    assert record["bandit_version"] == VERSION
    assert record["decision_id"] == decision.decision_id and record["arm"] == BANDIT
