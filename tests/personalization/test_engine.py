"""The worker's logic without Kafka: delayed labels, sessions, skips, segments, recommendations."""

from __future__ import annotations

from personalization import features
from personalization.engine import Engine
from personalization.forgetting import forget_key
from personalization.intent import IntentModel
from personalization.observation import observe
from personalization.profile import Profile
from personalization.recommend import ItemGraph
from simulation.intent_stream import generate
from tests.personalization.builders import PRODUCTS, add, buy, epoch, event, view

GAP = 1800.0


class Labels:
    """Records every label the engine learns: (features, outcome, prediction then)."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, float], bool, float]] = []

    def __call__(self, x: dict[str, float], y: bool, p: float) -> None:
        self.seen.append((dict(x), y, p))


def engine(model: IntentModel | None = None, **kw) -> tuple[Engine, Labels]:
    labels = Labels()
    return Engine(model or IntentModel("logreg"), ItemGraph(), gap_s=GAP, on_label=labels,
                  **kw), labels


def feed(e: Engine, *events: dict) -> list[float | None]:
    """Process events; the intent the profile had right after each one."""
    out = []
    for raw in events:
        obs = observe(raw)
        e.process(obs)
        out.append(e.profiles[obs.visitor_id].intent)
    return out


def test_no_purchase_labels_arrive_once_when_the_session_times_out() -> None:
    e, labels = engine()
    predicted = feed(e, event("page_view", "v", 0), view("v", 1, "JK-1"), add("v", 2, "JK-1"))
    assert labels.seen == []  # the outcome is not known while the session is open
    e.advance(epoch(2) + GAP - 1)
    assert labels.seen == []  # 29:59 idle: still open
    assert e.advance(epoch(2) + GAP + 1) == 1
    assert [y for _, y, _ in labels.seen] == [False, False, False]
    # each label is scored with the prediction made at the time, in order
    assert [p for _, _, p in labels.seen] == predicted
    assert e.model.learned == 3
    e.advance(epoch(500))
    feed(e, event("page_view", "v", 600))  # a new session: the old one is not learned again
    e.advance(epoch(600) + GAP + 1)
    assert len(labels.seen) == 4 and e.model.learned == 4


def test_a_purchase_labels_what_came_before_it_positive_learned_at_the_close() -> None:
    e, labels = engine()
    feed(e, view("w", 0, "SH-1"), add("w", 1, "SH-1"))
    feed(e, buy("w", 5, "o-1", {"SH-1": 1}))
    assert labels.seen == []  # known, but learned with the same delay as a negative
    e.advance(epoch(5) + GAP - 1)
    assert labels.seen == []
    e.advance(epoch(5) + GAP + 1)
    # in the order they were taken: the state after the purchase waits for its own label
    assert [y for _, y, _ in labels.seen] == [True, True, False]
    assert labels.seen[2][0]["s_purchased"] == 1.0
    assert (e.counters.positives, e.counters.negatives, e.model.learned) == (2, 1, 3)


def test_a_second_purchase_labels_only_the_snapshots_since_the_first() -> None:
    e, labels = engine()
    feed(e, view("t", 0, "SH-1"), buy("t", 1, "o-1", {"SH-1": 1}), view("t", 2, "JK-1"),
         buy("t", 3, "o-2", {"JK-1": 1}), view("t", 4, "WA-1"))
    e.advance(epoch(4) + GAP + 1)
    # view, (first) buy, view: positive; the state after the second purchase and the last view
    assert [y for _, y, _ in labels.seen] == [True, True, True, False, False]


def test_labelled_snapshots_are_kept_out_of_the_next_reservoir() -> None:
    e, labels = engine(max_pending=3)
    feed(e, view("r", 0, "SH-1"), add("r", 1, "SH-1"), event("page_view", "r", 2))
    feed(e, buy("r", 3, "o-1", {"SH-1": 1}))
    feed(e, *[event("page_view", "r", minute) for minute in range(4, 12)])
    e.advance(epoch(11) + GAP + 1)
    ys = [y for _, y, _ in labels.seen]
    # the 3 snapshots before the purchase stay labelled; 3 of the 9 from the purchase on
    # (its own state, then 8 page views) are sampled
    assert ys == [True] * 3 + [False] * 3


def test_a_purchase_labels_what_came_before_it_positive_at_once_without_delay() -> None:
    e, labels = engine(delay="none")
    feed(e, view("w", 0, "SH-1"), add("w", 1, "SH-1"))
    assert labels.seen == []
    feed(e, buy("w", 5, "o-1", {"SH-1": 1}))
    assert [y for _, y, _ in labels.seen] == [True, True]
    # the state after the purchase waits for its own label: does she buy *again*?
    e.advance(epoch(5) + GAP + 1)
    assert [y for _, y, _ in labels.seen] == [True, True, False]
    assert labels.seen[2][0]["s_purchased"] == 1.0


def test_features_at_prediction_time_never_contain_the_outcome() -> None:
    e, labels = engine()
    story = [("page_view", 0), ("view", 1), ("add", 2)]
    for visitor in ("buyer", "browser"):
        for kind, minute in story:
            if kind == "page_view":
                feed(e, event("page_view", visitor, minute, source="search"))
            elif kind == "view":
                feed(e, view(visitor, minute, "JK-1", source="search"))
            else:
                feed(e, add(visitor, minute, "JK-1", source="search"))
    feed(e, buy("buyer", 4, "o-1", {"JK-1": 1}, source="search"))
    e.advance(epoch(4) + GAP + 1)
    bought = [x for x, y, _ in labels.seen if y]
    not_bought = [x for x, y, _ in labels.seen if not y and x["s_purchased"] == 0.0]
    assert len(bought) == 3 and len(not_bought) == 3
    # the buyer's three snapshots are exactly the browser's: nothing in them tells the outcome;
    # the shop's statistics differ only because the browser came second (it has seen the
    # buyer's views), and no snapshot has seen the purchase yet
    shop = ("p_conversion", "c_conversion", "p_price_vs_category", "s_page_value")

    def own(x: dict[str, float]) -> dict[str, float]:
        return {k: v for k, v in x.items() if k not in shop}

    assert [own(x) for x in bought] == [own(x) for x in not_bought]
    assert e.shop.buys == {"JK-1": 1}  # learned from the purchase, after every snapshot
    # with no sale yet a product's smoothed rate stays under the empty shop's prior, 1/50;
    # after the sale JK-1's is (1 + 20 * prior) / (views + 20), about 1/22
    rates = [x["p_conversion"] for x in bought + not_bought]
    assert sum(r > 0 for r in rates) == 4  # the view and the add of each visitor show JK-1
    assert all(r <= 1 / 50 for r in rates)
    assert e.shop.product_rate("JK-1") > 1 / 25
    for x in bought:
        assert x["h_customer"] == 0.0 and x["h_purchases"] == 0.0 and x["s_purchased"] == 0.0


def test_a_long_session_contributes_a_bounded_sample() -> None:
    e, labels = engine(max_pending=10)
    feed(e, *[view("long", minute, "JK-1" if minute % 2 else "SH-1") for minute in range(50)])
    e.advance(epoch(49) + GAP + 1)
    assert len(labels.seen) == 10


def test_page_pings_add_engaged_time_without_a_snapshot() -> None:
    e, labels = engine()
    feed(e, event("page_view", "p", 0), event("page_ping", "p", 1, engaged_ms=15000),
         event("page_ping", "p", 2, engaged_ms=15000), view("p", 3, "WA-1"))
    e.advance(epoch(3) + GAP + 1)
    assert len(labels.seen) == 2
    assert labels.seen[1][0]["s_engaged_min"] > 0  # the view was scored with the pings' time


def test_bots_duplicates_and_forgotten_visitors_are_skipped() -> None:
    e, _ = engine()
    first = event("page_view", "h", 0, event_id="00000000-0000-4000-8000-000000000001")
    feed(e, first)
    e.process(observe(first))  # a browser retrying its batch
    e.process(observe(event("page_view", "crawler", 1, is_bot=True)))
    e.forget({forget_key("h"): epoch(5)})
    assert "h" not in e.profiles
    e.process(observe(event("page_view", "h", 4)))  # sent before the request: dropped
    assert "h" not in e.profiles
    e.process(observe(event("page_view", "h", 6)))  # came back afterwards: a new profile
    c = e.counters
    assert (c.events, c.applied, c.duplicates, c.bots, c.forgotten) == (5, 2, 1, 1, 1)
    assert e.profiles["h"].history.first_seen == epoch(6)
    assert "crawler" not in e.profiles


def test_hand_made_visitors_get_the_expected_segment_and_recommendations() -> None:
    e, _ = engine()
    # three visitors view the jacket then the cap; one buys shoes with socks
    for i, minute in enumerate((0, 10, 20)):
        feed(e, view(f"a{i}", minute, "JK-1"), view(f"a{i}", minute + 1, "CP-1"))
    feed(e, view("b", 0, "SH-1"), add("b", 1, "SH-1"), view("b", 1.2, "SK-1"),
         add("b", 1.5, "SK-1"),
         buy("b", 2, "o-b", {"SH-1": 1, "SK-1": 1}))
    feed(e, view("b2", 30, "WA-1"), view("b2", 31, "WA-1"))  # the watch: popular, no pairs
    # Lea puts the shoes in her cart, leaves, and comes back tomorrow; Kim views the jacket
    feed(e, view("lea", 60, "SH-1"), add("lea", 61, "SH-1"))
    e.advance(epoch(61) + GAP + 1)
    feed(e, event("page_view", "lea", 24 * 60), view("kim", 24 * 60, "JK-1"))
    published = {p.profile_id: p for p in e.publish(epoch(24 * 60))}
    kim, lea, b = published["kim"], published["lea"], published["b"]
    assert [r["sku"] for r in kim.recommendations][:1] == ["CP-1"]  # viewed together
    assert "JK-1" not in [r["sku"] for r in kim.recommendations]  # the one she looks at
    lea_recs = [r["sku"] for r in lea.recommendations]
    assert lea_recs[0] == "SK-1" and "SH-1" not in lea_recs  # bought together; not in cart
    assert "SH-1" not in [r["sku"] for r in b.recommendations]  # just bought
    assert lea.segment == "cart_abandoner"
    assert b.segment == "first_time_customer"
    assert kim.segment == "new_visitor"
    assert lea.recommendations[0] == {"sku": "SK-1", "name": "Merino Socks",
                                      "url": "https://shop.example.com/p/SK-1", "price": 19.0}


def learn_stream(e: Engine, visitors: int, seed: int) -> None:
    for i, raw in enumerate(generate(visitors, seed=seed)):
        obs = observe(raw)
        e.process(obs)
        if i % 50 == 0:
            e.advance(obs.ts)
    e.advance(e.event_time + GAP + 1)


def test_the_model_learns_that_carts_and_checkouts_signal_a_purchase() -> None:
    # the calibration layer never changes what the model learns, only the served scale; its
    # map moves while it learns, which costs the pooled progressive AUC a little: the model's
    # own ranking is judged without it, the served scores against it
    raw, _ = engine(model=IntentModel("logreg", calibrated=False))
    learn_stream(raw, 600, seed=5)
    raw_summary = raw.model.summary()
    assert raw_summary["roc_auc"] > 0.75

    e, labels = engine()
    learn_stream(e, 600, seed=5)
    assert e.model.learned == len(labels.seen) > 3000
    assert e.model.learned == raw.model.learned
    feed(e, event("page_view", "cart", 0, start=e_start(e)), view("cart", 1, "JK-1",
         start=e_start(e)), add("cart", 2, "JK-1", start=e_start(e)),
         event("begin_checkout", "cart", 3, products=[{"sku": "JK-1", "price": 189.0}],
               start=e_start(e)))
    feed(e, event("page_view", "look", 0, start=e_start(e)),
         view("look", 1, "JK-1", start=e_start(e)))
    assert e.profiles["cart"].intent > 2 * e.profiles["look"].intent
    summary = e.model.summary()
    assert summary["roc_auc"] > raw_summary["roc_auc"] - 0.03
    assert summary["log_loss"] < raw_summary["log_loss"] < summary["no_skill_log_loss"]


def e_start(e: Engine):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(e.event_time + 3 * GAP, UTC)


def test_each_partition_closes_its_sessions_by_its_own_clock() -> None:
    e, labels = engine()
    e.process(observe(view("slow", 0, "JK-1")), "events:0")
    for minute in (0, 25, 50, 75, 90):  # partition 1 read further: one long session
        e.process(observe(view("fast", minute, "SH-1")), "events:1")
    # partition 0 has a backlog: by its own clock (minute 0) its session is not over
    e.advance(epoch(90), clocks=dict(e.partition_time))
    assert "slow" in e.open and "fast" in e.open and labels.seen == []
    e.process(observe(add("slow", 20, "JK-1")), "events:0")  # its next event: same session
    assert e.profiles["slow"].session.events == 2
    e.advance(epoch(90), clocks={"events:0": epoch(51), "events:1": epoch(90)})
    assert "slow" not in e.open and "fast" in e.open and len(labels.seen) == 2
    # without clocks, one stream time for all (a replay of one file, a single partition)
    e.advance(epoch(121))
    assert "fast" not in e.open


def test_a_partition_taken_over_is_judged_by_its_restored_sessions_not_by_the_others() -> None:
    e, labels = engine()
    for minute in (0, 25, 50, 75, 90):  # the worker's own partition is at minute 90
        e.process(observe(view("fast", minute, "SH-1")), "events:1")
    # events:0 was a dead worker's: its checkpoint holds a session last active at minute 10,
    # and the events after it (which may extend it) are yet to be replayed
    e.restore_open({"slow": epoch(10), "slower": epoch(5)}, "events:0")
    assert e.partition_time["events:0"] == epoch(10)
    e.advance(epoch(90), clocks=dict(e.partition_time))
    assert {"slow", "slower", "fast"} <= set(e.open) and labels.seen == []
    # its own clock, once it passes the gap, closes them as usual
    e.advance(epoch(90), clocks={"events:0": epoch(41), "events:1": epoch(90)})
    assert "slow" not in e.open and "slower" not in e.open and "fast" in e.open


def _many_sessions(e: Engine, visitors: int) -> None:
    """``visitors`` short sessions, every third ending in a purchase, all idle by minute 40."""
    skus = sorted(PRODUCTS)
    for i in range(visitors):
        v, sku = f"batch-{i}", skus[i % len(skus)]
        feed(e, event("page_view", v, 0), view(v, 1, sku), add(v, 2, sku))
        if i % 3 == 0:
            feed(e, buy(v, 3, f"o-{i}", {sku: 1}))


def test_sessions_closed_together_are_learned_as_the_same_steps_in_one_batch() -> None:
    # 40 sessions of 3-4 snapshots: over 128 labels, so the batch is learned in several chunks
    together, _ = engine(IntentModel("logreg", calibrated=False))
    _many_sessions(together, 40)
    assert together.advance(epoch(3) + GAP + 1) == 40
    # the same sessions closed one at a time, in the order advance closes them (idle longest
    # first), each its own labelled batch
    apart, _ = engine(IntentModel("logreg", calibrated=False))
    _many_sessions(apart, 40)
    for profile in sorted(apart.profiles.values(),
                          key=lambda p: (p.session.last, p.profile_id)):
        apart._close(profile)
    assert together.model.learned == apart.model.learned == 40 * 3 + 14 * 1
    a, b = together.model.model, apart.model.model
    assert abs(a.intercept - b.intercept) < 1e-9
    assert max(abs(a.weights - b.weights)) < 1e-9
    assert max(abs(a.mean - b.mean)) < 1e-9
    # closed profiles are scored by the model that learned every closed session
    for i in range(40):
        profile = together.profiles[f"batch-{i}"]
        assert profile.session is None
        assert abs(profile.intent - together.model.predict_vector(
            feats_vector(profile, together))) < 1e-12


def test_a_calibrated_model_learns_a_batch_of_closed_sessions_once() -> None:
    e, labels = engine()
    _many_sessions(e, 40)
    e.advance(epoch(3) + GAP + 1)
    assert e.model.learned == len(labels.seen) == 134
    assert e.model.calibration.labels == 134
    e.advance(epoch(3) + 2 * GAP)  # nothing left open: nothing learned twice
    assert e.model.learned == 134


def feats_vector(profile: Profile, e: Engine) -> list[float]:
    return features.vector(profile, e.shop)
