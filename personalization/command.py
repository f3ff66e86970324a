"""``clickloop personalization worker|learner|api|check-rules``.

- ``worker``: the Kafka consumer that keeps profiles and learns the intent model (runs until
  SIGINT/SIGTERM, then checkpoints and leaves the consumer group);
- ``learner``: with ``CLICKLOOP_LABELS_TOPIC`` set, the one process that learns every worker's
  labels into one shared model (:mod:`personalization.learner`); run it next to the workers;
- ``api``: the decision API under gunicorn (this process is replaced by gunicorn's master, so
  a supervisor's signals reach it directly);
- ``check-rules [FILE]``: validate a rules file and print each problem with its line, for a
  marketer (or CI) before saving it over the live one.

Exit codes: 0 ok, 2 unusable configuration (rules file, store, Kafka), 1 a worker failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from personalization.rules import DEFAULT_RULES_FILE, RulesError, load_rules
from tracker.settings import Settings

CONFIG = Path(__file__).resolve().parent / "gunicorn.conf.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("worker", help="consume events: profiles, intent model, recommendations")
    actions.add_parser("learner", help="learn every worker's labels into one shared model "
                       "(needs CLICKLOOP_LABELS_TOPIC)")
    api = actions.add_parser("api", help="serve the decision API with gunicorn")
    api.add_argument("--bind", default=None,
                     help="host:port (default: CLICKLOOP_API_BIND, 127.0.0.1:8001)")
    api.add_argument("--workers", type=int, default=None,
                     help="gunicorn worker processes (default: CLICKLOOP_API_WORKERS)")
    api.add_argument("--threads", type=int, default=None,
                     help="threads per worker (default: from gunicorn.conf.py)")
    evaluate = actions.add_parser(
        "evaluate", help="replay a JSON-lines file of events through the model; print AUC, "
        "log loss, calibration (no store is touched)")
    evaluate.add_argument("file", type=Path, help="time-ordered contract events, one JSON "
                          "object a line (.gz: gzip)")
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")
    evaluate.add_argument("--model", default=None,
                          help="intent model (default: CLICKLOOP_INTENT_MODEL)")
    check = actions.add_parser("check-rules", help="validate a content rules YAML file")
    check.add_argument("file", nargs="?", type=Path, default=None,
                       help="the file (default: CLICKLOOP_RULES_FILE or the packaged example)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "check-rules":
        return _check_rules(args.file or settings.personalization.rules_file)
    if args.action == "evaluate":
        from personalization.evaluate_command import run_evaluate

        return run_evaluate(args, settings)
    if args.action == "api":
        return _api(args, settings)
    return _worker(settings, learner=args.action == "learner")


def _check_rules(path: Path | None) -> int:
    path = path or DEFAULT_RULES_FILE
    try:
        rules = load_rules(path)
    except RulesError as exc:
        print(f"clickloop personalization: {exc}", file=sys.stderr)
        return 2
    for slot in rules.slots.values():
        bandit = slot.bandit
        learning = "" if bandit is None else (
            f"; bandit for {bandit.share:.0%} of the treated, pinned to {bandit.pin}"
            if bandit.pin else f"; bandit {bandit.policy} for {bandit.share:.0%} of the treated,"
            f" reward {bandit.reward}, explore {bandit.explore:.0%}")
        print(f"{slot.name}: {', '.join(slot.variant_names)} (default {slot.default.name}"
              f"{learning})")
    return 0


def gunicorn_argv(args: argparse.Namespace, settings: Settings) -> list[str]:
    section = settings.personalization
    argv = [sys.executable, "-m", "gunicorn", "--config", str(CONFIG),
            "--bind", args.bind or section.api_bind,
            "--workers", str(args.workers or section.api_workers)]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    return argv


def _api(args: argparse.Namespace, settings: Settings) -> int:
    # fail here, with the line and reason, rather than in every gunicorn worker
    if _check_rules(settings.personalization.rules_file) != 0:
        return 2
    from personalization.stores import STORE_ERRORS, open_store

    store = open_store(settings)
    try:
        store.ping()
    except STORE_ERRORS as exc:
        print(f"clickloop personalization: the store is unusable: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    argv = gunicorn_argv(args, settings)
    bind = args.bind or settings.personalization.api_bind
    print(f"clickloop personalization: decision API on http://{bind}", file=sys.stderr,
          flush=True)
    os.execv(sys.executable, argv)
    return 0  # not reached


def _worker(settings: Settings, *, learner: bool = False) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s "
                        "%(message)s", stream=sys.stderr)
    from embedded import kafka_broker, kafka_topics
    from personalization.learner import Learner
    from personalization.stores import STORE_ERRORS, open_store
    from personalization.worker import Worker

    labels_topic = settings.personalization.labels_topic
    if learner and not labels_topic:
        print("clickloop personalization: the learner needs CLICKLOOP_LABELS_TOPIC, the topic "
              "the workers publish their labels to", file=sys.stderr)
        return 2
    try:
        bootstrap = kafka_broker.ensure_kafka(settings)
        kafka_topics.ensure_topics(bootstrap, [settings.kafka.topic], settings.kafka.partitions,
                                     settings.kafka.replication, timeout=30.0)
        if labels_topic:  # one partition: one learner reads every label, in order
            kafka_topics.ensure_topics(bootstrap, [labels_topic], 1,
                                         settings.kafka.replication, timeout=30.0)
    except kafka_broker.KafkaError as exc:
        print(f"clickloop personalization: {exc}", file=sys.stderr)
        return 2
    store = open_store(settings)
    try:
        store.ping()
        worker: Worker | Learner = (Learner if learner else Worker)(
            settings, store, bootstrap=bootstrap)
    except STORE_ERRORS as exc:
        print(f"clickloop personalization: the store is unusable: {exc}", file=sys.stderr)
        return 2
    except RulesError as exc:  # the worker reads the slots' bandit rewards from it
        print(f"clickloop personalization: {exc}", file=sys.stderr)
        store.close()
        return 2
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        worker.run(stop)
    finally:
        store.close()
    return 0
