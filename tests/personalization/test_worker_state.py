"""What a worker restores before it reads Kafka (no broker needed for this part)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from personalization.stores import Checkpoint
from personalization.stores.embedded import EmbeddedStore
from personalization.worker import Worker
from tests.personalization.builders import add, epoch, view
from tests.personalization.helpers import seed
from tracker.settings import Settings


def settings_for(tmp_path: Path) -> Settings:
    base = Settings.from_env(environ={})
    return dataclasses.replace(base, state_dir=tmp_path / "state")


def test_a_worker_restores_model_counters_and_open_sessions(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    store = EmbeddedStore(settings.state_dir / "personalization")
    engine = seed(store, [view("ann", 0, "JK-1"), add("ann", 1, "JK-1"), view("bob", 0, "SH-1")],
                  now=epoch(2), group=settings.personalization.consumer_group)
    worker = Worker(settings, store, bootstrap="127.0.0.1:9")  # Kafka is only used by run()
    assert worker.engine.model.learned == engine.model.learned
    assert worker.engine.event_time == epoch(1)
    assert worker.engine.counters.applied == 3
    assert worker.engine.graph.views == {"JK-1": 1, "SH-1": 1}
    worker.assigned([])  # nothing assigned yet: nothing tracked
    worker.engine.restore_open(store.open_sessions("events:0"), "events:0")
    assert set(worker.engine.open) == {"ann", "bob"}


def test_an_unreadable_model_is_replaced_not_fatal(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_for(tmp_path)
    store = EmbeddedStore(settings.state_dir / "personalization")
    store.save(Checkpoint(group=settings.personalization.consumer_group, offsets={"t:0": 5},
                          profiles=[], sources={}, worker_state=b"not a pickle",
                          summary={}))
    with caplog.at_level(logging.ERROR, logger="clickloop.personalization.worker"):
        worker = Worker(settings, store, bootstrap="127.0.0.1:9")
    assert worker.engine.model.learned == 0
    assert "cannot read the checkpointed model" in caplog.text
    assert store.load_checkpoint(settings.personalization.consumer_group).offsets == {"t:0": 5}
