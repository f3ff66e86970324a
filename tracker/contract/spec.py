"""The event contract v1, declared once.

Everything else is derived from the declarations in this module: the Python validator
(:mod:`tracker.contract.validate`), the JSON Schema (:mod:`tracker.contract.jsonschema`) and the
Spark schema (:mod:`tracker.contract.spark`). Changing a field here changes all three, which is
the point: the browser, a backend and an old log line all become the same record.

The ``enrichment`` block is written by the collector (or the log parser), never trusted from a
client: the collector replaces whatever a client sends there.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Limits:
    """Sizes the contract allows. The collector enforces them; they are documented for users."""

    max_body_bytes: int = 512 * 1024  # one POST /v1/events body
    max_batch_events: int = 200  # events in one batch
    max_event_bytes: int = 32 * 1024  # one serialised event
    max_depth: int = 6  # JSON nesting, counting the batch object itself
    max_properties: int = 50  # keys in `properties`
    max_property_key: int = 64
    max_property_value: int = 512
    max_items: int = 100  # products in an order or a product list
    max_past_days: int = 30  # client_ts older than this (vs collector time) is rejected
    max_future_minutes: int = 24 * 60  # client_ts further ahead than this is rejected


LIMITS = Limits()


# --- field kinds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Str:
    max_len: int
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    hint: str = ""  # human wording of the pattern, used in error messages


@dataclass(frozen=True)
class Int:
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class Num:
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Bool:
    pass


@dataclass(frozen=True)
class Timestamp:
    """RFC 3339 date-time with a time zone, e.g. ``2026-11-23T10:00:00.123Z``."""


@dataclass(frozen=True)
class Const:
    value: int


@dataclass(frozen=True)
class Obj:
    fields: MappingProxyType  # name -> Field
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class Arr:
    item: Any
    max_items: int


@dataclass(frozen=True)
class Props:
    """Free-form properties: a bounded map of short keys to scalars."""

    max_keys: int
    key_max_len: int
    value_max_len: int


@dataclass(frozen=True)
class Field:
    kind: Any
    doc: str = ""
    client: bool = True  # False: written by the collector, not accepted from clients


def obj(required: tuple[str, ...] = (), **fields: Field) -> Obj:
    return Obj(MappingProxyType(fields), required)


# --- shared shapes -----------------------------------------------------------------------------

ID_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
ID_HINT = "letters, digits and _ . : - only"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
CURRENCY = Str(3, pattern=r"^[A-Z]{3}$", hint="an ISO 4217 code such as EUR")
URL = Str(2048, pattern=r"^https?://", hint="an http(s) URL")
MONEY = Num(minimum=0, maximum=1e9)

PRODUCT = obj(
    ("sku",),
    sku=Field(Str(64), "Stock keeping unit, the item id."),
    name=Field(Str(256), "Product name."),
    category=Field(Str(256), "Category path, e.g. `Shoes/Running`."),
    price=Field(MONEY, "Unit price."),
    currency=Field(CURRENCY, "ISO 4217 currency."),
    quantity=Field(Int(1, 10_000), "Units."),
)

ORDER = obj(
    ("order_id", "revenue", "currency"),
    order_id=Field(Str(64, pattern=ID_PATTERN, hint=ID_HINT), "The shop's order id."),
    revenue=Field(MONEY, "Order total including tax and shipping."),
    currency=Field(CURRENCY, "ISO 4217 currency."),
    tax=Field(MONEY, "Tax included in revenue."),
    shipping=Field(MONEY, "Shipping included in revenue."),
    items=Field(Arr(PRODUCT, LIMITS.max_items), "Items ordered."),
)

TARGET = obj(
    (),
    url=Field(URL, "Link target of the click."),
    text=Field(Str(256), "Visible text of the clicked element (trimmed)."),
    kind=Field(Str(16, enum=("outbound", "download", "element")), "What was clicked."),
    element_id=Field(Str(128), "`data-cl-event` value or element id."),
)

DECISION = obj(
    ("decision_id", "slot", "variant"),
    decision_id=Field(Str(64, pattern=ID_PATTERN, hint=ID_HINT), "Id from the decision API."),
    slot=Field(Str(64, pattern=ID_PATTERN, hint=ID_HINT), "Personalized slot, e.g. `hero`."),
    variant=Field(Str(64), "Content variant shown."),
    arm=Field(Str(16, enum=("holdout", "rules", "bandit")), "Which policy chose the variant."),
)

CONTEXT = obj(
    (),
    screen_width=Field(Int(0, 100_000)),
    screen_height=Field(Int(0, 100_000)),
    viewport_width=Field(Int(0, 100_000)),
    viewport_height=Field(Int(0, 100_000)),
    language=Field(Str(35), "BCP 47 language tag, e.g. `en-GB`."),
    timezone=Field(Str(64), "IANA time zone, e.g. `Europe/London`."),
    user_agent=Field(
        Str(512), "End user's user agent, for server-side events sent on a visitor's behalf."
    ),
)

UA = obj(
    (),
    browser=Field(Str(64)),
    browser_version=Field(Str(32)),
    os=Field(Str(64)),
    os_version=Field(Str(32)),
    device=Field(Str(16, enum=("desktop", "mobile", "tablet", "bot", "other"))),
    device_brand=Field(Str(64)),
    is_bot=Field(Bool()),
    bot_category=Field(
        Str(16, enum=("crawler", "monitor", "feed_reader", "library", "headless", "probe")),
        "Kind of bot, when `is_bot`.",
    ),
)

GEO = obj(
    (),
    country_code=Field(Str(2)),
    country=Field(Str(64)),
    region=Field(Str(64)),
    city=Field(Str(64)),
    latitude=Field(Num(-90, 90)),
    longitude=Field(Num(-180, 180)),
)

UTM = obj(
    (),
    source=Field(Str(256)),
    medium=Field(Str(256)),
    campaign=Field(Str(256)),
    term=Field(Str(256)),
    content=Field(Str(256)),
)

REFERRER_CLASSES = ("search", "social", "email", "paid", "internal", "direct", "other")
SOURCES = ("js", "pixel", "server", "log")

ENRICHMENT = obj(
    ("collector_ts", "derived_ts", "source"),
    collector_ts=Field(Timestamp(), "When the collector received the event (UTC)."),
    derived_ts=Field(
        Timestamp(),
        "Skew-corrected event time: collector_ts - (sent_ts - client_ts); collector_ts when "
        "sent_ts is missing. Use this for analysis.",
    ),
    source=Field(Str(8, enum=SOURCES), "How the event arrived."),
    ip_anon=Field(Str(64), "Client IP with host bits zeroed (IPv4 /24, IPv6 /48 by default)."),
    cookieless=Field(Bool(), "visitor_id is a daily-rotating hash, not a cookie."),
    ua=Field(UA, "Parsed user agent."),
    geo=Field(GEO, "GeoIP City lookup of the full IP, done before anonymisation."),
    utm=Field(UTM, "UTM parameters of the page URL."),
    referrer_class=Field(Str(16, enum=REFERRER_CLASSES), "Kind of traffic source."),
    referrer_host=Field(Str(256), "Host of the referrer."),
    site=Field(Str(256), "Host of the page URL."),
)

EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "page_ping",
    "click",
    "search",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "begin_checkout",
    "purchase",
    "refund",
    "identify",
    "custom",
    "personalization_shown",
    "personalization_click",
)

EVENT = obj(
    ("schema_version", "event_id", "event_type", "client_ts"),
    schema_version=Field(Const(SCHEMA_VERSION), "Contract version; always 1 for v1."),
    event_id=Field(
        Str(36, pattern=UUID_PATTERN, hint="a UUID"),
        "Client-generated UUID; downstream deduplicates on it.",
    ),
    event_type=Field(Str(32, enum=EVENT_TYPES), "What happened."),
    client_ts=Field(Timestamp(), "When the event happened, by the client's clock."),
    sent_ts=Field(Timestamp(), "When the client sent it, by the client's clock."),
    visitor_id=Field(
        Str(64, pattern=ID_PATTERN, hint=ID_HINT),
        "Visitor id; the collector's `cl_vid` cookie is authoritative for browsers.",
    ),
    session_id=Field(Str(64, pattern=ID_PATTERN, hint=ID_HINT), "Client-side session id."),
    user_id=Field(Str(128), "Known user id after identify."),
    url=Field(URL, "Page URL."),
    referrer=Field(Str(2048), "Document referrer."),
    title=Field(Str(512), "Page title."),
    name=Field(Str(128), "Name of a custom event."),
    query=Field(Str(512), "Search terms."),
    engaged_ms=Field(Int(0, 3_600_000), "Engaged time since the previous ping (page_ping)."),
    consent=Field(Str(8, enum=("granted", "denied")), "Consent state the page reported."),
    target=Field(TARGET, "Clicked element (click)."),
    product=Field(PRODUCT, "The product acted on."),
    products=Field(Arr(PRODUCT, LIMITS.max_items), "Products listed (cart at checkout)."),
    order=Field(ORDER, "The order (purchase, refund)."),
    decision=Field(DECISION, "Personalization decision (personalization_*)."),
    properties=Field(
        Props(LIMITS.max_properties, LIMITS.max_property_key, LIMITS.max_property_value),
        "Free-form scalars.",
    ),
    context=Field(CONTEXT, "Client context."),
    enrichment=Field(ENRICHMENT, "Written by the collector; ignored if a client sends it.",
                     client=False),
)

# Fields an event type needs beyond the common ones.
REQUIRED_BY_TYPE: MappingProxyType = MappingProxyType(
    {
        "page_view": ("url",),
        "page_ping": ("url", "engaged_ms"),
        "click": ("target",),
        "search": ("query",),
        "product_view": ("product",),
        "add_to_cart": ("product",),
        "remove_from_cart": ("product",),
        "begin_checkout": ("products",),
        "purchase": ("order",),
        "refund": ("order",),
        "identify": ("user_id",),
        "custom": ("name",),
        "personalization_shown": ("decision",),
        "personalization_click": ("decision",),
    }
)
