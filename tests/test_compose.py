"""docker-compose.yml cannot run here (no Docker engine); keep it consistent with the code."""

from __future__ import annotations

import re

import yaml

from clickloop.cli import COMMANDS
from tracker.settings import PROJECT_ROOT, describe

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
KNOWN = {name for name, _, _ in describe()}


def _clickloop_services() -> dict[str, dict]:
    return {name: svc for name, svc in COMPOSE["services"].items()
            if svc.get("image") == "clickloop:local"}


def test_services_present() -> None:
    assert set(COMPOSE["services"]) == {
        "kafka", "redis", "collector", "personalization-worker", "personalization-api",
        "spark-stream", "airflow",
    }


def test_kafka_is_the_official_image_in_kraft_mode() -> None:
    kafka = COMPOSE["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "zookeeper" not in str(kafka).lower()


def test_every_clickloop_variable_is_a_real_setting() -> None:
    for name, svc in _clickloop_services().items():
        env = svc["environment"]
        for variable in env:
            if variable.startswith("CLICKLOOP_"):
                assert variable in KNOWN, f"{name}: {variable} is not read by the code"


def test_services_point_at_compose_kafka_and_redis() -> None:
    for name, svc in _clickloop_services().items():
        env = svc["environment"]
        assert env["CLICKLOOP_KAFKA_BOOTSTRAP"] == "kafka:9092", name
        assert env["CLICKLOOP_REDIS_URL"].startswith("redis://redis:"), name


def test_commands_exist() -> None:
    for name, svc in _clickloop_services().items():
        command = svc["command"]
        if command[0] == "clickloop":
            assert command[1] in COMMANDS, f"{name}: clickloop {command[1]} is not a subcommand"
        else:
            assert command[:2] == ["python", "-m"], name
            module = command[2]
            assert (PROJECT_ROOT / (module.replace(".", "/") + ".py")).exists(), module


def test_image_builds_from_the_lock_file() -> None:
    build = next(iter(_clickloop_services().values()))["build"]["dockerfile_inline"]
    assert "uv sync --frozen" in build
    assert re.search(r"clickloop setup --jars", build)
