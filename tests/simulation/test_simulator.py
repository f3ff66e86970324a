"""The traffic simulator: deterministic, contract-valid, browser-faithful, and behaving like
shoppers (buyers browse more; intent shows in behaviour), with a working variant hook."""

from __future__ import annotations

import itertools
import json
import statistics
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from user_agents import parse as parse_ua

from simulation import devices
from simulation.config import SESSION_GAP, SimConfig
from simulation.records import Decision, DecisionRequest, Request
from simulation.simulator import Simulation, simulate
from simulation.variants import DEMO_HERO_RESPONSE, LogisticVariantResponse
from tracker.contract import (
    EVENT_TYPES,
    LIMITS,
    decode_batch,
    encode_batch,
    format_timestamp,
    parse_timestamp,
    validate_event,
)

START = datetime(2026, 3, 2, tzinfo=UTC)


def run(seed: int = 3, minutes: float = 24 * 60, **kwargs: Any):
    return simulate(SimConfig(seed=seed, start=START, minutes=minutes, **kwargs.pop("cfg", {})),
                    **kwargs)


def fingerprint(requests: list[Request]) -> list[tuple[Any, ...]]:
    return [(r.at, r.channel, r.visit.key, r.page_url, json.dumps(r.events, sort_keys=True))
            for r in requests]


def counting_decide(variants: tuple[str, ...]):
    """A fixed policy for tests: cycles through the variants; decision ids count up."""
    calls: list[DecisionRequest] = []

    def decide(req: DecisionRequest) -> Decision:
        calls.append(req)
        return Decision(f"d-{len(calls)}", variants[len(calls) % len(variants)], "rules")

    return decide, calls


@pytest.fixture(scope="module")
def three_days_run():
    """Three simulated days without decisions: enough visits for behaviour statistics."""
    return run(seed=11, minutes=3 * 24 * 60)


@pytest.fixture(scope="module")
def three_days(three_days_run):
    return three_days_run[1].visits()


@pytest.fixture(scope="module")
def day() -> tuple[list[Request], Any]:
    """One simulated day with decisions, shared by the read-only checks below."""
    decide, _ = counting_decide(DEMO_HERO_RESPONSE.variants)
    return run(seed=3, decide=decide, response=DEMO_HERO_RESPONSE)


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_same_requests() -> None:
    first, truth1 = run(seed=7, minutes=240)
    second, truth2 = run(seed=7, minutes=240)
    assert len(first) > 200
    assert fingerprint(first) == fingerprint(second)
    assert truth1.summary() == truth2.summary()


def test_different_seed_different_requests() -> None:
    first, _ = run(seed=7, minutes=240)
    other, _ = run(seed=8, minutes=240)
    assert fingerprint(first) != fingerprint(other)
    ids = {e["event_id"] for r in first for e in r.events}
    assert not ids & {e["event_id"] for r in other for e in r.events}


def test_default_start_is_minutes_before_now() -> None:
    now = datetime(2026, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)
    sim = Simulation(SimConfig(seed=1, minutes=90), now=now)
    assert sim.config.start == datetime(2026, 5, 1, 10, 30, tzinfo=UTC)
    assert sim.config.end == datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


# --- contract and wire -------------------------------------------------------------------------


def test_every_event_is_valid_at_the_collector(day) -> None:
    requests, truth = day
    end = truth.config.end
    problems = [(e["event_type"], err) for r in requests for e in r.events
                for err in validate_event(e, now=end)]
    assert problems == []
    seen = {e["event_type"] for r in requests for e in r.events}
    assert seen == set(EVENT_TYPES) - {"refund", "custom"}  # a shop's visitors do the rest


def test_event_ids_are_unique_uuids(day) -> None:
    ids = [e["event_id"] for r in day[0] for e in r.events]
    assert len(ids) == len(set(ids))
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_batches_fit_the_wire_limits(day) -> None:
    for r in day[0]:
        assert 1 <= len(r.events) <= 20
        body = encode_batch(list(r.events))
        assert decode_batch(body) == list(r.events)
    assert max(len(encode_batch(list(r.events))) for r in day[0]) < LIMITS.max_body_bytes


def test_time_window_and_order(day) -> None:
    requests, truth = day
    ats = [r.at for r in requests]
    assert ats == sorted(ats)
    for r in requests:
        for e in r.events:
            ts = parse_timestamp(e["client_ts"])
            assert truth.config.start <= ts < truth.config.end
            assert ts <= r.at + timedelta(milliseconds=1)


def test_channels_look_like_their_senders(day) -> None:
    channels = defaultdict(int)
    for r in day[0]:
        channels[r.channel] += 1
        visitor = r.visitor
        if r.channel == "pixel":
            assert [e["event_type"] for e in r.events] == ["page_view"]
            assert "sent_ts" not in r.events[0] and "session_id" not in r.events[0]
        elif r.channel == "server":
            (event,) = r.events
            assert event["event_type"] == "purchase"
            assert event["context"] == {"user_agent": visitor.user_agent}
            assert "session_id" not in event and "visitor_id" not in event
        else:
            for e in r.events:
                assert e["sent_ts"] == format_timestamp(r.at)
                assert e["url"] == r.page_url
                if visitor.dnt:  # the snippet under DNT: no ids, consent denied, no identify
                    assert e["consent"] == "denied"
                    assert "session_id" not in e and "user_id" not in e
                    assert e["event_type"] != "identify"
                elif visitor.kind == "human":
                    assert e["session_id"] == r.visit.session_id
    assert set(channels) == {"js", "pixel", "server"}


def test_page_views_carry_what_the_snippet_sends(day) -> None:
    views = [(r, e) for r in day[0] if r.channel == "js" for e in r.events
             if e["event_type"] == "page_view" and r.visitor.kind == "human"]
    assert views
    for r, e in views:
        v = r.visitor
        assert e["context"] == {"screen_width": v.screen[0], "screen_height": v.screen[1],
                                "viewport_width": v.viewport[0], "viewport_height": v.viewport[1],
                                "language": v.language, "timezone": v.timezone}
        assert e["title"].endswith("| Clickloop Outdoor")
    landings = [e for r, e in views if e["url"] == r.visit.landing_url]
    assert any(e["url"].count("utm_campaign=") for e in landings)


# --- sessions and visitors ---------------------------------------------------------------------


def test_visits_are_sessions(day) -> None:
    """Within a visit no gap reaches 30 minutes; between a visitor's visits every gap exceeds
    it, so a 30-minute sessionizer recovers exactly the simulated visits."""
    by_visitor: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for r in day[0]:
        if r.visitor.kind == "bot":
            continue
        for e in r.events:
            by_visitor[r.visitor.key].append((parse_timestamp(e["client_ts"]), r.visit.number))
    returning = 0
    for events in by_visitor.values():
        events.sort()
        for (t1, v1), (t2, v2) in itertools.pairwise(events):
            if v1 == v2:
                assert t2 - t1 < SESSION_GAP
            else:
                assert v2 == v1 + 1 and t2 - t1 > SESSION_GAP
                returning += 1
    assert returning > 10


def test_abandoned_carts_come_back(three_days) -> None:
    visits = [v for v in three_days if v["kind"] != "bot"]
    back = [v for v in visits if v["cart_return"]]
    assert len(back) >= 5
    assert all(v["landing_path"] == "/cart" for v in back)
    rate_back = sum(v["purchased"] for v in back) / len(back)
    rate_all = sum(v["purchased"] for v in visits) / len(visits)
    assert rate_back > 2 * rate_all


def test_user_agents_are_what_they_claim() -> None:
    for kind, group in devices.DEVICES.items():
        for device in group:
            ua = parse_ua(device.user_agent)
            assert not ua.is_bot
            assert {"desktop": ua.is_pc, "mobile": ua.is_mobile, "tablet": ua.is_tablet}[kind]
    for crawler in devices.CRAWLERS:
        assert parse_ua(crawler.user_agent).is_bot


def test_crawlers_never_keep_state(day) -> None:
    bots = [r for r in day[0] if r.visitor.kind == "bot"]
    assert bots
    assert {e["event_type"] for r in bots for e in r.events} == {"page_view"}
    sessions = [e["session_id"] for r in bots for e in r.events if "session_id" in e]
    assert len(sessions) == len(set(sessions))  # fresh storage on every fetch


# --- bounds ------------------------------------------------------------------------------------


def test_max_events_is_exact() -> None:
    requests, truth = run(seed=4, cfg={"max_events": 500})
    assert sum(len(r.events) for r in requests) == 500
    assert truth.summary()["events"] == 500


def test_truth_counts_what_was_emitted(day) -> None:
    requests, truth = day
    emitted: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in requests:
        for e in r.events:
            emitted[(r.visitor.key, r.visit.number)][e["event_type"]] += 1
    rows = {(v["visitor"], v["visit"]): v for v in truth.visits()}
    assert set(rows) == set(emitted)
    for key, counts in emitted.items():
        assert rows[key]["events_by_type"] == dict(counts)
    summary = truth.summary()
    assert summary["events"] == sum(len(r.events) for r in requests)
    revenue = sum(round(e["order"]["revenue"] * 100) for r in requests for e in r.events
                  if e["event_type"] == "purchase")
    assert round(summary["humans"]["revenue"] * 100) == revenue


@pytest.mark.parametrize(("field", "value"), [
    ("minutes", 0), ("max_events", 0), ("visitors_per_hour", -1), ("bot_share", 1.5),
    ("heartbeat_s", 0), ("shop_url", "127.0.0.1:5000"), ("shop_url", "http://x/"),
    ("slots", ("sidebar",)), ("max_visits", 0),
])
def test_bad_config_names_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field.split("_")[0]):
        Simulation(SimConfig(start=START, **{field: value}))


# --- behaviour ---------------------------------------------------------------------------------


def test_buyers_browse_more(three_days) -> None:
    humans = [v for v in three_days if v["kind"] == "human"]
    buyers = [v for v in humans if v["purchased"]]
    others = [v for v in humans if not v["purchased"]]
    assert len(buyers) >= 40
    assert statistics.mean(v["product_views"] for v in buyers) > \
        2 * statistics.mean(v["product_views"] for v in others)
    assert statistics.mean(v["page_views"] for v in buyers) > \
        2 * statistics.mean(v["page_views"] for v in others)
    assert statistics.mean(v["engaged_ms"] for v in buyers) > \
        2 * statistics.mean(v["engaged_ms"] for v in others)


def test_intent_shows_in_behaviour(three_days_run) -> None:
    """What an intent model sees before each event predicts the visit's purchase better than
    the "cart not empty" rule: a fixed, hand-weighted score already beats the rule on
    progressive ROC AUC, so a learned model has something to learn."""
    requests, truth = three_days_run
    outcome = {(v["visitor"], v["visit"]): v["purchased"] for v in truth.visits()}
    cart: dict[str, int] = defaultdict(int)
    state: dict[tuple[str, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rule, score, labels = [], [], []
    for r in requests:
        if r.visitor.kind != "human":
            continue
        key = (r.visitor.key, r.visit.number)
        s = state[key]
        for e in r.events:
            has_cart = cart[r.visitor.key] > 0
            rule.append(float(has_cart))
            score.append(2.0 * has_cart + 0.3 * s["product_view"] + 0.15 * s["page_view"]
                         + s["engaged_ms"] / 60_000 + 0.5 * r.visit.returning
                         + 0.5 * (r.visit.source == "email"))
            labels.append(outcome[key])
            kind = e["event_type"]
            s[kind] += 1
            s["engaged_ms"] += e.get("engaged_ms", 0)
            if kind == "add_to_cart":
                cart[r.visitor.key] += 1
            elif kind == "remove_from_cart":
                cart[r.visitor.key] -= 1
            elif kind == "purchase":
                cart[r.visitor.key] = 0
    print(f"progressive AUC: cart rule {auc(rule, labels):.3f}, score {auc(score, labels):.3f}")
    assert 0.5 < auc(rule, labels) < auc(score, labels) - 0.05


def auc(scores: list[float], labels: list[bool]) -> float:
    """Exact ROC AUC (Mann-Whitney U with average ranks for ties)."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    positives = sum(labels)
    negatives = len(labels) - positives
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def test_who_buys(three_days) -> None:
    humans = [v for v in three_days if v["kind"] == "human"]

    def rate(rows):
        return sum(v["purchased"] for v in rows) / max(1, len(rows))

    assert rate([v for v in humans if v["returning"]]) > rate([v for v in humans
                                                               if not v["returning"]])
    assert rate([v for v in humans if v["source"] == "email"]) > \
        rate([v for v in humans if v["source"] == "social"])


def test_traffic_mix(three_days) -> None:
    humans = [v for v in three_days if v["kind"] != "bot"]
    sources = {v["source"] for v in humans}
    assert sources == {"search", "direct", "social", "paid", "email", "other"}
    assert {v["device"] for v in humans} == {"desktop", "mobile", "tablet"}
    campaigns = {v["campaign"] for v in humans} - {None}
    assert campaigns == {"spring-newsletter", "cart-reminder", "trail-season", "race-day",
                         "gps-watches"}
    assert any(v["dnt"] for v in humans) and any(v["kind"] == "nojs" for v in humans)
    assert any(v["kind"] == "bot" for v in three_days)
    bounce = sum(v["bounce"] for v in humans) / len(humans)
    conversion = sum(v["purchased"] for v in humans) / len(humans)
    assert 0.25 < bounce < 0.6
    assert 0.01 < conversion < 0.1


# --- the personalization hook ------------------------------------------------------------------


def test_decisions_reach_events_and_truth(day) -> None:
    requests, truth = day
    shown = [e for r in requests for e in r.events if e["event_type"] == "personalization_shown"]
    decisions = truth.decisions()
    assert len(shown) == len(decisions) > 100
    assert {e["decision"]["slot"] for e in shown} == {"hero", "recommended"}
    by_id = {d["decision_id"]: d for d in decisions}
    for e in shown:
        d = by_id[e["decision"]["decision_id"]]
        assert (d["slot"], d["variant"], d["arm"]) == (
            e["decision"]["slot"], e["decision"]["variant"], e["decision"]["arm"])
    hero = [d for d in decisions if d["slot"] == "hero"]
    assert all(set(d["probabilities"]) == set(DEMO_HERO_RESPONSE.variants) for d in hero)
    assert all(d["probabilities"] is None for d in decisions if d["slot"] == "recommended")
    # one outcome per visit: the first hero decision of each visit
    firsts = [d for d in hero if d["first"]]
    assert len({(d["visitor"], d["visit"]) for d in firsts}) == len(firsts)


def test_decide_is_asked_once_per_slot_per_page() -> None:
    decide, calls = counting_decide(("a",))
    requests, _ = run(seed=5, minutes=120, decide=decide)
    views = [(r.visit.key, e["url"]) for r in requests if r.channel == "js"
             and r.visitor.kind == "human" for e in r.events if e["event_type"] == "page_view"]
    hero = [c for c in calls if c.slot == "hero"]
    assert len(hero) == len(views)
    assert all(c.context["device"] in {"desktop", "mobile", "tablet"} for c in calls)
    assert {c.slot for c in calls if "/p/" in c.page_url} == {"hero", "recommended"}
    assert {c.slot for c in calls if "/c/" in c.page_url} == {"hero"}


def test_variant_response_fixes_the_outcome() -> None:
    """A variant that always converts and one that never does: visits follow their variant."""
    response = LogisticVariantResponse(
        slot="hero", default="never", base={"always": 30.0, "never": -30.0}, effects={})
    decide, _ = counting_decide(("always", "never"))
    _, truth = run(seed=9, minutes=600, decide=decide, response=response,
                   cfg={"slots": ("hero",), "bot_share": 0.0})
    firsts = {(d["visitor"], d["visit"]): d for d in truth.decisions() if d["first"]}
    visits = {(v["visitor"], v["visit"]): v for v in truth.visits()}
    end = truth.config.end
    always = never = 0
    for key, d in firsts.items():
        v = visits[key]
        if d["variant"] == "never":
            never += 1
            assert not v["purchased"]
        elif end - parse_timestamp(v["end"]) > timedelta(minutes=45):  # not cut by the window
            always += 1
            assert v["purchased"], v
    assert always > 50 and never > 50


def test_response_without_decide_uses_the_default_variant() -> None:
    response = LogisticVariantResponse(
        slot="hero", default="never", base={"never": -30.0}, effects={})
    _, truth = run(seed=9, minutes=300, response=response)
    assert truth.summary()["humans"]["orders"] == sum(
        1 for v in truth.visits() if v["kind"] == "nojs" and v["purchased"])  # i.e. none
    assert all(d["variant"] is None and d["probabilities"] == {"never": pytest.approx(0, abs=1e-9)}
               for d in truth.decisions())


def test_response_slot_must_be_simulated() -> None:
    decide, _ = counting_decide(("a",))
    response = LogisticVariantResponse(slot="hero", default="a", base={"a": 0.0}, effects={})
    with pytest.raises(ValueError, match="hero"):
        Simulation(SimConfig(start=START, slots=("recommended",)), response=response,
                   decide=decide)


def test_unknown_variant_from_decide_is_an_error() -> None:
    response = LogisticVariantResponse(slot="hero", default="a", base={"a": 0.0}, effects={})
    with pytest.raises(ValueError, match="'zzz'"):
        run(seed=1, minutes=60, response=response,
            decide=lambda req: Decision("d1", "zzz"))


def test_demo_response_has_no_single_best_variant() -> None:
    contexts = [
        {"device": "desktop", "source": "direct", "returning": True, "cart_items": 2},
        {"device": "mobile", "source": "direct", "returning": False, "cart_items": 0},
        {"device": "desktop", "source": "search", "returning": False, "cart_items": 0},
    ]
    assert [DEMO_HERO_RESPONSE.best(c) for c in contexts] == [
        "discount", "free_shipping", "bestsellers"]


def test_response_model_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="default variant"):
        LogisticVariantResponse(slot="hero", default="x", base={"a": 0.0}, effects={})
    with pytest.raises(ValueError, match="unknown features"):
        LogisticVariantResponse(slot="hero", default="a", base={"a": 0.0},
                                effects={"a": {"weather": 1.0}})
