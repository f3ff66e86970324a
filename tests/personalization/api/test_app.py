"""The app as a whole (:func:`personalization.api.create_app`): health, and a store that is down."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from personalization.stores.redis_store import RedisStore
from tests.personalization.api.support import decide, make_app


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
