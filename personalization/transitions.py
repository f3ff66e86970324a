"""How one event changes a profile: the worker's state machine, free of I/O.

Functions here change only the profile they are given (in place: the worker applies thousands
of events a second and copying a profile per event would dominate) and return what the caller
needs to learn from (a new product view, an order). They never look at a clock or a model.

Sessions end after ``gap`` seconds of inactivity, the same rule (30 minutes by default) the
Spark sessionization uses, so the worker's sessions and the lake's agree. A client session id
is kept for reference but does not split sessions: a site backend reporting a purchase may not
know the browser's session id, and splitting there would label the session before it wrong.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from personalization.features import category_path
from personalization.observation import Item, Observation
from personalization.profile import (
    RECENT_BOUGHT,
    RECENT_EVENT_IDS,
    RECENT_QUERIES,
    RECENT_VIEWS,
    CartLine,
    Exposure,
    History,
    Profile,
    Session,
)

RECENT_ORDERS = 20


@dataclass(frozen=True, slots=True)
class Applied:
    """What an event did that the learners care about."""

    viewed: str | None = None  # sku viewed for the first time this session
    viewed_before: tuple[str, ...] = ()  # skus viewed earlier in the session
    bought: tuple[str, ...] = ()  # skus of a (new) order
    purchase: bool = False  # a new order: the session's outcome is positive


def session_expired(profile: Profile, ts: float, gap: float) -> bool:
    """True when an event at ``ts`` cannot continue the profile's open session."""
    session = profile.session
    return session is not None and ts - session.last > gap


def is_duplicate(profile: Profile, event_id: str) -> bool:
    """True if ``event_id`` was applied recently (a browser retrying a batch); remembers it."""
    if not event_id:
        return False
    if event_id in profile.recent_event_ids:
        return True
    profile.recent_event_ids.append(event_id)
    if len(profile.recent_event_ids) > RECENT_EVENT_IDS:
        del profile.recent_event_ids[0]
    return False


def start_session(profile: Profile, obs: Observation) -> Session:
    """Open a session at ``obs``: the landing source, campaign and device are this event's."""
    session = Session(started=obs.ts, last=obs.ts, session_id=obs.session_id, source=obs.source,
                      campaign=obs.campaign, device=obs.device, cart_carried=bool(profile.cart))
    profile.session = session
    return session


def close_session(profile: Profile) -> Session | None:
    """End the open session; returns it (its ``pending`` snapshots are the caller's to label).

    A cart left full marks the visitor as a cart abandoner until it empties or they buy.
    """
    session = profile.session
    if session is None:
        return None
    history = profile.history
    history.sessions += 1
    history.last_session_end = session.last
    history.abandoned_cart_at = session.last if profile.cart else None
    for sku in session.viewed:
        _remember(history.viewed, sku, RECENT_VIEWS)
    profile.session = None
    return session


def apply(profile: Profile, obs: Observation) -> Applied:
    """Apply ``obs`` to ``profile``, whose open session must be current (see
    :func:`session_expired`). A purchase reported twice (browser and backend, same order id)
    counts once."""
    session = profile.session
    assert session is not None, "start_session first"
    history = profile.history
    ts = obs.ts
    if obs.visitor_id not in profile.visitor_ids:
        profile.visitor_ids.append(obs.visitor_id)
    if obs.user_id:
        profile.user_id = obs.user_id
    history.first_seen = ts if history.first_seen is None else min(history.first_seen, ts)
    history.last_seen = ts if history.last_seen is None else max(history.last_seen, ts)
    profile.updated = history.last_seen
    if session.events:
        session.previous = session.last
    session.events += 1
    session.last = max(session.last, ts)
    if session.device is None:
        session.device = obs.device
    if session.source is None and obs.source is not None:
        session.source = obs.source
    if session.campaign is None and obs.campaign is not None:
        session.campaign = obs.campaign

    kind = obs.event_type
    if kind == "page_view":
        session.page_views += 1
        if obs.product is not None:  # a product page reported as a page view
            return _product_view(session, obs.product)
    elif kind == "page_ping":
        session.engaged_ms += obs.engaged_ms
    elif kind == "search":
        session.searches += 1
        if obs.query:
            _remember(session.queries, obs.query[:100], RECENT_QUERIES)
    elif kind == "product_view" and obs.product is not None:
        return _product_view(session, obs.product)
    elif kind == "add_to_cart" and obs.product is not None:
        session.adds += 1
        _add(profile, obs.product)
    elif kind == "remove_from_cart" and obs.product is not None:
        session.removes += 1
        _remove(profile, obs.product)
    elif kind == "begin_checkout":
        session.checkouts += 1
        if obs.products:  # the cart as the shop sees it at checkout is authoritative
            profile.cart = {}
            for item in obs.products:
                _add(profile, item)
    elif kind == "purchase" and obs.order_id:
        return _purchase(profile, obs)
    elif kind == "refund" and obs.order_id:
        _refund(profile, obs)
    elif kind == "personalization_shown" and obs.decision is not None:
        _exposed(profile, obs)
    elif kind == "personalization_click" and obs.decision is not None:
        session.slot_clicks += 1
        exposure = profile.exposures.get(obs.decision.slot)
        if exposure is not None:
            exposure.clicks += 1
    return Applied()


def _remember(items: list[str], value: str, cap: int) -> None:
    if value in items:
        items.remove(value)
    items.append(value)
    if len(items) > cap:
        del items[0]


def _product_view(session: Session, product: Item) -> Applied:
    session.product_views += 1
    path = category_path(product.category)
    if path and path[0] not in session.categories:
        _remember(session.categories, path[0], 10)
    session.focus = product.sku
    session.focus_price = product.price
    counts = session.view_counts
    counts[product.sku] = counts.get(product.sku, 0) + 1
    if product.sku in session.viewed:
        session.repeat_views += 1
        _remember(session.viewed, product.sku, RECENT_VIEWS)  # now the one being looked at
        return Applied()
    before = tuple(session.viewed)
    _remember(session.viewed, product.sku, RECENT_VIEWS)
    if len(counts) > RECENT_VIEWS:  # keep the counts of the remembered products only
        for sku in [sku for sku in counts if sku not in session.viewed]:
            del counts[sku]
    return Applied(viewed=product.sku, viewed_before=before)


def _add(profile: Profile, item: Item) -> None:
    line = profile.cart.get(item.sku)
    if line is None:
        profile.cart[item.sku] = CartLine(item.quantity, item.price, item.name)
    else:
        line.quantity += item.quantity
        line.price = item.price if item.price is not None else line.price
        line.name = item.name or line.name


def _remove(profile: Profile, item: Item) -> None:
    line = profile.cart.get(item.sku)
    if line is None:
        return
    line.quantity -= item.quantity
    if line.quantity <= 0:
        del profile.cart[item.sku]


def _purchase(profile: Profile, obs: Observation) -> Applied:
    assert obs.order_id is not None
    orders = profile.history.orders
    if obs.order_id in orders:
        return Applied()
    orders[obs.order_id] = [obs.ts, obs.revenue]
    while len(orders) > RECENT_ORDERS:
        del orders[next(iter(orders))]
    session, history = profile.session, profile.history
    assert session is not None
    session.purchases += 1
    session.revenue += obs.revenue
    history.purchases += 1
    history.revenue = round(history.revenue + obs.revenue, 2)
    history.last_purchase = obs.ts if history.last_purchase is None else max(
        history.last_purchase, obs.ts)
    items = obs.order_items or tuple(
        Item(sku, line.name, None, line.price, line.quantity) for sku, line in profile.cart.items()
    )
    skus = tuple(dict.fromkeys(item.sku for item in items))
    for sku in skus:
        history.bought.pop(sku, None)
        history.bought[sku] = obs.ts
    while len(history.bought) > RECENT_BOUGHT:
        del history.bought[next(iter(history.bought))]
    profile.cart = {}
    history.abandoned_cart_at = None
    if profile.exposed_at is not None and obs.ts >= profile.exposed_at:
        profile.purchases_after_exposure += 1
        profile.revenue_after_exposure = round(profile.revenue_after_exposure + obs.revenue, 2)
    return Applied(bought=skus, purchase=True)


def _refund(profile: Profile, obs: Observation) -> None:
    history = profile.history
    orders = history.orders
    history.revenue = max(0.0, round(history.revenue - obs.revenue, 2))
    placed = orders.get(obs.order_id or "")
    if placed is not None and profile.exposed_at is not None and placed[0] >= profile.exposed_at:
        profile.revenue_after_exposure = max(
            0.0, round(profile.revenue_after_exposure - obs.revenue, 2))


def apply_imported(profile: Profile, obs: Observation, gap: float) -> Applied:
    """Apply a past event from ``clickloop import`` to the profile's *history* only.

    The open session, the cart and the experiment are today's: an order from 2011 must not
    empty today's cart, join today's visit or count as an outcome of today's decision. So an
    imported event moves history alone: its own sessions (a new one whenever it lies more
    than ``gap`` from the previous imported event of this profile, counted at once since it
    is long over), first/last seen, orders (an order id already known counts once), revenue
    and refunds, last purchase, products bought and viewed. Returns what the item graph
    learns (co-views within an imported session, items bought together); ``purchase`` stays
    False, so no snapshot is ever labelled by history.
    """
    history = profile.history
    ts = obs.ts
    if obs.visitor_id not in profile.visitor_ids:
        profile.visitor_ids.append(obs.visitor_id)
    if obs.user_id:
        profile.user_id = obs.user_id
    newest = history.last_seen is None or ts >= history.last_seen
    history.first_seen = ts if history.first_seen is None else min(history.first_seen, ts)
    history.last_seen = ts if history.last_seen is None else max(history.last_seen, ts)
    profile.updated = history.last_seen
    history.sessions += _imported_session(profile.imported_sessions, ts, gap)
    if profile.imported_last is None or abs(ts - profile.imported_last) > gap:
        profile.imported_viewed = []  # co-views count within one session of the file
    profile.imported_last = ts
    history.last_session_end = ts if history.last_session_end is None else max(
        history.last_session_end, ts)
    kind = obs.event_type
    if kind == "purchase" and obs.order_id:
        return _imported_purchase(history, obs)
    if kind == "refund" and obs.order_id:
        history.revenue = max(0.0, round(history.revenue - obs.revenue, 2))
        return Applied()
    product = obs.product if kind in ("product_view", "page_view") else None
    if product is None:
        return Applied()
    if newest:
        _remember(history.viewed, product.sku, RECENT_VIEWS)
    elif product.sku not in history.viewed and len(history.viewed) < RECENT_VIEWS:
        history.viewed.insert(0, product.sku)  # older than what the profile has seen since
    viewed = profile.imported_viewed
    if product.sku in viewed:
        return Applied()
    before = tuple(viewed)
    _remember(viewed, product.sku, RECENT_VIEWS)
    return Applied(viewed=product.sku, viewed_before=before)


def _imported_session(spans: list[list[float]], ts: float, gap: float) -> int:
    """Put ``ts`` into the sorted imported sessions ``spans`` (``[first, last]``, more than
    ``gap`` apart); the change in their number: +1 a new session, 0 one grown, -1 two joined.

    >>> spans = []
    >>> [_imported_session(spans, t, 10) for t in (0, 50, 5, 30, 40)], spans
    ([1, 1, 0, 1, -1], [[0, 5], [30, 50]])
    """
    i = bisect_right(spans, ts, key=lambda span: span[0])  # spans[i - 1] starts at or before
    left = i > 0 and ts - spans[i - 1][1] <= gap
    right = i < len(spans) and spans[i][0] - ts <= gap
    if left and right:
        spans[i - 1][1] = spans[i][1]
        del spans[i]
        return -1
    if left:
        spans[i - 1][1] = max(spans[i - 1][1], ts)
        return 0
    if right:
        spans[i][0] = ts
        return 0
    spans.insert(i, [ts, ts])
    return 1


def _imported_purchase(history: History, obs: Observation) -> Applied:
    assert obs.order_id is not None
    orders, ts = history.orders, obs.ts
    if obs.order_id in orders:  # the browser or the backend reported it live
        return Applied()
    orders[obs.order_id] = [ts, obs.revenue]
    if len(orders) > RECENT_ORDERS:  # the oldest by time goes, not the first inserted
        del orders[min(orders, key=lambda order: orders[order][0])]
    history.purchases += 1
    history.revenue = round(history.revenue + obs.revenue, 2)
    history.last_purchase = ts if history.last_purchase is None else max(
        history.last_purchase, ts)
    if history.abandoned_cart_at is not None and history.abandoned_cart_at < ts:
        history.abandoned_cart_at = None
    skus = tuple(dict.fromkeys(item.sku for item in obs.order_items))
    bought = history.bought
    for sku in skus:
        bought[sku] = max(ts, bought.get(sku, ts))
    # most recent last, as live purchases keep it
    history.bought = dict(sorted(bought.items(), key=lambda kv: kv[1])[-RECENT_BOUGHT:])
    return Applied(bought=skus)


def _exposed(profile: Profile, obs: Observation) -> None:
    decision = obs.decision
    assert decision is not None
    if not decision.arm or decision.slot in profile.exposures:
        return  # no arm: shown outside the experiment (no cookie yet); later shows: same arm
    profile.exposures[decision.slot] = Exposure(decision.arm, obs.ts, decision.decision_id,
                                                decision.variant)
    if profile.arm is None:
        profile.arm = decision.arm
        profile.exposed_at = obs.ts
