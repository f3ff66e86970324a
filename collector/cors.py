"""CORS for the event endpoint: an allowlist of site origins, with credentials.

Browsers send ``Origin`` on every POST. An allowed origin (listed in ``allowed_origins``, or
the collector's own origin) gets ``Access-Control-Allow-Origin: <origin>`` and
``Access-Control-Allow-Credentials: true``, so the visitor cookie flows both ways; a preflight
from it is answered 204. Any other origin is refused with 403 before the body is read.
``*`` in the list allows every origin (for local development only: it lets any site write
events with your visitors' cookie).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Request, Response

PREFLIGHT_MAX_AGE = 600
ALLOWED_REQUEST_HEADERS = "Content-Type"


def own_origin(request: Request) -> str:
    return request.host_url.rstrip("/")


def origin_allowed(origin: str, allowed: Iterable[str], own: str) -> bool:
    """True when ``origin`` may post events with credentials.

    >>> origin_allowed("https://shop.example.com", ("https://shop.example.com",), "http://c")
    True
    >>> origin_allowed("https://evil.example", ("https://shop.example.com",), "http://c")
    False
    """
    allowed = tuple(allowed)
    return origin == own or origin in allowed or ("*" in allowed and origin != "null")


def allow(response: Response, origin: str) -> Response:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Credentials"] = "true"
    response.vary.add("Origin")
    return response


def preflight(origin: str) -> Response:
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_REQUEST_HEADERS
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return allow(response, origin)
