"""The CLI's dispatch table: every subcommand's module exists where the table says, exposes the
two verbs the CLI calls, and ``--help`` lists them without importing any of them."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from clickloop.cli import COMMANDS, build_parser
from tracker.settings import PROJECT_ROOT


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_subcommand_module_has_the_two_verbs(name: str) -> None:
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"clickloop {name}")
    module.add_arguments(parser)
    assert callable(module.run)


def test_help_names_every_subcommand_and_imports_none_of_them() -> None:
    code = ("import sys\nfrom clickloop.cli import COMMANDS, build_parser\n"
            "build_parser([]).format_help()\n"
            "print(sorted(m for m, _ in COMMANDS.values() if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "[]"
    text = build_parser([]).format_help()
    assert all(name in text for name in COMMANDS)
