"""End to end through gunicorn (production config, 2 workers) into the real Kafka broker.

N events sent as JSON by a backend, as text/plain by a browser and as pixels arrive exactly N
times, keyed by visitor, enriched; bad input is answered precisely, dead-lettered with its
reason and never takes a worker down.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.fixtures.collector import end_offsets, read_topic
from tracker.contract import format_timestamp, new_event

pytestmark = pytest.mark.kafka

ORIGIN = "https://shop.example.com"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
          "like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
LONDON = "81.2.69.142"  # GB / London in MaxMind's test database
MILTON = "216.160.83.56"  # US / Milton, Washington


@pytest.fixture(scope="module")
def server(collector_factory):
    return collector_factory(trusted_proxies=1)


def batch(*events):
    return json.dumps({"events": list(events)})


def test_events_reach_kafka_exactly_once_keyed_and_enriched(server):
    dead_before = end_offsets(server.bootstrap, server.dead_letter_topic)
    sent: list[str] = []

    # a site backend: JSON, its own visitor ids, no cookie
    backend = requests.Session()
    server_events = [new_event("purchase", visitor_id=f"v-{i % 3}", user_id=f"u-{i % 3}",
                               order={"order_id": f"O-{i}", "revenue": 10.0 + i,
                                      "currency": "EUR"},
                               context={"user_agent": IPHONE})
                     for i in range(30)]
    response = backend.post(server.url + "/v1/events", data=batch(*server_events),
                            headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 30, "rejected": []}
    assert "Set-Cookie" not in response.headers
    sent += [e["event_id"] for e in server_events]

    # a browser in London: text/plain with Origin (sendBeacon), cookie set then sent back
    browser = requests.Session()
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN,
               "User-Agent": IPHONE, "X-Forwarded-For": LONDON}
    first = [new_event("page_view", url=f"https://shop.example.com/p/{i}?utm_source=news"
                       f"&utm_medium=email&utm_campaign=spring",
                       referrer="https://mail.google.com/") for i in range(10)]
    response = browser.post(server.url + "/v1/events", data=batch(*first), headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    visitor = browser.cookies["cl_vid"]
    second = [new_event("page_view", url="https://shop.example.com/cart",
                        referrer="https://shop.example.com/p/1", visitor_id="forged")
              for _ in range(10)]
    response = browser.post(server.url + "/v1/events", data=batch(*second), headers=headers)
    assert response.json()["accepted"] == 10
    assert browser.cookies["cl_vid"] == visitor  # renewed, same id
    sent += [e["event_id"] for e in first + second]

    # the same browser without JavaScript: pixels carry the cookie too
    for i in range(3):
        response = browser.get(server.url + f"/v1/p.gif?event_type=page_view&title=p{i}",
                               headers={"User-Agent": IPHONE, "X-Forwarded-For": LONDON,
                                        "Referer": "https://shop.example.com/?gclid=xyz"})
        assert response.status_code == 200 and response.content.startswith(b"GIF89a")

    # a crawler in the US, and a batch with two bad events among a good one
    crawler = requests.Session()
    bots = [new_event("page_view", url="https://shop.example.com/") for _ in range(5)]
    response = crawler.post(server.url + "/v1/events", data=batch(*bots),
                            headers={**headers, "User-Agent": GOOGLEBOT, "X-Forwarded-For":
                                     MILTON})
    assert response.json()["accepted"] == 5
    good = new_event("page_view", url="https://shop.example.com/")
    unknown_type = {**new_event("page_view", url="https://shop.example.com/"),
                    "event_type": "teleport"}
    future = {**new_event("page_view", url="https://shop.example.com/"),
              "client_ts": format_timestamp(datetime.now(UTC) + timedelta(days=10))}
    response = crawler.post(server.url + "/v1/events", data=batch(unknown_type, good, future),
                            headers={**headers, "User-Agent": GOOGLEBOT, "X-Forwarded-For":
                                     MILTON})
    assert response.status_code == 200
    assert [r["index"] for r in response.json()["rejected"]] == [0, 2]
    sent += [e["event_id"] for e in [*bots, good]]

    total = len(sent) + 3
    records = read_topic(server.bootstrap, server.topic, total)
    values = [json.loads(r.value) for r in records]

    # exactly once each, keyed by visitor, one partition per visitor
    assert Counter(v["event_id"] for v in values if v["enrichment"]["source"] != "pixel") == \
        Counter(sent)
    assert all(r.key.decode() == v["visitor_id"] for r, v in zip(records, values, strict=True))
    partitions: dict[bytes, set[int]] = {}
    for record in records:
        partitions.setdefault(record.key, set()).add(record.partition)
    assert all(len(p) == 1 for p in partitions.values())
    by_visitor = Counter(v["visitor_id"] for v in values)
    assert by_visitor[visitor] == 23 and by_visitor["v-0"] == 10
    assert by_visitor["forged"] == 0

    # enrichment, by source
    by_id = {v["event_id"]: v for v in values}
    purchase = by_id[server_events[0]["event_id"]]["enrichment"]
    assert purchase["source"] == "server" and purchase["ua"]["os"] == "iOS"
    assert "geo" not in purchase and "ip_anon" not in purchase
    page = by_id[first[0]["event_id"]]
    assert page["visitor_id"] == visitor
    assert page["enrichment"]["geo"] == {"country_code": "GB", "country": "United Kingdom",
                                         "region": "England", "city": "London",
                                         "latitude": 51.5142, "longitude": -0.0931}
    assert page["enrichment"]["ip_anon"] == "81.2.69.0"
    assert page["enrichment"]["ua"] == {"browser": "Mobile Safari", "browser_version": "17.0",
                                        "os": "iOS", "os_version": "17.0", "device": "mobile",
                                        "device_brand": "Apple", "is_bot": False}
    assert page["enrichment"]["utm"] == {"source": "news", "medium": "email",
                                         "campaign": "spring"}
    assert page["enrichment"]["referrer_class"] == "email"
    assert by_id[second[0]["event_id"]]["enrichment"]["referrer_class"] == "internal"
    pixels = [v for v in values if v["enrichment"]["source"] == "pixel"]
    assert sorted(p["title"] for p in pixels) == ["p0", "p1", "p2"]
    assert {p["visitor_id"] for p in pixels} == {visitor}
    assert {p["enrichment"]["referrer_class"] for p in pixels} == {"paid"}
    bot = by_id[bots[0]["event_id"]]["enrichment"]
    assert bot["ua"]["is_bot"] is True and bot["ua"]["device"] == "bot"
    assert bot["geo"]["city"] == "Milton" and bot["ip_anon"] == "216.160.83.0"
    raw = json.dumps(values)
    assert LONDON not in raw and MILTON not in raw

    # the two bad events are dead letters with their reasons, no raw IP
    letters = [json.loads(r.value) for r in
               read_topic(server.bootstrap, server.dead_letter_topic, 2, since=dead_before)]
    reasons = {letter["index"]: [e["field"] for e in letter["errors"]] for letter in letters}
    assert reasons == {0: ["event_type"], 2: ["client_ts"]}
    assert {letter["ip_anon"] for letter in letters} == {"216.160.83.0"}
    assert MILTON not in json.dumps(letters)

    # metrics are summed over both workers, whichever answers
    for _ in range(4):
        text = requests.get(server.url + "/metrics").text
        accepted = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("clickloop_collector_events_accepted_total{"))
        assert accepted == total


def worker_pids(master: int) -> set[int]:
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                children.add(int(entry.name))
    return children


def test_bad_input_is_answered_precisely_and_never_crashes_a_worker(server):
    workers = worker_pids(server.process.pid)
    assert len(workers) == 2
    events_before = end_offsets(server.bootstrap, server.topic)
    dead_before = end_offsets(server.bootstrap, server.dead_letter_topic)
    page = new_event("page_view", url="https://shop.example.com/")
    now = datetime.now(UTC)
    cases = [
        # (body, content type, status, field, dead letters written)
        (b'{"events": [', "application/json", 400, "body", 1),
        (b'{"events": ["\xff"]}', "text/plain", 400, "body", 1),
        (b'{"events": [' + b"[" * 40 + b"]" * 40 + b"]}", "application/json", 400, "body", 1),
        (batch(*[page] * 10_000).encode(), "application/json", 413, "body", 1),
        (batch(*[page] * 201).encode(), "application/json", 413, "events", 1),
        (batch(page).encode(), "application/xml", 415, "Content-Type", 0),
        (batch({**page, "title": "x" * 300_000}).encode(), "application/json", 400, "title", 1),
        (batch({**page, "event_type": "teleport"}).encode(), "text/plain", 400, "event_type", 1),
        (batch({k: v for k, v in page.items() if k != "event_id"}).encode(), "text/plain", 400,
         "event_id", 1),
        (batch({**page, "client_ts": format_timestamp(now - timedelta(days=90))}).encode(),
         "text/plain", 400, "client_ts", 1),
        (batch({**page, "client_ts": "9999-01-01T00:00:00Z"}).encode(), "text/plain", 400,
         "client_ts", 1),
    ]
    for payload, content_type, status, field, _ in cases:
        response = requests.post(server.url + "/v1/events", data=payload,
                                 headers={"Content-Type": content_type})
        assert response.status_code == status, (field, response.text)
        document = response.json()
        named = [document["error"]["field"]] if "error" in document else \
            [e["field"] for r in document["rejected"] for e in r["errors"]]
        assert field in named
    # a chunked upload past the limit (no Content-Length to refuse it by)
    chunks = (b" " * 65536 for _ in range(10))
    response = requests.post(server.url + "/v1/events", data=chunks,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    letters = read_topic(server.bootstrap, server.dead_letter_topic,
                         sum(case[4] for case in cases) + 1, since=dead_before)
    assert all(json.loads(r.value)["errors"] for r in letters)
    assert requests.get(server.url + "/healthz").status_code == 200
    assert worker_pids(server.process.pid) == workers  # no worker died or was replaced
    assert end_offsets(server.bootstrap, server.topic) == events_before
    assert os.kill(server.process.pid, 0) is None


def test_denied_consent_reaches_kafka_without_cookie_ip_or_identifiers(server):
    """Consent denied (the page's flag, DNT, GPC; a browser batch, a pixel, a backend event)
    through gunicorn into the real broker: no cookie is set, and the records hold no IP, no
    user id, no session id, no cookie id; a browser gets the day's ``anon-`` id."""
    since = end_offsets(server.bootstrap, server.topic)
    dead_since = end_offsets(server.bootstrap, server.dead_letter_topic)
    cookie = "0123456789abcdef0123456789abcdef"
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN,
               "User-Agent": IPHONE, "X-Forwarded-For": LONDON}
    ids = dict(user_id="u-secret-7", session_id="s-secret-7", visitor_id="v-secret-7")
    answers = []
    for extra_headers, consent in (({}, "denied"), ({"DNT": "1"}, None),
                                   ({"Sec-GPC": "1"}, None)):
        fields = {"consent": consent} if consent else {}
        events = [new_event("page_view", url="https://shop.example.com/p/1", **ids, **fields),
                  new_event("identify", user_id="u-secret-7", **fields)]
        answers.append(requests.post(server.url + "/v1/events", data=batch(*events),
                                     headers={**headers, **extra_headers}))
    pixel = requests.get(server.url + "/v1/p.gif?event_type=page_view&consent=denied"
                         "&user_id=u-secret-7", headers={
                             "User-Agent": IPHONE, "X-Forwarded-For": LONDON,
                             "Referer": "https://shop.example.com/p/2"})
    # a browser that has a cookie from before the denial: it is expired, never renewed
    with_cookie = requests.post(server.url + "/v1/events", data=batch(new_event(
        "page_view", url="https://shop.example.com/", consent="denied")),
        headers={**headers, "Cookie": f"cl_vid={cookie}"})
    backend = requests.post(server.url + "/v1/events", data=batch(new_event(
        "purchase", visitor_id="v-secret-7", user_id="u-secret-7", consent="denied",
        order={"order_id": "O-77", "revenue": 5.0, "currency": "EUR"})),
        headers={"Content-Type": "application/json"})

    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == 1  # the identify is refused
        assert answer.json()["rejected"][0]["errors"][0]["field"] == "event_type"
        assert "Set-Cookie" not in answer.headers
    assert pixel.status_code == 200, pixel.text
    assert "Set-Cookie" not in pixel.headers
    assert backend.status_code == 200 and "Set-Cookie" not in backend.headers
    expired = with_cookie.headers["Set-Cookie"]
    assert expired.startswith("cl_vid=;") and "Max-Age=0" in expired

    records = read_topic(server.bootstrap, server.topic, 6, since=since)
    values = [json.loads(r.value) for r in records]
    raw = json.dumps(values) + "".join(r.key.decode() for r in records)
    for secret in (LONDON, "u-secret-7", "s-secret-7", "v-secret-7", cookie):
        assert secret not in raw
    browser = [(r, v) for r, v in zip(records, values, strict=True)
               if v["enrichment"]["source"] != "server"]
    assert len(browser) == 5
    for record, value in browser:
        assert value["visitor_id"].startswith("anon-") and len(value["visitor_id"]) == 37
        assert record.key.decode() == value["visitor_id"]
        assert value["enrichment"]["cookieless"] is True
        assert value["enrichment"]["ip_anon"] == "81.2.69.0"
        assert "user_id" not in value and "session_id" not in value
    # one browser, one IP, one day: one id, whichever signal denied consent
    assert len({v["visitor_id"] for _, v in browser}) == 1
    [server_side] = [v for v in values if v["enrichment"]["source"] == "server"]
    assert "visitor_id" not in server_side and "user_id" not in server_side
    assert server_side["order"]["order_id"] == "O-77"
    assert end_offsets(server.bootstrap, server.dead_letter_topic) == dead_since
