"""The intent-model stream (:mod:`simulation.intent_stream`) and the bandit exam's truth draw on
the demo's shared models: one catalogue, one visitor model, one place for variant responses."""

from __future__ import annotations

from collections import Counter

from personalization.observation import observe
from simulation import catalogue
from simulation.bandit_exam import VARIANTS, conversion
from simulation.intent_stream import generate


def test_the_stream_is_seeded_time_ordered_and_readable_by_the_engine() -> None:
    events = generate(200, seed=4)
    assert events == generate(200, seed=4)
    assert events != generate(200, seed=5)
    stamps = [e["enrichment"]["derived_ts"] for e in events]
    assert stamps == sorted(stamps)
    assert all(observe(e).visitor_id for e in events)


def test_the_stream_sells_the_demo_catalogue_at_the_shop_s_prices() -> None:
    events = generate(400, seed=2)
    for e in events:
        for product in [e.get("product"), *e.get("products", [])] + (
                e["order"]["items"] if "order" in e else []):
            if product:
                assert product["sku"] in catalogue.PRODUCTS
                assert product["price"] == catalogue.PRODUCTS[product["sku"]].price
    orders = [e["order"] for e in events if e["event_type"] == "purchase"]
    assert orders
    for order in orders:
        lines = [(catalogue.PRODUCTS[i["sku"]], i["quantity"]) for i in order["items"]]
        assert order["revenue"] == catalogue.money(catalogue.totals(lines).revenue)


def test_carried_carts_and_the_demo_sources_shape_the_stream() -> None:
    events = generate(1500, seed=1)
    sources = Counter(e["enrichment"]["referrer_class"] for e in events
                      if e["event_type"] == "page_view")
    assert set(sources) <= {"search", "social", "email", "paid", "direct", "other"}
    assert len(sources) == 6
    kinds = Counter(e["event_type"] for e in events)
    # buyers are a minority of sessions, and many carts are abandoned
    assert 0.05 < kinds["purchase"] / kinds["page_view"] < 0.25
    assert kinds["add_to_cart"] > 2 * kinds["purchase"]


def test_the_exam_truth_is_the_documented_table() -> None:
    table = {  # (mobile, social, cart) -> rate per variant, from the exam's docstring
        "standard": lambda m, s, c: 0.06,
        "free_shipping": lambda m, s, c: 0.16 if m else 0.04,
        "discount": lambda m, s, c: 0.20 if c else 0.05,
        "bestsellers": lambda m, s, c: 0.14 if s else 0.05,
    }
    assert set(VARIANTS) == set(table)
    for device in ("mobile", "desktop"):
        for source in ("search", "social", "email"):
            for cart in (False, True):
                for variant, rate in table.items():
                    got = conversion(variant, device, source, cart)
                    want = rate(device == "mobile", source == "social", cart)
                    assert abs(got - want) < 1e-12
