"""``clickloop demo``: the README's main command — the whole loop on this machine.

1. provision what the lock file cannot carry (Kafka and Spark-Kafka jars, the snippet build);
2. start the stack (:mod:`demo.stack`): Kafka, the collector, the personalization API
   and worker, the streaming Spark job and the demo shop;
3. send simulated shop traffic through the collector (:mod:`simulation.simulator`, asking the
   decision API for every slot as the snippet does) while showing how far the pipeline has got;
   meanwhile, on a first run, a child process simulates the shop's past (``--history-days``,
   90 by default: :mod:`demo.history`) as an export of old tracking;
4. wait until the lake job and the worker have read everything, then import the history
   (``clickloop import events``'s job), sessionize and build the reports over the simulated
   dates of every run on the state dir, and the customer reports over the whole history
   (:mod:`demo.batch`);
5. print the shop's URL, the reports, the intent model's progressive AUC and a short table;
   then keep serving until Ctrl-C (interactive runs) or stop.

State lives in ``CLICKLOOP_STATE_DIR`` (Kafka's log, Spark checkpoints, the lake, the model),
so a second run resumes where the first stopped. Its simulated window starts where the last one
ended: the worker and the live sessions keep time by the events they see, and traffic from
before that would reach them as very late events. Each run gets a new seed (new visitors and
event ids; the same seed would resend the same event ids, which consumers drop as duplicates).
``--until TIME`` ends the window at TIME instead of now: on a fresh state dir, the same TIME
and seed simulate the same day again (how a run's result is reproduced; the simulated traffic
follows the hour of the day, so the model's figures depend on the window).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
import webbrowser
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from demo.history import HistoryJob
from demo.runs import (
    RunPlan,
    exclusive_state,
    plan_run,
    read_history,
    record_run,
    report_dates,
)
from demo.simulate_command import timestamp_argument
from tracker.settings import Settings

CATCH_UP_TIMEOUT_S = 300.0
HISTORY_DAYS = 90.0
MAX_HISTORY_DAYS = 3 * 366


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=None, metavar="N",
                        help="stop the traffic after N events (default: no limit)")
    parser.add_argument("--minutes", type=float, default=None, metavar="M",
                        help="simulated minutes of traffic, ending now (default: a day; a "
                        "later run starts where the last one ended)")
    parser.add_argument("--until", type=timestamp_argument, default=None, metavar="TIME",
                        help="end the simulated traffic at TIME (ISO 8601, e.g. "
                        "2026-12-05T16:10:00Z; not later than now) instead of now: on a fresh "
                        "state dir, the same TIME and seed simulate the same day again, to "
                        "reproduce a run")
    parser.add_argument("--visitors-per-hour", type=float, default=30.0,
                        help="mean arrivals of new visitors per simulated hour (default: 30)")
    parser.add_argument("--seed", type=int, default=None,
                        help="traffic seed (default: the run number in the state dir)")
    parser.add_argument("--speed", type=float, default=None,
                        help="pace the traffic: 1 = real time (default: as fast as possible)")
    parser.add_argument("--history-days", type=float, default=HISTORY_DAYS, metavar="D",
                        help="on a first run, import D days of simulated shop history before "
                        "the live traffic, for the customer reports (default: 90; 0: none)")
    parser.add_argument("--no-browser", action="store_true",
                        help="do not open the shop in a web browser (servers, CI)")
    parser.add_argument("--keep-running", action=argparse.BooleanOptionalAction, default=None,
                        help="keep serving the shop and the stack after the reports until "
                        "Ctrl-C (default: yes when run from a terminal, unless --events and "
                        "--no-browser are given)")


def say(message: str = "") -> None:
    """Print a line. Once stdout is a broken pipe (``clickloop demo | tee log`` and a Ctrl-C
    that ended ``tee`` too), say nothing more: stopping the services must not fail on it."""
    try:
        print(message, flush=True)
    except BrokenPipeError:
        _mute_stdout()


def _mute_stdout() -> None:
    """Point stdout at /dev/null (what is still buffered goes there too, not to a traceback)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class _Stop(Exception):
    """SIGTERM: leave the way Ctrl-C does."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Stop()


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.events is not None and args.events < 1:
        print("clickloop demo: --events must be at least 1", file=sys.stderr)
        return 2
    if args.minutes is not None and args.minutes <= 0:
        print("clickloop demo: --minutes must be more than 0", file=sys.stderr)
        return 2
    if args.speed is not None and args.speed <= 0:
        print("clickloop demo: --speed must be more than 0", file=sys.stderr)
        return 2
    if args.until is not None and args.until > datetime.now(UTC):
        print(f"clickloop demo: --until {args.until.isoformat()} is in the future; the traffic "
              f"it would send would be stamped ahead of the collector's clock", file=sys.stderr)
        return 2
    if not 0 <= args.history_days <= MAX_HISTORY_DAYS:
        print(f"clickloop demo: --history-days must be between 0 and {MAX_HISTORY_DAYS}, got "
              f"{args.history_days:g}", file=sys.stderr)
        return 2
    from demo.history import HISTORY_SEED

    if args.history_days and args.seed == HISTORY_SEED:
        print(f"clickloop demo: --seed {HISTORY_SEED} is the history's seed (its event ids); "
              f"pick another or --history-days 0", file=sys.stderr)
        return 2
    keep_running = args.keep_running
    if keep_running is None:
        keep_running = sys.stdin.isatty() and sys.stdout.isatty() and not (
            args.events is not None and args.no_browser)
    with exclusive_state(settings) as mine:
        if not mine:
            print(f"clickloop demo: another demo is running on {settings.state_dir}; stop it "
                  f"first or point CLICKLOOP_STATE_DIR elsewhere", file=sys.stderr)
            return 2
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return _run(args, settings, keep_running)
        finally:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, settings: Settings, keep_running: bool) -> int:
    from demo.stack import Stack, StackError
    from embedded import jars, kafka_broker, provision

    logs = Path(settings.state_dir) / "demo" / "logs"
    say("Clickloop demo: preparing (jars, snippet, dashboard charts)")
    try:
        jars.ensure_jars(settings)
        provision.ensure_snippet()
        provision.ensure_dashboard_assets()
    except provision.ProvisionError as exc:
        print(f"clickloop demo: {exc}", file=sys.stderr)
        return 2
    say(f"Starting the stack (state in {settings.state_dir}, logs in {logs})")
    stack = Stack(settings, logs=logs, say=say)
    interrupted = False
    try:
        try:
            stack.start()
        except (StackError, kafka_broker.KafkaError) as exc:
            print(f"clickloop demo: {exc}", file=sys.stderr)
            return 2
        assert stack.endpoints is not None
        say(f"\nThe shop is open: {stack.endpoints.shop_url}\n")
        if not args.no_browser:
            with contextlib.suppress(webbrowser.Error):
                webbrowser.open(stack.endpoints.shop_url)
        code = _loop(args, settings, stack)
        if keep_running:
            _serve(stack)
        return code
    except (KeyboardInterrupt, _Stop):
        interrupted = True
        return 130
    finally:
        with _no_interrupts():
            say("\nStopping" + (" (interrupted)" if interrupted else ""))
            stack.stop()


def _loop(args: argparse.Namespace, settings: Settings, stack: Any) -> int:
    """History, traffic, catch-up, batch, summary; 0 when everything worked, 1 when a part
    did not."""
    from demo.progress import Watcher

    child = stack.child_settings
    history = read_history(settings)
    plan = plan_for(args, history)
    watcher = Watcher(child, stack.bootstrap, stream=stack.stream)
    problems = 0
    if plan.note:
        say(f"Note: {plan.note}")
    past = _start_history(args, settings, stack, plan, first_run=not history)
    try:
        if plan.minutes >= 1:
            problems += _traffic(args, settings, stack, plan, watcher)
        else:
            say("No traffic to simulate: the last run ended less than a minute ago.")
        problems += _finish(args, settings, stack, plan, history, watcher, past)
        return 1 if problems else 0
    finally:
        if isinstance(past, HistoryJob):
            past.stop()


def plan_for(args: argparse.Namespace, history: list[dict[str, Any]]) -> RunPlan:
    """This run's simulated window: ``--minutes`` ending ``--until`` (default: now), after
    ``history``'s runs."""
    return plan_run(history, now=args.until or datetime.now(UTC), minutes=args.minutes,
                    seed=args.seed)


def _history_dir(settings: Settings) -> Path:
    return Path(settings.state_dir) / "demo" / "truth-history"


def _start_history(args: argparse.Namespace, settings: Settings, stack: Any, plan: RunPlan,
                   *, first_run: bool) -> HistoryJob | dict[str, Any] | None:
    """A first run's history simulation, started as a child process (so it runs while the live
    traffic is sent); on later runs the history an earlier run made (its summary), if any."""
    from demo.history import history_config, read_summary

    made = read_summary(_history_dir(settings))
    if made is not None or not first_run or not args.history_days:
        return made
    first_day = datetime(plan.start.year, plan.start.month, plan.start.day, tzinfo=UTC)
    config = history_config(first_day, args.history_days, shop_url=stack.endpoints.shop_url)
    assert config.start is not None
    say(f"\nSimulating {args.history_days:g} days of shop history ({config.start:%Y-%m-%d} to "
        f"{first_day - timedelta(days=1):%Y-%m-%d}) in the background, to import before the "
        f"reports")
    return HistoryJob.start(config, _history_dir(settings), stack.logs / "history.log")


def _finish(args: argparse.Namespace, settings: Settings, stack: Any, plan: RunPlan,
            history: list[dict[str, Any]], watcher: Any,
            past: HistoryJob | dict[str, Any] | None) -> int:
    """Catch-up, history import, batch, summary; the number of problems."""
    from demo.batch import BatchError, run_batch
    from demo.history import HistoryError
    from demo.progress import model_summary

    endpoints = stack.endpoints
    child = stack.child_settings
    problems = 0
    say("\nWaiting for the lake job and the personalization worker to read every event")
    target = watcher.kafka()
    ticker = _Ticker(None)
    lacking = watcher.wait_caught_up(target, timeout=CATCH_UP_TIMEOUT_S,
                                     alive=lambda: not stack.dead(), tick=ticker.maybe)
    with contextlib.suppress(Exception):  # where it ended; a slow broker must not end the demo
        ticker.maybe(watcher.snapshot(), force=True)
    for part, missing in lacking.items():
        if missing:
            problems += 1
            say(f"  the {part} is still {missing:,} events behind (see {stack.logs})")
    for service in stack.dead():
        problems += 1
        say(f"  {service.name} has stopped (exit code {service.process.returncode}); end of "
            f"{service.log_path}:\n{service.log_tail(15)}")

    history_summary: dict[str, Any] | None = None
    if isinstance(past, HistoryJob):
        try:
            history_summary = past.wait()
        except HistoryError as exc:
            problems += 1
            say(f"  {exc}")
        else:
            _say_history(history_summary, past.out)
    elif past is not None:
        history_summary = past
    start, end = report_dates(history, plan)
    history_start = None
    events_file = None
    if history_summary is not None:
        history_start = datetime.fromisoformat(history_summary["start"]).date()
        events_file = Path(history_summary["events_file"])
        if not events_file.is_file():
            events_file = None  # removed by hand: what the lake holds stays
    say(f"\n{'Importing the history, s' if events_file else 'S'}essionizing and building the "
        f"reports for {start} to {end}"
        + (f", and the customer reports for {history_start} to {end}" if history_start else "")
        + " (Spark)")
    written: dict[str, Any] = {}
    over_history: dict[str, Any] = {}
    try:
        summary = run_batch(start, end, env=stack.env, log_path=stack.logs / "batch.log",
                            import_events=events_file, history_start=history_start)
        written = summary.get("reports", {}).get("reports", {})
        over_history = summary.get("history_reports", {}).get("reports", {})
        imported = summary.get("import")
        if imported:
            say(f"  {imported['events']:,} history events imported into the lake "
                f"(ingest={imported['ingest']}, {imported['rejects']:,} rejected)")
            if imported["rejects"]:
                problems += 1
                say(f"  the history had rejected lines: see {imported['rejects_file']}")
        sessions = summary.get("sessionize", {}).get("sessions")
        say(f"  {sessions:,} sessions in {child.lake / 'sessions'}" if sessions is not None
            else "  sessions written")
    except BatchError as exc:
        problems += 1
        say(f"  {exc}")

    from demo import overview

    say("\n" + "=" * 78)
    say(f"Shop:        {endpoints.shop_url}")
    say(f"Collector:   {endpoints.collector_url}  (snippet: {endpoints.collector_url}"
        f"/v1/clickloop.js)")
    say(f"Decisions:   {endpoints.api_url}/v1/decide?slot=hero")
    if endpoints.dashboard_url:
        say(f"Dashboard:   {endpoints.dashboard_url}")
    if written:
        say(f"Reports {start} to {end} (open in a browser):")
        for name, item in written.items():
            say(f"  {name:12} {Path(item['html']).resolve().as_uri()}")
    if over_history:
        say(f"Reports over the history, {history_start} to {end}:")
        for name, item in over_history.items():
            say(f"  {name:12} {Path(item['html']).resolve().as_uri()}")
    say("")
    say(overview.model_line(model_summary(endpoints.api_url, stack.api_token)))
    for name, table in (("traffic", overview.traffic_table), ("funnels", overview.funnel_table)):
        if name in written:
            text = table(Path(written[name]["html"]).parent)
            if text:
                say("")
                say(text)
    say("=" * 78)
    return problems


def _say_history(summary: dict[str, Any], folder: Path) -> None:
    """One line on the simulated past, from its ground truth."""
    truth = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    humans, customers = truth["humans"], truth["customers"]
    say(f"  history: {summary['events']:,} events, {humans['visits']:,} visits by "
        f"{humans['visitors']:,} people, {customers['orders']:,} orders (EUR "
        f"{customers['revenue']:,.2f}) by {customers['customers']:,} customers, "
        f"{customers['repeat_customers']:,} of them repeat customers; ground truth in {folder}")


def _traffic(args: argparse.Namespace, settings: Settings, stack: Any, plan: RunPlan,
             watcher: Any) -> int:
    """Send the simulated traffic; record the run; the number of problems (0 or 1)."""
    from demo.traffic import Traffic, TrafficConfig
    from simulation.config import SimConfig
    from simulation.simulator import Simulation

    endpoints = stack.endpoints
    config = SimConfig(seed=plan.seed, start=plan.start, minutes=plan.minutes,
                       max_events=args.events, visitors_per_hour=args.visitors_per_hour,
                       shop_url=endpoints.shop_url)
    traffic = Traffic(TrafficConfig(collector_url=endpoints.collector_url,
                                    api_url=endpoints.api_url,
                                    cookie_name=settings.collector.cookie_name,
                                    speed=args.speed), shop_url=endpoints.shop_url)
    simulation = Simulation(config, decide=traffic.decide)
    bound = f", at most {args.events:,} events" if args.events else ""
    say(f"\nSimulating run {plan.run} (seed {plan.seed}): {plan.start:%Y-%m-%d %H:%M} to "
        f"{plan.end:%Y-%m-%d %H:%M} UTC{bound}, sent through the collector")
    ticker = _Ticker(traffic)
    stop_ticking = threading.Event()

    def tick() -> None:
        while not stop_ticking.wait(1.0):
            with contextlib.suppress(Exception):  # a slow broker must not end the demo
                ticker.maybe(watcher.snapshot())

    thread = threading.Thread(target=tick, name="demo-progress", daemon=True)
    thread.start()
    truth_dir = Path(settings.state_dir) / "demo" / f"truth-{plan.seed}"
    try:
        traffic.run(simulation)
    finally:
        stop_ticking.set()
        thread.join(5)
        traffic.close()
        traffic.write(truth_dir)
        simulation.truth.write(truth_dir)
        record_run(settings, {"run": plan.run, "seed": plan.seed,
                              "start": plan.start.isoformat(), "end": plan.end.isoformat(),
                              "events": traffic.stats.events_sent,
                              "at": datetime.now(UTC).isoformat(timespec="seconds")})
    ticker.maybe(watcher.snapshot(), force=True)
    stats = traffic.stats
    summary = simulation.truth.summary()
    humans = summary["humans"]
    say(f"  sent {stats.events_sent:,} events in {sum(stats.requests.values()):,} requests: "
        f"{humans['visits']:,} visits by {humans['visitors']:,} people, {humans['orders']:,} "
        f"order{'' if humans['orders'] == 1 else 's'} (EUR {humans['revenue']:,.2f}), "
        f"{summary['bots']['page_views']:,} crawler page "
        f"views; {stats.decisions_answered:,} personalization decisions")
    say(f"  ground truth in {truth_dir}")
    failed = len(stats.rejected) + sum(len(f["events"]) for f in stats.failed)
    if failed:
        say(f"  {failed:,} events were refused or not delivered: see {truth_dir}/traffic.json")
        return 1
    return 0


class _Ticker:
    """Prints a progress line: redrawn in place on a terminal, every 10 s otherwise."""

    def __init__(self, traffic: Any):
        self.traffic = traffic
        self.tty = sys.stdout.isatty()
        self.last = 0.0

    def maybe(self, snapshot: Any, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < (1.0 if self.tty else 10.0):
            return
        self.last = now
        sent = self.traffic.stats.events_sent if self.traffic is not None else None
        line = "  " + snapshot.line(sent)
        if not self.tty:
            say(line)
            return
        try:
            sys.stdout.write("\r\033[K" + line + ("\n" if force else ""))
            sys.stdout.flush()
        except BrokenPipeError:
            _mute_stdout()


def _serve(stack: Any) -> None:
    """Keep the stack up until Ctrl-C; say so if a service stops on its own."""
    say("\nServing until Ctrl-C. Browse the shop: your visits reach the same pipeline.")
    reported: set[str] = set()
    while True:
        for service in stack.dead():
            if service.name not in reported:
                reported.add(service.name)
                say(f"  {service.name} stopped (exit code {service.process.returncode}); see "
                    f"{service.log_path}")
        time.sleep(1.0)


@contextlib.contextmanager
def _no_interrupts() -> Iterator[None]:
    """Shutdown must finish: a second Ctrl-C only says so."""
    def patient(signum: int, frame: object) -> None:
        with contextlib.suppress(OSError, ValueError):
            print("\n  still stopping the services, one moment", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, patient)
    previous_term = signal.signal(signal.SIGTERM, patient)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
