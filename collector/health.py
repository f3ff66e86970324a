"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from collector.sinks import SpoolingSink
from collector.state import get_state

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Alive: the worker answers. Says nothing about Kafka (a restart would not help it)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready when events can be acknowledged: Kafka reachable or the spool writable."""
    sink = get_state().sink
    body: dict[str, object] = {"ready": sink.healthy()}
    if isinstance(sink, SpoolingSink):
        body["kafka"] = sink.kafka_up
        body["spool_writable"] = sink.spool.writable()
        body["spool_bytes"] = sink.spool.size_bytes()
    response = jsonify(body)
    response.status_code = 200 if body["ready"] else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics() -> Response:
    state = get_state()
    gauges: list[tuple[str, str, float]] = []
    if isinstance(state.sink, SpoolingSink):
        gauges.append(("clickloop_collector_spool_bytes", "Bytes waiting in the spool.",
                       float(state.sink.spool.size_bytes())))
        gauges.append(("clickloop_collector_kafka_up", "1 when this worker stores directly in "
                       "Kafka, 0 while it spools.", 1.0 if state.sink.kafka_up else 0.0))
    return Response(state.metrics.render(gauges), mimetype="text/plain",
                    headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8",
                             "Cache-Control": "no-store"})
