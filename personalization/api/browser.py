"""``GET /v1/decide?slot=...``: the browser's decision, for the visitor of the cookie only
(``?slots=a,b``: all of a page's slots in one request).

The visitor is the ``cl_vid`` cookie the collector set, never a parameter: a page cannot ask
about anyone but the browser it runs in. Cross-origin calls are answered with credentials
only for the configured site origins (``CLICKLOOP_ALLOWED_ORIGINS``); another origin gets 403.
Without a cookie the answer is the slot's default, and no profile is read. A slot the rules do
not define is refused (404 naming it), and only decisions for visitors the worker has a profile
of are logged (see :class:`~personalization.api.decision_log.LogGate`): an anonymous caller
cannot grow the decision log with made-up slots or cookies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import orjson
from flask import Blueprint, Flask, Response, request
from werkzeug.http import HTTP_STATUS_CODES, parse_cookie

from personalization.api.deciding import MAX_SLOTS, UnknownSlot, decide_slots, json_response
from personalization.api.errors import error
from personalization.api.services import EXTENSION, Services, services
from personalization.rules.parse import NAME_HINT
from personalization.stores import STORE_ERRORS
from tracker.contract.ids import is_valid_id

log = logging.getLogger("clickloop.personalization.api")

bp = Blueprint("browser", __name__)

# parameters that would name a visitor: refused outright, so nobody believes they work
VISITOR_PARAMETERS = ("visitor_id", "visitor", "vid", "profile_id", "user_id", "cl_vid")


def _cors(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
    response.headers["Vary"] = "Origin, Cookie"
    return response


def _origin_refused() -> tuple[str | None, Response | None]:
    origin = request.headers.get("Origin")
    allowed = services().settings.collector.allowed_origins
    if origin and origin not in allowed:
        return None, error(403, _refused_origin(origin), "Origin")
    return origin, None


def _refused_origin(origin: str) -> str:
    return f"origin {origin!r} is not allowed; add it to CLICKLOOP_ALLOWED_ORIGINS"


@bp.route("/v1/decide", methods=["OPTIONS"])
def preflight() -> Response:
    origin, refused = _origin_refused()
    if refused is not None:
        return refused
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, OPTIONS"
    response.headers["Access-Control-Max-Age"] = "600"
    return _cors(response, origin)


class Answer(NamedTuple):
    """What ``GET /v1/decide`` answers: status, JSON body, and whether it carries the CORS
    headers (every answer but a refused origin's) for ``origin``."""

    status: int
    body: Any
    cors: bool = True
    origin: str | None = None


def answer(svc: Services, args: Mapping[str, list[str]], cookie: str | None,
           origin: str | None) -> Answer:
    """``?slot=hero``: that slot's decision; ``?slots=hero,recommended``: ``{"decisions": [...]}``
    for every slot of a page in one request (same order). Pure of the web framework, so the
    Flask route and the fast path (:class:`FastDecide`) answer alike."""
    if origin and origin not in svc.settings.collector.allowed_origins:
        return Answer(403, {"error": _refused_origin(origin), "field": "Origin"}, cors=False)

    def refuse(status: int, message: str, field: str) -> Answer:
        return Answer(status, {"error": message, "field": field}, origin=origin)

    for name in VISITOR_PARAMETERS:
        if name in args:
            return refuse(400, f"{name!r} is not accepted: the visitor is the one of the cl_vid "
                               f"cookie, nobody else", name)
    many = "slots" in args
    if many and "slot" in args:
        return refuse(400, "give slot (one) or slots (several), not both", "slots")
    if many:
        field = "slots"
        slots = [s for s in args["slots"][0].split(",") if s]
        if not slots:
            return refuse(400, "slots is empty, e.g. /v1/decide?slots=hero,recommended", field)
        if len(args["slots"]) > 1 or len(slots) > MAX_SLOTS or len(set(slots)) != len(slots):
            return refuse(400, f"slots: 1 to {MAX_SLOTS} different slots", field)
    else:
        field = "slot"
        slots = args.get("slot") or []
        if not slots or not slots[0]:
            return refuse(400, "slot is required, e.g. /v1/decide?slot=hero", field)
        if len(slots) > 1:
            return refuse(400, "give slot once; for several, use slots=a,b", field)
    for slot in slots:
        if not is_valid_id(slot):
            return refuse(400, f"slot {slot[:80]!r}: {NAME_HINT}", field)
    # a cookie we could not have set is treated as no cookie (default content, no profile)
    visitor_id = cookie if is_valid_id(cookie) else None
    try:
        decisions = decide_slots(svc, visitor_id, slots)
    except UnknownSlot as exc:
        return refuse(404, str(exc), field)
    if many:
        return Answer(200, {"decisions": [d.response() for d in decisions]}, origin=origin)
    return Answer(200, decisions[0].response(), origin=origin)


@bp.get("/v1/decide")
def decide_slot() -> Response:
    """The route as Flask serves it (``HEAD``; ``GET`` normally goes through the fast path)."""
    svc = services()
    result = answer(svc, request.args.to_dict(flat=False),
                    request.cookies.get(svc.settings.collector.cookie_name),
                    request.headers.get("Origin"))
    response = json_response(result.body, result.status)
    return _cors(response, result.origin) if result.cors else response


class FastDecide:
    """WSGI middleware answering ``GET /v1/decide`` without Flask's request machinery.

    The decision itself costs less than Flask's per-request work (request and app contexts,
    URL matching, response finalisation), and this is the route every page view calls: the
    query string and cookie are parsed here and :func:`answer` does the rest, exactly as the
    Flask route would. Every other request goes to Flask unchanged.
    """

    def __init__(self, wsgi_app: Any, app: Flask):
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/v1/decide" or environ.get("REQUEST_METHOD") != "GET":
            return self.wsgi_app(environ, start_response)
        svc: Services = self.app.extensions[EXTENSION]
        try:
            args = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            cookie = parse_cookie(environ.get("HTTP_COOKIE")).get(
                svc.settings.collector.cookie_name)
            result = answer(svc, args, cookie, environ.get("HTTP_ORIGIN"))
        except STORE_ERRORS as exc:
            log.error("store unavailable: %s", exc)
            result = Answer(503, {"error": "the profile store is unavailable; try again "
                                           "shortly"}, cors=False)
        except Exception:
            log.exception("unexpected error")
            result = Answer(500, {"error": "internal error"}, cors=False)
        payload = orjson.dumps(result.body)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                   ("Cache-Control", "no-store")]
        if result.cors:
            if result.origin:
                headers += [("Access-Control-Allow-Origin", result.origin),
                            ("Access-Control-Allow-Credentials", "true")]
            headers.append(("Vary", "Origin, Cookie"))
        start_response(f"{result.status} {HTTP_STATUS_CODES[result.status]}", headers)
        return [payload]
