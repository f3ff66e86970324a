"""The simulation's entry point and scheduler: seed in, time-ordered requests and truth out.

Pure: nothing here touches the network or the clock (the start time is an input).
:func:`simulate` returns every request a population of visitors would make to the collector,
in simulated-time order, plus the :class:`~simulation.truth.GroundTruth` of what each visitor
did; :mod:`demo.traffic` sends those requests over HTTP.

The model, in one paragraph: visitors arrive as a Poisson process whose rate follows the hour
of the day (:mod:`.arrivals`). Each has a device and browser, a place, a latent propensity to
buy, maybe an account and maybe Do-Not-Track; a few are crawlers or browse without JavaScript
(:mod:`.visitors`). A visit comes from a source (search, social, email, paid campaign, direct,
other), lands on a page and then walks the shop (:mod:`.navigation`): categories, searches,
products, cart, checkout, login, purchase, each step with a probability driven by a per-visit
*intent* (propensity + source + device + returning + coming back to an abandoned cart + noise).
The purchase at checkout depends on intent, cart value, products viewed, returning and source,
so what a visitor does predicts whether they buy, which is what the online intent model has to
learn. Visitors come back after more than 30 minutes (sooner and more often when they left a
full cart), with their cart, cookies and login (:mod:`.agent`).

Randomness is per visitor (``random.Random`` seeded from the run seed and the visitor's index)
and event ids are hashes of the seed, the visitor and a counter, so one visitor's behaviour does
not depend on how the scheduler interleaves the others, and the same seed gives the same run.
This module only interleaves the visitors' generators by time and applies the bounds.

Personalization hook: when the caller passes ``decide`` (a function from a
:class:`~simulation.records.DecisionRequest` to a :class:`~simulation.records.Decision`), every
JS page load asks it for each configured slot, as the snippet asks the decision API, and the page
sends ``personalization_shown``. With a :class:`~simulation.variants.VariantResponse`, the first
decision of a visit fixes the visit's outcome (:mod:`.decisions`).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Generator, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from simulation.agent import VisitorAgent
from simulation.arrivals import Spawn, arrivals
from simulation.config import SimConfig
from simulation.records import Decide, DecisionRequest, Request
from simulation.truth import GroundTruth
from simulation.variants import VariantResponse


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

        advance(arrivals(config))
        index = itertools.count()
        while heap:
            _, _, agent, item = heapq.heappop(heap)
            if isinstance(item, Spawn):
                visitor_agent = VisitorAgent(config, next(index), item.at, truth=self.truth,
                                             response=self.response,
                                             decide=self.decide).life()
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


def simulate(config: SimConfig, *, response: VariantResponse | None = None,
             decide: Decide | None = None,
             now: datetime | None = None) -> tuple[list[Request], GroundTruth]:
    """Run the model to the end: all requests and the ground truth."""
    sim = Simulation(config, response=response, decide=decide, now=now)
    requests = list(sim.requests())
    return requests, sim.truth
