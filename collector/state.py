"""The collector's per-process resources, attached to the app as ``app.extensions["clickloop"]``.

Built by :func:`init_app` inside the app factory -- so under gunicorn in each worker, after the
fork -- and released by :func:`close_app` when the worker exits (gunicorn's ``worker_exit``
hook) or the interpreter does.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from collector.identity import DailySalt
from collector.metrics import Metrics
from collector.sinks import KafkaSink, Sink, Spool, SpoolingSink
from enrichment import Enrichers, open_geo_reader
from tracker.settings import Settings

log = logging.getLogger(__name__)
EXTENSION = "clickloop"


@dataclass
class CollectorState:
    settings: Settings
    sink: Sink
    enrichers: Enrichers
    metrics: Metrics
    salt: DailySalt
    snippet_path: Path
    closed: bool = False
    # receipt time: collector_ts, the contract's clock checks and the cookieless salt's day;
    # tests replace it to be "tomorrow"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def close(self, timeout: float = 10.0) -> None:
        if self.closed:
            return
        self.closed = True
        self.sink.close(timeout)
        reader = self.enrichers.geo_reader
        if reader is not None and hasattr(reader, "close"):
            reader.close()


def init_app(app: Flask, settings: Settings, sink: Sink | None = None) -> CollectorState:
    """Open the GeoIP database, the metrics file, the sink (Kafka + spool unless given)."""
    c = settings.collector
    metrics_dir = app.config.get("METRICS_DIR")
    metrics = Metrics(Path(metrics_dir) if metrics_dir else None)
    if sink is None:
        sink = build_sink(settings, metrics, app.config)
    state = CollectorState(
        settings=settings,
        sink=sink,
        enrichers=Enrichers(geo_reader=open_geo_reader(c.geoip_db), ipv4_prefix=c.ipv4_prefix,
                            ipv6_prefix=c.ipv6_prefix),
        metrics=metrics,
        salt=DailySalt(settings.state_dir / "collector" / "salt"),
        snippet_path=Path(app.config["SNIPPET_PATH"]),
    )
    app.extensions[EXTENSION] = state
    atexit.register(state.close)
    return state


def build_sink(settings: Settings, metrics: Metrics, config: Any) -> SpoolingSink:
    """Kafka backed by the spool in ``<state_dir>/spool``, replayer started."""
    bootstrap = settings.kafka.bootstrap
    if not bootstrap:
        raise RuntimeError("CLICKLOOP_KAFKA_BOOTSTRAP is not set: start the collector with "
                           "`clickloop collector`, which starts or finds the broker")
    kafka = KafkaSink(bootstrap, timeout_s=settings.collector.produce_timeout_s,
                      producer_config=dict(config.get("PRODUCER_CONFIG") or {}))
    spool = Spool(settings.state_dir / "spool", settings.collector.spool_max_mb * 1024 * 1024)

    def count(name: str, value: float) -> None:
        metrics.inc(f"clickloop_collector_events_{name}_total", value)

    sink = SpoolingSink(kafka, spool, probe_topic=settings.kafka.topic,
                        replay_interval_s=float(config.get("REPLAY_INTERVAL_S", 1.0)), count=count)
    sink.start()
    return sink


def get_state() -> CollectorState:
    return current_app.extensions[EXTENSION]


def close_app(app: Any, timeout: float = 10.0) -> None:
    """Flush and release the app's resources (safe to call twice, or on a non-collector app)."""
    state = getattr(app, "extensions", {}).get(EXTENSION)
    if state is not None:
        state.close(timeout)
