"""Who is in the holdout: a stable hash of the profile id, no state to store or lose.

The same visitor lands in the same group on every request, every API instance and every
restart, and nobody can choose their group. Changing ``CLICKLOOP_HOLDOUT_SALT`` draws a new
group (do it between experiments, not during one).

:func:`bucket` maps an id to a point of [0, 1); the holdout is ``[0, holdout_share)``. The rest
is the treated population, which a later policy (a bandit) can split further by the same
bucket without moving anyone in or out of the holdout.

>>> [arm_of("visitor-1", holdout_share=share, salt="s") for share in (0.0, 1.0)]
['rules', 'holdout']
"""

from __future__ import annotations

import hashlib

HOLDOUT = "holdout"
RULES = "rules"


def bucket(profile_id: str, salt: str) -> float:
    """A uniform, stable point of [0, 1) for ``profile_id`` under ``salt``."""
    digest = hashlib.sha256(f"{salt}\x00{profile_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def arm_of(profile_id: str, *, holdout_share: float, salt: str) -> str:
    """``holdout`` for a ``holdout_share`` of profiles, ``rules`` for the others."""
    return HOLDOUT if bucket(profile_id, salt) < holdout_share else RULES
