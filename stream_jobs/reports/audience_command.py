"""``clickloop audience NAME [--csv FILE] [--kafka-topic T] [--webhook URL]``: export members.

``NAME`` is ``segment:<RFM segment>`` (e.g. ``segment:At risk``) or ``cart_abandoners``
(``--hours``, default 24). Members (user ids only; consent and forgetting honoured, see
:mod:`stream_jobs.reports.audiences`) go to a CSV (``audience,user_id,detail``), and/or one JSON
message per member to a Kafka topic (key = user id) or a webhook (one POST with
``{"audience", "exported_at", "members": [...]}``). Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracker.settings import Settings

SEGMENT_PREFIX = "segment:"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="segment:<RFM segment> (e.g. 'segment:At risk') or "
                                     "cart_abandoners")
    parser.add_argument("--hours", type=int, default=24,
                        help="cart_abandoners: carts of the last HOURS (default 24)")
    parser.add_argument("--csv", type=Path, default=None, help="write the members here")
    parser.add_argument("--kafka-topic", default=None,
                        help="send one JSON message per member to this topic")
    parser.add_argument("--webhook", default=None, help="POST the members as JSON to this URL")


def problem(args: argparse.Namespace) -> str | None:
    from stream_jobs.reports.customers import SEGMENTS

    if args.name.startswith(SEGMENT_PREFIX):
        segment = args.name[len(SEGMENT_PREFIX):]
        if segment not in SEGMENTS:
            return f"unknown segment {segment!r}; known: {', '.join(SEGMENTS)}"
    elif args.name != "cart_abandoners":
        return "NAME must be segment:<RFM segment> or cart_abandoners"
    if not 0 < args.hours <= 24 * 90:
        return "--hours must be between 1 and 2160"
    if not (args.csv or args.kafka_topic or args.webhook):
        return "give at least one of --csv, --kafka-topic, --webhook"
    if args.webhook and not args.webhook.startswith(("http://", "https://")):
        return "--webhook must be an http(s) URL"
    return None


def write_csv(path: Path, members: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["audience", "user_id", "detail"])
        out.writerows([m["audience"], m["user_id"], m["detail"]] for m in members)


def message(member: dict[str, Any], exported_at: str) -> bytes:
    return json.dumps({**member, "exported_at": exported_at}).encode()


def send_kafka(bootstrap: str, topic: str, members: list[dict[str, Any]],
               exported_at: str) -> int:
    """Produce one message per member (key: user id); returns how many were acknowledged."""
    from confluent_kafka import Producer

    failed: list[str] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "acks": "all"})
    for member in members:
        producer.produce(topic, key=member["user_id"].encode(),
                         value=message(member, exported_at), on_delivery=delivered)
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining or failed:
        raise RuntimeError(f"{remaining + len(failed)} messages not delivered to {topic}: "
                           f"{failed[:1]}")
    return len(members)


def send_webhook(url: str, name: str, members: list[dict[str, Any]], exported_at: str) -> int:
    body = json.dumps({"audience": name, "exported_at": exported_at,
                       "members": members}).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def run(args: argparse.Namespace, settings: Settings) -> int:
    reason = problem(args)
    if reason is not None:
        print(f"clickloop audience: {reason}", file=sys.stderr)
        return 2
    from stream_jobs.reports.audiences import audience
    from stream_jobs.spark_session import build_spark

    now = datetime.now(UTC)
    spark = build_spark(settings, "clickloop-audience")
    try:
        frame = audience(spark, settings.lake, settings.state_dir, args.name, now, args.hours)
        members = [row.asDict() for row in frame.collect()]
    finally:
        spark.stop()
    return deliver(args, settings, members, now)


def deliver(args: argparse.Namespace, settings: Settings, members: list[dict[str, Any]],
            now: datetime) -> int:
    """Write/send ``members`` where ``args`` say; prints the summary; the exit code."""
    exported_at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    summary: dict[str, Any] = {"audience": args.name, "members": len(members)}
    if args.csv:
        write_csv(args.csv, members)
        summary["csv"] = str(args.csv)
    try:
        if args.kafka_topic:
            from embedded import kafka_broker

            bootstrap = kafka_broker.ensure_kafka(settings)
            summary["kafka"] = {"topic": args.kafka_topic,
                                "sent": send_kafka(bootstrap, args.kafka_topic, members,
                                                   exported_at)}
        if args.webhook:
            summary["webhook"] = {"url": args.webhook,
                                  "status": send_webhook(args.webhook, args.name, members,
                                                         exported_at)}
    except (RuntimeError, OSError, urllib.error.URLError) as exc:
        print(f"clickloop audience: {exc}", file=sys.stderr)
        print(json.dumps(summary), flush=True)
        return 1
    print(json.dumps(summary), flush=True)
    return 0
