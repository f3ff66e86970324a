"""``clickloop kafka start|stop|status``: drive the embedded broker from a shell.

The bootstrap address goes to stdout alone (``BOOTSTRAP=$(clickloop kafka start)``); everything
meant for a person goes to stderr. Exit codes: 0 ok, 2 cannot start (message says why),
3 not running (``status``).
"""

from __future__ import annotations

import argparse
import sys

from embedded import kafka_broker, kafka_topics
from tracker.settings import Settings

NOT_RUNNING = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    start = actions.add_parser("start", help="start the embedded broker (or reuse it); prints "
                               "the bootstrap address")
    start.add_argument("--port", type=int, default=None,
                       help="listen on this port of 127.0.0.1 (default: the previous one if "
                       "free, else any free port)")
    start.add_argument("--timeout", type=float, default=90.0,
                       help="seconds to wait for the broker to answer (default: 90)")
    stop = actions.add_parser("stop", help="stop the embedded broker")
    stop.add_argument("--timeout", type=float, default=30.0,
                      help="seconds to wait for a clean shutdown before killing (default: 30)")
    actions.add_parser("status", help="print the bootstrap address if the broker runs "
                       "(exit code 3 if not)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    external = settings.kafka.bootstrap
    if external:
        return _external(args.action, external)
    if args.action == "start":
        try:
            bootstrap = kafka_broker.start(settings, port=args.port, timeout=args.timeout)
        except kafka_broker.KafkaError as exc:
            _say(str(exc))
            return 2
        print(bootstrap)
        return 0
    if args.action == "stop":
        stopped = kafka_broker.stop(settings, timeout=args.timeout)
        _say("stopped" if stopped else "not running")
        return 0
    state = kafka_broker.status(settings)
    if not state.running:
        _say(f"not running (state dir {state.state_dir})")
        return NOT_RUNNING
    _say(f"running, pid {state.pid}, state dir {state.state_dir}")
    print(state.bootstrap)
    return 0


def _external(action: str, bootstrap: str) -> int:
    """CLICKLOOP_KAFKA_BOOTSTRAP is set: that cluster is someone else's to start and stop."""
    if action == "stop":
        _say(f"using the configured cluster {bootstrap} (CLICKLOOP_KAFKA_BOOTSTRAP); "
             "nothing to stop")
        return 0
    if not kafka_topics.is_reachable(bootstrap):
        _say(f"the configured cluster {bootstrap} (CLICKLOOP_KAFKA_BOOTSTRAP) does not answer")
        return 2 if action == "start" else NOT_RUNNING
    _say(f"using the configured cluster {bootstrap} (CLICKLOOP_KAFKA_BOOTSTRAP)")
    print(bootstrap)
    return 0


def _say(message: str) -> None:
    print(f"clickloop kafka: {message}", file=sys.stderr)
