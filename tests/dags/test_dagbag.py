"""The ``dags/`` folder as Airflow's DagBag sees it: no import errors, each DAG's tasks and
dependencies exactly as designed, nothing heavy imported at parse time."""

from __future__ import annotations

import pytest

from tests.dags.conftest import airflow_env, run_runner

ASSET_EVENTS = "clickloop_lake_events"
ASSET_SESSIONS = "clickloop_lake_sessions"
ASSET_REPORTS = "clickloop_lake_reports"


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("airflow-dagbag")
    run = run_runner(["dagbag"], airflow_env(home), timeout=180)
    assert run.returncode == 0 and "dags" in run.result, str(run)
    return run.result


def test_folder_parses_without_import_errors(dagbag, capsys):
    with capsys.disabled():
        per_file = ", ".join(f"{s['file']} {s['seconds']:.3f} s" for s in dagbag["file_stats"])
        print(f"\n[airflow] dags/ parsed in {dagbag['parse_seconds']:.3f} s ({per_file})")
    assert dagbag["import_errors"] == {}
    assert sorted(dagbag["dags"]) == ["daily_reports", "web_logs"]
    assert sorted(s["file"] for s in dagbag["file_stats"]) == ["daily_reports.py", "web_logs.py"]


def test_dag_files_import_nothing_heavy_at_parse_time(dagbag):
    # project code (and Spark, pandas) is imported inside task callables only
    assert dagbag["heavy_modules_loaded_by_dags"] == []


def test_web_logs_shape(dagbag):
    dag = dagbag["dags"]["web_logs"]
    assert dag["fileloc"] == "web_logs.py"
    assert (dag["timetable"], dag["schedule"]) == ("CronTriggerTimetable", "0 * * * *")
    assert (dag["catchup"], dag["max_active_runs"]) == (False, 1)
    assert dag["tags"] == ["clickloop", "logs"]
    assert dag["has_doc"]
    assert dag["params"] == sorted([
        "landing_dir", "archive_dir", "lake_dir", "spark_master", "driver_memory",
        "log_format", "drop_bots", "min_age_seconds", "funnels_file", "reports",
    ])
    tasks = dag["tasks"]
    assert {name: t["downstream"] for name, t in tasks.items()} == {
        "resolve_config": ["archive_files", "build_reports", "check_files", "claim_files",
                           "parse_logs", "sessionize"],
        "claim_files": ["check_files"],
        "check_files": ["archive_files", "parse_logs"],
        "parse_logs": ["archive_files", "sessionize"],
        "sessionize": ["build_reports"],
        "build_reports": ["archive_files"],
        "archive_files": [],
    }
    assert {name: t["operator"] for name, t in tasks.items()} == {
        "resolve_config": "_PythonDecoratedOperator",
        "claim_files": "_PythonDecoratedOperator",
        "check_files": "_ShortCircuitDecoratedOperator",
        "parse_logs": "_BashDecoratedOperator",
        "sessionize": "_BashDecoratedOperator",
        "build_reports": "_BashDecoratedOperator",
        "archive_files": "_PythonDecoratedOperator",
    }
    # archiving runs when sessionize/reports were skipped (a file with only rejects),
    # never after a failure
    assert tasks["archive_files"]["trigger_rule"] == "none_failed_min_one_success"
    assert {t["trigger_rule"] for n, t in tasks.items() if n != "archive_files"} == {"all_success"}
    assert {n: t["outlets"] for n, t in tasks.items() if t["outlets"]} == {
        "parse_logs": [ASSET_EVENTS],
        "sessionize": [ASSET_SESSIONS],
        "build_reports": [ASSET_REPORTS],
    }
    assert {t["retries"] for t in tasks.values()} == {2}


def test_daily_reports_shape(dagbag):
    dag = dagbag["dags"]["daily_reports"]
    assert (dag["timetable"], dag["schedule"]) == ("CronTriggerTimetable", "30 1 * * *")
    assert (dag["catchup"], dag["max_active_runs"]) == (False, 1)
    assert dag["tags"] == ["clickloop", "reports"]
    assert dag["params"] == sorted(["day", "lake_dir", "spark_master", "driver_memory",
                                    "funnels_file", "reports"])
    tasks = dag["tasks"]
    # one Spark task: the JVM starts once per run (stream_jobs.orchestration.batch_job)
    assert {name: t["downstream"] for name, t in tasks.items()} == {
        "resolve_config": ["sessionize_and_report"],
        "report_period": ["sessionize_and_report"],
        "sessionize_and_report": [],
    }
    assert tasks["sessionize_and_report"]["operator"] == "_BashDecoratedOperator"
    assert {n: t["outlets"] for n, t in tasks.items() if t["outlets"]} == {
        "sessionize_and_report": [ASSET_REPORTS, ASSET_SESSIONS],
    }


def test_log_format_choices_are_the_parse_jobs(dagbag):
    # the DAG cannot import stream_jobs at parse time, so its copy is checked against the one list
    from stream_jobs.logs.formats import FORMAT_CHOICES

    enums = dagbag["dags"]["web_logs"]["param_enums"]
    assert enums == {"log_format": list(FORMAT_CHOICES)}
