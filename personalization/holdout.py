"""Who is in the holdout: a stable hash of the profile id, no state to store or lose.

The same visitor lands in the same group on every request, every API instance and every
restart, and nobody can choose their group. Changing ``CLICKLOOP_HOLDOUT_SALT`` draws a new
group (do it between experiments, not during one).

:func:`bucket` maps an id to a point of [0, 1); the holdout is ``[0, holdout_share)``. The rest
is the treated population, which a slot with a ``bandit:`` block splits further by the same
bucket without moving anyone in or out of the holdout: the first ``bandit_share`` of the
treated range gets the bandit in that slot, the rest the rules.

>>> [arm_of("visitor-1", holdout_share=share, salt="s") for share in (0.0, 1.0)]
['rules', 'holdout']
>>> arm_of("visitor-1", holdout_share=0.0, salt="s", bandit_share=1.0)
'bandit'
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

HOLDOUT = "holdout"
RULES = "rules"
BANDIT = "bandit"


@lru_cache(maxsize=65_536)  # a hash per request is a tenth of a decision's own time
def bucket(profile_id: str, salt: str) -> float:
    """A uniform, stable point of [0, 1) for ``profile_id`` under ``salt``."""
    digest = hashlib.sha256(f"{salt}\x00{profile_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def arm_of(profile_id: str, *, holdout_share: float, salt: str, bandit_share: float = 0.0) -> str:
    """``holdout`` for a ``holdout_share`` of profiles; of the others, ``bandit`` for a
    ``bandit_share`` and ``rules`` for the rest."""
    point = bucket(profile_id, salt)
    if point < holdout_share:
        return HOLDOUT
    if bandit_share > 0 and (point - holdout_share) / (1 - holdout_share) < bandit_share:
        return BANDIT
    return RULES
