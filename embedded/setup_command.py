"""``clickloop setup``: install what the lock file cannot carry, without running anything.

The same idempotent steps the demo and test commands run; useful when building an image or
preparing a machine ahead of time.
"""

from __future__ import annotations

import argparse
import sys

from embedded import jars, provision
from tracker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jars", action="store_true", help="Kafka and Spark-Kafka jars only")
    parser.add_argument("--snippet", action="store_true",
                        help="npm packages: snippet build, dashboard charts")
    parser.add_argument("--system", action="store_true",
                        help="Debian packages the tests drive (chromium, chromedriver, redis)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    everything = not (args.jars or args.snippet or args.system)
    try:
        if args.system or everything:
            provision.ensure_debian_packages()
        if args.jars or everything:
            jars.ensure_jars(settings)
        if args.snippet or everything:
            print(provision.ensure_snippet())
            print(provision.ensure_dashboard_assets())
    except provision.ProvisionError as exc:
        print(f"clickloop setup: {exc}", file=sys.stderr)
        return 2
    return 0
