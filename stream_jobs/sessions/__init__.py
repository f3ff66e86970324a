"""The sessionization flow: lake events → authoritative sessions.

- :mod:`.rules`: the session rules and the ``sessions/`` schema (pure transformations, shared
  with reports, erasure and the streaming job's live sessions);
- :mod:`.job`: the batch job (``python -m stream_jobs.sessions.job``) in named steps: erase,
  read, transform, write, count, clean.
"""
