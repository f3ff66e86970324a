"""Shared pytest fixtures. Each family lives in ``tests/fixtures/<name>.py`` and is loaded here,
so every area's tests can use the one broker, SparkSession, redis-server and browser per run."""

pytest_plugins = [
    "tests.fixtures.kafka",
    "tests.fixtures.spark",
    "tests.fixtures.redis",
    "tests.fixtures.browser",
    "tests.fixtures.collector",
]
