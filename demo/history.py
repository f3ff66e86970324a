"""The demo's past: months of shop history from the seeded simulation, imported into the lake.

Customer-value reports (RFM segments, lifecycle stages, cohorts, baskets) need a past: with one
live day every buyer is a "new customer". A shop that adopts Clickloop brings that past as an
export of its old tracking (``clickloop import events``: contract events, one JSON object a
line, each with its own ``client_ts``). The demo makes one the same way: the same simulation as
the live traffic, over the ``days`` before the live run's first day, with buying cycles
(:attr:`~simulation.config.SimConfig.repurchase_days`) so customers come back weeks later,
lapse, and are won back. Sending months of events through the collector would take long and
the collector refuses ``client_ts`` more than 30 days old; importing them takes seconds.

What an export of a shop's tracking holds, and what this one therefore leaves out: people with a
cookie. No crawlers (an export carries no user agent to flag them by), no Do-Not-Track visitors
(no visitor id to import them under), no no-JS pixel views. Each visitor gets the id its
``cl_vid`` cookie would have held (:func:`history_visitor_id`).

``python -m demo.history --end 2026-12-04T00:00:00+00:00 --days 90 --out DIR`` writes
``DIR/events.jsonl`` and the ground truth into ``DIR`` (the simulator's files plus
``history.json``: the window, the event count and the simulator key -> visitor id map), and
prints ``history.json`` as its last line. The demo runs it as a child process while the stack
starts and the live traffic runs (:class:`HistoryJob`), then imports the file in its batch step
(:mod:`demo.batch`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from simulation.config import SimConfig
from simulation.records import Request
from tracker.settings import PROJECT_ROOT

HISTORY_SEED = 0  # live runs take seeds 1, 2, ...: history event ids never collide with them
VISITORS_PER_HOUR = 2.0  # a smaller shop than the live day: 90 days stay a few seconds of Spark
REPURCHASE_DAYS = 21.0  # a customer's buying cycle (mean gap to the next purchase visit)
MAX_VISITS = 40  # per visitor over the whole history
EVENTS_FILE = "events.jsonl"
SUMMARY_FILE = "history.json"
_VISITOR_NAMESPACE = uuid.UUID("0c4b7a52-6a1e-4d55-9d0b-5b1f3e2f8a61")


def history_config(end: datetime, days: float, *, seed: int = HISTORY_SEED,
                   visitors_per_hour: float = VISITORS_PER_HOUR,
                   shop_url: str = "http://127.0.0.1:5000") -> SimConfig:
    """The simulation of ``days`` days ending at ``end``: people with cookies, buying cycles.

    >>> c = history_config(datetime(2026, 12, 4, tzinfo=UTC), 90)
    >>> c.start.isoformat(), c.bot_share, c.dnt_share, c.repurchase_days
    ('2026-09-05T00:00:00+00:00', 0.0, 0.0, 21.0)
    """
    if days <= 0:
        raise ValueError(f"history days must be > 0, got {days}")
    return SimConfig(seed=seed, start=end - timedelta(days=days), minutes=days * 24 * 60,
                     visitors_per_hour=visitors_per_hour, shop_url=shop_url, bot_share=0.0,
                     nojs_share=0.0, dnt_share=0.0, max_visits=MAX_VISITS,
                     repurchase_days=REPURCHASE_DAYS)


def history_visitor_id(seed: int, key: str) -> str:
    """The id a history visitor's ``cl_vid`` cookie would have held: stable per seed and key.

    >>> history_visitor_id(0, "v000001") == history_visitor_id(0, "v000001")
    True
    >>> history_visitor_id(0, "v000001") != history_visitor_id(1, "v000001")
    True
    """
    return str(uuid.uuid5(_VISITOR_NAMESPACE, f"{seed}:{key}"))


def contract_events(request: Request, visitor_id: str) -> list[dict[str, Any]]:
    """The events of one simulated request as an export holds them: with the visitor id the
    collector would have added from the cookie (the shop's backend sends it itself)."""
    return [{**event, "visitor_id": visitor_id} for event in request.events]


def write_history(config: SimConfig, out: Path) -> dict[str, Any]:
    """Simulate ``config``, write ``out/events.jsonl`` and the truth; the summary written to
    ``out/history.json``."""
    from simulation.simulator import Simulation

    out.mkdir(parents=True, exist_ok=True)
    simulation = Simulation(config)
    visitor_ids: dict[str, str] = {}
    events = 0
    scratch = out / (EVENTS_FILE + ".tmp")
    with scratch.open("w", encoding="utf-8") as handle:
        for request in simulation.requests():
            key = request.visitor.key
            vid = visitor_ids.get(key)
            if vid is None:
                vid = visitor_ids[key] = history_visitor_id(config.seed, key)
            for event in contract_events(request, vid):
                handle.write(json.dumps(event, separators=(",", ":"), ensure_ascii=False))
                handle.write("\n")
                events += 1
    scratch.replace(out / EVENTS_FILE)
    simulation.truth.write(out)
    resolved = simulation.config
    summary = {"seed": resolved.seed, "start": resolved.start.isoformat(),
               "end": resolved.end.isoformat(), "events": events,
               "events_file": str(out / EVENTS_FILE), "visitor_ids": visitor_ids}
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def read_summary(out: Path) -> dict[str, Any] | None:
    """``history.json`` of a history written into ``out``, or None."""
    try:
        return json.loads((out / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class HistoryError(RuntimeError):
    """The history could not be made; the message quotes the end of its log."""


@dataclass
class HistoryJob:
    """The history simulation running as a child process (its own CPU while the demo's process
    sends live traffic)."""

    process: subprocess.Popen[bytes]
    out: Path
    log_path: Path

    @classmethod
    def start(cls, config: SimConfig, out: Path, log_path: Path) -> HistoryJob:
        assert config.start is not None
        log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "demo.history", "--end", config.end.isoformat(),
                   "--days", repr(config.minutes / (24 * 60)), "--seed", str(config.seed),
                   "--visitors-per-hour", repr(config.visitors_per_hour),
                   "--shop-url", config.shop_url, "--out", str(out)]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=log,
                                       start_new_session=True)
        return cls(process, out, log_path)

    def wait(self, timeout: float = 900.0) -> dict[str, Any]:
        """The summary once the child has finished (HistoryError when it failed)."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            self.stop()
            raise HistoryError(f"the history simulation took more than {timeout:g}s; see "
                               f"{self.log_path}") from exc
        summary = read_summary(self.out)
        if code != 0 or summary is None:
            raise HistoryError(f"the history simulation failed with exit code {code}; see "
                               f"{self.log_path}:\n{_tail(self.log_path)}")
        return summary

    def stop(self) -> None:
        """End the child (an interrupted demo)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace")
                         .strip().splitlines()[-lines:])
    except OSError:
        return ""


def _iso(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo.history",
                                     description="Write the demo's simulated shop history as "
                                     "contract JSON lines, with its ground truth.")
    parser.add_argument("--end", type=_iso, required=True, help="end of the history (ISO time)")
    parser.add_argument("--days", type=float, required=True)
    parser.add_argument("--seed", type=int, default=HISTORY_SEED)
    parser.add_argument("--visitors-per-hour", type=float, default=VISITORS_PER_HOUR)
    parser.add_argument("--shop-url", default="http://127.0.0.1:5000")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        config = history_config(args.end, args.days, seed=args.seed,
                                visitors_per_hour=args.visitors_per_hour,
                                shop_url=args.shop_url)
        config.check()
    except ValueError as exc:
        print(f"demo.history: {exc}", file=sys.stderr)
        return 2
    summary = write_history(config, args.out)
    print(json.dumps({k: v for k, v in summary.items() if k != "visitor_ids"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
