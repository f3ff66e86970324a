"""Every HTTP server of the project runs the rebalancing worker (see embedded.http_worker).

The behaviour itself (a keep-alive connection answered ``Connection: close`` after its quota)
is tested against the real collector in tests/collector/test_hostile.py.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from embedded.http_worker import BalancedThreadWorker

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(ROOT.glob("*/gunicorn.conf.py"))


def test_the_servers_are_found():
    assert {path.parent.name for path in CONFIGS} >= {"collector", "personalization",
                                                       "dashboard"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.parent.name)
def test_each_server_runs_a_rebalancing_worker(config: Path):
    namespace: dict[str, object] = {"__file__": str(config)}
    exec(config.read_text(), namespace)
    module, _, name = str(namespace["worker_class"]).rpartition(".")
    worker = getattr(importlib.import_module(module), name)
    assert issubclass(worker, BalancedThreadWorker)
