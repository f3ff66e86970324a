"""Simulated traffic through the real collector (gunicorn) into the real Kafka broker: every
event arrives once, with the identity, enrichment and timeline a browser would have produced."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clickloop.cli import main
from demo.traffic import Traffic, TrafficConfig, pixel_params
from simulation.config import SimConfig
from simulation.records import Request
from simulation.simulator import Simulation
from tests.fixtures.collector import read_topic
from tracker.contract import parse_timestamp
from tracker.settings import Settings

pytestmark = pytest.mark.kafka

SHOP = "http://shop.test"  # one of the test collector's allowed origins


@pytest.fixture(scope="module")
def delivered(collector_server):
    """36 simulated hours sent through the collector, and what Kafka holds afterwards."""
    now = datetime.now(UTC).replace(microsecond=0)
    config = SimConfig(seed=21, start=now - timedelta(hours=36), minutes=36 * 60 - 1,
                       visitors_per_hour=8, shop_url=SHOP, bot_share=0.08, nojs_share=0.08,
                       dnt_share=0.15, account_share=0.5)
    simulation = Simulation(config)
    traffic = Traffic(TrafficConfig(collector_url=collector_server.url), shop_url=SHOP)
    requests: list[Request] = []
    try:
        for request in simulation.requests():
            traffic.send(request)
            requests.append(request)
        traffic.drain()
    finally:
        traffic.close()
    count = sum(len(r.events) for r in requests)
    records = read_topic(collector_server.bootstrap, collector_server.topic, count)
    events = {}
    for record in records:
        event = json.loads(record.value)
        events[event["event_id"]] = (record.key.decode(), event)
    return requests, traffic.stats, events, simulation.truth


def test_every_event_arrives_once(delivered) -> None:
    requests, stats, events, truth = delivered
    sent = [e["event_id"] for r in requests for e in r.events]
    assert len(sent) > 1000
    assert stats.events_sent == len(sent) == truth.summary()["events"]
    assert stats.accepted == len(sent)
    assert stats.rejected == [] and stats.failed == []
    assert set(events) == set(sent)  # read_topic checked the count: no duplicates
    channels = {r.channel for r in requests}
    assert channels == {"js", "pixel", "server"}
    for r in requests:
        for e in r.events:
            assert events[e["event_id"]][1]["enrichment"]["source"] == r.channel


def test_visitors_keep_their_cookie(delivered) -> None:
    requests, stats, events, _ = delivered
    ids: dict[str, set[str]] = defaultdict(set)
    visits: dict[str, set[int]] = defaultdict(set)
    for r in requests:
        v = r.visitor
        if v.kind in ("human", "nojs") and not v.dnt:
            for e in r.events:
                key, event = events[e["event_id"]]
                assert key == event["visitor_id"]
                ids[v.key].add(event["visitor_id"])
            visits[v.key].add(r.visit.number)
    assert all(len(found) == 1 for found in ids.values()), "a visitor changed id"
    assert {k: next(iter(found)) for k, found in ids.items()} == stats.visitor_ids
    assert len(set(stats.visitor_ids.values())) == len(stats.visitor_ids)
    assert any(len(n) > 1 for n in visits.values()), "no returning visitor in this run"
    # the shop's server-side purchase carries the cookie's id too
    purchases = [(r.visitor.key, events[r.events[0]["event_id"]][1]) for r in requests
                 if r.channel == "server" and not r.visitor.dnt]
    assert purchases
    for key, event in purchases:
        assert event["visitor_id"] == stats.visitor_ids[key]
        assert event["enrichment"]["source"] == "server"


def test_do_not_track_visitors_stay_cookieless(delivered) -> None:
    requests, stats, events, _ = delivered
    dnt = [r for r in requests if r.visitor.dnt]
    assert dnt
    for r in dnt:
        assert r.visitor.key not in stats.visitor_ids
        for e in r.events:
            event = events[e["event_id"]][1]
            assert "session_id" not in event and "user_id" not in event
            if r.channel == "server":
                assert "visitor_id" not in event
            else:
                assert event["enrichment"]["cookieless"] is True


def test_crawlers_are_flagged_and_never_remembered(delivered) -> None:
    requests, stats, events, _ = delivered
    bots = [r for r in requests if r.visitor.kind == "bot"]
    assert {r.channel for r in bots} == {"js", "pixel"}
    seen = [events[r.events[0]["event_id"]][1] for r in bots]
    assert all(e["enrichment"]["ua"]["is_bot"] for e in seen)
    assert len({e["visitor_id"] for e in seen}) == len(seen)  # an empty jar every time
    assert not any(r.visitor.key in stats.visitor_ids for r in bots)


def test_the_pipeline_sees_the_simulated_timeline(delivered) -> None:
    """derived_ts lands on the simulated client_ts (the sender stamps sent_ts at send time)."""
    requests, _, events, _ = delivered
    for r in requests:
        for e in r.events:
            enrichment = events[e["event_id"]][1]["enrichment"]
            skew = parse_timestamp(enrichment["derived_ts"]) - parse_timestamp(e["client_ts"])
            assert timedelta(0) <= skew < timedelta(seconds=5), (r.channel, e, enrichment)


def test_enrichment_matches_the_ground_truth(delivered) -> None:
    requests, _, events, truth = delivered
    landing = {(v["visitor"], v["visit"]): v for v in truth.visits()}
    checked = 0
    for r in requests:
        if r.visitor.kind == "bot":
            continue
        for e in r.events:
            event = events[e["event_id"]][1]
            if r.channel != "server":
                assert event["enrichment"]["ua"]["device"] == r.visitor.device
            row = landing[(r.visitor.key, r.visit.number)]
            if e["event_type"] == "page_view" and e["url"] == row["landing_page"] \
                    and e.get("referrer") == row["referrer"]:
                assert event["enrichment"]["referrer_class"] == row["source"], e
                if row["campaign"]:
                    assert event["enrichment"]["utm"]["campaign"] == row["campaign"]
                checked += 1
    assert checked >= len([v for v in landing.values() if v["kind"] != "bot"])


def test_pixel_parameters_are_contract_fields() -> None:
    event = {"event_type": "page_view", "url": "http://shop.test/c/jackets",
             "title": "Jackets | Clickloop Outdoor", "referrer": None,
             "event_id": "5f0c7a52-1d1e-4c39-9d0e-7a4f3a9b6e21",
             "client_ts": "2026-11-20T10:00:00.000Z"}
    assert pixel_params(event, "2026-11-23T10:00:00.000Z") == {
        "event_type": "page_view", "url": "http://shop.test/c/jackets",
        "title": "Jackets | Clickloop Outdoor",
        "event_id": "5f0c7a52-1d1e-4c39-9d0e-7a4f3a9b6e21",
        "client_ts": "2026-11-20T10:00:00.000Z", "sent_ts": "2026-11-23T10:00:00.000Z"}


def test_unreachable_collector_is_reported_not_lost(free_port_url: str) -> None:
    config = SimConfig(seed=2, start=datetime.now(UTC) - timedelta(hours=1), minutes=30,
                       max_events=5, shop_url=SHOP)
    traffic = Traffic(TrafficConfig(collector_url=free_port_url, api_url=free_port_url,
                                    retries=1), shop_url=SHOP, sleep=lambda s: None)
    simulation = Simulation(config, decide=traffic.decide)
    stats = traffic.run(simulation)
    assert stats.events_sent == 5 and stats.accepted == 0
    assert sum(len(f["events"]) for f in stats.failed) == 5
    assert all("ConnectionError" in f["problem"] for f in stats.failed)
    assert stats.decisions_asked > 0 and stats.decisions_answered == 0


def test_simulate_command(collector_server, delivered, tmp_path: Path, capsys) -> None:
    # after `delivered` has read the module collector's topic (it checks the exact count)
    server = collector_server
    # ten hours hold 150 events whatever the hour (two, starting at 02:00 UTC, held only 148:
    # arrivals follow the hour of the day)
    start = (datetime.now(UTC) - timedelta(hours=11)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code = main(["simulate", "--seed", "4", "--events", "150", "--minutes", "600",
                 "--start", start, "--collector", server.url, "--shop-url", SHOP,
                 "--truth", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    traffic: dict[str, Any] = json.loads((tmp_path / "traffic.json").read_text())
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert traffic["events_sent"] == traffic["accepted"] == summary["events"] == 150
    assert traffic["rejected"] == traffic["failed_requests"] == 0
    assert len(traffic["visitor_ids"]) >= 1
    assert len((tmp_path / "visits.jsonl").read_text().splitlines()) == \
        summary["humans"]["visits"] + len([1 for line in (tmp_path / "visits.jsonl")
                                           .read_text().splitlines()
                                           if json.loads(line)["kind"] == "bot"])
    assert "150 events" in capsys.readouterr().err


@pytest.fixture
def free_port_url() -> str:
    from embedded.ports import free_port

    return f"http://127.0.0.1:{free_port()}"


def test_decisions_from_the_real_api(collector_factory, tmp_path: Path) -> None:
    """``--decide``: pages ask the decision API with the visitor's cookie; the answers come back
    as personalization_shown events carrying the API's decision ids."""
    from werkzeug.serving import make_server

    from personalization.api import create_app as create_api

    collector = collector_factory()
    settings = Settings.from_env({"CLICKLOOP_STATE_DIR": str(tmp_path),
                                  "CLICKLOOP_ALLOWED_ORIGINS": SHOP})
    api = make_server("127.0.0.1", 0, create_api(settings), threaded=True)
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    api_url = f"http://127.0.0.1:{api.server_address[1]}"
    # ten hours hold 250 events whatever the hour (three from 02:00 UTC hold 182 before the
    # decisions' own events)
    config = SimConfig(seed=6, start=datetime.now(UTC) - timedelta(hours=10), minutes=590,
                       max_events=250, shop_url=SHOP, dnt_share=0.0, bot_share=0.0)
    traffic = Traffic(TrafficConfig(collector_url=collector.url, api_url=api_url),
                      shop_url=SHOP)
    simulation = Simulation(config, decide=traffic.decide)
    try:
        stats = traffic.run(simulation)
    finally:
        traffic.close()
        api.shutdown()
        api.server_close()
    assert stats.accepted == 250 and not stats.failed
    assert stats.decisions_asked == stats.decisions_answered > 20
    decisions = simulation.truth.decisions()
    assert {d["slot"] for d in decisions} == {"hero", "recommended"}
    assert {d["variant"] for d in decisions if d["slot"] == "hero"} <= {
        "default", "discount", "free_shipping", "bestsellers"}
    records = read_topic(collector.bootstrap, collector.topic, 250)
    shown = [json.loads(r.value) for r in records]
    shown = [e["decision"] for e in shown if e["event_type"] == "personalization_shown"]
    assert {d["decision_id"] for d in shown} <= {d["decision_id"] for d in decisions}
    assert len(shown) > 10
