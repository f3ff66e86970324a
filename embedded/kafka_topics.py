"""Reaching a Kafka cluster and creating its topics: the embedded broker or one of the user's.

Every component that publishes or consumes makes sure its topics exist through here, so the
partition and replication settings are applied in one place.
"""

from __future__ import annotations

import time
from collections.abc import Iterable


class KafkaError(RuntimeError):
    """Kafka cannot be fetched, started or reached, or a topic cannot be created; the message
    says why and what to do (the embedded broker raises it too)."""


def _answers_metadata(bootstrap: str) -> bool:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError as ClientError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000,
                                 api_version_auto_timeout_ms=3000)
    except (ClientError, OSError):
        return False
    try:
        admin.describe_cluster()
        return True
    except (ClientError, OSError):
        return False
    finally:
        admin.close()


def is_reachable(bootstrap: str) -> bool:
    """Whether a Kafka cluster answers a metadata request at ``bootstrap``."""
    return _answers_metadata(bootstrap)


def ensure_topics(bootstrap: str, names: Iterable[str], partitions: int, replication: int,
                  *, timeout: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet; returns those created. Existing topics are left
    as they are (their partition count is not changed). Waits until every topic has a leader
    for each partition, so a producer right after this call does not race topic creation."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError as ClientError
    from kafka.errors import TopicAlreadyExistsError

    wanted = list(dict.fromkeys(names))
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap,
                                 request_timeout_ms=int(timeout * 1000))
    except (ClientError, OSError) as exc:
        raise KafkaError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    created: list[str] = []
    try:
        existing = set(admin.list_topics())
        for name in wanted:
            if name in existing:
                continue
            try:
                admin.create_topics([NewTopic(name, partitions, replication)],
                                    timeout_ms=int(timeout * 1000))
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # created concurrently by someone else: fine
            except ClientError as exc:
                raise KafkaError(f"cannot create topic {name!r} on {bootstrap}: {exc}") from exc
        _wait_for_leaders(admin, wanted, timeout)
    finally:
        admin.close()
    return created


def _wait_for_leaders(admin: object, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.describe_topics(names)  # type: ignore[attr-defined]
        ready = {t["topic"] for t in topics if t["error_code"] == 0 and t["partitions"]
                 and all(p["leader"] >= 0 for p in t["partitions"])}
        if ready >= set(names):
            return
        if time.monotonic() > deadline:
            raise KafkaError(f"topics {sorted(set(names) - ready)} have no leader after "
                             f"{timeout:.0f}s")
        time.sleep(0.2)
