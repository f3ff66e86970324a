"""Shared contract fixtures: each case is (name, event, expected error fields or [] if valid).

The same cases drive the Python validator and the generated JSON Schema, so the two can never
drift apart unnoticed. Expected fields are written by hand.
"""

from __future__ import annotations

from typing import Any

EID = "0b9f4f3e-8a43-4c3e-9d59-6f1e2f3a4b5c"
TS = "2026-11-23T10:00:00.123Z"
URL = "https://shop.example.com/p/42?utm_source=news"
PRODUCT = {"sku": "SKU-42", "name": "Trail shoe", "category": "Shoes/Running",
           "price": 89.9, "currency": "EUR", "quantity": 1}
ORDER = {"order_id": "O-1001", "revenue": 99.8, "currency": "EUR", "tax": 15.9,
         "shipping": 9.9, "items": [PRODUCT]}
DECISION = {"decision_id": "d-123", "slot": "hero", "variant": "cart_abandoner", "arm": "rules"}


def base(event_type: str, **extra: Any) -> dict[str, Any]:
    return {"schema_version": 1, "event_id": EID, "event_type": event_type,
            "client_ts": TS, "sent_ts": TS, "visitor_id": "v-1", "session_id": "s-1", **extra}


# One valid, fully populated example per event type (round-trip and Spark tests use these).
VALID_BY_TYPE: dict[str, dict[str, Any]] = {
    "page_view": base("page_view", url=URL, referrer="https://www.google.com/", title="Shoes",
                      context={"screen_width": 1920, "screen_height": 1080,
                               "viewport_width": 1200, "viewport_height": 800,
                               "language": "en-GB", "timezone": "Europe/London"},
                      consent="granted"),
    "page_ping": base("page_ping", url=URL, engaged_ms=10_000),
    "click": base("click", url=URL, target={"url": "https://other.example/x", "text": "Go",
                                            "kind": "outbound", "element_id": "promo"}),
    "search": base("search", url=URL, query="trail shoes"),
    "product_view": base("product_view", url=URL, product=PRODUCT),
    "add_to_cart": base("add_to_cart", url=URL, product=PRODUCT),
    "remove_from_cart": base("remove_from_cart", url=URL, product=PRODUCT),
    "begin_checkout": base("begin_checkout", url=URL, products=[PRODUCT, {**PRODUCT,
                                                                          "sku": "SKU-7"}]),
    "purchase": base("purchase", order=ORDER, user_id="user-9"),
    "refund": base("refund", order={**ORDER, "items": []}),
    "identify": base("identify", user_id="user-9"),
    "custom": base("custom", name="newsletter_signup",
                   properties={"plan": "weekly", "count": 3, "price": 1.5, "ok": True,
                               "none": None}),
    "personalization_shown": base("personalization_shown", url=URL, decision=DECISION),
    "personalization_click": base("personalization_click", url=URL, decision=DECISION),
}

# (name, event, fields the validator must name). Keep names unique: they are test ids.
INVALID: list[tuple[str, Any, list[str]]] = [
    ("not an object", ["page_view"], [""]),
    ("missing event_id", {k: v for k, v in base("page_view", url=URL).items()
                          if k != "event_id"}, ["event_id"]),
    ("missing client_ts", {k: v for k, v in base("page_view", url=URL).items()
                           if k != "client_ts"}, ["client_ts"]),
    ("null required", base("page_view", url=URL, event_id=None), ["event_id"]),
    ("unknown type", base("teleport", url=URL), ["event_type"]),
    ("wrong schema version", base("page_view", url=URL, schema_version=2), ["schema_version"]),
    ("event_id not uuid", base("page_view", url=URL, event_id="123"), ["event_id"]),
    ("url wrong type", base("page_view", url=42), ["url"]),
    ("url not http", base("page_view", url="javascript:alert(1)"), ["url"]),
    ("page_view without url", base("page_view"), ["url"]),
    ("purchase without order", base("purchase"), ["order"]),
    ("identify without user_id", base("identify"), ["user_id"]),
    ("custom without name", base("custom"), ["name"]),
    ("oversize title", base("page_view", url=URL, title="x" * 513), ["title"]),
    ("oversize url", base("page_view", url="https://a.example/" + "x" * 2100), ["url"]),
    ("bad timestamp text", base("page_view", url=URL, client_ts="yesterday"), ["client_ts"]),
    ("timestamp without zone", base("page_view", url=URL, client_ts="2026-11-23T10:00:00"),
     ["client_ts"]),
    ("timestamp as number", base("page_view", url=URL, client_ts=1764000000000),
     ["client_ts"]),
    ("impossible date", base("page_view", url=URL, client_ts="2026-02-30T10:00:00Z"),
     ["client_ts"]),
    ("too many properties", base("custom", name="x",
                                 properties={f"k{i}": i for i in range(51)}), ["properties"]),
    ("property value object", base("custom", name="x", properties={"a": {"b": 1}}),
     ["properties.a"]),
    ("property value too long", base("custom", name="x", properties={"a": "y" * 513}),
     ["properties.a"]),
    ("unknown top-level field", base("page_view", url=URL, colour="red"), ["colour"]),
    ("client sends enrichment", base("page_view", url=URL,
                                     enrichment={"collector_ts": TS, "derived_ts": TS,
                                                 "source": "js"}), ["enrichment"]),
    ("negative price", base("add_to_cart", url=URL, product={**PRODUCT, "price": -1}),
     ["product.price"]),
    ("price as string", base("add_to_cart", url=URL, product={**PRODUCT, "price": "9.99"}),
     ["product.price"]),
    ("product without sku", base("add_to_cart", url=URL,
                                 product={k: v for k, v in PRODUCT.items() if k != "sku"}),
     ["product.sku"]),
    ("zero quantity", base("add_to_cart", url=URL, product={**PRODUCT, "quantity": 0}),
     ["product.quantity"]),
    ("bad currency", base("purchase", order={**ORDER, "currency": "euro"}), ["order.currency"]),
    ("too many items", base("purchase", order={**ORDER, "items": [PRODUCT] * 101}),
     ["order.items"]),
    ("bad nested item", base("purchase", order={**ORDER, "items": [PRODUCT, {"sku": 5}]}),
     ["order.items[1].sku"]),
    ("unknown nested field", base("click", target={"url": URL, "colour": "red"}),
     ["target.colour"]),
    ("bad click kind", base("click", target={"kind": "hover"}), ["target.kind"]),
    ("engaged_ms negative", base("page_ping", url=URL, engaged_ms=-5), ["engaged_ms"]),
    ("engaged_ms boolean", base("page_ping", url=URL, engaged_ms=True), ["engaged_ms"]),
    ("decision without id", base("personalization_shown", decision={"slot": "hero",
                                                                    "variant": "a"}),
     ["decision.decision_id"]),
    ("visitor id with spaces", base("page_view", url=URL, visitor_id="a b"), ["visitor_id"]),
]
