"""A seeded stream of enriched shop events with a *known* purchase structure, for the intent model.

The intent model cannot be judged without a stream whose answer we know. Visitors, traffic
sources, the catalogue and the purchase logit are the demo simulator's (:mod:`simulation`): the
visitor draw (:func:`simulation.visitors.make_visitor`: device and a hidden propensity), the
source of each visit (:func:`simulation.sources.pick_source`, an abandoned cart brings visitors
back by reminder e-mail or directly), the shop's products, prices and URLs
(:mod:`simulation.catalogue`) and the visit's latent intent
(:func:`simulation.visitors.visit_intent`: propensity, source, device, returning, coming back to
a full cart). Unlike the demo, each session's fate is drawn up front — it buys with probability
``sigmoid(intent + PURCHASE_SHIFT)`` — and browsing then follows the fate, with noise: buyers view
more products, add to cart and reach checkout more often, but non-buyers also fill carts and
abandon them (phones abandon checkouts more), and some buyers buy straight away. So what a
visitor *does* predicts the outcome, not perfectly, and partly through interactions (source x
cart, device x checkout) that a linear model can only approximate: a fair test for the model
choice, with "cart not empty" as a strong simple baseline.

Events look like the collector's output (``enrichment`` with ``derived_ts``, ``ua.device``,
``referrer_class``, ``utm``), in time order across visitors. The demo simulator
(:mod:`simulation.simulator`) is the richer, browser-faithful source; this one is small, fast
and pure, and its labels are cleaner (no crawlers, no no-JS pages, one fate per session).

>>> events = generate(visitors=5, seed=3)
>>> events == generate(visitors=5, seed=3), all(e["visitor_id"] for e in events)
(True, True)
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from simulation import catalogue
from simulation.config import SimConfig
from simulation.navigation import SEARCHES, sigmoid
from simulation.sources import pick_source
from simulation.visitors import make_visitor, visit_intent
from tracker.contract import format_timestamp

SHOP = "https://shop.example.com"
# From the demo's visit intent to this stream's per-session purchase logit: the demo reaches a
# purchase through many steps, each a chance to leave; here the fate is one draw.
PURCHASE_SHIFT = -1.8
INTENT_NOISE = 0.4  # per session, on the logit
CATEGORY_SLUGS = tuple(sorted(catalogue.CATEGORIES))
QUERIES = tuple(query for query, _ in SEARCHES)


class _Visitor:
    def __init__(self, index: int, seed: int, start: datetime, days: float):
        self.rng = random.Random(f"clickloop-intent-stream:{seed}:{index}")
        rng = self.rng
        self.id = f"syn-{seed}-{index:06d}"
        # people only: the stream's labels are about buyers, crawlers and no-JS pages are noise
        person = make_visitor(rng, SimConfig(seed=seed, bot_share=0.0, nojs_share=0.0), index)
        self.propensity = person.propensity
        self.device = person.device
        self.arrival = start + timedelta(seconds=rng.uniform(0, days * 86_400))
        self.cart: dict[str, int] = {}
        self.favourite = rng.choice(CATEGORY_SLUGS)
        self.events: list[dict[str, Any]] = []

    def event(self, t: datetime, kind: str, source: str, campaign: str | None,
              **fields: Any) -> None:
        enrichment: dict[str, Any] = {
            "collector_ts": _ts(t), "derived_ts": _ts(t),
            "source": "js", "ua": {"device": self.device, "is_bot": False},
            "referrer_class": source,
        }
        if campaign:
            enrichment["utm"] = {"campaign": campaign, "source": source}
        self.events.append({
            "schema_version": 1, "event_id": str(uuid.UUID(int=self.rng.getrandbits(128),
                                                            version=4)),
            "event_type": kind, "client_ts": _ts(t), "visitor_id": self.id,
            "enrichment": enrichment, **fields,
        })

    def pick_sku(self) -> str:
        """Mostly the visitor's favourite category; the first products of a category most."""
        rng = self.rng
        slug = self.favourite if rng.random() < 0.7 else rng.choice(CATEGORY_SLUGS)
        products = catalogue.in_category(slug)
        return products[min(len(products) - 1, int(rng.expovariate(0.8)))].sku

    def life(self, end: datetime) -> list[dict[str, Any]]:
        rng = self.rng
        t = self.arrival
        returning = False
        purchases = 0
        for number in range(1, 9):
            if t >= end:
                break
            t, bought = self.session(t, returning, number)
            purchases += bought
            returning = True
            abandoned = bool(self.cart)
            if rng.random() > (0.35 + 0.3 * abandoned + 0.15 * bool(purchases)) * 0.85 ** number:
                break
            t += timedelta(hours=rng.uniform(0.6, 72))
        return [e for e in self.events if e["client_ts"] < _ts(end)]

    def session(self, t: datetime, returning: bool, number: int) -> tuple[datetime, int]:
        """One session: its source and fate first, then browsing, cart and checkout that follow
        the fate with noise. Returns the session's end and whether it bought (0 or 1)."""
        rng = self.rng
        carried = bool(self.cart)
        visit_source = pick_source(rng, visit=number, abandoned_cart=carried)
        intent = visit_intent(rng, propensity=self.propensity, source=visit_source.kind,
                              device=self.device, returning=returning, abandoned_cart=carried,
                              noise=INTENT_NOISE)
        buyer = rng.random() < sigmoid(intent + PURCHASE_SHIFT)
        page = _Session(visit_source.kind,
                        visit_source.campaign.name if visit_source.campaign else None,
                        visit_source.landing_url(SHOP), buyer)
        self.event(t, "page_view", page.source, page.campaign, url=page.url)
        t, viewed = self.browse(t, page)
        t = self.fill_cart(t, page, viewed)
        return self.check_out(t, page, number)

    def step(self, t: datetime, seconds: float, page: _Session) -> datetime:
        """``seconds`` later, with a ping carrying the engaged time, like the heartbeat."""
        engaged = self.rng.uniform(0.3, 1.0) * seconds
        t += timedelta(seconds=seconds)
        self.event(t, "page_ping", page.source, page.campaign, url=page.url,
                   engaged_ms=int(engaged * 1000))
        return t

    def browse(self, t: datetime, page: _Session) -> tuple[datetime, list[str]]:
        """Product views (buyers and high-propensity visitors look around more), searches and
        adds to cart on the way."""
        rng = self.rng
        source, campaign, buyer = page.source, page.campaign, page.buyer
        views = max(0, int(rng.expovariate(1 / (2.5 + 2.5 * buyer + 0.8 * self.propensity
                                                 + 1.0 * (self.device == "desktop")))))
        if buyer and rng.random() < 0.15:
            views = min(views, 1)  # knows what they want
        viewed: list[str] = []
        for _ in range(views):
            t = self.step(t, rng.uniform(8, 70), page)
            if rng.random() < 0.15:
                self.event(t, "search", source, campaign, url=page.url,
                           query=rng.choice(QUERIES))
            sku = self.pick_sku()
            viewed.append(sku)
            self.event(t, "product_view", source, campaign, url=_product_url(sku),
                       product=_item(sku))
            p_add = 0.45 if buyer else 0.08 + 0.1 * (source == "email")
            if rng.random() < p_add:
                t = self.step(t, rng.uniform(3, 20), page)
                self.cart[sku] = self.cart.get(sku, 0) + 1
                self.event(t, "add_to_cart", source, campaign, url=_product_url(sku),
                           product=_item(sku, 1))
        return t, viewed

    def fill_cart(self, t: datetime, page: _Session, viewed: list[str]) -> datetime:
        """A buyer with an empty cart adds what they saw last; a non-buyer sometimes removes."""
        rng = self.rng
        if page.buyer and not self.cart:
            sku = viewed[-1] if viewed else self.pick_sku()
            t = self.step(t, rng.uniform(5, 30), page)
            self.cart[sku] = 1
            self.event(t, "add_to_cart", page.source, page.campaign, url=_product_url(sku),
                       product=_item(sku, 1))
        if self.cart and not page.buyer and rng.random() < 0.25:
            t = self.step(t, rng.uniform(5, 30), page)
            sku = rng.choice(sorted(self.cart))
            quantity = self.cart.pop(sku)
            self.event(t, "remove_from_cart", page.source, page.campaign,
                       url=SHOP + catalogue.CART_PATH, product=_item(sku, quantity))
        return t

    def check_out(self, t: datetime, page: _Session, number: int) -> tuple[datetime, int]:
        """Checkout (phones abandon it more) and, for a buyer, the order."""
        rng = self.rng
        checkout = self.cart and (page.buyer or rng.random() < (0.35 if self.device == "mobile"
                                                                else 0.15))
        if checkout:
            t = self.step(t, rng.uniform(10, 60), page)
            self.event(t, "begin_checkout", page.source, page.campaign,
                       url=SHOP + catalogue.CHECKOUT_PATH,
                       products=[_item(s, q) for s, q in sorted(self.cart.items())])
        if page.buyer and self.cart:
            t = self.step(t, rng.uniform(20, 120), page)
            lines = [(catalogue.PRODUCTS[s], q) for s, q in sorted(self.cart.items())]
            order_id = f"o-{self.id}-{number}"
            self.event(t, "purchase", page.source, page.campaign,
                       url=SHOP + catalogue.order_path(order_id),
                       order=catalogue.order(order_id, lines))
            self.cart = {}
            return t, 1
        return t, 0


@dataclass(frozen=True)
class _Session:
    """What every event of a session repeats: its source, campaign, landing URL and fate."""

    source: str
    campaign: str | None
    url: str
    buyer: bool


def _product_url(sku: str) -> str:
    return SHOP + catalogue.product_path(sku)


def _item(sku: str, quantity: int | None = None) -> dict[str, Any]:
    return catalogue.item(catalogue.PRODUCTS[sku], quantity)


def _ts(t: datetime) -> str:
    return format_timestamp(t)


def generate(visitors: int = 1000, *, seed: int = 1, start: datetime | None = None,
             days: float = 7.0) -> list[dict[str, Any]]:
    """Every event of ``visitors`` visitors arriving over ``days``, in event-time order."""
    start = start or datetime(2026, 11, 2, tzinfo=UTC)
    end = start + timedelta(days=days + 4)
    events: list[dict[str, Any]] = []
    for index in range(visitors):
        events.extend(_Visitor(index, seed, start, days).life(end))
    events.sort(key=lambda e: (e["client_ts"], e["visitor_id"]))
    return events
