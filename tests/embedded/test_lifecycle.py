"""The embedded broker's life: start, stop, restart with its data, and every refusal.

These tests run their own brokers in their own state dirs (never the run's shared one), and
drive them through the ``clickloop kafka`` command where a user would.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from clickloop.cli import main
from embedded import jars, kafka_broker, kafka_topics, provision
from tests.embedded.events import consume_all, page_views, produce
from tracker.settings import Settings, SettingsError

pytestmark = pytest.mark.kafka


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings (and environment, for the CLI) of a private embedded broker in ``tmp_path``."""
    monkeypatch.setenv("CLICKLOOP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CLICKLOOP_KAFKA_BOOTSTRAP", raising=False)
    settings = Settings.from_env()
    yield settings
    kafka_broker.stop(settings)  # whatever a test started, even when it failed midway


def test_restart_on_same_state_dir_keeps_events_and_port(
    embedded: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kafka", "start"]) == 0
    bootstrap = capsys.readouterr().out.strip()
    assert re.fullmatch(r"127\.0\.0\.1:\d+", bootstrap)
    assert main(["kafka", "status"]) == 0
    assert capsys.readouterr().out.strip() == bootstrap
    assert main(["kafka", "start"]) == 0, "a second start reuses the running broker"
    assert capsys.readouterr().out.strip() == bootstrap
    kafka_topics.ensure_topics(bootstrap, ["restart.events"], 3, 1)
    sent = page_views(200)
    produce(bootstrap, "restart.events", sent)

    assert main(["kafka", "stop"]) == 0
    assert main(["kafka", "status"]) == 3
    assert capsys.readouterr().out == ""
    assert main(["kafka", "start"]) == 0
    assert capsys.readouterr().out.strip() == bootstrap, "the previous port is preferred"

    received = consume_all(bootstrap, "restart.events", expected=200)
    assert len(received) == 200
    assert {e["event_id"]: e for e in received} == {e["event_id"]: e for e in sent}


def test_a_full_jit_broker_runs_with_c2_and_a_quick_one_without(embedded: Settings) -> None:
    full = dataclasses.replace(embedded, kafka=dataclasses.replace(embedded.kafka, jit="full"))
    bootstrap = kafka_broker.start(full)
    flags = _command_line(kafka_broker.status(full).pid)
    assert "-XX:TieredStopAtLevel=1" not in flags
    assert "-XX:+UseSerialGC" in flags
    kafka_topics.ensure_topics(bootstrap, ["jit.events"], 3, 1)
    sent = page_views(100)
    produce(bootstrap, "jit.events", sent)
    received = consume_all(bootstrap, "jit.events", expected=100)
    assert {e["event_id"] for e in received} == {e["event_id"] for e in sent}
    assert kafka_broker.stop(full)

    kafka_broker.start(embedded)  # the default: C1 only
    assert "-XX:TieredStopAtLevel=1" in _command_line(kafka_broker.status(embedded).pid)


def test_a_jit_setting_made_in_code_is_checked_before_anything_starts(
    embedded: Settings,
) -> None:
    wrong = dataclasses.replace(embedded, kafka=dataclasses.replace(embedded.kafka, jit="c3"))
    with pytest.raises(SettingsError, match="CLICKLOOP_KAFKA_JIT must be one of quick, full"):
        kafka_broker.start(wrong)
    assert not kafka_broker.status(embedded).running
    assert not (embedded.state_dir / "kafka").exists()


def _command_line(pid: int | None) -> list[str]:
    assert pid is not None
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def test_start_with_other_port_while_running_is_refused(
    embedded: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    bootstrap = kafka_broker.start(embedded)
    port = int(bootstrap.rsplit(":", 1)[1])
    other = port + 1 if port < 65535 else port - 1

    assert main(["kafka", "start", "--port", str(other)]) == 2

    err = capsys.readouterr().err
    assert f"already runs on {bootstrap}, not on port {other}" in err
    # a broker that dies while starting is reported with its own words, not a Java trace dump
    kafka_broker.stop(embedded)
    tiny_heap = dataclasses.replace(embedded, kafka=dataclasses.replace(embedded.kafka,
                                                                        heap="1k"))
    with pytest.raises(kafka_broker.KafkaError, match="exited with code 1 while starting") as exc:
        kafka_broker.start(tiny_heap)
    assert "Too small maximum heap" in str(exc.value)
    assert not kafka_broker.status(embedded).running


def test_taken_port_is_refused_with_a_clear_message(
    embedded: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]

        assert main(["kafka", "start", "--port", str(port)]) == 2

    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "Traceback" not in err and "Exception" not in err
    assert not kafka_broker.status(embedded).running


CLUSTER_A = "MkU3OEVBNTcwNTJENDM2Qg"
CLUSTER_B = "cUeBcQnQSGKRnz3zuF1lUw"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"data/meta.properties": "\x00\x01 not a properties file"},
         r"meta.properties is not a KRaft meta.properties of node 1"),
        ({"data/meta.properties": f"version=1\ncluster.id={CLUSTER_A}\nnode.id=7\n"},
         r"meta.properties is not a KRaft meta.properties of node 1"),
        ({"data/meta.properties": f"version=1\ncluster.id={CLUSTER_A}\nnode.id=1\n",
          "cluster.id": CLUSTER_B + "\n"},
         rf"cluster id mismatch: .*says '{CLUSTER_A}' but .*says '{CLUSTER_B}'"),
        ({"data/events-0/00000000000000000000.log": "x"},
         r"holds data \(events-0\) but no meta.properties"),
    ],
    ids=["garbage meta", "other node", "cluster id mismatch", "data without meta"],
)
def test_broken_state_dir_is_refused(
    embedded: Settings, files: dict[str, str], message: str
) -> None:
    root = embedded.state_dir / "kafka"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)

    with pytest.raises(kafka_broker.KafkaError, match="broken Kafka state dir") as exc:
        kafka_broker.start(embedded)

    assert re.search(message, str(exc.value))
    assert f"delete {root}" in str(exc.value)
    assert not kafka_broker.status(embedded).running


def _path_with_only(tmp_path: Path, *commands: str) -> str:
    """A PATH directory holding just ``commands`` (symlinks to the real ones)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for command in commands:
        real = os.path.realpath(_which(command))
        (bin_dir / command).symlink_to(real)
    return str(bin_dir)


def _which(command: str) -> str:
    import shutil

    found = shutil.which(command)
    assert found, f"{command} must be installed to run this test"
    return found


def test_missing_java_is_named_with_what_to_install(
    embedded: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", _path_with_only(tmp_path))

    assert main(["kafka", "start"]) == 2

    err = capsys.readouterr().err
    assert "java not found on PATH" in err
    assert "apt-get install openjdk-17-jre-headless" in err


def test_missing_maven_is_named_when_jars_must_be_fetched(
    embedded: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_jars = dataclasses.replace(embedded, jars_dir=tmp_path / "jars")
    monkeypatch.setenv("PATH", _path_with_only(tmp_path, "java"))

    with pytest.raises(provision.MissingPrerequisite) as exc:
        jars.ensure_jars(empty_jars)

    assert "mvn not found on PATH" in str(exc.value)
    assert "apt-get install maven" in str(exc.value)


def test_jars_already_fetched_need_no_maven(
    embedded: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched = jars.ensure_jars(embedded)  # with Maven, if not done yet
    monkeypatch.setenv("PATH", _path_with_only(tmp_path, "java"))

    assert jars.ensure_jars(embedded) == fetched


def test_status_of_a_never_started_broker(
    embedded: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kafka", "status"]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "not running" in captured.err
    assert main(["kafka", "stop"]) == 0
    assert not (embedded.state_dir / "kafka" / "kafka.pid").exists()
