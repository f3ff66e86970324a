"""What the two clickloop DAGs (``web_logs``, ``daily_reports``) share: the lake's Assets, the
run params that say where the lake is and how the Spark jobs are launched, and the processor
that turns a job's last output line into its task's XCom.

Not a DAG: ``.airflowignore`` keeps Airflow from parsing this file for DAGs, and the DAG files
import it by name (Airflow puts the DAG folder on ``sys.path``). Like the DAG files it imports
nothing of the project at import time: ``stream_jobs`` is imported inside task callables only.
"""

from __future__ import annotations

from airflow.sdk import Asset, Param

LAKE_EVENTS = Asset(name="clickloop_lake_events", uri="x-clickloop://lake/events")
LAKE_SESSIONS = Asset(name="clickloop_lake_sessions", uri="x-clickloop://lake/sessions")
LAKE_REPORTS = Asset(name="clickloop_lake_reports", uri="x-clickloop://lake/reports")

# stream_jobs.logs.formats.FORMAT_CHOICES, which a DAG file cannot import at parse time;
# tests/dags/test_dagbag.py checks that the two agree
LOG_FORMAT_CHOICES = ["auto", "vhost_combined", "combined", "common_vhost", "common", "ovh", "s3",
                      "alb", "elb", "haproxy", "uwsgi", "w3c", "nginx_json", "caddy_json",
                      "traefik_json"]


def spark_params() -> dict[str, Param]:
    """Where the lake is and how the Spark jobs run (``stream_jobs.orchestration.job_launch``
    resolves them: param, then the ``clickloop_spark`` connection, then settings)."""
    return {
        "lake_dir": Param("", type="string", title="Event lake",
                          description="Empty: CLICKLOOP_LAKE_DIR (default <state>/lake)."),
        "spark_master": Param("", type="string", title="Spark master",
                              description="Empty: connection clickloop_spark, else "
                              "CLICKLOOP_SPARK_MASTER."),
        "driver_memory": Param("", type="string", title="Spark driver memory",
                               description="Empty: CLICKLOOP_SPARK_DRIVER_MEMORY."),
    }


def report_params() -> dict[str, Param]:
    """Which reports the reports job builds, and with which funnels."""
    return {
        "funnels_file": Param("", type="string", title="Funnels YAML",
                              description="Empty: the reports job's default funnels."),
        "reports": Param([], type="array", items={"type": "string"}, title="Reports",
                         description="Names of the reports to build (traffic, funnels, paths, "
                         "campaigns, customers). Empty: all of them."),
    }


def job_summary(last_line: str) -> dict:
    """A ``@task.bash`` output processor: the job's one-line JSON summary becomes the XCom."""
    from stream_jobs.orchestration.job_launch import job_summary as parse_summary

    return parse_summary(last_line)
