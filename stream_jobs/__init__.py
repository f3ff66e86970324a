"""Spark jobs over the event stream and the event lake.

Jobs (each a module with ``main(argv=None)``, runnable with ``python -m`` or ``spark-submit``):

- :mod:`stream_jobs.stream_events`: Kafka → the raw event lake and live sessions (streaming);
- :mod:`stream_jobs.sessionize`: authoritative sessions for a date range (batch);
- :mod:`stream_jobs.parse_logs`: web server access logs → ``page_view`` events in the same lake;
- :mod:`stream_jobs.reports`: marketer reports (Parquet, CSV and one HTML page each).

The transformations they share are pure DataFrame-in, DataFrame-out functions
(:mod:`.sessions`, :mod:`.log_parsing`, :mod:`.events`, :mod:`.reporting`); only ``main()``
starts Spark (through :mod:`.spark_session`) and reads settings. Every job prints a one-line JSON
summary as its last line of output, which the Airflow DAGs log and push.
"""
