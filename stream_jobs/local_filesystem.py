"""Hadoop's ``file:`` file system without a ``chmod`` process per file (``stream_jobs/java``).

Spark writes local files through Hadoop's ``RawLocalFileSystem``. Without Hadoop's native
library, which no Maven or PyPI artifact ships, it forks ``chmod`` for every file and directory it
creates. A Parquet file in a new partition costs four forks (the file, its ``.crc``, two
directories), several milliseconds each from a large JVM on 2 cores: 300 partitions took 11.7 s
to write instead of 2.8 s, and the write step of a 400-day, 1M-line log ~10 s more. Our
subclass sets the same permissions through ``java.nio``.

It is compiled here, once per source and Hadoop version, with the JDK's ``javac``. It is used
only where we start the JVM on this machine (a ``local`` master): a cluster's executors would
need the jar on their own class path. Without ``javac`` the jobs run on Hadoop's own class,
slower but the same.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

SOURCES = Path(__file__).resolve().parent / "java"
FILE_SYSTEM = "clickloop.hadoop.ShellFreeLocalFileSystem"
ABSTRACT_FILE_SYSTEM = "clickloop.hadoop.ShellFreeLocalFs"
SUBDIR = "local-fs"

log = logging.getLogger(__name__)


def hadoop_conf(jar: Path) -> dict[str, str]:
    """The Spark configuration that puts ``jar`` on the driver's class path and makes its
    classes the ``file:`` file systems (FileSystem and FileContext users alike)."""
    return {
        "spark.driver.extraClassPath": str(jar),
        "spark.hadoop.fs.file.impl": FILE_SYSTEM,
        "spark.hadoop.fs.AbstractFileSystem.file.impl": ABSTRACT_FILE_SYSTEM,
    }


def hadoop_jars() -> list[Path]:
    """The Hadoop API jars of the installed PySpark (what the classes compile against)."""
    import pyspark

    return sorted((Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar"))


def jar_name(sources: list[Path], hadoop: list[Path]) -> str:
    """A name that changes when a source or the Hadoop version does."""
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for jar in hadoop:
        digest.update(jar.name.encode() + b"\0")
    return f"clickloop-local-fs-{digest.hexdigest()[:16]}.jar"


def ensure_jar(jars_dir: Path) -> Path | None:
    """The compiled jar under ``<jars_dir>/local-fs`` (compiled on first use, ~2 s); None when
    there is no ``javac`` or no Hadoop jar to compile against, or compiling fails (logged)."""
    sources = sorted(SOURCES.rglob("*.java"))
    hadoop = hadoop_jars()
    javac = shutil.which("javac")
    if not sources or not hadoop or javac is None:
        log.warning("no javac or Hadoop jar: Spark writes local files with Hadoop's own "
                    "file system (a chmod process per file)")
        return None
    target = Path(jars_dir) / SUBDIR / jar_name(sources, hadoop)
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as work:
            classes = Path(work) / "classes"
            result = subprocess.run(
                [javac, "--release", "17", "-nowarn", "-cp", os.pathsep.join(map(str, hadoop)),
                 "-d", str(classes), *map(str, sources)],
                capture_output=True, text=True, timeout=300,
            )
            if result.returncode != 0:
                log.warning("compiling %s failed: %s", SOURCES, result.stderr[-2000:])
                return None
            staged = Path(work) / target.name
            with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as jar:
                for path in sorted(classes.rglob("*.class")):
                    jar.write(path, path.relative_to(classes).as_posix())
            os.replace(staged, target)  # atomic: a concurrent compile writes the same bytes
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("could not build %s: %s", target, exc)
        return None
    return target
