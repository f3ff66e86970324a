"""The backend routes (:mod:`personalization.api.backend`): bearer token, a visitor's profile,
forgetting, model metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from personalization.forgetting import forget_key
from personalization.stores.embedded import EmbeddedStore
from tests.personalization.api.support import AUTH, CountingStore, decide, make_app
from tests.personalization.helpers import TOKEN


def test_backend_routes_need_the_token(client: FlaskClient, store: CountingStore,
                                       tmp_path: Path) -> None:
    missing = client.get("/v1/visitors/ann")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/v1/visitors/ann", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.get_json()["error"]) == (401, "wrong bearer token")
    assert client.delete("/v1/visitors/ann").status_code == 401
    assert client.get("/v1/model").status_code == 401
    disabled = make_app(store, tmp_path, api_token=None).test_client()
    r = disabled.get("/v1/visitors/ann", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 403 and "CLICKLOOP_API_TOKEN" in r.get_json()["error"]


def test_the_backend_reads_a_profile_and_its_score(client: FlaskClient) -> None:
    body = client.get("/v1/visitors/bob", headers=AUTH).get_json()
    assert body["profile_id"] == "bob" and body["segment"] == "first_time_customer"
    assert body["history"]["purchases"] == 1 and body["history"]["revenue"] == 148.0
    assert body["cart"] == {}
    assert 0 < body["intent"] < 1
    assert body["holdout_arm"] == "rules"
    assert client.get("/v1/visitors/nobody", headers=AUTH).status_code == 404
    bad = client.get("/v1/visitors/not%20an%20id", headers=AUTH)
    assert (bad.status_code, bad.get_json()["field"]) == (400, "visitor_id")


def test_forget_removes_everything(client: FlaskClient, store: CountingStore) -> None:
    decision_id = decide(client, "slot=hero", "ann").get_json()["decision_id"]
    r = client.delete("/v1/visitors/ann", headers=AUTH)
    assert r.status_code == 200
    assert r.get_json() == {"forgotten": "ann", "removed": {
        "profile_id": "ann", "profiles": 1, "links": 0, "decisions": 1}}
    assert client.get("/v1/visitors/ann", headers=AUTH).status_code == 404
    assert store.decision(decision_id) is None
    assert store.load_profile("ann") is None
    assert forget_key("ann") in {t.key for t in store.tombstones("0")[0]}
    after = decide(client, "slot=hero", "ann").get_json()
    assert (after["segment"], after["intent"], after["variant"]) == ("new_visitor", None,
                                                                     "default")


def test_a_decision_buffered_elsewhere_does_not_outlive_a_forget(
        client: FlaskClient, store: CountingStore, tmp_path: Path) -> None:
    other = make_app(store, tmp_path)  # another gunicorn worker, say
    other_client = other.test_client()
    other_client.set_cookie("cl_vid", "ann")
    decision_id = other_client.get("/v1/decide?slot=hero").get_json()["decision_id"]
    assert client.delete("/v1/visitors/ann", headers=AUTH).status_code == 200
    other.extensions["clickloop_personalization"].decisions.flush()  # its buffer, too late
    assert store.decision(decision_id) is None


def test_model_metrics_for_the_backend(client: FlaskClient, store: CountingStore,
                                       tmp_path: Path) -> None:
    body = client.get("/v1/model", headers=AUTH).get_json()
    assert body["model"] == "logreg" and body["labels"] > 0
    empty = make_app(EmbeddedStore(tmp_path / "empty"), tmp_path).test_client()
    assert empty.get("/v1/model", headers=AUTH).status_code == 404


def post_decisions(client: FlaskClient, body: object, **headers: str):
    response = client.post("/v1/decisions", json=body, headers={**AUTH, **headers})
    client.application.extensions["clickloop_personalization"].decisions.flush()
    return response


def test_a_backend_gets_and_logs_decisions_for_several_slots(client: FlaskClient,
                                                             store: CountingStore) -> None:
    r = post_decisions(client, {"visitor_id": "ann", "slots": ["hero", "recommended"],
                                "page": "https://shop.example.com/p/CP-1", "product": "CP-1"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    hero, rec = r.get_json()["decisions"]
    assert (hero["variant"], hero["arm"], hero["segment"]) == ("discount", "rules",
                                                                "cart_abandoner")
    assert rec["variant"] == "complete_your_order"
    assert "CP-1" not in [i["sku"] for i in rec["recommendations"]]  # the page's own product
    assert CountingStore.reads == 1
    record = store.decision(hero["decision_id"])
    assert record is not None and record["profile_id"] == "ann"
    assert record["context"]["page"] == "https://shop.example.com/p/CP-1"
    assert record["context"]["product"] == "CP-1"


def test_the_backend_route_keeps_the_holdout(store: CountingStore, tmp_path: Path) -> None:
    client = make_app(store, tmp_path, holdout_share=1.0).test_client()
    hero, rec = post_decisions(client, {"visitor_id": "ann",
                                        "slots": ["hero", "recommended"]}).get_json()["decisions"]
    assert (hero["variant"], hero["arm"], rec["variant"]) == ("default", "holdout", "bestsellers")
    assert store.decision(hero["decision_id"])["arm"] == "holdout"


def test_without_a_visitor_the_backend_gets_defaults_outside_the_experiment(
        client: FlaskClient, store: CountingStore) -> None:
    (hero,) = post_decisions(client, {"visitor_id": None, "slots": ["hero"]}
                             ).get_json()["decisions"]
    assert hero["variant"] == "default" and "arm" not in hero
    assert CountingStore.reads == 0 and store.decision(hero["decision_id"]) is None


@pytest.mark.parametrize(("body", "field", "message"), [
    (["hero"], "body", "JSON object"),
    ({"visitor_id": "ann"}, "slots", "list of 1 to 10"),
    ({"visitor_id": "ann", "slots": []}, "slots", "list of 1 to 10"),
    ({"visitor_id": "ann", "slots": ["hero", "hero"]}, "slots", "different"),
    ({"visitor_id": "ann", "slots": ["bad name"]}, "slots", "letters, digits"),
    ({"visitor_id": "not an id", "slots": ["hero"]}, "visitor_id", "cl_vid"),
    ({"visitor_id": 7, "slots": ["hero"]}, "visitor_id", "cl_vid"),
    ({"visitor_id": "ann", "slots": ["hero"], "page": ""}, "page", "URL"),
    ({"visitor_id": "ann", "slots": ["hero"], "product": "x" * 65}, "product", "sku"),
    ({"visitor_id": "ann", "slots": ["hero"], "user_id": "u"}, "user_id", "unknown field"),
])
def test_bad_backend_decision_requests_get_400_naming_the_field(
        client: FlaskClient, body: object, field: str, message: str) -> None:
    r = post_decisions(client, body)
    assert r.status_code == 400
    assert r.get_json()["field"] == field and message in r.get_json()["error"]


def test_unknown_slots_and_missing_tokens_are_refused(client: FlaskClient) -> None:
    r = post_decisions(client, {"visitor_id": "ann", "slots": ["hero", "sidebar"]})
    assert (r.status_code, r.get_json()["field"]) == (404, "slots")
    assert "'sidebar'" in r.get_json()["error"]
    anonymous = client.post("/v1/decisions", json={"visitor_id": "ann", "slots": ["hero"]})
    assert anonymous.status_code == 401
