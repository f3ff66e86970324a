"""Model features of a profile, as it stands *after* its latest event.

Why "after": the decision API serves the state after the last event the worker saw, so the
model learns from exactly that distribution. Each such snapshot is labelled later with what
happened *after* it (a purchase before the session closed, or not), so no feature can contain
its own label: nothing here reads the future, and a purchase's effect shows only in the
snapshots taken after it (``s_purchased``, whose label is then "buys *again*").

Every feature depends on the profile and the shop's own statistics (:class:`ShopStats`,
learned online from the same stream), never on the wall clock (recency is measured at the
profile's last event), so a snapshot can be recomputed and checked. The set is fixed and ordered
(:data:`NAMES`): snapshots are stored as plain lists, and :data:`VERSION` changes with the set.

The shop's statistics carry signals a visitor's own events cannot: how the product on screen is
priced against its category (running mean price per category) and how often the products and
categories a visitor looks at are bought (conversion rates per product and category, smoothed
towards the shop's rate: the idea behind the "page value" of web analytics). A caller without
them (``shop=None``) gets those features at 0, the value of "nothing known yet".

>>> from personalization.profile import Profile
>>> x = features(Profile("v1"))
>>> list(x) == list(NAMES), x["returning"], x["cart_items"]
(True, 0.0, 0.0)
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

from personalization.observation import Item, Observation
from personalization.profile import Profile, Session

VERSION = 2
SOURCES = ("search", "social", "email", "paid", "internal", "direct", "other")
DEVICES = ("desktop", "mobile", "tablet")

NAMES: tuple[str, ...] = (
    "s_open", "s_events", "s_page_views", "s_product_views", "s_distinct_products",
    "s_categories", "s_searches", "s_engaged_min", "s_duration_min", "s_adds", "s_removes",
    "s_checkout", "s_purchased", "s_slot_clicks", "s_repeat_views", "s_gap_min",
    "p_views", "p_price_vs_category", "p_conversion", "c_conversion", "s_page_value",
    "cart_items", "cart_value", "cart_carried",
    *(f"src_{s}" for s in SOURCES), "campaign", *(f"dev_{d}" for d in DEVICES),
    "returning", "h_sessions", "h_days_since_session", "h_customer", "h_purchases",
    "h_revenue", "h_days_since_purchase", "h_abandoned",
)

_DAY = 86_400.0
SMOOTHING = 20.0  # pseudo-views pulling a rarely seen product's rate towards the shop's
PRICE_RATIO_CAP = 3.0  # |log(price / category mean)| beyond this is noise, not signal
log1p = math.log1p


@functools.lru_cache(maxsize=8192)
def category_path(category: str | None) -> tuple[str, ...]:
    """A category's levels, top first: shops write ``Shoes/Trail`` or ``electronics.smartphone``.

    Cached: every product event splits its category twice (the session's and the shop's
    statistics), and a shop has far fewer categories than events; the answer is an
    immutable tuple, so sharing it is safe.

    >>> category_path("electronics.smartphone"), category_path("Shoes / Trail"), category_path("")
    (('electronics', 'smartphone'), ('Shoes', 'Trail'), ())
    """
    if not category:
        return ()
    return tuple(part for part in (p.strip() for p in _SPLIT.split(category)) if part)


_SPLIT = re.compile(r"[/.]")


class ShopStats:
    """What the stream teaches about the shop's products: views, purchases and mean price per
    product and top-level category. Updated by :meth:`observe` with every event, read by
    :func:`features`; memory grows with the catalogue, not the traffic.

    >>> from personalization.observation import Item, Observation
    >>> shop = ShopStats()
    >>> shop.observe(Observation("e1", "product_view", "v", 0.0,
    ...                          product=Item("A", None, "x.y", 10.0)))
    >>> shop.observe(Observation("e2", "purchase", "v", 1.0, order_id="o",
    ...                          order_items=(Item("A"),)))
    >>> shop.views["A"], shop.buys["A"], shop.category_buys["x"], shop.price_mean("x")
    (1, 1, 1, 10.0)
    """

    def __init__(self) -> None:
        self.views: dict[str, int] = {}
        self.buys: dict[str, int] = {}
        self.category_of: dict[str, str] = {}
        self.category_views: dict[str, int] = {}
        self.category_buys: dict[str, int] = {}
        self.prices: dict[str, list[float]] = {}  # category -> [count, mean price]
        self.total_views = 0
        self.total_buys = 0

    def observe(self, obs: Observation) -> None:
        kind = obs.event_type
        product = obs.product
        if product is not None and kind in ("product_view", "page_view"):
            sku = product.sku
            category = self._category(product)
            self.views[sku] = self.views.get(sku, 0) + 1
            self.total_views += 1
            if category:
                self.category_views[category] = self.category_views.get(category, 0) + 1
                if product.price is not None and product.price > 0:
                    cell = self.prices.setdefault(category, [0, 0.0])
                    cell[0] += 1
                    cell[1] += (product.price - cell[1]) / cell[0]  # running mean
        elif kind == "purchase" and obs.order_id:
            for sku in dict.fromkeys(item.sku for item in obs.order_items):
                self.buys[sku] = self.buys.get(sku, 0) + 1
                self.total_buys += 1
                category = self.category_of.get(sku)
                if category:
                    self.category_buys[category] = self.category_buys.get(category, 0) + 1

    def state(self) -> dict[str, Any]:
        """Plain data for the worker's checkpoint (no class to unpickle after an upgrade)."""
        return dict(vars(self))

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> ShopStats:
        """The statistics a checkpoint saved; empty ones for a checkpoint from before them."""
        shop = cls()
        for name, value in (state or {}).items():
            if hasattr(shop, name):
                setattr(shop, name, value)
        return shop

    def _category(self, item: Item) -> str | None:
        path = category_path(item.category)
        if path:
            self.category_of[item.sku] = path[0]
            return path[0]
        return self.category_of.get(item.sku)

    def price_mean(self, category: str) -> float | None:
        cell = self.prices.get(category)
        return cell[1] if cell else None

    def _prior(self) -> float:
        return (self.total_buys + 1.0) / (self.total_views + 50.0)

    def product_rate(self, sku: str) -> float:
        """Purchases per view of ``sku``, smoothed towards the shop's rate."""
        prior = self._prior()
        return min(1.0, (self.buys.get(sku, 0) + SMOOTHING * prior)
                   / (self.views.get(sku, 0) + SMOOTHING))

    def best_rate(self, skus: list[str]) -> float:
        """The highest :meth:`product_rate` of ``skus`` (not empty): the prior and the cap
        once for the session's products, not once per product (the same value)."""
        smoothed = SMOOTHING * self._prior()
        buys, views = self.buys, self.views
        return min(1.0, max((buys.get(sku, 0) + smoothed) / (views.get(sku, 0) + SMOOTHING)
                            for sku in skus))

    def category_rate(self, category: str) -> float:
        prior = self._prior()
        return min(1.0, (self.category_buys.get(category, 0) + SMOOTHING * prior)
                   / (self.category_views.get(category, 0) + SMOOTHING))


# positions in NAMES, for :func:`vector` (which writes a list, not a dict, per event)
_AT = {name: i for i, name in enumerate(NAMES)}
(S_OPEN, S_EVENTS, S_PAGE_VIEWS, S_PRODUCT_VIEWS, S_DISTINCT_PRODUCTS, S_CATEGORIES, S_SEARCHES,
 S_ENGAGED_MIN, S_DURATION_MIN, S_ADDS, S_REMOVES, S_CHECKOUT, S_PURCHASED, S_SLOT_CLICKS,
 S_REPEAT_VIEWS, S_GAP_MIN, P_VIEWS, P_PRICE_VS_CATEGORY, P_CONVERSION, C_CONVERSION,
 S_PAGE_VALUE, CART_ITEMS, CART_VALUE, CART_CARRIED) = range(24)
CAMPAIGN = _AT["campaign"]
(RETURNING, H_SESSIONS, H_DAYS_SINCE_SESSION, H_CUSTOMER, H_PURCHASES, H_REVENUE,
 H_DAYS_SINCE_PURCHASE, H_ABANDONED) = range(_AT["returning"], len(NAMES))
_SOURCE_AT = {s: _AT[f"src_{s}"] for s in SOURCES}
_DEVICE_AT = {d: _AT[f"dev_{d}"] for d in DEVICES}
assert NAMES[CART_CARRIED] == "cart_carried" and NAMES[H_ABANDONED] == "h_abandoned"


def features(profile: Profile, shop: ShopStats | None = None) -> dict[str, float]:
    """The feature dict (keys in :data:`NAMES` order) of ``profile``."""
    return dict(zip(NAMES, vector(profile, shop), strict=True))


def vector(profile: Profile, shop: ShopStats | None = None) -> list[float]:
    """The features of ``profile`` in :data:`NAMES` order: what the model reads and a
    snapshot stores. The engine computes this for every page event, so it fills a list by
    position rather than a dict by name (the same values: :func:`features` is its dict)."""
    s = profile.session
    h = profile.history
    x = [0.0] * len(NAMES)
    if s is not None:
        now = s.last
        x[S_OPEN] = 1.0
        x[S_EVENTS] = log1p(s.events)
        x[S_PAGE_VIEWS] = log1p(s.page_views)
        x[S_PRODUCT_VIEWS] = log1p(s.product_views)
        x[S_DISTINCT_PRODUCTS] = log1p(len(s.viewed))
        x[S_CATEGORIES] = float(len(s.categories))
        x[S_SEARCHES] = log1p(s.searches)
        x[S_ENGAGED_MIN] = log1p(s.engaged_ms / 60_000)
        x[S_DURATION_MIN] = log1p(max(0.0, s.last - s.started) / 60)
        x[S_ADDS] = log1p(s.adds)
        x[S_REMOVES] = log1p(s.removes)
        x[S_CHECKOUT] = 1.0 if s.checkouts else 0.0
        x[S_PURCHASED] = 1.0 if s.purchases else 0.0
        x[S_SLOT_CLICKS] = log1p(s.slot_clicks)
        x[S_REPEAT_VIEWS] = log1p(s.repeat_views)
        if s.previous is not None:
            x[S_GAP_MIN] = log1p(max(0.0, s.last - s.previous) / 60)
        if s.focus is not None:
            x[P_VIEWS] = log1p(s.view_counts.get(s.focus, 0))
        if shop is not None:
            _shop_features(x, s, shop)
        x[CART_CARRIED] = 1.0 if s.cart_carried else 0.0
        source = _SOURCE_AT.get(s.source or "")
        if source is not None:
            x[source] = 1.0
        x[CAMPAIGN] = 1.0 if s.campaign else 0.0
        device = _DEVICE_AT.get(s.device or "")
        if device is not None:
            x[device] = 1.0
    else:
        now = h.last_seen or 0.0
    x[CART_ITEMS] = log1p(profile.cart_items)
    x[CART_VALUE] = log1p(profile.cart_value)
    if h.sessions:
        x[RETURNING] = 1.0
        x[H_SESSIONS] = log1p(h.sessions)
        if h.last_session_end is not None:
            x[H_DAYS_SINCE_SESSION] = log1p(max(0.0, now - h.last_session_end) / _DAY)
    if h.purchases:
        x[H_CUSTOMER] = 1.0
        x[H_PURCHASES] = log1p(h.purchases)
        x[H_REVENUE] = log1p(h.revenue)
        if h.last_purchase is not None:
            x[H_DAYS_SINCE_PURCHASE] = log1p(max(0.0, now - h.last_purchase) / _DAY)
    x[H_ABANDONED] = 1.0 if h.abandoned_cart_at is not None else 0.0
    return x


def _shop_features(x: list[float], s: Session, shop: ShopStats) -> None:
    """The product on screen against the shop: price vs its category, conversion rates."""
    if s.focus is not None:
        x[P_CONVERSION] = shop.product_rate(s.focus)
        category = shop.category_of.get(s.focus)
        if category:
            x[C_CONVERSION] = shop.category_rate(category)
            mean = shop.price_mean(category)
            if mean and s.focus_price:
                ratio = math.log(s.focus_price / mean)
                x[P_PRICE_VS_CATEGORY] = max(-PRICE_RATIO_CAP, min(PRICE_RATIO_CAP, ratio))
    if s.viewed:  # the best-converting product seen this session, "page value"-like
        x[S_PAGE_VALUE] = shop.best_rate(s.viewed)


def as_list(x: dict[str, float]) -> list[float]:
    """Compact form for storage, in :data:`NAMES` order."""
    return [x[name] for name in NAMES]


def from_list(values: list[float]) -> dict[str, float]:
    return dict(zip(NAMES, values, strict=True))
