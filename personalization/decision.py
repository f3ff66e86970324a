"""One decision: which content a visitor sees in a slot, and why. Pure: no I/O, no clock.

The API reads the profile, then calls :func:`decide`. Order of precedence:

1. no visitor (no ``cl_vid`` cookie yet, or cookieless): the slot's default, popular items, no
   arm — the visitor is outside the experiment (nothing stable to assign by);
2. holdout: the slot's default and popular (non-personalized) items, always;
3. bandit (a share of the others, in a slot with a ``bandit:`` block): the slot's bandit picks
   among the variants the rules allow the visitor (the default and every variant whose
   conditions hold), or shows the pinned variant;
4. otherwise the slot's rules with the visitor's context, and their recommendations.

An unknown slot gets variant ``default`` with empty content: the page keeps its own.
Every decision has an id; the snippet reports it back in ``personalization_shown`` and
``personalization_click`` events, which is how outcomes are attributed to decisions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from personalization.bandit.context import VERSION as BANDIT_CONTEXT_VERSION
from personalization.bandit.context import context_of, vector
from personalization.bandit.policy import PolicyView
from personalization.holdout import BANDIT, HOLDOUT, arm_of
from personalization.profile import Profile
from personalization.recommend import seeds_and_exclusions
from personalization.rules.model import UNKNOWN_SLOT_DEFAULT, Context, Rules
from personalization.segments import segment_of


@dataclass(frozen=True)
class Decision:
    decision_id: str
    slot: str
    variant: str
    arm: str | None  # holdout | rules | (later) bandit; None: outside the experiment
    content: dict[str, str]
    intent: float | None
    segment: str | None
    recommendations: list[dict[str, Any]]
    profile_id: str | None
    known_slot: bool
    # bandit arm: the context vector it chose at, and whether there was a choice to learn from
    bandit_x: list[float] | None = None
    bandit_learn: bool = False

    def response(self) -> dict[str, Any]:
        """The browser's JSON (the snippet copies decision_id, slot, variant, arm back)."""
        body: dict[str, Any] = {
            "decision_id": self.decision_id,
            "slot": self.slot,
            "variant": self.variant,
            "content": self.content,
            "intent": None if self.intent is None else round(self.intent, 4),
            "segment": self.segment,
            "recommendations": self.recommendations,
        }
        if self.arm is not None:  # an absent arm, not null: the contract's arm is an enum
            body["arm"] = self.arm
        return body


def decision_record(decision: Decision, ctx: Context, now: float, *, page: str | None = None,
                    product: str | None = None) -> dict[str, Any]:
    """The decision-log record of ``decision``, made at ``now`` in context ``ctx`` (and, for a
    site backend's decision, on ``page`` showing ``product``).

    What the store keeps (:meth:`~personalization.stores.base.DecisionLogStore.log_decisions`)
    and the worker attributes outcomes with; a bandit decision carries its context vector.

    >>> d = Decision("d1", "hero", "default", "rules", {}, 0.5, "browsing", [], "v1", True)
    >>> record = decision_record(d, Context(segment="browsing", device="mobile"), now=10.0)
    >>> record["decision_id"], record["slot"], record["context"]["device"], "bandit_x" in record
    ('d1', 'hero', 'mobile', False)
    """
    record: dict[str, Any] = {
        "decision_id": decision.decision_id, "profile_id": decision.profile_id,
        "ts": now, "slot": decision.slot, "variant": decision.variant, "arm": decision.arm,
        "segment": decision.segment, "intent": decision.intent,
        "context": {"cart_items": ctx.cart_items, "cart_value": ctx.cart_value,
                    "campaign": ctx.campaign, "source": ctx.source, "device": ctx.device,
                    "returning": ctx.returning, "customer": ctx.customer},
    }
    if page is not None:
        record["context"]["page"] = page
    if product is not None:
        record["context"]["product"] = product
    if decision.bandit_x is not None:  # what the worker learns the outcome with
        record.update(bandit_x=decision.bandit_x, bandit_learn=decision.bandit_learn,
                      bandit_version=BANDIT_CONTEXT_VERSION)
    return record


def new_decision_id() -> str:
    """128 random bits in hex (a uuid4's hex without building a UUID: a quarter of the cost)."""
    return os.urandom(16).hex()


_NO_BANDITS: Mapping[str, PolicyView] = {}
_PRIOR = PolicyView()  # a slot nothing has been learned for yet


def decide(rules: Rules, slot_name: str, *, visitor_id: str | None, profile: Profile | None,
           popular: Sequence[dict[str, Any]], holdout_share: float, salt: str, now: float,
           new_id: Callable[[], str] = new_decision_id,
           bandits: Mapping[str, PolicyView] = _NO_BANDITS,
           rng: np.random.Generator | None = None,
           on_screen: str | None = None) -> tuple[Decision, Context | None]:
    """The decision for ``slot_name`` and the context it was made in (None: no visitor).

    ``bandits``: the published statistics per slot (a slot without any yet starts from the
    prior: every allowed variant equally likely); ``rng``: the bandit's randomness;
    ``on_screen``: the product the page shows, never recommended next to itself."""
    slot = rules.slot(slot_name)
    count = slot.recommendations if slot else 0
    if visitor_id is None:
        variant = slot.default if slot else UNKNOWN_SLOT_DEFAULT
        items = _top_up([], popular, {on_screen} if on_screen else set(), count)
        return Decision(new_id(), slot_name, variant.name, None, variant.content(items), None,
                        None, items, None, slot is not None), None

    profile_id = profile.profile_id if profile else visitor_id
    config = slot.bandit if slot else None
    # The arm follows the device (visitor id), not the profile id: a login turns the profile
    # into ``<user>@<visitor>`` and must not move anyone between arms mid-experiment.
    arm = arm_of(visitor_id, holdout_share=holdout_share, salt=salt,
                 bandit_share=config.share if config else 0.0)
    if profile is not None:
        segment = segment_of(profile, profile.intent, now)
        ctx = context_of(profile, segment)
        excluded = seeds_and_exclusions(profile, now)[1]
    else:
        segment = "new_visitor"
        ctx = Context(segment=segment)
        excluded = set()
    if on_screen is not None:
        excluded = excluded | {on_screen}

    x: list[float] | None = None
    learn = False
    if slot is None:
        variant = UNKNOWN_SLOT_DEFAULT
    elif arm == HOLDOUT:
        variant = slot.default
    elif arm == BANDIT and config is not None:
        x = vector(ctx)
        allowed = slot.allowed(ctx)
        pinned = slot.variant(config.pin) if config.pin else None
        if pinned is not None:
            variant = pinned
        elif len(allowed) == 1:
            variant = allowed[0]
        else:
            names = [v.name for v in allowed]
            view = bandits.get(slot_name) or _PRIOR
            chosen = view.pull(names, x, policy=config.policy, explore=config.explore,
                               rng=rng if rng is not None else np.random.default_rng())
            variant = allowed[names.index(chosen)]
            learn = True
    else:
        variant = slot.choose(ctx)

    personal = profile.recommendations if (profile and arm != HOLDOUT) else []
    items = _top_up([i for i in personal if i.get("sku") not in excluded], popular, excluded,
                    count)
    return Decision(new_id(), slot_name, variant.name, arm, variant.content(items),
                    profile.intent if profile else None, segment, items, profile_id,
                    slot is not None, x, learn), ctx


def _top_up(items: list[dict[str, Any]], popular: Sequence[dict[str, Any]], excluded: set[str],
            count: int) -> list[dict[str, Any]]:
    out = items[:count]
    chosen = {i.get("sku") for i in out}
    for item in popular:
        if len(out) >= count:
            break
        sku = item.get("sku")
        if sku not in excluded and sku not in chosen:
            out.append(item)
            chosen.add(sku)
    return out
