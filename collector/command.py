"""``clickloop collector --host H --port P``: run the collector under gunicorn.

Finds Kafka (the configured cluster, or starts the embedded broker), creates the event and
dead-letter topics with the configured partitions, then replaces this process with gunicorn
running ``collector/gunicorn.conf.py``, so signals (Ctrl-C, SIGTERM from a supervisor) reach
gunicorn's master directly and it shuts the workers down gracefully.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from embedded import kafka_broker, kafka_topics
from tracker.settings import Settings

CONFIG = Path(__file__).resolve().parent / "gunicorn.conf.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default: 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default: 8080)")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn worker processes (default: from gunicorn.conf.py)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per worker (default: from gunicorn.conf.py)")


def gunicorn_argv(args: argparse.Namespace) -> list[str]:
    """The gunicorn command line for ``args``."""
    argv = [sys.executable, "-m", "gunicorn", "--config", str(CONFIG),
            "--bind", f"{args.host}:{args.port}"]
    if args.workers:
        argv += ["--workers", str(args.workers)]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    return argv


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not 0 < args.port < 65536:
        print(f"clickloop collector: --port {args.port} is not a TCP port (1-65535)",
              file=sys.stderr)
        return 2
    try:
        bootstrap = kafka_broker.ensure_kafka(settings)
    except kafka_broker.KafkaError as exc:
        print(f"clickloop collector: {exc}", file=sys.stderr)
        return 2
    try:
        kafka_topics.ensure_topics(bootstrap, [settings.kafka.topic,
                                                 settings.kafka.dead_letter_topic],
                                     settings.kafka.partitions, settings.kafka.replication,
                                     timeout=10.0)
    except kafka_broker.KafkaError as exc:
        # an external cluster that is down right now: start anyway, the spool takes the events
        # and the replayer delivers them once Kafka answers (topics must exist by then)
        print(f"clickloop collector: warning: {exc}; starting anyway, events are spooled "
              f"until Kafka answers", file=sys.stderr)
    env = dict(os.environ, CLICKLOOP_KAFKA_BOOTSTRAP=bootstrap)
    argv = gunicorn_argv(args)
    print(f"clickloop collector: http://{args.host}:{args.port} -> Kafka {bootstrap} "
          f"(topic {settings.kafka.topic})", file=sys.stderr, flush=True)
    os.execve(sys.executable, argv, env)
    return 0  # not reached
