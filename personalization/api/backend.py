"""Backend routes (bearer token): a visitor's profile and score, forgetting, model metrics.

``DELETE /v1/visitors/<id>`` and ``DELETE /v1/users/<id>`` forget a person everywhere
(:mod:`personalization.erase`): store, suppression list for the batch jobs, audit log.

These are for a site's servers, never for browsers: they name any visitor. Without
``CLICKLOOP_API_TOKEN`` configured they refuse (403); a missing or wrong token gets 401.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request

from personalization.api.errors import error
from personalization.api.services import services
from personalization.erase import erase
from personalization.holdout import arm_of
from personalization.profile import public_dict
from personalization.segments import segment_of
from personalization.stitching import read_person
from tracker.contract.ids import is_valid_id
from tracker.contract.spec import EVENT, ID_HINT
from tracker.erasure import Kind

bp = Blueprint("backend", __name__)
MAX_USER_ID = EVENT.fields["user_id"].kind.max_len


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


@bp.get("/v1/model")
def model() -> Response:
    svc = services()
    summary = svc.store.model_summary(svc.settings.personalization.consumer_group)
    if summary is None:
        return error(404, "no model yet: is `clickloop personalization worker` running?")
    return jsonify(summary)
