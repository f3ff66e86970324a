"""A contextual bandit per slot: which of the variants the rules allow converts best for whom.

- :mod:`.context`: the visitor's context as a fixed vector (segment, intent, device, source,
  cart), the same in the API (which chooses) and the worker (which learns);
- :mod:`.policy`: per-variant ridge-regression statistics (what is learned and stored) and the
  policies that choose from them (Thompson sampling, LinUCB, epsilon-greedy);
- :mod:`.learning`: delayed rewards attributed to decision ids; a decision without its outcome
  by the end of the session counts as no reward, once;
- :mod:`.simulation`: a seeded shop with known conversion rates, to measure the policies.

The API only reads the statistics (published by the worker with each checkpoint) and chooses;
the worker only learns. See ``docs/bandit.md``.
"""
