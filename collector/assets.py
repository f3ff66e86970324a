"""Static answers: the built JavaScript snippet and the contract's JSON Schema."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, send_file

from collector.responses import error_response
from collector.state import get_state
from tracker.contract.jsonschema import event_schema

bp = Blueprint("assets", __name__)

SNIPPET_MAX_AGE = 3600  # an hour: the URL is not versioned, so a release reaches sites that fast


@bp.get("/v1/clickloop.js")
def snippet() -> Response:
    path = get_state().snippet_path
    if not path.is_file():
        return error_response(404, "clickloop.js", "the snippet is not built; run `npm run "
                                                   "build` in js_snippet/")
    response = send_file(path, mimetype="text/javascript", max_age=SNIPPET_MAX_AGE,
                         conditional=True, etag=True)
    response.cache_control.public = True
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)


@bp.get("/v1/schema")
def schema() -> Response:
    response = jsonify(event_schema())
    response.mimetype = "application/schema+json"
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
