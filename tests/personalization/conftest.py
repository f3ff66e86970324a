"""Fixtures shared by the personalization tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from personalization.stores import Store
from personalization.stores.embedded import EmbeddedStore
from personalization.stores.redis_store import RedisStore


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each store implementation in turn: a test that takes it proves both behave the same."""
    made: Store
    if request.param == "embedded":
        made = EmbeddedStore(tmp_path / "state" / "personalization")
    else:
        made = RedisStore(request.getfixturevalue("redis_url"), prefix="clickloop:")
    yield made
    made.close()
