"""The app as a whole (:func:`personalization.api.create_app`): health, and a store that is down."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from personalization.stores.redis_store import RedisStore
from tests.personalization.api.support import CountingStore, decide, make_app
from tests.personalization.helpers import ORIGIN


def test_store_down_answers_503_not_a_trace(tmp_path: Path) -> None:
    client = make_app(RedisStore("redis://127.0.0.1:1/0"), tmp_path).test_client()
    r = decide(client, "slot=hero", "ann")
    assert r.status_code == 503 and "store" in r.get_json()["error"]
    assert client.get("/v1/health").status_code == 503


def test_health_shows_the_rules_in_force(client: FlaskClient) -> None:
    body = client.get("/v1/health").get_json()
    assert body["status"] == "ok" and body["store"] == "ok"
    assert body["rules"]["slots"] == ["hero", "recommended"]
    assert client.get("/v1/nothing-here").get_json() == {
        "error": "The requested URL was not found on the server. If you entered the URL "
                 "manually please check your spelling and try again."}


class BrokenStore(CountingStore):
    """A store with a bug: the fast path must still answer JSON, never a trace."""

    def read_profile(self, visitor_id: str):  # type: ignore[no-untyped-def]
        raise KeyError("a bug")


def test_an_unexpected_error_on_the_fast_path_is_a_json_500(tmp_path: Path) -> None:
    store = BrokenStore(tmp_path / "store")
    client = make_app(store, tmp_path).test_client()
    r = decide(client, "slot=hero", "ann")
    assert r.status_code == 500 and r.get_json() == {"error": "internal error"}
    assert r.headers["Cache-Control"] == "no-store"
    store.close()


def test_the_fast_path_and_the_flask_route_answer_alike(client: FlaskClient) -> None:
    fast = decide(client, "slot=hero", "bob", Origin=ORIGIN)
    head = client.head("/v1/decide?slot=hero", headers={"Origin": ORIGIN})  # served by Flask
    assert fast.status_code == head.status_code == 200
    for name in ("Content-Type", "Cache-Control", "Vary", "Access-Control-Allow-Origin",
                 "Access-Control-Allow-Credentials"):
        assert fast.headers[name] == head.headers[name], name
    assert int(fast.headers["Content-Length"]) == len(fast.data)
    bad = decide(client, "slot=a&slot=b", "bob")
    assert bad.status_code == 400 and bad.get_json()["field"] == "slot"
