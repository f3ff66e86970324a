"""Stopping the demo's stack when the terminal is gone: ``clickloop demo | tee run.log`` and a
Ctrl-C ends ``tee`` too, so every line the demo prints while it shuts down hits a broken pipe.
The services must be stopped all the same (real child processes here, no Kafka needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from demo.stack import Service, Stack
from tracker.settings import PROJECT_ROOT, Settings


def sleeper(name: str, logs: Path) -> Service:
    """A child that would run for a minute, with a grandchild in its process group."""
    code = ("import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            "time.sleep(60)")
    return Service(name, [sys.executable, "-c", code], dict(os.environ), logs / f"{name}.log")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stop_goes_on_when_stdout_is_a_broken_pipe(tmp_path: Path) -> None:
    said: list[str] = []

    def broken(message: str) -> None:
        said.append(message)
        raise BrokenPipeError(32, "Broken pipe")

    stack = Stack(Settings.from_env({"CLICKLOOP_STATE_DIR": str(tmp_path)}), logs=tmp_path,
                  say=broken)
    stack.services = [sleeper("first", tmp_path), sleeper("second", tmp_path)]
    for service in stack.services:
        service.start()
    groups = [service.pid for service in stack.services]
    stack.stop()
    assert said == ["  stopped first (exit code -15)", "  stopped second (exit code -15)"]
    assert stack.services == []
    for pgid in groups:  # the children and their children
        assert pgid is not None and not group_alive(pgid), f"process group {pgid} outlived stop()"


def test_say_falls_silent_once_the_pipe_is_broken() -> None:
    script = ("import sys, time\n"
              "from demo.command import say\n"
              "time.sleep(1.0)\n"  # the reader is gone by now
              "say('Stopping'); say('  stopped collector (exit code 0)')\n"
              "print('went on', file=sys.stderr)\n")
    child = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT_ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None
    child.stdout.close()
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err.decode()
    assert err.decode().strip() == "went on"
