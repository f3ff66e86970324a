"""The Maven pom copies what the broker and Spark's Kafka source need, and nothing pyspark
already ships (two versions of a class on Spark's classpath fail in odd ways)."""

from __future__ import annotations

import re
from pathlib import Path

import pyspark

from embedded.jars import ensure_jars
from tracker.settings import Settings

PYSPARK_JARS = Path(pyspark.__file__).parent / "jars"


def _artifact(jar: str) -> str:
    return re.sub(r"-\d[\w.]*\.jar$", "", jar)


def test_spark_kafka_jars_are_the_connector_and_its_missing_dependencies() -> None:
    folder = ensure_jars(Settings.from_env(), ["spark-kafka"])["spark-kafka"]

    jars = {p.name for p in folder.glob("*.jar")}

    assert jars == {
        "spark-sql-kafka-0-10_2.13-4.0.4.jar",
        "spark-token-provider-kafka-0-10_2.13-4.0.0.jar",
        "kafka-clients-3.9.1.jar",
        "commons-pool2-2.12.0.jar",
    }
    shipped = {_artifact(p.name) for p in PYSPARK_JARS.glob("*.jar")}
    assert {_artifact(j) for j in jars} & shipped == set()
    assert pyspark.__version__.startswith("4.0."), "connector 4.0.x needs pyspark 4.0.x"


def test_broker_jars_hold_kafka_and_a_log_binding() -> None:
    folder = ensure_jars(Settings.from_env(), ["kafka"])["kafka"]

    jars = {p.name for p in folder.glob("*.jar")}

    assert {"kafka_2.13-3.9.1.jar", "kafka-server-3.9.1.jar", "slf4j-reload4j-1.7.36.jar",
            "reload4j-1.2.19.jar"} <= jars
