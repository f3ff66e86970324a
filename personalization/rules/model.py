"""Content rules as data: slots, their variants, the conditions that pick one.

A slot's variants are tried in the order the marketer wrote them; the first whose conditions
*all* hold is shown; none → the slot's default. The holdout group always gets the default.
A condition left out does not constrain. See ``docs/personalization.md`` for the file format.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RECOMMENDATIONS_PLACEHOLDER = "{{ recommendations }}"


@dataclass(frozen=True)
class Context:
    """What a condition can look at, computed per request from the visitor's profile."""

    segment: str | None = None
    intent: float | None = None
    cart_items: int = 0
    cart_value: float = 0.0
    campaign: str | None = None  # utm campaign of the current session
    source: str | None = None  # referrer class of the current session's landing
    device: str | None = None
    returning: bool = False  # had an earlier session
    customer: bool = False  # bought before


@dataclass(frozen=True)
class Conditions:
    segment: frozenset[str] | None = None
    intent_min: float | None = None  # intent >= intent_min
    intent_max: float | None = None  # intent < intent_max
    cart: str | None = None  # "empty" | "not_empty"
    cart_value_min: float | None = None
    campaign: frozenset[str] | None = None  # "*" = any campaign
    source: frozenset[str] | None = None
    device: frozenset[str] | None = None
    returning: bool | None = None
    customer: bool | None = None

    def match(self, ctx: Context) -> bool:
        if self.segment is not None and ctx.segment not in self.segment:
            return False
        if self.intent_min is not None and (ctx.intent is None or ctx.intent < self.intent_min):
            return False
        if self.intent_max is not None and (ctx.intent is None or ctx.intent >= self.intent_max):
            return False
        if self.cart is not None and (self.cart == "not_empty") != (ctx.cart_items > 0):
            return False
        if self.cart_value_min is not None and ctx.cart_value < self.cart_value_min:
            return False
        if self.campaign is not None:
            if ctx.campaign is None:
                return False
            if "*" not in self.campaign and ctx.campaign not in self.campaign:
                return False
        if self.source is not None and ctx.source not in self.source:
            return False
        if self.device is not None and ctx.device not in self.device:
            return False
        if self.returning is not None and ctx.returning != self.returning:
            return False
        return self.customer is None or ctx.customer == self.customer


@dataclass(frozen=True)
class Variant:
    name: str
    html: str | None = None
    text: str | None = None
    when: Conditions = field(default_factory=Conditions)
    line: int = 0  # where its name is written, for messages
    column: int = 0

    def content(self, recommendations: Sequence[Mapping[str, Any]] = ()) -> dict[str, str]:
        """The ``content`` object of the API answer (``{}``: keep the page's own content)."""
        if self.html is not None:
            if RECOMMENDATIONS_PLACEHOLDER in self.html:
                return {"html": self.html.replace(RECOMMENDATIONS_PLACEHOLDER,
                                                  render_recommendations(recommendations))}
            return {"html": self.html}
        if self.text is not None:
            return {"text": self.text}
        return {}


BANDIT_POLICIES = ("linucb", "thompson", "epsilon_greedy")
BANDIT_REWARDS = ("click", "add_to_cart", "purchase")


@dataclass(frozen=True)
class BanditConfig:
    """A slot's ``bandit:`` block: a share of the treated visitors for whom a contextual bandit
    picks among the variants the rules allow them (see :mod:`personalization.bandit`)."""

    share: float = 0.5  # of the visitors outside the holdout
    policy: str = "linucb"  # chosen by bench/bandit_policy.py (docs/bandit.md)
    reward: str = "click"  # what counts as success, within the session
    explore: float = 0.05  # at least this share of the bandit's choices is uniformly random
    pin: str | None = None  # a variant shown to the bandit arm instead of learning


@dataclass(frozen=True)
class Slot:
    name: str
    default: Variant
    variants: tuple[Variant, ...] = ()
    recommendations: int = 4  # how many items the answer carries
    bandit: BanditConfig | None = None

    def choose(self, ctx: Context) -> Variant:
        for variant in self.variants:
            if variant.when.match(ctx):
                return variant
        return self.default

    def allowed(self, ctx: Context) -> list[Variant]:
        """What the rules allow this visitor: the default and every variant whose conditions
        hold (the bandit chooses among these; the rules take the first)."""
        return [self.default, *(v for v in self.variants if v.when.match(ctx))]

    def variant(self, name: str) -> Variant | None:
        return next((v for v in (self.default, *self.variants) if v.name == name), None)

    @property
    def variant_names(self) -> tuple[str, ...]:
        return (self.default.name, *(v.name for v in self.variants))


UNKNOWN_SLOT_DEFAULT = Variant("default")


@dataclass(frozen=True)
class Rules:
    slots: Mapping[str, Slot]
    source: str = "<memory>"  # file it came from

    def slot(self, name: str) -> Slot | None:
        return self.slots.get(name)


def render_recommendations(items: Sequence[Mapping[str, Any]]) -> str:
    """The ``{{ recommendations }}`` placeholder: a product list, every value escaped."""
    if not items:
        return ""
    lines = []
    for item in items:
        url = html.escape(str(item.get("url") or ""), quote=True)
        name = html.escape(str(item.get("name") or item.get("sku") or ""))
        price = item.get("price")
        price_html = f' <span class="price">{price:.2f}</span>' if isinstance(
            price, int | float) else ""
        lines.append(f'<li><a href="{url}">{name}</a>{price_html}</li>')
    return '<ul class="products">' + "".join(lines) + "</ul>"
