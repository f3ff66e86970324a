"""The embedded single-node Kafka broker's life cycle: start, stop, inspect.

Clickloop runs out of the box with no cluster to install: the first start fetches Kafka's jars
with Maven, formats a KRaft log dir and runs one combined broker + controller on 127.0.0.1.
Everything lives under ``<state_dir>/kafka/`` so a restart finds the same events again. When
``settings.kafka.bootstrap`` names a cluster, nothing here starts and that cluster is used.

Every failure the user can cause or fix (missing Java or Maven, a port in use, a damaged state
dir) raises :class:`KafkaError` with a message that says what is wrong and what to do, never a
Java stack trace.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from embedded.jars import ensure_jars
from embedded.kafka_topics import KafkaError, is_reachable
from embedded.ports import free_port, port_free, port_open
from embedded.provision import ProvisionError, locked, require_java, tail
from tracker.settings import Settings, SettingsError

NODE_ID = 1
HOST = "127.0.0.1"
# Serial GC: the JVM's own choice for a small heap on few cores. No concurrent marking threads
# compete with the collector for the 2 cores, and young pauses stay near 10 ms every ~10 s
# under the collector bench's half load (G1 paused up to 40 ms, and more with the default
# 128 MB cleaner buffer below in its old generation). Metaspace sized so start-up needs no
# full collection. Heap cap and JIT from settings.
JVM_FLAGS = (
    "-XX:+UseSerialGC", "-XX:MetaspaceSize=96m", "-XX:+ExitOnOutOfMemoryError",
    "-Xss512k", "-Djava.awt.headless=true",
)
# C1 only: a quicker start (2.0 against 2.4 s quiet, more on a busy machine) and no C2 compiler
# threads while tests run; C2 pays off under sustained load (the benchmarks start with it)
JIT_FLAGS = {"quick": ("-XX:TieredStopAtLevel=1",), "full": ()}


class MissingPrerequisite(KafkaError, ProvisionError):
    """``java`` or ``mvn`` is not installed (a KafkaError for whoever starts the broker, and a
    ProvisionError, so ``clickloop test`` reports it like any other missing prerequisite)."""


@dataclass(frozen=True)
class BrokerStatus:
    """What ``clickloop kafka status`` reports."""

    running: bool
    bootstrap: str | None
    pid: int | None
    state_dir: Path


@dataclass(frozen=True)
class _Paths:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def config(self) -> Path:
        return self.root / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.root / "log4j.properties"

    @property
    def pid(self) -> Path:
        return self.root / "kafka.pid"

    @property
    def ports(self) -> Path:
        return self.root / "kafka.ports"

    @property
    def cluster_id(self) -> Path:
        return self.root / "cluster.id"

    @property
    def meta(self) -> Path:
        return self.data / "meta.properties"

    @property
    def server_log(self) -> Path:
        return self.logs / "server.log"

    @property
    def stdout_log(self) -> Path:
        return self.logs / "kafka.out"


def _paths(settings: Settings) -> _Paths:
    return _Paths(Path(settings.state_dir) / "kafka")


# --------------------------------------------------------------------------------------------
# broker lifecycle


def ensure_kafka(settings: Settings, *, timeout: float = 90.0) -> str:
    """The bootstrap address to use: the configured cluster, else the (started) embedded one."""
    if settings.kafka.bootstrap:
        return settings.kafka.bootstrap
    return start(settings, timeout=timeout)


def start(settings: Settings, *, port: int | None = None, timeout: float = 90.0) -> str:
    """Start the embedded broker (or reuse the running one) and return ``127.0.0.1:PORT``.

    Without ``port`` the previous port is preferred so clients configured last time still work;
    with ``port`` that exact port is required. Returns only once the broker answers a metadata
    request, so callers can produce right away.
    """
    jit_flags(settings.kafka.jit)  # a wrong value is refused before anything starts
    paths = _paths(settings)
    paths.root.mkdir(parents=True, exist_ok=True)
    with locked(paths.root / ".lock"):
        running = _running_pid(paths)
        if running is not None:
            broker_port = _read_ports(paths).get("broker")
            if broker_port is None:
                raise KafkaError(
                    f"a broker is running (pid {running}) but {paths.ports} is missing; "
                    f"stop it with `clickloop kafka stop`"
                )
            if port is not None and port != broker_port:
                raise KafkaError(
                    f"the embedded broker already runs on {HOST}:{broker_port}, not on port "
                    f"{port}; stop it first with `clickloop kafka stop`"
                )
            return f"{HOST}:{broker_port}"
        try:
            java = require_java()
            kafka_jars = ensure_jars(settings, ["kafka"])["kafka"]
        except ProvisionError as exc:
            raise MissingPrerequisite(str(exc)) from exc
        cluster_id = _check_state(paths)
        broker_port, controller_port = _choose_ports(paths, port)
        _write_config(paths, settings, broker_port, controller_port)
        if cluster_id is None:
            cluster_id = _format(paths, java, kafka_jars, settings.kafka.heap)
        process = _launch(paths, java, kafka_jars, settings.kafka.heap, settings.kafka.jit)
        paths.pid.write_text(f"{process.pid}\n")
        paths.ports.write_text(
            json.dumps({"broker": broker_port, "controller": controller_port}) + "\n"
        )
        bootstrap = f"{HOST}:{broker_port}"
        try:
            _wait_ready(paths, process, bootstrap, timeout)
        except BaseException:
            _terminate(process.pid, 10.0)
            paths.pid.unlink(missing_ok=True)
            raise
        return bootstrap


def stop(settings: Settings, *, timeout: float = 30.0) -> bool:
    """Stop the embedded broker: SIGTERM (a clean shutdown flushes logs), SIGKILL after
    ``timeout``. Returns False when no broker was running."""
    paths = _paths(settings)
    if not paths.root.exists():
        return False
    with locked(paths.root / ".lock"):
        pid = _running_pid(paths)
        if pid is None:
            return False
        _terminate(pid, timeout)
        paths.pid.unlink(missing_ok=True)
        return True


def status(settings: Settings) -> BrokerStatus:
    """Whether the embedded broker of ``settings.state_dir`` runs, and where."""
    paths = _paths(settings)
    pid = _running_pid(paths) if paths.root.exists() else None
    port = _read_ports(paths).get("broker") if pid is not None else None
    return BrokerStatus(
        running=pid is not None and port is not None,
        bootstrap=f"{HOST}:{port}" if port is not None else None,
        pid=pid,
        state_dir=Path(settings.state_dir),
    )


def _check_state(paths: _Paths) -> str | None:
    """The cluster id of an already formatted log dir, None for a fresh one; a damaged state
    dir is an error rather than something to reformat (that would silently drop events)."""
    meta = paths.meta
    fix = (f"fix or delete {paths.root} (deleting it discards the events the broker still "
           f"holds) and start again")
    if not meta.exists():
        leftovers = [p.name for p in paths.data.iterdir()] if paths.data.exists() else []
        if leftovers:
            shown = ", ".join(sorted(leftovers)[:5])
            raise KafkaError(
                f"broken Kafka state dir: {paths.data} holds data ({shown}) but no "
                f"meta.properties; {fix}"
            )
        return None
    try:
        props = _read_properties(meta.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise KafkaError(f"broken Kafka state dir: cannot read {meta}: {exc}; {fix}") from exc
    cluster_id = props.get("cluster.id", "")
    if not _valid_cluster_id(cluster_id) or props.get("node.id") != str(NODE_ID):
        raise KafkaError(
            f"broken Kafka state dir: {meta} is not a KRaft meta.properties of node {NODE_ID} "
            f"(need cluster.id=<22-char id> and node.id={NODE_ID}); {fix}"
        )
    if paths.cluster_id.exists():
        recorded = paths.cluster_id.read_text(encoding="utf-8").strip()
        if recorded != cluster_id:
            raise KafkaError(
                f"broken Kafka state dir: cluster id mismatch: {meta} says {cluster_id!r} but "
                f"{paths.cluster_id} says {recorded!r} (log dir from another cluster?); {fix}"
            )
    return cluster_id


def _read_properties(text: str) -> dict[str, str]:
    props: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        props[key.strip()] = value.strip()
    return props


def _valid_cluster_id(value: str) -> bool:
    try:
        return len(value) == 22 and len(base64.urlsafe_b64decode(value + "==")) == 16
    except ValueError:
        return False


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (as Kafka's
    ``Uuid``), never starting with '-' which the Kafka tools would read as an option."""
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not value.startswith("-"):
            return value


def _choose_ports(paths: _Paths, requested: int | None) -> tuple[int, int]:
    previous = _read_ports(paths)
    if requested is not None:
        if not 0 < requested < 65536:
            raise KafkaError(f"port {requested} is not a valid TCP port (1-65535)")
        if not port_free(requested, HOST, reuse_address=True):
            raise KafkaError(
                f"port {requested} on {HOST} is already in use; pick another with --port or "
                f"leave --port out to use a free one"
            )
        broker = requested
    else:
        broker = _prefer(previous.get("broker"), avoid=set())
    controller = _prefer(previous.get("controller"), avoid={broker})
    return broker, controller


def _prefer(port: int | None, avoid: set[int]) -> int:
    if port is not None and port not in avoid and port_free(port, HOST, reuse_address=True):
        return port
    while True:
        candidate = free_port(HOST)
        if candidate not in avoid:
            return candidate






def _read_ports(paths: _Paths) -> dict[str, int]:
    try:
        data = json.loads(paths.ports.read_text(encoding="utf-8"))
        return {k: int(v) for k, v in data.items() if k in ("broker", "controller")}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def _write_config(paths: _Paths, settings: Settings, broker: int, controller: int) -> None:
    paths.data.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    config = {
        "process.roles": "broker,controller",
        "node.id": NODE_ID,
        "controller.quorum.voters": f"{NODE_ID}@{HOST}:{controller}",
        "listeners": f"PLAINTEXT://{HOST}:{broker},CONTROLLER://{HOST}:{controller}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{broker}",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": paths.data,
        "num.partitions": settings.kafka.partitions,
        "default.replication.factor": 1,
        # one node: internal topics cannot have more replicas, and few partitions start faster
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 5,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
        # 2 cores: fewer threads than Kafka's server-class defaults
        "num.network.threads": 2,
        "num.io.threads": 2,
        "background.threads": 2,
        "num.recovery.threads.per.data.dir": 1,
        "log.cleaner.threads": 1,
        # the cleaner only compacts the internal topics here; its default 128 MB buffer would
        # be most of the live heap (more GC work, and 128 MB of RSS for nothing)
        "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
        "log.retention.hours": 168,
    }
    paths.config.write_text(
        "# written by tracker/kafka_broker.py on every start; edits are overwritten\n"
        + "".join(f"{key}={value}\n" for key, value in config.items()),
        encoding="utf-8",
    )
    paths.log4j.write_text(
        "log4j.rootLogger=INFO, file\n"
        "log4j.appender.file=org.apache.log4j.RollingFileAppender\n"
        f"log4j.appender.file.File={paths.server_log}\n"
        "log4j.appender.file.MaxFileSize=10MB\n"
        "log4j.appender.file.MaxBackupIndex=3\n"
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka.request.logger=WARN\n"
        "log4j.logger.state.change.logger=WARN\n"
        "log4j.logger.org.apache.kafka.clients=WARN\n",
        encoding="utf-8",
    )


def jit_flags(jit: str) -> tuple[str, ...]:
    """The JVM flags of a ``CLICKLOOP_KAFKA_JIT`` value."""
    try:
        return JIT_FLAGS[jit]
    except KeyError:
        raise SettingsError(f"CLICKLOOP_KAFKA_JIT must be one of {', '.join(JIT_FLAGS)}, "
                            f"not {jit!r}") from None


def _jvm(java: str, jars: Path, heap: str, paths: _Paths, jit: str = "quick") -> list[str]:
    return [
        java, f"-Xmx{heap}", *JVM_FLAGS, *jit_flags(jit),
        f"-Dlog4j.configuration=file:{paths.log4j}", f"-Dkafka.logs.dir={paths.logs}",
        "-cp", f"{jars}/*",
    ]


def _format(paths: _Paths, java: str, jars: Path, heap: str) -> str:
    cluster_id = new_cluster_id()
    command = [*_jvm(java, jars, heap, paths), "kafka.tools.StorageTool", "format",
               "--cluster-id", cluster_id, "--config", str(paths.config), "--ignore-formatted"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise KafkaError(
            f"formatting the Kafka log dir {paths.data} failed (exit code {result.returncode}):\n"
            + tail(result.stdout + result.stderr)
        )
    paths.cluster_id.write_text(cluster_id + "\n", encoding="utf-8")
    return cluster_id


def _launch(paths: _Paths, java: str, jars: Path, heap: str, jit: str
            ) -> subprocess.Popen[bytes]:
    command = [*_jvm(java, jars, heap, paths, jit), "kafka.Kafka", str(paths.config)]
    with open(paths.stdout_log, "ab") as out:
        # own session: the broker outlives `clickloop kafka start` and ignores its Ctrl-C
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=paths.root)


def _wait_ready(paths: _Paths, process: subprocess.Popen[bytes], bootstrap: str,
                timeout: float) -> None:
    deadline = time.monotonic() + timeout
    port = int(bootstrap.rsplit(":", 1)[1])
    while True:
        code = process.poll()
        if code is not None:
            raise KafkaError(
                f"the Kafka broker exited with code {code} while starting; end of "
                f"{paths.server_log}:\n{_log_tail(paths)}"
            )
        if port_open(port, HOST) and is_reachable(bootstrap):
            return
        if time.monotonic() > deadline:
            raise KafkaError(
                f"the Kafka broker did not answer on {bootstrap} within {timeout:.0f}s; end of "
                f"{paths.server_log}:\n{_log_tail(paths)}"
            )
        time.sleep(0.3)




def _running_pid(paths: _Paths) -> int | None:
    """The broker's pid if it runs; clears a stale pid file (crash, reboot)."""
    try:
        pid = int(paths.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    if _alive(pid) and _is_our_broker(pid, paths):
        return pid
    paths.pid.unlink(missing_ok=True)
    return None


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap our own exited child so it stops looking alive
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _is_our_broker(pid: int, paths: _Paths) -> bool:
    # a recycled pid must not make us signal someone else's process
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the pid file
    return str(paths.config).encode() in cmdline


def _terminate(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _log_tail(paths: _Paths, lines: int = 25) -> str:
    texts = []
    for log in (paths.server_log, paths.stdout_log):
        with contextlib.suppress(OSError):
            texts.append(log.read_text(encoding="utf-8", errors="replace"))
    return tail("\n".join(texts), lines) or "(the broker wrote no log)"
