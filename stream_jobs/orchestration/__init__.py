"""What the Airflow DAGs (``dags/``) need to orchestrate the jobs; standard library only.

- :mod:`.job_launch`: resolve a run's configuration and build each job's shell command;
- :mod:`.landing`: the landing folder, its claim manifest and the archive;
- :mod:`.command`: ``clickloop airflow`` (env, standalone, run, status).

The DAG tasks import these inside their callables; nothing here starts Spark.
"""
