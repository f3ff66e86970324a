"""Where simulated visits come from: referrers, campaigns (UTM) and the page they land on.

Each source is built so that the collector's referrer classes (search, social, email, paid,
direct, other) have one obvious answer: paid traffic always carries ``utm_medium=cpc``, email
traffic ``utm_medium=email`` and no referrer (webmail strips it), organic search and social carry
only a referrer. The ground truth records the class the simulator meant, so a report that
disagrees points at the classifier, not at ambiguous traffic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from urllib.parse import urlencode

from simulation import catalogue
from simulation.devices import weighted


@dataclass(frozen=True)
class Campaign:
    """A marketing campaign; its ``utm`` parameters go on the landing URL."""

    name: str
    source: str
    medium: str
    kind: str  # referrer class it produces: email | paid | social
    landing_category: str | None  # campaigns point at a category; None = home page
    referrer: str | None = None
    term: str | None = None

    def utm(self) -> dict[str, str]:
        out = {"utm_source": self.source, "utm_medium": self.medium, "utm_campaign": self.name}
        if self.term:
            out["utm_term"] = self.term
        return out


CAMPAIGNS = {
    c.name: c
    for c in (
        Campaign("spring-newsletter", "newsletter", "email", "email", None),
        Campaign("cart-reminder", "shop", "email", "email", None),
        Campaign("trail-season", "google", "cpc", "paid", "trail-shoes",
                 referrer="https://www.google.com/", term="trail running shoes"),
        Campaign("race-day", "facebook", "cpc", "paid", "running-shoes",
                 referrer="https://www.facebook.com/"),
        Campaign("gps-watches", "bing", "cpc", "paid", "watches",
                 referrer="https://www.bing.com/", term="gps running watch"),
    )
}

SEARCH_REFERRERS = (
    ("https://www.google.com/", 0.80),
    ("https://www.bing.com/", 0.14),
    ("https://duckduckgo.com/", 0.06),
)
SOCIAL_REFERRERS = (
    ("https://www.facebook.com/", 0.35),
    ("https://www.instagram.com/", 0.30),
    ("https://t.co/", 0.15),
    ("https://www.reddit.com/r/running/", 0.20),
)
OTHER_REFERRERS = (
    ("https://www.trailrunner-blog.example/best-trail-shoes-2026/", 0.5),
    ("https://www.marathon-forum.example/thread/4711", 0.3),
    ("https://www.outdoor-deals.example/running", 0.2),
)

# Source class shares for a first visit, a later visit, and a visit back to an abandoned cart.
FIRST_VISIT = (("search", 0.30), ("direct", 0.20), ("social", 0.15), ("paid", 0.17),
               ("email", 0.06), ("other", 0.12))
RETURN_VISIT = (("direct", 0.42), ("search", 0.22), ("email", 0.18), ("paid", 0.08),
                ("social", 0.06), ("other", 0.04))
CART_RETURN = (("email-reminder", 0.5), ("direct", 0.5))


@dataclass(frozen=True)
class Source:
    """How one visit arrives: its class, referrer, campaign and landing page."""

    kind: str  # search | social | email | paid | direct | other
    referrer: str | None
    campaign: Campaign | None
    landing: str  # path of the landing page, without UTM
    utm: dict[str, str] = field(default_factory=dict)

    def landing_url(self, shop_url: str) -> str:
        query = urlencode(self.utm)
        if not query:
            return shop_url + self.landing
        return shop_url + self.landing + ("&" if "?" in self.landing else "?") + query


def pick_source(rng: random.Random, *, visit: int, abandoned_cart: bool) -> Source:
    """The source of a visit. ``visit`` is 1 for a visitor's first visit."""
    if abandoned_cart:
        kind = weighted(rng, CART_RETURN)
        if kind == "email-reminder":
            return _campaign_source(CAMPAIGNS["cart-reminder"], landing=catalogue.CART_PATH)
        return Source("direct", None, None, catalogue.CART_PATH)
    kind = weighted(rng, FIRST_VISIT if visit == 1 else RETURN_VISIT)
    if kind == "search":
        referrer = weighted(rng, SEARCH_REFERRERS)
        return Source("search", referrer, None, _landing(rng, (0.2, 0.35, 0.45)))
    if kind == "social":
        referrer = weighted(rng, SOCIAL_REFERRERS)
        return Source("social", referrer, None, _landing(rng, (0.45, 0.15, 0.40)))
    if kind == "other":
        referrer = weighted(rng, OTHER_REFERRERS)
        return Source("other", referrer, None, _landing(rng, (0.1, 0.3, 0.6)))
    if kind == "email":
        return _campaign_source(CAMPAIGNS["spring-newsletter"], landing=catalogue.HOME_PATH)
    if kind == "paid":
        name = weighted(rng, (("trail-season", 0.45), ("race-day", 0.35), ("gps-watches", 0.2)))
        campaign = CAMPAIGNS[name]
        assert campaign.landing_category is not None
        return _campaign_source(campaign,
                                landing=catalogue.category_path(campaign.landing_category))
    return Source("direct", None, None, _landing(rng, (0.85, 0.05, 0.10)))


def _campaign_source(campaign: Campaign, *, landing: str) -> Source:
    return Source(campaign.kind, campaign.referrer, campaign, landing, campaign.utm())


def _landing(rng: random.Random, shares: tuple[float, float, float]) -> str:
    """Home, a category or a product page, with the given shares."""
    kind = weighted(rng, (("home", shares[0]), ("category", shares[1]), ("product", shares[2])))
    if kind == "home":
        return catalogue.HOME_PATH
    if kind == "category":
        return catalogue.category_path(rng.choice(sorted(catalogue.CATEGORIES)))
    return catalogue.product_path(rng.choice(sorted(catalogue.PRODUCTS)))
