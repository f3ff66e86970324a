"""Who visits and what each visit brings: the population model shared by every simulation.

A visitor is a crawler, a no-JS browser or a person with a device, a place, maybe an account and
Do-Not-Track, and a latent *propensity* to buy (standard normal). Each visit has a latent
*intent* (logit scale): propensity plus what the traffic source, the device, returning and coming
back to an abandoned cart say about buying, plus noise. The demo simulator walks the shop with it;
the intent-model stream (:mod:`simulation.intent_stream`) draws its purchases from the same
tables, so both benches judge the model against one definition of "who buys".
"""

from __future__ import annotations

import random

from simulation import devices
from simulation.config import SimConfig
from simulation.records import Visitor

# Intent: how each trait moves a visit's latent intent (logit scale).
SOURCE_INTENT = {"direct": 0.25, "search": 0.0, "social": -0.45, "email": 0.5, "paid": 0.05,
                 "other": -0.2}
DEVICE_INTENT = {"desktop": 0.2, "mobile": -0.25, "tablet": 0.0}


def make_visitor(rng: random.Random, config: SimConfig, index: int) -> Visitor:
    """Draw visitor ``index`` (crawler, no-JS or human; device, place, account, DNT).

    >>> v = make_visitor(random.Random(1), SimConfig(seed=1), 7)
    >>> v.key, v.kind in ("human", "nojs", "bot")
    ('v000007', True)
    """
    key = f"v{index:06d}"
    propensity = rng.gauss(0.0, 1.0)
    if rng.random() < config.bot_share:
        crawler = devices.pick_crawler(rng)
        return Visitor(key, index, "bot", "bot", crawler.name, crawler.user_agent,
                       f"{crawler.ip_prefix}{rng.randrange(1, 255)}", None, "en-US", "UTC",
                       (1024, 1024), (1024, 1024), False, None, propensity,
                       runs_js=crawler.renders_js)
    device = devices.pick_device(rng)
    place = devices.pick_place(rng)
    kind = "nojs" if rng.random() < config.nojs_share else "human"
    dnt = kind == "human" and rng.random() < config.dnt_share
    account = kind == "human" and rng.random() < config.account_share
    user_id = f"user-{config.seed}-{index}" if account else None
    return Visitor(key, index, kind, device.kind, device.browser, device.user_agent, place.ip,
                   place.country, place.language, place.timezone, device.screen,
                   device.viewport, dnt, user_id, propensity, runs_js=kind == "human")


def visit_intent(rng: random.Random, *, propensity: float, source: str, device: str,
                 returning: bool, abandoned_cart: bool, noise: float = 0.6) -> float:
    """A visit's latent intent (logit): the traits' shifts plus ``noise`` (a normal draw).

    >>> round(visit_intent(random.Random(0), propensity=0.0, source="email", device="desktop",
    ...                    returning=True, abandoned_cart=False, noise=0.0), 2)
    0.35
    """
    # one expression, in this order: the demo's runs depend on its floating-point result
    return (0.8 * propensity + SOURCE_INTENT[source]
            + DEVICE_INTENT[device] + 0.45 * returning + 0.7 * abandoned_cart
            + rng.gauss(0.0, noise) - 0.8)
