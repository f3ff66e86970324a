"""Model features of a profile, as it stands *after* its latest event.

Why "after": the decision API serves the state after the last event the worker saw, so the
model learns from exactly that distribution. Each such snapshot is labelled later with what
happened *after* it (a purchase before the session closed, or not), so no feature can contain
its own label: nothing here reads the future, and a purchase's effect shows only in the
snapshots taken after it (``s_purchased``, whose label is then "buys *again*").

Every feature depends on the profile alone, never on the wall clock (recency is measured at the
profile's last event), so a snapshot can be recomputed and checked. The set is fixed and ordered
(:data:`NAMES`): snapshots are stored as plain lists, and :data:`VERSION` changes with the set.

>>> from personalization.profile import Profile
>>> x = features(Profile("v1"))
>>> list(x) == list(NAMES), x["returning"], x["cart_items"]
(True, 0.0, 0.0)
"""

from __future__ import annotations

import math

from personalization.profile import Profile

VERSION = 1
SOURCES = ("search", "social", "email", "paid", "internal", "direct", "other")
DEVICES = ("desktop", "mobile", "tablet")

NAMES: tuple[str, ...] = (
    "s_open", "s_events", "s_page_views", "s_product_views", "s_distinct_products",
    "s_categories", "s_searches", "s_engaged_min", "s_duration_min", "s_adds", "s_removes",
    "s_checkout", "s_purchased", "s_slot_clicks", "cart_items", "cart_value", "cart_carried",
    *(f"src_{s}" for s in SOURCES), "campaign", *(f"dev_{d}" for d in DEVICES),
    "returning", "h_sessions", "h_days_since_session", "h_customer", "h_purchases",
    "h_revenue", "h_days_since_purchase", "h_abandoned",
)

_DAY = 86_400.0
log1p = math.log1p


def features(profile: Profile) -> dict[str, float]:
    """The feature dict (keys in :data:`NAMES` order) of ``profile``."""
    s = profile.session
    h = profile.history
    x = dict.fromkeys(NAMES, 0.0)
    if s is not None:
        now = s.last
        x["s_open"] = 1.0
        x["s_events"] = log1p(s.events)
        x["s_page_views"] = log1p(s.page_views)
        x["s_product_views"] = log1p(s.product_views)
        x["s_distinct_products"] = log1p(len(s.viewed))
        x["s_categories"] = float(len(s.categories))
        x["s_searches"] = log1p(s.searches)
        x["s_engaged_min"] = log1p(s.engaged_ms / 60_000)
        x["s_duration_min"] = log1p(max(0.0, s.last - s.started) / 60)
        x["s_adds"] = log1p(s.adds)
        x["s_removes"] = log1p(s.removes)
        x["s_checkout"] = 1.0 if s.checkouts else 0.0
        x["s_purchased"] = 1.0 if s.purchases else 0.0
        x["s_slot_clicks"] = log1p(s.slot_clicks)
        x["cart_carried"] = 1.0 if s.cart_carried else 0.0
        if s.source in SOURCES:
            x["src_" + s.source] = 1.0
        x["campaign"] = 1.0 if s.campaign else 0.0
        if s.device in DEVICES:
            x["dev_" + s.device] = 1.0
    else:
        now = h.last_seen or 0.0
    x["cart_items"] = log1p(profile.cart_items)
    x["cart_value"] = log1p(profile.cart_value)
    if h.sessions:
        x["returning"] = 1.0
        x["h_sessions"] = log1p(h.sessions)
        if h.last_session_end is not None:
            x["h_days_since_session"] = log1p(max(0.0, now - h.last_session_end) / _DAY)
    if h.purchases:
        x["h_customer"] = 1.0
        x["h_purchases"] = log1p(h.purchases)
        x["h_revenue"] = log1p(h.revenue)
        if h.last_purchase is not None:
            x["h_days_since_purchase"] = log1p(max(0.0, now - h.last_purchase) / _DAY)
    x["h_abandoned"] = 1.0 if h.abandoned_cart_at is not None else 0.0
    return x


def as_list(x: dict[str, float]) -> list[float]:
    """Compact form for storage, in :data:`NAMES` order."""
    return [x[name] for name in NAMES]


def from_list(values: list[float]) -> dict[str, float]:
    return dict(zip(NAMES, values, strict=True))
