"""The records the simulation hands out: who visits (:class:`Visitor`), a visit (:class:`Visit`),
each request to the collector (:class:`Request`) and the decision-API round trip
(:class:`DecisionRequest` → :class:`Decision`).

They live apart from the model that makes them so that their readers — the ground truth
(:mod:`simulation.truth`), the traffic sender (:mod:`demo.traffic`), tests — depend on plain
frozen data, not on the simulator (which imports the ground truth: no import circle).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Visitor:
    """One simulated person (or crawler) and their browser. ``key`` is the simulator's id; the
    collector assigns the real visitor id (``cl_vid``), which the traffic sender records."""

    key: str
    index: int
    kind: str  # human | nojs | bot
    device: str  # desktop | mobile | tablet | bot
    browser: str
    user_agent: str
    ip: str
    country: str | None
    language: str
    timezone: str
    screen: tuple[int, int]
    viewport: tuple[int, int]
    dnt: bool
    user_id: str | None  # has an account
    propensity: float  # latent, standard normal: how much of a buyer this person is
    runs_js: bool = True  # False: no-JS people and crawlers that only fetch the pixel

    @property
    def keeps_cookies(self) -> bool:
        """Crawlers fetch every page with an empty cookie jar."""
        return self.kind != "bot"


@dataclass(frozen=True)
class Visit:
    """One visit (a session): known when it starts."""

    visitor: Visitor
    number: int  # 1 = first visit
    session_id: str
    start: datetime
    source: str
    referrer: str | None
    campaign: str | None
    utm: Mapping[str, str]
    landing_url: str
    returning: bool
    cart_return: bool  # came back to an abandoned cart
    intent: float  # latent logit driving this visit's choices

    @property
    def key(self) -> str:
        return f"{self.visitor.key}/{self.number}"


@dataclass(frozen=True)
class Request:
    """One HTTP request to the collector, as the browser (or the shop's backend) sends it.

    ``channel``: ``js`` (snippet ``POST /v1/events``), ``pixel`` (``GET /v1/p.gif``, one
    page_view event rendered into query parameters) or ``server`` (the shop's backend through the
    Python tracker client, on the visitor's behalf). ``page_url`` is the page the browser is on.
    """

    at: datetime
    visit: Visit
    channel: str
    page_url: str
    events: tuple[dict[str, Any], ...]

    @property
    def visitor(self) -> Visitor:
        return self.visit.visitor


@dataclass(frozen=True)
class DecisionRequest:
    """The snippet asking the decision API for ``slot`` while ``page_url`` loads."""

    at: datetime
    visit: Visit
    slot: str
    page_url: str
    context: Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    """The decision API's answer: the variant shown and its id (``arm``: who chose it)."""

    decision_id: str
    variant: str
    arm: str | None = None


Decide = Callable[[DecisionRequest], Decision | None]
