"""One visitor's browser state and the building blocks every part of their behaviour uses.

:class:`Browser` is the base of the visitor agent (:mod:`simulation.agent`): it owns the
visitor's random stream, event-id counter, cart, login and order count, and builds events,
requests, URLs and dwell times. The behaviour on top of it is split by concern —
:mod:`.cart`, :mod:`.decisions`, :mod:`.navigation`, :mod:`.pages` — and all of it draws from
the one ``rng`` in one fixed order, which is what makes a seed reproduce a run exactly.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simulation import catalogue
from simulation.config import SimConfig
from simulation.records import Decide, Request, Visit, Visitor
from simulation.truth import GroundTruth
from simulation.variants import VariantResponse
from simulation.visitors import make_visitor
from tracker.contract import format_timestamp


@dataclass
class Page:
    """A page the visitor is on or goes to (the URL is derived from it)."""

    kind: str  # home | category | product | search | cart | checkout | login | order
    key: str = ""  # category slug, sku, query, order id; for login: the page to return to
    after: str = ""  # login only: kind of the page to return to


@dataclass
class VisitState:
    """What a visit has done so far; drives the next choices."""

    pages: int = 0
    product_views: int = 0
    destiny: bool | None = None  # None: free will; True/False: fixed by a variant response
    decided: bool = False
    purchased: bool = False
    outbound: bool = False  # left through an outbound link
    slot_click: bool = False  # clicked the personalized slot (goes where it links)
    pending: list[dict[str, Any]] = field(default_factory=list)  # for the next page's load batch


class Browser:
    """A visitor's browser and shop session; see the module docstring.

    ``truth`` receives the decisions (the scheduler records the requests), ``response`` is the
    variant response that fixes a visit's outcome, ``decide`` says whether pages ask the
    decision API (the scheduler answers; the agent only yields the question).
    """

    def __init__(self, config: SimConfig, index: int, arrival: datetime, *, truth: GroundTruth,
                 response: VariantResponse | None, decide: Decide | None):
        self.config = config
        self.truth = truth
        self.response = response
        self.decide = decide
        self.rng = random.Random(f"clickloop-sim:{config.seed}:visitor:{index}")
        self.counter = itertools.count()
        self.arrival = arrival
        self.visitor: Visitor = make_visitor(self.rng, config, index)
        self.cart: dict[str, int] = {}  # the shop's cart (its session cookie): sku -> quantity
        self.purchases = 0
        self.logged_in = False
        self.orders = 0

    def _uuid(self) -> str:
        digest = hashlib.sha256(
            f"{self.config.seed}:{self.visitor.key}:{next(self.counter)}".encode()
        ).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def _event(self, event_type: str, at: datetime, **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "schema_version": 1,
            "event_id": self._uuid(),
            "event_type": event_type,
            "client_ts": format_timestamp(at),
        }
        if self.logged_in and self.visitor.user_id and "user_id" not in fields:
            event["user_id"] = self.visitor.user_id
        event.update({k: v for k, v in fields.items() if v is not None})
        return event

    def _request(self, at: datetime, visit: Visit, channel: str, page_url: str,
                 events: list[dict[str, Any]]) -> Request:
        sent = format_timestamp(at)
        if channel != "pixel":
            for event in events:
                event["sent_ts"] = sent
        return Request(at, visit, channel, page_url, tuple(events))

    def _context(self) -> dict[str, Any]:
        v = self.visitor
        return {"screen_width": v.screen[0], "screen_height": v.screen[1],
                "viewport_width": v.viewport[0], "viewport_height": v.viewport[1],
                "language": v.language, "timezone": v.timezone}

    def _dwell(self, visit: Visit, page: Page) -> float:
        """Seconds on a page: longer on products and checkout, longer with more intent."""
        median = {"home": 14, "category": 18, "search": 15, "product": 32, "cart": 20,
                  "checkout": 55, "login": 18, "order": 25}[page.kind]
        if self.visitor.device == "mobile":
            median *= 0.8
        seconds = self.rng.lognormvariate(math.log(median), 0.6) * math.exp(0.15 * visit.intent)
        return min(max(seconds, 2.0), 480.0)

    def _url(self, page: Page) -> str:
        base = self.config.shop_url
        return base + {
            "home": lambda: catalogue.HOME_PATH,
            "category": lambda: catalogue.category_path(page.key),
            "product": lambda: catalogue.product_path(page.key),
            "search": lambda: catalogue.search_path(page.key),
            "cart": lambda: catalogue.CART_PATH,
            "checkout": lambda: catalogue.CHECKOUT_PATH,
            "login": lambda: catalogue.login_path(self._path_of(page.after)),
            "order": lambda: catalogue.order_path(page.key),
        }[page.kind]()

    def _path_of(self, kind: str) -> str:
        """Path of a page without a key (login returns to the checkout or the home page)."""
        return {"checkout": catalogue.CHECKOUT_PATH, "cart": catalogue.CART_PATH}.get(
            kind, catalogue.HOME_PATH)

    def _page_for(self, url: str) -> Page:
        path = url[len(self.config.shop_url):].split("?", 1)[0]
        if path.startswith("/c/"):
            return Page("category", path[3:])
        if path.startswith("/p/"):
            return Page("product", path[3:])
        if path == catalogue.CART_PATH:
            return Page("cart")
        return Page("home")

    def _title(self, page: Page) -> str:
        return catalogue.page_title(page.kind, page.key)

