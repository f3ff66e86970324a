"""Two decision API instances (gunicorn, as in production) sharing one Redis agree."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from embedded.ports import free_port
from personalization.stores.redis_store import RedisStore
from tests.personalization.builders import add, buy, epoch, event, view
from tests.personalization.helpers import TOKEN, api_settings, seed
from tests.waiting import wait_until
from tracker.settings import PROJECT_ROOT

pytestmark = pytest.mark.redis

VISITORS = ["ann", "bob", "cy", "di", "ed", "fa", "gu", "hu"]


def story() -> list[dict]:
    events = [view("x1", 0, "JK-1"), view("x1", 1, "CP-1"),
              view("bob", 0, "SH-1"), view("bob", 1, "SK-1"), add("bob", 2, "SH-1"),
              buy("bob", 3, "o-bob", {"SH-1": 1}),
              view("ann", 10, "JK-1"), add("ann", 11, "JK-1"),
              event("page_view", "ann", 24 * 60 - 5)]
    for i, visitor in enumerate(VISITORS[2:]):
        events += [event("page_view", visitor, 100 + i), view(visitor, 101 + i, "WA-1")]
    return events


def start_api(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "clickloop.cli", "personalization", "api",
               "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    with open(log, "wb") as out:
        return subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    def healthy() -> bool:
        if process.poll() is not None:
            pytest.fail(f"the API exited:\n{log.read_text()[-3000:]}")
        try:
            return requests.get(url + "/v1/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(healthy, timeout=180,
               what=lambda: f"the API did not start:\n{log.read_text()[-3000:]}")


@pytest.fixture
def two_apis(redis_url: str, tmp_path: Path) -> Iterator[tuple[str, str, RedisStore]]:
    settings = api_settings(tmp_path / "state", redis_url=redis_url, holdout_share=0.5)
    store = RedisStore(redis_url, settings.personalization.redis_prefix)
    seed(store, story(), now=epoch(24 * 60))
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(PROJECT_ROOT)}
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"api-{i}.log" for i in range(2)]
    processes = [start_api(env, port, log) for port, log in zip(ports, logs, strict=True)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, process, log in zip(urls, processes, logs, strict=True):
            wait_ready(url, process, log)
        yield urls[0], urls[1], store
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        store.close()


def decide(url: str, slot: str, visitor: str) -> dict:
    r = requests.get(f"{url}/v1/decide", params={"slot": slot},
                     cookies={"cl_vid": visitor}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def same_decision(a: dict, b: dict) -> tuple:
    keys = ("slot", "variant", "arm", "segment", "intent", "content", "recommendations")
    return tuple(a[k] for k in keys if k in a), tuple(b[k] for k in keys if k in b)


def test_two_instances_on_redis_agree_and_see_each_others_writes(
        two_apis: tuple[str, str, RedisStore]) -> None:
    first, second, store = two_apis
    arms = set()
    for visitor in VISITORS:
        for slot in ("hero", "recommended"):
            a, b = decide(first, slot, visitor), decide(second, slot, visitor)
            left, right = same_decision(a, b)
            assert left == right, visitor
            assert a["decision_id"] != b["decision_id"]
            arms.add(a["arm"])
    assert arms == {"holdout", "rules"}  # both groups are represented among 8 visitors
    ann = decide(first, "hero", "ann")
    assert ann["segment"] == "cart_abandoner"
    # a decision made by one instance is in the shared log (written just after the answer)
    decision_id = decide(second, "hero", "bob")["decision_id"]
    logged = wait_until(lambda: store.decision(decision_id), timeout=30, interval=0.05,
                        what=f"decision {decision_id} in the shared log")
    assert logged is not None and logged["profile_id"] == "bob"

    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.get(f"{second}/v1/visitors/ann", headers=auth, timeout=10).status_code == 200
    forgotten = requests.delete(f"{first}/v1/visitors/ann", headers=auth, timeout=10)
    assert forgotten.status_code == 200 and forgotten.json()["removed"]["profiles"] == 1
    assert requests.get(f"{second}/v1/visitors/ann", headers=auth, timeout=10).status_code == 404
    after = decide(second, "hero", "ann")
    assert (after["segment"], after["intent"]) == ("new_visitor", None)


def decision_keys(store: RedisStore) -> int:
    return sum(1 for _ in store.r.scan_iter(match=store.k("decision", "*"), count=1000))


def test_anonymous_calls_cannot_grow_the_shared_decision_log(
        two_apis: tuple[str, str, RedisStore]) -> None:
    first, second, store = two_apis
    rng = random.Random(17)
    logged = decide(first, "hero", "bob")["decision_id"]  # a real visitor's decision is kept
    wait_until(lambda: store.decision(logged), timeout=30, interval=0.05,
               what="bob's decision in the log")
    before = decision_keys(store)
    for i in range(300):
        url = (first, second)[i % 2]
        cookie = {"cl_vid": f"{rng.getrandbits(128):032x}"}
        unknown = requests.get(f"{url}/v1/decide", params={"slot": f"s{rng.getrandbits(32):x}"},
                               cookies=cookie, timeout=10)
        assert unknown.status_code == 404 and unknown.json()["field"] == "slot"
        known = requests.get(f"{url}/v1/decide", params={"slot": "hero"}, cookies=cookie,
                             timeout=10)
        assert known.status_code == 200 and known.json()["segment"] == "new_visitor"
    # a real visitor's decision made after them is logged: the buffers were flushed past them
    last = decide(second, "recommended", "ann")["decision_id"]
    wait_until(lambda: store.decision(last), timeout=30, interval=0.05,
               what="ann's decision in the log")
    assert decision_keys(store) == before + 1


def test_a_backend_decides_several_slots_with_the_same_holdout_and_log(
        two_apis: tuple[str, str, RedisStore]) -> None:
    first, second, store = two_apis
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for visitor in VISITORS:
        r = requests.post(f"{first}/v1/decisions", headers=auth, timeout=10, json={
            "visitor_id": visitor, "slots": ["hero", "recommended"],
            "page": "https://shop.example.com/p/JK-1", "product": "JK-1"})
        assert r.status_code == 200, r.text
        hero, rec = r.json()["decisions"]
        browser = decide(second, "hero", visitor)
        left, right = same_decision(hero, browser)
        assert left == right, visitor  # the browser route decides the same
        assert "JK-1" not in [i["sku"] for i in rec["recommendations"]]  # not next to itself
    r = requests.post(f"{second}/v1/decisions", headers=auth, timeout=10,
                      json={"visitor_id": "ann", "slots": ["hero"], "page": "https://s/x"})
    decision = r.json()["decisions"][0]
    record = wait_until(lambda: store.decision(decision["decision_id"]), timeout=30,
                        interval=0.05, what="the backend's decision in the log")
    assert (record["profile_id"], record["arm"], record["context"]["page"]) == \
        ("ann", decision["arm"], "https://s/x")
    assert requests.post(f"{first}/v1/decisions", timeout=10,
                         json={"visitor_id": "ann", "slots": ["hero"]}).status_code == 401
