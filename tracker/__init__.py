"""The base every other package stands on: what a tracker speaks and how every part is configured.

- :mod:`tracker.contract`: the event contract, declared once (validator, JSON Schema, Spark schema);
- :mod:`tracker.client`: the Python tracker client for site backends;
- :mod:`tracker.settings`: the ``CLICKLOOP_*`` settings object, read once and passed down;
- :mod:`tracker.erasure`: the erasure records (suppression list, audit) that forgetting writes
  and every store and batch job reads.

It holds settings and erasure records beside the contract because every component needs them and
this package imports nothing above it (``tests/test_layers.py`` checks). ``python3 -m tracker`` is
the stdlib-only bootstrap (``__main__.py``): it installs the locked environment and hands over to
the ``clickloop`` CLI in :mod:`clickloop`.
"""

__version__ = "0.1.0"
