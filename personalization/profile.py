"""A visitor's profile: what we know, kept small, in plain types that serialise to JSON.

A profile is keyed by a *profile id*; visitor ids (cookies) map to it. An anonymous visitor's
profile id is the visitor id; while a visitor is identified, its events go to the profile of
that user on that device (see :mod:`personalization.stitching`), and the stores' links map the
visitor id to it.

Two parts are stored separately: the *public* part (:func:`public_dict`: what the decision API
and the backend routes read) and the *worker* part (:func:`worker_dict`: the predictions waiting
for their label and the recent event ids for de-duplication), which only the worker needs and
which would only slow down every API read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RECENT_VIEWS = 20  # distinct products remembered per session (bounds co-occurrence work)
RECENT_QUERIES = 5
RECENT_BOUGHT = 50
RECENT_EVENT_IDS = 64  # enough for a browser's retried batch (max 200 events, usually < 20)


@dataclass
class CartLine:
    quantity: int
    price: float | None = None
    name: str | None = None


@dataclass
class Snapshot:
    """A prediction waiting for its label: features (in :data:`features.NAMES` order), the
    probability predicted then (progressive validation scores *that*, not a re-prediction),
    and the feature-set version, so a snapshot from older code is dropped, never mis-read.
    ``y`` is its label once known but not yet learned (a purchase labels at once, but the
    snapshot is learned when its session closes, as a negative would be: see the engine)."""

    x: list[float]
    p: float
    version: int
    y: bool | None = None


@dataclass
class Session:
    """The visit in progress. Closed by ``session_gap`` of inactivity (or a new client session
    id); its outcome (purchase or not) labels every snapshot taken during it."""

    started: float
    last: float
    session_id: str | None = None
    events: int = 0
    page_views: int = 0
    product_views: int = 0
    viewed: list[str] = field(default_factory=list)  # distinct skus, oldest first
    categories: list[str] = field(default_factory=list)
    searches: int = 0
    queries: list[str] = field(default_factory=list)
    engaged_ms: int = 0
    adds: int = 0
    removes: int = 0
    checkouts: int = 0
    purchases: int = 0
    revenue: float = 0.0
    slot_clicks: int = 0
    source: str | None = None  # referrer class of the landing event
    campaign: str | None = None
    device: str | None = None
    cart_carried: bool = False  # the cart was not empty when the session started
    previous: float | None = None  # time of the event before the latest one
    repeat_views: int = 0  # views of a product already viewed this session
    view_counts: dict[str, int] = field(default_factory=dict)  # sku -> views, skus of ``viewed``
    focus: str | None = None  # the product on screen (the latest one viewed)
    focus_price: float | None = None
    # worker part
    pending: list[Snapshot] = field(default_factory=list)
    snapshots_offered: int = 0  # for reservoir sampling of ``pending``


@dataclass
class History:
    """Everything before the current session: RFM and what was bought."""

    sessions: int = 0  # closed sessions
    first_seen: float | None = None
    last_seen: float | None = None
    last_session_end: float | None = None
    purchases: int = 0
    revenue: float = 0.0
    last_purchase: float | None = None
    bought: dict[str, float] = field(default_factory=dict)  # sku -> when, most recent last
    viewed: list[str] = field(default_factory=list)  # products viewed in earlier sessions
    abandoned_cart_at: float | None = None  # a session ended with items in the cart
    orders: dict[str, list[float]] = field(default_factory=dict)  # order id -> [when, revenue]


@dataclass
class Exposure:
    """The first time a visitor saw personalized content in a slot: their arm of the
    experiment and the decision, for the uplift report (and a bandit's reward later)."""

    arm: str
    first: float
    decision_id: str
    variant: str
    clicks: int = 0


@dataclass
class Profile:
    profile_id: str
    visitor_ids: list[str] = field(default_factory=list)
    user_id: str | None = None
    session: Session | None = None
    history: History = field(default_factory=History)
    cart: dict[str, CartLine] = field(default_factory=dict)
    # experiment: arm of the first exposure in any slot, outcomes from then on
    arm: str | None = None
    exposed_at: float | None = None
    exposures: dict[str, Exposure] = field(default_factory=dict)
    purchases_after_exposure: int = 0
    revenue_after_exposure: float = 0.0
    # written by the worker for the API
    intent: float | None = None
    segment: str | None = None
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    updated: float | None = None  # event time of the last change
    # worker part
    recent_event_ids: list[str] = field(default_factory=list)
    # an anonymous profile absorbed into a user's (see personalization.stitching): that user
    claimed_by: str | None = None
    # imported history (``clickloop import``, see the engine): the event ids applied, all of
    # them (a re-imported file must change nothing, and 64 recent ids would not cover it); the
    # imported sessions as [first, last] event times, sorted (a file need not be in time
    # order); the latest imported event's time and the products its session viewed
    imported_ids: set[str] = field(default_factory=set)
    imported_sessions: list[list[float]] = field(default_factory=list)
    imported_last: float | None = None
    imported_viewed: list[str] = field(default_factory=list)

    @property
    def cart_items(self) -> int:
        return sum(line.quantity for line in self.cart.values())

    @property
    def cart_value(self) -> float:
        return round(sum(line.quantity * (line.price or 0.0) for line in self.cart.values()), 2)


# --- serialisation ----------------------------------------------------------------------------


def public_dict(profile: Profile) -> dict[str, Any]:
    """The part of a profile the API serves (no pending snapshots, no event ids)."""
    session = None
    if profile.session is not None:
        s = profile.session
        session = {
            "started": s.started, "last": s.last, "session_id": s.session_id,
            "events": s.events, "page_views": s.page_views, "product_views": s.product_views,
            "viewed": list(s.viewed), "categories": list(s.categories), "searches": s.searches,
            "queries": list(s.queries), "engaged_ms": s.engaged_ms, "adds": s.adds,
            "removes": s.removes, "checkouts": s.checkouts, "purchases": s.purchases,
            "revenue": s.revenue, "slot_clicks": s.slot_clicks, "source": s.source,
            "campaign": s.campaign, "device": s.device, "cart_carried": s.cart_carried,
            "previous": s.previous, "repeat_views": s.repeat_views,
            "view_counts": dict(s.view_counts), "focus": s.focus, "focus_price": s.focus_price,
        }
    h = profile.history
    return {
        "profile_id": profile.profile_id,
        "visitor_ids": list(profile.visitor_ids),
        "user_id": profile.user_id,
        "session": session,
        "history": {
            "sessions": h.sessions, "first_seen": h.first_seen, "last_seen": h.last_seen,
            "last_session_end": h.last_session_end, "purchases": h.purchases,
            "revenue": h.revenue, "last_purchase": h.last_purchase, "bought": dict(h.bought),
            "viewed": list(h.viewed),
            "abandoned_cart_at": h.abandoned_cart_at,
            "orders": {order: list(v) for order, v in h.orders.items()},
        },
        "cart": {sku: {"quantity": line.quantity, "price": line.price, "name": line.name}
                 for sku, line in profile.cart.items()},
        "arm": profile.arm,
        "exposed_at": profile.exposed_at,
        "exposures": {slot: {"arm": e.arm, "first": e.first, "decision_id": e.decision_id,
                             "variant": e.variant, "clicks": e.clicks}
                      for slot, e in profile.exposures.items()},
        "purchases_after_exposure": profile.purchases_after_exposure,
        "revenue_after_exposure": profile.revenue_after_exposure,
        "intent": profile.intent,
        "segment": profile.segment,
        "recommendations": list(profile.recommendations),
        "updated": profile.updated,
    }


def worker_dict(profile: Profile) -> dict[str, Any]:
    """The part only the worker reads back: pending snapshots and recent event ids."""
    session = profile.session
    return {
        "pending": [[s.x, s.p, s.version] if s.y is None else [s.x, s.p, s.version, s.y]
                    for s in session.pending] if session else [],
        "snapshots_offered": session.snapshots_offered if session else 0,
        "recent_event_ids": list(profile.recent_event_ids),
        "claimed_by": profile.claimed_by,
        "imported_ids": list(profile.imported_ids),
        "imported_sessions": [list(span) for span in profile.imported_sessions],
        "imported_last": profile.imported_last,
        "imported_viewed": list(profile.imported_viewed),
    }


def from_dicts(public: dict[str, Any], worker: dict[str, Any] | None = None) -> Profile:
    """Rebuild a profile from :func:`public_dict` (and, for the worker, :func:`worker_dict`)."""
    worker = worker or {}
    session = None
    if public.get("session"):
        s = dict(public["session"])
        session = Session(**s)
        session.pending = [Snapshot(list(x), float(p), int(v), *labelled)
                           for x, p, v, *labelled in worker.get("pending", [])]
        session.snapshots_offered = int(worker.get("snapshots_offered", 0))
    history = History(**public.get("history") or {})
    return Profile(
        profile_id=public["profile_id"],
        visitor_ids=list(public.get("visitor_ids") or []),
        user_id=public.get("user_id"),
        session=session,
        history=history,
        cart={sku: CartLine(**line) for sku, line in (public.get("cart") or {}).items()},
        arm=public.get("arm"),
        exposed_at=public.get("exposed_at"),
        exposures={slot: Exposure(**e) for slot, e in (public.get("exposures") or {}).items()},
        purchases_after_exposure=int(public.get("purchases_after_exposure") or 0),
        revenue_after_exposure=float(public.get("revenue_after_exposure") or 0.0),
        intent=public.get("intent"),
        segment=public.get("segment"),
        recommendations=list(public.get("recommendations") or []),
        updated=public.get("updated"),
        recent_event_ids=list(worker.get("recent_event_ids") or []),
        claimed_by=worker.get("claimed_by"),
        imported_ids=set(worker.get("imported_ids") or ()),
        imported_sessions=[list(span) for span in worker.get("imported_sessions") or []],
        imported_last=worker.get("imported_last"),
        imported_viewed=list(worker.get("imported_viewed") or []),
    )
