"""CRM segments: one name per visitor, from documented rules, first match wins.

The order puts what a page can act on *now* first (a full cart left behind, a visitor about to
buy), then the customer life cycle (lapsed, repeat, first-time), then browsing behaviour:

====================  ==========================================================================
segment               rule
====================  ==========================================================================
cart_abandoner        the cart is not empty and an earlier session ended with it (not bought
                      since)
high_intent           intent score >= ``high_intent`` (0.3)
lapsed                a customer whose last purchase is more than ``lapsed_days`` (90) ago
repeat_customer       ``repeat_purchases`` (2) or more purchases, or lifetime revenue >=
                      ``high_value_revenue`` (300): repeat or high-value
first_time_customer   exactly one purchase
engaged_browser       this session: >= ``engaged_product_views`` (3) product views or
                      >= ``engaged_minutes`` (2) engaged minutes; or >= ``engaged_sessions`` (3)
                      earlier sessions
new_visitor           no earlier session
returning_visitor     everyone else (came back, did little)
====================  ==========================================================================

``now`` only matters for *lapsed*; the API passes the request time, the worker its stream time.

>>> from personalization.profile import Profile
>>> segment_of(Profile("v1"), intent=0.05, now=0.0)
'new_visitor'
>>> segment_of(Profile("v1"), intent=0.6, now=0.0)
'high_intent'
"""

from __future__ import annotations

from dataclasses import dataclass

from personalization.profile import Profile

SEGMENTS: tuple[str, ...] = (
    "cart_abandoner", "high_intent", "lapsed", "repeat_customer", "first_time_customer",
    "engaged_browser", "new_visitor", "returning_visitor",
)


@dataclass(frozen=True)
class SegmentRules:
    """Thresholds of the rules above (defaults documented there and in docs)."""

    high_intent: float = 0.3
    lapsed_days: float = 90.0
    repeat_purchases: int = 2
    high_value_revenue: float = 300.0
    engaged_product_views: int = 3
    engaged_minutes: float = 2.0
    engaged_sessions: int = 3


DEFAULT_RULES = SegmentRules()


def segment_of(profile: Profile, intent: float | None, now: float,
               rules: SegmentRules = DEFAULT_RULES) -> str:
    """The first segment of :data:`SEGMENTS` whose rule ``profile`` meets."""
    history = profile.history
    session = profile.session
    if profile.cart and history.abandoned_cart_at is not None:
        return "cart_abandoner"
    if intent is not None and intent >= rules.high_intent:
        return "high_intent"
    if history.purchases:
        last = history.last_purchase
        if last is not None and now - last > rules.lapsed_days * 86_400:
            return "lapsed"
        if history.purchases >= rules.repeat_purchases or \
                history.revenue >= rules.high_value_revenue:
            return "repeat_customer"
        return "first_time_customer"
    if session is not None and (
        session.product_views >= rules.engaged_product_views
        or session.engaged_ms >= rules.engaged_minutes * 60_000
    ):
        return "engaged_browser"
    if history.sessions >= rules.engaged_sessions:
        return "engaged_browser"
    if history.sessions == 0:
        return "new_visitor"
    return "returning_visitor"
