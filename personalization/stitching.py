"""Identity stitching: one person's visits on several devices, one profile to act on.

A visitor id is a browser (the ``cl_vid`` cookie); a user id is a person the site knows, sent
by ``identify`` (the snippet's ``clickloop('identify', uid)``, the Python tracker's
``Tracker.identify``) and then on every event of that browser (``user_id``).

**The rule (shared devices included).** An event with a ``user_id`` links its visitor id to
that user *for the rest of the session* (the worker's session: 30 minutes of inactivity ends
it). While linked, the visitor's events go to the profile of that user *on that device*,
profile id ``<user id>@<visitor id>`` (``@`` cannot occur in a visitor id). When the session
ends the link ends: the next visit from that browser is anonymous again until it identifies,
so nobody browsing a shared computer later is shown the previous user's profile.

At the first identify on a visitor id, the visitor's anonymous history (earlier sessions, and
this session up to the identify) moves into the user's device profile: that visitor id is now
*claimed* by the user. When the same user identifies there again, the anonymous history
gathered since moves too. When a *different* user identifies on a claimed visitor id, the
anonymous history stays where it is: it may be the first user's, and two people are never
merged on a guess. Events from the second user's identify on go to the second user only.

**The merge.** The worker writes one profile per (user, device), on the partition that
device's events arrive on, so several workers never write the same profile. Whoever reads a
person (the decision API, the backend routes) gets :func:`person_view`: the device profile
being served, with the *history* of every profile of that user merged into it (sessions,
recency, frequency, monetary value, last purchase, products bought) and the segment computed
from the merged history: a purchase on the phone counts on the laptop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Protocol

from personalization.forgetting import forget_key
from personalization.profile import (
    RECENT_BOUGHT,
    RECENT_VIEWS,
    History,
    Profile,
)

SEPARATOR = "@"  # not allowed in a visitor id (tracker.contract.spec.ID_PATTERN)
RECENT_ORDERS = 20


def person_profile_id(user_id: str, visitor_id: str) -> str:
    """The profile of ``user_id`` on the device ``visitor_id``.

    >>> person_profile_id("ann@example.com", "v-1")
    'ann@example.com@v-1'
    """
    return f"{user_id}{SEPARATOR}{visitor_id}"


def device_of(profile_id: str) -> str:
    """The visitor id a profile id belongs to (itself for an anonymous profile).

    >>> device_of("ann@example.com@v-1"), device_of("v-1")
    ('v-1', 'v-1')
    """
    return profile_id.rpartition(SEPARATOR)[2]


def user_tombstone_key(user_id: str) -> str:
    """The tombstone key of a forgotten user (apart from visitor keys: tombstones have no kind).

    >>> user_tombstone_key("42") != forget_key("42")
    True
    """
    return forget_key("user\x00" + user_id)


def tombstone_keys(profile: Profile) -> set[str]:
    """Every tombstone key that, once written, means ``profile`` must go."""
    keys = {forget_key(v) for v in (profile.visitor_ids or [device_of(profile.profile_id)])}
    if profile.user_id:
        keys.add(user_tombstone_key(profile.user_id))
    if profile.claimed_by:  # its marker names the user
        keys.add(user_tombstone_key(profile.claimed_by))
    return keys


def merge_history(histories: Iterable[History]) -> History:
    """One history from several devices' histories of one person.

    Orders reported on two devices (a browser and the shop's backend, same order id) count
    once. A cart abandoned on one device stays abandoned only if no later purchase happened
    on any device.

    >>> a = History(sessions=2, purchases=1, revenue=50.0, last_purchase=10.0,
    ...             orders={"o-1": [10.0, 50.0]}, bought={"SH-1": 10.0})
    >>> b = History(sessions=1, purchases=1, revenue=50.0, last_purchase=10.0,
    ...             orders={"o-1": [10.0, 50.0]}, abandoned_cart_at=20.0)
    >>> m = merge_history([a, b])
    >>> (m.sessions, m.purchases, m.revenue, m.abandoned_cart_at)
    (3, 1, 50.0, 20.0)
    """
    items = list(histories)
    out = History()
    if not items:
        return out
    orders: dict[str, list[float]] = {}
    duplicate_purchases, duplicate_revenue = 0, 0.0
    for h in items:
        for order_id, placed in h.orders.items():
            if order_id in orders:
                duplicate_purchases += 1
                duplicate_revenue += placed[1] if len(placed) > 1 else 0.0
            else:
                orders[order_id] = list(placed)
    out.sessions = sum(h.sessions for h in items)
    out.purchases = max(0, sum(h.purchases for h in items) - duplicate_purchases)
    out.revenue = round(max(0.0, sum(h.revenue for h in items) - duplicate_revenue), 2)
    out.first_seen = _min(h.first_seen for h in items)
    out.last_seen = _max(h.last_seen for h in items)
    out.last_session_end = _max(h.last_session_end for h in items)
    out.last_purchase = _max(h.last_purchase for h in items)
    out.orders = dict(sorted(orders.items(), key=lambda kv: kv[1][0])[-RECENT_ORDERS:])
    bought: dict[str, float] = {}
    for h in items:
        for sku, when in h.bought.items():
            bought[sku] = max(when, bought.get(sku, when))
    out.bought = dict(sorted(bought.items(), key=lambda kv: kv[1])[-RECENT_BOUGHT:])
    viewed: list[str] = []
    for h in items:
        for sku in h.viewed:
            if sku in viewed:
                viewed.remove(sku)
            viewed.append(sku)
    out.viewed = viewed[-RECENT_VIEWS:]
    abandoned = _max(h.abandoned_cart_at for h in items)
    if abandoned is not None and (out.last_purchase is None or abandoned > out.last_purchase):
        out.abandoned_cart_at = abandoned
    return out


def absorb(target: Profile, anonymous: Profile) -> None:
    """Move an anonymous profile's history (and its open session, cart and exposures) into
    ``target``, the user's profile on the same device (the worker, at an identify).

    ``target`` has no open session (a linked session starts at the identify), so the session
    in progress moves whole: its pending snapshots get their label when it ends, as before.
    """
    target.history = merge_history([target.history, anonymous.history])
    for visitor_id in anonymous.visitor_ids:
        if visitor_id not in target.visitor_ids:
            target.visitor_ids.append(visitor_id)
    if target.session is None and anonymous.session is not None:
        target.session = anonymous.session
    for sku, line in anonymous.cart.items():
        target.cart.setdefault(sku, line)
    for slot, exposure in anonymous.exposures.items():
        target.exposures.setdefault(slot, exposure)
    if target.arm is None:
        target.arm, target.exposed_at = anonymous.arm, anonymous.exposed_at
    target.purchases_after_exposure += anonymous.purchases_after_exposure
    target.revenue_after_exposure = round(
        target.revenue_after_exposure + anonymous.revenue_after_exposure, 2)
    target.recent_event_ids = (anonymous.recent_event_ids + target.recent_event_ids)[-64:]
    target.intent = anonymous.intent if target.intent is None else target.intent
    target.updated = _max([target.updated, anonymous.updated])


def emptied(anonymous: Profile, claimed_by: str) -> Profile:
    """What stays of an anonymous profile once absorbed: nothing but who claimed it."""
    return Profile(anonymous.profile_id, visitor_ids=[anonymous.profile_id],
                   claimed_by=claimed_by)


def person_view(served: Profile, others: Iterable[Profile]) -> Profile:
    """``served`` (the profile of the device asking) with the history of every other profile
    of the same user merged in; session, cart, experiment arm and score stay the device's."""
    siblings = [p for p in others if p.profile_id != served.profile_id]
    if not siblings:
        return served
    visitor_ids = list(served.visitor_ids)
    for p in siblings:
        visitor_ids += [v for v in p.visitor_ids if v not in visitor_ids]
    return dataclasses.replace(
        served, visitor_ids=visitor_ids,
        history=merge_history([served.history, *(p.history for p in siblings)]),
        updated=_max([served.updated, *(p.updated for p in siblings)]))


def _min(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _max(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


class _Reads(Protocol):
    def read_profile(self, visitor_id: str) -> Profile | None: ...

    def user_profiles(self, user_id: str) -> list[Profile]: ...


def read_person(store: _Reads, visitor_id: str) -> Profile | None:
    """What the API knows about the browser ``visitor_id``: its profile now (the identified
    user's on this device while linked, else the anonymous one), with the user's history from
    every device. One more store read, and only for identified visitors."""
    profile = store.read_profile(visitor_id)
    if profile is None or not profile.user_id:
        return profile
    return person_view(profile, store.user_profiles(profile.user_id))
