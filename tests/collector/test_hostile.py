"""Hostile input against the real collector (gunicorn, production config) and the real broker.

Every defect of issue 15's hostile-input run: each answer is a 4xx naming the field, each
refused event is in the dead-letter topic, nothing is a 5xx, and slow clients cannot take the
threads away from everyone else.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from tests.fixtures.collector import CollectorServer, end_offsets, read_topic
from tracker.contract import format_timestamp, new_event

pytestmark = pytest.mark.kafka

ORIGIN = "https://shop.example.com"
HEADERS = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN}


@pytest.fixture(scope="module")
def server(collector_factory) -> CollectorServer:
    # the layout: 2 workers x 8 threads; no trusted proxy (the default)
    return collector_factory(workers=2, threads=8)


def event_text(**extra: object) -> str:
    """A valid page_view as JSON text, with fields replaced by raw JSON literals."""
    event = new_event("page_view", url="https://shop.example.com/")
    text = json.dumps({k: v for k, v in event.items() if k not in extra})
    for name, literal in extra.items():
        text = text[:-1] + f', "{name}": {literal}}}'
    return text


def post(server: CollectorServer, body: str | bytes, **headers: str) -> requests.Response:
    return requests.post(server.url + "/v1/events", data=body, headers={**HEADERS, **headers},
                         timeout=30)


def dead_letters(server: CollectorServer, since: dict[int, int], count: int) -> list[dict]:
    return [json.loads(r.value) for r in read_topic(server.bootstrap, server.dead_letter_topic,
                                                   count, since=since)]


NOW = format_timestamp(datetime.now(UTC))
EVENT_CASES = [
    # (name, event JSON, field the answer and the dead letter must name)
    ("sent_ts year 9999", event_text(sent_ts='"9999-12-31T23:59:59Z"'), "sent_ts"),
    ("sent_ts year 5000", event_text(sent_ts='"5000-01-01T00:00:00Z"'), "sent_ts"),
    ("client_ts year 1 +01:00", event_text(client_ts='"0001-01-01T00:00:00+01:00"'),
     "client_ts"),
    ("client_ts year 9999 -01:00", event_text(client_ts='"9999-12-31T23:59:59-01:00"'),
     "client_ts"),
    ("5,000-digit integer", event_text(properties='{"n": ' + "7" * 5000 + "}"),
     "properties.n"),
    ("schema_version 1.0", event_text(schema_version="1.0"), "schema_version"),
    ("NUL in a string", event_text(title='"a\\u0000b"'), "title"),
    ("NUL in a property", event_text(properties='{"k": "\\u0000"}'), "properties.k"),
    ("empty property key", event_text(properties='{"": 1}'), 'properties[""]'),
]


@pytest.mark.parametrize(("name", "text", "field"), EVENT_CASES,
                         ids=[case[0] for case in EVENT_CASES])
def test_hostile_events_are_400_naming_the_field_and_dead_lettered(server, name, text, field):
    since = end_offsets(server.bootstrap, server.dead_letter_topic)
    response = post(server, '{"events": [' + text + "]}")
    assert response.status_code == 400, response.text
    [rejected] = response.json()["rejected"]
    assert field in [e["field"] for e in rejected["errors"]], rejected
    [letter] = dead_letters(server, since, 1)
    assert field in [e["field"] for e in letter["errors"]]


@pytest.mark.parametrize(("name", "query", "field"), [
    ("sent_ts year 9999", "sent_ts=9999-12-31T23:59:59Z", "sent_ts"),
    ("client_ts year 1", "client_ts=0001-01-01T00:00:00+01:00", "client_ts"),
    ("client_ts year 9999", "client_ts=9999-12-31T23:59:59-01:00", "client_ts"),
])
def test_hostile_pixels_are_400_naming_the_field(server, name, query, field):
    since = end_offsets(server.bootstrap, server.dead_letter_topic)
    name, _, value = query.partition("=")
    params = {"url": "https://a.b/", "client_ts": NOW, name: value}
    response = requests.get(f"{server.url}/v1/p.gif", params=params, timeout=30)
    assert response.status_code == 400, response.text
    assert field in [e["field"] for e in response.json()["rejected"][0]["errors"]]
    [letter] = dead_letters(server, since, 1)
    assert field in [e["field"] for e in letter["errors"]]


def test_a_repeated_events_key_is_refused_not_half_stored(server):
    since = end_offsets(server.bootstrap, server.topic)
    body = '{"events": [' + event_text() + '], "events": [' + event_text() + "]}"
    response = post(server, body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "events"
    assert end_offsets(server.bootstrap, server.topic) == since  # nothing stored


def test_a_raw_control_character_gets_one_clear_message(server):
    response = post(server, '{"events": [{"title": "a\nb"}]}')
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "at at" not in message and "raw control character (U+000A)" in message


def test_forwarded_proto_is_not_believed_without_a_trusted_proxy(server, collector_factory):
    # 127.0.0.1 is gunicorn's default forwarded_allow_ips; CLICKLOOP_TRUSTED_PROXIES=0 rules
    response = post(server, '{"events": [' + event_text() + "]}",
                    **{"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert "cl_vid=" in response.headers["Set-Cookie"]
    assert "Secure" not in response.headers["Set-Cookie"]
    trusting = collector_factory(trusted_proxies=1)
    response = requests.post(trusting.url + "/v1/events", data='{"events": [' + event_text()
                             + "]}", headers={**HEADERS, "X-Forwarded-Proto": "https"},
                             timeout=30)
    assert "Secure" in response.headers["Set-Cookie"]


# --- slow clients -------------------------------------------------------------------------------

@pytest.fixture
def slow_clients(server) -> Iterator[list[socket.socket]]:
    """20 connections that announce 100,000 bytes of body and send 12."""
    sockets = []
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 100000\r\n\r\n" + b'{"events": [')
        sockets.append(sock)
    yield sockets
    for sock in sockets:
        sock.close()


def test_slow_bodies_do_not_block_other_requests(server, slow_clients):
    # more stalled bodies than the 2 x 8 threads; the others are still served (a stock gthread
    # worker parks a thread on each of them and answers nobody)
    since = end_offsets(server.bootstrap, server.topic)
    results: dict[str, int] = {}

    def call(name: str, method: str, path: str, data: str | None = None) -> None:
        response = requests.request(method, server.url + path, data=data, headers=HEADERS,
                                    timeout=8)  # under the 10 s arrival deadline of the slow ones
        results[name] = response.status_code

    calls = [threading.Thread(target=call, args=("healthz", "GET", "/healthz")),
             threading.Thread(target=call, args=("post", "POST", "/v1/events",
                                                 '{"events": [' + event_text() + "]}"))]
    for thread in calls:
        thread.start()
    for thread in calls:
        thread.join()
    assert results == {"healthz": 200, "post": 200}
    assert len(read_topic(server.bootstrap, server.topic, 1, since=since)) == 1
    # the stalled requests are answered 408 at their deadline and closed
    answer = slow_clients[0].recv(4096)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"field": "body"' in answer


def raw_request(server: CollectorServer, head: bytes, body: bytes, *, pieces: int = 1,
                expect_continue: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        if expect_continue:
            assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        step = max(1, len(body) // pieces)
        for start in range(0, len(body), step):
            sock.sendall(body[start:start + step])
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_a_keep_alive_connection_is_closed_after_its_quota_so_workers_rebalance(server):
    # a persistent client would otherwise stay on one worker (one GIL) for good
    from embedded.http_worker import REQUESTS_PER_CONNECTION

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        answers = []
        for _ in range(REQUESTS_PER_CONNECTION):
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            answers.append((response.status, response.getheader("Connection")))
        assert all(status == 200 for status, _ in answers)
        assert [c for _, c in answers[:-1] if c == "close"] == []
        assert answers[-1][1] == "close"
        assert connection.sock is None  # http.client saw the close and dropped the socket
    finally:
        connection.close()
    assert requests.get(server.url + "/healthz", timeout=30).status_code == 200


def test_a_body_arriving_in_many_pieces_is_assembled(server):
    body = ('{"events": [' + ",".join(event_text() for _ in range(5)) + "]}").encode()
    head = (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
    answer = raw_request(server, head, body, pieces=40)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b'"accepted":5' in answer.replace(b" ", b"")


def test_a_chunked_body_arriving_in_pieces_is_assembled(server):
    body = ('{"events": [' + event_text() + "]}").encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                       for part in (body[:10], body[10:50], body[50:])) + b"0\r\n\r\n"
    head = (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n")
    answer = raw_request(server, head, chunked, pieces=7)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]


def test_expect_100_continue_is_answered_before_the_body(server):
    body = ('{"events": [' + event_text() + "]}").encode()
    head = (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
            % len(body))
    answer = raw_request(server, head, body, expect_continue=True)
    assert b"HTTP/1.1 200 " in answer


def test_a_body_announced_too_large_is_413_without_waiting_for_it(server):
    head = (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + b" " * (64 * 1024))
        assert sock.recv(4096).startswith(b"HTTP/1.1 413 ")


# --- fuzz through the real broker ---------------------------------------------------------------

def test_an_integer_sent_as_a_float_reaches_kafka_as_an_integer(server):
    """The validator takes 10.0 for an integer; the lake's parser would not: the collector
    writes 10."""
    since = end_offsets(server.bootstrap, server.topic)
    text = event_text(engaged_ms="10.0", context='{"screen_width": 1920.0}')
    response = post(server, '{"events": [' + text + "]}")
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    [record] = read_topic(server.bootstrap, server.topic, 1, since=since)
    stored = json.loads(record.value)
    assert (stored["engaged_ms"], stored["context"]["screen_width"]) == (10, 1920)
    assert type(stored["engaged_ms"]) is int and type(stored["context"]["screen_width"]) is int


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                      st.floats(allow_nan=False), st.text(max_size=12))
fuzz_events = st.lists(st.one_of(
    st.builds(lambda: new_event("page_view", url="https://shop.example.com/")),
    st.fixed_dictionaries({"schema_version": st.sampled_from([1, 1.0, "1", True]),
                           "event_id": st.just(str(uuid.uuid4())),
                           "event_type": st.sampled_from(["page_view", "custom", "x"]),
                           "client_ts": st.sampled_from([NOW, "9999-12-31T23:59:59-01:00"]),
                           "url": st.sampled_from(["https://a.example/", "x\x00"])},
                          optional={"properties": st.dictionaries(st.text(max_size=4),
                                                                  json_leaf, max_size=3),
                                    "sent_ts": st.sampled_from([NOW, "5000-01-01T00:00:00Z"])}),
    json_leaf), min_size=1, max_size=5)
fuzz_bodies = st.one_of(st.binary(max_size=200),
                        fuzz_events.map(lambda events: json.dumps({"events": events}).encode()))


@hyp_settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(bodies=st.lists(fuzz_bodies, min_size=5, max_size=5),
       content_type=st.sampled_from(["application/json", "text/plain", "text/html"]),
       dnt=st.booleans())
def test_fuzz_through_the_broker_loses_nothing(server, bodies, content_type, dnt):
    """Only 2xx/4xx; every event accepted is in the topic, every refusal is dead-lettered."""
    events_since = end_offsets(server.bootstrap, server.topic)
    letters_since = end_offsets(server.bootstrap, server.dead_letter_topic)
    accepted = letters = 0
    for body in bodies:
        response = post(server, body, **{"Content-Type": content_type},
                        **({"DNT": "1"} if dnt else {}))
        assert response.status_code < 500, response.text
        answer = response.json()
        if "error" in answer:  # the body as a whole: the field is named
            assert answer["error"]["field"] and answer["error"]["message"]
            letters += response.status_code in (400, 413)  # 415/403 come before the body
            continue
        accepted += answer["accepted"]
        for rejected in answer["rejected"]:
            assert all(e["field"] is not None and e["message"] for e in rejected["errors"])
            # an identify refused under denied consent is answered, not dead-lettered
            letters += "consent is denied" not in rejected["errors"][0]["message"]
    read_topic(server.bootstrap, server.topic, accepted, since=events_since, timeout=30)
    read_topic(server.bootstrap, server.dead_letter_topic, letters, since=letters_since,
               timeout=30)
