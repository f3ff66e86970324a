"""``clickloop simulate``: send seeded, realistic shop traffic through a running collector.

Writes the ground truth (``visits.jsonl``, ``visitors.jsonl``, ``decisions.jsonl``,
``summary.json``) and what happened on the wire (``traffic.json``: sent, accepted, rejected,
the simulator-key → ``cl_vid`` map) into ``--truth`` so reports can be checked against it.
``--dry-run`` sends nothing and only writes the truth. Exit codes: 0 all events accepted,
1 some were rejected or could not be delivered, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from demo.traffic import Traffic, TrafficConfig, TrafficStats
from simulation.config import SimConfig
from simulation.simulator import Simulation
from tracker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--events", type=int, default=None, metavar="N",
                        help="stop after N events (default: no limit)")
    parser.add_argument("--minutes", type=float, default=24 * 60,
                        help="simulated minutes of traffic (default: 1440, a day)")
    parser.add_argument("--start", type=timestamp_argument, default=None,
                        help="simulated start, e.g. 2026-03-02T00:00:00Z, or `now` for live "
                        "traffic with --speed 1 (default: --minutes before now, so the run "
                        "ends now)")
    parser.add_argument("--visitors-per-hour", type=float, default=30.0,
                        help="mean arrivals of new visitors per hour (default: 30)")
    parser.add_argument("--collector", default=None,
                        help="collector URL (default: CLICKLOOP_DEMO_COLLECTOR_URL)")
    parser.add_argument("--decide", action="store_true",
                        help="ask the decision API (CLICKLOOP_DEMO_API_URL) for every slot on "
                        "every page, as the snippet does")
    parser.add_argument("--shop-url", default=None,
                        help="the shop's origin in page URLs (default: the demo shop's)")
    parser.add_argument("--speed", type=float, default=None,
                        help="pace sending: 1 = real time, 60 = an hour a minute (default: as "
                        "fast as possible)")
    parser.add_argument("--forwarded-for", action="store_true",
                        help="send X-Forwarded-For with each visitor's address (the collector "
                        "must trust one proxy)")
    parser.add_argument("--truth", type=Path, default=None,
                        help="where to write the ground truth (default: "
                        "<state>/demo/truth-<seed>)")
    parser.add_argument("--dry-run", action="store_true",
                        help="send nothing; only write the ground truth")


def run(args: argparse.Namespace, settings: Settings) -> int:
    demo = settings.demo
    shop_url = args.shop_url or f"http://{demo.shop_host}:{demo.shop_port}"
    try:
        config = SimConfig(seed=args.seed, start=args.start, minutes=args.minutes,
                           max_events=args.events, visitors_per_hour=args.visitors_per_hour,
                           shop_url=shop_url.rstrip("/"))
        config.check()
        traffic = None if args.dry_run else Traffic(
            TrafficConfig(collector_url=(args.collector or demo.collector_url).rstrip("/"),
                          api_url=demo.api_url.rstrip("/") if args.decide else None,
                          cookie_name=settings.collector.cookie_name, speed=args.speed,
                          forwarded_for=args.forwarded_for),
            shop_url=config.shop_url,
        )
    except ValueError as exc:
        print(f"clickloop simulate: {exc}", file=sys.stderr)
        return 2
    simulation = Simulation(config, decide=traffic.decide if traffic and args.decide else None)
    ahead = simulation.config.end - datetime.now(UTC)
    if traffic is not None and args.speed is None and ahead > timedelta(minutes=1):
        print(f"clickloop simulate: the simulated window ends {ahead} from now; sent at once, "
              f"those events would be in the future: use --speed 1 for live traffic or an "
              f"earlier --start", file=sys.stderr)
        traffic.close()
        return 2
    truth_dir = args.truth or settings.state_dir / "demo" / f"truth-{args.seed}"
    _say(f"simulating seed {args.seed} from {simulation.config.start:%Y-%m-%d %H:%M} UTC for "
         f"{args.minutes:g} minutes" + (f", at most {args.events} events" if args.events else ""))
    interrupted = False
    problems = 0
    try:
        if traffic is None:
            for _ in simulation.requests():
                pass
        else:
            traffic.run(simulation, progress=_progress)
    except KeyboardInterrupt:  # stop early; what was sent is still written down
        interrupted = True
    finally:
        if traffic is not None:
            traffic.close()  # waits for requests already queued
            traffic.write(truth_dir)
            stats = traffic.stats
            problems = len(stats.rejected) + sum(len(f["events"]) for f in stats.failed)
    paths = simulation.truth.write(truth_dir)
    summary = simulation.truth.summary()
    humans = summary["humans"]
    _say(f"{summary['events']} events: {humans['visits']} visits by {humans['visitors']} "
         f"visitors, {humans['orders']} orders, revenue EUR {humans['revenue']:.2f}; "
         f"{summary['bots']['page_views']} crawler page views")
    _say(f"ground truth in {paths['summary.json'].parent}")
    if problems:
        _say(f"{problems} events were rejected or not delivered: see traffic.json")
    if interrupted:
        _say("interrupted: the ground truth covers what was sent")
        return 130
    return 1 if problems else 0


def _progress(stats: TrafficStats) -> None:
    _say(f"  sent {stats.events_sent} events in {sum(stats.requests.values())} requests, "
         f"{stats.accepted} accepted, {len(stats.rejected)} rejected, "
         f"{len(stats.failed)} failed requests")


def timestamp_argument(text: str) -> datetime:
    """An ISO 8601 time (UTC when it names no offset), or ``now``, for argparse."""
    if text == "now":
        return datetime.now(UTC).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
