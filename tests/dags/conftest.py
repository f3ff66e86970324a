"""Fixtures for the DAG tests: a migrated SQLite metadata DB made once per test run, and a
fresh ``AIRFLOW_HOME`` holding a copy of it for each test that runs Airflow for real.

Airflow only ever runs in child processes (``tests.dags.airflow_runner``), with its whole
configuration in that child's environment, so nothing leaks into the pytest process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_BIN = Path(sys.executable).with_name("airflow")


def airflow_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of an Airflow child process: its own home, DB, DAGs folder, no examples.

    Inherited ``AIRFLOW__*``/``AIRFLOW_CONN_*`` variables are dropped so a developer's own
    Airflow setup cannot change what the test sees.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CLICKLOOP_"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    })
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class RunResult:
    """A finished child process: its exit code, full output and last-line JSON."""

    returncode: int
    output: str
    result: dict

    def __str__(self) -> str:  # shown by pytest when an assertion about a run fails
        return f"exit {self.returncode}; last 4000 chars of output:\n{self.output[-4000:]}"


def run_runner(args: list[str], env: Mapping[str, str], timeout: float = 420) -> RunResult:
    """Run ``python -m tests.dags.airflow_runner ARGS`` and parse its last stdout line."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.dags.airflow_runner", *args],
        cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=timeout,
    )
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {}
    return RunResult(proc.returncode, proc.stdout + "\n--- stderr ---\n" + proc.stderr, result)


@pytest.fixture(scope="session")
def migrated_airflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ``airflow db migrate``d SQLite DB, made once per run (the slow part) and copied."""
    home = tmp_path_factory.mktemp("airflow-template")
    started = time.perf_counter()
    proc = subprocess.run(
        [str(AIRFLOW_BIN), "db", "migrate"], env=airflow_env(home), capture_output=True,
        text=True, timeout=300,
    )
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"\n[airflow] `airflow db migrate` on SQLite took {elapsed:.1f} s")
    return home / "airflow.db"


@pytest.fixture
def airflow_home(tmp_path: Path, migrated_airflow_db: Path) -> Path:
    """A fresh AIRFLOW_HOME with its own copy of the migrated metadata DB."""
    home = tmp_path / "airflow"
    home.mkdir()
    shutil.copy2(migrated_airflow_db, home / "airflow.db")
    return home
