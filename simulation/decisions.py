"""Personalization on a page load: asking the decision API, and the outcome a variant fixes.

When the simulation has a ``decide`` function, every JS page load asks it for each configured
slot the page has (as clickloop.js asks ``/v1/decide``). With a
:class:`~simulation.variants.VariantResponse`, the first decision of a visit on the response's
slot fixes the visit's outcome (its *destiny*): the visit converts with the probability the
response gives for the variant shown, and the navigation walks the rest of the visit
consistently with it. Every decision is recorded in the ground truth with every variant's
probability, so regret is exact.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from datetime import datetime
from typing import Any

from simulation import catalogue
from simulation.browser import Page, VisitState
from simulation.cart import ShopCart
from simulation.records import Decision, DecisionRequest, Visit


def decision_context(visit: Visit, *, at: datetime, cart_items: int, cart_value: float,
                     pages_viewed: int, purchases: int) -> dict[str, Any]:
    """What a decision can know about a visitor when a page loads (no outcome, no latent)."""
    return {
        "device": visit.visitor.device,
        "source": visit.source,
        "campaign": visit.campaign,
        "returning": visit.returning,
        "visits": visit.number - 1,
        "purchases": purchases,
        "cart_items": cart_items,
        "cart_value": round(cart_value, 2),
        "pages_viewed": pages_viewed,
        "country": visit.visitor.country,
        "hour": at.hour,
    }


class Deciding(ShopCart):
    """The decision round trips of the visitor agent (see :mod:`simulation.browser`)."""

    def _ask_decisions(self, visit: Visit, state: VisitState, page: Page, url: str,
                       t: datetime) -> Generator[Any, Any, list[dict[str, Any]]]:
        """Ask for every slot on ``page``; the decisions to show (``personalization_shown``).

        Without a ``decide`` function but with a response model, the visit's outcome is still
        fixed on its first page, from the response's default variant.
        """
        shown: list[dict[str, Any]] = []
        if self.decide is not None:
            for slot in self.config.slots:
                if page.kind not in catalogue.SLOTS.get(slot, ()):
                    continue
                context = decision_context(
                    visit, at=t, cart_items=sum(self.cart.values()),
                    cart_value=self._cart_value(), pages_viewed=state.pages - 1,
                    purchases=self.purchases,
                )
                decision = yield DecisionRequest(t, visit, slot, url, context)
                self._fix_destiny(visit, state, slot, context, decision, t)
                if decision is not None:
                    decision_obj = {"decision_id": decision.decision_id, "slot": slot,
                                    "variant": decision.variant}
                    if decision.arm:
                        decision_obj["arm"] = decision.arm
                    shown.append(decision_obj)
        elif self.response is not None and not state.decided:
            context = decision_context(visit, at=t, cart_items=sum(self.cart.values()),
                                       cart_value=self._cart_value(), pages_viewed=0,
                                       purchases=self.purchases)
            self._fix_destiny(visit, state, self.response.slot, context, None, t)
        return shown

    def _fix_destiny(self, visit: Visit, state: VisitState, slot: str,
                     context: Mapping[str, Any], decision: Decision | None,
                     at: datetime) -> None:
        """Record a decision; the first one on the response's slot fixes the visit's outcome."""
        response = self.response
        if response is None or slot != response.slot:
            self.truth.record_decision(visit, at, slot, decision, context, None, None)
            return
        probabilities = response.probabilities(context)
        variant = decision.variant if decision is not None else response.default
        if variant not in probabilities:
            raise ValueError(f"decision variant {variant!r} for slot {slot!r} is not in the "
                             f"response model's variants {sorted(probabilities)}")
        first = not state.decided
        if first:
            state.decided = True
            state.destiny = self.rng.random() < probabilities[variant]
        self.truth.record_decision(visit, at, slot, decision, context, probabilities,
                                   state.destiny if first else None)
