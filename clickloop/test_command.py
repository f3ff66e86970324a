"""``clickloop test``: provision what the suite drives for real, then run pytest.

This is the README's test command (through ``python3 -m tracker test``) and what CI runs, so it
must work on a fresh machine: Maven jars, the snippet build and the Debian packages (Chromium,
chromedriver, redis-server) are installed here, idempotently.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from embedded import jars, provision
from tracker.settings import PROJECT_ROOT, Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-provision", action="store_true",
                        help="skip installing jars, npm packages and Debian packages")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER,
                        help="passed to pytest (e.g. -k kafka -x)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.no_provision:
        try:
            provision.ensure_debian_packages()
            jars.ensure_jars(settings)
            provision.ensure_snippet()
            provision.ensure_dashboard_assets()
        except provision.ProvisionError as exc:
            print(f"clickloop test: {exc}", file=sys.stderr)
            return 2
    extra = [a for a in args.pytest_args if a != "--"]
    return subprocess.call([sys.executable, "-m", "pytest", *extra], cwd=PROJECT_ROOT)
