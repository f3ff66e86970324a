"""What the bandit tests share: a rules file with a bandit slot, trained statistics, an engine
with a learner, and the events that feed it."""

from __future__ import annotations

from typing import Any

from personalization.bandit.context import DIM
from personalization.bandit.learning import BanditLearner
from personalization.bandit.policy import LinearArms
from personalization.engine import Engine
from personalization.holdout import BANDIT
from personalization.intent import IntentModel
from personalization.observation import observe
from personalization.recommend import ItemGraph
from tests.personalization.builders import SHOP, event

RULES_YAML = """\
version: 1
slots:
  hero:
    default:
      variant: standard
      text: Hello
    variants:
      - variant: free_shipping
        when: {device: mobile}
        text: Free shipping
      - variant: discount
        when: {cart: not_empty}
        text: Ten percent off
    bandit:
      share: %(share)s
      policy: %(policy)s
      reward: %(reward)s
      explore: 0.05
%(pin)s
"""


def rules_text(share: float = 1.0, policy: str = "thompson", reward: str = "click",
               pin: str | None = None) -> str:
    return RULES_YAML % {"share": share, "policy": policy, "reward": reward,
                    "pin": f"      pin: {pin}" if pin else ""}


def trained(favourite: str, others: list[str], n: int = 400) -> LinearArms:
    arms = LinearArms()
    x = [1.0] + [0.0] * (DIM - 1)
    for i in range(n):
        arms.update(favourite, x, 1.0 if i % 2 else 0.0)
        for other in others:
            arms.update(other, x, 0.0)
    return arms


def click(visitor: str, minute: float, decision_id: str, variant: str) -> dict[str, Any]:
    return event("personalization_click", visitor, minute, url=f"{SHOP}/",
                 decision={"decision_id": decision_id, "slot": "hero", "variant": variant,
                           "arm": BANDIT})


def learner_for(reward: str, log: dict[str, dict[str, Any]] | None = None
                ) -> tuple[Engine, BanditLearner]:
    learner = BanditLearner(lambda slot: reward if slot == "hero" else None,
                            lookup=(log or {}).get)
    return Engine(IntentModel(), ItemGraph(), gap_s=1800.0, bandit=learner), learner


def run(engine: Engine, events: list[dict[str, Any]], until: float | None = None) -> None:
    for raw in events:
        obs = observe(raw)
        engine.process(obs, "events:0")
        engine.advance(obs.ts)
    if until is not None:
        engine.advance(until)


def pulls(learner: BanditLearner) -> dict[str, tuple[int, float]]:
    arms = learner.slots.get("hero") or LinearArms()
    return {arm: (arms.pulls[arm], arms.rewards[arm]) for arm in arms.pulls}
