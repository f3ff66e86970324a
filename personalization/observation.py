"""One Kafka record → an :class:`Observation`: the few fields of an event the worker uses.

The collector has validated and enriched every event on the topic, so this is a reader, not a
validator: it picks fields, converts the timestamp once, and refuses (with a reason) only what
it cannot use at all (not JSON, no visitor, no time). Event time is ``enrichment.derived_ts``
(skew-corrected) when present, else ``client_ts``: a visitor's phone clock set to last year must
not close or reopen sessions.

Decoding was a quarter of the worker's time per event, so it takes the short roads: orjson
(the standard library's decoder only for what orjson refuses, such as integers beyond 64 bits),
and the collector's canonical timestamps (``2026-11-02T19:43:56.179Z``) read from a cache of
the hour they fall in (:func:`event_time`); anything else goes through the contract's parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from tracker.contract import parse_timestamp

HOURS_CACHED = 4096  # distinct hours remembered by event_time (a replay spans a few)


class UnusableEvent(ValueError):
    """A record the worker cannot learn from; the message says why (it is counted and logged)."""


class NoVisitor(UnusableEvent):
    """A valid event without a visitor id (a site backend's event under denied consent):
    nothing to personalize, and nothing wrong either (counted, not logged)."""


@dataclass(slots=True)
class Item:
    """A product as events describe it (``product``, ``order.items``, ``products``)."""

    sku: str
    name: str | None = None
    category: str | None = None
    price: float | None = None
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class DecisionRef:
    """The decision a ``personalization_*`` event reports (see the contract's ``decision``)."""

    decision_id: str
    slot: str
    variant: str
    arm: str | None


@dataclass(slots=True)
class Observation:
    """What the worker reads from one event. Treat it as read-only: it is not ``frozen`` only
    because a frozen dataclass costs five times as much to build, and one is built per event."""

    event_id: str
    event_type: str
    visitor_id: str
    ts: float  # event time, epoch seconds (UTC)
    session_id: str | None = None
    user_id: str | None = None
    url: str | None = None
    product: Item | None = None
    products: tuple[Item, ...] = ()
    order_id: str | None = None
    revenue: float = 0.0
    order_items: tuple[Item, ...] = ()
    query: str | None = None
    engaged_ms: int = 0
    decision: DecisionRef | None = None
    device: str | None = None
    source: str | None = None  # enrichment.referrer_class
    campaign: str | None = None  # enrichment.utm.campaign
    is_bot: bool = False
    # a past event from ``clickloop import`` (the record's ``clickloop-import`` header, set by
    # the worker: the event itself cannot say it, see tracker.topic_headers)
    imported: bool = False


def read_record(value: bytes | str | dict[str, Any]) -> Observation:
    """Parse a Kafka record value (JSON) or an already decoded event."""
    if isinstance(value, dict):
        event = value
    else:
        try:
            event = orjson.loads(value)
        except orjson.JSONDecodeError:
            try:
                event = json.loads(value)
            except (ValueError, UnicodeDecodeError) as exc:
                raise UnusableEvent(f"not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise UnusableEvent(f"not a JSON object but {type(event).__name__}")
    return observe(event)


def observe(event: dict[str, Any]) -> Observation:
    """The :class:`Observation` of a decoded contract event."""
    event_type = event.get("event_type")
    if not isinstance(event_type, str):
        raise UnusableEvent("event_type missing")
    visitor_id = event.get("visitor_id")
    if not isinstance(visitor_id, str) or not visitor_id:
        raise NoVisitor("visitor_id missing (events without a visitor are not personalized)")
    get = event.get
    enrichment = get("enrichment") or {}
    ts = event_time(enrichment.get("derived_ts"))
    if ts is None:
        ts = event_time(get("client_ts"))
        if ts is None:
            raise UnusableEvent("neither enrichment.derived_ts nor client_ts is a timestamp")
    ua = enrichment.get("ua") or {}
    utm = enrichment.get("utm")
    order = get("order")
    device = _str(ua.get("device"))
    # absent fields (most of them, on most events) skip their reader
    obs = Observation(str(get("event_id") or ""), event_type, visitor_id, ts,
                      _str(get("session_id")), _str(get("user_id")), _str(get("url")),
                      device=device, source=_str(enrichment.get("referrer_class")),
                      is_bot=bool(ua.get("is_bot")) or device == "bot")
    if utm:
        obs.campaign = _str(utm.get("campaign"))
    product = get("product")
    if product is not None:
        obs.product = _item(product)
    products = get("products")
    if products:
        obs.products = _items(products)
    if isinstance(order, dict):
        obs.order_id = _str(order.get("order_id"))
        obs.revenue = _money(order.get("revenue"))
        obs.order_items = _items(order.get("items"))
    if "query" in event:
        obs.query = _str(event["query"])
    if "engaged_ms" in event:
        obs.engaged_ms = _int(event["engaged_ms"])
    decision = get("decision")
    if decision is not None:
        obs.decision = _decision(decision)
    return obs


_hours: dict[str, int] = {}


def event_time(value: Any) -> float | None:
    """Epoch seconds of a contract timestamp, None if it is not one.

    Same answer as :func:`tracker.contract.parse_timestamp` (the tests check both on many
    forms); the canonical form costs a slice, a dict lookup and two small ints.

    >>> event_time("1970-01-01T01:00:02.500Z"), event_time("1970-01-01T01:00:02.5+00:00")
    (3602.5, 3602.5)
    >>> event_time("yesterday") is None
    True
    """
    if (type(value) is str and len(value) == 24 and value[23] == "Z" and value[13] == ":"
            and value[16] == ":" and value[19] == "." and value.isascii()):
        minutes, seconds, millis = value[14:16], value[17:19], value[20:23]
        if minutes.isdigit() and seconds.isdigit() and millis.isdigit() \
                and int(minutes) < 60 and int(seconds) < 60:
            hour = _hours.get(value[:13])
            if hour is None:
                moment = parse_timestamp(value[:13] + ":00:00.000Z")
                if moment is not None:
                    if len(_hours) >= HOURS_CACHED:
                        _hours.clear()
                    hour = _hours[value[:13]] = int(moment.timestamp())
            if hour is not None:
                # one division of exact integers: the very float datetime.timestamp() gives
                whole = hour + int(minutes) * 60 + int(seconds)
                return (whole * 1000 + int(millis)) / 1000
    moment = parse_timestamp(value)
    return None if moment is None else moment.timestamp()


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _money(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return 0.0


def _item(value: Any) -> Item | None:
    if not isinstance(value, dict) or not _str(value.get("sku")):
        return None
    price = value.get("price")
    quantity = value.get("quantity")
    return Item(
        sku=value["sku"],
        name=_str(value.get("name")),
        category=_str(value.get("category")),
        price=float(price) if isinstance(price, int | float) and not isinstance(price, bool)
        else None,
        quantity=quantity if isinstance(quantity, int) and quantity > 0 else 1,
    )


def _items(value: Any) -> tuple[Item, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in map(_item, value) if item is not None)


def _decision(value: Any) -> DecisionRef | None:
    if not isinstance(value, dict):
        return None
    decision_id, slot, variant = (_str(value.get(k)) for k in ("decision_id", "slot", "variant"))
    if not (decision_id and slot and variant):
        return None
    return DecisionRef(decision_id, slot, variant, _str(value.get("arm")))
