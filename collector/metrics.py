"""Prometheus metrics shared by all gunicorn workers, without a metrics library.

Each worker process owns one small file of float64 slots (``<dir>/<pid>.metrics``), memory-mapped
so increments are plain stores; ``GET /metrics`` (answered by any one worker) sums every file in
the directory. Files of workers that died stay, so counters never go backwards; the directory
lives for one server run (``gunicorn.conf.py`` creates it in the master and removes it on exit).
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
from collections.abc import Iterable
from pathlib import Path

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STATUSES = ("200", "204", "400", "403", "404", "405", "413", "415", "503", "other")
SOURCES = ("js", "pixel", "server")

COUNTERS: dict[str, str] = {
    "clickloop_collector_events_accepted_total": "Events accepted (stored in Kafka or the spool).",
    "clickloop_collector_events_rejected_total": "Events rejected by the contract or policy.",
    "clickloop_collector_events_spooled_total": "Records written to the spool (Kafka unavailable).",
    "clickloop_collector_events_replayed_total": "Records replayed from the spool to Kafka.",
    "clickloop_collector_events_refused_total": ("Records Kafka refused for good (over the "
                                                 "topic's max.message.bytes), kept on disk."),
    "clickloop_collector_spool_full_total": "Batches refused with 503 because the spool was full.",
    "clickloop_collector_responses_total": "HTTP responses by status.",
}
HISTOGRAM = "clickloop_collector_produce_latency_seconds"
HISTOGRAM_HELP = "Time to store one batch (Kafka acknowledgement or spool fsync)."


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def _slots() -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    slots: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    for source in SOURCES:
        slots.append(("clickloop_collector_events_accepted_total", (("source", source),)))
    for name in ("rejected", "spooled", "replayed", "refused"):
        slots.append((f"clickloop_collector_events_{name}_total", ()))
    slots.append(("clickloop_collector_spool_full_total", ()))
    for status in STATUSES:
        slots.append(("clickloop_collector_responses_total", (("status", status),)))
    for bound in (*LATENCY_BUCKETS, float("inf")):
        slots.append((HISTOGRAM + "_bucket", (("le", _le(bound)),)))
    slots.append((HISTOGRAM + "_sum", ()))
    slots.append((HISTOGRAM + "_count", ()))
    return slots


SLOTS = _slots()
INDEX = {slot: i for i, slot in enumerate(SLOTS)}
SIZE = len(SLOTS) * 8



class Metrics:
    """This worker's counters; ``directory=None`` keeps them in memory (unit tests)."""

    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory) if directory is not None else None
        self._lock = threading.Lock()
        if self.directory is None:
            self._buffer: mmap.mmap | bytearray = bytearray(SIZE)
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{os.getpid()}.metrics"
            with open(path, "a+b") as handle:
                handle.truncate(SIZE)
                self._buffer = mmap.mmap(handle.fileno(), SIZE)

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        index = INDEX[(name, tuple(labels.items()))]
        with self._lock:
            current = struct.unpack_from("d", self._buffer, index * 8)[0]
            struct.pack_into("d", self._buffer, index * 8, current + value)

    def response(self, status: int) -> None:
        text = str(status)
        self.inc("clickloop_collector_responses_total",
                 status=text if text in STATUSES else "other")

    def observe_latency(self, seconds: float) -> None:
        """One histogram observation. Buckets are stored per bucket (one write per call) and
        made cumulative, as Prometheus wants them, when rendered."""
        bound = next(b for b in (*LATENCY_BUCKETS, float("inf")) if seconds <= b)
        with self._lock:
            for name, value in ((HISTOGRAM + "_bucket", 1.0), (HISTOGRAM + "_sum", seconds),
                                (HISTOGRAM + "_count", 1.0)):
                labels = (("le", _le(bound)),) if name.endswith("_bucket") else ()
                offset = INDEX[(name, labels)] * 8
                current = struct.unpack_from("d", self._buffer, offset)[0]
                struct.pack_into("d", self._buffer, offset, current + value)

    def totals(self) -> list[float]:
        """Every slot summed over all workers' files (this worker's only when in memory), with
        histogram buckets made cumulative."""
        return _cumulative(self._raw_totals())

    def _raw_totals(self) -> list[float]:
        if self.directory is None:
            return list(struct.unpack_from(f"{len(SLOTS)}d", self._buffer))
        sums = [0.0] * len(SLOTS)
        for path in self.directory.glob("*.metrics"):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            if len(data) == SIZE:
                for i, value in enumerate(struct.unpack(f"{len(SLOTS)}d", data)):
                    sums[i] += value
        return sums

    def value(self, name: str, **labels: str) -> float:
        return self.totals()[INDEX[(name, tuple(labels.items()))]]

    def render(self, gauges: Iterable[tuple[str, str, float]] = ()) -> str:
        """Prometheus text exposition format 0.0.4."""
        totals = self.totals()
        lines: list[str] = []
        seen: set[str] = set()
        for (name, labels), value in zip(SLOTS, totals, strict=True):
            family = name.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count") \
                if name.startswith(HISTOGRAM) else name
            if family not in seen:
                seen.add(family)
                kind = "histogram" if family == HISTOGRAM else "counter"
                lines.append(f"# HELP {family} {COUNTERS.get(family, HISTOGRAM_HELP)}")
                lines.append(f"# TYPE {family} {kind}")
            label_text = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(f"{name}{{{label_text}}} {_num(value)}" if label_text
                         else f"{name} {_num(value)}")
        for name, help_text, value in gauges:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {_num(value)}"]
        return "\n".join(lines) + "\n"


def _cumulative(values: list[float]) -> list[float]:
    out = list(values)
    running = 0.0
    for index, (name, _) in enumerate(SLOTS):
        if name == HISTOGRAM + "_bucket":
            running += values[index]
            out[index] = running
    return out


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
