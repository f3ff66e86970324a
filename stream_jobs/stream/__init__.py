"""The streaming flow: the Kafka events topic → the raw event lake and live sessions.

- :mod:`.job`: the streaming job (``python -m stream_jobs.stream.job``): its two queries, the
  idempotent lake writer, options and summary;
- :mod:`.kafka_records`: Kafka records → contract events or rejects with a reason, and
  deduplication of retried events (pure transformations);
- :mod:`.live_sessions`: provisional sessions with ``session_window`` (pure).
"""
