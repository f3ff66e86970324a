"""
### web_logs: web server access logs from a landing folder into the event lake, every hour

Data engineers drop access logs (Apache/Nginx combined, common, vhost-combined or Nginx JSON;
plain, `.gz` or `.bz2`) into the landing folder: the `landing_dir` param, else
`CLICKLOOP_LANDING_DIR`, else `<state_dir>/landing`. Write a file elsewhere and move it in, or
give it a `.part`/`.tmp` suffix until it is complete; files younger than `min_age_seconds` wait
for the next run.

Each run, as small tasks that pass paths and dates, never data:

1. **resolve_config**: lake, folders, Spark master and memory, interpreter. Run params win over
   the `clickloop_spark` connection, which wins over the worker's `CLICKLOOP_*` settings.
2. **claim_files**: new files, claimed for this run in a manifest keyed by content hash
   (`<archive>/_manifest/`). A copy of content that was already processed goes straight to the
   archive's `duplicates/` folder.
3. **check_files**: a file that cannot be parsed at all (a `.gz`/`.bz2` that does not
   decompress, binary garbage, no known log format) becomes a file-level reject in
   `<lake>/rejects/logs/` and goes to the archive; it never blocks the other files. No usable
   file left: the rest of the run is skipped.
4. **parse_logs**: `stream_jobs.logs.job` writes page views to `<lake>/events`, each file into
   its own `ingest=log-<hash>` partitions (overwritten, never appended, on a re-run), and every
   line it cannot use to `<lake>/rejects/logs` with file, line number and reason.
5. **sessionize**: `stream_jobs.sessions.job` over the dates those files wrote events for.
6. **build_reports**: `stream_jobs.reports.job` over the same dates (all reports, or those named
   in the `reports` param).
7. **archive_files**: moves each file to `<archive>/<sha256 prefix>/<name>` and marks it done
   (the manifest record names its lake `ingest`).

**Idempotent.** A retry re-claims the same files; a later run takes over files a failed run
left claimed; parsing replaces a file's own partitions; sessions and reports are rebuilt for
whole dates. So re-running an interval, or finishing after a failure half-way, gives the same
lake, and content marked done is never parsed again.

**Catch-up and backfill.** `catchup=False`, `max_active_runs=1`: the work is defined by what is
in the landing folder, not by the interval, so one run processes everything that arrived since
the last one and missed hours need no catch-up (a backfill of this DAG would only re-scan the
folder). To load old logs, drop them in the landing folder; to rebuild past days' reports, backfill
`daily_reports`.
"""

from __future__ import annotations

import datetime as dt

from _clickloop_pipeline import (
    LAKE_EVENTS,
    LAKE_REPORTS,
    LAKE_SESSIONS,
    LOG_FORMAT_CHOICES,
    job_summary,
    report_params,
    spark_params,
)
from airflow.sdk import Param, TriggerRule, dag, task


@dag(
    dag_id="web_logs",
    schedule="@hourly",
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=6),
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=2)},
    tags=["clickloop", "logs"],
    doc_md=__doc__,
    params={
        "landing_dir": Param("", type="string", title="Landing folder",
                             description="Empty: CLICKLOOP_LANDING_DIR (default <state>/landing)."),
        "archive_dir": Param("", type="string", title="Archive folder",
                             description="Empty: CLICKLOOP_ARCHIVE_DIR (default <state>/archive)."),
        **spark_params(),
        "log_format": Param("auto", type="string", title="Log format",
                            enum=LOG_FORMAT_CHOICES),
        "drop_bots": Param(False, type="boolean", title="Drop bot requests",
                           description="Off: bots are kept and flagged."),
        "min_age_seconds": Param(None, type=["null", "integer"], minimum=0,
                                 title="Minimum file age",
                                 description="Empty: CLICKLOOP_LANDING_MIN_AGE_S (60)."),
        **report_params(),
    },
)
def web_logs():
    @task
    def resolve_config(params: dict | None = None) -> dict:
        """Where everything is and how jobs are launched, decided once for the whole run."""
        from stream_jobs.orchestration.job_launch import resolve_in_airflow_task

        config = resolve_in_airflow_task(params or {})
        print(f"lake={config['lake']} landing={config['landing']} archive={config['archive']}")
        print(f"spark master={config['spark_master']} driver memory={config['driver_memory']} "
              f"launcher={config['spark_submit'] or config['python']}")
        print(f"chosen from: {config['sources']}")
        return config

    @task
    def claim_files(config: dict, run_id: str | None = None) -> dict:
        """Claim the new landing files for this run (idempotent for the same run)."""
        from pathlib import Path

        from stream_jobs.orchestration.landing import claim_files as claim

        result = claim(Path(config["landing"]), Path(config["archive"]), str(run_id),
                       min_age_s=config["min_age_s"])
        for item in result.taken_over:
            print(f"taking over {item['name']}: claimed by run {item['from_run']}, never archived")
        for item in result.duplicates:
            print(f"duplicate {item['name']}: same content as {item['same_as']}, "
                  f"moved to {item['moved_to']} without parsing")
        for name in result.waiting:
            print(f"waiting {name}: modified less than {config['min_age_s']} s ago")
        for c in result.claimed:
            print(f"claimed {c.name} ({c.size} bytes, sha256 {c.sha256})")
        return result.to_dict()

    @task.short_circuit
    def check_files(config: dict, claim: dict, run_id: str | None = None) -> dict:
        """Set aside files that cannot be parsed at all (a compressed file that does not
        decompress, no known log format): a file-level reject in the lake, the file to the
        archive. The rest go on; none left short-circuits the run."""
        import dataclasses
        from pathlib import Path

        from stream_jobs.orchestration.landing import claims_from_dicts
        from stream_jobs.orchestration.preflight import set_aside_unusable

        usable, messages = set_aside_unusable(
            claims_from_dicts(claim["claimed"]), landing=Path(config["landing"]),
            archive=Path(config["archive"]), lake=Path(config["lake"]),
            log_format=config["log_format"], run_id=str(run_id))
        for message in messages:
            print(message)
        if not usable:
            print(f"no new usable log files in {config['landing']}: nothing to parse")
            return {}
        print(f"{len(usable)} file(s) to parse")
        return {"claimed": [dataclasses.asdict(c) for c in usable]}

    @task.bash(outlets=[LAKE_EVENTS], output_processor=job_summary)
    def parse_logs(config: dict, checked: dict) -> str:
        """Parse the files into the lake (their own partitions) and their bad lines into the
        rejects."""
        from stream_jobs.orchestration.job_launch import job_command, parse_logs_args

        files = [c["path"] for c in checked["claimed"]]
        return job_command(config, "parse_logs", parse_logs_args(config, files))

    @task.bash(outlets=[LAKE_SESSIONS], output_processor=job_summary)
    def sessionize(config: dict, parsed: dict) -> str:
        """Rebuild the sessions of every date the parsed files wrote events for."""
        from airflow.sdk.exceptions import AirflowSkipException

        from stream_jobs.orchestration.job_launch import describe_parse, job_command, touched_range

        print(describe_parse(parsed, config["lake"]))
        span = touched_range(parsed, config["lake"])
        if span is None:
            raise AirflowSkipException("the parsed files held no page views: nothing to sessionize")
        return job_command(config, "sessionize", ["--start", span[0], "--end", span[1]])

    @task.bash(outlets=[LAKE_REPORTS], output_processor=job_summary)
    def build_reports(config: dict, sessions: dict) -> str:
        """Refresh the marketer reports over the dates that were sessionized."""
        from stream_jobs.orchestration.job_launch import job_command, reports_args

        args = reports_args(config, sessions["start"], sessions["end"])
        return job_command(config, "reports", args)

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def archive_files(config: dict, checked: dict, parsed: dict, run_id: str | None = None
                      ) -> list:
        """Move the processed files to the archive and mark them done; safe to retry."""
        from pathlib import Path

        from stream_jobs.orchestration.job_launch import describe_parse
        from stream_jobs.orchestration.landing import archive_files as archive
        from stream_jobs.orchestration.landing import claims_from_dicts

        claims = claims_from_dicts(checked["claimed"])
        ingests = {str(Path(f["file"]).resolve()): f["ingest"] for f in parsed["files"]}
        details = {c.sha256: {"ingest": ingests.get(str(Path(c.path).resolve()))}
                   for c in claims}
        print(describe_parse(parsed, config["lake"]))
        outcomes = archive(claims, Path(config["landing"]), Path(config["archive"]),
                           str(run_id), details=details)
        for item, c in zip(outcomes, claims, strict=True):
            print(f"{item['name']}: {item['outcome']} ({item['archived_to']}); "
                  f"events in ingest={details[c.sha256]['ingest']}")
        return outcomes

    config = resolve_config()
    checked = check_files(config, claim_files(config))
    parsed = parse_logs(config, checked)
    reports = build_reports(config, sessionize(config, parsed))
    reports >> archive_files(config, checked, parsed)


web_logs()
