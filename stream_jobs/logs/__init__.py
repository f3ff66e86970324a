"""The web server log flow: access logs → ``page_view`` events in the event lake.

- :mod:`.formats`: the supported log formats (declared once here), their patterns, detection,
  W3C ``#Fields`` patterns and the user's own (``--format-regex``);
- :mod:`.input_files`: the input files on the driver: open, sample, hash, check, ingest name;
- :mod:`.parsing`: lines → parsed, classified requests → contract events and rejects (pure);
- :mod:`.enrich_requests`: user agent, address and traffic-source enrichment of distinct values
  (on the driver for a few, pandas UDFs on the executors for many);
- :mod:`.preflight`: the DAG's check that a landed file can be parsed at all (no Spark);
- :mod:`.job`: the parse job (``python -m stream_jobs.logs.job``);
- :mod:`.progress`: lines read, rate and time left while a parse runs;
- :mod:`.command`: ``clickloop logs parse``.
"""
