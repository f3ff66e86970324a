"""Ground truth for content experiments: how likely a visit is to convert after seeing a variant.

A bandit (or a rules engine) can only be judged against the truth it is trying to learn. A
:class:`VariantResponse` is that truth: for the context a visitor is in when a slot is rendered
(device, traffic source, returning, cart state), the probability that the visit ends in a
purchase after seeing each variant. The simulator draws the visit's outcome from the probability
of the variant the decision API actually chose, and records every variant's probability next to
the choice, so regret is exact:  ``regret = max_v p_v(context) - p_chosen(context)``.

Two responses are defined here, once: the demo's hero banner (:data:`DEMO_HERO_RESPONSE`, used by
the demo simulator) and the bandit exam's offer slot (:data:`EXAM_OFFER_RESPONSE`, used by
:mod:`simulation.bandit_exam` and ``bench/bandit_policy.py``).

Contexts are plain dicts (see :func:`simulation.decisions.decision_context`) so a test can also
call :meth:`VariantResponse.probabilities` directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class VariantResponse(Protocol):
    """Context → conversion probability of a visit, per variant of one slot."""

    slot: str
    default: str  # what a visitor sees when no decision arrives (snippet timeout, API down)

    @property
    def variants(self) -> tuple[str, ...]: ...

    def probabilities(self, context: Mapping[str, Any]) -> dict[str, float]: ...


def features(context: Mapping[str, Any]) -> dict[str, float]:
    """The 0/1 features a response model may weight; all derived from the decision context."""
    source = context.get("source")
    return {
        "mobile": float(context.get("device") == "mobile"),
        "tablet": float(context.get("device") == "tablet"),
        "returning": float(bool(context.get("returning"))),
        "has_cart": float((context.get("cart_items") or 0) > 0),
        "customer": float((context.get("purchases") or 0) > 0),
        "search": float(source == "search"),
        "social": float(source == "social"),
        "email": float(source == "email"),
        "paid": float(source == "paid"),
        "direct": float(source == "direct"),
    }


@dataclass(frozen=True)
class LogisticVariantResponse:
    """Per variant, ``p = sigmoid(base + Σ effect[feature] · feature)`` over :func:`features`.

    A logistic form keeps every probability in (0, 1) whatever the context and makes "variant A
    is best on mobile, B for cart abandoners" a matter of one coefficient each.
    """

    slot: str
    default: str
    base: Mapping[str, float]
    effects: Mapping[str, Mapping[str, float]]

    def __post_init__(self) -> None:
        if self.default not in self.base:
            raise ValueError(f"default variant {self.default!r} is not in base {sorted(self.base)}")
        known = set(features({}))
        for variant, coefs in self.effects.items():
            if variant not in self.base:
                raise ValueError(f"effects for unknown variant {variant!r}")
            unknown = set(coefs) - known
            if unknown:
                raise ValueError(f"unknown features {sorted(unknown)} for variant {variant!r}; "
                                 f"known: {sorted(known)}")

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(self.base)

    def probabilities(self, context: Mapping[str, Any]) -> dict[str, float]:
        x = features(context)
        out = {}
        for variant, base in self.base.items():
            logit = base + sum(c * x[f] for f, c in self.effects.get(variant, {}).items())
            out[variant] = 1.0 / (1.0 + math.exp(-logit))
        return out

    def best(self, context: Mapping[str, Any]) -> str:
        """The variant with the highest conversion probability (ties: first listed)."""
        probs = self.probabilities(context)
        return max(self.variants, key=lambda v: probs[v])


# The demo's hero banner: no single variant wins everywhere, so a contextual policy can beat the
# best fixed variant. Cart abandoners respond to a discount, mobile visitors to free shipping, new
# visitors from search to bestsellers; the default is never best but never terrible.
DEMO_HERO_RESPONSE = LogisticVariantResponse(
    slot="hero",
    default="default",
    base={"default": -3.0, "discount": -3.3, "free_shipping": -3.2, "bestsellers": -3.4},
    effects={
        "default": {"returning": 0.6, "has_cart": 1.4, "customer": 0.4},
        "discount": {"returning": 0.5, "has_cart": 2.3, "customer": 0.3},
        "free_shipping": {"returning": 0.5, "has_cart": 1.3, "mobile": 0.9, "tablet": 0.4},
        "bestsellers": {"returning": 0.2, "has_cart": 1.0, "search": 1.1, "social": 0.8},
    },
)


def logit(p: float) -> float:
    """The inverse of the logistic function: the logit whose sigmoid is ``p``.

    >>> round(logit(0.5), 6), round(1 / (1 + math.exp(-logit(0.2))), 6)
    (0.0, 0.2)
    """
    return math.log(p / (1.0 - p))


# The bandit exam's offer slot: each variant converts at a flat rate except for one kind of
# visitor. The step rates are written as probabilities and turned into logits here, so the table
# in simulation.bandit_exam reads as the truth it is:
#   standard 6 % for everyone (the default, what the holdout sees); free_shipping 16 % on mobile,
#   4 % elsewhere; discount 20 % with a non-empty cart, 5 % otherwise; bestsellers 14 % for
#   visitors from social networks, 5 % otherwise.
EXAM_OFFER_RESPONSE = LogisticVariantResponse(
    slot="offer",
    default="standard",
    base={"standard": logit(0.06), "free_shipping": logit(0.04), "discount": logit(0.05),
          "bestsellers": logit(0.05)},
    effects={
        "free_shipping": {"mobile": logit(0.16) - logit(0.04)},
        "discount": {"has_cart": logit(0.20) - logit(0.05)},
        "bestsellers": {"social": logit(0.14) - logit(0.05)},
    },
)
