"""When new visitors arrive: a Poisson process thinned by the hour of the day.

Its own random stream (seeded from the run seed only), so adding or changing what a visitor does
never moves when the next one arrives.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timedelta

from simulation.config import SimConfig

# Hour-of-day shape of arrivals (UTC), mean 1: quiet at night, peak in the evening.
_HOURLY = (0.35, 0.25, 0.2, 0.18, 0.2, 0.3, 0.5, 0.8, 1.0, 1.1, 1.15, 1.2,
           1.25, 1.2, 1.15, 1.15, 1.2, 1.3, 1.45, 1.6, 1.65, 1.5, 1.1, 0.7)
HOURLY = tuple(h * 24 / sum(_HOURLY) for h in _HOURLY)


@dataclass
class Spawn:
    """A new visitor arrives at ``at`` (the scheduler starts their agent)."""

    at: datetime


def arrivals(config: SimConfig) -> Generator[Spawn, None, None]:
    """Arrival times, forever: candidates at the peak rate, kept with the hour's share of it.

    >>> from datetime import UTC
    >>> config = SimConfig(seed=1, start=datetime(2026, 3, 2, 18, tzinfo=UTC))
    >>> first = next(arrivals(config))
    >>> first.at > config.start
    True
    """
    rng = random.Random(f"clickloop-sim:{config.seed}:arrivals")
    peak = config.visitors_per_hour * max(HOURLY)
    assert config.start is not None
    t = config.start
    while True:
        t += timedelta(hours=rng.expovariate(peak))
        if rng.random() * max(HOURLY) <= HOURLY[t.hour]:
            yield Spawn(t)
