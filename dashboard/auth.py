"""Login: a token (or password) from settings, required on every page when one is set.

``clickloop dashboard`` refuses to listen on anything but a loopback address without
``CLICKLOOP_DASHBOARD_TOKEN`` (:func:`needs_token`), so a dashboard reachable from elsewhere
always asks for it. A browser logs in once (a signed session cookie, HttpOnly, SameSite=Lax);
scripts send ``Authorization: Bearer <token>``. Tokens are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from flask import (
    Blueprint,
    Flask,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

bp = Blueprint("auth", __name__)
OPEN_ENDPOINTS = {"auth.login", "auth.logout", "pages.health", "static"}


def needs_token(host: str) -> bool:
    """Whether binding to ``host`` exposes the dashboard beyond this machine.

    >>> needs_token("127.0.0.1"), needs_token("localhost"), needs_token("::1")
    (False, False, False)
    >>> needs_token("0.0.0.0"), needs_token("192.168.1.5")
    (True, True)
    """
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return True  # a host name may resolve to anything


def token_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(),
                               hashlib.sha256(expected.encode()).digest())


def init_app(app: Flask, token: str | None) -> None:
    """Require ``token`` (when set) before every request but the login page and health."""
    app.config["DASHBOARD_TOKEN"] = token
    if token:
        # the session cookie is signed with a key derived from the token: changing the token
        # logs everybody out
        app.secret_key = hashlib.sha256(b"clickloop-dashboard\0" + token.encode()).hexdigest()
        app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    app.register_blueprint(bp)

    @app.before_request
    def require_login() -> Response | None:
        expected = current_app.config.get("DASHBOARD_TOKEN")
        if not expected or request.endpoint in OPEN_ENDPOINTS:
            return None
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and token_matches(header[7:], expected):
            return None
        if session.get("logged_in"):
            return None
        if request.accept_mimetypes.best == "application/json" or request.path.endswith(".csv"):
            return Response('{"error": "login required", "field": "token"}', status=401,
                            mimetype="application/json")
        return redirect(url_for("auth.login", next=request.full_path))


def _safe_next(target: str | None) -> str:
    # only paths on this site: never an open redirect to another host
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.overview")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    expected = current_app.config.get("DASHBOARD_TOKEN")
    if not expected:
        return redirect(url_for("pages.overview"))
    error = None
    if request.method == "POST":
        if token_matches(request.form.get("token", ""), expected):
            session.clear()
            session["logged_in"] = True
            return redirect(_safe_next(request.args.get("next")))
        error = "Wrong token."
    return render_template("login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    session.clear()
    return redirect(url_for("auth.login"))
