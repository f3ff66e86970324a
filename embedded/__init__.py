"""The embedded default's local services: what a fresh clone runs with no cluster installed.

- :mod:`embedded.ports`: free ports on the loopback interface;
- :mod:`embedded.provision`: idempotent installs the lock file cannot carry (npm, Debian);
- :mod:`embedded.jars`: Maven-fetched jars (Kafka broker, Spark's Kafka connector);
- :mod:`embedded.kafka_broker`: the single-node KRaft broker's life cycle;
- :mod:`embedded.kafka_topics`: reaching a broker and creating topics (embedded or not);
- :mod:`embedded.http_worker`: the gunicorn worker every HTTP server of the project runs.
"""
