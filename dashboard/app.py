"""``create_app``: the dashboard's Flask app (gunicorn builds one per worker).

All configuration comes from the :class:`~tracker.settings.Settings` passed in (or read once
from the environment): the lake to read, the login token. Per-app state (the answer cache, the
lake paths) lives in ``app.extensions["dashboard"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from dashboard.state import CHART_JS, DashboardState, state
from tracker.settings import Settings

__all__ = ["CHART_JS", "DashboardState", "create_app", "state"]


def create_app(test_config: Mapping[str, Any] | None = None, *,
               settings: Settings | None = None) -> Flask:
    """A dashboard app over ``settings.lake`` (read-only)."""
    from dashboard import auth, pages
    from dashboard.cache import AnswerCache

    app = Flask(__name__)
    app.config.from_mapping(JSON_SORT_KEYS=False, MAX_CONTENT_LENGTH=16 * 1024)
    app.config.from_prefixed_env(prefix="CLICKLOOP_FLASK")
    if test_config is not None:
        app.config.update(test_config)
    settings = settings if settings is not None else Settings.from_env()
    app.extensions["dashboard"] = DashboardState(settings, settings.lake, AnswerCache())
    auth.init_app(app, settings.dashboard.token)
    app.register_blueprint(pages.bp)
    pages.register_error_handlers(app)
    return app
