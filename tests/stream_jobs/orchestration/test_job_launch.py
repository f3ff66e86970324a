"""How the DAGs decide where things are and how jobs are launched: params beat the
``clickloop_spark`` connection, which beats the settings; commands are shell-quoted."""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path

import pytest

from stream_jobs.orchestration.job_launch import (
    LaunchConfigError,
    describe_parse,
    job_command,
    job_summary,
    parse_logs_args,
    report_period,
    reports_args,
    resolve_config,
    touched_range,
)
from tracker.settings import Settings

PY = "/opt/clickloop/bin/python"
APP = "/opt/clickloop/stream_jobs"


@pytest.fixture
def base(tmp_path: Path) -> Settings:
    return Settings.from_env({
        "CLICKLOOP_STATE_DIR": str(tmp_path / "state"),
        "CLICKLOOP_SPARK_MASTER": "local[3]",
        "CLICKLOOP_SPARK_DRIVER_MEMORY": "3g",
    })


def resolve(settings: Settings, params=None, connection=None) -> dict:
    return resolve_config(settings, params or {}, connection, worker_python=PY, app_dir=APP)


def test_settings_are_the_default(base, tmp_path):
    config = resolve(base, {"landing_dir": "", "spark_master": "", "min_age_seconds": None})
    state = tmp_path / "state"
    assert (config["lake"], config["landing"], config["archive"]) == (
        str(state / "lake"), str(state / "landing"), str(state / "archive"))
    assert (config["spark_master"], config["driver_memory"]) == ("local[3]", "3g")
    assert (config["python"], config["spark_submit"], config["min_age_s"]) == (PY, None, 60)
    assert config["env"] == {
        "CLICKLOOP_LAKE_DIR": str(state / "lake"),
        "CLICKLOOP_SPARK_MASTER": "local[3]",
        "CLICKLOOP_SPARK_DRIVER_MEMORY": "3g",
        "CLICKLOOP_STATE_DIR": str(state),
    }
    assert config["sources"]["spark_master"] == "settings"


def test_the_connection_beats_settings_and_params_beat_both(base, tmp_path):
    conn = {"host": "spark://spark-master", "port": 7077,
            "extra": {"driver_memory": "8g", "spark_submit": "/opt/spark/bin/spark-submit"}}
    from_conn = resolve(base, {}, conn)
    assert (from_conn["spark_master"], from_conn["driver_memory"]) == (
        "spark://spark-master:7077", "8g")
    assert from_conn["spark_submit"] == "/opt/spark/bin/spark-submit"
    assert from_conn["sources"]["spark_master"] == "connection clickloop_spark"

    params = {"spark_master": "local[1]", "driver_memory": "1g",
              "lake_dir": str(tmp_path / "other-lake"), "min_age_seconds": 0}
    from_params = resolve(base, params, conn)
    assert (from_params["spark_master"], from_params["driver_memory"]) == ("local[1]", "1g")
    assert from_params["env"]["CLICKLOOP_LAKE_DIR"] == str(tmp_path / "other-lake")
    assert from_params["min_age_s"] == 0
    assert from_params["sources"]["driver_memory"] == "param driver_memory"


def test_job_python_and_spark_submit_come_from_settings(tmp_path):
    settings = Settings.from_env({
        "CLICKLOOP_STATE_DIR": str(tmp_path),
        "CLICKLOOP_JOB_PYTHON": "/venvs/clickloop/bin/python",
        "CLICKLOOP_SPARK_SUBMIT": "/opt/spark/bin/spark-submit",
    })
    config = resolve(settings)
    assert config["python"] == "/venvs/clickloop/bin/python"
    assert config["spark_submit"] == "/opt/spark/bin/spark-submit"


@pytest.mark.parametrize(("landing", "archive"), [
    ("{t}/drop", "{t}/drop"),
    ("{t}/drop", "{t}/drop/archive"),
    ("{t}/all", "{t}"),
])
def test_overlapping_landing_and_archive_are_refused(base, tmp_path, landing, archive):
    params = {"landing_dir": landing.format(t=tmp_path), "archive_dir": archive.format(t=tmp_path)}
    with pytest.raises(LaunchConfigError, match=r"landing_dir=.* and archive_dir=.* overlap"):
        resolve(base, params)


def test_a_landing_folder_inside_the_lake_is_refused(base, tmp_path):
    params = {"lake_dir": str(tmp_path / "lake"), "landing_dir": str(tmp_path / "lake" / "in")}
    with pytest.raises(LaunchConfigError, match=r"landing_dir=.* and lake_dir=.* overlap"):
        resolve(base, params)


def test_an_unknown_log_format_is_refused(base):
    with pytest.raises(LaunchConfigError, match="log_format='apache2'"):
        resolve(base, {"log_format": "apache2"})


def test_python_command_sets_the_lake_and_spark_for_the_job(base):
    config = resolve(base, {"drop_bots": True})
    files = ["/landing/access log.gz", "/landing/b.log"]
    command = job_command(config, "parse_logs", parse_logs_args(config, files))
    lake = config["lake"]
    assert shlex.split(command) == [
        "env", f"CLICKLOOP_LAKE_DIR={lake}", "CLICKLOOP_SPARK_DRIVER_MEMORY=3g",
        "CLICKLOOP_SPARK_MASTER=local[3]", f"CLICKLOOP_STATE_DIR={Path(lake).parent}",
        f"PYSPARK_PYTHON={PY}",
        "PYSPARK_SUBMIT_ARGS=--conf spark.ui.showConsoleProgress=false pyspark-shell",
        PY, "-m", "stream_jobs.logs.job",
        "/landing/access log.gz", "/landing/b.log", "--format", "auto", "--drop-bots",
    ]


def test_spark_submit_command_runs_the_job_file_in_client_mode(tmp_path):
    settings = Settings.from_env({"CLICKLOOP_STATE_DIR": str(tmp_path),
                                  "CLICKLOOP_SPARK_SUBMIT": "/opt/spark/bin/spark-submit",
                                  "CLICKLOOP_SPARK_MASTER": "spark://m:7077"})
    config = resolve(settings, {"funnels_file": "/etc/clickloop/funnels.yaml"})
    command = job_command(config, "reports", reports_args(config, "2015-05-17", "2015-05-20"))
    assert shlex.split(command) == [
        "env", f"CLICKLOOP_LAKE_DIR={tmp_path / 'lake'}", "CLICKLOOP_SPARK_DRIVER_MEMORY=2g",
        "CLICKLOOP_SPARK_MASTER=spark://m:7077", f"CLICKLOOP_STATE_DIR={tmp_path}",
        f"PYSPARK_DRIVER_PYTHON={PY}",
        "/opt/spark/bin/spark-submit", "--master", "spark://m:7077", "--driver-memory", "2g",
        "--name", "clickloop-reports", "--conf", "spark.ui.showConsoleProgress=false",
        f"{APP}/reports/job.py",
        "--start", "2015-05-17", "--end", "2015-05-20",
        "--funnels", "/etc/clickloop/funnels.yaml",
    ]


def test_reports_param_picks_the_reports_and_refuses_unknown_ones(base):
    config = resolve(base, {"reports": ["traffic", "campaigns"]})
    assert reports_args(config, "2015-05-17", "2015-05-20") == [
        "--start", "2015-05-17", "--end", "2015-05-20",
        "--report", "traffic", "--report", "campaigns"]
    every = resolve(base, {"reports": []})  # empty: the job's default, all of them
    assert reports_args(every, "2015-05-17", "2015-05-17") == [
        "--start", "2015-05-17", "--end", "2015-05-17"]
    with pytest.raises(LaunchConfigError,
                       match=r"param reports: unknown report\(s\) trafic; known: traffic, "):
        resolve(base, {"reports": ["trafic", "paths"]})


def test_unknown_job_is_refused(base):
    with pytest.raises(LaunchConfigError, match="unknown job 'rm -rf'"):
        job_command(resolve(base), "rm -rf", [])


def test_job_summary_is_the_last_line_as_json():
    assert job_summary('{"page_views": 3, "dates": ["2015-05-17"]}') == {
        "page_views": 3, "dates": ["2015-05-17"]}
    # a progress bar drawn with \r on stderr can share the summary's line
    assert job_summary('\r[Stage 9:>   (0 + 2) / 2]\r          \r{"sessions": 5}') == {
        "sessions": 5}
    with pytest.raises(LaunchConfigError, match="not its JSON summary: 'Traceback"):
        job_summary("Traceback (most recent call last):")
    with pytest.raises(LaunchConfigError, match="not its JSON summary"):
        job_summary("[1, 2]")


def test_touched_range_spans_the_dates_the_files_wrote(tmp_path):
    events = tmp_path / "events"
    for folder in ("event_date=2015-05-19/ingest=log-aaa", "event_date=2015-05-17/ingest=log-aaa",
                   "event_date=2015-05-18/ingest=log-bbb", "event_date=2015-05-10/ingest=stream",
                   "event_date=2015-05-30/ingest=log-other"):
        (events / folder).mkdir(parents=True)
    parsed = {"files": [{"ingest": "log-aaa"}, {"ingest": "log-bbb"}]}
    assert touched_range(parsed, str(tmp_path)) == ("2015-05-17", "2015-05-19")
    assert touched_range({"files": [{"ingest": "log-none"}]}, str(tmp_path)) is None
    assert touched_range({"files": []}, str(tmp_path / "no-lake")) is None


def test_describe_parse_points_at_the_rejects():
    parsed = {"lines": 7, "page_views": 2, "bots": 1, "static": 1, "filtered": 0,
              "rejects": 4, "events_written": 2}
    assert describe_parse(parsed, "/lake") == (
        "parsed 7 lines: 2 page views (1 by bots), 1 static, 0 filtered, 4 rejected; "
        "2 events written; file, line number and reason of each reject in /lake/rejects/logs")


@pytest.mark.parametrize(("when", "day", "expected"), [
    # a Tuesday run reports Monday; the week is not complete yet
    (dt.datetime(2015, 5, 19, 1, 30, tzinfo=dt.UTC), None,
     {"day": "2015-05-18", "week_start": "2015-05-18", "week_end": "2015-05-24",
      "week_complete": False}),
    # a Monday run reports Sunday, which completes the week
    (dt.datetime(2015, 5, 18, 1, 30, tzinfo=dt.UTC), None,
     {"day": "2015-05-17", "week_start": "2015-05-11", "week_end": "2015-05-17",
      "week_complete": True}),
    # New Year: the previous day is in the previous year
    (dt.date(2016, 1, 1), None,
     {"day": "2015-12-31", "week_start": "2015-12-28", "week_end": "2016-01-03",
      "week_complete": False}),
    # an explicit day wins over the logical date
    (dt.date(2030, 1, 1), "2015-05-20",
     {"day": "2015-05-20", "week_start": "2015-05-18", "week_end": "2015-05-24",
      "week_complete": False}),
])
def test_report_period(when, day, expected):
    assert report_period(when, day) == expected


def test_report_period_refuses_a_bad_day():
    with pytest.raises(LaunchConfigError, match="param day='20/05/2015': expected YYYY-MM-DD"):
        report_period(dt.date(2015, 5, 21), "20/05/2015")
