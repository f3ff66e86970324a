"""The visitor's context: what the rules read (:func:`context_of` a profile), and the same as
the fixed vector the bandit's linear models read (:func:`vector`).

The API builds the vector from the context it decided in, logs it with the decision, and the worker
learns from that logged vector, so learning sees exactly what the choice saw. :data:`VERSION`
changes with the vector; statistics of another version are dropped, never mis-read.

>>> x = vector(Context(segment="new_visitor", device="mobile", cart_items=2, cart_value=80.0))
>>> len(x) == DIM, x[0], x[NAMES.index("dev_mobile")], x[NAMES.index("cart")]
(True, 1.0, 1.0, 1.0)
"""

from __future__ import annotations

import math

from personalization.features import DEVICES, SOURCES
from personalization.profile import Profile
from personalization.rules.model import Context
from personalization.segments import SEGMENTS

VERSION = 1
NAMES: tuple[str, ...] = (
    "bias", *(f"seg_{s}" for s in SEGMENTS), *(f"dev_{d}" for d in DEVICES),
    *(f"src_{s}" for s in SOURCES), "intent", "cart", "cart_value", "returning", "customer",
)
DIM = len(NAMES)
_INDEX = {name: i for i, name in enumerate(NAMES)}


def context_of(profile: Profile, segment: str | None) -> Context:
    """The context the rules and the bandit see for ``profile`` in ``segment``."""
    session = profile.session
    return Context(
        segment=segment,
        intent=profile.intent,
        cart_items=profile.cart_items,
        cart_value=profile.cart_value,
        campaign=session.campaign if session else None,
        source=session.source if session else None,
        device=session.device if session else None,
        returning=profile.history.sessions > 0,
        customer=profile.history.purchases > 0,
    )


def vector(ctx: Context) -> list[float]:
    """Features in :data:`NAMES` order; all in [0, 1] so no feature drowns the others."""
    x = [0.0] * DIM
    x[0] = 1.0
    for key in (f"seg_{ctx.segment}", f"dev_{ctx.device}", f"src_{ctx.source}"):
        i = _INDEX.get(key)
        if i is not None:
            x[i] = 1.0
    x[_INDEX["intent"]] = min(1.0, max(0.0, ctx.intent or 0.0))
    x[_INDEX["cart"]] = 1.0 if ctx.cart_items > 0 else 0.0
    x[_INDEX["cart_value"]] = min(1.0, math.log1p(max(0.0, ctx.cart_value)) / 7.0)
    x[_INDEX["returning"]] = 1.0 if ctx.returning else 0.0
    x[_INDEX["customer"]] = 1.0 if ctx.customer else 0.0
    return x
