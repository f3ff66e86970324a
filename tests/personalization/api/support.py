"""What the decision API tests share: a seeded story, a store that counts profile reads,
an app with a fixed clock, and a request helper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from personalization.api import create_app
from personalization.stores.embedded import EmbeddedStore
from tests.personalization.builders import add, buy, epoch, event, view
from tests.personalization.helpers import TOKEN, api_settings

NOW = epoch(24 * 60)  # the next day


def story() -> list[dict[str, Any]]:
    """Ann left the jacket in her cart yesterday and is back; Bob bought shoes and socks;
    two others viewed the jacket with the cap."""
    return [
        view("x1", 0, "JK-1"), view("x1", 1, "CP-1"), view("x2", 2, "JK-1"),
        view("x2", 3, "CP-1"),
        view("bob", 0, "SH-1"), view("bob", 1, "SK-1"), add("bob", 2, "SH-1"),
        add("bob", 2.5, "SK-1"), buy("bob", 4, "o-bob", {"SH-1": 1, "SK-1": 1}),
        view("ann", 10, "JK-1"), add("ann", 11, "JK-1"),
        event("page_view", "ann", 24 * 60 - 1, device="mobile"),
    ]


class CountingStore(EmbeddedStore):
    """The real embedded store, counting profile reads (to prove a read did not happen)."""

    reads = 0

    def read_profile(self, visitor_id: str):  # type: ignore[no-untyped-def]
        CountingStore.reads += 1
        return super().read_profile(visitor_id)


def make_app(store: Any, tmp_path: Path, **section: Any) -> Flask:
    app = create_app(api_settings(tmp_path / "state", **section), store=store)
    app.extensions["clickloop_personalization"].clock = lambda: NOW
    return app


def decide(client: FlaskClient, query: str, visitor: str | None = None, **headers: str):
    if visitor is not None:
        client.set_cookie("cl_vid", visitor)
    response = client.get(f"/v1/decide?{query}", headers=headers)
    client.application.extensions["clickloop_personalization"].decisions.flush()
    return response


AUTH = {"Authorization": f"Bearer {TOKEN}"}
