"""Progress of a long parse (lines, rate, ETA) and the final table of ``clickloop logs parse``."""

from __future__ import annotations

import dataclasses
import io
import re
import time
from types import SimpleNamespace

import pytest
from pyspark.sql import functions as F

from clickloop import cli
from stream_jobs.logs import command as command_logs
from stream_jobs.logs.progress import Progress, estimated_lines, progress_line

LINES = [
    '81.2.69.142 - - [09/Mar/2024:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 5 "-" '
    '"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"',
    '81.2.69.142 - - [09/Mar/2024:10:00:01 +0000] "GET /a.css HTTP/1.1" 200 5 "-" "Firefox"',
    '81.2.69.142 - - [32/Mar/2024:10:00:02 +0000] "GET /b HTTP/1.1" 200 5 "-" "Firefox"',
    'garbage',
    'more garbage',
]


def test_progress_line_estimates_lines_rate_and_time_left():
    assert progress_line("reading", 0.25, 10.0, 1000) == \
        "reading:  25%, ~250 of ~1,000 lines, 25 lines/s, ETA 30 s"
    # compressed input: no line estimate, still the share and the time left
    assert progress_line("writing", 0.5, 4.0, None) == "writing:  50%, ETA 4 s"
    assert progress_line("writing", 1.0, 4.0, None) == "writing: 100%"
    # lines counted by Spark's scans: shown as counted, not estimated
    assert progress_line("reading", 0.4, 10.0, 1000, 400) == \
        "reading:  40%, 400 of ~1,000 lines, 40 lines/s, ETA 15 s"
    # the first rows of a pass: no time left guessed from them
    assert progress_line("reading", 0.0001, 1.0, 1_000_000, 100) == \
        "reading:   0%, 100 of ~1,000,000 lines, 100 lines/s"


def test_estimated_lines_from_sizes_and_sample_line_length():
    plain = SimpleNamespace(path="/x/a.log", size=10_000, line_bytes=100.0)
    other = SimpleNamespace(path="/x/b.log", size=5_000, line_bytes=50.0)
    assert estimated_lines([plain, other]) == 200
    assert estimated_lines([plain, SimpleNamespace(path="/x/c.log.gz", size=1, line_bytes=9.0)]) \
        is None
    assert estimated_lines([SimpleNamespace(path="/x/d.log", size=1, line_bytes=0.0)]) is None


class LaggingTracker:
    """A status tracker that still calls job 1 active after its action returned."""

    def __init__(self) -> None:
        self.active: list[int] = []
        self.jobs = {1: SimpleNamespace(stageIds=[10]), 2: SimpleNamespace(stageIds=[20])}
        self.stages = {10: SimpleNamespace(numTasks=8, numCompletedTasks=7),
                       20: SimpleNamespace(numTasks=4, numCompletedTasks=1)}

    def getActiveJobsIds(self) -> list[int]:  # Spark's camelCase names
        return list(self.active)

    def getJobInfo(self, job_id: int) -> SimpleNamespace:
        return self.jobs[job_id]

    def getStageInfo(self, stage_id: int) -> SimpleNamespace:
        return self.stages[stage_id]


def test_a_step_does_not_report_the_last_steps_jobs():
    tracker = LaggingTracker()
    spark = SimpleNamespace(sparkContext=SimpleNamespace(statusTracker=lambda: tracker))
    progress = Progress(spark, out=io.StringIO())
    progress.step("reading", [])
    assert progress.fraction() is None
    tracker.active = [1]
    assert progress.fraction() == 7 / 8  # job 1 runs in this step
    progress.step("writing", [], 80)
    assert progress.fraction() is None  # job 1 ended with the reading step
    tracker.active = [1, 2]
    assert progress.fraction() == 1 / 4  # only the writing step's own job
    assert progress.lines_done() is None  # no SQL status store here: task shares only


def _when(condition, timeout: float = 60.0):
    """``condition()`` once it holds: Spark's listener bus records a query's end a little
    after the action returns."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.mark.spark
def test_a_step_counts_the_lines_its_queries_scanned(spark, tmp_path):
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text("".join(f"line {i}\n" for i in range(30)))
    second.write_text("".join(f"other {i}\n" for i in range(20)))
    progress = Progress(spark, out=io.StringIO())  # not started: no printing thread
    progress.step("reading", [])
    lines = spark.read.text(str(first)).unionByName(spark.read.text(str(second))).persist()
    try:
        assert lines.count() == 50
        # both files' scans add up
        assert _when(lambda: progress.lines_done() == 50), progress.lines_done()
        progress.step("writing", [], 50)
        assert progress.lines_done() is None  # the reading step's query is not counted again
        lines.where(F.length("value") > 7).write.parquet(str(tmp_path / "out"))
        # a scan of the cached lines counts every line it read, the filtered-out ones too
        assert _when(lambda: progress.lines_done() == 50), progress.lines_done()
    finally:
        lines.unpersist()


@pytest.mark.spark
def test_progress_polls_running_spark_jobs(spark):
    out = io.StringIO()
    files = [SimpleNamespace(path="/x/a.log", size=8_000, line_bytes=100.0)]
    with Progress(spark, out=out, interval=0.05) as progress:
        progress.step("reading", files)
        # 8 tasks of 0.3 s each on 2 cores: long enough to be seen running
        spark.range(8, numPartitions=8).select(
            F.expr("reflect('java.lang.Thread', 'sleep', cast(300 as bigint))")).collect()
        progress.step("writing", files, 80)
    lines = out.getvalue().splitlines()
    running = [line for line in lines if line.startswith("reading: ")]
    assert running, lines
    assert all(re.fullmatch(r"reading: +\d+%, ~[\d,]+ of ~80 lines.*", line) for line in running)
    assert re.fullmatch(r"read 80 lines in [\d.]+ s \([\d,]+ lines/s\)", lines[-1]), lines


@pytest.mark.spark
def test_logs_parse_prints_progress_and_the_final_table(spark, spark_settings, tmp_path,
                                                        capsys):
    log = tmp_path / "site.log"
    log.write_text("\n".join(LINES) + "\n")
    settings = dataclasses.replace(spark_settings, lake_dir=tmp_path / "lake")
    argv = ["logs", "parse", str(log), "--progress-interval", "0.05"]
    assert command_logs.run(cli.build_parser(argv).parse_args(argv), settings) == 0
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert any(re.fullmatch(r"Spark started in [\d.]+ s", line) for line in err), err
    assert any(re.fullmatch(r"read 5 lines in [\d.]+ s \([\d,]+ lines/s\)", line)
               for line in err), err
    out = captured.out.splitlines()
    assert out[1].split() == ["site.log", "5", "1", "1", "0", "0", "3"]
    at = out.index("rejects by reason:")
    assert out[at + 1:at + 3] == ["  2  not a combined log line", "  1  unreadable timestamp"]
    assert re.fullmatch(r"5 lines in [\d.]+ s \([\d,]+ lines/s, Spark start-up not included\)",
                        out[-1]), out
