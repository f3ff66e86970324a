"""The backend routes (:mod:`personalization.api.backend`): bearer token, a visitor's profile,
forgetting, model metrics."""

from __future__ import annotations

from pathlib import Path

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
