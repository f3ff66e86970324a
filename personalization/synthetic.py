"""A seeded stream of enriched shop events with a *known* purchase structure, for benchmarks.

The intent model cannot be judged without a stream whose answer we know. Each visitor has a
hidden propensity; each session's purchase probability is a fixed logistic function of that
propensity, the traffic source, the device, whether the visitor is returning and whether they
came back to a full cart. Browsing then follows the session's fate, with noise: buyers view
more products, add to cart and reach checkout more often, but non-buyers also fill carts and
abandon them (phones abandon checkouts more), and some buyers buy straight away. So what a
visitor *does* predicts the outcome, not perfectly, and partly through interactions (source x
cart, device x checkout) that a linear model can only approximate: a fair test for the model
choice, with "cart not empty" as a strong simple baseline.

Events look like the collector's output (``enrichment`` with ``derived_ts``, ``ua.device``,
``referrer_class``, ``utm``), in time order across visitors. The demo's traffic simulator
(``tracker.demo``) is the richer, end-to-end source; this one is small, fast and pure.

>>> events = generate(visitors=5, seed=3)
>>> events == generate(visitors=5, seed=3), all(e["visitor_id"] for e in events)
(True, True)
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tracker.contract import format_timestamp

SHOP = "https://shop.example.com"
CATEGORIES = ("Shoes/Running", "Shoes/Trail", "Apparel/Jackets", "Gear/Watches")
# 10 products per category; sku -> (name, category, price)
PRODUCTS: dict[str, tuple[str, str, float]] = {
    f"SKU-{c}{i:02d}": (f"{cat.split('/')[1]} model {i}", cat, round(30 + 17.5 * i + 40 * c, 2))
    for c, cat in enumerate(CATEGORIES) for i in range(10)
}
SOURCES = {"search": 0.0, "social": -0.6, "email": 0.7, "paid": 0.1, "direct": 0.3}
SOURCE_SHARES = {"search": 0.35, "social": 0.2, "email": 0.1, "paid": 0.15, "direct": 0.2}
DEVICES = {"desktop": 0.3, "mobile": -0.4, "tablet": 0.0}
DEVICE_SHARES = {"desktop": 0.5, "mobile": 0.42, "tablet": 0.08}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _pick(rng: random.Random, shares: dict[str, float]) -> str:
    return rng.choices(list(shares), weights=list(shares.values()))[0]


class _Visitor:
    def __init__(self, index: int, seed: int, start: datetime, days: float):
        self.rng = random.Random(f"clickloop-synthetic:{seed}:{index}")
        rng = self.rng
        self.id = f"syn-{seed}-{index:06d}"
        self.propensity = rng.gauss(0.0, 1.0)
        self.device = _pick(rng, DEVICE_SHARES)
        self.arrival = start + timedelta(seconds=rng.uniform(0, days * 86_400))
        self.cart: dict[str, int] = {}
        self.favourite = rng.randrange(len(CATEGORIES))
        self.events: list[dict[str, Any]] = []

    def event(self, t: datetime, kind: str, source: str, campaign: str | None,
              **fields: Any) -> None:
        enrichment: dict[str, Any] = {
            "collector_ts": format_timestamp(t), "derived_ts": format_timestamp(t),
            "source": "js", "ua": {"device": self.device, "is_bot": False},
            "referrer_class": source,
        }
        if campaign:
            enrichment["utm"] = {"campaign": campaign, "source": source}
        self.events.append({
            "schema_version": 1, "event_id": str(uuid.UUID(int=self.rng.getrandbits(128),
                                                            version=4)),
            "event_type": kind, "client_ts": format_timestamp(t), "visitor_id": self.id,
            "enrichment": enrichment, **fields,
        })

    def product(self, sku: str, quantity: int | None = None) -> dict[str, Any]:
        name, category, price = PRODUCTS[sku]
        out: dict[str, Any] = {"sku": sku, "name": name, "category": category, "price": price,
                               "currency": "EUR"}
        if quantity:
            out["quantity"] = quantity
        return out

    def pick_sku(self) -> str:
        rng = self.rng
        c = self.favourite if rng.random() < 0.7 else rng.randrange(len(CATEGORIES))
        return f"SKU-{c}{min(9, int(rng.expovariate(0.35))):02d}"

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
        return [e for e in self.events if e["client_ts"] < format_timestamp(end)]

    def session(self, t: datetime, returning: bool, number: int) -> tuple[datetime, int]:
        rng = self.rng
        source = _pick(rng, SOURCE_SHARES)
        campaign = f"spring-{rng.randrange(3)}" if source in ("email", "paid") else None
        carried = bool(self.cart)
        logit = (-2.6 + 0.9 * self.propensity + SOURCES[source] + DEVICES[self.device]
                 + 0.5 * returning + 1.1 * carried + rng.gauss(0.0, 0.4))
        buyer = rng.random() < _sigmoid(logit)
        url = f"{SHOP}/" + (f"?utm_campaign={campaign}" if campaign else "")

        def step(seconds: float) -> None:
            nonlocal t
            engaged = rng.uniform(0.3, 1.0) * seconds
            t += timedelta(seconds=seconds)
            # a ping with the engaged time of the page, like the snippet's heartbeat
            self.event(t, "page_ping", source, campaign, url=url, engaged_ms=int(engaged * 1000))

        self.event(t, "page_view", source, campaign, url=url)
        # how much browsing: buyers and high-propensity visitors look around more
        views = max(0, int(rng.expovariate(1 / (2.5 + 2.5 * buyer + 0.8 * self.propensity
                                                 + 1.0 * (self.device == "desktop")))))
        if buyer and rng.random() < 0.15:
            views = min(views, 1)  # knows what they want
        viewed: list[str] = []
        for _ in range(views):
            step(rng.uniform(8, 70))
            if rng.random() < 0.15:
                self.event(t, "search", source, campaign, url=url,
                           query=rng.choice(("trail", "jacket", "watch", "shoes")))
            sku = self.pick_sku()
            viewed.append(sku)
            self.event(t, "product_view", source, campaign, url=f"{SHOP}/p/{sku}",
                       product=self.product(sku))
            p_add = 0.45 if buyer else 0.08 + 0.1 * (source == "email")
            if rng.random() < p_add:
                step(rng.uniform(3, 20))
                self.cart[sku] = self.cart.get(sku, 0) + 1
                self.event(t, "add_to_cart", source, campaign, url=f"{SHOP}/p/{sku}",
                           product=self.product(sku, 1))
        if buyer and not self.cart:
            sku = viewed[-1] if viewed else self.pick_sku()
            step(rng.uniform(5, 30))
            self.cart[sku] = 1
            self.event(t, "add_to_cart", source, campaign, url=f"{SHOP}/p/{sku}",
                       product=self.product(sku, 1))
        if self.cart and not buyer and rng.random() < 0.25:
            step(rng.uniform(5, 30))
            sku = rng.choice(sorted(self.cart))
            quantity = self.cart.pop(sku)
            self.event(t, "remove_from_cart", source, campaign, url=f"{SHOP}/cart",
                       product=self.product(sku, quantity))
        checkout = self.cart and (buyer or rng.random() < (0.35 if self.device == "mobile"
                                                           else 0.15))
        if checkout:
            step(rng.uniform(10, 60))
            self.event(t, "begin_checkout", source, campaign, url=f"{SHOP}/checkout",
                       products=[self.product(s, q) for s, q in sorted(self.cart.items())])
        if buyer and self.cart:
            step(rng.uniform(20, 120))
            items = [self.product(s, q) for s, q in sorted(self.cart.items())]
            revenue = round(sum(PRODUCTS[s][2] * q for s, q in self.cart.items()), 2)
            order_id = f"o-{self.id}-{number}"
            self.event(t, "purchase", source, campaign, url=f"{SHOP}/order/{order_id}",
                       order={"order_id": order_id, "revenue": revenue, "currency": "EUR",
                              "items": items})
            self.cart = {}
            return t, 1
        return t, 0


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
