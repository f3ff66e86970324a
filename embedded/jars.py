"""Jars from Maven Central: the Kafka broker's and Spark's Kafka connector's.

Neither is on PyPI, so ``embedded/pom.xml`` names them and Maven copies each profile's jars into
``<jars_dir>/<profile>`` once; a stamp with the pom's hash makes later calls free and re-fetches
when the pom changes.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from embedded.provision import (
    INSTALL_MAVEN,
    MissingPrerequisite,
    ProvisionError,
    locked,
    require_java,
    tail,
)
from tracker.settings import Settings

POM = Path(__file__).resolve().parent / "pom.xml"
JAR_PROFILES = ("kafka", "spark-kafka")  # pom profile = sub-directory of jars_dir


def jar_dir(settings: Settings, profile: str) -> Path:
    """Where the pom's ``profile`` copies its jars (``<jars_dir>/kafka``, ``.../spark-kafka``)."""
    return Path(settings.jars_dir) / profile


def ensure_jars(settings: Settings, profiles: Iterable[str] = JAR_PROFILES) -> dict[str, Path]:
    """Copy each profile's jars with Maven unless a stamp says this pom already did.

    The stamp holds the pom's hash, so editing a version in the pom re-fetches on next use.
    A lock keeps two processes (a test run and a CLI call) from copying into the same dir.
    """
    pom_hash = hashlib.sha256(POM.read_bytes()).hexdigest()
    out: dict[str, Path] = {}
    for profile in profiles:
        target = jar_dir(settings, profile)
        out[profile] = target
        stamp = target / ".clickloop-pom-sha256"
        if _stamp_ok(stamp, pom_hash):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with locked(target.parent / f".{profile}.lock"):
            if _stamp_ok(stamp, pom_hash):
                continue
            _fetch(profile, target, Path(settings.jars_dir))
            stamp.write_text(pom_hash)
    return out


def _stamp_ok(stamp: Path, pom_hash: str) -> bool:
    return stamp.exists() and stamp.read_text().strip() == pom_hash


def _fetch(profile: str, target: Path, jars_dir: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MissingPrerequisite(
            f"mvn not found on PATH: {INSTALL_MAVEN}. It fetches the {profile} jars from Maven "
            f"Central into {target} once."
        )
    require_java()  # Maven itself needs Java; say so rather than let mvn fail obscurely
    if target.exists():
        shutil.rmtree(target)  # a stale pom's jars must not linger next to the new ones
    command = [
        mvn, "-B", "-q", "-f", str(POM), "-P", profile, f"-Djars.dir={jars_dir.resolve()}",
        "dependency:copy-dependencies",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not any(target.glob("*.jar")):
        raise ProvisionError(
            f"fetching the {profile} jars with Maven failed (exit code {result.returncode}); "
            f"is Maven Central reachable? Command: {' '.join(command)}\n"
            + tail(result.stdout + result.stderr)
        )
