"""``clickloop settings``: every setting with its variable, current value and meaning."""

from __future__ import annotations

import argparse
import re

from tracker.settings import PROJECT_ROOT, Settings, describe

README = PROJECT_ROOT / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def markdown_table() -> str:
    """The README's settings table, generated from the settings declarations."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, default, doc in describe():
        shown = f"`{default}`" if default else "—"
        rows.append(f"| `{name}` | {shown} | {doc} |")
    return "\n".join(rows)


def readme_with_table(text: str) -> str:
    """``text`` with the block between the settings-table markers replaced by the table."""
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: f"{START}\n{markdown_table()}\n{END}", text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--markdown", action="store_true", help="print the README table")
    parser.add_argument("--write-readme", action="store_true",
                        help="refresh the table in README.md")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.write_readme:
        README.write_text(readme_with_table(README.read_text(encoding="utf-8")),
                          encoding="utf-8")
        print(f"updated {README}")
        return 0
    if args.markdown:
        print(markdown_table())
        return 0
    for name, default, doc in describe():
        print(f"{name:38} default {default or '-':24} {doc}")
    print(f"\nstate dir: {settings.state_dir}\nlake: {settings.lake}\n"
          f"kafka: {settings.kafka.bootstrap or 'embedded broker'}")
    return 0
