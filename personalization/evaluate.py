"""``clickloop personalization evaluate FILE``: judge the intent model on your own history.

The file is a time-ordered JSON-lines file of contract events (as the collector writes them to
Kafka; ``.gz`` is read as gzip). Every event goes through the same :class:`~.engine.Engine` the
worker runs, with the same delayed labels and progressive validation, but with in-memory state
only: nothing is read from or written to a store, Kafka or the lake.

Sessions still open when the file ends have no known outcome: their snapshots are *not* labelled
(a replay that labelled them "no purchase" would count every visitor caught mid-visit as a
non-buyer). Sessions idle for longer than the gap at the last event's time are closed and
labelled as the worker would.

Lines that are not usable events (not JSON, no visitor, no time) are counted and reported with
their line numbers; they never stop the replay, and never vanish silently.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from personalization.engine import Engine
from personalization.intent import MODELS, IntentModel
from personalization.observation import NoVisitor, Observation, UnusableEvent, observe
from personalization.progressive import ProgressiveMetrics, binned_auc
from personalization.recommend import ItemGraph

ADVANCE_EVERY = 500  # events between session-expiry sweeps (the worker sweeps once a poll)
SHOWN_REJECTS = 20  # line numbers kept for the report


@dataclass
class Rejects:
    """Lines that are not usable events: how many, and the first few with their reason."""

    count: int = 0
    anonymous: int = 0  # valid events without a visitor (nothing to personalize)
    first: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line: int, reason: str) -> None:
        self.count += 1
        if len(self.first) < SHOWN_REJECTS:
            self.first.append((line, reason))


class _Labels:
    """The labels the engine learns, scored as they come (model and cart rule alike)."""

    def __init__(self) -> None:
        self.metrics = ProgressiveMetrics()
        self.cart = [[0, 0], [0, 0]]  # [positives, negatives] x [empty cart, items in cart]

    def __call__(self, x: dict[str, float], y: bool, p: float) -> None:
        self.metrics.update(y, p)
        self.cart[0 if y else 1][1 if x.get("cart_items", 0.0) > 0 else 0] += 1


def open_events(path: Path) -> IO[bytes]:
    """The file's bytes, un-gzipped when its name ends in ``.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_events(lines: IO[bytes], rejects: Rejects) -> Iterator[Observation]:
    """Observations of the usable lines; the others are counted in ``rejects``."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            rejects.add(number, f"not JSON: {exc}")
            continue
        if not isinstance(event, dict):
            rejects.add(number, f"not a JSON object but {type(event).__name__}")
            continue
        try:
            yield observe(event)
        except NoVisitor:
            rejects.anonymous += 1
        except UnusableEvent as exc:
            rejects.add(number, str(exc))


def evaluate(lines: IO[bytes], *, gap_s: float = 1800.0, model: str = "logreg",
             clock: Any = time.perf_counter) -> dict[str, Any]:
    """Replay ``lines`` through a fresh engine; the figures :func:`render` prints."""
    labels = _Labels()
    engine = Engine(IntentModel(model), ItemGraph(), gap_s=gap_s, on_label=labels)
    rejects = Rejects()
    events = 0
    first_ts = last_ts = None
    started = clock()
    late = 0  # events older than the newest one by more than the gap: the file is not in order
    for obs in read_events(lines, rejects):
        if obs.ts < engine.event_time - gap_s:
            late += 1
        engine.process(obs)
        events += 1
        if first_ts is None:
            first_ts = obs.ts
        last_ts = obs.ts
        if events % ADVANCE_EVERY == 0:
            engine.advance(engine.event_time)
    engine.advance(engine.event_time)  # idle past the gap at the end: over, and labelled
    elapsed = clock() - started
    open_sessions = [p.session for pid in engine.open
                     if (p := engine.profiles.get(pid)) is not None and p.session is not None]
    summary = labels.metrics.summary()
    cart_auc = binned_auc(labels.cart[0], labels.cart[1])
    return {
        "model": model,
        "events": events,
        "events_per_s": round(events / elapsed) if elapsed > 0 else None,
        "seconds": round(elapsed, 3),
        "first_event": first_ts,
        "last_event": last_ts,
        "skipped": {"bots": engine.counters.bots, "duplicates": engine.counters.duplicates,
                    "without_visitor": rejects.anonymous, "unusable": rejects.count},
        "unusable_lines": [{"line": n, "reason": r} for n, r in rejects.first],
        "out_of_order": late,
        "sessions_closed": engine.counters.sessions_closed,
        "sessions_open_at_end": len(open_sessions),
        "unlabelled_snapshots": sum(len(s.pending) for s in open_sessions),
        **summary,
        "cart_rule_auc": None if cart_auc is None else round(cart_auc, 4),
    }


def evaluate_file(path: Path, **options: Any) -> dict[str, Any]:
    with open_events(path) as raw:
        return evaluate(raw, **options)


def render(result: dict[str, Any]) -> str:
    """The figures for a person: ranking, log loss against no skill, calibration, speed."""

    def fmt(value: Any, digits: int = 3) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    skipped = result["skipped"]
    lines = [
        f"{result['events']:,} events replayed in {result['seconds']:.1f} s "
        f"({result['events_per_s'] or 0:,} events/s), model {result['model']}",
        f"skipped: {skipped['bots']:,} bots, {skipped['duplicates']:,} duplicates, "
        f"{skipped['without_visitor']:,} without a visitor, {skipped['unusable']:,} unusable "
        f"lines",
        f"labelled snapshots: {result['labels']:,} ({result['positives']:,} positive, base rate "
        f"{fmt(result['base_rate'], 4)}); {result['sessions_open_at_end']:,} sessions still open "
        f"at the end: {result['unlabelled_snapshots']:,} snapshots left unlabelled",
        "",
        f"progressive ROC AUC   {fmt(result['roc_auc'])}   (cart-not-empty rule on the same "
        f"snapshots: {fmt(result['cart_rule_auc'])})",
        f"log loss              {fmt(result['log_loss'], 4)}  (no skill: "
        f"{fmt(result['no_skill_log_loss'], 4)})",
        "",
        "calibration   count   mean predicted   observed rate",
    ]
    for cell in result["calibration"]:
        lines.append(f"{cell['bin']:<10} {cell['count']:>8,}   {fmt(cell['mean_predicted'], 4):>14}"
                     f"   {fmt(cell['observed_rate'], 4):>13}")
    if result["out_of_order"]:
        lines.append(f"warning: {result['out_of_order']:,} events came more than the session gap "
                     f"after newer ones: sort the file by time for honest labels")
    for item in result["unusable_lines"]:
        lines.append(f"line {item['line']}: {item['reason']}")
    if skipped["unusable"] > len(result["unusable_lines"]):
        lines.append(f"... and {skipped['unusable'] - len(result['unusable_lines'])} more")
    return "\n".join(lines)


__all__ = ["MODELS", "evaluate", "evaluate_file", "open_events", "render"]
