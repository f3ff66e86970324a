"""Decisions for one visitor and several slots: what the browser and the backend routes share.

One profile read, one look at the rules, popular items and bandit statistics per call, however
many slots; the same holdout, the same logging (bounded by :class:`.decision_log.LogGate`) and
so the same outcome attribution whichever route asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from flask import Response

from personalization.api.services import Services
from personalization.decision import Decision, decide, decision_record
from personalization.stitching import read_person

MAX_SLOTS = 10  # per request: a page has a handful of slots


class UnknownSlot(LookupError):
    """A slot the rules file does not define (nothing to decide, nothing to log)."""

    def __init__(self, slot: str, known: Sequence[str]):
        super().__init__(f"unknown slot {slot!r}; the rules define {', '.join(known) or 'none'}")
        self.slot = slot


def decide_slots(svc: Services, visitor_id: str | None, slots: Sequence[str], *,
                 page: str | None = None, product: str | None = None) -> list[Decision]:
    """The decisions for ``slots`` (each known to the rules: else :class:`UnknownSlot`), logged
    when the visitor has a profile, within the gate's bound."""
    rules = svc.rules.current()
    for slot in slots:
        if rules.slot(slot) is None:
            raise UnknownSlot(slot, sorted(rules.slots))
    profile = read_person(svc.store, visitor_id) if visitor_id else None
    now = svc.clock()
    section = svc.settings.personalization
    popular, bandits = svc.popular(), svc.bandits()
    out = []
    for slot in slots:
        decision, ctx = decide(rules, slot, visitor_id=visitor_id, profile=profile,
                               popular=popular, holdout_share=section.holdout_share,
                               salt=section.holdout_salt, now=now, bandits=bandits,
                               rng=svc.rng, on_screen=product)
        # a cookie the worker has no profile of was never seen by the collector: not logged
        if ctx is not None and profile is not None and svc.gate.admit(profile.profile_id,
                                                                      profile.updated):
            svc.decisions.add(decision_record(decision, ctx, now, page=page, product=product))
        out.append(decision)
    return out


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON answer serialised with orjson (a fraction of ``jsonify``'s cost per request)."""
    response = Response(orjson.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
