"""The erasure flow: the people on the suppression list (``clickloop forget``) removed.

- :mod:`.suppression`: the list applied to DataFrames (pure transformations, built-ins only);
- :mod:`.job`: the lake rewrite (``python -m stream_jobs.erasure.job``), which the sessions
  job runs first.
"""
