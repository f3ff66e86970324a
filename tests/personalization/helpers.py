"""Shared set-up for the API tests: settings for a temp state dir, a store seeded through the
real engine (events in -> checkpoint), as the worker would leave it."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

from personalization.engine import Engine
from personalization.intent import IntentModel
from personalization.observation import observe
from personalization.recommend import ItemGraph
from personalization.stores import Checkpoint, Store
from tracker.settings import Settings

ORIGIN = "https://shop.example.com"
TOKEN = "s3cret-token"


def api_settings(state_dir: Path, **personalization: Any) -> Settings:
    base = Settings.from_env(environ={})
    values = {"api_token": TOKEN, "holdout_share": 0.0, **personalization}
    section = dataclasses.replace(base.personalization, **values)
    return dataclasses.replace(
        base, state_dir=state_dir, personalization=section,
        collector=dataclasses.replace(base.collector, allowed_origins=(ORIGIN,)),
    )


def seed(store: Store, events: list[dict[str, Any]], *, now: float, group: str =
         "clickloop-personalization", gap_s: float = 1800.0) -> Engine:
    """Run ``events`` through an engine and checkpoint the result into ``store``."""
    engine = Engine(IntentModel("logreg"), ItemGraph(), gap_s=gap_s, load=store.load_profile,
                    identity=store.resolve)
    for raw in events:
        obs = observe(raw)
        engine.process(obs, "events:0")
        engine.advance(obs.ts)
    engine.advance(now)
    profiles = engine.publish(now)
    store.save(Checkpoint(
        group=group, offsets={"events:0": len(events)}, profiles=profiles,
        sources={p.profile_id: "events:0" for p in profiles},
        worker_state=pickle.dumps({"model": engine.model, "engine": engine.state()}),
        summary=engine.model.summary(), graph=engine.graph.delta,
        popular=engine.graph.popular(20), links=dict(engine.link_changes)))
    engine.graph.clear_delta()
    engine.link_changes.clear()
    return engine
