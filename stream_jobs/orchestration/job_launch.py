"""How a scheduler launches the stream jobs: which interpreter (or spark-submit), which Spark
master and memory, which lake and folders.

Resolved once per DAG run, by the DAG's ``resolve_config`` task, from three places in order of
precedence: the run's params (set in the trigger form), an optional Airflow connection
(``clickloop_spark``: the cluster an operator registered once), and the settings object (the
worker's ``CLICKLOOP_*`` environment or config file). The result is a plain dict (it travels as
an XCom) that every job task turns into one shell command with :func:`job_command`. The jobs read
their settings from the ``CLICKLOOP_*`` variables that command sets, so a job launched by Airflow
behaves exactly like one launched by hand.

Pure functions: the precedence rules are unit-tested without Airflow or Spark.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stream_jobs.logs.formats import FORMAT_CHOICES
from stream_jobs.reports.registry import REPORTS
from tracker.settings import Settings

# job name (its --name and JSON summary) -> its module under stream_jobs
JOBS: dict[str, str] = {
    "parse_logs": "logs.job",
    "sessionize": "sessions.job",
    "reports": "reports.job",
    # sessionize + reports (+ a roll-up) in one JVM: what daily_reports runs
    "batch": "orchestration.batch_job",
}
CONNECTION_ID = "clickloop_spark"
LOG_FORMATS = FORMAT_CHOICES  # "auto" first: the default
# the stream_jobs package folder (spark-submit needs a job's file, not its module name)
APP_DIR = Path(__file__).resolve().parents[1]
# Spark's console progress bar redraws one line with \r: noise in a task log, and it can glue
# itself to the job's JSON summary line
QUIET_PROGRESS = "spark.ui.showConsoleProgress=false"


class LaunchConfigError(ValueError):
    """A DAG param, connection or setting that cannot work; the message names it."""


def resolve_config(
    settings: Settings,
    params: Mapping[str, Any],
    connection: Mapping[str, Any] | None,
    *,
    worker_python: str,
    app_dir: str,
) -> dict[str, Any]:
    """Everything a job task needs, as a JSON-ready dict.

    ``params`` are the DAG run's params (empty string = not set); ``connection`` is the
    ``clickloop_spark`` connection as ``{"host", "port", "extra"}`` or None; ``worker_python``
    is the interpreter running the task (the default for jobs); ``app_dir`` is where the
    ``stream_jobs`` modules live (spark-submit needs a file, not a module name).
    """
    conn = connection or {}
    extra = conn.get("extra") or {}
    sources: dict[str, str] = {}

    def pick(name: str, param: str | None, conn_value: Any, setting: Any) -> Any:
        value = params.get(param) if param else None
        if value not in (None, ""):
            sources[name] = f"param {param}"
            return value
        if conn_value not in (None, ""):
            sources[name] = f"connection {CONNECTION_ID}"
            return conn_value
        sources[name] = "settings"
        return setting

    conn_master = None
    if conn.get("host"):
        conn_master = str(conn["host"]) + (f":{conn['port']}" if conn.get("port") else "")
    lake = Path(pick("lake", "lake_dir", None, settings.lake)).expanduser()
    landing = Path(pick("landing", "landing_dir", None, settings.landing)).expanduser()
    archive = Path(pick("archive", "archive_dir", None, settings.archive)).expanduser()
    _check_folders(landing, archive, lake)
    master = pick("spark_master", "spark_master", conn_master, settings.spark.master)
    memory = pick(
        "driver_memory", "driver_memory", extra.get("driver_memory"), settings.spark.driver_memory
    )
    python = pick("python", None, extra.get("python"), settings.airflow.job_python) or worker_python
    spark_submit = pick(
        "spark_submit", None, extra.get("spark_submit"), settings.airflow.spark_submit
    )
    # the project's code for the executors (`clickloop spark package`): its .zip, shipped with
    # --py-files; set on the connection of a cluster whose machines lack this checkout
    py_files = pick("py_files", None, extra.get("py_files"), None)
    log_format = str(params.get("log_format") or LOG_FORMATS[0])
    if log_format not in LOG_FORMATS:
        raise LaunchConfigError(f"param log_format={log_format!r}: expected one of {LOG_FORMATS}")
    min_age = params.get("min_age_seconds")
    funnels = params.get("funnels_file") or None
    reports = [str(name) for name in params.get("reports") or []]
    unknown = sorted(set(reports) - set(REPORTS))
    if unknown:
        raise LaunchConfigError(
            f"param reports: unknown report(s) {', '.join(unknown)}; known: {', '.join(REPORTS)}"
        )
    return {
        "lake": str(lake),
        "landing": str(landing),
        "archive": str(archive),
        "python": str(python),
        "spark_submit": spark_submit or None,
        "py_files": str(py_files) if py_files else None,
        "app_dir": app_dir,
        "spark_master": str(master),
        "driver_memory": str(memory),
        "log_format": log_format,
        "drop_bots": bool(params.get("drop_bots", False)),
        "min_age_s": int(settings.airflow.landing_min_age_s if min_age in (None, "") else min_age),
        "funnels_file": str(Path(funnels).expanduser()) if funnels else None,
        "reports": reports,
        "env": {
            "CLICKLOOP_LAKE_DIR": str(lake),
            "CLICKLOOP_SPARK_MASTER": str(master),
            "CLICKLOOP_SPARK_DRIVER_MEMORY": str(memory),
            # the suppression list (<state>/privacy) that every batch job applies
            "CLICKLOOP_STATE_DIR": str(settings.state_dir),
        },
        "sources": sources,
    }


def resolve_in_airflow_task(params: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`resolve_config` with what an Airflow task can see: the worker's settings, the
    ``clickloop_spark`` connection if one is defined, and the worker's own interpreter."""
    import sys

    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get(CONNECTION_ID)
        connection = {"host": conn.host, "port": conn.port, "extra": conn.extra_dejson}
    except AirflowNotFoundException:
        connection = None
    return resolve_config(
        Settings.from_env(),
        params,
        connection,
        worker_python=sys.executable,
        app_dir=str(APP_DIR),
    )


def job_command(config: Mapping[str, Any], job: str, args: Sequence[str]) -> str:
    """The shell command that runs job ``job`` (a key of :data:`JOBS`) with ``args`` under
    ``config``.

    ``env VAR=... python -m stream_jobs.<flow>.job ...`` by default; with a spark-submit
    configured, ``spark-submit --master ... <app_dir>/<flow>/job.py ...`` in client mode (the
    driver runs on the Airflow worker with the clickloop interpreter). Every part is shell-quoted.
    """
    if job not in JOBS:
        raise LaunchConfigError(f"unknown job {job!r}: expected one of {tuple(JOBS)}")
    env = dict(config["env"])
    python = config["python"]
    if str(config["spark_master"]).startswith("local"):
        # local executors' Python workers run on this machine: the driver's interpreter, not
        # whatever `python3` is first on the worker's PATH
        env["PYSPARK_PYTHON"] = python
    if config.get("spark_submit"):
        env["PYSPARK_DRIVER_PYTHON"] = python
        command = [
            config["spark_submit"],
            "--master", config["spark_master"],
            "--driver-memory", config["driver_memory"],
            "--name", f"clickloop-{job}",
            "--conf", QUIET_PROGRESS,
        ]
        if config.get("py_files"):
            # the packaged code on every executor's (and the driver's) sys.path; its main file
            # runs the job module from the archive (stream_jobs.orchestration.packaging)
            from stream_jobs.orchestration.packaging import SUBMIT_MAIN

            archive = Path(config["py_files"])
            command += ["--py-files", str(archive), str(archive.with_name(SUBMIT_MAIN)),
                        f"stream_jobs.{JOBS[job]}"]
        else:
            command.append(str(Path(config["app_dir"], *JOBS[job].split(".")).with_suffix(".py")))
    else:
        # how PySpark passes options to the JVM it starts when not under spark-submit
        env["PYSPARK_SUBMIT_ARGS"] = f"--conf {QUIET_PROGRESS} pyspark-shell"
        command = [python, "-m", f"stream_jobs.{JOBS[job]}"]
    assignments = [f"{key}={value}" for key, value in sorted(env.items())]
    return shlex.join(["env", *assignments, *command, *args])


def parse_logs_args(config: Mapping[str, Any], files: Sequence[str]) -> list[str]:
    """Arguments of ``stream_jobs.logs.job`` for claimed files (options last, files first)."""
    args = [*files, "--format", config["log_format"]]
    if config["drop_bots"]:
        args.append("--drop-bots")
    return args


def reports_args(config: Mapping[str, Any], start: str, end: str) -> list[str]:
    """Arguments of ``stream_jobs.reports.job`` for a date range (every report unless the run
    named some in its ``reports`` param)."""
    args = ["--start", start, "--end", end]
    for name in config.get("reports") or []:
        args += ["--report", name]
    if config.get("funnels_file"):
        args += ["--funnels", config["funnels_file"]]
    return args


def batch_args(config: Mapping[str, Any], period: Mapping[str, Any]) -> list[str]:
    """Arguments of ``stream_jobs.orchestration.batch_job`` for a ``daily_reports`` period
    (:func:`report_period`): the day's sessions and reports, and the week's on a Sunday."""
    args = reports_args(config, period["day"], period["day"])
    if period.get("week_complete"):
        args += ["--rollup-start", period["week_start"], "--rollup-end", period["week_end"]]
    return args


def job_summary(last_line: str) -> dict[str, Any]:
    """The one-line JSON summary each job prints last, as a dict (the task's XCom).

    The task sees stdout and stderr as one stream, so whatever a job left on stderr without a
    newline (a ``\r``-drawn progress bar) can precede the JSON on the same line.
    """
    text = str(last_line).rsplit("\r", 1)[-1].strip()
    try:
        summary = json.loads(text)
    except (TypeError, json.JSONDecodeError):
        summary = None
    if not isinstance(summary, dict):
        raise LaunchConfigError(
            f"the job's last output line is not its JSON summary: {str(last_line)[:200]!r}"
        )
    return summary


def touched_range(parsed: Mapping[str, Any], lake: str) -> tuple[str, str] | None:
    """First and last event date the parse run wrote (``None`` when it wrote no events).

    Read from the lake itself: the ``event_date`` partitions of the parsed files' ``ingest``
    values (the job removes partitions of theirs it did not write). One contiguous range keeps
    it to one sessionize and one reports job per run; dates in between that the files did not
    touch are rebuilt from unchanged input, which is harmless.
    """
    events = Path(lake) / "events"
    dates = sorted({
        folder.parent.name.removeprefix("event_date=")
        for item in parsed.get("files") or []
        for folder in events.glob(f"event_date=*/ingest={item['ingest']}")
    })
    if not dates:
        return None
    return dates[0], dates[-1]


def describe_parse(parsed: Mapping[str, Any], lake: str) -> str:
    """One human line about a parse run for the task log, pointing at the rejects if any."""
    line = (
        f"parsed {parsed.get('lines', 0)} lines: {parsed.get('page_views', 0)} page views "
        f"({parsed.get('bots', 0)} by bots), {parsed.get('static', 0)} static, "
        f"{parsed.get('filtered', 0)} filtered, {parsed.get('rejects', 0)} rejected; "
        f"{parsed.get('events_written', 0)} events written"
    )
    if parsed.get("rejects"):
        line += f"; file, line number and reason of each reject in {Path(lake) / 'rejects/logs'}"
    return line


def report_period(when: dt.date, day: str | None = None) -> dict[str, Any]:
    """The day a ``daily_reports`` run covers and its ISO week.

    The day is ``day`` when given (a manual run for a chosen date), else the day before the
    run's logical date. The weekly roll-up is built when that day is a Sunday, i.e. when it
    completes its Monday-to-Sunday week.
    """
    if day:
        try:
            report_day = dt.date.fromisoformat(day)
        except ValueError as exc:
            raise LaunchConfigError(f"param day={day!r}: expected YYYY-MM-DD") from exc
    else:
        report_day = (when.date() if isinstance(when, dt.datetime) else when) - dt.timedelta(1)
    week_start = report_day - dt.timedelta(days=report_day.weekday())
    return {
        "day": report_day.isoformat(),
        "week_start": week_start.isoformat(),
        "week_end": (week_start + dt.timedelta(days=6)).isoformat(),
        "week_complete": report_day.weekday() == 6,
    }


def _check_folders(landing: Path, archive: Path, lake: Path) -> None:
    """Refuse folder layouts that would make the pipeline eat its own output."""
    pairs = [("landing_dir", landing, "archive_dir", archive),
             ("landing_dir", landing, "lake_dir", lake)]
    for name_a, a, name_b, b in pairs:
        a_abs, b_abs = a.resolve(), b.resolve()
        if a_abs == b_abs or a_abs in b_abs.parents or b_abs in a_abs.parents:
            raise LaunchConfigError(
                f"{name_a}={a} and {name_b}={b} overlap: they must be separate folders"
            )
