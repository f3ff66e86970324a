"""Spark jobs over the event stream and the event lake, one subpackage per flow.

- :mod:`stream_jobs.stream`: Kafka → the raw event lake and live sessions (streaming);
- :mod:`stream_jobs.logs`: web server access logs → ``page_view`` events in the same lake;
- :mod:`stream_jobs.sessions`: authoritative sessions for a date range (batch);
- :mod:`stream_jobs.reports`: marketer reports (Parquet, CSV and one HTML page each);
- :mod:`stream_jobs.erasure`: the erasure suppression list applied to the lake;
- :mod:`stream_jobs.orchestration`: what the Airflow DAGs need to launch the jobs (commands,
  the landing folder, ``clickloop airflow``), standard library only.

In each flow, ``job.py`` is the job (``main(argv=None)``, runnable with
``python -m stream_jobs.<flow>.job`` or ``spark-submit``: it reads, writes and parses the
command line) and the other modules hold pure DataFrame-in, DataFrame-out transformations. Only
``main()`` starts Spark (through :mod:`.spark_session`) and reads settings. The Spark plumbing
the flows share sits here: :mod:`.spark_session`, :mod:`.lake` (the lake's layout, readers and
writers) and :mod:`.batch_files` (idempotent micro-batch writes). Every job prints a one-line
JSON summary as its last line of output, which the Airflow DAGs log and push.
"""
