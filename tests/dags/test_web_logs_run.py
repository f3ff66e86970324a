"""``web_logs`` for real: ``dag.test()`` in a child process with a temporary AIRFLOW_HOME and a
migrated SQLite metadata DB, Spark jobs launched by the DAG's own tasks, on a landing folder.

One scenario, three DAG runs, every Spark job the DAG has run once or twice (each job is a JVM
of its own, so the checks share runs rather than each paying for new ones): the shared sample
log lands next to a file of only bad lines, binary garbage and a gzip cut in half; the first
run dies after ``parse_logs``; the next hour's run takes the claims over and finishes through
``spark-submit``; that interval run once more changes nothing.

Expected numbers were counted by hand from the shared sample log (a standalone script and awk
over the file, independent of the parser; the parse job's own tests cross-check the counts):

- 10,000 lines: 3,770 page views (GET, status 200/304, page or no extension), 5,948 static
  requests, 281 filtered (other methods/statuses), 1 reject (line 8,899 is cut off inside its
  user agent);
- page views per UTC day: 17 May 680, 18 May 1,245, 19 May 995, 20 May 850;
- sessions (visitor = /24 network + user agent, > 30 min inactivity or a new UTM campaign
  starts one, dated by their first event): 352, 641, 588 and 525 = 2,106.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dags.conftest import ROOT, RunResult, airflow_env, run_runner
from tests.stream_jobs.logs.test_parsing import independent_counts

pytestmark = [pytest.mark.airflow, pytest.mark.spark]

SAMPLE = ROOT.parent / "shared" / "data" / "logs" / "apache_combined_sample.log"
SAMPLE_SHA = "f15c31e905f86c7b4b6ab44aee74d0a2086dce89f010187d983edea7ef0364ef"
EVENTS_PER_DATE = {"2015-05-17": 680, "2015-05-18": 1245, "2015-05-19": 995, "2015-05-20": 850}
SESSIONS_PER_DATE = {"2015-05-17": 352, "2015-05-18": 641, "2015-05-19": 588, "2015-05-20": 525}
# the reports job's own tests cover every report kind: here the DAG builds one, through its
# ``reports`` param (which the test checks is honoured)
REPORTS = ["traffic"]
# the traffic report's tables, one CSV each (stream_jobs/reports/traffic.py)
TRAFFIC_CSVS = ["daily.csv", "entry_pages.csv", "exit_pages.csv", "people.csv", "referrers.csv",
                "sources.csv", "summary.csv", "top_pages.csv"]
ODD_LINES = [  # readable, but nothing in it is a page view: only line rejects come out
    b'10.1.2.3 - - [17/May/2015:10:00:00 +0000] "GET /style.css HTTP/1.1" 200 10 "-" "curl/8"',
    b'10.1.2.3 - - [17/May/2015:10:00:01 +0000] "POST /login HTTP/1.1" 200 10 "-" "curl/8"',
    b"\x00\x01\x02 binary noise \xff\xfe",
    b'10.1.2.3 - - [17/May/2015:10:00:02 +0000] "GET /logo.png HTTP/1.1" 200 10 "-" "curl/8"',
    b'10.1.2.3 - - [17/May/2015:10:00:03 +0000] "GET /cut-off',
]
GARBAGE = bytes(range(256)) * 8  # binary garbage: no known log format
HOUR_1 = "2025-06-02T10:00:00+00:00"
HOUR_2 = "2025-06-02T11:00:00+00:00"


def ingest_of(name: str, content_sha256: str) -> str:
    """The parse job's partition name: log-<12 hex of sha256("<name>\\0<content sha256>")>."""
    return "log-" + hashlib.sha256(f"{name}\0{content_sha256}".encode()).hexdigest()[:12]


@dataclass
class Pipeline:
    """One landing folder, archive, lake and Airflow home, and a way to run the DAG on them."""

    home: Path
    state: Path

    @property
    def landing(self) -> Path:
        return self.state / "landing"

    @property
    def archive(self) -> Path:
        return self.state / "archive"

    @property
    def lake(self) -> Path:
        return self.state / "lake"

    def run(self, logical_date: str, *, conf: dict | None = None, mark_success: str | None = None,
            env: dict | None = None) -> RunResult:
        args = ["test", "web_logs", "--logical-date", logical_date,
                "--conf", json.dumps({"min_age_seconds": 0, **(conf or {})})]
        if mark_success:
            args += ["--mark-success", mark_success]
        return run_runner(args, airflow_env(self.home, {
            "CLICKLOOP_STATE_DIR": str(self.state),
            "CLICKLOOP_SPARK_MASTER": "local[2]",
            "CLICKLOOP_SPARK_DRIVER_MEMORY": "1g",
            "CLICKLOOP_SPARK_SHUFFLE_PARTITIONS": "2",
            **(env or {}),
        }), timeout=900)


@pytest.fixture
def pipeline(tmp_path: Path, airflow_home: Path) -> Pipeline:
    pipe = Pipeline(home=airflow_home, state=tmp_path / "state")
    pipe.landing.mkdir(parents=True)
    return pipe


def rows_by(parquet_dir: Path, *columns: str) -> dict:
    """Row counts per partition value(s) of a hive-partitioned Parquet table (DuckDB)."""
    import duckdb

    if not parquet_dir.is_dir() or next(parquet_dir.rglob("*.parquet"), None) is None:
        return {}
    keys = ", ".join(columns)
    query = (f"SELECT {keys}, count(*) FROM read_parquet('{parquet_dir}/**/*.parquet', "
             f"hive_partitioning = true) GROUP BY ALL ORDER BY ALL")
    return {tuple(str(v) for v in row[:-1]) if len(columns) > 1 else str(row[0]): row[-1]
            for row in duckdb.sql(query).fetchall()}


def json_records(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.rglob("*.json"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def snapshot(*folders: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``folders``: size, modification time and content hash."""
    files = {}
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = path.stat()
            files[str(path)] = (stat.st_size, stat.st_mtime_ns,
                                hashlib.sha256(path.read_bytes()).hexdigest())
    return files


def report_seconds(*runs: RunResult) -> None:
    """Print how long each task took (seen with ``-s``; never asserted)."""
    for n, run in enumerate(runs, 1):
        print(f"\n[airflow] run {n}: " + ", ".join(
            f"{task} {seconds:.0f} s" for task, seconds in run.result.get("seconds", {}).items()))


def drop_files(landing: Path) -> int:
    """The sample and three bad files in the landing folder; returns how many lines the cut
    gzip's content had before the cut."""
    shutil.copy(SAMPLE, landing / "access.log")
    (landing / "odd.log").write_bytes(b"\n".join(ODD_LINES) + b"\n")
    (landing / "garbage.log").write_bytes(GARBAGE)
    member = gzip.compress(SAMPLE.read_bytes()[:20000])
    (landing / "cut.log.gz").write_bytes(member[: len(member) // 2])  # cut short half-way
    return gzip.decompress(member).count(b"\n")


def assert_lake_after_parse(pipe: Pipeline, run: RunResult, cut_lines: int) -> None:
    """Exactly the sample's page views, and one reject per bad line or unusable file."""
    ingest = ingest_of("access.log", SAMPLE_SHA)
    assert rows_by(pipe.lake / "events", "event_date", "ingest") == {
        (day, ingest): n for day, n in EVENTS_PER_DATE.items()}, str(run)
    rejects = json_records(pipe.lake / "rejects" / "logs")
    got = sorted(((r["file"], r["line"], r["reason"].split(":")[0]) for r in rejects),
                 key=lambda r: (r[0], r[1] or 0))
    cut_line = next(r["line"] for r in rejects if r["file"] == "cut.log.gz")
    assert 1 < cut_line <= cut_lines
    assert got == [
        ("access.log", 8899, "not a combined log line"),
        ("cut.log.gz", cut_line, "corrupt gzip file, cannot decompress"),
        ("garbage.log", None, "not a known access log format"),
        ("odd.log", 3, "not valid UTF-8 text (binary data?)"),
        ("odd.log", 5, "not a combined log line"),
    ], str(run)
    garbage_ingest = ingest_of("garbage.log", hashlib.sha256(GARBAGE).hexdigest())
    assert (pipe.lake / "rejects" / "logs" / f"ingest={garbage_ingest}").is_dir()


@pytest.mark.timeout(1800)  # four Spark jobs on the sample: minutes on a busy 2-core machine
def test_web_logs_end_to_end_recovers_rejects_and_reruns_without_changes(pipeline: Pipeline):
    cut_lines = drop_files(pipeline.landing)

    # run 1 dies half-way: unusable files set aside, the events and rejects written, then
    # nothing after parse_logs runs
    first = pipeline.run(HOUR_1, mark_success="sessionize|build_reports|archive_files")
    assert first.result.get("state") == "success", str(first)
    assert "claimed access.log (2370789 bytes" in first.output
    assert ("REJECTED garbage.log: not a known access log format: garbage.log: the first "
            in first.output)
    assert "REJECTED cut.log.gz: corrupt gzip file, cannot decompress: the data ends before " \
           "the end-of-stream marker (truncated)" in first.output
    assert "2 file(s) to parse" in first.output
    assert_lake_after_parse(pipeline, first, cut_lines)
    assert not (pipeline.lake / "sessions").exists()  # sessionize never ran
    # still claimed, never archived; the unusable ones are out of the way for good
    assert sorted(os.listdir(pipeline.landing)) == ["access.log", "odd.log"]

    # run 2, an hour later, through spark-submit, takes the claims over and processes the
    # files again: no duplicate events or rejects
    spark_submit = str(Path(sys.executable).with_name("spark-submit"))
    second = pipeline.run(HOUR_2, conf={"reports": REPORTS},
                          env={"CLICKLOOP_SPARK_SUBMIT": spark_submit})
    assert second.result.get("state") == "success", str(second)
    assert second.result["tasks"] == {
        "resolve_config": "success", "claim_files": "success", "check_files": "success",
        "parse_logs": "success", "sessionize": "success", "build_reports": "success",
        "archive_files": "success",
    }, str(second)
    assert "taking over access.log: claimed by run manual__" in second.output
    assert "taking over odd.log: claimed by run manual__" in second.output
    assert f"{spark_submit} --master 'local[2]'" in second.output  # launched with spark-submit
    # the bot count is recounted independently (plain Python over the sample with the
    # collector's user-agent verdict, as the parse job's own test does): the bot lists move on
    # their own; odd.log adds 5 lines: 2 static, 1 filtered, 2 rejected
    bots = independent_counts(SAMPLE)["bots"]
    assert 1900 < bots < 2400  # ~half the page views of this sample
    assert (f"parsed 10005 lines: 3770 page views ({bots} by bots), 5950 static, 282 filtered, "
            "3 rejected; 3770 events written") in second.output
    assert_lake_after_parse(pipeline, second, cut_lines)
    assert rows_by(pipeline.lake / "sessions", "session_date") == SESSIONS_PER_DATE, str(second)
    reports = pipeline.lake / "reports"
    assert sorted(p.name for p in reports.iterdir()) == REPORTS  # only those asked for
    assert {p.relative_to(reports).as_posix() for p in reports.rglob("report.html")} == {
        f"{name}/2015-05-17_2015-05-20/report.html" for name in REPORTS}
    traffic = reports / "traffic" / "2015-05-17_2015-05-20"
    assert sorted(p.name for p in traffic.glob("*.csv")) == TRAFFIC_CSVS
    with (traffic / "daily.csv").open(newline="") as handle:
        assert [row["date"] for row in csv.DictReader(handle)] == list(EVENTS_PER_DATE)
    archived = pipeline.archive / SAMPLE_SHA[:16] / "access.log"
    assert archived.read_bytes() == SAMPLE.read_bytes()
    assert sorted(os.listdir(pipeline.landing)) == []  # every file out, none tried again
    record = json.loads((pipeline.archive / "_manifest" / f"{SAMPLE_SHA}.json").read_text())
    assert (record["state"], record["ingest"], record["archived_to"]) == (
        "done", ingest_of("access.log", SAMPLE_SHA), str(archived))
    states = sorted(json.loads(p.read_text())["state"]
                    for p in (pipeline.archive / "_manifest").glob("*.json"))
    assert states == ["done", "done", "rejected", "rejected"]

    # the same interval again: nothing new to claim, nothing in the lake or archive changes
    before = snapshot(pipeline.lake, pipeline.archive)
    third = pipeline.run(HOUR_2)
    assert third.result.get("state") == "success", str(third)
    assert third.result["tasks"] == {
        "resolve_config": "success", "claim_files": "success", "check_files": "success",
        "parse_logs": "skipped", "sessionize": "skipped", "build_reports": "skipped",
        "archive_files": "skipped",
    }, str(third)
    assert f"no new usable log files in {pipeline.landing}: nothing to parse" in third.output
    assert snapshot(pipeline.lake, pipeline.archive) == before
    report_seconds(first, second, third)
