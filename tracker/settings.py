"""The one settings object, read once from ``CLICKLOOP_*`` environment variables.

Every component receives a :class:`Settings` (or the section it needs) as an argument; nothing
deeper reads ``os.environ``. Production swaps clusters in by configuration alone, so every knob
an operator may need lives here, with its default, its variable name and a one-line reason.

Precedence: explicit overrides > environment > optional config file (``CLICKLOOP_CONFIG_FILE``,
TOML whose keys are the variable names without the ``CLICKLOOP_`` prefix, lower- or upper-case)
> defaults.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

PREFIX = "CLICKLOOP_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


def _env(name: str, default: Any = None, *, doc: str = "", factory: Any = None) -> Any:
    meta = {"env": PREFIX + name, "doc": doc}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class KafkaSettings:
    """Where events flow: the embedded broker by default, an existing cluster when configured."""

    bootstrap: str | None = _env(
        "KAFKA_BOOTSTRAP", None, doc="Use this Kafka cluster (host:port,...) instead of starting "
        "the embedded broker."
    )
    topic: str = _env("KAFKA_TOPIC", "clickloop.events", doc="Topic of accepted events.")
    dead_letter_topic: str = _env(
        "KAFKA_DEAD_LETTER_TOPIC", "clickloop.events.bad", doc="Topic of rejected events."
    )
    partitions: int = _env("KAFKA_PARTITIONS", 3, doc="Partitions for topics we create.")
    replication: int = _env("KAFKA_REPLICATION", 1, doc="Replication factor for topics we create.")
    heap: str = _env("KAFKA_HEAP", "512m", doc="Embedded broker JVM heap (-Xmx).")
    jit: Literal["quick", "full"] = _env(
        "KAFKA_JIT", "quick", doc="Embedded broker's JIT: `quick` (C1 only: starts sooner and "
        "compiles less while tests run) or `full` (C2 too: less broker CPU per request under "
        "sustained load, as a production broker runs; the benchmarks)."
    )


@dataclass(frozen=True)
class CollectorSettings:
    """The HTTP edge every website talks to."""

    allowed_origins: tuple[str, ...] = _env(
        "ALLOWED_ORIGINS", (), factory=None,
        doc="Comma-separated site origins allowed by CORS (e.g. https://shop.example.com).",
    )
    cookie_name: str = _env("COOKIE_NAME", "cl_vid", doc="First-party visitor cookie name.")
    cookie_domain: str | None = _env(
        "COOKIE_DOMAIN", None, doc="Cookie domain (e.g. .example.com); unset = host-only."
    )
    cookie_max_age_days: int = _env(
        "COOKIE_MAX_AGE_DAYS", 395, doc="Visitor cookie lifetime; 13 months is the legal maximum "
        "in most of the EU."
    )
    honour_dnt: bool = _env("HONOUR_DNT", True, doc="Treat `DNT: 1` as consent denied.")
    honour_gpc: bool = _env("HONOUR_GPC", True, doc="Treat `Sec-GPC: 1` as consent denied.")
    cookieless: str = _env(
        "COOKIELESS", "consent", doc="`consent`: cookieless only for consent-denied traffic; "
        "`always`: never set a cookie for anyone."
    )
    ipv4_prefix: int = _env("IPV4_PREFIX", 24, doc="Bits of an IPv4 address kept (rest zeroed).")
    ipv6_prefix: int = _env("IPV6_PREFIX", 48, doc="Bits of an IPv6 address kept.")
    trusted_proxies: int = _env(
        "TRUSTED_PROXIES", 0, doc="Reverse proxies in front of the collector whose "
        "X-Forwarded-For entries are trusted."
    )
    geoip_db: Path | None = _env(
        "GEOIP_DB", None, doc="MaxMind GeoIP2/GeoLite2 City database; unset = no geo."
    )
    spool_max_mb: int = _env(
        "SPOOL_MAX_MB", 512, doc="Local spool cap; past it the collector answers 503."
    )
    produce_timeout_s: float = _env(
        "PRODUCE_TIMEOUT_S", 5.0, doc="How long a request waits for Kafka before spooling."
    )


@dataclass(frozen=True)
class SparkSettings:
    """Spark jobs run `local[*]` by default and on any cluster by configuration."""

    master: str = _env("SPARK_MASTER", "local[*]", doc="Spark master URL.")
    driver_memory: str = _env("SPARK_DRIVER_MEMORY", "2g", doc="spark.driver.memory.")
    shuffle_partitions: int = _env(
        "SPARK_SHUFFLE_PARTITIONS", 4, doc="spark.sql.shuffle.partitions (small machines want few)."
    )
    session_gap_minutes: int = _env(
        "SESSION_GAP_MINUTES", 30, doc="Inactivity that closes a session."
    )
    class_archive: bool = _env(
        "SPARK_CLASS_ARCHIVE", True, doc="Driver JVMs we start map Spark's classes from a "
        "class-data-sharing archive under the jars dir (written by the first one): seconds "
        "off every start."
    )
    local_fs: bool = _env(
        "SPARK_LOCAL_FS", True, doc="Local-master jobs write files through our Hadoop file "
        "system (compiled with javac under the jars dir), not one that forks chmod per file."
    )


@dataclass(frozen=True)
class PersonalizationSettings:
    """The online model, visitor profiles and the decision API."""

    api_token: str | None = _env(
        "API_TOKEN", None, doc="Bearer token for backend routes; unset = backend routes refuse."
    )
    redis_url: str | None = _env(
        "REDIS_URL", None, doc="Redis for shared profiles/model; unset = embedded store."
    )
    rules_file: Path | None = _env(
        "RULES_FILE", None, doc="Content rules YAML; unset = the packaged example rules."
    )
    holdout_share: float = _env(
        "HOLDOUT_SHARE", 0.1, doc="Share of visitors always shown default content."
    )
    holdout_salt: str = _env(
        "HOLDOUT_SALT", "clickloop-holdout-1", doc="Salt of the stable hash that assigns "
        "visitors to the holdout; change it to draw a new holdout group."
    )
    api_bind: str = _env(
        "API_BIND", "127.0.0.1:8001", doc="host:port the decision API (gunicorn) listens on."
    )
    api_workers: int = _env(
        "API_WORKERS", 2, doc="Decision API gunicorn worker processes (threads: 4 each)."
    )
    consumer_group: str = _env(
        "CONSUMER_GROUP", "clickloop-personalization", doc="Kafka consumer group of the "
        "personalization workers."
    )
    worker_instance_id: str | None = _env(
        "WORKER_INSTANCE_ID", None, doc="Static group membership id of this worker; a "
        "restarted worker with the same id gets its partitions back without a rebalance."
    )
    intent_model: str = _env(
        "INTENT_MODEL", "logreg", doc="Online intent model: `logreg` (scaled logistic "
        "regression, chosen by bench/intent_model.py) or `forest` (adaptive random forest)."
    )
    checkpoint_seconds: float = _env(
        "CHECKPOINT_SECONDS", 1.0, doc="Worker checkpoints (profiles, model, offsets) at least "
        "this often; the embedded store's API reads are as fresh as the last checkpoint."
    )
    checkpoint_events: int = _env(
        "CHECKPOINT_EVENTS", 5000, doc="...and after at most this many events."
    )
    redis_prefix: str = _env(
        "REDIS_PREFIX", "clickloop:", doc="Prefix of every Redis key we write."
    )
    labels_topic: str | None = _env(
        "LABELS_TOPIC", None, doc="Kafka topic through which several workers share one model: "
        "workers publish labels and bandit outcomes to it, `clickloop personalization learner` "
        "learns them all and publishes the model; unset = each worker learns its own model."
    )


@dataclass(frozen=True)
class DemoSettings:
    """The demo shop and traffic simulator (`clickloop demo`)."""

    shop_host: str = _env("DEMO_SHOP_HOST", "127.0.0.1", doc="Interface the demo shop listens on.")
    shop_port: int = _env("DEMO_SHOP_PORT", 5000, doc="Port of the demo shop.")
    collector_url: str = _env(
        "DEMO_COLLECTOR_URL", "http://127.0.0.1:8080", doc="Collector URL as browsers and the "
        "demo shop reach it (snippet, pixel, server-side purchases)."
    )
    api_url: str = _env(
        "DEMO_API_URL", "http://127.0.0.1:8001", doc="Personalization API URL as browsers reach "
        "it (decisions for the shop's slots); the port of `clickloop personalization api`."
    )
    shop_secret: str | None = _env(
        "DEMO_SHOP_SECRET", None, doc="Signs the shop's session cookie (cart, login); unset = "
        "a random key kept in `<state_dir>/demo/shop-secret`."
    )


@dataclass(frozen=True)
class AirflowSettings:
    """The scheduled log pipeline in ``dags/``: where log files land and how jobs are launched."""

    landing_dir: Path | None = _env(
        "LANDING_DIR", None, doc="Folder the `web_logs` DAG picks web server logs up from; "
        "default `<state_dir>/landing`."
    )
    archive_dir: Path | None = _env(
        "ARCHIVE_DIR", None, doc="Where parsed log files are moved, with the claim manifest "
        "(`_manifest/`); default `<state_dir>/archive`."
    )
    landing_min_age_s: int = _env(
        "LANDING_MIN_AGE_S", 60, doc="Files modified more recently are left for the next run "
        "(they may still be being written)."
    )
    job_python: str | None = _env(
        "JOB_PYTHON", None, doc="Interpreter with clickloop installed that DAG tasks run the "
        "Spark jobs with (`python -m stream_jobs.<flow>.job`); unset = the Airflow worker's own."
    )
    spark_submit: str | None = _env(
        "SPARK_SUBMIT", None, doc="spark-submit binary; set = DAG tasks submit the jobs with it "
        "(client mode) instead of `python -m`."
    )


@dataclass(frozen=True)
class DashboardSettings:
    """The marketer's dashboard (`clickloop dashboard`)."""

    token: str | None = _env(
        "DASHBOARD_TOKEN", None, doc="Login token (or password) of the dashboard; required to "
        "listen on anything but a loopback address."
    )
    port: int = _env("DASHBOARD_PORT", 8050, doc="Port of `clickloop dashboard` and the demo's.")


@dataclass(frozen=True)
class Settings:
    """All of Clickloop's configuration. Build with :meth:`from_env`; pass it down explicitly."""

    state_dir: Path = _env(
        "STATE_DIR", PROJECT_ROOT / ".state", doc="All local state: broker data, spool, "
        "checkpoints, models."
    )
    lake_dir: Path | None = _env(
        "LAKE_DIR", None, doc="Event lake and reports; default `<state_dir>/lake`."
    )
    jars_dir: Path = _env(
        "JARS_DIR", PROJECT_ROOT / ".jars", doc="Where Maven copies the Kafka and Spark jars."
    )
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    collector: CollectorSettings = field(default_factory=CollectorSettings)
    spark: SparkSettings = field(default_factory=SparkSettings)
    personalization: PersonalizationSettings = field(default_factory=PersonalizationSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)
    airflow: AirflowSettings = field(default_factory=AirflowSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)

    @property
    def lake(self) -> Path:
        """The event lake root (``lake_dir`` or ``<state_dir>/lake``)."""
        return self.lake_dir if self.lake_dir is not None else self.state_dir / "lake"

    @property
    def landing(self) -> Path:
        """The web_logs landing folder (``airflow.landing_dir`` or ``<state_dir>/landing``)."""
        landing = self.airflow.landing_dir
        return landing if landing is not None else self.state_dir / "landing"

    @property
    def archive(self) -> Path:
        """Where parsed log files go (``airflow.archive_dir`` or ``<state_dir>/archive``)."""
        archive = self.airflow.archive_dir
        return archive if archive is not None else self.state_dir / "archive"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Read settings from ``environ`` (default: the process environment).

        ``overrides`` replace top-level fields or whole sections, which is how tests build
        settings for a temporary state dir.
        """
        env = dict(os.environ if environ is None else environ)
        config_file = env.get(PREFIX + "CONFIG_FILE")
        if config_file:
            for key, value in _read_config_file(Path(config_file)).items():
                env.setdefault(key, value)
        settings = _build(cls, env)
        return dataclasses.replace(settings, **overrides) if overrides else settings

    def to_env(self) -> dict[str, str]:
        """The ``CLICKLOOP_*`` variables that make a child process read exactly these settings
        (how the demo and the tests hand settings to the servers they start).

        >>> from pathlib import Path
        >>> env = Settings.from_env({}, state_dir=Path("/tmp/s")).to_env()
        >>> env["CLICKLOOP_STATE_DIR"], env["CLICKLOOP_HONOUR_DNT"], "CLICKLOOP_GEOIP_DB" in env
        ('/tmp/s', 'true', False)
        >>> Settings.from_env(env) == Settings.from_env({}, state_dir=Path("/tmp/s"))
        True
        """
        env: dict[str, str] = {}

        def walk(obj: Any) -> None:
            for f in fields(obj):
                value = getattr(obj, f.name)
                if "env" in f.metadata:
                    if value is None:
                        continue
                    if isinstance(value, bool):
                        value = "true" if value else "false"
                    elif isinstance(value, tuple):
                        value = ",".join(value)
                    env[f.metadata["env"]] = str(value)
                elif dataclasses.is_dataclass(value):
                    walk(value)

        walk(self)
        return env


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, doc) for every setting; the README's table is generated from this."""
    rows: list[tuple[str, str, str]] = []

    def walk(klass: type) -> None:
        hints = get_type_hints(klass)
        for f in fields(klass):
            if "env" in f.metadata:
                default = f.default if f.default is not dataclasses.MISSING else ""
                if isinstance(default, Path):
                    default = _display_path(default)
                if isinstance(default, tuple):
                    default = ",".join(default)
                rows.append((f.metadata["env"], "" if default is None else str(default),
                             f.metadata["doc"]))
            elif dataclasses.is_dataclass(hints[f.name]):
                walk(hints[f.name])

    walk(Settings)
    return rows


def _display_path(path: Path) -> str:
    try:
        return "./" + str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _read_config_file(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{PREFIX}CONFIG_FILE={path}: cannot read: {exc}") from exc
    out: dict[str, str] = {}
    for key, value in data.items():
        name = key.upper()
        if not name.startswith(PREFIX):
            name = PREFIX + name
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        out[name] = str(value)
    return out


def _build(klass: type, env: Mapping[str, str]) -> Any:
    hints = get_type_hints(klass)
    kwargs: dict[str, Any] = {}
    for f in fields(klass):
        hint = hints[f.name]
        if "env" not in f.metadata:
            if dataclasses.is_dataclass(hint):
                kwargs[f.name] = _build(hint, env)
            continue
        name = f.metadata["env"]
        raw = env.get(name)
        if raw is None or raw == "":
            continue
        kwargs[f.name] = _parse(name, raw, hint)
    return klass(**kwargs)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse(name: str, raw: str, hint: Any) -> Any:
    text = str(hint)
    raw = raw.strip()
    try:
        if hint is bool:
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise ValueError("expected true/false")
        if hint is int:
            return int(raw)
        if hint is float:
            return float(raw)
        if "tuple" in text:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if "Path" in text:
            return Path(raw).expanduser()
        if get_origin(hint) is Literal:
            if raw not in get_args(hint):
                raise ValueError(f"expected one of {', '.join(get_args(hint))}")
            return raw
        return raw
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r}: {exc}") from exc
