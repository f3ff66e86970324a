"""Build the SparkSession every job uses, from :class:`tracker.settings.Settings`.

One place decides master, memory, shuffle partitions, time zone and jars, so a job moves from
``local[*]`` to a cluster by configuration alone. When a job is launched by ``spark-submit``,
spark-submit already owns the master and driver memory; we then leave them alone instead of
overriding what the operator typed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stream_jobs.local_filesystem import ensure_jar, hadoop_conf
from tracker.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

KAFKA_JARS_SUBDIR = "spark-kafka"
# Driver JVM options for a short job (a CLI call on a small input, seconds of work): the JIT's
# optimising compiler (C2) then burns more CPU than the job gains from it (measured on a 10,000-line
# log: 18 s of the JVM's 33 s of CPU, on 2 cores), and one serial GC thread suits a small heap.
SHORT_JOB_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# Whole-stage code generation can write a method over HotSpot's 8,000-byte limit for JIT
# compilation (the log parser's line pass: 8,716 bytes), which the JVM then interprets for every
# row. Compiling it anyway took that pass over 1M lines from 42-46 s to 31 s; a short job loses
# ~1-2 s to it (C1 compiling methods it runs for a few thousand rows), so it is left out there.
COMPILE_HUGE_METHODS = "-XX:-DontCompileHugeMethods"
# Any other job we start: the throughput collector instead of G1, whose concurrent work competes
# with the tasks for the 2 cores (sessionizing 2 million events: 27-29 s instead of 32-33 s cold,
# 13-14 s instead of 15-17 s warm, runs interleaved). A job's pauses do not matter; its total does.
BATCH_JAVA_OPTIONS = f"-XX:+UseParallelGC {COMPILE_HUGE_METHODS}"
# A cluster's executors run the generated code of every job
EXECUTOR_JAVA_OPTIONS = f"-Duser.timezone=UTC {COMPILE_HUGE_METHODS}"


def kafka_jars(jars_dir: Path) -> list[Path]:
    """Spark's Kafka connector jars copied by Maven (``<jars_dir>/spark-kafka/*.jar``), sorted."""
    folder = jars_dir / KAFKA_JARS_SUBDIR
    return sorted(folder.glob("*.jar")) if folder.is_dir() else []


def spark_conf(
    settings: Settings,
    *,
    under_spark_submit: bool = False,
    ui: bool = False,
    short_job: bool = False,
    local_fs_jar: Path | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The Spark configuration for ``settings`` as plain strings (pure, so it is testable).

    The session time zone is UTC because every timestamp in the contract is UTC and event dates
    (the lake's partitions) must not depend on the machine a job runs on. Partition overwrite is
    dynamic so a job replaces exactly the partitions it writes. The driver JVM gets
    :data:`SHORT_JOB_JAVA_OPTIONS` for a ``short_job``, else :data:`BATCH_JAVA_OPTIONS` (only when
    we start it, not under spark-submit). ``local_fs_jar`` (:mod:`stream_jobs.local_filesystem`)
    replaces Hadoop's ``file:`` file system on a local master that we start; a class path the
    caller adds in ``extra`` keeps it.
    """
    spark = settings.spark
    driver_java = "-Duser.timezone=UTC"
    if not under_spark_submit:
        driver_java += " " + (SHORT_JOB_JAVA_OPTIONS if short_job else BATCH_JAVA_OPTIONS)
    conf: dict[str, str] = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(spark.shuffle_partitions),
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.ui.enabled": "true" if ui else "false",
        # jobs run unattended (DAG tasks, the demo's streaming job): progress bars only fill logs
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": driver_java,
        "spark.executor.extraJavaOptions": EXECUTOR_JAVA_OPTIONS,
        # Arrow makes toPandas/pandas UDFs (log enrichment, report tables) fast
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if not under_spark_submit:
        conf["spark.master"] = spark.master
        conf["spark.driver.memory"] = spark.driver_memory
    jars = kafka_jars(settings.jars_dir)
    if jars:
        conf["spark.jars"] = ",".join(str(j) for j in jars)
    if local_fs_jar is not None and _starts_local_jvm(settings, under_spark_submit):
        conf.update(hadoop_conf(local_fs_jar))
    extra = dict(extra or {})
    if "spark.driver.extraClassPath" in conf and "spark.driver.extraClassPath" in extra:
        extra["spark.driver.extraClassPath"] = os.pathsep.join(
            [conf["spark.driver.extraClassPath"], extra["spark.driver.extraClassPath"]])
    conf.update(extra)
    return conf


def build_spark(
    settings: Settings,
    app_name: str,
    *,
    under_spark_submit: bool = False,
    ui: bool = False,
    short_job: bool = False,
    extra: Mapping[str, str] | None = None,
) -> SparkSession:
    """Get or create the SparkSession for a job (the only place a job starts Spark);
    ``short_job``: see :func:`spark_conf`."""
    from pyspark.sql import SparkSession

    if not under_spark_submit:
        # Python workers (pandas UDFs) must run this interpreter, the one with our packages;
        # PySpark reads only the environment for it. An operator's choice is kept.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    local_fs_jar = None
    if settings.spark.local_fs and _starts_local_jvm(settings, under_spark_submit):
        local_fs_jar = ensure_jar(settings.jars_dir)  # only compiled where it will be used
    conf = spark_conf(
        settings, under_spark_submit=under_spark_submit, ui=ui, short_job=short_job,
        local_fs_jar=local_fs_jar, extra=extra,
    )
    if settings.spark.class_archive and not under_spark_submit:
        archive = _class_archive(settings, conf["spark.driver.extraJavaOptions"],
                                 conf.get("spark.driver.extraClassPath", ""))
        if archive:
            conf["spark.driver.extraJavaOptions"] += " " + archive
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


def _starts_local_jvm(settings: Settings, under_spark_submit: bool) -> bool:
    """Whether we start the one JVM that is driver and executors alike (the only place our
    ``file:`` file system's jar is on the class path)."""
    return not under_spark_submit and settings.spark.master.startswith("local")


def _class_archive(settings: Settings, java_options: str, class_path: str = "") -> str | None:
    """Driver options that map (or, the first time, write) the class archive of this
    installation (:mod:`stream_jobs.class_archive`); None when there is no java to key it on or
    no place to keep it. The driver's extra ``class_path`` is part of the key: an archive only
    maps into a JVM with the class path it was written with."""
    import shutil
    import subprocess
    import time

    import pyspark

    from stream_jobs.class_archive import archive_key, archive_options, pick, trial_command

    # the java on PATH, as our other JVMs use (were JAVA_HOME to name another build, that JVM
    # would ignore the archive, not crash on it: builds are checked, lengths are not)
    java = shutil.which("java")
    directory = Path(settings.jars_dir) / "cds"
    try:
        java_file = Path(java).resolve(strict=True) if java else None
        if java_file is None:
            return None
        directory.mkdir(parents=True, exist_ok=True)
        jars = [f"{j.name}:{j.stat().st_size}" for j in kafka_jars(settings.jars_dir)]
        jars.append(f"class-path:{class_path}")
        key = archive_key(pyspark.__version__, f"{java_file}:{java_file.stat().st_mtime_ns}",
                          java_options, jars)

        def survives(archive: Path) -> bool:
            try:
                return subprocess.run(trial_command(str(java_file), archive), cwd=directory,
                                      capture_output=True, timeout=60).returncode == 0
            except subprocess.TimeoutExpired:
                return False

        existing, new = pick(directory, key, time.time(), survives)
    except OSError:
        return None
    return archive_options(existing, new)


def launched_by_spark_submit(environ: Mapping[str, str]) -> bool:
    """True when spark-submit started this Python process (it then owns master and memory)."""
    return "PYSPARK_GATEWAY_PORT" in environ


def run_job(settings: Settings, app_name: str,
            job: Callable[[SparkSession], Mapping[str, Any]]) -> int:
    """A batch job's ``main`` tail: one session (client mode under spark-submit), ``job`` run
    with it, the session stopped even on failure, and the summary printed as the last stdout
    line (the JSON line the DAG tasks and the demo read)."""
    import json

    spark = build_spark(settings, app_name, under_spark_submit=launched_by_spark_submit(os.environ))
    try:
        summary = job(spark)
    finally:
        spark.stop()
    print(json.dumps(summary), flush=True)
    return 0
