"""A contextual bandit per slot: which of the variants the rules allow converts best for whom.

- :mod:`.context`: the visitor's context (:func:`~.context.context_of` a profile, what the rules
  read) and the same as a fixed vector (segment, intent, device, source, cart), the same in the
  API (which chooses) and the worker (which learns);
- :mod:`.policy`: per-variant ridge-regression statistics (what is learned and stored) and the
  policies that choose from them (Thompson sampling, LinUCB, epsilon-greedy);
- :mod:`.learning`: delayed rewards attributed to decision ids; a decision without its outcome
  by the end of the session counts as no reward, once.

The seeded shop with known conversion rates that measures the policies is outside this package
(``simulation/bandit_exam.py``).

The API only reads the statistics (published by the worker with each checkpoint) and chooses;
the worker only learns. See ``docs/bandit.md``.
"""
