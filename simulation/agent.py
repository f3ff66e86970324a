"""One visitor's life: visits separated by more than a session gap, each a walk of pages.

The agent is a generator the scheduler (:mod:`simulation.simulator`) drives in simulated-time
order: it yields :class:`~simulation.records.Request` objects (the scheduler records and hands
them out) and :class:`~simulation.records.DecisionRequest` objects (the scheduler answers them
with the ``decide`` function). Visitors come back after more than 30 minutes — sooner and more
often when they left a full cart — with their cart, cookies and login. With
``SimConfig.repurchase_days`` (months of history) customers also come back weeks after a
purchase for their next one, so repeat buyers, lapsed customers and monthly cohorts appear.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from simulation import catalogue
from simulation.browser import Page, VisitState
from simulation.config import MIN_RETURN_GAP
from simulation.navigation import Navigation
from simulation.pages import Pages
from simulation.records import Visit
from simulation.sources import pick_source
from simulation.visitors import visit_intent


class VisitorAgent(Pages, Navigation):
    """Generates one visitor's requests (and decision requests) in time order."""

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
            cycle = self._next_cycle(state.purchased)
            if cycle is not None:
                t = end + cycle
                number += 1
                continue
            p_return = (0.28 + 0.37 * abandoned + 0.12 * state.purchased) * 0.85 ** (number - 1)
            if self.rng.random() >= p_return:
                return
            if abandoned:
                gap = timedelta(hours=self.rng.uniform(1.5, 48))
            else:
                gap = timedelta(hours=min(24 * 20, self.rng.lognormvariate(math.log(40), 0.9)))
            t = end + max(gap, MIN_RETURN_GAP)
            number += 1

    def _next_cycle(self, purchased: bool) -> timedelta | None:
        """The gap to a customer's next buying cycle, or None. Only with
        ``config.repurchase_days`` (months of history): otherwise no random draw is made, so
        a live run's visitors behave exactly as without it."""
        days = self.config.repurchase_days
        if days is None or not purchased:
            return None
        if self.rng.random() >= self.config.repurchase_share:
            return None
        return max(timedelta(days=self.rng.lognormvariate(math.log(days), 0.5)),
                   MIN_RETURN_GAP)

    def _start_visit(self, number: int, t: datetime, abandoned: bool) -> Visit:
        rng, visitor = self.rng, self.visitor
        source = pick_source(rng, visit=number, abandoned_cart=abandoned and bool(self.cart))
        if source.landing == catalogue.CART_PATH and not self.cart:
            source = replace(source, landing=catalogue.HOME_PATH)
        intent = visit_intent(rng, propensity=visitor.propensity, source=source.kind,
                              device=visitor.device, returning=number > 1,
                              abandoned_cart=abandoned)
        return Visit(
            visitor=visitor, number=number, session_id=self._uuid(), start=t,
            source=source.kind, referrer=source.referrer,
            campaign=source.campaign.name if source.campaign else None, utm=dict(source.utm),
            landing_url=source.landing_url(self.config.shop_url), returning=number > 1,
            cart_return=abandoned and bool(self.cart), intent=intent,
        )

    def _visit(self, visit: Visit) -> Generator[Any, Any, tuple[datetime, VisitState]]:
        rng = self.rng
        state = VisitState()
        page: Page | None = self._page_for(visit.landing_url)
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
