"""What a browser sends for one page: JS pages as clickloop.js does, the no-JS pixel, crawlers.

A JS page is built in the order the snippet acts, because every random draw must come in the
same order for a seed to reproduce a run: ask for decisions (:mod:`.decisions`), load (page view,
replayed calls, the page's own event, ``personalization_shown``), interactions during the dwell
(clicks, the personalized slot, an outbound link), heartbeats, then the transport's batches
(:mod:`.transport`).
"""

from __future__ import annotations

import itertools
from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any

from simulation import catalogue
from simulation.browser import Browser, Page, VisitState
from simulation.decisions import Deciding
from simulation.records import Visit
from simulation.transport import batches

CRAWLER_CONTEXT = {"screen_width": 1024, "screen_height": 1024, "viewport_width": 1024,
                   "viewport_height": 1024, "language": "en-US", "timezone": "UTC"}


class _Timeline:
    """A page's events with the moments the snippet queues them, under the visitor's consent."""

    def __init__(self, browser: Browser, visit: Visit, url: str, load_at: datetime):
        self.browser = browser
        self.visit = visit
        self.url = url
        self.load_at = load_at
        self.denied = browser.visitor.dnt  # the snippet treats Do-Not-Track as consent denied
        self.events: list[tuple[datetime, dict[str, Any]]] = []
        self._tick = itertools.count()

    def track(self, at: datetime, event_type: str, **fields: Any) -> None:
        if self.denied and event_type == "identify":
            return  # the snippet ignores identify under denied consent
        event = self.browser._event(event_type, at, url=self.url, **fields)
        if self.denied:
            event.pop("user_id", None)
            event["consent"] = "denied"
        else:
            event["session_id"] = self.visit.session_id
        self.events.append((at, event))

    def on_load(self, event_type: str, **fields: Any) -> None:
        # replayed calls run a millisecond or two apart, so "A before B" never ties
        self.track(self.load_at + timedelta(milliseconds=2 * next(self._tick)), event_type,
                   **fields)


class Pages(Deciding):
    """The page requests of the visitor agent (see :mod:`simulation.browser`)."""

    def _js_page(self, visit: Visit, state: VisitState, page: Page, url: str,
                 referrer: str | None, t: datetime) -> Generator[Any, Any, datetime]:
        """One page in a JS browser, as clickloop.js behaves (js_snippet/src).

        Transport: what the page queued by the end of boot goes at once (its answer sets the
        ``cl_vid`` cookie); after that the first queued event starts a one-second timer and
        everything queued until it fires goes in one batch; at pagehide whatever is queued
        goes at once.
        """
        shown = yield from self._ask_decisions(visit, state, page, url, t)
        load_at = t + timedelta(milliseconds=self.rng.randint(300, 1500))
        timeline = _Timeline(self, visit, url, load_at)
        booted = self._load(timeline, state, page, referrer, shown)
        dwell = self._dwell(visit, page)
        hide_at = load_at + timedelta(seconds=dwell)
        self._interact(timeline, state, page, shown, dwell, hide_at)
        self._heartbeats(timeline, dwell, hide_at)
        for when, batch in batches(timeline.events, hide_at, at_boot=booted):
            yield self._request(when, visit, "js", url, batch)
        return hide_at

    def _load(self, timeline: _Timeline, state: VisitState, page: Page, referrer: str | None,
              shown: list[dict[str, Any]]) -> int:
        """On load: the automatic page_view, the calls the page queued (identify and cart
        events the shop renders after a form post), the page's own product_view, search or
        begin_checkout; then personalization_shown when the decisions arrive. Returns how many
        events boot flushes at once."""
        on_load = timeline.on_load
        on_load("page_view", referrer=referrer, title=self._title(page),
                context=self._context())
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
        booted = len(timeline.events)  # boot ends with a flush: these go at once
        answer_at = timeline.load_at + timedelta(milliseconds=self.rng.randint(20, 250))
        for decision_obj in shown:
            timeline.track(answer_at, "personalization_shown", decision=decision_obj)
        return booted

    def _interact(self, timeline: _Timeline, state: VisitState, page: Page,
                  shown: list[dict[str, Any]], dwell: float, hide_at: datetime) -> None:
        """Clicks during the dwell; whether the visit leaves by the personalized slot or by an
        outbound link (the navigation follows either)."""
        rng, load_at, track = self.rng, timeline.load_at, timeline.track
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

    def _heartbeats(self, timeline: _Timeline, dwell: float, hide_at: datetime) -> None:
        """A page_ping every heartbeat with the engaged time (active and visible), and the rest
        at pagehide."""
        rng = self.rng
        beat = timedelta(seconds=self.config.heartbeat_s)
        engagement = rng.uniform(0.5, 1.0)
        reported = 0
        at = timeline.load_at + beat
        while at < hide_at:
            engaged = round(beat.total_seconds() * 1000 * engagement * rng.uniform(0.85, 1.0))
            if engaged >= 1000:
                timeline.track(at, "page_ping", engaged_ms=engaged)
                reported += engaged
            at += beat
        rest = round(dwell * 1000 * engagement) - reported
        if rest >= 1000:
            timeline.track(hide_at, "page_ping", engaged_ms=min(rest, 3_600_000))

    def _pixel_page(self, visit: Visit, page: Page, url: str, referrer: str | None,
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
                fields["context"] = dict(CRAWLER_CONTEXT)
            yield self._request(t, visit, channel, url, [self._event("page_view", t, **fields)])
            t += timedelta(seconds=rng.uniform(1.0, 8.0))
