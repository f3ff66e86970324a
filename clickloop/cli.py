"""``clickloop``: the one entry point for users and operators.

Each subcommand lives next to the component it drives (``collector.command``, ...) and exposes
``add_arguments(parser)`` and ``run(args, settings) -> int``. Modules are imported only when their
subcommand runs, so ``clickloop --help`` stays fast and never touches Spark or Airflow.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tracker.settings import Settings, SettingsError

# subcommand -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo.command", "run the whole loop on this machine (the main command)"),
    "kafka": ("embedded.kafka_command", "start, stop or inspect the embedded Kafka broker"),
    "contract": ("tracker.contract.command", "print the event JSON Schema, validate events"),
    "setup": ("embedded.setup_command", "install jars, npm packages and system packages only"),
    "settings": ("clickloop.settings_command", "list every CLICKLOOP_* setting and its default"),
    "test": ("clickloop.test_command", "install what the tests need and run the whole suite"),
    "collector": ("collector.command", "run the event collector (Flask under gunicorn)"),
    "personalization": ("personalization.command", "run the personalization worker or the "
                        "decision API; check a rules file"),
    "forget": ("personalization.forget_command", "erase a visitor or user: profiles, links, "
               "decisions now; lake and sessions at the next batch run; audited"),
    "report": ("clickloop.report_command", "build marketer reports; `report uplift`: "
               "personalization vs holdout"),
    "airflow": ("stream_jobs.orchestration.command", "run the log pipeline's DAGs with Airflow"),
    "spark": ("stream_jobs.orchestration.spark_command", "package the code for a Spark cluster "
              "(--py-files) and check a cluster runs it"),
    "logs": ("stream_jobs.logs.command", "parse web server access logs into the event lake"),
    "import": ("stream_jobs.importing.command", "import the shop's history: past orders (CSV) "
               "or contract events (JSON lines)"),
    "audience": ("stream_jobs.reports.audience_command", "export a segment's members (user "
                 "ids only) as CSV, to a Kafka topic or a webhook"),
    "dashboard": ("dashboard.command", "serve the marketer's dashboard over the lake's reports"),
    "simulate": ("demo.simulate_command", "send seeded shop traffic through the "
                 "collector and write its ground truth"),
    "shop": ("demo.shop_command", "serve the demo shop (embeds the snippet)"),
}


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The argument parser; only the subcommand named in ``argv`` has its module imported."""
    parser = argparse.ArgumentParser(
        prog="clickloop",
        description="Clickloop: self-hosted clickstream tracking and personalization.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=module)
        # argument definitions are cheap; import the module only for the chosen command
        if name in argv:
            importlib.import_module(module).add_arguments(sub_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, read settings once, run the subcommand; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(args_list).parse_args(args_list)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"clickloop: configuration error: {exc}", file=sys.stderr)
        return 2
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args, settings) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
