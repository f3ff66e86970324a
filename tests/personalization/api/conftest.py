"""Fixtures of the decision API tests: the seeded embedded store and a test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.personalization.api.support import NOW, CountingStore, make_app, story
from tests.personalization.helpers import seed


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    made = CountingStore(tmp_path / "state" / "personalization")
    seed(made, story(), now=NOW)
    CountingStore.reads = 0
    yield made
    made.close()


@pytest.fixture
def client(store: CountingStore, tmp_path: Path) -> FlaskClient:
    return make_app(store, tmp_path).test_client()
