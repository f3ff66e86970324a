"""A class-data-sharing (CDS) archive for the Spark driver JVMs we start.

At every start a driver JVM loads and verifies thousands of Spark classes from a few hundred
jars: seconds of a short job's time on 2 cores (``clickloop logs parse`` of a 10,000-line log
spent 5.6 s starting Spark). The JVM can instead map classes it loaded before from one archive
file. The first JVM of an installation (one pyspark, one java, one jar set, one set of driver
options) writes that archive as it exits (``-XX:ArchiveClassesAtExit``, a few seconds, once);
every later one maps it (``-XX:SharedArchiveFile``). Measured on that log, runs interleaved:
17.2-17.6 s end to end without, 13.0-13.5 s with (Spark start 5.5 -> 3.8 s; the parse itself
loads classes too).

The JVM ignores an archive made for another build or class path, but it crashes (SIGBUS) on
one cut short, as a JVM killed while writing it would leave. So a new archive is used only
after a trial: a bare ``java -version`` that maps it (a crash shows there, in a fraction of a
second, once), after which it gets its final name. Its messages are turned off: the driver's
stdout carries the jobs' JSON summary lines.

Writers never share a file: each first JVM writes its own ``spark-<key>-<random>.jsa``; the
first one that passes its trial becomes ``spark-<key>.jsa``, and the others are removed.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

QUIET = "-Xlog:cds=off,cds+dynamic=off"
SETTLE_S = 15.0  # an archive written to in the last seconds may still be being written
MIN_BYTES = 1 << 20  # Spark's classes take ~170 MB; anything this small is no archive


def archive_key(pyspark_version: str, java: str, java_options: str, jars: Sequence[str]
                ) -> str:
    """What an archive is valid for, as a short hash: a change of any part makes a new one."""
    text = "\n".join([pyspark_version, java, java_options, *jars])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def archive_options(existing: Path | None, new: Path) -> str:
    """Driver JVM options: map ``existing``, or write ``new`` at exit when there is none yet."""
    if existing is not None:
        return f"-XX:SharedArchiveFile={existing} {QUIET}"
    return f"-XX:ArchiveClassesAtExit={new} {QUIET}"


def trial_command(java: str, archive: Path) -> list[str]:
    """A JVM that only maps ``archive`` and exits: non-zero if the archive would crash one."""
    return [java, f"-XX:SharedArchiveFile={archive}", *QUIET.split(),
            "-XX:-CreateCoredumpOnCrash", "-XX:ErrorFile=/dev/null", "-version"]


def pick(directory: Path, key: str, now: float, trial: Callable[[Path], bool]
         ) -> tuple[Path | None, Path]:
    """(the archive to map, if a sound one exists; a fresh name to write one to).

    ``trial(path)`` says whether a JVM survives mapping ``path``; it runs once per new
    archive, the oldest finished one first (untouched for :data:`SETTLE_S`). The first that
    passes is renamed ``spark-<key>.jsa``; those that fail, and the other finished ones (JVMs
    that started before there was a named one each write one, ~170 MB each), are removed. A JVM
    that maps a removed file keeps its mapping.
    """
    final = directory / f"spark-{key}.jsa"
    fresh = directory / f"spark-{key}-{uuid.uuid4().hex}.jsa"
    finished = []
    for path in directory.glob(f"spark-{key}-*.jsa"):
        try:
            stat = path.stat()
        except OSError:  # removed meanwhile
            continue
        if now - stat.st_mtime >= SETTLE_S:
            finished.append((stat.st_mtime, path.name, stat.st_size, path))
    # JVMs started before the archive was named still write theirs as they exit
    chosen = final if final.is_file() else None
    for _mtime, _name, size, path in sorted(finished):
        if chosen is None and size >= MIN_BYTES and trial(path):
            os.replace(path, final)
            chosen = final
        else:
            path.unlink(missing_ok=True)
    return chosen, fresh
