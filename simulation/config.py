"""What to simulate (:class:`SimConfig`) and the time constants every part of the model shares.

Kept apart from the model so that the ground truth (:mod:`simulation.truth`), the request records
(:mod:`simulation.records`) and the visitor model can all read a config without importing each
other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from simulation import catalogue

SESSION_GAP = timedelta(minutes=30)
MIN_RETURN_GAP = timedelta(minutes=31)  # strictly more than a session gap, always
MAX_PAGES = 40  # a visit this long leaves (or, if it must convert, goes straight to checkout)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. ``minutes`` is the simulated window: no event falls outside
    ``[start, start + minutes)``; ``max_events`` stops the run after that many events.

    >>> config = SimConfig(start=datetime(2026, 3, 2, tzinfo=UTC), minutes=90)
    >>> config.check()
    >>> config.end.isoformat()
    '2026-03-02T01:30:00+00:00'
    """

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
    # Buying cycles, for months of history (the demo's imported past): after a visit with a
    # purchase the customer comes back for another one with ``repurchase_share`` probability,
    # after a log-normal gap around ``repurchase_days`` days. None (the live demo's default):
    # visitors only come back within days, as in :mod:`simulation.agent`.
    repurchase_days: float | None = None
    repurchase_share: float = 0.6

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
        if self.repurchase_days is not None and self.repurchase_days <= 0:
            raise ValueError(f"repurchase_days must be > 0, got {self.repurchase_days}")
        if not 0 <= self.repurchase_share <= 1:
            raise ValueError(f"repurchase_share must be between 0 and 1, got "
                             f"{self.repurchase_share}")

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
