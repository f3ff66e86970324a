"""The traffic simulator's visitor model: seed in, time-ordered browser requests and truth out.

Pure: nothing here touches the network or the clock (the start time is an input).
:func:`simulate` returns every request a population of visitors would make to the collector,
in simulated-time order, plus the :class:`~simulation.truth.GroundTruth` of what each visitor
did; :mod:`demo.traffic` sends those requests over HTTP.

The model, in one paragraph: visitors arrive as a Poisson process whose rate follows the hour
of the day. Each has a device and browser, a place, a latent propensity to buy, maybe an account
and maybe Do-Not-Track; a few are crawlers or browse without JavaScript. A visit comes from a
source (search, social, email, paid campaign, direct, other), lands on a page and then walks the
shop: categories, searches, products, cart, checkout, login, purchase, each step with a
probability driven by a per-visit *intent* (propensity + source + device + returning + coming
back to an abandoned cart + noise). The purchase at checkout depends on intent, cart value,
products viewed, returning and source, so what a visitor does predicts whether they buy, which is
what the online intent model has to learn. Visitors come back after more than 30 minutes (sooner
and more often when they left a full cart), with their cart, cookies and login.

Randomness is per visitor (``random.Random`` seeded from the run seed and the visitor's index)
and event ids are hashes of the seed, the visitor and a counter, so one visitor's behaviour does
not depend on how the scheduler interleaves the others, and the same seed gives the same run.

Personalization hook: when the caller passes ``decide`` (a function from a
:class:`DecisionRequest` to a :class:`Decision`), every JS page load asks it for each configured
slot, as the snippet asks the decision API, and the page sends ``personalization_shown``. With a
:class:`~simulation.variants.VariantResponse`, the first decision of a visit fixes the visit's
outcome: it converts with the probability the response gives for the variant shown, and the rest
of the visit is walked consistently with that outcome.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import random
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tracker.contract import format_timestamp
from simulation import catalogue, devices
from simulation.sources import pick_source
from simulation.truth import GroundTruth
from simulation.variants import VariantResponse

SESSION_GAP = timedelta(minutes=30)
MIN_RETURN_GAP = timedelta(minutes=31)  # strictly more than a session gap, always
MAX_PAGES = 40  # a visit this long leaves (or, if it must convert, goes straight to checkout)

# Hour-of-day shape of arrivals (UTC), mean 1: quiet at night, peak in the evening.
_HOURLY = (0.35, 0.25, 0.2, 0.18, 0.2, 0.3, 0.5, 0.8, 1.0, 1.1, 1.15, 1.2,
           1.25, 1.2, 1.15, 1.15, 1.2, 1.3, 1.45, 1.6, 1.65, 1.5, 1.1, 0.7)
HOURLY = tuple(h * 24 / sum(_HOURLY) for h in _HOURLY)

SEARCHES = (("trail", 3), ("running shoes", 3), ("jacket", 2), ("gps watch", 2),
            ("merino", 1), ("waterproof", 2), ("race", 1), ("vest", 1), ("carbon", 1),
            ("kids shoes", 1), ("yoga mat", 1))
BESTSELLERS = frozenset({"RS-1001", "RS-1003", "TS-2001", "AJ-3002", "AS-4001", "GB-5003",
                         "GW-6001"})

# Intent: how each trait moves a visit's latent intent (logit scale).
SOURCE_INTENT = {"direct": 0.25, "search": 0.0, "social": -0.45, "email": 0.5, "paid": 0.05,
                 "other": -0.2}
DEVICE_INTENT = {"desktop": 0.2, "mobile": -0.25, "tablet": 0.0}



@dataclass(frozen=True)
class SimConfig:
    """What to simulate. ``minutes`` is the simulated window: no event falls outside
    ``[start, start + minutes)``; ``max_events`` stops the run after that many events."""

    seed: int = 1
    start: datetime | None = None  # default: ``minutes`` before now, so the run ends about now
    minutes: float = 24 * 60
    max_events: int | None = None
    visitors_per_hour: float = 30.0
    shop_url: str = "http://127.0.0.1:5000"
    bot_share: float = 0.04  # of arriving visitors
    nojs_share: float = 0.03  # of human visitors: page views by the no-JS pixel only
    dnt_share: float = 0.05  # of JS visitors: send DNT: 1 (collector: cookieless)
    account_share: float = 0.35  # of JS visitors: have an account and sometimes log in
    heartbeat_s: float = 15.0  # page_ping interval while engaged (the snippet's heartbeat)
    # slots the browser asks the decision API for, on the pages that have them
    # (catalogue.SLOTS); only when the simulation is given a ``decide`` function
    slots: tuple[str, ...] = ("hero", "recommended")
    max_visits: int = 8  # per visitor

    def check(self) -> None:
        """Raise ``ValueError`` naming the first unusable field."""
        if self.minutes <= 0:
            raise ValueError(f"minutes must be > 0, got {self.minutes}")
        if self.max_events is not None and self.max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {self.max_events}")
        if self.visitors_per_hour <= 0:
            raise ValueError(f"visitors_per_hour must be > 0, got {self.visitors_per_hour}")
        for name in ("bot_share", "nojs_share", "dnt_share", "account_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.heartbeat_s <= 0:
            raise ValueError(f"heartbeat_s must be > 0, got {self.heartbeat_s}")
        if not self.shop_url.startswith(("http://", "https://")) or self.shop_url.endswith("/"):
            raise ValueError(f"shop_url must be an http(s) origin without a trailing slash, got "
                             f"{self.shop_url!r}")
        unknown = [slot for slot in self.slots if slot not in catalogue.SLOTS]
        if unknown:
            raise ValueError(f"slots {unknown} are not on any shop page; known: "
                             f"{sorted(catalogue.SLOTS)}")
        if self.max_visits < 1:
            raise ValueError(f"max_visits must be >= 1, got {self.max_visits}")

    def resolved(self, now: datetime | None = None) -> SimConfig:
        """This config with ``start`` filled in (``minutes`` before ``now``, whole seconds)."""
        if self.start is not None:
            start = self.start if self.start.tzinfo else self.start.replace(tzinfo=UTC)
            return replace(self, start=start.astimezone(UTC))
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        return replace(self, start=now - timedelta(minutes=self.minutes))

    @property
    def end(self) -> datetime:
        assert self.start is not None, "call resolved() first"
        return self.start + timedelta(minutes=self.minutes)


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


@dataclass
class _Spawn:
    at: datetime


class Simulation:
    """A run of the visitor model. Iterate :meth:`requests` once; :attr:`truth` fills as you go.

    ``decide`` is called synchronously, in simulated-time order, for every decision request,
    so it may be a live HTTP call (the traffic sender) or an in-process policy (a bandit test).
    """

    def __init__(self, config: SimConfig, *, response: VariantResponse | None = None,
                 decide: Decide | None = None, now: datetime | None = None):
        config.check()
        self.config = config.resolved(now)
        self.response = response
        self.decide = decide
        if response is not None and response.slot not in self.config.slots and decide:
            raise ValueError(f"the response model is for slot {response.slot!r}, which is not "
                             f"among the simulated slots {self.config.slots}")
        self.truth = GroundTruth(self.config)
        self._started = False

    def requests(self) -> Iterator[Request]:
        """Every request, in simulated-time order (ties: arrival order), within the bounds."""
        if self._started:
            raise RuntimeError("a Simulation runs once; build a new one to run again")
        self._started = True
        config = self.config
        end = config.end
        budget = config.max_events
        heap: list[tuple[datetime, int, Any, Any]] = []
        seq = itertools.count()

        def advance(agent: Generator[Any, Any, None], value: Any = None) -> None:
            try:
                item = agent.send(value)
            except StopIteration:
                return
            if item.at >= end:
                agent.close()
                return
            heapq.heappush(heap, (item.at, next(seq), agent, item))

        arrivals = self._arrivals()
        advance(arrivals)
        index = itertools.count()
        while heap:
            _, _, agent, item = heapq.heappop(heap)
            if isinstance(item, _Spawn):
                visitor_agent = _VisitorAgent(self, next(index), item.at).life()
                advance(visitor_agent)
                advance(agent)
            elif isinstance(item, DecisionRequest):
                decision = self.decide(item) if self.decide is not None else None
                advance(agent, decision)
            else:
                if budget is not None and len(item.events) > budget:
                    item = replace(item, events=item.events[:budget])
                self.truth.record(item)
                yield item
                if budget is not None:
                    budget -= len(item.events)
                    if budget == 0:
                        break
                advance(agent)
        for _, _, agent, _ in heap:
            agent.close()
        self.truth.close()

    def _arrivals(self) -> Generator[_Spawn, None, None]:
        """Arrival times: a Poisson process thinned by the hour-of-day shape."""
        rng = random.Random(f"clickloop-sim:{self.config.seed}:arrivals")
        peak = self.config.visitors_per_hour * max(HOURLY)
        assert self.config.start is not None
        t = self.config.start
        while True:
            t += timedelta(hours=rng.expovariate(peak))
            if rng.random() * max(HOURLY) <= HOURLY[t.hour]:
                yield _Spawn(t)


def simulate(config: SimConfig, *, response: VariantResponse | None = None,
             decide: Decide | None = None,
             now: datetime | None = None) -> tuple[list[Request], GroundTruth]:
    """Run the model to the end: all requests and the ground truth."""
    sim = Simulation(config, response=response, decide=decide, now=now)
    requests = list(sim.requests())
    return requests, sim.truth


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


# --- one visitor's life ------------------------------------------------------------------------


@dataclass
class _Page:
    kind: str  # home | category | product | search | cart | checkout | login | order
    key: str = ""  # category slug, sku, query, order id; for login: the page to return to
    after: str = ""  # login only: kind of the page to return to


@dataclass
class _VisitState:
    pages: int = 0
    product_views: int = 0
    destiny: bool | None = None  # None: free will; True/False: fixed by a variant response
    decided: bool = False
    purchased: bool = False
    outbound: bool = False  # left through an outbound link
    slot_click: bool = False  # clicked the personalized slot (goes where it links)
    pending: list[dict[str, Any]] = field(default_factory=list)  # for the next page's load batch


class _VisitorAgent:
    """Generates one visitor's requests (and decision requests) in time order."""

    def __init__(self, sim: Simulation, index: int, arrival: datetime):
        self.sim = sim
        self.config = sim.config
        self.rng = random.Random(f"clickloop-sim:{self.config.seed}:visitor:{index}")
        self.counter = itertools.count()
        self.arrival = arrival
        self.visitor = self._make_visitor(index)
        self.cart: dict[str, int] = {}  # the shop's cart (its session cookie): sku -> quantity
        self.purchases = 0
        self.logged_in = False
        self.orders = 0

    # identity -----------------------------------------------------------------------------

    def _make_visitor(self, index: int) -> Visitor:
        rng, config = self.rng, self.config
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
        user_id = f"user-{self.config.seed}-{index}" if account else None
        return Visitor(key, index, kind, device.kind, device.browser, device.user_agent, place.ip,
                       place.country, place.language, place.timezone, device.screen,
                       device.viewport, dnt, user_id, propensity, runs_js=kind == "human")

    def _uuid(self) -> str:
        digest = hashlib.sha256(
            f"{self.config.seed}:{self.visitor.key}:{next(self.counter)}".encode()
        ).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    # life ---------------------------------------------------------------------------------

    def life(self) -> Generator[Any, Any, None]:
        if self.visitor.kind == "bot":
            yield from self._crawl(self.arrival)
            return
        t = self.arrival
        number = 1
        abandoned = False
        while True:
            visit = self._start_visit(number, t, abandoned)
            end, state = yield from self._visit(visit)
            if self.visitor.kind == "nojs" or number >= self.config.max_visits:
                return
            abandoned = bool(self.cart) and not state.purchased
            p_return = (0.28 + 0.37 * abandoned + 0.12 * state.purchased) * 0.85 ** (number - 1)
            if self.rng.random() >= p_return:
                return
            if abandoned:
                gap = timedelta(hours=self.rng.uniform(1.5, 48))
            else:
                gap = timedelta(hours=min(24 * 20, self.rng.lognormvariate(math.log(40), 0.9)))
            t = end + max(gap, MIN_RETURN_GAP)
            number += 1

    def _start_visit(self, number: int, t: datetime, abandoned: bool) -> Visit:
        rng, visitor = self.rng, self.visitor
        source = pick_source(rng, visit=number, abandoned_cart=abandoned and bool(self.cart))
        if source.landing == catalogue.CART_PATH and not self.cart:
            source = replace(source, landing=catalogue.HOME_PATH)
        intent = (0.8 * visitor.propensity + SOURCE_INTENT[source.kind]
                  + DEVICE_INTENT[visitor.device] + 0.45 * (number > 1) + 0.7 * abandoned
                  + rng.gauss(0.0, 0.6) - 0.8)
        return Visit(
            visitor=visitor, number=number, session_id=self._uuid(), start=t,
            source=source.kind, referrer=source.referrer,
            campaign=source.campaign.name if source.campaign else None, utm=dict(source.utm),
            landing_url=source.landing_url(self.config.shop_url), returning=number > 1,
            cart_return=abandoned and bool(self.cart), intent=intent,
        )

    # a visit ------------------------------------------------------------------------------

    def _visit(self, visit: Visit) -> Generator[Any, Any, tuple[datetime, _VisitState]]:
        rng = self.rng
        state = _VisitState()
        page: _Page | None = self._page_for(visit.landing_url)
        url = visit.landing_url
        referrer = visit.referrer
        t = visit.start
        while page is not None:
            state.pages += 1
            if self.visitor.kind == "nojs":
                t = yield from self._pixel_page(visit, page, url, referrer, t)
            else:
                t = yield from self._js_page(visit, state, page, url, referrer, t)
            page, t = yield from self._navigate(visit, state, page, t)
            if page is not None:
                referrer = url
                url = self._url(page)
                t += timedelta(seconds=rng.uniform(0.3, 2.5))
        return t, state

    def _js_page(self, visit: Visit, state: _VisitState, page: _Page, url: str,
                 referrer: str | None, t: datetime) -> Generator[Any, Any, datetime]:
        """One page in a JS browser, as clickloop.js behaves (js_snippet/src).

        On load: the automatic page_view, then the calls the page queued (identify and cart
        events the shop renders after a form post, then the page's own product_view, search or
        begin_checkout), then personalization_shown when a decision arrives. A page_ping every
        heartbeat with the engaged time and a last one at pagehide. Transport: what the page
        queued by the end of boot goes at once (its answer sets the ``cl_vid`` cookie); after
        that the first queued event starts a one-second timer and everything queued until it
        fires goes in one batch (at most :data:`BATCH_MAX`); at pagehide whatever is queued
        goes at once.
        """
        rng = self.rng
        shown: list[dict[str, Any]] = []
        denied = self.visitor.dnt  # the snippet treats Do-Not-Track as consent denied
        if self.sim.decide is not None:
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
        elif self.sim.response is not None and not state.decided:
            context = decision_context(visit, at=t, cart_items=sum(self.cart.values()),
                                       cart_value=self._cart_value(), pages_viewed=0,
                                       purchases=self.purchases)
            self._fix_destiny(visit, state, self.sim.response.slot, context, None, t)

        load_at = t + timedelta(milliseconds=rng.randint(300, 1500))
        tick = itertools.count()
        timeline: list[tuple[datetime, dict[str, Any]]] = []

        def track(at: datetime, event_type: str, **fields: Any) -> None:
            if denied and event_type == "identify":
                return  # the snippet ignores identify under denied consent
            event = self._event(event_type, at, url=url, **fields)
            if denied:
                event.pop("user_id", None)
                event["consent"] = "denied"
            else:
                event["session_id"] = visit.session_id
            timeline.append((at, event))

        def on_load(event_type: str, **fields: Any) -> None:
            # replayed calls run a millisecond or two apart, so "A before B" never ties
            track(load_at + timedelta(milliseconds=2 * next(tick)), event_type, **fields)

        on_load("page_view", referrer=referrer, title=self._title(page), context=self._context())
        for pending in state.pending:
            on_load(pending.pop("event_type"), **pending)
        state.pending.clear()
        if page.kind == "product":
            state.product_views += 1
            on_load("product_view", product=catalogue.item(catalogue.PRODUCTS[page.key]))
        elif page.kind == "search":
            on_load("search", query=page.key)
        elif page.kind == "checkout":
            on_load("begin_checkout", products=[
                catalogue.item(catalogue.PRODUCTS[sku], qty) for sku, qty in self.cart.items()
            ])
        booted = len(timeline)  # boot ends with a flush: these go at once
        answer_at = load_at + timedelta(milliseconds=rng.randint(20, 250))
        for decision_obj in shown:
            track(answer_at, "personalization_shown", decision=decision_obj)

        dwell = self._dwell(visit, page)
        hide_at = load_at + timedelta(seconds=dwell)
        if page.kind == "product" and rng.random() < 0.15:
            at = load_at + timedelta(seconds=dwell * rng.uniform(0.2, 0.8))
            track(at, "click", target={"text": "Size guide", "kind": "element",
                                       "element_id": "size-guide"})
        if page.kind == "product" and rng.random() < 0.03:
            at = load_at + timedelta(seconds=dwell * rng.uniform(0.3, 0.9))
            track(at, "click", target={"url": self.config.shop_url + catalogue.CARE_GUIDE_PATH,
                                       "text": "Care guide (PDF)", "kind": "download"})
        must_buy = state.destiny is True and not state.purchased
        state.slot_click = bool(shown) and not must_buy and rng.random() < 0.05
        state.outbound = not state.slot_click and not must_buy and rng.random() < 0.015
        if state.slot_click:
            track(hide_at, "personalization_click", decision=shown[0])
        if state.outbound:
            track(hide_at, "click", target={"url": catalogue.INSTAGRAM_URL, "text": "Instagram",
                                            "kind": "outbound"})
        # heartbeats: engaged time per interval (active and visible), the rest at pagehide
        beat = timedelta(seconds=self.config.heartbeat_s)
        engagement = rng.uniform(0.5, 1.0)
        reported = 0
        at = load_at + beat
        while at < hide_at:
            engaged = round(beat.total_seconds() * 1000 * engagement * rng.uniform(0.85, 1.0))
            if engaged >= 1000:
                track(at, "page_ping", engaged_ms=engaged)
                reported += engaged
            at += beat
        rest = round(dwell * 1000 * engagement) - reported
        if rest >= 1000:
            track(hide_at, "page_ping", engaged_ms=min(rest, 3_600_000))

        for when, batch in _batches(timeline, hide_at, at_boot=booted):
            yield self._request(when, visit, "js", url, batch)
        return hide_at

    def _pixel_page(self, visit: Visit, page: _Page, url: str, referrer: str | None,
                    t: datetime) -> Generator[Any, Any, datetime]:
        """A no-JS page: the ``<noscript>`` pixel carries one page_view."""
        at = t + timedelta(milliseconds=self.rng.randint(200, 900))
        event = self._event("page_view", at, url=url, referrer=referrer, title=self._title(page))
        yield self._request(at, visit, "pixel", url, [event])
        return at + timedelta(seconds=self._dwell(visit, page))

    def _crawl(self, t: datetime) -> Generator[Any, Any, None]:
        """A crawler: 5-25 catalogue pages a few seconds apart, each with an empty cookie jar."""
        rng = self.rng
        visit = Visit(self.visitor, 1, self._uuid(), t, "direct", None, None, {},
                      self.config.shop_url + catalogue.HOME_PATH, False, False, 0.0)
        pages = [catalogue.HOME_PATH]
        pages += [catalogue.category_path(s) for s in sorted(catalogue.CATEGORIES)]
        pages += [catalogue.product_path(s) for s in sorted(catalogue.PRODUCTS)]
        channel = "js" if self.visitor.runs_js else "pixel"
        for _ in range(rng.randint(5, 25)):
            path = rng.choice(pages)
            url = self.config.shop_url + path
            page = self._page_for(url)
            fields: dict[str, Any] = {"url": url, "title": self._title(page)}
            if channel == "js":
                fields["session_id"] = self._uuid()  # fresh storage on every fetch
                fields["context"] = {"screen_width": 1024, "screen_height": 1024,
                                     "viewport_width": 1024, "viewport_height": 1024,
                                     "language": "en-US", "timezone": "UTC"}
            yield self._request(t, visit, channel, url, [self._event("page_view", t, **fields)])
            t += timedelta(seconds=rng.uniform(1.0, 8.0))

    # choices ------------------------------------------------------------------------------

    def _navigate(self, visit: Visit, state: _VisitState,
                  page: _Page, t: datetime) -> Generator[Any, Any, tuple[_Page | None, datetime]]:
        """Where the visitor goes after ``page`` (None: leaves), and when.

        Server-side requests the navigation causes (the order placed at checkout) are yielded
        here, at the moment the form is posted.
        """
        rng = self.rng
        z = visit.intent
        if state.outbound:
            return None, t
        if state.slot_click:  # the hero links to a category
            return _Page("category", rng.choice(sorted(catalogue.CATEGORIES))), t
        if self.visitor.kind == "nojs":
            if rng.random() < _sig(-0.6 - 0.5 * z + 0.15 * state.pages) or state.pages >= 6:
                return None, t
            return self._browse_next(page), t
        must_buy = state.destiny is True and not state.purchased
        if state.pages >= MAX_PAGES and not must_buy:
            return None, t
        if page.kind == "login":
            state.pending.append({"event_type": "identify", "user_id": self.visitor.user_id})
            self.logged_in = True
            return _Page(page.after or "home"), t
        if page.kind == "checkout":
            if (self.visitor.user_id and not self.logged_in and rng.random() < 0.5
                    and not state.purchased):
                return _Page("login", after="checkout"), t
            buy = self._buys(visit, state)
            if buy:
                order_id = self._order_id()
                request = self._purchase(visit, order_id, t)
                state.purchased = True
                yield request
                return _Page("order", order_id), request.at
            if rng.random() < 0.6:
                return None, t
            return (_Page("cart") if rng.random() < 0.6 else self._browse_next(page)), t
        if page.kind == "order":
            if rng.random() < 0.85:
                return None, t
            return _Page("home"), t
        if must_buy and state.pages >= MAX_PAGES // 2:
            return self._straight_to_checkout(state, page), t
        if not must_buy and rng.random() < self._leave_probability(visit, state, page):
            return None, t
        if page.kind == "product" and rng.random() < self._add_probability(visit, state):
            self._add_to_cart(state, page.key)
            return _Page("cart"), t
        if page.kind == "cart" and self.cart:
            if rng.random() < 0.08 and not must_buy:
                self._remove_from_cart(state)
                return _Page("cart"), t
            views = min(state.product_views, 8)
            p_checkout = 0.85 if must_buy else _sig(-0.5 + 1.0 * z + 0.15 * views)
            if state.destiny is False:
                p_checkout *= 0.7
            if rng.random() < p_checkout:
                return _Page("checkout"), t
        if (page.kind == "home" and self.visitor.user_id and not self.logged_in
                and rng.random() < 0.04):
            return _Page("login", after="home"), t
        return self._browse_next(page), t

    def _browse_next(self, page: _Page) -> _Page:
        rng = self.rng
        cart = 1.0 if self.cart else 0.0
        if page.kind == "product":
            options = (("product", 0.45), ("category", 0.22), ("search", 0.08),
                       ("home", 0.05), ("cart", 0.2 * cart))
        elif page.kind == "search":
            found = catalogue.search(page.key)
            options = (("product", 0.75 if found else 0.0), ("search", 0.12),
                       ("category", 0.25), ("cart", 0.1 * cart))
            if found and rng.random() < 0.75:
                return _Page("product", rng.choice(found).sku)
        elif page.kind == "category":
            options = (("product", 0.7), ("category", 0.15), ("search", 0.08), ("home", 0.05),
                       ("cart", 0.15 * cart))
            if rng.random() < 0.7:
                return _Page("product", self._pick_product(page.key))
        else:  # home, cart, order, checkout
            options = (("product", 0.4), ("category", 0.38), ("search", 0.14),
                       ("cart", 0.08 * cart))
        kind = devices.weighted(rng, options)
        if kind == "product":
            near = page.key if page.kind == "category" else None
            if page.kind == "product" and rng.random() < 0.6:
                near = catalogue.PRODUCTS[page.key].category
            return _Page("product", self._pick_product(near))
        if kind == "category":
            return _Page("category", rng.choice(sorted(catalogue.CATEGORIES)))
        if kind == "search":
            return _Page("search", devices.weighted(rng, tuple((q, float(w))
                                                                for q, w in SEARCHES)))
        return _Page(kind)

    def _straight_to_checkout(self, state: _VisitState, page: _Page) -> _Page:
        """A visit that must convert and has wandered long enough walks to the till."""
        if not self.cart:
            if page.kind == "product":
                self._add_to_cart(state, page.key)
                return _Page("cart")
            return _Page("product", self._pick_product(None))
        return _Page("checkout") if page.kind == "cart" else _Page("cart")

    def _pick_product(self, category: str | None) -> str:
        skus = sorted(catalogue.PRODUCTS) if category is None else [
            p.sku for p in catalogue.in_category(category)]
        weights = [3.0 if sku in BESTSELLERS else 1.0 for sku in skus]
        return self.rng.choices(skus, weights=weights)[0]

    def _leave_probability(self, visit: Visit, state: _VisitState, page: _Page) -> float:
        z = visit.intent
        if page.kind == "cart" and self.cart:
            return _sig(-1.2 - 0.8 * z)
        return _sig(-0.9 - 0.9 * z + 0.05 * state.pages)

    def _add_probability(self, visit: Visit, state: _VisitState) -> float:
        p = _sig(-3.6 + 1.0 * visit.intent + 0.55 * min(state.product_views, 6))
        if state.destiny is True and not state.purchased:
            p = max(p, 0.45)
        elif state.destiny is False:
            p *= 0.8
        return p

    def _buys(self, visit: Visit, state: _VisitState) -> bool:
        """The purchase decision at checkout: intent plus what the visit did."""
        if not self.cart or state.purchased:
            return False
        if state.destiny is not None:
            return state.destiny
        value = self._cart_value()
        logit = (0.1 + 1.1 * visit.intent + 0.45 * math.log1p(value / 50)
                 + 0.5 * visit.returning + 0.08 * min(state.product_views, 8)
                 + 0.4 * (visit.source == "email") - 0.3 * (self.visitor.device == "mobile"))
        return self.rng.random() < _sig(logit)

    def _fix_destiny(self, visit: Visit, state: _VisitState, slot: str,
                     context: Mapping[str, Any], decision: Decision | None,
                     at: datetime) -> None:
        """Record a decision; the first one on the response's slot fixes the visit's outcome."""
        response = self.sim.response
        if response is None or slot != response.slot:
            self.sim.truth.record_decision(visit, at, slot, decision, context, None, None)
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
        self.sim.truth.record_decision(visit, at, slot, decision, context, probabilities,
                                       state.destiny if first else None)

    # cart and order -----------------------------------------------------------------------

    def _add_to_cart(self, state: _VisitState, sku: str) -> None:
        quantity = 2 if self.rng.random() < 0.1 else 1
        self.cart[sku] = self.cart.get(sku, 0) + quantity
        state.pending.append({"event_type": "add_to_cart",
                              "product": catalogue.item(catalogue.PRODUCTS[sku], quantity)})

    def _remove_from_cart(self, state: _VisitState) -> None:
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

    # building blocks ----------------------------------------------------------------------

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

    def _dwell(self, visit: Visit, page: _Page) -> float:
        """Seconds on a page: longer on products and checkout, longer with more intent."""
        median = {"home": 14, "category": 18, "search": 15, "product": 32, "cart": 20,
                  "checkout": 55, "login": 18, "order": 25}[page.kind]
        if self.visitor.device == "mobile":
            median *= 0.8
        seconds = self.rng.lognormvariate(math.log(median), 0.6) * math.exp(0.15 * visit.intent)
        return min(max(seconds, 2.0), 480.0)

    def _url(self, page: _Page) -> str:
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

    def _page_for(self, url: str) -> _Page:
        path = url[len(self.config.shop_url):].split("?", 1)[0]
        if path.startswith("/c/"):
            return _Page("category", path[3:])
        if path.startswith("/p/"):
            return _Page("product", path[3:])
        if path == catalogue.CART_PATH:
            return _Page("cart")
        return _Page("home")

    def _title(self, page: _Page) -> str:
        return catalogue.page_title(page.kind, page.key)


BATCH_DELAY = timedelta(seconds=1)  # clickloop.js `delay`
BATCH_MAX = 20  # clickloop.js `batch`


def _batches(timeline: list[tuple[datetime, dict[str, Any]]], hide_at: datetime,
             at_boot: int = 0) -> list[tuple[datetime, list[dict[str, Any]]]]:
    """Group a page's events into requests the way clickloop.js's transport does.

    The first ``at_boot`` events of ``timeline`` are what the page queued while the snippet
    booted (the page view and the replayed calls): boot ends with a flush, so they go at once,
    by ``fetch``, whose answer sets the ``cl_vid`` cookie (Chromium keeps none from a beacon).
    After that the first event in an empty queue starts a :data:`BATCH_DELAY` timer, a full
    batch goes at once, and pagehide sends whatever is queued.
    """
    out: list[tuple[datetime, list[dict[str, Any]]]] = []
    boot, rest = timeline[:at_boot], timeline[at_boot:]
    if boot:
        flushed = max(at for at, _ in boot)
        events = [event for _, event in boot]
        out.extend((flushed, events[i:i + BATCH_MAX]) for i in range(0, len(events), BATCH_MAX))
    batch: list[dict[str, Any]] = []
    due: datetime | None = None
    for at, event in sorted(rest, key=lambda pair: pair[0]):  # stable: load order kept
        if due is not None and at > due:
            out.append((due, batch))
            batch, due = [], None
        if due is None:
            due = min(at + BATCH_DELAY, hide_at)
        batch.append(event)
        if len(batch) == BATCH_MAX:
            out.append((at, batch))
            batch, due = [], None
    if batch:
        assert due is not None
        out.append((due, batch))
    return out


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
