"""Each segment rule, on hand-made profiles, in the documented order."""

from __future__ import annotations

import pytest

from personalization.profile import CartLine, History, Profile, Session
from personalization.segments import SEGMENTS, segment_of

DAY = 86_400.0
NOW = 1_000 * DAY


def profile(*, sessions: int = 0, purchases: int = 0, revenue: float = 0.0,
            last_purchase_days_ago: float | None = None, cart: bool = False,
            abandoned: bool = False, product_views: int = 0, engaged_min: float = 0.0,
            open_session: bool = True) -> Profile:
    history = History(sessions=sessions, purchases=purchases, revenue=revenue,
                      last_purchase=None if last_purchase_days_ago is None
                      else NOW - last_purchase_days_ago * DAY,
                      abandoned_cart_at=NOW - DAY if abandoned else None)
    session = Session(started=NOW - 600, last=NOW, product_views=product_views,
                      engaged_ms=int(engaged_min * 60_000)) if open_session else None
    return Profile("p", session=session, history=history,
                   cart={"JK-1": CartLine(1, 189.0)} if cart else {})


@pytest.mark.parametrize(("case", "intent", "expected"), [
    (profile(), 0.01, "new_visitor"),
    (profile(sessions=1), 0.01, "returning_visitor"),
    (profile(product_views=3), 0.01, "engaged_browser"),
    (profile(engaged_min=2.5), 0.01, "engaged_browser"),
    (profile(sessions=3, open_session=False), 0.01, "engaged_browser"),
    (profile(purchases=1, revenue=80, last_purchase_days_ago=10), 0.01, "first_time_customer"),
    (profile(purchases=2, revenue=80, last_purchase_days_ago=10), 0.01, "repeat_customer"),
    (profile(purchases=1, revenue=450, last_purchase_days_ago=10), 0.01, "repeat_customer"),
    (profile(purchases=3, revenue=900, last_purchase_days_ago=120), 0.01, "lapsed"),
    (profile(product_views=5), 0.45, "high_intent"),
    (profile(purchases=3, last_purchase_days_ago=120), 0.45, "high_intent"),
    (profile(cart=True), 0.45, "high_intent"),  # a cart of this session is not abandoned
    (profile(cart=True, abandoned=True, purchases=2, last_purchase_days_ago=200), 0.9,
     "cart_abandoner"),
    (profile(abandoned=True), 0.01, "new_visitor"),  # the cart was emptied since
])
def test_segment_rules(case: Profile, intent: float, expected: str) -> None:
    assert segment_of(case, intent, NOW) == expected


def test_every_segment_is_reachable_and_documented() -> None:
    import personalization.segments as module

    for name in SEGMENTS:
        assert name in module.__doc__
