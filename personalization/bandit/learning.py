"""Delayed rewards: from the events the snippet reports back to the bandit's statistics.

The snippet echoes each decision's id in ``personalization_shown`` and ``personalization_click``
events. For a decision of the ``bandit`` arm the worker keeps a *pending* entry (its slot,
variant and the context vector logged with the decision) until its outcome is known:

- the outcome the slot's ``reward`` names happens in the same session — a click on that
  decision (``click``), an add to cart (``add_to_cart``) or a purchase (``purchase``) after it
  was shown: reward 1, learned at once;
- the session closes first: reward 0, learned then;

and in both cases the decision id is remembered until the session ends, so a repeated
``personalization_shown`` (a page shown twice, a browser retry) never counts a decision twice;
a report of a decision logged more than :data:`STALE_S` earlier (a page restored from the
browser's cache the next day) is ignored rather than learned again. A decision whose logged
record is missing (its batch was lost) is learned with the context computed from the profile
at the moment it was shown: close to what the API saw, better than learning nothing.

Pure: the decision log is read through ``lookup`` (a store read in the worker).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from personalization.bandit.context import VERSION, context_of, vector
from personalization.bandit.policy import LinearArms, from_state, state_dict
from personalization.holdout import BANDIT
from personalization.observation import Observation
from personalization.profile import Profile
from personalization.segments import segment_of

MAX_PENDING = 50  # per visitor: a long session's oldest decisions are learned as no reward
STALE_S = 3600.0  # a decision reported this long after it was made is not learned (again)
REWARD_EVENTS = {"add_to_cart": "add_to_cart", "purchase": "purchase"}


@dataclass
class Pending:
    decision_id: str
    slot: str
    variant: str
    x: list[float]


@dataclass
class LearnerCounters:
    shown: int = 0
    rewarded: int = 0  # learned with reward 1
    unrewarded: int = 0  # learned with reward 0 (session over without the outcome)
    repeated: int = 0  # shown again after being pending or learned
    unlogged: int = 0  # no logged record: context recomputed from the profile
    not_learned: int = 0  # pinned or a single allowed variant: nothing was chosen


class BanditLearner:
    """Pending bandit decisions per profile and the statistics they are learned into."""

    def __init__(self, reward_of: Callable[[str], str | None],
                 lookup: Callable[[str], dict[str, Any] | None] | None = None,
                 on_learn: Callable[[Pending, float], None] | None = None):
        self.reward_of = reward_of  # slot -> its configured reward (None: no bandit now)
        self.lookup = lookup or (lambda decision_id: None)
        # outcomes learned elsewhere (several workers, one shared learner) instead of here
        self.on_learn = on_learn
        self.slots: dict[str, LinearArms] = {}
        self.pending: dict[str, list[Pending]] = {}
        # decisions of each open session already learned: repeated reports are ignored
        self.learned: dict[str, list[str]] = {}
        self.counters = LearnerCounters()

    def observe(self, profile: Profile, obs: Observation) -> None:
        """Called by the engine after ``obs`` was applied to ``profile``."""
        kind = obs.event_type
        if kind == "personalization_shown":
            self._shown(profile, obs)
        elif kind == "personalization_click" and obs.decision is not None:
            self._reward(profile.profile_id, lambda p: p.decision_id == obs.decision.decision_id
                         and self.reward_of(p.slot) == "click")
        elif kind in REWARD_EVENTS:
            outcome = REWARD_EVENTS[kind]
            self._reward(profile.profile_id, lambda p: self.reward_of(p.slot) == outcome)

    def session_closed(self, profile_id: str) -> None:
        """The session ended: every decision still pending gets reward 0, once."""
        for p in self.pending.pop(profile_id, []):
            self._learn(profile_id, p, 0.0)
        self.learned.pop(profile_id, None)

    def forget(self, profile_ids: list[str]) -> None:
        """A forgotten visitor's pending decisions go unlearned (their context is personal)."""
        for profile_id in profile_ids:
            self.pending.pop(profile_id, None)
            self.learned.pop(profile_id, None)

    def _shown(self, profile: Profile, obs: Observation) -> None:
        ref = obs.decision
        if ref is None or ref.arm != BANDIT or self.reward_of(ref.slot) is None:
            return
        pid = profile.profile_id
        pending = self.pending.get(pid, [])
        if ref.decision_id in self.learned.get(pid, ()) or any(
                p.decision_id == ref.decision_id for p in pending):
            self.counters.repeated += 1
            return
        record = self.lookup(ref.decision_id)
        if record is not None and obs.ts - float(record.get("ts") or obs.ts) > STALE_S:
            self.counters.repeated += 1
            return
        if record is not None and record.get("bandit_learn") is False:
            self.counters.not_learned += 1
            return
        x = record.get("bandit_x") if record else None
        if not (isinstance(x, list) and record.get("bandit_version") == VERSION):
            self.counters.unlogged += 1
            segment = segment_of(profile, profile.intent, obs.ts)
            x = vector(context_of(profile, segment))
        self.counters.shown += 1
        self.pending[pid] = pending
        pending.append(Pending(ref.decision_id, ref.slot, ref.variant, [float(v) for v in x]))
        if len(pending) > MAX_PENDING:
            self._learn(pid, pending.pop(0), 0.0)

    def _reward(self, profile_id: str, matches: Callable[[Pending], bool]) -> None:
        pending = self.pending.get(profile_id)
        if not pending:
            return
        keep = []
        for p in pending:
            if matches(p):
                self._learn(profile_id, p, 1.0)
            else:
                keep.append(p)
        if keep:
            self.pending[profile_id] = keep
        else:
            del self.pending[profile_id]

    def _learn(self, profile_id: str, p: Pending, reward: float) -> None:
        if self.on_learn is not None:
            self.on_learn(p, reward)
        else:
            self.slots.setdefault(p.slot, LinearArms()).update(p.variant, p.x, reward)
        self.learned.setdefault(profile_id, []).append(p.decision_id)
        if reward:
            self.counters.rewarded += 1
        else:
            self.counters.unrewarded += 1

    # --- checkpoints ----------------------------------------------------------------------------

    def publish(self) -> dict[str, Any]:
        """The statistics, as JSON for the store (the API reads them)."""
        return state_dict(self.slots)

    def state(self) -> dict[str, Any]:
        """Everything to checkpoint with the model (pickled by the worker)."""
        return {"slots": self.publish(),
                "pending": {pid: [vars(p) for p in ps] for pid, ps in self.pending.items() if ps},
                "learned": {pid: list(ids) for pid, ids in self.learned.items() if ids},
                "counters": vars(self.counters).copy()}

    def restore_state(self, state: dict[str, Any]) -> None:
        self.slots = from_state(state.get("slots"))
        self.pending = {pid: [Pending(**p) for p in ps]
                        for pid, ps in (state.get("pending") or {}).items()}
        self.learned = {pid: list(ids) for pid, ids in (state.get("learned") or {}).items()}
        self.counters = LearnerCounters(**state.get("counters", {}))
