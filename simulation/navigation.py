"""Where a visitor goes next: leave, browse, add to cart, check out, log in, buy.

Each step is a probability driven by the visit's latent intent and what the visit has done
(pages, product views, cart), so behaviour predicts the purchase — what the online intent model
has to learn. A visit whose outcome a variant response fixed (its *destiny*) is walked
consistently with it: a visit that must buy never leaves and, after a while, heads to the till.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from datetime import datetime
from typing import Any

from simulation import catalogue, devices
from simulation.browser import Page, VisitState
from simulation.cart import ShopCart
from simulation.config import MAX_PAGES
from simulation.records import Visit

SEARCHES = (("trail", 3), ("running shoes", 3), ("jacket", 2), ("gps watch", 2),
            ("merino", 1), ("waterproof", 2), ("race", 1), ("vest", 1), ("carbon", 1),
            ("kids shoes", 1), ("yoga mat", 1))
BESTSELLERS = frozenset({"RS-1001", "RS-1003", "TS-2001", "AJ-3002", "AS-4001", "GB-5003",
                         "GW-6001"})


def sigmoid(x: float) -> float:
    """The logistic function: a logit to a probability.

    >>> sigmoid(0.0)
    0.5
    """
    return 1.0 / (1.0 + math.exp(-x))


class Navigation(ShopCart):
    """The navigation choices of the visitor agent (see :mod:`simulation.browser`)."""

    def _navigate(self, visit: Visit, state: VisitState,
                  page: Page, t: datetime) -> Generator[Any, Any, tuple[Page | None, datetime]]:
        """Where the visitor goes after ``page`` (None: leaves), and when.

        Server-side requests the navigation causes (the order placed at checkout) are yielded
        here, at the moment the form is posted.
        """
        rng = self.rng
        z = visit.intent
        if state.outbound:
            return None, t
        if state.slot_click:  # the hero links to a category
            return Page("category", rng.choice(sorted(catalogue.CATEGORIES))), t
        if self.visitor.kind == "nojs":
            if rng.random() < sigmoid(-0.6 - 0.5 * z + 0.15 * state.pages) or state.pages >= 6:
                return None, t
            return self._browse_next(page), t
        must_buy = state.destiny is True and not state.purchased
        if state.pages >= MAX_PAGES and not must_buy:
            return None, t
        if page.kind == "login":
            state.pending.append({"event_type": "identify", "user_id": self.visitor.user_id})
            self.logged_in = True
            return Page(page.after or "home"), t
        if page.kind == "checkout":
            return (yield from self._leave_checkout(visit, state, page, t))
        if page.kind == "order":
            if rng.random() < 0.85:
                return None, t
            return Page("home"), t
        if must_buy and state.pages >= MAX_PAGES // 2:
            return self._straight_to_checkout(state, page), t
        if not must_buy and rng.random() < self._leave_probability(visit, state, page):
            return None, t
        if page.kind == "product" and rng.random() < self._add_probability(visit, state):
            self._add_to_cart(state, page.key)
            return Page("cart"), t
        if page.kind == "cart" and self.cart:
            if rng.random() < 0.08 and not must_buy:
                self._remove_from_cart(state)
                return Page("cart"), t
            views = min(state.product_views, 8)
            p_checkout = 0.85 if must_buy else sigmoid(-0.5 + 1.0 * z + 0.15 * views)
            if state.destiny is False:
                p_checkout *= 0.7
            if rng.random() < p_checkout:
                return Page("checkout"), t
        if (page.kind == "home" and self.visitor.user_id and not self.logged_in
                and rng.random() < 0.04):
            return Page("login", after="home"), t
        return self._browse_next(page), t

    def _leave_checkout(self, visit: Visit, state: VisitState, page: Page,
                        t: datetime) -> Generator[Any, Any, tuple[Page | None, datetime]]:
        """At checkout: log in first (account holders, sometimes), buy, or go back or away."""
        rng = self.rng
        if (self.visitor.user_id and not self.logged_in and rng.random() < 0.5
                and not state.purchased):
            return Page("login", after="checkout"), t
        buy = self._buys(visit, state)
        if buy:
            order_id = self._order_id()
            request = self._purchase(visit, order_id, t)
            state.purchased = True
            yield request
            return Page("order", order_id), request.at
        if rng.random() < 0.6:
            return None, t
        return (Page("cart") if rng.random() < 0.6 else self._browse_next(page)), t

    def _browse_next(self, page: Page) -> Page:
        rng = self.rng
        cart = 1.0 if self.cart else 0.0
        if page.kind == "product":
            options = (("product", 0.45), ("category", 0.22), ("search", 0.08),
                       ("home", 0.05), ("cart", 0.2 * cart))
        elif page.kind == "search":
            found = catalogue.search(page.key)
            options = (("product", 0.75 if found else 0.0), ("search", 0.12),
                       ("category", 0.25), ("cart", 0.1 * cart))
            if found and rng.random() < 0.75:
                return Page("product", rng.choice(found).sku)
        elif page.kind == "category":
            options = (("product", 0.7), ("category", 0.15), ("search", 0.08), ("home", 0.05),
                       ("cart", 0.15 * cart))
            if rng.random() < 0.7:
                return Page("product", self._pick_product(page.key))
        else:  # home, cart, order, checkout
            options = (("product", 0.4), ("category", 0.38), ("search", 0.14),
                       ("cart", 0.08 * cart))
        kind = devices.weighted(rng, options)
        if kind == "product":
            near = page.key if page.kind == "category" else None
            if page.kind == "product" and rng.random() < 0.6:
                near = catalogue.PRODUCTS[page.key].category
            return Page("product", self._pick_product(near))
        if kind == "category":
            return Page("category", rng.choice(sorted(catalogue.CATEGORIES)))
        if kind == "search":
            return Page("search", devices.weighted(rng, tuple((q, float(w))
                                                              for q, w in SEARCHES)))
        return Page(kind)

    def _straight_to_checkout(self, state: VisitState, page: Page) -> Page:
        """A visit that must convert and has wandered long enough walks to the till."""
        if not self.cart:
            if page.kind == "product":
                self._add_to_cart(state, page.key)
                return Page("cart")
            return Page("product", self._pick_product(None))
        return Page("checkout") if page.kind == "cart" else Page("cart")

    def _pick_product(self, category: str | None) -> str:
        skus = sorted(catalogue.PRODUCTS) if category is None else [
            p.sku for p in catalogue.in_category(category)]
        weights = [3.0 if sku in BESTSELLERS else 1.0 for sku in skus]
        return self.rng.choices(skus, weights=weights)[0]

    def _leave_probability(self, visit: Visit, state: VisitState, page: Page) -> float:
        z = visit.intent
        if page.kind == "cart" and self.cart:
            return sigmoid(-1.2 - 0.8 * z)
        return sigmoid(-0.9 - 0.9 * z + 0.05 * state.pages)

    def _add_probability(self, visit: Visit, state: VisitState) -> float:
        p = sigmoid(-3.6 + 1.0 * visit.intent + 0.55 * min(state.product_views, 6))
        if state.destiny is True and not state.purchased:
            p = max(p, 0.45)
        elif state.destiny is False:
            p *= 0.8
        return p

    def _buys(self, visit: Visit, state: VisitState) -> bool:
        """The purchase decision at checkout: intent plus what the visit did."""
        if not self.cart or state.purchased:
            return False
        if state.destiny is not None:
            return state.destiny
        value = self._cart_value()
        logit = (0.1 + 1.1 * visit.intent + 0.45 * math.log1p(value / 50)
                 + 0.5 * visit.returning + 0.08 * min(state.product_views, 8)
                 + 0.4 * (visit.source == "email") - 0.3 * (self.visitor.device == "mobile"))
        return self.rng.random() < sigmoid(logit)
