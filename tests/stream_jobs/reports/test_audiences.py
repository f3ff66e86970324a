"""Audiences: user ids only, consent and forgetting honoured; CSV and a real Kafka topic.

The lake (by hand): 2024-03-01..03-10, "now" = 2024-03-10 12:00 UTC.

- u1 (visitor v1): carted A at 03-10 09:00, bought nothing since → cart abandoner
- u2 (v2): carted B at 03-10 08:00, bought at 03-10 10:00 → not
- v3 (never identified): carted C at 03-10 09:00 → not (no matchable id)
- u4 (v4): carted D at 03-10 07:00, latest consent state "denied" → not
- u5 (v5): carted E at 03-10 09:30, forgotten (clickloop forget) → not
- u6 (v6): carted F at 03-08 (beyond 24 h) → not; with --hours 72 → yes
- v7 identified as u7 by a purchase on 03-01; carted G at 03-10 11:00 as v7 only → u7
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
from datetime import UTC, datetime

import pytest

from stream_jobs.lake import LakePaths, write_events
from stream_jobs.reports.audience_command import deliver, problem
from stream_jobs.reports.audiences import audience
from tests.stream_jobs.builders import event, lake_frame
from tracker.erasure import SuppressionList

pytestmark = pytest.mark.spark
NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


def rows() -> list[dict]:
    def cart(n, visitor, when, sku, user=None):
        return event(n, visitor, when, "add_to_cart", sku=sku, user_id=user)

    out = [
        cart(1, "v1", "2024-03-10 09:00:00", "A", "u1"),
        cart(2, "v2", "2024-03-10 08:00:00", "B", "u2"),
        event(3, "v2", "2024-03-10 10:00:00", "purchase", revenue=5.0, user_id="u2"),
        cart(4, "v3", "2024-03-10 09:00:00", "C"),
        cart(5, "v4", "2024-03-10 07:00:00", "D", "u4"),
        cart(6, "v5", "2024-03-10 09:30:00", "E", "u5"),
        cart(7, "v6", "2024-03-08 09:00:00", "F", "u6"),
        event(8, "v7", "2024-03-01 10:00:00", "purchase", revenue=9.0, user_id="u7"),
        cart(9, "v7", "2024-03-10 11:00:00", "G"),
        event(10, "v4", "2024-03-09 10:00:00", user_id="u4"),
        event(11, "v4", "2024-03-10 06:00:00", user_id="u4"),
    ]
    out[9]["consent"] = "granted"
    out[10]["consent"] = "denied"
    return out


@pytest.fixture
def settings(spark_settings, tmp_path):
    return dataclasses.replace(spark_settings, state_dir=tmp_path / "state",
                               lake_dir=tmp_path / "lake")


@pytest.fixture
def lake(spark, settings):
    write_events(lake_frame(spark, rows()), LakePaths(settings.lake))
    SuppressionList(settings.state_dir).add("user", "u5")
    return settings


def members(spark, settings, name, hours=24):
    return [(r.user_id, r.detail) for r in
            audience(spark, settings.lake, settings.state_dir, name, NOW, hours).collect()]


def test_cart_abandoners_are_matchable_consenting_and_not_forgotten(spark, lake):
    assert members(spark, lake, "cart_abandoners") == [("u1", "cart A"), ("u7", "cart G")]
    assert members(spark, lake, "cart_abandoners", 72) == [
        ("u1", "cart A"), ("u6", "cart F"), ("u7", "cart G")]


def test_a_segment_exports_its_users_only(spark, lake):
    # two buyers in the lake; u2 bought today, u7 nine days ago: with two customers the
    # percent ranks are 0 and 1: u2 scores R5 F1 M1 (New customers), u7 (more revenue, one
    # order as well) R1 F1 M5 (Hibernating)
    assert members(spark, lake, "segment:New customers") == [("u2", "rfm 511")]
    assert members(spark, lake, "segment:Hibernating") == [("u7", "rfm 115")]


def test_delivery_to_csv_and_kafka(settings, kafka_broker, kafka_topic, tmp_path, capsys):
    from tests.fixtures.kafka import topic_events

    found = [{"audience": "cart_abandoners", "user_id": "u1", "detail": "cart A"},
             {"audience": "cart_abandoners", "user_id": "u7", "detail": "cart G"}]
    args = argparse.Namespace(name="cart_abandoners", hours=24, csv=tmp_path / "a.csv",
                              kafka_topic=kafka_topic, webhook=None)
    with_kafka = dataclasses.replace(settings, kafka=dataclasses.replace(
        settings.kafka, bootstrap=kafka_broker))
    assert deliver(args, with_kafka, found, NOW) == 0
    with (tmp_path / "a.csv").open(encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [["audience", "user_id", "detail"],
                                            ["cart_abandoners", "u1", "cart A"],
                                            ["cart_abandoners", "u7", "cart G"]]
    got = topic_events(kafka_broker, kafka_topic, lambda e: len(e) >= 2)
    assert sorted((m["user_id"], m["exported_at"]) for m in got) == [
        ("u1", "2024-03-10T12:00:00Z"), ("u7", "2024-03-10T12:00:00Z")]
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["kafka"]["sent"] == 2


@pytest.mark.parametrize(("name", "extra", "reason"), [
    ("segment:Whales", {}, "unknown segment 'Whales'"),
    ("everyone", {}, "NAME must be"),
    ("cart_abandoners", {"hours": 0}, "--hours"),
    ("cart_abandoners", {"csv": None}, "at least one of"),
    ("cart_abandoners", {"webhook": "ftp://x"}, "--webhook must be"),
])
def test_bad_arguments_are_refused_before_any_work(name, extra, reason):
    args = argparse.Namespace(name=name, hours=24, csv="x.csv", kafka_topic=None, webhook=None)
    for key, value in extra.items():
        setattr(args, key, value)
    assert reason in problem(args)
