"""The demo's services: start them as child processes, watch them, stop them cleanly.

``clickloop demo`` and the end-to-end tests run the same stack through :class:`Stack`:

1. Kafka: the configured cluster (``CLICKLOOP_KAFKA_BOOTSTRAP``) or the embedded broker of the
   state dir (started here, and stopped at the end only if it was started here);
2. the collector (gunicorn, 2 workers), the personalization API (gunicorn, 2 workers) and
   worker, and the streaming Spark job (``stream_jobs.stream.job``, one ~1 GB driver), each
   a child process in its own session with its log in ``<logs>/<name>.log``;
3. the demo shop, in this process (werkzeug on a thread), pointed at the collector and the API.

Everything listens on one host name (``CLICKLOOP_DEMO_SHOP_HOST``, 127.0.0.1): the collector's
``cl_vid`` cookie is then first-party for the shop and the decision API too. Ports are the
configured ones when free, else free ones (a second demo, or a test, can run next to a first).

Children get their own session, so a Ctrl-C in the terminal reaches only the demo, which stops
them in order: SIGTERM first (gunicorn flushes its producers, the worker checkpoints; the Spark
job's JVM exits when its Python driver does, and its checkpoint makes that safe at any
instant), then SIGTERM to the whole process group, then SIGKILL for what is still there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedded import kafka_broker, kafka_topics
from embedded.ports import free_port, pick_port, url_port
from tracker.settings import PREFIX, PROJECT_ROOT, Settings

Say = Callable[[str], None]
STREAM_TRIGGER_SECONDS = 5.0  # the lake and live sessions fill every few seconds in a demo


class StackError(RuntimeError):
    """A service could not be started; the message names it and quotes its log."""


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether ``url`` answers 200 right now."""
    import requests

    try:
        return requests.get(url, timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


@dataclass
class Service:
    """One child process: started in its own session, logging to ``log_path``."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready: Callable[[], bool] | None = None  # polled after start until True
    first_signal: int = signal.SIGTERM
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(self.argv)}\n"
                      .encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv, env=self.env, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float) -> None:
        """Return once ``ready()`` holds; StackError if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                code = self.process.returncode if self.process is not None else None
                raise StackError(f"{self.name} exited with code {code} while starting; end of "
                                 f"{self.log_path}:\n{self.log_tail()}")
            if self.ready is None or self.ready():
                return
            if time.monotonic() > deadline:
                raise StackError(f"{self.name} was not ready after {timeout:.0f} s; end of "
                                 f"{self.log_path}:\n{self.log_tail()}")
            time.sleep(0.25)

    def stop(self, timeout: float = 30.0) -> int | None:
        """Polite signal, then SIGTERM and SIGKILL to the process group; the exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, self.first_signal)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    process.wait(10)
        # children of the child (a JVM, gunicorn workers) must not outlive it
        if self._signal_group(signal.SIGTERM):
            deadline = time.monotonic() + 15
            while self._signal_group(0) and time.monotonic() < deadline:
                time.sleep(0.2)
            self._signal_group(signal.SIGKILL)
        return process.returncode

    def _signal_group(self, signum: int) -> bool:
        """Signal the child's process group; False when nothing is left in it."""
        if self.process is None:
            return False
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.strip().splitlines()[-lines:])


@dataclass(frozen=True)
class Endpoints:
    """Where the stack's HTTP services are, as browsers reach them."""

    host: str
    shop_port: int
    collector_port: int
    api_port: int
    dashboard_port: int | None = None  # None: no dashboard (a public host without a token)

    @property
    def dashboard_url(self) -> str | None:
        return (f"http://{self.host}:{self.dashboard_port}/" if self.dashboard_port is not None
                else None)

    @property
    def shop_url(self) -> str:
        return f"http://{self.host}:{self.shop_port}"

    @property
    def collector_url(self) -> str:
        return f"http://{self.host}:{self.collector_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"


def choose_endpoints(settings: Settings) -> Endpoints:
    """The configured demo ports where free, free ones otherwise, all on the shop's host."""
    demo = settings.demo
    host = demo.shop_host
    taken: set[int] = set()

    def pick(preferred: int | None) -> int:
        port = pick_port(host, preferred if preferred not in taken else None)
        while port in taken:
            port = free_port(host)
        taken.add(port)
        return port

    collector = pick(url_port(demo.collector_url))
    api = pick(url_port(demo.api_url))
    shop = pick(demo.shop_port)
    from dashboard.auth import needs_token

    served = settings.dashboard.token or not needs_token(host)
    return Endpoints(host, shop, collector, api,
                     pick(settings.dashboard.port) if served else None)


@dataclass
class Stack:
    """The demo's services for ``settings``. ``start()``, use, ``stop()`` (idempotent).

    ``overrides`` are extra ``CLICKLOOP_*`` variables for every child (a test shortens the
    session gap, say); ``stream=False`` leaves the Spark job out (nothing reads the lake).
    """

    settings: Settings
    logs: Path
    say: Say = print
    overrides: Mapping[str, str] = field(default_factory=dict)
    stream: bool = True
    endpoints: Endpoints | None = None
    bootstrap: str | None = None
    api_token: str = ""
    services: list[Service] = field(default_factory=list)
    shop: Any = None
    started_kafka: bool = False
    child_settings: Settings | None = None
    env: dict[str, str] = field(default_factory=dict)  # every child's environment

    # --- start ----------------------------------------------------------------------------------

    def start(self, *, timeout: float = 120.0) -> None:
        """Kafka, topics, the services, the shop; StackError (everything stopped) on failure."""
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        settings = self.settings
        self.endpoints = endpoints = self.endpoints or choose_endpoints(settings)
        self.bootstrap = self._kafka()
        kafka_topics.ensure_topics(self.bootstrap, [settings.kafka.topic,
                                                      settings.kafka.dead_letter_topic],
                                     settings.kafka.partitions, settings.kafka.replication)
        self.api_token = settings.personalization.api_token or secrets.token_urlsafe(24)
        self.child_settings = child = self._child_settings(endpoints)
        self.env = env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
        env.update(child.to_env())
        env.update(self.overrides)
        env.setdefault("PYTHONUNBUFFERED", "1")
        cli = [sys.executable, "-m", "clickloop.cli"]
        host = endpoints.host
        self.services = [
            Service("collector", [*cli, "collector", "--host", host, "--port",
                                  str(endpoints.collector_port), "--workers", "2"],
                    env, self.logs / "collector.log",
                    ready=lambda: http_ok(endpoints.collector_url + "/readyz")),
            Service("personalization-api", [*cli, "personalization", "api", "--bind",
                                            f"{host}:{endpoints.api_port}", "--workers", "2"],
                    env, self.logs / "personalization-api.log",
                    ready=lambda: http_ok(endpoints.api_url + "/v1/health")),
            Service("personalization-worker", [*cli, "personalization", "worker"],
                    env, self.logs / "personalization-worker.log"),
        ]
        if endpoints.dashboard_url is not None:
            self.services.append(Service(
                "dashboard", [*cli, "dashboard", "--host", host, "--port",
                              str(endpoints.dashboard_port)],
                env, self.logs / "dashboard.log",
                ready=lambda: http_ok(f"{endpoints.dashboard_url}healthz")))
        if self.stream:
            self.services.append(Service(
                "stream-events", [sys.executable, "-m", "stream_jobs.stream.job",
                                  "--trigger-seconds", f"{STREAM_TRIGGER_SECONDS:g}"],
                env, self.logs / "stream-events.log"))
        for service in self.services:  # all at once: they start in parallel
            service.start()
        for service in self.services:
            service.wait_ready(timeout)
            self.say(f"  {service.name:24} pid {service.pid:<7} log {service.log_path}")
        self._start_shop(child)

    def _kafka(self) -> str:
        settings = self.settings
        if settings.kafka.bootstrap:
            self.say(f"  kafka                    {settings.kafka.bootstrap} (configured)")
            return settings.kafka.bootstrap
        # marked before starting it: interrupted right after, stop() still stops it
        self.started_kafka = not kafka_broker.status(settings).running
        bootstrap = kafka_broker.ensure_kafka(settings)
        state = "started" if self.started_kafka else "already running"
        self.say(f"  kafka                    {bootstrap} (embedded, {state}; "
                 f"{Path(settings.state_dir) / 'kafka'})")
        return bootstrap

    def _child_settings(self, endpoints: Endpoints) -> Settings:
        """The settings every child reads: this Kafka, these URLs, the shop's origin allowed."""
        s = self.settings
        origins = tuple(dict.fromkeys((*s.collector.allowed_origins, endpoints.shop_url)))
        spark = s.spark
        # a demo on a laptop: a 1 GB driver and two shuffle partitions, unless configured
        if f"{PREFIX}SPARK_DRIVER_MEMORY" not in os.environ and spark.driver_memory == "2g":
            spark = dataclasses.replace(spark, driver_memory="1g")
        if f"{PREFIX}SPARK_SHUFFLE_PARTITIONS" not in os.environ:
            spark = dataclasses.replace(spark, shuffle_partitions=2)
        return dataclasses.replace(
            s,
            state_dir=Path(s.state_dir).resolve(),
            lake_dir=Path(s.lake).resolve(),
            jars_dir=Path(s.jars_dir).resolve(),
            kafka=dataclasses.replace(s.kafka, bootstrap=self.bootstrap),
            collector=dataclasses.replace(s.collector, allowed_origins=origins),
            spark=spark,
            personalization=dataclasses.replace(
                s.personalization, api_token=self.api_token,
                api_bind=f"{endpoints.host}:{endpoints.api_port}"),
            demo=dataclasses.replace(s.demo, shop_host=endpoints.host,
                                     shop_port=endpoints.shop_port,
                                     collector_url=endpoints.collector_url,
                                     api_url=endpoints.api_url),
        )

    def _start_shop(self, child: Settings) -> None:
        from demo.shop import create_app, serve

        endpoints = self.endpoints
        assert endpoints is not None
        self.shop = serve(create_app(child), endpoints.host, endpoints.shop_port)
        self.say(f"  {'shop':24} {self.shop.url} (in this process)")

    # --- watch ----------------------------------------------------------------------------------

    def dead(self) -> list[Service]:
        """Services that have exited (they should all run until :meth:`stop`)."""
        return [s for s in self.services if not s.running()]

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    # --- stop -----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the shop, every child (in reverse order) and the Kafka broker we started."""
        if self.shop is not None:
            shop, self.shop = self.shop, None
            with contextlib.suppress(Exception):  # the shop's tracker flush must not block exit
                shop.stop()
        # the collector first (no new events), then the consumers, which checkpoint
        order = sorted(self.services, key=lambda s: s.name != "collector")
        for service in order:
            if service.process is None:
                continue
            code = service.stop()
            self._tell(f"  stopped {service.name} (exit code {code})")
        self.services = []
        if self.started_kafka:
            self.started_kafka = False
            kafka_broker.stop(self.settings)
            self._tell("  stopped kafka")

    def _tell(self, message: str) -> None:
        """Say it if we can: the terminal may be gone (``| tee`` dies with the Ctrl-C), and
        the rest of the shutdown must still happen."""
        with contextlib.suppress(OSError, ValueError):
            self.say(message)
