"""The decision API: a Flask app (one blueprint per audience) served by gunicorn.

- :mod:`.browser`: ``GET /v1/decide`` for the snippet (cookie only, CORS allowlist), answered
  by a WSGI fast path in front of Flask (:class:`.browser.FastDecide`: the hottest route);
- :mod:`.backend`: ``POST /v1/decisions`` (server-side rendering), ``GET``/``DELETE
  /v1/visitors/<id>``, ``GET /v1/model`` (bearer token);
- :mod:`.deciding`: what both decision routes share (one profile read for several slots, the
  bounded decision log);
- ``GET /v1/health``: store reachable, rules in force (and the last reload error, if any).

Configuration is assembled in :func:`create_app` as in Flask's tutorial: the settings
(``CLICKLOOP_*``), then the ``test_config`` override; resources live in ``app.extensions``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify

from personalization.api import backend, browser, errors
from personalization.api.services import EXTENSION, ApiStore, Services, services
from personalization.rules import RulesSource
from personalization.stores import STORE_ERRORS, open_store
from tracker.settings import Settings


def create_app(settings: Settings | None = None, test_config: dict[str, Any] | None = None, *,
               store: ApiStore | None = None, rules: RulesSource | None = None) -> Flask:
    """Build the API. Raises :class:`personalization.rules.RulesError` for a bad rules file."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.from_mapping(MAX_CONTENT_LENGTH=16 * 1024)
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = Services(
        settings=settings,
        store=store or open_store(settings),
        rules=rules or RulesSource(settings.personalization.rules_file),
    )
    errors.init_app(app)
    app.register_blueprint(browser.bp)
    app.wsgi_app = browser.FastDecide(app.wsgi_app, app)  # type: ignore[method-assign]
    app.register_blueprint(backend.bp)
    app.add_url_rule("/v1/health", "health", health)
    logging.getLogger("clickloop").setLevel(logging.INFO)
    return app


def health() -> tuple[Response, int]:
    svc = services()
    body: dict[str, Any] = {"status": "ok"}
    status = 200
    try:
        svc.store.ping()
        body["store"] = "ok"
    except STORE_ERRORS as exc:
        body["status"] = "degraded"
        body["store"] = str(exc)
        status = 503
    rules = svc.rules.current()
    body["rules"] = {"file": str(svc.rules.path), "slots": sorted(rules.slots)}
    if svc.rules.error is not None:
        body["rules"]["reload_error"] = svc.rules.error.as_dicts()
    return jsonify(body), status
