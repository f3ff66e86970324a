"""``clickloop dashboard --host H --port P``: serve the dashboard under gunicorn.

Refuses to listen on anything but a loopback address unless ``CLICKLOOP_DASHBOARD_TOKEN`` is
set (then every page asks for it). Replaces this process with gunicorn, so signals reach its
master directly.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from embedded import provision
from tracker.settings import Settings

CONFIG = Path(__file__).resolve().parent / "gunicorn.conf.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default: 127.0.0.1; anything else needs "
                             "CLICKLOOP_DASHBOARD_TOKEN)")
    parser.add_argument("--port", type=int, default=None,
                        help="TCP port (default: CLICKLOOP_DASHBOARD_PORT, 8050)")


def gunicorn_argv(host: str, port: int) -> list[str]:
    """The gunicorn command line serving the dashboard on ``host:port``."""
    return [sys.executable, "-m", "gunicorn", "--config", str(CONFIG), "--bind",
            f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]


def problem(host: str, port: int, settings: Settings) -> str | None:
    """Why the dashboard must not start with these arguments, or None."""
    from dashboard.auth import needs_token

    if not 0 < port < 65536:
        return f"--port {port} is not a TCP port (1-65535)"
    if needs_token(host) and not settings.dashboard.token:
        return (f"--host {host} makes the dashboard reachable from other machines: set "
                "CLICKLOOP_DASHBOARD_TOKEN (the login token) first")
    return None


def run(args: argparse.Namespace, settings: Settings) -> int:
    port = args.port if args.port is not None else settings.dashboard.port
    reason = problem(args.host, port, settings)
    if reason is not None:
        print(f"clickloop dashboard: {reason}", file=sys.stderr)
        return 2
    try:
        provision.ensure_dashboard_assets()
    except provision.ProvisionError as exc:
        print(f"clickloop dashboard: {exc}", file=sys.stderr)
        return 2
    print(f"clickloop dashboard: http://{args.host}:{port}/ (lake {settings.lake})",
          file=sys.stderr, flush=True)
    env = dict(os.environ, **settings.to_env())
    os.execve(sys.executable, gunicorn_argv(args.host, port), env)
    return 0  # not reached
