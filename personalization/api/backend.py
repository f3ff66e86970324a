"""Backend routes (bearer token): decisions for server-side rendering, a visitor's profile and
score, forgetting, model metrics.

``DELETE /v1/visitors/<id>`` and ``DELETE /v1/users/<id>`` forget a person everywhere
(:mod:`personalization.erase`): store, suppression list for the batch jobs, audit log.

These are for a site's servers, never for browsers: they name any visitor. Without
``CLICKLOOP_API_TOKEN`` configured they refuse (403); a missing or wrong token gets 401.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request

from personalization.api.deciding import MAX_SLOTS, UnknownSlot, decide_slots, json_response
from personalization.api.errors import error
from personalization.api.services import services
from personalization.erase import erase
from personalization.holdout import arm_of
from personalization.profile import public_dict
from personalization.rules.parse import NAME_HINT
from personalization.segments import segment_of
from personalization.stitching import read_person
from tracker.contract.ids import is_valid_id
from tracker.contract.spec import EVENT, ID_HINT
from tracker.erasure import Kind

bp = Blueprint("backend", __name__)
MAX_USER_ID = EVENT.fields["user_id"].kind.max_len
MAX_URL = EVENT.fields["url"].kind.max_len
MAX_SKU = 64  # the contract's product.sku
DECISION_FIELDS = frozenset({"visitor_id", "slots", "page", "product"})


@bp.before_request
def require_token() -> Response | None:
    token = services().settings.personalization.api_token
    if not token:
        return error(403, "backend routes are disabled: set CLICKLOOP_API_TOKEN on the API",
                     "Authorization")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        response = error(401, "send Authorization: Bearer <CLICKLOOP_API_TOKEN>", "Authorization")
    elif not hmac.compare_digest(given.strip().encode(), token.encode()):
        response = error(401, "wrong bearer token", "Authorization")
    else:
        return None
    response.headers["WWW-Authenticate"] = 'Bearer realm="clickloop"'
    return response


def _checked(visitor_id: str) -> Response | None:
    if not is_valid_id(visitor_id):
        return error(400, f"visitor id {visitor_id[:80]!r}: at most 64 characters, {ID_HINT}",
                     "visitor_id")
    return None


@bp.get("/v1/visitors/<path:visitor_id>")
def visitor(visitor_id: str) -> Response:
    bad = _checked(visitor_id)
    if bad is not None:
        return bad
    svc = services()
    profile = read_person(svc.store, visitor_id)
    if profile is None:
        return error(404, f"no profile for visitor {visitor_id!r}", "visitor_id")
    section = svc.settings.personalization
    body = public_dict(profile)
    body["segment"] = segment_of(profile, profile.intent, svc.clock())
    body["holdout_arm"] = arm_of(visitor_id, holdout_share=section.holdout_share,
                                 salt=section.holdout_salt)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/v1/visitors/<path:visitor_id>")
def forget(visitor_id: str) -> Response:
    bad = _checked(visitor_id)
    if bad is not None:
        return bad
    return _erase("visitor", visitor_id)


@bp.delete("/v1/users/<path:user_id>")
def forget_user(user_id: str) -> Response:
    if not user_id.strip() or len(user_id) > MAX_USER_ID:
        return error(400, f"user id: 1 to {MAX_USER_ID} characters, as sent in user_id",
                     "user_id")
    return _erase("user", user_id)


def _erase(kind: Kind, identifier: str) -> Response:
    svc = services()
    svc.decisions.flush()  # this process's buffered decisions are deleted with the rest
    forgotten = erase(svc.store, svc.settings.state_dir, kind, identifier, now=svc.clock(),
                      origin="api")
    return jsonify({"forgotten": identifier, "removed": forgotten.as_dict()})


@bp.post("/v1/decisions")
def decisions() -> Response:
    """A site backend's decisions for the visitor whose ``cl_vid`` cookie it read, several slots
    at once, so the next page is rendered personalized on the server (no flicker).

    Body: ``{"visitor_id": "<cl_vid or null>", "slots": ["hero", ...], "page": "<url>",
    "product": "<sku on the page>"}`` (``page`` and ``product`` optional). The answer is
    ``{"decisions": [...]}``, each as the browser route's; the page reports each one it shows
    (``personalization_shown``) exactly as the snippet does, so outcomes are attributed alike.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "send a JSON object: {\"visitor_id\": ..., \"slots\": [...]}", "body")
    unknown = sorted(set(body) - DECISION_FIELDS)
    if unknown:
        return error(400, f"unknown field {unknown[0]!r}; accepted: "
                          f"{', '.join(sorted(DECISION_FIELDS))}", unknown[0])
    visitor_id = body.get("visitor_id")
    if visitor_id is not None and not is_valid_id(visitor_id):
        return error(400, f"visitor_id: the cl_vid cookie's value or null; at most 64 "
                          f"characters, {ID_HINT}", "visitor_id")
    slots = body.get("slots")
    if not (isinstance(slots, list) and 0 < len(slots) <= MAX_SLOTS
            and all(is_valid_id(s) for s in slots) and len(set(slots)) == len(slots)):
        return error(400, f"slots: a list of 1 to {MAX_SLOTS} different slot names "
                          f"({NAME_HINT})", "slots")
    page, product = body.get("page"), body.get("product")
    if page is not None and not (isinstance(page, str) and 0 < len(page) <= MAX_URL):
        return error(400, f"page: the page's URL, 1 to {MAX_URL} characters", "page")
    if product is not None and not (isinstance(product, str) and 0 < len(product) <= MAX_SKU):
        return error(400, f"product: the sku shown on the page, 1 to {MAX_SKU} characters",
                     "product")
    try:
        made = decide_slots(services(), visitor_id, slots, page=page, product=product)
    except UnknownSlot as exc:
        return error(404, str(exc), "slots")
    return json_response({"decisions": [d.response() for d in made]})


@bp.get("/v1/model")
def model() -> Response:
    svc = services()
    summary = svc.store.model_summary(svc.settings.personalization.consumer_group)
    if summary is None:
        return error(404, "no model yet: is `clickloop personalization worker` running?")
    return jsonify(summary)
