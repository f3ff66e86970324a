"""Hadoop's ``file:`` file system without a chmod process per file: compiled with the real
``javac``, configured for local masters only, and used by the shared real SparkSession, which
writes files and directories with the same permissions as Hadoop's own class."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest

from stream_jobs import local_filesystem
from stream_jobs.local_filesystem import ABSTRACT_FILE_SYSTEM, FILE_SYSTEM, ensure_jar, hadoop_conf
from stream_jobs.spark_session import spark_conf


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_the_jar_is_compiled_once_and_names_its_sources(tmp_path: Path) -> None:
    jar = ensure_jar(tmp_path)
    assert jar is not None and jar.parent == tmp_path / local_filesystem.SUBDIR
    import zipfile

    with zipfile.ZipFile(jar) as archive:
        names = set(archive.namelist())
    assert {f"{name.replace('.', '/')}.class" for name in (FILE_SYSTEM, ABSTRACT_FILE_SYSTEM)
            } <= names
    built = jar.stat().st_mtime_ns
    assert ensure_jar(tmp_path) == jar and jar.stat().st_mtime_ns == built  # not rebuilt
    # another source (or Hadoop version) is another jar, never a stale one
    sources = sorted(local_filesystem.SOURCES.rglob("*.java"))
    assert local_filesystem.jar_name(sources, local_filesystem.hadoop_jars()) == jar.name
    assert local_filesystem.jar_name(sources[1:], local_filesystem.hadoop_jars()) != jar.name


def test_without_javac_or_with_a_broken_source_jobs_keep_hadoops_class(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(local_filesystem.shutil, "which", lambda name: None)
    assert ensure_jar(tmp_path / "a") is None
    assert "no javac" in caplog.text
    monkeypatch.undo()
    broken = tmp_path / "src" / "clickloop" / "hadoop"
    broken.mkdir(parents=True)
    (broken / "Broken.java").write_text("package clickloop.hadoop; class Broken { int x = ; }")
    monkeypatch.setattr(local_filesystem, "SOURCES", tmp_path / "src")
    assert ensure_jar(tmp_path / "b") is None
    assert "Broken.java" in caplog.text
    assert not list((tmp_path / "b" / local_filesystem.SUBDIR).glob("*.jar"))


def test_only_a_local_master_that_we_start_gets_the_class(spark_settings, tmp_path) -> None:
    jar = tmp_path / "fs.jar"
    conf = spark_conf(spark_settings, local_fs_jar=jar)
    assert {k: conf[k] for k in hadoop_conf(jar)} == hadoop_conf(jar)
    assert conf["spark.driver.extraClassPath"] == str(jar)
    # a class path the caller adds keeps ours in front
    conf = spark_conf(spark_settings, local_fs_jar=jar,
                      extra={"spark.driver.extraClassPath": "/opt/x.jar"})
    assert conf["spark.driver.extraClassPath"] == f"{jar}{os.pathsep}/opt/x.jar"
    # a cluster's executors would not have the jar; spark-submit already started the JVM
    cluster = dataclasses.replace(spark_settings, spark=dataclasses.replace(
        spark_settings.spark, master="spark://spark-master:7077"))
    for conf in (spark_conf(cluster, local_fs_jar=jar),
                 spark_conf(spark_settings, local_fs_jar=jar, under_spark_submit=True),
                 spark_conf(spark_settings)):
        assert "spark.hadoop.fs.file.impl" not in conf
        assert "spark.driver.extraClassPath" not in conf


@pytest.mark.spark
def test_spark_writes_through_it_with_hadoops_permissions(spark, tmp_path) -> None:
    jvm = spark.sparkContext._jvm
    hadoop_conf_ = spark.sparkContext._jsc.hadoopConfiguration()
    fs = jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), hadoop_conf_)
    assert fs.getClass().getName() == FILE_SYSTEM
    context = jvm.org.apache.hadoop.fs.FileContext.getFileContext(
        jvm.java.net.URI("file:///"), hadoop_conf_)
    assert context.getDefaultFileSystem().getClass().getName() == ABSTRACT_FILE_SYSTEM

    from pyspark.sql import functions as F

    out = tmp_path / "out"
    frame = spark.range(60).withColumn("day", F.col("id") % 3)
    frame.write.partitionBy("day").parquet(str(out))
    assert spark.read.parquet(str(out)).count() == 60
    mask = _umask()
    for path in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o777 if path.is_dir() else 0o666) & ~mask, (path, oct(mode))

    # explicit permissions, as a job or a committer sets them
    target = tmp_path / "explicit"
    target.mkdir()
    permission = jvm.org.apache.hadoop.fs.permission.FsPermission
    hadoop_path = jvm.org.apache.hadoop.fs.Path(str(target))
    for mode in (0o640, 0o750, 0o700, 0o1777):  # the sticky bit goes through chmod
        fs.setPermission(hadoop_path, permission(mode))
        assert stat.S_IMODE(target.stat().st_mode) == mode
