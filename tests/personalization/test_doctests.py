"""The Examples in the personalization docstrings are tests too (as in River)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["bandit.context", "features", "forget_command", "forgetting", "holdout", "intent",
           "progressive", "segments", "stitching", "synthetic", "uplift"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"personalization.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"personalization.{name} has no examples"
    assert result.failed == 0
