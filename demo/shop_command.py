"""``clickloop shop``: serve the demo shop on its own (``clickloop demo`` starts it for you).

The shop's pages load the snippet from ``CLICKLOOP_DEMO_COLLECTOR_URL`` and ask
``CLICKLOOP_DEMO_API_URL`` for decisions, so start the collector (and the personalization API)
first; the collector must allow the shop's origin (``CLICKLOOP_ALLOWED_ORIGINS``).
"""

from __future__ import annotations

import argparse
import sys
import threading

from demo.shop import create_app, serve
from tracker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None,
                        help="interface (default: CLICKLOOP_DEMO_SHOP_HOST)")
    parser.add_argument("--port", type=int, default=None,
                        help="TCP port (default: CLICKLOOP_DEMO_SHOP_PORT)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or settings.demo.shop_host
    port = settings.demo.shop_port if args.port is None else args.port
    if not 0 <= port < 65536:
        print(f"clickloop shop: --port {port} is not a TCP port", file=sys.stderr)
        return 2
    try:
        server = serve(create_app(settings), host, port)
    except OSError as exc:
        print(f"clickloop shop: cannot listen on {host}:{port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    print(f"clickloop shop: {server.url} (collector {settings.demo.collector_url}, "
          f"decisions {settings.demo.api_url}); Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
