"""Model features (pure): product pages reported as page views, dotted categories, repeat views,
time since the previous event, price against the category and the shop's conversion rates."""

from __future__ import annotations

import math

import pytest

from personalization.features import (
    NAMES,
    ShopStats,
    as_list,
    category_path,
    features,
    from_list,
)
from personalization.observation import observe
from personalization.profile import Profile, from_dicts, public_dict
from personalization.transitions import apply, close_session, session_expired, start_session
from tests.personalization.builders import SHOP, buy, event, view

GAP = 1800.0


def item(sku: str, category: str, price: float) -> dict:
    return {"sku": sku, "name": sku, "category": category, "price": price, "currency": "EUR"}


def run(profile: Profile, *events: dict, shop: ShopStats | None = None) -> Profile:
    for raw in events:
        obs = observe(raw)
        if session_expired(profile, obs.ts, GAP):
            close_session(profile)
        if profile.session is None:
            start_session(profile, obs)
        apply(profile, obs)
        if shop is not None:
            shop.observe(obs)
    return profile


def page(visitor: str, minute: float, product: dict) -> dict:
    return event("page_view", visitor, minute, url=f"{SHOP}/p/{product['sku']}", product=product)


@pytest.mark.parametrize(("category", "path"), [
    ("electronics.smartphone", ("electronics", "smartphone")),
    ("Shoes/Trail", ("Shoes", "Trail")),
    ("appliances.kitchen/ovens", ("appliances", "kitchen", "ovens")),
    ("  / x. ", ("x",)),
    (None, ()),
])
def test_category_paths_split_on_slashes_and_dots(category: str | None,
                                                  path: tuple[str, ...]) -> None:
    assert category_path(category) == path


def test_a_product_on_a_page_view_counts_as_a_product_view() -> None:
    p = run(Profile("v"), page("v", 0, item("A", "electronics.smartphone", 300.0)))
    assert p.session is not None
    assert (p.session.page_views, p.session.product_views, p.session.viewed) == (1, 1, ["A"])
    x = features(p)
    assert x["s_product_views"] == x["s_distinct_products"] == math.log1p(1)
    assert x["p_views"] == math.log1p(1)


def test_dotted_categories_of_one_department_are_one_category() -> None:
    p = run(Profile("v"), view("v", 0, "JK-1"),
            page("v", 1, item("A", "electronics.smartphone", 300.0)),
            page("v", 2, item("B", "electronics.audio.headphones", 80.0)))
    assert p.session is not None
    assert p.session.categories == ["Apparel", "electronics"]
    assert features(p)["s_categories"] == 2.0


def test_repeat_views_of_the_product_on_screen() -> None:
    a, b = item("A", "x", 10.0), item("B", "x", 10.0)
    p = run(Profile("v"), page("v", 0, a), page("v", 1, b), page("v", 2, a), page("v", 3, a))
    x = features(p)
    assert x["s_repeat_views"] == math.log1p(2)  # A twice more after its first view
    assert x["p_views"] == math.log1p(3)  # A is on screen, seen three times
    p = run(p, page("v", 4, b))
    assert features(p)["p_views"] == math.log1p(2)


def test_minutes_since_the_previous_event() -> None:
    p = run(Profile("v"), event("page_view", "v", 0))
    assert features(p)["s_gap_min"] == 0.0  # nothing before the first event
    p = run(p, event("page_view", "v", 5))
    assert features(p)["s_gap_min"] == pytest.approx(math.log1p(5))
    p = run(p, event("page_view", "v", 5.5))
    assert features(p)["s_gap_min"] == pytest.approx(math.log1p(0.5))


def test_the_price_on_screen_against_its_category_mean() -> None:
    shop = ShopStats()
    run(Profile("a"), page("a", 0, item("C1", "tv.oled", 100.0)),
        page("a", 1, item("C2", "tv.lcd", 300.0)), shop=shop)
    assert shop.price_mean("tv") == pytest.approx(200.0)
    p = run(Profile("v"), page("v", 2, item("C3", "tv", 400.0)), shop=shop)
    mean = (100 + 300 + 400) / 3
    assert features(p, shop)["p_price_vs_category"] == pytest.approx(math.log(400 / mean))
    assert features(p)["p_price_vs_category"] == 0.0  # without the shop's statistics


def test_the_shops_conversion_rates_rank_products_and_categories() -> None:
    shop = ShopStats()
    hot, cold = item("HOT", "garden.tools", 20.0), item("COLD", "toys", 20.0)
    for n in range(40):
        visitor = f"b{n}"
        events = [page(visitor, n, hot), page(visitor, n, cold)]
        if n % 2:
            events.append(buy(visitor, n + 0.5, f"o{n}", {}) | {
                "order": {"order_id": f"o{n}", "revenue": 20.0, "currency": "EUR",
                          "items": [hot]}})
        run(Profile(visitor), *events, shop=shop)
    assert shop.buys == {"HOT": 20} and shop.category_buys == {"garden": 20}
    on_hot = run(Profile("v"), page("v", 60, cold), page("v", 61, hot), shop=shop)
    on_cold = run(Profile("w"), page("w", 60, hot), page("w", 61, cold), shop=shop)
    x_hot, x_cold = features(on_hot, shop), features(on_cold, shop)
    assert x_hot["p_conversion"] > 0.3 > 0.1 > x_cold["p_conversion"] > 0
    assert x_hot["c_conversion"] > x_cold["c_conversion"]
    # "page value": both sessions saw the hot product, so both carry its rate
    assert x_hot["s_page_value"] == x_cold["s_page_value"] == x_hot["p_conversion"]


def test_features_round_trip_through_lists_and_stored_profiles() -> None:
    shop = ShopStats()
    p = run(Profile("v"), page("v", 0, item("A", "x.y", 10.0)), page("v", 3, item("A", "x", 12.0)),
            shop=shop)
    x = features(p, shop)
    assert list(x) == list(NAMES) and from_list(as_list(x)) == x
    again = from_dicts(public_dict(p))
    assert features(again, shop) == x
    old = public_dict(p)
    for key in ("previous", "repeat_views", "view_counts", "focus", "focus_price"):
        del old["session"][key]  # a profile stored by the previous version
    assert from_dicts(old).session is not None
