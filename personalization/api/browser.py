"""``GET /v1/decide?slot=...``: the browser's decision, for the visitor of the cookie only.

The visitor is the ``cl_vid`` cookie the collector set, never a parameter: a page cannot ask
about anyone but the browser it runs in. Cross-origin calls are answered with credentials
only for the configured site origins (``CLICKLOOP_ALLOWED_ORIGINS``); another origin gets 403.
Without a cookie the answer is the slot's default, and no profile is read.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from personalization.api.errors import error
from personalization.api.services import services
from personalization.decision import decide, decision_record
from personalization.rules.parse import NAME_HINT
from personalization.stitching import read_person
from tracker.contract.ids import is_valid_id

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
        return None, error(403, f"origin {origin!r} is not allowed; add it to "
                                f"CLICKLOOP_ALLOWED_ORIGINS", "Origin")
    return origin, None


@bp.route("/v1/decide", methods=["OPTIONS"])
def preflight() -> Response:
    origin, refused = _origin_refused()
    if refused is not None:
        return refused
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, OPTIONS"
    response.headers["Access-Control-Max-Age"] = "600"
    return _cors(response, origin)


@bp.get("/v1/decide")
def decide_slot() -> Response:
    origin, refused = _origin_refused()
    if refused is not None:
        return refused
    for name in VISITOR_PARAMETERS:
        if name in request.args:
            return _cors(error(400, f"{name!r} is not accepted: the visitor is the one of the "
                                    f"cl_vid cookie, nobody else", name), origin)
    slots = request.args.getlist("slot")
    if not slots or not slots[0]:
        return _cors(error(400, "slot is required, e.g. /v1/decide?slot=hero", "slot"), origin)
    if len(slots) > 1:
        return _cors(error(400, "give slot once; ask once per slot", "slot"), origin)
    slot = slots[0]
    if not is_valid_id(slot):
        return _cors(error(400, f"slot {slot[:80]!r}: {NAME_HINT}", "slot"), origin)

    svc = services()
    settings = svc.settings
    cookie = request.cookies.get(settings.collector.cookie_name)
    # a cookie we could not have set is treated as no cookie (default content, no profile)
    visitor_id = cookie if is_valid_id(cookie) else None
    profile = read_person(svc.store, visitor_id) if visitor_id else None
    now = svc.clock()
    section = settings.personalization
    decision, ctx = decide(svc.rules.current(), slot, visitor_id=visitor_id, profile=profile,
                           popular=svc.popular(), holdout_share=section.holdout_share,
                           salt=section.holdout_salt, now=now, bandits=svc.bandits(),
                           rng=svc.rng)
    response = jsonify(decision.response())
    response.headers["Cache-Control"] = "no-store"
    if visitor_id is not None and ctx is not None:
        svc.decisions.add(decision_record(decision, ctx, now))
    return _cors(response, origin)
