"""Idempotent installation of what the Python lock file cannot carry.

The JavaScript snippet's npm packages and build, the dashboard's charting library, and the
Debian packages the tests drive for real (Chromium, chromedriver, redis-server); Maven jars are
:mod:`embedded.jars`. Each step checks first and does nothing when its result is already there,
so the README's commands can run it every time. The errors and checks every installer shares
(``java`` on PATH, a file lock) are here too.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from tracker.settings import PROJECT_ROOT

SNIPPET_DIR = PROJECT_ROOT / "js_snippet"
# the dashboard is layer 3, so its asset folder is named here rather than imported
DASHBOARD_ASSETS_DIR = PROJECT_ROOT / "dashboard" / "assets"

# Debian package -> a command it provides (present = installed)
TEST_PACKAGES = {
    "chromium": "chromium",
    "chromium-driver": "chromedriver",
    "redis-server": "redis-server",
}


INSTALL_JAVA = "install a Java 17 runtime (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)"
INSTALL_MAVEN = "install Maven (Debian/Ubuntu: apt-get install maven)"


class ProvisionError(RuntimeError):
    """A prerequisite is missing and cannot be installed here; the message says what to do."""


class MissingPrerequisite(ProvisionError):
    """A tool we cannot install ourselves (``java``, ``mvn``, ``npm``) is not on PATH."""


def say(message: str) -> None:
    print(f"[clickloop setup] {message}", file=sys.stderr, flush=True)


def ensure_snippet() -> Path:
    """``npm ci`` when the lock changed, then build ``clickloop.min.js`` when sources changed."""
    if not (SNIPPET_DIR / "package.json").exists():
        raise ProvisionError(f"{SNIPPET_DIR}/package.json is missing")
    npm = _npm_ci(SNIPPET_DIR, "the snippet's")
    built = SNIPPET_DIR / "dist" / "clickloop.min.js"
    build_stamp = SNIPPET_DIR / "dist" / ".clickloop-src-sha256"
    sources = [*sorted((SNIPPET_DIR / "src").rglob("*.js")), SNIPPET_DIR / "package.json"]
    src_hash = _digest(sources)
    if not built.exists() or not build_stamp.exists() or build_stamp.read_text() != src_hash:
        say("building the snippet (npm run build)")
        _run([npm, "run", "--silent", "build"], cwd=SNIPPET_DIR)
        build_stamp.write_text(src_hash)
    return built


def ensure_dashboard_assets() -> Path:
    """``npm ci`` for the dashboard's charting library (served locally, never from a CDN)."""
    if not (DASHBOARD_ASSETS_DIR / "package.json").exists():
        raise ProvisionError(f"{DASHBOARD_ASSETS_DIR}/package.json is missing")
    _npm_ci(DASHBOARD_ASSETS_DIR, "the dashboard's")
    return DASHBOARD_ASSETS_DIR / "node_modules"


def _npm_ci(folder: Path, whose: str) -> str:
    """``npm ci`` in ``folder`` unless its lock file is what was installed last; returns npm."""
    npm = shutil.which("npm")
    if npm is None:
        raise MissingPrerequisite(
            "npm not found: install Node.js 20+ (Debian: apt-get install npm)")
    modules = folder / "node_modules"
    lock_stamp = modules / ".clickloop-lock-sha256"
    lock_hash = _digest([folder / "package-lock.json"])
    if not lock_stamp.exists() or lock_stamp.read_text() != lock_hash:
        say(f"installing {whose} npm packages (npm ci)")
        _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder)
        lock_stamp.write_text(lock_hash)
    return npm


def ensure_debian_packages(packages: dict[str, str] = TEST_PACKAGES) -> None:
    """Install missing Debian packages (as root, with apt-get); explain what to do otherwise."""
    missing = [name for name, command in packages.items() if not _have(command)]
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise ProvisionError(
            "missing system packages: " + " ".join(missing)
            + " — install them (Debian/Ubuntu: sudo apt-get install -y " + " ".join(missing) + ")"
        )
    say("installing Debian packages: " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-qq"], env=env)
    _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


def require_java() -> str:
    """The ``java`` executable, or :class:`MissingPrerequisite` saying how to install one."""
    java = shutil.which("java")
    if java is None:
        raise MissingPrerequisite(f"java not found on PATH: {INSTALL_JAVA}.")
    return java


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` for the block: two processes (a test run and a CLI
    call) never fetch into, or start from, the same folder at once."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tail(text: str, lines: int = 25) -> str:
    """The last ``lines`` lines of a tool's output, for an error message."""
    return "\n".join(text.strip().splitlines()[-lines:])


def _have(command: str) -> bool:
    if shutil.which(command):
        return True
    # redis-server lives in /usr/bin, chromedriver too; PATH may be trimmed in CI
    return any(Path(d, command).exists() for d in ("/usr/bin", "/usr/sbin", "/usr/local/bin"))


def _digest(paths: Iterable[Path]) -> str:
    sha = hashlib.sha256()
    for path in paths:
        if path.exists():
            sha.update(path.name.encode())
            sha.update(path.read_bytes())
    return sha.hexdigest()


def _run(command: list[str], **kwargs: object) -> None:
    result = subprocess.run(command, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise ProvisionError(f"`{' '.join(command)}` failed with exit code {result.returncode}")
