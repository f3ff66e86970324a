"""The driver JVMs' class-data-sharing archive: chosen and named (pure parts), and written,
mapped and survived when broken by real Spark driver JVMs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stream_jobs.class_archive import (
    MIN_BYTES,
    QUIET,
    SETTLE_S,
    archive_key,
    archive_options,
    pick,
    trial_command,
)

ROOT = Path(__file__).resolve().parents[2]


def test_any_part_of_the_installation_makes_another_key() -> None:
    base = ("4.0.1", "/usr/lib/jvm/java-17/bin/java:1", "-Duser.timezone=UTC", ["a.jar:10"])
    key = archive_key(*base)
    assert key == archive_key(*base)
    assert len(key) == 16
    for changed in (("4.0.2", *base[1:]), (base[0], "/other/java:1", *base[2:]),
                    (*base[:2], "-Duser.timezone=UTC -XX:TieredStopAtLevel=1", base[3]),
                    (*base[:3], ["a.jar:11"]), (*base[:3], [])):
        assert archive_key(*changed) != key


def test_an_existing_archive_is_mapped_else_one_is_written_quietly(tmp_path: Path) -> None:
    old, new = tmp_path / "old.jsa", tmp_path / "new.jsa"
    assert archive_options(old, new) == f"-XX:SharedArchiveFile={old} {QUIET}"
    assert archive_options(None, new) == f"-XX:ArchiveClassesAtExit={new} {QUIET}"
    assert "cds=off" in QUIET  # the driver's stdout carries the jobs' JSON lines


def test_a_finished_archive_is_tried_once_then_kept_under_its_final_name(tmp_path: Path
                                                                         ) -> None:
    now = time.time()
    tried: list[str] = []

    def archive(name: str, age: float, size: int = MIN_BYTES) -> Path:
        path = tmp_path / name
        path.write_bytes(b"x" * size)
        os.utime(path, (now - age, now - age))
        return path

    def trial(path: Path) -> bool:
        tried.append(path.name)
        return "broken" not in path.name

    assert pick(tmp_path, "k1", now, trial)[0] is None  # nothing yet
    young = archive("spark-k1-young.jsa", SETTLE_S / 2)  # may still be being written
    other = archive("spark-k2-a.jsa", 3600)  # another installation's
    small = archive("spark-k1-small.jsa", 3600, 100)
    existing, fresh = pick(tmp_path, "k1", now, trial)
    assert existing is None and tried == []
    assert not small.exists()
    assert fresh.parent == tmp_path and fresh.name.startswith("spark-k1-")
    assert fresh != pick(tmp_path, "k1", now, trial)[1], "every writer gets its own file"

    broken = archive("spark-k1-broken.jsa", 900)  # a JVM was killed while writing it
    archive("spark-k1-sound.jsa", 600)
    twin = archive("spark-k1-twin.jsa", 300)
    existing, _ = pick(tmp_path, "k1", now, trial)
    assert existing == tmp_path / "spark-k1.jsa" and existing.stat().st_size == MIN_BYTES
    assert tried == ["spark-k1-broken.jsa", "spark-k1-sound.jsa"]
    assert not broken.exists() and not twin.exists()
    assert young.exists() and other.exists()

    late = archive("spark-k1-late.jsa", 60)  # from a JVM that started before the naming
    assert pick(tmp_path, "k1", now, trial)[0] == existing  # no second trial
    assert len(tried) == 2
    assert not late.exists(), "a later copy is removed, not kept beside the named archive"
    assert young.exists()


def test_the_trial_is_a_bare_jvm_mapping_the_archive(tmp_path: Path) -> None:
    command = trial_command("/usr/bin/java", tmp_path / "a.jsa")
    assert command[0] == "/usr/bin/java" and command[-1] == "-version"
    assert f"-XX:SharedArchiveFile={tmp_path / 'a.jsa'}" in command
    assert "-XX:ErrorFile=/dev/null" in command  # a crash leaves no hs_err file behind


def _sessionize(tmp_path: Path, jars: Path) -> subprocess.CompletedProcess[str]:
    """A real job in its own driver JVM (nothing to sessionize: the start-up is the point)."""
    env = {**os.environ, "CLICKLOOP_STATE_DIR": str(tmp_path / "state"),
           "CLICKLOOP_LAKE_DIR": str(tmp_path / "lake"), "CLICKLOOP_JARS_DIR": str(jars),
           "CLICKLOOP_SPARK_MASTER": "local[1]", "CLICKLOOP_SPARK_DRIVER_MEMORY": "512m"}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    done = subprocess.run([sys.executable, "-m", "stream_jobs.sessions.job",
                           "--start", "2026-01-01", "--end", "2026-01-01"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1])["job"] == "sessionize"
    for line in (done.stdout + done.stderr).splitlines():
        assert "cds" not in line.lower() and "shared archive" not in line.lower(), line
    return done


def _written(directory: Path, timeout: float = 180.0) -> list[Path]:
    """The archives in ``directory`` once their writers are done (size steady for 3 s)."""
    deadline = time.monotonic() + timeout
    sizes: dict[Path, int] = {}
    while time.monotonic() < deadline:
        now = {p: p.stat().st_size for p in directory.glob("*.jsa")}
        if now and now == sizes and all(now.values()):
            return sorted(now)
        sizes = now
        time.sleep(3)
    raise AssertionError(f"no finished archive in {directory}: {sizes}")


@pytest.mark.spark
def test_a_driver_jvm_writes_the_archive_the_next_maps_and_a_broken_one_is_dropped(
    tmp_path: Path,
) -> None:
    jars = tmp_path / "jars"
    _sessionize(tmp_path, jars)  # writes the archive as its JVM exits
    archives = _written(jars / "cds")
    assert len(archives) == 1
    written = archives[0]
    assert written.stat().st_size > 10_000_000  # Spark's classes, not an empty shell
    settled = time.time() - 2 * SETTLE_S
    os.utime(written, (settled, settled))

    _sessionize(tmp_path, jars)  # tries it, names it, maps it: no second archive written
    time.sleep(5)
    [final] = sorted((jars / "cds").glob("*.jsa"))
    assert final.name.endswith(".jsa") and final.name.count("-") == 1  # spark-<key>.jsa

    # one cut short (a JVM killed while writing it) crashes a JVM that maps it: it must fail
    # its trial and go, and the job run as if there were none
    cut = jars / "cds" / written.name
    shutil.copyfile(final, cut)
    final.unlink()
    with open(cut, "r+b") as out:
        out.truncate(cut.stat().st_size // 2)
    os.utime(cut, (settled, settled))
    assert subprocess.run(trial_command("java", cut), capture_output=True).returncode != 0
    _sessionize(tmp_path, jars)
    assert not cut.exists()
