"""The shop's side of a visit: the cart, its value, and the order the backend confirms.

The purchase is a server-side request (the shop's backend through the tracker client), not a
browser one, which is why it is built here rather than with the pages.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from simulation import catalogue
from simulation.browser import Browser, VisitState
from simulation.records import Request, Visit


class ShopCart(Browser):
    """Cart and order behaviour of the visitor agent (see :mod:`simulation.browser`)."""

    def _add_to_cart(self, state: VisitState, sku: str) -> None:
        quantity = 2 if self.rng.random() < 0.1 else 1
        self.cart[sku] = self.cart.get(sku, 0) + quantity
        state.pending.append({"event_type": "add_to_cart",
                              "product": catalogue.item(catalogue.PRODUCTS[sku], quantity)})

    def _remove_from_cart(self, state: VisitState) -> None:
        sku = self.rng.choice(sorted(self.cart))
        quantity = self.cart.pop(sku)
        state.pending.append({"event_type": "remove_from_cart",
                              "product": catalogue.item(catalogue.PRODUCTS[sku], quantity)})

    def _cart_value(self) -> float:
        return catalogue.money(sum(catalogue.PRODUCTS[s].price_cents * q
                                   for s, q in self.cart.items()))

    def _order_id(self) -> str:
        self.orders += 1
        digest = hashlib.sha256(f"{self.config.seed}:{self.visitor.key}:order:{self.orders}"
                                .encode()).hexdigest()
        return f"CL-{digest[:10].upper()}"

    def _purchase(self, visit: Visit, order_id: str, t: datetime) -> Request:
        """The shop's backend confirming the order: a server-side purchase on the visitor's
        behalf (the traffic sender adds ``visitor_id`` from the visitor's ``cl_vid`` cookie)."""
        lines = [(catalogue.PRODUCTS[s], q) for s, q in self.cart.items()]
        at = t + timedelta(milliseconds=self.rng.randint(150, 600))
        page_url = self.config.shop_url + catalogue.order_path(order_id)
        event = self._event("purchase", at, url=page_url, order=catalogue.order(order_id, lines),
                            context={"user_agent": self.visitor.user_agent})
        if self.visitor.dnt:  # the shop honours DNT too: no identifiers, consent denied
            event.pop("user_id", None)
            event["consent"] = "denied"
        self.cart.clear()
        self.purchases += 1
        return self._request(at, visit, "server", self.config.shop_url + catalogue.CHECKOUT_PATH,
                             [event])
