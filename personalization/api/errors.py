"""Every error the API answers is JSON naming the field at fault, never an HTML page or a trace."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from personalization.stores import STORE_ERRORS

log = logging.getLogger("clickloop.personalization.api")


def error(status: int, message: str, field: str | None = None) -> Response:
    body = {"error": message}
    if field is not None:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return error(exc.code or 500, exc.description or exc.name)

    def store_error(exc: Exception) -> Response:
        log.error("store unavailable: %s", exc)
        return error(503, "the profile store is unavailable; try again shortly")

    for kind in STORE_ERRORS:
        app.register_error_handler(kind, store_error)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error")
        return error(500, "internal error")
