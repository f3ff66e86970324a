"""Hand-made lake events for the stream job tests (contract-shaped dicts, few fields each)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

BASE_DAY = datetime(2024, 3, 9, tzinfo=UTC)


def at(text: str) -> datetime:
    """``"2024-03-09 10:00:00"`` (UTC) → aware datetime; keeps test tables readable."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def eid(n: int) -> str:
    """A readable, valid UUID for event number ``n`` (…-000000000012)."""
    return str(uuid.UUID(int=n))


def event(
    n: int,
    visitor: str | None,
    when: str,
    event_type: str = "page_view",
    *,
    url: str | None = None,
    utm: tuple[str | None, str | None, str | None] | None = None,
    referrer_class: str | None = "direct",
    referrer_host: str | None = None,
    device: str = "desktop",
    browser: str = "Firefox",
    country: str = "GB",
    is_bot: bool = False,
    collector_delay_s: float = 0.0,
    revenue: float | None = None,
    order_id: str | None = None,
    sku: str | None = None,
    user_id: str | None = None,
    name: str | None = None,
    ingest: str = "stream",
    source: str = "js",
) -> dict[str, Any]:
    """One lake row: the contract event with its enrichment and partition columns."""
    ts = at(when)
    collector_ts = ts.fromtimestamp(ts.timestamp() + collector_delay_s, UTC)
    if url is None and event_type in ("page_view", "page_ping"):
        url = f"https://shop.example/p{n}"
    row: dict[str, Any] = {
        "schema_version": 1,
        "event_id": eid(n),
        "event_type": event_type,
        "client_ts": ts,
        "visitor_id": visitor,
        "user_id": user_id,
        "url": url,
        "name": name,
        "product": {"sku": sku} if sku else None,
        "order": ({"order_id": order_id or f"o{n}", "revenue": revenue, "currency": "EUR"}
                  if event_type == "purchase" else None),
        "enrichment": {
            "collector_ts": collector_ts,
            "derived_ts": ts,
            "source": source,
            "ua": {"device": device, "browser": browser, "os": "Linux", "is_bot": is_bot},
            "geo": {"country_code": country},
            "utm": ({"source": utm[0], "medium": utm[1], "campaign": utm[2]} if utm else None),
            "referrer_class": referrer_class,
            "referrer_host": referrer_host,
            "site": "shop.example",
        },
        "event_date": ts.date(),
        "ingest": ingest,
    }
    return row


def lake_frame(spark: Any, rows: list[dict[str, Any]]) -> Any:
    """A DataFrame with the lake's schema from :func:`event` rows."""
    from stream_jobs.lake import lake_event_schema

    schema = lake_event_schema()
    names = [f.name for f in schema.fields]
    return spark.createDataFrame([tuple(r.get(k) for k in names) for r in rows], schema)


def d(text: str) -> date:
    return date.fromisoformat(text)
