"""The demo shop: a small Flask site that uses Clickloop exactly as a customer's site would.

It embeds the async loader in every page's ``<head>`` (``clickloop('init', {collector, api})``
and ``<script async src="COLLECTOR/v1/clickloop.js">``), reports ``product_view``, ``search``,
``begin_checkout``, cart changes and logins with ``clickloop('track' | 'identify', ...)``, shows a
personalized ``hero`` banner on every page and ``recommended`` products where visitors choose
(rendered by the shop's own server through the decision API's backend route when it has the
API token: server-side personalization, no flicker), and confirms orders server-side with the
Python tracker client: the ``purchase`` is the shop's own record, sent with the visitor id from
the collector's ``cl_vid`` cookie on the shop's request.

Cart changes and logins are POSTed forms; the shop remembers the tracking call in its session
and renders it on the page it redirects to, so an event is only sent for a change the server
actually made (with the real quantity), and a navigation cannot lose it.

The shop's own state (cart, login, recent orders) lives in Flask's signed session cookie
``shop_session``, separate from the collector's ``cl_vid``.

Build it with :func:`create_app`; ``test_config`` overrides configuration and
``send_event`` replaces the tracker client (tests pass a recorder or a client pointed at a test
collector).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.serving import BaseWSGIServer, make_server

from simulation import catalogue
from tracker.client import Decider
from tracker.contract.ids import is_valid_id
from tracker.settings import Settings

SendEvent = Callable[[dict[str, Any]], None]

EXTENSION = "clickloop_shop"
MAX_QUANTITY = 10
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")

bp = Blueprint("shop", __name__)


def create_app(settings: Settings | None = None, test_config: Mapping[str, Any] | None = None,
               *, send_event: SendEvent | None = None) -> Flask:
    """The shop. Configuration: defaults from ``settings`` (``CLICKLOOP_DEMO_*``), then the
    ``test_config`` override. ``send_event`` receives server-side events (default: the Python
    tracker client sending to ``COLLECTOR_URL``)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.from_mapping(
        COLLECTOR_URL=settings.demo.collector_url.rstrip("/"),
        PERSONALIZATION_URL=settings.demo.api_url.rstrip("/"),
        # where the shop's backend reaches the collector (the same host in the demo)
        SERVER_COLLECTOR_URL=settings.demo.collector_url.rstrip("/"),
        VISITOR_COOKIE=settings.collector.cookie_name,
        # the backend decision route: with a token the shop renders SERVER_SLOT itself
        SERVER_API_URL=settings.demo.api_url.rstrip("/"),
        API_TOKEN=settings.personalization.api_token,
        SERVER_SLOT="recommended",
        SECRET_KEY=settings.demo.shop_secret or _stored_secret(settings),
        SESSION_COOKIE_NAME="shop_session",
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if test_config:
        app.config.update(test_config)
    app.extensions[EXTENSION] = {"send_event": send_event, "tracker": None, "decider": None}
    app.register_blueprint(bp)
    return app


def _stored_secret(settings: Settings) -> str:
    """A signing key kept in the state dir, so carts survive restarts and every worker agrees."""
    path = settings.state_dir / "demo" / "shop-secret"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker wrote it first: use theirs
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secret)
    return secret


def serve(app: Flask, host: str, port: int) -> ShopServer:
    """Run ``app`` on a background thread (werkzeug's threaded server); ``stop()`` ends it.

    ``port`` 0 picks a free port (see ``.url``). Enough for a demo and for browser tests;
    the collector and the decision API are the production servers (gunicorn).
    """
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="demo-shop", daemon=True)
    thread.start()
    return ShopServer(server, thread)


@dataclass
class ShopServer:
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving, then send the orders still queued in the tracker client."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        close_tracker(self.server.app)


# --- pages ---------------------------------------------------------------------------------------


@bp.get("/")
def home() -> str:
    featured = [p for p in catalogue.PRODUCTS.values() if p.sku in _FEATURED]
    return _page("home.html", "home", featured=featured)


@bp.get("/c/<slug>")
def category(slug: str) -> str:
    found = catalogue.CATEGORIES.get(slug)
    if found is None:
        abort(404)
    return _page("category.html", "category", slug, category=found,
                 products=catalogue.in_category(slug))


@bp.get("/p/<sku>")
def product(sku: str) -> str:
    found = catalogue.product(sku)
    if found is None:
        abort(404)
    _track("product_view", catalogue.item(found))
    related = [p for p in catalogue.in_category(found.category) if p.sku != sku][:3]
    return _page("product.html", "product", sku, product=found, related=related,
                 max_quantity=MAX_QUANTITY, on_screen=sku)


@bp.get("/search")
def search() -> str:
    query = request.args.get("q", "").strip()[:200]
    results = catalogue.search(query) if query else []
    if query:
        _track("search", query)
    return _page("search.html", "search", query, query=query, results=results)


@bp.get("/cart")
def cart() -> str:
    lines = _cart_lines()
    return _page("cart.html", "cart", lines=lines, totals=catalogue.totals(lines))


@bp.post("/cart/add")
def cart_add() -> Response | tuple[str, int]:
    found = catalogue.product(request.form.get("sku", ""))
    if found is None:
        return _bad_request("sku", "is not a product of this shop")
    quantity = _quantity(request.form.get("quantity", "1"))
    if quantity is None:
        return _bad_request("quantity", f"must be a whole number from 1 to {MAX_QUANTITY}")
    cart = _cart()
    cart[found.sku] = min(cart.get(found.sku, 0) + quantity, MAX_QUANTITY)
    _save_cart(cart)
    _remember("track", "add_to_cart", catalogue.item(found, quantity))
    return redirect(url_for("shop.cart"), 303)


@bp.post("/cart/remove")
def cart_remove() -> Response | tuple[str, int]:
    cart = _cart()
    sku = request.form.get("sku", "")
    if sku not in cart or catalogue.product(sku) is None:
        return _bad_request("sku", "is not in your cart")
    quantity = cart.pop(sku)
    _save_cart(cart)
    _remember("track", "remove_from_cart", catalogue.item(catalogue.PRODUCTS[sku], quantity))
    return redirect(url_for("shop.cart"), 303)


@bp.get("/checkout")
def checkout() -> str | Response:
    lines = _cart_lines()
    if not lines:
        return redirect(url_for("shop.cart"), 303)
    _track("begin_checkout", [catalogue.item(p, q) for p, q in lines])
    return _page("checkout.html", "checkout", lines=lines, totals=catalogue.totals(lines))


@bp.post("/checkout")
def place_order() -> Response:
    lines = _cart_lines()
    if not lines:
        return redirect(url_for("shop.cart"), 303)
    order_id = "CL-" + secrets.token_hex(5).upper()
    order = catalogue.order(order_id, lines)
    confirmation = request.host_url.rstrip("/") + catalogue.order_path(order_id)
    _send_purchase(order, confirmation)
    orders = [o for o in session.get("orders", []) if o["order_id"] != order_id][-4:]
    session["orders"] = [*orders, order]
    _save_cart({})
    return redirect(url_for("shop.order_confirmation", order_id=order_id), 303)


@bp.get("/order/<order_id>")
def order_confirmation(order_id: str) -> str:
    order = next((o for o in session.get("orders", []) if o["order_id"] == order_id), None)
    if order is None:
        abort(404)
    return _page("order.html", "order", order_id, order=order)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    next_path = _local_path(request.values.get("next", "/"))
    if request.method == "GET":
        return _page("login.html", "login", next_path=next_path, error=None)
    email = request.form.get("email", "").strip()
    if not EMAIL_RE.match(email):
        return _page("login.html", "login", next_path=next_path,
                     error="Please enter an email address such as runner@example.com."), 400
    # a stable, opaque user id: never send the email address itself to analytics
    user_id = "user-" + hashlib.sha256(email.lower().encode()).hexdigest()[:16]
    session["user_id"] = user_id
    _remember("identify", user_id)
    return redirect(next_path, 303)


@bp.get(catalogue.CARE_GUIDE_PATH)
def care_guide() -> Response:
    return Response(_care_guide_pdf(), mimetype="application/pdf")


@bp.app_errorhandler(404)
def not_found(_error: Exception) -> tuple[str, int]:
    return render_template("not_found.html", **_layout("home")), 404


# --- helpers -----------------------------------------------------------------------------------

_FEATURED = ("RS-1001", "TS-2001", "AJ-3002", "GW-6001")


def _page(template: str, kind: str, key: str = "", on_screen: str | None = None,
          **context: Any) -> str:
    layout = _layout(kind, key)
    layout["served"] = _served_slots(layout["slots"], on_screen)
    return render_template(template, **layout, **context)


def _served_slots(slots: set[str], on_screen: str | None) -> dict[str, dict[str, Any]]:
    """The slot the shop's server renders itself (``SERVER_SLOT``), decided by the decision
    API's backend route through the tracker client's :class:`~tracker.client.Decider`: the page
    arrives personalized, no flicker. The decision travels in ``data-cl-decision`` so the
    snippet reports it shown and attributes clicks as for a slot it filled. Without a token,
    or when the API does not answer in time, the snippet asks for the slot as usual."""
    config = current_app.config
    slot = config["SERVER_SLOT"]
    if not config["API_TOKEN"] or slot not in slots:
        return {}
    denied = request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1"
    cookie = request.cookies.get(config["VISITOR_COOKIE"], "")
    visitor_id = cookie if is_valid_id(cookie) and not denied else None
    decision = _decider().decide(visitor_id, [slot], page=request.url[:2048],
                                 product=on_screen).get(slot)
    if decision is None:
        return {}
    content = decision.get("content") or {}
    shown = {k: decision[k] for k in ("decision_id", "slot", "variant", "arm") if k in decision}
    # the rules file is the shop operator's own content, as on the snippet's slots
    body = Markup(content["html"]) if isinstance(content.get("html"), str) else \
        escape(content.get("text") or "")
    return {slot: {"decision": json.dumps(shown), "html": body, "variant": decision["variant"]}}


def _decider() -> Decider:
    ext = current_app.extensions[EXTENSION]
    if ext["decider"] is None:
        with _SENDER_LOCK:
            if ext["decider"] is None:
                ext["decider"] = Decider(current_app.config["SERVER_API_URL"],
                                         token=current_app.config["API_TOKEN"])
    return ext["decider"]


def _layout(kind: str, key: str = "") -> dict[str, Any]:
    """What every page's layout needs: snippet URLs, tracking calls, slots, cart size, title."""
    calls = list(session.pop("tracking", []))  # rendered once, on the page after the POST
    calls += getattr(request, "_clickloop_calls", [])
    cart = _cart()
    return {
        "collector_url": current_app.config["COLLECTOR_URL"],
        "api_url": current_app.config["PERSONALIZATION_URL"],
        "tracking": calls,
        "title": catalogue.page_title(kind, key),
        "page_kind": kind,
        "slots": {slot for slot, kinds in catalogue.SLOTS.items() if kind in kinds},
        "bestsellers": [catalogue.PRODUCTS[s] for s in _FEATURED][:3],
        "cart_count": sum(cart.values()),
        "user_id": session.get("user_id"),
        "categories": list(catalogue.CATEGORIES.values()),
        "shop_name": catalogue.SHOP_NAME,
        "money": catalogue.money,
        "instagram": catalogue.INSTAGRAM_URL,
        "care_guide": catalogue.CARE_GUIDE_PATH,
        "pixel_url": _pixel_url(catalogue.page_title(kind, key)),
        "served": {},  # slots the server rendered (see _served_slots)
    }


def _pixel_url(title: str) -> str:
    """The ``<noscript>`` pixel: a page view for browsers without JavaScript, rendered by the
    server with what it knows about the page (the collector stamps the time on receipt)."""
    params = {"event_type": "page_view", "url": request.url[:2048], "title": title}
    if request.referrer:
        params["referrer"] = request.referrer[:2048]
    return f"{current_app.config['COLLECTOR_URL']}/v1/p.gif?{urlencode(params)}"


def _track(event_type: str, payload: Any) -> None:
    """A ``clickloop('track', ...)`` call for the page being rendered."""
    calls = getattr(request, "_clickloop_calls", None)
    if calls is None:
        calls = request._clickloop_calls = []  # type: ignore[attr-defined]
    calls.append(["track", event_type, payload])


def _remember(*call: Any) -> None:
    """A tracking call for the next page this visitor sees (after a form's redirect)."""
    session["tracking"] = [*session.get("tracking", []), list(call)]


def _cart_lines() -> list[tuple[catalogue.Product, int]]:
    return [(catalogue.PRODUCTS[sku], qty) for sku, qty in _cart().items()
            if sku in catalogue.PRODUCTS]


def _cart() -> dict[str, int]:
    """The cart in the order things were added (kept as pairs: the session's JSON sorts keys)."""
    return {str(sku): int(qty) for sku, qty in session.get("cart", [])}


def _save_cart(cart: dict[str, int]) -> None:
    session["cart"] = [[sku, qty] for sku, qty in cart.items()]


def _quantity(raw: str) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 1 <= value <= MAX_QUANTITY else None


def _bad_request(field: str, message: str) -> tuple[str, int]:
    return render_template("bad_request.html", field=field, message=message,
                           **_layout("home")), 400


def _local_path(raw: str) -> str:
    """Only paths on this site (``/checkout``), never another host: no open redirect."""
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or raw.startswith("//"):
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _send_purchase(order: dict[str, Any], url: str) -> None:
    """The order confirmation, server-side, on the visitor's behalf.

    The visitor id is the collector's ``cl_vid`` cookie as the browser sent it to the shop (a
    first-party cookie on the shop's domain); a visitor who asked not to be tracked (DNT or
    Global Privacy Control) gets no identifiers and ``consent: denied``, like the snippet does.
    """
    event: dict[str, Any] = {
        "event_type": "purchase",
        "url": url,
        "order": order,
        "context": {"user_agent": request.headers.get("User-Agent", "")[:512]},
    }
    denied = request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1"
    if denied:
        event["consent"] = "denied"
    else:
        visitor_id = request.cookies.get(current_app.config["VISITOR_COOKIE"], "")
        if is_valid_id(visitor_id):
            event["visitor_id"] = visitor_id
        if session.get("user_id"):
            event["user_id"] = session["user_id"]
    if not event["context"]["user_agent"]:
        del event["context"]
    _sender()(event)


def _sender() -> SendEvent:
    ext = current_app.extensions[EXTENSION]
    if ext["send_event"] is None:
        with _SENDER_LOCK:
            if ext["send_event"] is None:
                ext["send_event"] = _tracker_client_sender(current_app)
    return ext["send_event"]


_SENDER_LOCK = threading.Lock()


def _tracker_client_sender(app: Flask) -> SendEvent:
    """The default: the Python tracker client (batched, retried, flushed at exit), one per
    app, created on the first order (never at import or in the factory)."""
    from tracker.client import Tracker  # the site-backend client; imported only when used

    client = Tracker(app.config["SERVER_COLLECTOR_URL"])
    app.extensions[EXTENSION]["tracker"] = client

    def send(event: dict[str, Any]) -> None:
        fields = dict(event)
        context = dict(fields.pop("context", None) or {})
        client.track(fields.pop("event_type"), user_agent=context.pop("user_agent", None),
                     context=context or None, **fields)

    return send


def close_tracker(app: Flask, timeout: float = 10.0) -> int:
    """Flush and stop the app's tracker client; returns the events it could not send."""
    client = app.extensions[EXTENSION]["tracker"]
    return client.close(timeout) if client is not None else 0


def _care_guide_pdf() -> bytes:
    """A one-page PDF, built here so the demo ships no binary (the snippet tracks .pdf links
    as downloads)."""
    text = b"BT /F1 18 Tf 72 720 Td (Clickloop Outdoor care guide: rinse, air-dry, repeat.) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)
