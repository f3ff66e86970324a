"""The demo shop's fixed product catalogue, its URLs and its pricing rules.

One module holds what the shop serves *and* what the traffic simulator browses, so a simulated
visitor's URLs, product fields and order totals are exactly the ones the shop would produce: the
reports built from simulated traffic can then be checked against the shop's own arithmetic.

Money is kept in integer cents so that totals add up exactly; :func:`money` turns cents into the
two-decimal number the event contract carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

CURRENCY = "EUR"
FREE_SHIPPING_CENTS = 6000  # orders from 60.00 ship free
SHIPPING_CENTS = 490
VAT_PERCENT = 19  # prices include VAT (German rate); tax is reported as the included share


@dataclass(frozen=True)
class Category:
    """A catalogue category. ``path`` is the contract's ``category`` (``Shoes/Running``)."""

    slug: str
    path: str
    title: str
    blurb: str


@dataclass(frozen=True)
class Product:
    """A product. Prices include VAT and are in cents."""

    sku: str
    name: str
    category: str  # Category.slug
    price_cents: int
    blurb: str

    @property
    def price(self) -> float:
        return money(self.price_cents)

    @property
    def category_path(self) -> str:
        return CATEGORIES[self.category].path


CATEGORIES: Mapping[str, Category] = {
    c.slug: c
    for c in (
        Category("running-shoes", "Shoes/Running", "Running shoes",
                 "Cushioned and fast shoes for road running."),
        Category("trail-shoes", "Shoes/Trail", "Trail shoes",
                 "Grip and protection for mud, rock and roots."),
        Category("jackets", "Apparel/Jackets", "Jackets",
                 "Shells and insulation for wind and rain."),
        Category("shirts", "Apparel/Shirts", "Shirts",
                 "Breathable tops for training and racing."),
        Category("backpacks", "Gear/Backpacks", "Backpacks",
                 "Running vests and day packs."),
        Category("watches", "Gear/Watches", "Watches",
                 "GPS watches and heart-rate sensors."),
    )
}

PRODUCTS: Mapping[str, Product] = {
    p.sku: p
    for p in (
        Product("RS-1001", "Aurora Road Runner", "running-shoes", 12995,
                "A daily trainer with a soft, springy foam."),
        Product("RS-1002", "Tempo Racer Carbon", "running-shoes", 21999,
                "Carbon plate racer for race day."),
        Product("RS-1003", "Cloud Cruiser", "running-shoes", 9995,
                "Maximum cushioning for easy miles."),
        Product("RS-1004", "Street Sprint Lite", "running-shoes", 6995,
                "A light, simple shoe for short runs."),
        Product("TS-2001", "Ridge Grip Trail", "trail-shoes", 13995,
                "Deep lugs for muddy trails."),
        Product("TS-2002", "Summit Guard GTX", "trail-shoes", 16995,
                "Waterproof trail shoe with a rock plate."),
        Product("TS-2003", "Forest Flow", "trail-shoes", 11995,
                "A nimble trail shoe for forest paths."),
        Product("TS-2004", "Alpine Skyrunner", "trail-shoes", 18995,
                "Precise fit for technical mountain running."),
        Product("AJ-3001", "Storm Shell Jacket", "jackets", 14995,
                "Fully taped waterproof shell, 180 g."),
        Product("AJ-3002", "Windbreaker Ultra", "jackets", 7995,
                "Packable wind jacket that fits in a pocket."),
        Product("AJ-3003", "Thermal Hybrid Jacket", "jackets", 12995,
                "Insulated front, breathable back."),
        Product("AJ-3004", "Rain Runner Poncho", "jackets", 4995,
                "An emergency layer for race kits."),
        Product("AS-4001", "Merino Base Tee", "shirts", 5995,
                "Merino wool tee that does not smell."),
        Product("AS-4002", "Race Singlet", "shirts", 3495,
                "Mesh singlet for hot race days."),
        Product("AS-4003", "Long Sleeve Thermal", "shirts", 4995,
                "Brushed long sleeve for cold mornings."),
        Product("AS-4004", "Reflective Night Tee", "shirts", 3995,
                "Reflective prints for running after dark."),
        Product("GB-5001", "Trail Vest 12L", "backpacks", 11995,
                "Running vest with two soft flasks."),
        Product("GB-5002", "Day Pack 20L", "backpacks", 8995,
                "A commuter pack with a laptop sleeve."),
        Product("GB-5003", "Race Belt", "backpacks", 2495,
                "Holds a phone and two gels."),
        Product("GB-5004", "Hydration Bladder 2L", "backpacks", 2995,
                "Fits every vest and pack we sell."),
        Product("GW-6001", "Pace GPS Watch", "watches", 24995,
                "GPS watch with 30 hours of battery."),
        Product("GW-6002", "Pulse HR Strap", "watches", 6995,
                "Chest strap for exact heart rate."),
        Product("GW-6003", "Summit Multisport Watch", "watches", 44995,
                "Maps, altimeter and 60 hours of battery."),
        Product("GW-6004", "Stride Footpod", "watches", 4995,
                "Running power and cadence on any watch."),
    )
}


def money(cents: int) -> float:
    """Cents as the two-decimal number events carry (``12995`` → ``129.95``)."""
    return round(cents / 100, 2)


def product(sku: str) -> Product | None:
    return PRODUCTS.get(sku)


def in_category(slug: str) -> list[Product]:
    return [p for p in PRODUCTS.values() if p.category == slug]


def search(query: str) -> list[Product]:
    """Products whose name, category or blurb contains every word of ``query`` (any case)."""
    words = [w for w in query.lower().split() if w]
    if not words:
        return []
    found = []
    for p in PRODUCTS.values():
        text = f"{p.name} {p.category_path} {p.blurb}".lower()
        if all(w in text for w in words):
            found.append(p)
    return found


def item(product: Product, quantity: int | None = None) -> dict[str, Any]:
    """The contract's product object for ``product`` (``quantity`` when it is a cart line)."""
    out: dict[str, Any] = {
        "sku": product.sku,
        "name": product.name,
        "category": product.category_path,
        "price": product.price,
        "currency": CURRENCY,
    }
    if quantity is not None:
        out["quantity"] = quantity
    return out


@dataclass(frozen=True)
class Totals:
    """An order's money, all in cents. ``revenue`` includes shipping and VAT."""

    subtotal: int
    shipping: int
    tax: int
    revenue: int


def totals(lines: Iterable[tuple[Product, int]]) -> Totals:
    """Subtotal, shipping (free from 60.00) and the VAT included in the total.

    The shop's checkout and the simulator both call this, so simulated revenue is exactly what
    the shop would have charged.
    """
    subtotal = sum(p.price_cents * qty for p, qty in lines)
    shipping = 0 if subtotal >= FREE_SHIPPING_CENTS or subtotal == 0 else SHIPPING_CENTS
    revenue = subtotal + shipping
    tax = round(revenue * VAT_PERCENT / (100 + VAT_PERCENT))
    return Totals(subtotal, shipping, tax, revenue)


def order(order_id: str, lines: list[tuple[Product, int]]) -> dict[str, Any]:
    """The contract's ``order`` object for a confirmed order."""
    t = totals(lines)
    return {
        "order_id": order_id,
        "revenue": money(t.revenue),
        "currency": CURRENCY,
        "tax": money(t.tax),
        "shipping": money(t.shipping),
        "items": [item(p, qty) for p, qty in lines],
    }


# --- URLs: the shop's routes, shared with the simulator ------------------------------------------

HOME_PATH = "/"
CART_PATH = "/cart"
CHECKOUT_PATH = "/checkout"
LOGIN_PATH = "/login"


def category_path(slug: str) -> str:
    return f"/c/{slug}"


def product_path(sku: str) -> str:
    return f"/p/{sku}"


def search_path(query: str) -> str:
    return f"/search?q={quote_plus(query)}"


def order_path(order_id: str) -> str:
    return f"/order/{order_id}"


SHOP_NAME = "Clickloop Outdoor"
INSTAGRAM_URL = "https://www.instagram.com/clickloop.outdoor/"  # the footer's outbound link
CARE_GUIDE_PATH = "/downloads/care-guide.pdf"  # a download link on product pages


def login_path(after: str = HOME_PATH) -> str:
    """The sign-in page; ``after`` is where it returns to (the shop's ``next`` parameter)."""
    return LOGIN_PATH if after == HOME_PATH else f"{LOGIN_PATH}?next={quote_plus(after)}"


PAGE_TITLES = {"home": "Running and trail gear", "cart": "Your cart", "checkout": "Checkout",
               "login": "Sign in", "order": "Order confirmed", "search": "Search"}

# Personalized slots on each kind of page: the hero banner is site-wide, recommendations show
# where a visitor is choosing. The shop's templates and the simulator's decisions follow this.
SLOTS = {
    "hero": frozenset(PAGE_TITLES) | {"category", "product"},
    "recommended": frozenset({"home", "product", "cart"}),
}


def page_title(kind: str, key: str = "") -> str:
    """The ``<title>`` the shop renders for a kind of page (``key``: slug, sku or query)."""
    if kind == "category":
        return f"{CATEGORIES[key].title} | {SHOP_NAME}"
    if kind == "product":
        return f"{PRODUCTS[key].name} | {SHOP_NAME}"
    if kind == "search" and key:
        return f"Search: {key} | {SHOP_NAME}"
    return f"{PAGE_TITLES[kind]} | {SHOP_NAME}"
