"""The collector's app factory (gunicorn runs ``collector.app:create_app()`` in each worker).

Configuration is assembled here, as in Flask's tutorial app: defaults, then ``CLICKLOOP_FLASK_*``
environment variables (``app.config.from_prefixed_env``; gunicorn.conf.py sets
``CLICKLOOP_FLASK_METRICS_DIR``), then ``test_config``. Clickloop's own settings come from
:class:`tracker.settings.Settings`, read once here unless passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response

from collector import assets, events, health
from collector.responses import register_error_handlers
from collector.sinks import Sink
from collector.state import get_state, init_app
from tracker.contract import LIMITS
from tracker.settings import PROJECT_ROOT, Settings

DEFAULTS: dict[str, Any] = {
    "SNIPPET_PATH": str(PROJECT_ROOT / "js_snippet" / "dist" / "clickloop.min.js"),
    "METRICS_DIR": None,  # None: this process's counters only (tests); gunicorn sets a dir
    "PRODUCER_CONFIG": {},  # librdkafka overrides of collector.sinks.kafka.PRODUCER_DEFAULTS
    "REPLAY_INTERVAL_S": 1.0,
    # Werkzeug's own guard against bodies we never read; the handler checks the real limit
    "MAX_CONTENT_LENGTH": None,
    "MAX_FORM_MEMORY_SIZE": LIMITS.max_body_bytes,
}


def create_app(test_config: Mapping[str, Any] | None = None, *, settings: Settings | None = None,
               sink: Sink | None = None) -> Flask:
    """A collector app. ``sink`` replaces Kafka + spool (unit tests pass a MemorySink)."""
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env(prefix="CLICKLOOP_FLASK")
    if test_config is not None:
        app.config.update(test_config)
    init_app(app, settings if settings is not None else Settings.from_env(), sink)
    register_error_handlers(app)
    app.register_blueprint(events.bp)
    app.register_blueprint(assets.bp)
    app.register_blueprint(health.bp)

    @app.after_request
    def count_response(response: Response) -> Response:
        get_state().metrics.response(response.status_code)
        return response

    return app
