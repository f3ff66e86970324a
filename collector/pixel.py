"""The no-JavaScript fallback: ``GET /v1/p.gif?event_type=...`` becomes one contract event.

Query parameters are contract field names (``event_type``, ``url``, ``referrer``, ``title``,
``consent``, ...); ``properties.<name>`` and ``context.<name>`` fill those objects. A static
``<img>`` cannot make up ids or clocks, so the collector fills what is missing: ``event_id``
(a new UUID), ``client_ts`` (receipt time), ``schema_version`` 1, ``event_type`` page_view, and
``url`` from the ``Referer`` header (the page that shows the image). Unknown parameters are kept,
so the validator names them.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterable
from typing import Any

# 1x1 transparent GIF (42 bytes)
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
INTEGER_FIELDS = frozenset({"schema_version", "engaged_ms", "context.screen_width",
                            "context.screen_height", "context.viewport_width",
                            "context.viewport_height"})
OBJECT_FIELDS = ("properties", "context")


def pixel_event(params: Iterable[tuple[str, str]], *, collector_ts: str,
                page_url: str | None) -> dict[str, Any]:
    """The event a pixel request describes (first value of a repeated parameter wins).

    >>> e = pixel_event([("event_type", "page_view"), ("properties.plan", "pro")],
    ...                 collector_ts="2026-11-23T10:00:00.000Z",
    ...                 page_url="https://shop.example.com/")
    >>> e["url"], e["properties"], e["client_ts"]
    ('https://shop.example.com/', {'plan': 'pro'}, '2026-11-23T10:00:00.000Z')
    """
    event: dict[str, Any] = {}
    for name, value in params:
        prefix, dot, inner = name.partition(".")
        if dot and prefix in OBJECT_FIELDS:
            target = event.setdefault(prefix, {})
            if isinstance(target, dict):
                target.setdefault(inner, _coerce(name, value))
        else:
            event.setdefault(name, _coerce(name, value))
    event.setdefault("schema_version", 1)
    event.setdefault("event_id", str(uuid.uuid4()))
    event.setdefault("event_type", "page_view")
    event.setdefault("client_ts", collector_ts)
    if page_url and "url" not in event:
        event["url"] = page_url
    return event


def _coerce(name: str, value: str) -> Any:
    """Integer fields as integers when they read as one (else the validator names them)."""
    if name in INTEGER_FIELDS and re.fullmatch(r"-?[0-9]{1,12}", value.strip()):
        return int(value)
    return value
