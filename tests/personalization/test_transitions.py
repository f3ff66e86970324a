"""The profile state machine, one event at a time (pure: no model, no store)."""

from __future__ import annotations

from personalization.observation import UnusableEvent, observe, read_record
from personalization.profile import Profile, from_dicts, public_dict, worker_dict
from personalization.transitions import (
    apply,
    close_session,
    is_duplicate,
    session_expired,
    start_session,
)
from tests.personalization.builders import add, buy, epoch, event, remove, shown, view

GAP = 1800.0


def run(profile: Profile, *events: dict) -> Profile:
    for raw in events:
        obs = observe(raw)
        if session_expired(profile, obs.ts, GAP):
            close_session(profile)
        if profile.session is None:
            start_session(profile, obs)
        apply(profile, obs)
    return profile


def test_a_session_counts_what_the_visitor_did() -> None:
    p = run(Profile("ann"),
            event("page_view", "ann", 0, source="email", campaign="spring", device="mobile"),
            view("ann", 1, "JK-1"), view("ann", 2, "SH-1"), view("ann", 3, "JK-1"),
            event("search", "ann", 4, query="merino"),
            event("page_ping", "ann", 5, engaged_ms=15000),
            event("page_ping", "ann", 6, engaged_ms=12000),
            add("ann", 7, "JK-1"), add("ann", 8, "SK-1", 2))
    s = p.session
    assert s is not None
    assert (s.events, s.page_views, s.product_views, s.searches) == (9, 1, 3, 1)
    assert s.viewed == ["SH-1", "JK-1"]  # distinct, most recent last
    assert s.categories == ["Apparel", "Shoes"]
    assert s.engaged_ms == 27000
    assert (s.source, s.campaign, s.device) == ("email", "spring", "mobile")
    assert p.cart_items == 3
    assert p.cart_value == 227.0  # 189 + 2 x 19
    assert s.started == epoch(0) and s.last == epoch(8)


def test_inactivity_closes_the_session_and_a_left_cart_makes_an_abandoner() -> None:
    p = run(Profile("bob"), view("bob", 0, "SH-1"), add("bob", 1, "SH-1"),
            event("page_view", "bob", 45))  # 44 minutes later: a new session
    assert p.history.sessions == 1
    assert p.history.last_session_end == epoch(1)
    assert p.history.abandoned_cart_at == epoch(1)
    assert p.session is not None and p.session.cart_carried
    assert p.session.started == epoch(45)


def test_a_purchase_empties_the_cart_and_counts_once_per_order() -> None:
    p = run(Profile("cy"), add("cy", 0, "SH-1"), add("cy", 1, "SK-1", 2),
            buy("cy", 5, "o-1", {"SH-1": 1, "SK-1": 2}),
            buy("cy", 6, "o-1", {"SH-1": 1, "SK-1": 2}))  # the backend reports it again
    h = p.history
    assert (h.purchases, h.revenue) == (1, 167.0)
    assert p.cart == {}
    assert list(h.bought) == ["SH-1", "SK-1"]
    assert h.last_purchase == epoch(5)
    assert p.session is not None and p.session.purchases == 1


def test_remove_and_checkout_keep_the_cart_right() -> None:
    p = run(Profile("di"), add("di", 0, "SH-1", 2), remove("di", 1, "SH-1"), add("di", 2, "JK-1"),
            event("begin_checkout", "di", 3, products=[{"sku": "JK-1", "price": 189.0,
                                                       "quantity": 1}]))
    assert {sku: line.quantity for sku, line in p.cart.items()} == {"JK-1": 1}
    assert p.session is not None and p.session.checkouts == 1


def test_first_exposure_sets_the_arm_and_later_purchases_count_for_uplift() -> None:
    p = run(Profile("ed"), buy("ed", 0, "o-0", {"SK-1": 1}),
            shown("ed", 2, "hero", "discount", "rules", "d-1"),
            shown("ed", 3, "hero", "default", "holdout", "d-2"),  # later shows keep the arm
            shown("ed", 3, "recommended", "bestsellers", "rules", "d-3"),
            event("personalization_click", "ed", 4, url="https://shop.example.com/",
                  decision={"decision_id": "d-1", "slot": "hero", "variant": "discount",
                            "arm": "rules"}),
            buy("ed", 6, "o-1", {"JK-1": 1}))
    assert (p.arm, p.exposed_at) == ("rules", epoch(2))
    assert p.exposures["hero"].decision_id == "d-1" and p.exposures["hero"].clicks == 1
    assert set(p.exposures) == {"hero", "recommended"}
    assert (p.purchases_after_exposure, p.revenue_after_exposure) == (1, 189.0)  # not o-0


def test_a_refund_of_a_post_exposure_order_comes_off_the_uplift_revenue() -> None:
    p = run(Profile("fa"), shown("fa", 0, "hero", "default", "holdout"),
            buy("fa", 1, "o-9", {"WA-1": 1}),
            event("refund", "fa", 2, order={"order_id": "o-9", "revenue": 299.0,
                                            "currency": "EUR"}))
    assert p.revenue_after_exposure == 0.0
    assert p.history.revenue == 0.0
    assert p.history.purchases == 1  # a refund does not undo the act of buying


def test_duplicate_event_ids_are_recognised() -> None:
    p = Profile("gu")
    assert not is_duplicate(p, "e-1")
    assert is_duplicate(p, "e-1")
    assert not is_duplicate(p, "e-2")


def test_serialisation_round_trip_keeps_everything() -> None:
    p = run(Profile("hu"), view("hu", 0, "JK-1"), add("hu", 1, "JK-1"),
            shown("hu", 2, "hero", "discount", "rules"))
    p.intent, p.segment = 0.25, "engaged_browser"
    back = from_dicts(public_dict(p), worker_dict(p))
    assert public_dict(back) == public_dict(p)
    assert worker_dict(back) == worker_dict(p)


def test_unusable_records_are_refused_with_a_reason() -> None:
    for raw, reason in [(b"{not json", "not JSON"), (b"[1]", "not a JSON object"),
                        (b'{"event_type": "page_view"}', "visitor_id missing"),
                        (b'{"event_type": "page_view", "visitor_id": "v", "client_ts": "x"}',
                         "timestamp")]:
        try:
            read_record(raw)
        except UnusableEvent as exc:
            assert reason in str(exc)
        else:
            raise AssertionError(f"{raw!r} was accepted")
