"""``clickloop airflow``: run the log pipeline's DAGs (``dags/``) with a local Airflow.

- ``clickloop airflow env``: the environment a local or existing Airflow needs for our DAGs,
  as ``export`` lines (``eval "$(clickloop airflow env)"``);
- ``clickloop airflow standalone``: Airflow's all-in-one dev server (scheduler, API server with
  the UI, DAG processor, triggerer) on our DAGs, home in ``<state_dir>/airflow``;
- ``clickloop airflow run DAG_ID``: one run now, without a scheduler (``airflow dags test``),
  e.g. to process the landing folder by hand;
- ``clickloop airflow status``: files waiting in the landing folder and the claim manifest.

Airflow is started as the ``airflow`` executable next to this interpreter, in a child process
with its configuration in the environment, so this module imports nothing from Airflow.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from tracker.settings import PROJECT_ROOT, Settings

DAGS_FOLDER = PROJECT_ROOT / "dags"
DAG_IDS = ("web_logs", "daily_reports")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommands and their options."""
    parser.add_argument(
        "--home", type=Path, default=None,
        help="AIRFLOW_HOME (metadata DB, logs, airflow.cfg); default <state_dir>/airflow",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    sub.add_parser("env", help="print the environment our DAGs need, as export lines")
    sub.add_parser("standalone", help="Airflow's all-in-one dev server on the clickloop DAGs")
    run = sub.add_parser("run", help="one DAG run now, without a scheduler (airflow dags test)")
    run.add_argument("dag_id", choices=DAG_IDS)
    run.add_argument(
        "--logical-date", default=None,
        help="e.g. 2015-05-21T01:30:00+00:00 (daily_reports reports the day before); default now",
    )
    run.add_argument(
        "--conf", default="{}",
        help='run params as JSON, e.g. \'{"landing_dir": "/data/logs", "drop_bots": true}\'',
    )
    sub.add_parser("status", help="files waiting in the landing folder, claims in the manifest")


def airflow_environment(settings: Settings, home: Path) -> dict[str, str]:
    """Variables that point an Airflow at our DAGs (pure: the caller merges them in)."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "CLICKLOOP_STATE_DIR": str(settings.state_dir),
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Dispatch ``clickloop airflow ACTION``; returns the exit code."""
    home = (args.home or settings.state_dir / "airflow").expanduser().resolve()
    env_vars = airflow_environment(settings, home)
    if args.action == "env":
        for key, value in env_vars.items():
            print(f"export {key}={shlex.quote(value)}")
        print(f"# landing={settings.landing} archive={settings.archive} lake={settings.lake}")
        return 0
    if args.action == "status":
        return _status(settings)
    airflow = str(Path(sys.executable).with_name("airflow"))
    env = {**os.environ, **env_vars}
    home.mkdir(parents=True, exist_ok=True)
    if args.action == "standalone":
        print(f"Airflow home {home}; DAGs from {DAGS_FOLDER}. UI on http://localhost:8080, "
              f"login admin, password in {home}/simple_auth_manager_passwords.json.generated",
              flush=True)
        os.execve(airflow, [airflow, "standalone"], env)
    try:
        json.loads(args.conf)
    except json.JSONDecodeError as exc:
        print(f"clickloop airflow run: --conf is not valid JSON: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True)
    if migrate.returncode != 0:
        sys.stderr.write(migrate.stdout[-2000:] + migrate.stderr[-2000:])
        print(f"clickloop airflow run: `airflow db migrate` failed in {home}", file=sys.stderr)
        return migrate.returncode
    command = [airflow, "dags", "test", args.dag_id]
    if args.logical_date:
        command.append(args.logical_date)
    command += ["--conf", args.conf]
    code = subprocess.run(command, env=env).returncode
    print(f"clickloop airflow run {args.dag_id}: "
          f"{'succeeded' if code == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return code


def _status(settings: Settings) -> int:
    from stream_jobs.orchestration.landing import candidate_files, manifest_summary

    ready, fresh = candidate_files(
        settings.landing, now=time.time(), min_age_s=settings.airflow.landing_min_age_s
    )
    print(f"landing {settings.landing}: {len(ready)} file(s) ready, {len(fresh)} still fresh")
    for path in ready + fresh:
        print(f"  {path.relative_to(settings.landing)}")
    counts = manifest_summary(settings.archive)
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "empty"
    print(f"manifest {settings.archive / '_manifest'}: {summary}")
    return 0
