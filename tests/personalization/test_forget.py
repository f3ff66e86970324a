"""Forgetting a person (``DELETE /v1/users/<id>``, ``DELETE /v1/visitors/<id>``,
``clickloop forget``) on both stores: nothing of theirs is served by any GET route afterwards,
a shared device's other user is untouched, the worker drops their events still in Kafka, and
the suppression list and audit log have the entry (when and what, never who)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from clickloop import cli
from personalization.api import create_app
from personalization.engine import Engine
from personalization.forgetting import forget_key
from personalization.intent import IntentModel
from personalization.observation import observe
from personalization.recommend import ItemGraph
from personalization.stitching import user_tombstone_key
from personalization.stores import Store
from personalization.stores.embedded import EmbeddedStore
from personalization.stores.redis_store import RedisStore
from tests.personalization.builders import epoch, event, view
from tests.personalization.helpers import TOKEN, api_settings, seed
from tests.personalization.test_stitching import (
    ANN,
    ANN_LAPTOP,
    ANN_PHONE,
    BOB,
    BOB_LAPTOP,
    laptop_ann,
    laptop_bob,
    phone,
)
from tracker.erasure import AuditLog, SuppressionList

pytestmark = pytest.mark.redis
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = epoch(303)
GET_ROUTES = ("/v1/model", "/v1/health")


@pytest.fixture(params=["embedded", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def store(kind: str, state_dir: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    made: Store
    if kind == "embedded":
        made = EmbeddedStore(state_dir / "personalization")
    else:
        made = RedisStore(request.getfixturevalue("redis_url"), prefix="clickloop:")
    yield made
    made.close()


def api(store: Store, state_dir: Path) -> FlaskClient:
    app = create_app(api_settings(state_dir), store=store)
    app.extensions["clickloop_personalization"].clock = lambda: NOW
    return app.test_client()


def decide(client: FlaskClient, visitor: str) -> dict:
    client.set_cookie("cl_vid", visitor)
    response = client.get("/v1/decide?slot=hero")
    client.application.extensions["clickloop_personalization"].decisions.flush()
    assert response.status_code == 200
    return response.get_json()


def story(store: Store, client: FlaskClient, *, bob: bool = True) -> str:
    """Ann on her phone and laptop (a decision shown on the laptop), then (``bob``) Bob on
    the laptop; returns Ann's decision id."""
    seed(store, phone() + laptop_ann(), now=epoch(203))
    decision = decide(client, "lp-1")
    assert decision["segment"] == "first_time_customer"  # her phone's order, on the laptop
    if bob:
        seed(store, laptop_bob(), now=NOW)
    return decision["decision_id"]


def every_get(client: FlaskClient) -> dict[str, str]:
    """The body of every GET route, for each of the story's visitor ids."""
    bodies = {}
    for visitor in ("ph-1", "lp-1"):
        response = client.get(f"/v1/visitors/{visitor}", headers=AUTH)
        # a 404 names the id asked about (the caller's own input), nothing stored
        bodies[f"visitors/{visitor}"] = "404" if response.status_code == 404 else \
            response.get_data(as_text=True)
        bodies[f"decide {visitor}"] = json.dumps(decide(client, visitor))
    for route in GET_ROUTES:
        bodies[route] = client.get(route, headers=AUTH).get_data(as_text=True)
    return bodies


TRACES = (ANN, "ph-1", "o-ph", ANN_PHONE, ANN_LAPTOP)


def test_after_forgetting_a_user_no_get_route_returns_anything_of_theirs(
        store: Store, state_dir: Path) -> None:
    client = api(store, state_dir)
    decision_id = story(store, client, bob=False)  # Ann is on her laptop now
    before = every_get(client)
    assert ANN in before["visitors/lp-1"] and "o-ph" in before["visitors/lp-1"]
    assert before["decide lp-1"] != before["decide ph-1"]

    r = client.delete(f"/v1/users/{ANN}", headers=AUTH)
    assert r.status_code == 200
    # her two device profiles, the two anonymous ones whose history went to her, her link,
    # the decisions of the story and of every_get (laptop twice, phone once)
    assert r.get_json() == {"forgotten": ANN, "removed": {
        "profile_id": f"user:{ANN}", "profiles": 4, "links": 1, "decisions": 3}}
    after = every_get(client)
    for route, body in after.items():
        for trace in TRACES:
            assert trace not in body, (route, trace)
    for visitor in ("ph-1", "lp-1"):
        assert client.get(f"/v1/visitors/{visitor}", headers=AUTH).status_code == 404
        now = decide(client, visitor)
        assert (now["segment"], now["intent"], now["variant"]) == ("new_visitor", None,
                                                                   "default")
    for profile_id in (ANN_PHONE, ANN_LAPTOP, "ph-1", "lp-1"):
        assert store.load_profile(profile_id) is None
    assert store.user_profiles(ANN) == [] and store.resolve("lp-1") == "lp-1"
    assert store.decision(decision_id) is None
    keys = {t.key for t in store.tombstones("0")[0]}
    assert {user_tombstone_key(ANN), forget_key("ph-1"), forget_key("lp-1")} <= keys
    # the batch jobs drop her rows, and her devices' anonymous rows (only she used them)
    suppressions = SuppressionList(state_dir)
    assert suppressions.keys("user") == {forget_key(ANN)}
    assert suppressions.keys("visitor") == {forget_key("ph-1"), forget_key("lp-1")}
    assert AuditLog(state_dir).entries()[0]["devices"] == 2


def test_forgetting_a_user_leaves_the_other_user_of_a_shared_device(
        store: Store, state_dir: Path) -> None:
    client = api(store, state_dir)
    decision_id = story(store, client)
    r = client.delete(f"/v1/users/{ANN}", headers=AUTH)
    assert r.status_code == 200
    assert r.get_json()["removed"] == {"profile_id": f"user:{ANN}", "profiles": 4,
                                       "links": 0, "decisions": 1}
    for route, body in every_get(client).items():
        for trace in TRACES:
            assert trace not in body, (route, trace)
    assert store.user_profiles(ANN) == [] and store.decision(decision_id) is None

    # Bob, on the same laptop, keeps everything
    bob = client.get("/v1/visitors/lp-1", headers=AUTH).get_json()
    assert (bob["profile_id"], bob["user_id"]) == (BOB_LAPTOP, BOB)
    assert bob["session"]["viewed"] == ["SH-2"]
    assert store.resolve("lp-1") == BOB_LAPTOP

    keys = {t.key for t in store.tombstones("0")[0]}
    assert {user_tombstone_key(ANN), forget_key("ph-1")} <= keys
    assert forget_key("lp-1") not in keys  # a shared device: Bob's events are his

    audit = AuditLog(state_dir).entries()
    assert len(audit) == 1
    entry = audit[0]
    assert (entry["action"], entry["kind"], entry["origin"]) == ("forget", "user", "api")
    assert entry["removed"] == {"profiles": 4, "links": 0, "decisions": 1}
    assert entry["devices"] == 1  # her phone; not the laptop Bob uses too
    assert entry["at"].endswith("+00:00")
    assert set(entry) == {"at", "action", "kind", "removed", "origin", "devices"}
    assert SuppressionList(state_dir).keys("user") == {forget_key(ANN)}
    assert SuppressionList(state_dir).keys("visitor") == {forget_key("ph-1")}
    privacy = "".join(p.read_text() for p in (state_dir / "privacy").iterdir())
    for trace in (ANN, "ph-1", "lp-1"):
        assert trace not in privacy  # when and what, never who


def test_forgetting_a_visitor_keeps_the_users_other_devices(store: Store,
                                                            state_dir: Path) -> None:
    client = api(store, state_dir)
    story(store, client)
    r = client.delete("/v1/visitors/ph-1", headers=AUTH)
    assert r.status_code == 200
    assert r.get_json()["removed"] == {"profile_id": "ph-1", "profiles": 2, "links": 0,
                                       "decisions": 0}
    assert store.load_profile(ANN_PHONE) is None and store.load_profile("ph-1") is None
    assert [p.profile_id for p in store.user_profiles(ANN)] == [ANN_LAPTOP]
    for body in every_get(client).values():
        assert "ph-1" not in body and "o-ph" not in body
    assert client.get("/v1/visitors/ph-1", headers=AUTH).status_code == 404
    assert SuppressionList(state_dir).keys("visitor") == {forget_key("ph-1")}
    assert AuditLog(state_dir).entries()[0]["kind"] == "visitor"


def test_delete_routes_need_the_token_and_a_valid_id(store: Store, state_dir: Path) -> None:
    client = api(store, state_dir)
    assert client.delete(f"/v1/users/{ANN}").status_code == 401
    bad = client.delete(f"/v1/users/{'x' * 129}", headers=AUTH)
    assert (bad.status_code, bad.get_json()["field"]) == (400, "user_id")
    bad = client.delete("/v1/visitors/not%20an%20id", headers=AUTH)
    assert (bad.status_code, bad.get_json()["field"]) == (400, "visitor_id")
    assert AuditLog(state_dir).entries() == []  # nothing was done, nothing recorded


def test_the_worker_drops_a_forgotten_users_events_still_in_kafka(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    seed(store, phone() + laptop_ann() + laptop_bob(), now=NOW)
    store.forget_user(ANN, now=NOW)
    engine = Engine(IntentModel("logreg"), ItemGraph(), load=store.load_profile,
                    identity=store.resolve)
    tombstones, _ = store.tombstones("0")
    engine.forget({t.key: t.at for t in tombstones})
    late = [event("identify", "tab-9", 250, user_id=ANN),  # sent before the request
            view("tab-9", 251, "JK-1", user_id=ANN), view("ph-1", 252, "SK-1"),
            view("lp-1", 302.5, "CP-1", user_id=BOB)]  # Bob's is his
    applied = [engine.process(observe(e), "events:0") for e in late]
    assert applied == [False, False, False, True]
    assert engine.counters.forgotten == 3
    assert f"{ANN}@tab-9" not in engine.profiles and "ph-1" not in engine.profiles


def run_cli(argv: list[str], state_dir: Path, monkeypatch: pytest.MonkeyPatch,
            redis_url: str | None) -> int:
    for name in ("CLICKLOOP_REDIS_URL", "CLICKLOOP_REDIS_PREFIX", "CLICKLOOP_SETTINGS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLICKLOOP_STATE_DIR", str(state_dir))
    if redis_url:
        monkeypatch.setenv("CLICKLOOP_REDIS_URL", redis_url)
    return cli.main(["forget", *argv])


def test_clickloop_forget(store: Store, state_dir: Path, kind: str,
                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                          request: pytest.FixtureRequest) -> None:
    seed(store, phone() + laptop_ann() + laptop_bob(), now=NOW)
    url = request.getfixturevalue("redis_url") if kind == "redis" else None
    assert run_cli(["--user", ANN], state_dir, monkeypatch, url) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["removed"] == {"profiles": 4, "links": 0, "decisions": 0}
    assert store.user_profiles(ANN) == [] and store.load_profile(ANN_PHONE) is None
    assert store.user_profiles(BOB) != []
    assert run_cli(["--visitor", "lp-1"], state_dir, monkeypatch, url) == 0
    assert store.read_profile("lp-1") is None and store.user_profiles(BOB) == []
    entries = AuditLog(state_dir).entries()
    assert [(e["kind"], e["origin"]) for e in entries] == [("user", "cli"), ("visitor", "cli")]
    # Ann, her phone (only she used it) and the laptop forgotten by visitor id
    assert SuppressionList(state_dir).keys() == {forget_key(ANN), forget_key("ph-1"),
                                                 forget_key("lp-1")}


def test_clickloop_forget_refuses_bad_input_and_records_nothing_when_the_store_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    state_dir = tmp_path / "state"
    with pytest.raises(SystemExit) as exited:
        run_cli(["--visitor", "a", "--user", "b"], state_dir, monkeypatch, None)
    assert exited.value.code == 2
    assert run_cli(["--visitor", "not an id"], state_dir, monkeypatch, None) == 2
    assert "--visitor" in capsys.readouterr().err
    assert run_cli(["--user", "ann"], state_dir, monkeypatch, "redis://127.0.0.1:9/0") == 1
    assert "nothing was forgotten" in capsys.readouterr().err
    assert not (state_dir / "privacy").exists()
