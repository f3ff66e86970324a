"""Runs Airflow for the DAG tests in a child process, so Airflow's configuration, ORM and
logging never leak into the pytest process (or into other areas' tests).

``python -m tests.dags.airflow_runner dagbag`` parses ``dags/`` and prints its structure;
``python -m tests.dags.airflow_runner test DAG_ID --logical-date ... --conf JSON`` runs one
real DAG run with ``dag.test()`` against the metadata DB of ``AIRFLOW_HOME``. Either prints one
JSON object as its last stdout line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
HEAVY_MODULES = ("pyspark", "pandas", "pyarrow", "stream_jobs", "tracker")


def dag_bag():
    """The DAG folder parsed the way Airflow's DAG processor and ``airflow dags test`` do: as a
    bundle, with the folder on ``sys.path`` so DAG files can import their sibling modules."""
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=str(DAGS_FOLDER), bundle_path=DAGS_FOLDER)


def describe_dagbag() -> dict:
    """Import errors, parse time and every DAG's shape, as plain data."""
    before = set(sys.modules)
    import airflow.dag_processing.dagbag  # noqa: F401 (Airflow's own modules, not the DAGs')

    imported_by_airflow = set(sys.modules) - before
    started = time.perf_counter()
    bag = dag_bag()
    parse_seconds = time.perf_counter() - started
    dags = {}
    for dag_id, dag in sorted(bag.dags.items()):
        dags[dag_id] = {
            "fileloc": Path(dag.fileloc).name,
            "timetable": type(dag.timetable).__name__,
            "schedule": getattr(dag.timetable, "expression", None),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tags": sorted(dag.tags),
            "params": sorted(dag.params.keys()),
            "param_enums": {name: dag.params.get_param(name).schema["enum"]
                            for name in dag.params
                            if "enum" in dag.params.get_param(name).schema},
            "has_doc": bool(dag.doc_md),
            "tasks": {
                t.task_id: {
                    "downstream": sorted(t.downstream_task_ids),
                    "trigger_rule": str(t.trigger_rule.value),
                    "operator": t.task_type,
                    "outlets": sorted(a.name for a in t.outlets),
                    "retries": t.retries,
                }
                for t in dag.tasks
            },
        }
    loaded = set(sys.modules) - before - imported_by_airflow
    return {
        "import_errors": bag.import_errors,
        "parse_seconds": parse_seconds,
        "file_stats": [
            {"file": Path(s.file).name, "seconds": s.duration.total_seconds(), "dags": s.dag_num}
            for s in bag.dagbag_stats
        ],
        "heavy_modules_loaded_by_dags": sorted(
            m for m in loaded if m.split(".")[0] in HEAVY_MODULES
        ),
        "dags": dags,
    }


def run_dag(dag_id: str, logical_date: str, conf: dict, mark_success: str | None) -> dict:
    """One real DAG run with ``dag.test()``; returns the run's and each task's final state."""
    import datetime as dt

    bag = dag_bag()
    if bag.import_errors:
        return {"state": "import_errors", "import_errors": bag.import_errors}
    dag = bag.get_dag(dag_id)
    for task in dag.tasks:  # a failure must show at once, not after the DAG's retry delays
        task.retries = 0
    run = dag.test(
        logical_date=dt.datetime.fromisoformat(logical_date),
        run_conf=conf,
        mark_success_pattern=mark_success,
    )
    instances = run.get_task_instances()
    return {
        "run_id": run.run_id,
        "state": str(run.state),
        "tasks": {ti.task_id: str(ti.state) for ti in instances},
        "seconds": {ti.task_id: round((ti.end_date - ti.start_date).total_seconds(), 1)
                    for ti in instances if ti.start_date and ti.end_date},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="airflow_runner")
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("dagbag")
    test = sub.add_parser("test")
    test.add_argument("dag_id")
    test.add_argument("--logical-date", required=True)
    test.add_argument("--conf", default="{}")
    test.add_argument("--mark-success", default=None)
    args = parser.parse_args(argv)
    if args.what == "dagbag":
        result = describe_dagbag()
    else:
        result = run_dag(args.dag_id, args.logical_date, json.loads(args.conf), args.mark_success)
    sys.stdout.flush()
    print("\n" + json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
