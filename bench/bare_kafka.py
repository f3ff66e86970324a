"""The floor for bench/collector_throughput.py: a bare Flask endpoint that stores the body in
Kafka with the collector's own producer (``collector.sinks.KafkaSink``: acks=all, idempotent,
lz4, linger as configured) and answers 204 once the broker has acknowledged it.

No validation, enrichment, cookie or spool: what is left is the cost that any collector with
the collector's durability pays on this machine, the broker's share included. Two shapes:

- ``records="batch"``: the request body as one record (Snowplow's raw-batch layout);
- ``records="event"``: one record per event (the collector's layout): the body is parsed with
  orjson and each event written back with it, keyed like a visitor.

Served by the same gunicorn configuration as the collector; the producer is made in each worker
on its first request, after the fork (librdkafka's threads do not survive one).
"""

from __future__ import annotations

import os
import threading

import orjson
from flask import Flask, Response, request

from collector.sinks import KafkaSink, Record


def create_app(bootstrap: str, topic: str, records: str = "event") -> Flask:
    if records not in ("batch", "event"):
        raise ValueError(f"records must be 'batch' or 'event', not {records!r}")
    app = Flask(__name__)
    lock = threading.Lock()
    sinks: list[KafkaSink] = []

    def sink() -> KafkaSink:
        if not sinks:
            with lock:
                if not sinks:
                    sinks.append(KafkaSink(bootstrap, timeout_s=5.0))
        return sinks[0]

    @app.post("/v1/events")
    def events() -> Response:
        body = request.get_data()
        if records == "batch":
            batch = [Record(topic, None, body)]
        else:
            # a request without a cookie is a new visitor: one key for all its events, as the
            # collector's records of such a request have
            key = os.urandom(16).hex().encode()
            batch = [Record(topic, key, orjson.dumps(event))
                     for event in orjson.loads(body)["events"]]
        sink().store(batch)
        return Response(status=204)

    return app
