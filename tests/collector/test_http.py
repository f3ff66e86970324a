"""The HTTP layer with Flask's test client and an in-memory sink (fast, one app per test).

Proves statuses, bodies, headers, cookies, CORS, consent and the dead-letter records; delivery
through the real Kafka broker and gunicorn is proven in test_delivery.py and test_outage.py.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from collector.app import create_app
from collector.sinks import MemorySink, SinkFull, SinkUnavailable
from tracker.contract import format_timestamp, new_event
from tracker.settings import Settings

ORIGIN = "https://shop.example.com"
CITY_DB = Path(__file__).resolve().parents[3] / "shared" / "data" / "geoip" / \
    "GeoIP2-City-Test.mmdb"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
          "like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
EID = "0b9f4f3e-8a43-4c3e-9d59-6f1e2f3a4b5c"


def make_app(tmp_path: Path, **collector: Any):
    base = Settings.from_env({})
    options = {"allowed_origins": (ORIGIN,), "trusted_proxies": 1,
               "geoip_db": CITY_DB if CITY_DB.exists() else None, **collector}
    settings = dataclasses.replace(base, state_dir=tmp_path,
                                   collector=dataclasses.replace(base.collector, **options))
    sink = MemorySink()
    app = create_app({"TESTING": True, "SNIPPET_PATH": str(tmp_path / "clickloop.min.js")},
                     settings=settings, sink=sink)
    return app, sink


@pytest.fixture
def app_sink(tmp_path):
    app, sink = make_app(tmp_path)
    yield app, sink
    app.extensions["clickloop"].close()


@pytest.fixture
def client(app_sink):
    return app_sink[0].test_client()


@pytest.fixture
def sink(app_sink):
    return app_sink[1]


def page_view(**extra: Any) -> dict[str, Any]:
    return new_event("page_view", url="https://shop.example.com/p/1", **extra)


def body(*events: Any) -> str:
    return json.dumps({"events": list(events)})


def post(client, payload, *, content_type="text/plain;charset=UTF-8", origin=ORIGIN,
         headers=None, ip="81.2.69.142"):
    all_headers = {"User-Agent": IPHONE, "X-Forwarded-For": ip, **(headers or {})}
    if origin is not None:
        all_headers["Origin"] = origin
    return client.post("/v1/events", data=payload, content_type=content_type,
                       headers=all_headers)


def stored(sink, topic="clickloop.events") -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in sink.on_topic(topic)]


def set_cookie(response) -> str | None:
    return response.headers.get("Set-Cookie")


# --- happy path ---------------------------------------------------------------------------------

def test_browser_batch_is_accepted_enriched_and_keyed_by_cookie(client, sink):
    events = [page_view(referrer="https://www.google.co.uk/"), page_view()]
    response = post(client, body(*events))
    assert response.status_code == 200
    assert response.json == {"accepted": 2, "rejected": []}
    cookie = set_cookie(response)
    visitor = re.match(r"cl_vid=([0-9a-f]{32});", cookie).group(1)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=34128000" in cookie
    assert "Secure" not in cookie  # plain http
    records = sink.on_topic("clickloop.events")
    assert [r.key for r in records] == [visitor.encode()] * 2
    first = stored(sink)[0]
    assert first["visitor_id"] == visitor
    assert first["enrichment"]["source"] == "js"
    assert first["enrichment"]["ip_anon"] == "81.2.69.0"
    assert first["enrichment"]["geo"]["city"] == "London"
    assert first["enrichment"]["ua"]["device"] == "mobile"
    assert first["enrichment"]["referrer_class"] == "search"
    assert "81.2.69.142" not in json.dumps(stored(sink))


def test_cookie_is_reused_and_renewed(client, sink):
    first = post(client, body(page_view()))
    visitor = re.match(r"cl_vid=([0-9a-f]{32});", set_cookie(first)).group(1)
    second = post(client, body(page_view(visitor_id="client-made-up")))
    assert set_cookie(second).startswith(f"cl_vid={visitor};")
    assert [e["visitor_id"] for e in stored(sink)] == [visitor, visitor]


def test_invalid_cookie_value_is_replaced(client, sink):
    client.set_cookie("cl_vid", "bad value with spaces", domain="localhost")
    response = post(client, body(page_view()))
    assert re.match(r"cl_vid=[0-9a-f]{32};", set_cookie(response))


def test_secure_cookie_behind_https_proxy_with_domain(tmp_path):
    app, _ = make_app(tmp_path, cookie_domain=".example.com", cookie_max_age_days=9999)
    response = post(app.test_client(), body(page_view()),
                    headers={"X-Forwarded-Proto": "https"})
    cookie = set_cookie(response)
    assert "Secure" in cookie and "Domain=example.com" in cookie
    assert "Max-Age=34128000" in cookie  # capped at 13 months whatever is configured


def test_server_events_keep_their_visitor_and_get_no_cookie(client, sink):
    event = new_event("purchase", visitor_id="v-42", user_id="u-7",
                      order={"order_id": "O-1", "revenue": 10.0, "currency": "EUR"},
                      context={"user_agent": IPHONE})
    response = post(client, body(event), content_type="application/json", origin=None)
    assert response.status_code == 200
    assert set_cookie(response) is None
    record = sink.on_topic("clickloop.events")[0]
    assert record.key == b"v-42"
    value = json.loads(record.value)
    assert value["visitor_id"] == "v-42" and value["user_id"] == "u-7"
    assert value["enrichment"]["source"] == "server"
    assert value["enrichment"]["ua"]["os"] == "iOS"
    assert "ip_anon" not in value["enrichment"] and "geo" not in value["enrichment"]


def test_derived_timestamp_uses_client_clock_difference(client, sink):
    slow = datetime.now(UTC) - timedelta(hours=3)
    event = new_event("page_view", url="https://shop.example.com/", at=slow,
                      sent_ts=format_timestamp(slow + timedelta(seconds=10)))
    post(client, body(event))
    enrichment = stored(sink)[0]["enrichment"]
    collector = datetime.fromisoformat(enrichment["collector_ts"].replace("Z", "+00:00"))
    derived = datetime.fromisoformat(enrichment["derived_ts"].replace("Z", "+00:00"))
    assert collector - derived == timedelta(seconds=10)


# --- consent --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "consent"), [
    ({"DNT": "1"}, None),
    ({"Sec-GPC": "1"}, None),
    ({}, "denied"),
])
def test_denied_consent_sets_no_cookie_and_stores_no_identifiers(client, sink, headers,
                                                                 consent):
    client.set_cookie("cl_vid", "0123456789abcdef0123456789abcdef", domain="localhost")
    extra = {"consent": consent} if consent else {}
    events = [page_view(session_id="s-1", user_id="u-1", visitor_id="v-1", **extra),
              new_event("identify", user_id="u-1", **extra)]
    response = post(client, body(*events), headers=headers)
    assert response.status_code == 200
    assert response.json["accepted"] == 1
    assert response.json["rejected"][0]["index"] == 1
    assert response.json["rejected"][0]["errors"][0]["field"] == "event_type"
    cookie = set_cookie(response)
    assert cookie.startswith("cl_vid=;") and "Max-Age=0" in cookie  # expired, not renewed
    [event] = stored(sink)
    assert "user_id" not in event and "session_id" not in event
    assert re.fullmatch(r"anon-[0-9a-f]{32}", event["visitor_id"])
    assert event["enrichment"]["cookieless"] is True
    assert "0123456789abcdef0123456789abcdef" not in json.dumps(event)
    assert sink.on_topic("clickloop.events.bad") == []  # a refused identify is no dead letter


def test_cookieless_id_is_stable_within_a_day_and_differs_by_ua(client, sink):
    for ua in (IPHONE, IPHONE, "Mozilla/5.0 (Windows NT 10.0) Firefox/120.0"):
        post(client, body(page_view()), headers={"DNT": "1", "User-Agent": ua})
    ids = [e["visitor_id"] for e in stored(sink)]
    assert ids[0] == ids[1] != ids[2]


def test_the_same_person_gets_another_cookieless_id_the_next_day(app_sink, client, sink,
                                                                 tmp_path):
    state = app_sink[0].extensions["clickloop"]
    day_one = datetime(2026, 11, 23, 23, 59, 30, tzinfo=UTC)
    day_two = day_one + timedelta(minutes=1)  # 00:00:30 the next day (UTC)
    for moment in (day_one, day_one, day_two, day_two):
        state.clock = lambda moment=moment: moment
        event = page_view(consent="denied", client_ts=format_timestamp(moment))
        assert post(client, body(event)).json["accepted"] == 1
    ids = [e["visitor_id"] for e in stored(sink)]
    assert ids[0] == ids[1] and ids[2] == ids[3]  # same browser, same IP, same day: same id
    assert ids[0] != ids[2]  # nothing links the two days
    assert all(re.fullmatch(r"anon-[0-9a-f]{32}", i) for i in ids)
    # yesterday's salt is gone: yesterday's ids cannot be recomputed from what is stored
    salts = sorted(p.name for p in (tmp_path / "collector" / "salt").iterdir())
    assert salts == ["2026-11-24.salt"]


def test_dnt_ignored_when_not_honoured(tmp_path):
    app, sink = make_app(tmp_path, honour_dnt=False)
    response = post(app.test_client(), body(page_view()), headers={"DNT": "1"})
    assert set_cookie(response).startswith("cl_vid=")
    assert "cookieless" not in stored(sink)[0]["enrichment"]


def test_cookieless_always(tmp_path):
    app, sink = make_app(tmp_path, cookieless="always")
    response = post(app.test_client(), body(page_view()))
    assert set_cookie(response) is None
    assert stored(sink)[0]["enrichment"]["cookieless"] is True


def test_server_event_with_denied_consent_loses_identifiers(client, sink):
    event = new_event("purchase", visitor_id="v-42", user_id="u-7", consent="denied",
                      order={"order_id": "O-1", "revenue": 10.0, "currency": "EUR"})
    post(client, body(event), content_type="application/json", origin=None)
    record = sink.on_topic("clickloop.events")[0]
    value = json.loads(record.value)
    assert "visitor_id" not in value and "user_id" not in value
    assert record.key == event["event_id"].encode()


# --- CORS -----------------------------------------------------------------------------------------

def test_preflight_from_allowed_origin(client):
    response = client.options("/v1/events", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("method", ["options", "post"])
def test_other_origins_are_refused(client, sink, method):
    response = getattr(client, method)("/v1/events", data=body(page_view()),
                                       content_type="text/plain",
                                       headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert response.json["error"]["field"] == "Origin"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert sink.records == []


def test_same_origin_is_allowed_and_null_is_not(client):
    assert post(client, body(page_view()), origin="http://localhost").status_code == 200
    assert post(client, body(page_view()), origin="null").status_code == 403


def test_wildcard_allows_any_origin(tmp_path):
    app, _ = make_app(tmp_path, allowed_origins=("*",))
    response = post(app.test_client(), body(page_view()), origin="http://other.test")
    assert response.headers["Access-Control-Allow-Origin"] == "http://other.test"


# --- bad input ------------------------------------------------------------------------------------

NOW = datetime.now(UTC)
BAD_BODIES: list[tuple[str, Any, str, int, str]] = [
    # (name, body, content type, status, field named)
    ("malformed json", b'{"events": [', "application/json", 400, "body"),
    ("empty body", b"", "application/json", 400, "body"),
    ("not a batch", b'[{"event_type": "page_view"}]', "application/json", 400, "events"),
    ("events not a list", b'{"events": {}}', "application/json", 400, "events"),
    ("empty batch", b'{"events": []}', "application/json", 400, "events"),
    ("unknown batch field", b'{"events": [], "x": 1}', "application/json", 400, "x"),
    ("invalid utf-8", b'{"events": ["\xff\xfe"]}', "text/plain", 400, "body"),
    ("deep nesting", b'{"events": [' + b"[" * 50 + b"]" * 50 + b"]}", "application/json",
     400, "body"),
    ("recursion-deep nesting", b'{"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
     "application/json", 400, "body"),
    ("oversize body", body(page_view(title="x" * 500)).encode() + b" " * 600_000,
     "application/json", 413, "body"),
    ("10,000-event batch", body(*[{"event_type": "page_view"}] * 10_000).encode(),
     "application/json", 413, "events"),
    ("201-event batch", body(*[{}] * 201).encode(), "application/json", 413, "events"),
    ("wrong content type", body(page_view()).encode(), "application/x-www-form-urlencoded",
     415, "Content-Type"),
    ("no content type", body(page_view()).encode(), "", 415, "Content-Type"),
    ("latin-1 charset", body(page_view()).encode(), "text/plain; charset=latin-1", 415,
     "Content-Type"),
]


@pytest.mark.parametrize(("name", "payload", "content_type", "status", "field"), BAD_BODIES,
                         ids=[case[0] for case in BAD_BODIES])
def test_bad_bodies_are_answered_precisely(client, sink, name, payload, content_type, status,
                                           field):
    response = post(client, payload, content_type=content_type)
    assert response.status_code == status
    assert response.json["error"]["status"] == status
    assert response.json["error"]["field"] == field
    assert response.json["error"]["message"]
    assert sink.on_topic("clickloop.events") == []
    if status in (400, 413):  # the body's head goes to the dead letters with the reason
        [letter] = stored(sink, "clickloop.events.bad")
        assert letter["errors"][0]["field"] == field
        assert letter["ip_anon"] == "81.2.69.0"
        assert "81.2.69.142" not in json.dumps(letter)


def test_gzip_bodies_are_refused(client):
    response = post(client, b"\x1f\x8b...", content_type="application/json",
                    headers={"Content-Encoding": "gzip"})
    assert response.status_code == 415
    assert response.json["error"]["field"] == "Content-Encoding"


BAD_EVENTS: list[tuple[str, Any, str]] = [
    ("unknown event type", {**page_view(), "event_type": "teleport"}, "event_type"),
    ("missing event_id", {k: v for k, v in page_view().items() if k != "event_id"},
     "event_id"),
    ("missing url", {k: v for k, v in page_view().items() if k != "url"}, "url"),
    ("huge string", {**page_view(), "title": "x" * 100_000}, "title"),
    ("far future", {**page_view(), "client_ts": format_timestamp(NOW + timedelta(days=3))},
     "client_ts"),
    ("far past", {**page_view(), "client_ts": format_timestamp(NOW - timedelta(days=400))},
     "client_ts"),
    ("year 9999", {**page_view(), "client_ts": "9999-12-31T23:59:59Z"}, "client_ts"),
    ("lone surrogate", {**page_view(), "title": "\ud800"}, "title"),
    ("enrichment sent by client", {**page_view(), "enrichment": {"source": "js"}},
     "enrichment"),
    ("not an object", "page_view", ""),
]


@pytest.mark.parametrize(("name", "event", "field"), BAD_EVENTS,
                         ids=[case[0] for case in BAD_EVENTS])
def test_bad_events_are_rejected_by_index_and_dead_lettered(client, sink, name, event, field):
    good = page_view()
    response = post(client, body(good, event).encode("utf-8", "surrogatepass"))
    assert response.status_code == 200
    assert response.json["accepted"] == 1
    [rejected] = response.json["rejected"]
    assert rejected["index"] == 1
    assert field in [e["field"] for e in rejected["errors"]]
    assert [e["event_id"] for e in stored(sink)] == [good["event_id"]]
    [letter] = stored(sink, "clickloop.events.bad")
    assert letter["index"] == 1
    assert field in [e["field"] for e in letter["errors"]]
    assert ("event" in letter) or ("event_truncated" in letter)


def test_all_invalid_batch_is_400_with_every_index(client, sink):
    response = post(client, body({"event_type": "x"}, {}))
    assert response.status_code == 400
    assert [r["index"] for r in response.json["rejected"]] == [0, 1]
    assert response.json["accepted"] == 0
    assert len(sink.on_topic("clickloop.events.bad")) == 2


def test_dead_letters_under_denied_consent_hold_no_identifiers(client, sink):
    bad = {**page_view(user_id="u-secret", session_id="s-secret"), "event_type": "nope"}
    post(client, body(bad), headers={"DNT": "1"})
    letter = json.dumps(stored(sink, "clickloop.events.bad"))
    assert "u-secret" not in letter and "s-secret" not in letter


# --- storage failures -----------------------------------------------------------------------------

@pytest.mark.parametrize("failure", [SinkFull("spool is full"), SinkUnavailable("down")])
def test_storage_failure_is_503_and_never_200(client, sink, failure):
    sink.fail_with = failure
    response = post(client, body(page_view()))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json["error"]["field"] == "storage"
    assert client.get("/readyz").status_code == 503


# --- pixel ----------------------------------------------------------------------------------------

def test_pixel_records_one_event_and_returns_an_uncached_gif(client, sink):
    response = client.get("/v1/p.gif?event_type=page_view&title=Home&properties.plan=pro"
                          "&engaged_ms=5",
                          headers={"Referer": "https://shop.example.com/?gclid=1",
                                   "User-Agent": IPHONE, "X-Forwarded-For": "81.2.69.142"})
    assert response.status_code == 200
    assert response.mimetype == "image/gif"
    assert response.data.startswith(b"GIF89a") and len(response.data) == 42
    assert "no-store" in response.headers["Cache-Control"]
    assert set_cookie(response).startswith("cl_vid=")
    [event] = stored(sink)
    assert event["url"] == "https://shop.example.com/?gclid=1"
    assert event["title"] == "Home" and event["properties"] == {"plan": "pro"}
    assert event["engaged_ms"] == 5
    assert event["enrichment"]["source"] == "pixel"
    assert event["enrichment"]["referrer_class"] == "paid"
    assert event["enrichment"]["geo"]["country_code"] == "GB"


def test_pixel_with_bad_parameters_is_400_json(client, sink):
    response = client.get("/v1/p.gif?event_type=teleport&color=red")
    assert response.status_code == 400
    fields = [e["field"] for e in response.json["rejected"][0]["errors"]]
    assert "event_type" in fields and "color" in fields
    assert len(sink.on_topic("clickloop.events.bad")) == 1


# --- other endpoints ------------------------------------------------------------------------------

def test_schema_endpoint(client):
    response = client.get("/v1/schema")
    assert response.status_code == 200
    assert response.json["title"] == "Clickloop event v1"
    assert "enrichment" not in response.json["properties"]


def test_snippet_404_until_built_then_cached(app_sink, client, tmp_path):
    missing = client.get("/v1/clickloop.js")
    assert missing.status_code == 404
    assert missing.json["error"]["field"] == "clickloop.js"
    (tmp_path / "clickloop.min.js").write_text("window.clickloop=1;")
    response = client.get("/v1/clickloop.js")
    assert response.status_code == 200
    assert response.data == b"window.clickloop=1;"
    assert "javascript" in response.mimetype
    assert "max-age=3600" in response.headers["Cache-Control"]
    again = client.get("/v1/clickloop.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_unknown_path_and_method_are_json(client):
    assert client.get("/nope").json["error"]["status"] == 404
    response = client.put("/v1/events")
    assert response.status_code == 405 and response.json["error"]["field"] == "method"


def test_health_and_metrics(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json["ready"] is True
    post(client, body(page_view(), {"bad": 1}))
    client.get("/v1/p.gif", headers={"Referer": "https://shop.example.com/"})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'clickloop_collector_events_accepted_total{source="js"} 1\n' in text
    assert 'clickloop_collector_events_accepted_total{source="pixel"} 1\n' in text
    assert "clickloop_collector_events_rejected_total 1\n" in text
    assert "clickloop_collector_produce_latency_seconds_count 2\n" in text
    assert "# TYPE clickloop_collector_produce_latency_seconds histogram" in text


# --- fuzz -----------------------------------------------------------------------------------------

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                      st.text(max_size=30))
json_value = st.recursive(json_leaf, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children,
                                                    max_size=4)), max_leaves=20)
near_event = st.fixed_dictionaries(
    {"schema_version": st.sampled_from([1, 1, 2, "1"]),
     "event_id": st.sampled_from([EID, "x", ""]),
     "event_type": st.sampled_from(["page_view", "click", "purchase", "custom", "zzz"]),
     "client_ts": st.sampled_from([format_timestamp(NOW), "2026-02-30T00:00:00Z", "now"])},
    optional={"url": st.sampled_from(["https://a.example/", "ftp://x", ""]),
              "consent": st.sampled_from(["granted", "denied", "maybe"]),
              "properties": json_value, "context": json_value, "order": json_value,
              "target": json_value},
)
fuzz_body = st.one_of(
    st.binary(max_size=300),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.lists(st.one_of(near_event, json_value), min_size=0, max_size=6).map(
        lambda events: json.dumps({"events": events}).encode()),
)


@hyp_settings(max_examples=200, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=fuzz_body, content_type=st.sampled_from(["application/json", "text/plain",
                                                         "image/png"]),
       dnt=st.booleans())
def test_fuzzed_bodies_get_only_2xx_or_4xx(client, payload, content_type, dnt):
    response = post(client, payload, content_type=content_type,
                    headers={"DNT": "1"} if dnt else None)
    assert 200 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json


@hyp_settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.lists(st.tuples(st.sampled_from(["event_type", "url", "title", "engaged_ms",
                                                  "properties.a", "context.screen_width",
                                                  "client_ts", "consent", "zz"]),
                                 st.text(max_size=20)), max_size=6))
def test_fuzzed_pixels_get_only_2xx_or_4xx(client, params):
    response = client.get("/v1/p.gif", query_string=params)
    assert response.status_code in (200, 400)


# hostile values the contract must name (issue 15): out-of-range clocks, huge integers, NUL,
# empty keys, 1.0 for the integer 1; as raw JSON literals so hypothesis can splice them in
HOSTILE_LITERALS = ['"9999-12-31T23:59:59Z"', '"0001-01-01T00:00:00+01:00"',
                    '"9999-12-31T23:59:59-01:00"', '"5000-01-01T00:00:00Z"', "7" * 5000,
                    "1.0", "1e999", '"a\\u0000"', '{"": 1}', '{"n": 99999999999999999999}',
                    "NaN", '"\\ud800"', "[" * 40 + "]" * 40, "-0", "true", "null"]
hostile_event = st.builds(
    lambda event, name, literal: json.dumps(event)[:-1] + f', "{name}": {literal}}}',
    st.builds(lambda: page_view()),
    st.sampled_from(["sent_ts", "client_ts", "schema_version", "title", "properties",
                     "engaged_ms", "url", "events", ""]),
    st.sampled_from(HOSTILE_LITERALS))
hostile_body = st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(hostile_event, json_value.map(json.dumps),
                       st.builds(lambda: json.dumps(page_view()))), min_size=1, max_size=6)
    .map(lambda texts: ('{"events": [' + ",".join(texts) + "]}").encode("utf-8",
                                                                         "surrogatepass")),
    st.sampled_from([b'{"events": [], "events": []}', b'{"events": [{"title": "a\nb"}]}',
                     b"\xef\xbb\xbf{}", b'{"events": [' + b"7" * 5000 + b"]}"]),
)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
hostile_headers = st.fixed_dictionaries({}, optional={
    "Content-Type": st.one_of(header_text, st.sampled_from([
        "application/json", "text/plain;charset=UTF-8", "text/plain; charset=utf-16",
        "application/json; charset="])),
    "Content-Encoding": st.sampled_from(["identity", "gzip", "", "br"]),
    "Origin": st.one_of(header_text, st.sampled_from([ORIGIN, "null"])),
    "X-Forwarded-For": st.one_of(header_text, st.sampled_from(["1.2.3.4, 5.6.7.8", "::1",
                                                               "999.1.1.1"])),
    "X-Forwarded-Proto": st.sampled_from(["https", "http", "ftp"]),
    "DNT": st.sampled_from(["1", "0", "yes"]),
    "Sec-GPC": st.sampled_from(["1", "x"]),
    "User-Agent": header_text,
    "Cookie": st.one_of(header_text.map(lambda v: f"cl_vid={v}"), header_text),
})


@hyp_settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
@given(payload=hostile_body, headers=hostile_headers)
def test_hostile_bodies_and_headers_are_answered_or_dead_lettered(client, sink, payload,
                                                                  headers):
    """Only 2xx/4xx; every refused event named in the answer and in the dead letters."""
    events_before = len(sink.on_topic("clickloop.events"))
    letters_before = len(sink.on_topic("clickloop.events.bad"))
    response = client.post("/v1/events", data=payload, headers=headers)
    assert 200 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    assert response.is_json
    answer = response.json
    new_events = len(sink.on_topic("clickloop.events")) - events_before
    new_letters = len(sink.on_topic("clickloop.events.bad")) - letters_before
    if "error" in answer:
        assert answer["error"]["field"] and answer["error"]["message"]
        assert new_events == 0
        # a refused body goes to the dead letters; 403/415 are refused before it is read
        assert new_letters == (1 if response.status_code in (400, 413) else 0)
        return
    assert new_events == answer["accepted"]
    named = 0
    for rejected in answer["rejected"]:
        assert rejected["errors"] and all(e["message"] for e in rejected["errors"])
        named += "consent is denied" not in rejected["errors"][0]["message"]
    assert new_letters == named
