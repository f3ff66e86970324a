"""Bootstrap: ``python3 -m tracker <command>`` on a machine that has only Python, Java, Maven
and Node.

It installs uv if missing, syncs the locked environment into ``.venv`` (a no-op when already in
sync) and hands over to the ``clickloop`` CLI inside it. Standard library only: nothing else is
installed yet when this runs.

    python3 -m tracker demo    # the README's main command
    python3 -m tracker test    # the README's test command
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"


def _say(message: str) -> None:
    print(f"[clickloop setup] {message}", file=sys.stderr, flush=True)


def _uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    try:
        import uv  # noqa: F401
    except ImportError:
        _say("installing uv (the package manager that reads uv.lock) with pip")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "uv"], check=True)
    return [sys.executable, "-m", "uv"]


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs under any python3
        _say(f"Python 3.11+ is required, this is {sys.version.split()[0]}")
        return 2
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(VENV))
    env.pop("VIRTUAL_ENV", None)
    # --frozen: install exactly what uv.lock says; uv skips the work when .venv already matches
    sync = subprocess.run([*_uv(), "sync", "--frozen", "--quiet"], cwd=ROOT, env=env)
    if sync.returncode != 0:
        _say("uv sync failed (see above); is PyPI reachable?")
        return sync.returncode
    clickloop = VENV / "bin" / "clickloop"
    os.execv(str(clickloop), [str(clickloop), *argv])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
